"""Record what a model says, so a question set can be answered again under other thresholds with
no model time: the calibration (scripts/calibrate.py) asks every model call once, then replays
the real answer code (rag/answers/answering.py) many times.

`Recorder` wraps a `Generator`: `stream` and `yes_probability` are looked up by a hash of the
model's name, the messages and the token limit, and asked of the model only when missing.
Greedy decoding makes a recorded reply the reply. `Recorder.save` writes the recordings (pickle,
atomically); `Recorder.load` reads them back.

Deliberately not here: choosing thresholds (scripts/calibrate.py).
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Iterator
from pathlib import Path

from rag.models.generation import Generator, Message


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


class Recorder:
    def __init__(self, generator: Generator, path: Path | None = None) -> None:
        self.generator = generator
        self.name = generator.name
        self.context_size = generator.context_size
        self.path = path
        self.replies: dict[str, str] = {}
        self.judgements: dict[str, float | None] = {}
        self.asked = 0  # calls that reached the model
        if path is not None and path.exists():
            saved = pickle.loads(path.read_bytes())
            self.replies, self.judgements = saved["replies"], saved["judgements"]

    def count_tokens(self, text: str) -> int:
        return self.generator.count_tokens(text)

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        key = _key(self.name, messages, max_tokens)
        if key not in self.replies:
            self.asked += 1
            self.replies[key] = "".join(self.generator.stream(messages, max_tokens))
        yield self.replies[key]

    def yes_probability(self, messages: list[Message]) -> float | None:
        key = _key(self.name, messages)
        if key not in self.judgements:
            self.asked += 1
            ask = getattr(self.generator, "yes_probability", None)
            self.judgements[key] = ask(messages) if ask else None
        return self.judgements[key]

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        partial.write_bytes(pickle.dumps({"replies": self.replies, "judgements": self.judgements}))
        partial.replace(self.path)

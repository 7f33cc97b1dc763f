"""Turn a follow-up question into one that stands on its own, using the conversation.

"What did they discuss?" after a turn about the December 19 meeting becomes "What did Tokayev and
Tokyo Governor Yuriko Koike discuss?", which retrieval can work with. The generator does the
rewriting; a reply that does not look like a question falls back to the previous question joined
with the follow-up, which still carries the names retrieval needs.

Deliberately not here: deciding whether there is a conversation (the pipeline does), retrieval.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rag.citations import strip_markers
from rag.generation import Generator, Message

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Rewrite the last question so that it can be understood without the conversation: replace words like "
    "he, she, they, it, that, there with the names and things they refer to. Keep it one short question. "
    "Reply with the rewritten question only."
)
MAX_TOKENS = 48


def rewrite(question: str, history: Sequence[Message], generator: Generator) -> str:
    turns = list(history)[-4:]
    if not turns:
        return question
    conversation = "\n".join(f"{m['role'].capitalize()}: {strip_markers(m['content'])[:600]}" for m in turns)
    messages: list[Message] = [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": f"Conversation:\n{conversation}\n\nLast question: {question}"},
    ]
    reply = "".join(generator.stream(messages, MAX_TOKENS)).strip().strip('"“”').strip()
    reply = reply.removeprefix("Rewritten question:").strip()
    first_line = reply.split("\n", 1)[0].strip()
    if first_line.endswith("?") and 3 <= len(first_line) <= 3 * len(question) + 200:
        return first_line
    previous = next((m["content"] for m in reversed(turns) if m["role"] == "user"), "")
    log.info("Rewriting gave %r; searching with the previous question joined instead", reply)
    return f"{previous} {question}".strip()

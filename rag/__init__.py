"""Local, private question answering over a folder of articles, with exact citations.

    >>> from rag import answer
    >>> reply = answer("How many documents were signed?")     # doctest: +SKIP
    >>> reply.text, reply.citations[0].quote                   # doctest: +SKIP

`answer` and `stream` use one shared `Assistant` (models load once per process); build your own
`Assistant(Settings(...))` for other folders or models. Importing this package does not import
torch or llama.cpp: they load on the first question.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from rag.errors import DocumentsError, IndexStoreError, ModelError, QuestionError, RagError, SettingsError
from rag.filters import Filters
from rag.pipeline import Assistant, History
from rag.settings import Settings
from rag.types import Answer, Chunk, Citation, Claim, Delta, Document, Draft, Hit, Status, Timings

__all__ = [
    "Answer",
    "Assistant",
    "Chunk",
    "Citation",
    "Claim",
    "Delta",
    "Document",
    "DocumentsError",
    "Draft",
    "Filters",
    "Hit",
    "IndexStoreError",
    "ModelError",
    "QuestionError",
    "RagError",
    "Settings",
    "SettingsError",
    "Status",
    "Timings",
    "answer",
    "shared_assistant",
    "stream",
]

_shared: Assistant | None = None
_shared_lock = threading.Lock()


def shared_assistant() -> Assistant:
    """The process-wide Assistant behind `answer` and `stream`, configured from RAG_* variables."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Assistant(Settings.from_env())
        return _shared


def answer(
    question: str, *, k: int | None = None, history: History | None = None, filters: Filters | None = None
) -> Answer:
    return shared_assistant().answer(question, k=k, history=history, filters=filters)


def stream(
    question: str, *, k: int | None = None, history: History | None = None, filters: Filters | None = None
) -> Iterator[Status | Draft | Delta | Answer]:
    return shared_assistant().stream(question, k=k, history=history, filters=filters)

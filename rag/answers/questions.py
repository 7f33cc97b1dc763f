"""Check what a caller asks before anything is searched: the question and the conversation so far.

A question must be a `str` with something in it. Text that is not valid Unicode is refused with a
`QuestionError` that says where: a lone surrogate (what Python makes of `\\xff\\xfe` bytes in a
command line, or of a broken `\\ud800` escape from an API client) cannot be encoded, and every
tokenizer downstream fails on it. Control characters are dropped and whitespace is collapsed.
The history is either `[{"role", "content"}, ...]` or `[(question, answer), ...]`; anything else
is a `QuestionError` naming the turn at fault, never a ValueError from deep inside.

>>> clean_question("  How many\\tdocuments?\\x00 ")
'How many documents?'
>>> history_messages([("Who came?", "Tokayev [1].")])
[{'role': 'user', 'content': 'Who came?'}, {'role': 'assistant', 'content': 'Tokayev [1].'}]

Deliberately not here: cutting a long question to the prompt's budget (prompting.py).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from rag.errors import QuestionError

Message = dict[str, str]

_SURROGATE = re.compile("[\ud800-\udfff]")
_HISTORY_FORMS = 'a list of {"role": "user" or "assistant", "content": text} messages or of (question, answer) pairs'


def clean_question(question: Any) -> str:
    if question is None:
        question = ""
    if not isinstance(question, str):
        raise QuestionError(f"The question must be text (a str), not {type(question).__name__}.")
    question = _valid_text(question, "The question")
    question = " ".join(_without_controls(question).split())
    if not question:
        raise QuestionError("The question is empty: type a question about the articles.")
    return question


def _valid_text(text: str, what: str) -> str:
    bad = _SURROGATE.search(text)
    if bad:
        raise QuestionError(
            f"{what} is not valid text: character {bad.start() + 1} (U+{ord(bad.group()):04X}) is half of an "
            "encoded character, as when bytes that are not UTF-8 are passed as text. Type it again as plain text."
        )
    return text


def _without_controls(text: str) -> str:
    return "".join(c if unicodedata.category(c) != "Cc" else " " for c in text)


def history_messages(history: Any, strip: Callable[[str], str] = lambda text: text) -> list[Message]:
    """Accept [{"role", "content"}, ...] or [(user, assistant), ...] and return the former.

    `strip` is applied to the answers and to every message (the pipeline removes [n] markers). Messages
    of other roles are left out, as before; a turn of any other shape is refused.
    """
    if history is None:
        return []
    if isinstance(history, str | bytes) or not isinstance(history, Iterable):
        raise QuestionError(f"The history must be {_HISTORY_FORMS}, not {type(history).__name__}.")
    messages: list[Message] = []
    for n, turn in enumerate(history, start=1):
        if isinstance(turn, dict):
            if turn.get("role") in ("user", "assistant") and isinstance(turn.get("content"), str):
                content = _valid_text(turn["content"], f"Turn {n} of the history")
                messages.append({"role": turn["role"], "content": strip(content)})
            continue
        if isinstance(turn, list | tuple) and len(turn) == 2 and all(isinstance(t, str) for t in turn):
            user, assistant = (_valid_text(t, f"Turn {n} of the history") for t in turn)
            messages.append({"role": "user", "content": user})
            messages.append({"role": "assistant", "content": strip(assistant)})
            continue
        shown = repr(turn) if len(repr(turn)) <= 60 else repr(turn)[:59] + "…"
        raise QuestionError(f"Turn {n} of the history, {shown}, is not understood: it must be {_HISTORY_FORMS}.")
    return messages

"""What callers ask is checked before anything runs: clear QuestionErrors, never a TypeError from a tokenizer."""

from __future__ import annotations

from typing import Any

import pytest

from rag import QuestionError, Settings
from rag.answers.questions import clean_question, history_messages
from tests.conftest import make_assistant


@pytest.mark.parametrize(
    ("question", "says"),
    [
        ("caf\udcff\udcfe?", r"character 4 \(U\+DCFF\)"),  # bytes \xff\xfe from a shell, as Python decodes argv
        ("\ud800 who signed?", r"character 1 \(U\+D800\)"),  # a broken escape from an API client
        (123, "must be text"),
        (b"bytes?", "must be text"),
        ("\x00\x07  \x1b", "empty"),
    ],
)
def test_questions_that_are_not_valid_text_are_refused_clearly(question: Any, says: str) -> None:
    with pytest.raises(QuestionError, match=says):
        clean_question(question)


def test_control_characters_are_dropped() -> None:
    assert clean_question("How many\x00 documents\x1b were\r\nsigned?") == "How many documents were signed?"


@pytest.mark.parametrize(
    ("history", "says"),
    [
        ([("one",)], r"Turn 1 of the history, \('one',\), is not understood"),
        ("text", "must be .* not str"),
        (42, "must be .* not int"),
        ([("q", "a"), ("q", None)], "Turn 2"),
        ([{"role": "user", "content": "ok \udcff"}], r"Turn 1 of the history is not valid text"),
    ],
)
def test_a_malformed_history_is_refused_with_the_turn_at_fault(history: Any, says: str) -> None:
    with pytest.raises(QuestionError, match=says):
        history_messages(history)


def test_both_history_forms_are_accepted() -> None:
    pairs = history_messages([("Who came?", "Tokayev [1].")], strip=lambda t: t.replace(" [1]", ""))
    dicts = history_messages([{"role": "user", "content": "Who came?"}, {"role": "assistant", "content": "Tokayev."}])
    assert pairs == dicts == [{"role": "user", "content": "Who came?"}, {"role": "assistant", "content": "Tokayev."}]


@pytest.mark.parametrize(
    ("question", "history"),
    [("\ud800", None), ("caf\udcff", None), (123, None), ("Who?", [("one",)]), ("Who?", "text")],
)
def test_the_python_api_raises_the_library_error(settings: Settings, question: Any, history: Any) -> None:
    assistant = make_assistant(settings)
    with pytest.raises(QuestionError):
        assistant.answer(question, history=history)

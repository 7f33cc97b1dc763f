"""Reading and checking question files, and finding their quotes in the indexed text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.evaluation import metrics
from rag.evaluation.dataset import Case, EvalDataError, find_quote, load_cases, locate_quotes, select
from rag.ingest.loading import load_documents, normalise
from rag.types import Document
from tests.conftest import ARTICLES, ROOT, VISIT

QUESTIONS = ROOT / "eval" / "questions.jsonl"
GOOD = {
    "id": "visit-010",
    "question": "How many documents were signed?",
    "answers": ["14", "fourteen"],
    "document": VISIT,
    "quote": "The meeting ended with signing 14 documents.",
    "kind": "number",
    "history": [],
}
NONE = {
    "id": "none-001",
    "question": "What is the population?",
    "answerable": False,
    "kind": "unanswerable",
    "history": [],
}


def write(tmp_path: Path, *lines: object) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def document(doc_id: str, text: str) -> Document:
    return Document(doc_id, doc_id, normalise(text), "")


# -- the shipped question set -------------------------------------------------------------------


def test_every_quote_of_the_shipped_set_is_in_its_document_and_holds_the_answer() -> None:
    documents = {d.id: d for d in load_documents(ARTICLES)[0]}
    cases = locate_quotes(load_cases(QUESTIONS), documents, str(QUESTIONS))
    assert len(cases) == 96 and len({c.id for c in cases}) == 96
    for case in cases:
        assert len(case.spans) == len(case.sources)
        for span, source in zip(case.spans, case.sources, strict=True):
            assert documents[span.doc_id].text[span.start : span.end] == source.quote, case.id
        if case.answerable:
            quotes = " ".join(s.quote for s in case.sources)
            assert any(metrics.answer_matches(s.quote, case.answers) for s in case.sources), case.id
            assert not metrics.missing_items(quotes, case.all_of), case.id


# -- loading -----------------------------------------------------------------------------------------


def test_load_reads_every_form_of_case(tmp_path: Path) -> None:
    both = {**GOOD, "id": "both-001", "documents": [VISIT, "b.txt"], "quotes": ["x", "y"]}
    del both["document"], both["quote"]
    follow = {**GOOD, "id": "conv-001", "kind": "followup", "history": [{"role": "user", "content": "Hi"}]}
    cases = load_cases(write(tmp_path, GOOD, "", NONE, both, follow))
    assert [c.id for c in cases] == ["visit-010", "none-001", "both-001", "conv-001"]
    assert [c.line for c in cases] == [1, 3, 4, 5]
    assert cases[1].answerable is False and cases[1].answers == () and cases[1].sources == ()
    assert [s.document for s in cases[2].sources] == [VISIT, "b.txt"]
    assert cases[3].history_messages() == [{"role": "user", "content": "Hi"}]


def test_bad_lines_are_all_reported_with_file_and_line(tmp_path: Path) -> None:
    missing = {k: v for k, v in GOOD.items() if k != "answers"}
    path = write(
        tmp_path,
        GOOD,
        '{"id": "visit-002", "question": ',  # cut short
        {**missing, "id": "visit-003"},
        {**NONE, "answers": ["x"]},
        {**GOOD, "kind": "nmae", "id": "visit-004"},
        GOOD,  # the same id again
        {**GOOD, "id": "visit-005", "history": [{"role": "bot", "content": "x"}]},
    )
    with pytest.raises(EvalDataError) as caught:
        load_cases(path)
    message = str(caught.value)
    assert f"{path} line 2: not valid JSON" in message
    assert f'{path} line 3: missing field "answers"' in message
    assert f"{path} line 4: an unanswerable case must not have answers" in message
    assert f"{path} line 5: kind 'nmae' is not one of" in message
    assert f"{path} line 6: id 'visit-010' is already used on line 1" in message
    assert f'{path} line 7: "history" must be a list' in message
    assert "6 problem(s)" in message


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EvalDataError, match="does not exist"):
        load_cases(tmp_path / "nope.jsonl")
    with pytest.raises(EvalDataError, match="holds no cases"):
        load_cases(write(tmp_path, ""))


def test_select_filters_by_id_prefix_then_limits() -> None:
    cases = [Case(i, "q", "name") for i in ("visit-1", "none-1", "visit-2", "conv-1")]
    assert [c.id for c in select(cases, ("visit-", "conv-"))] == ["visit-1", "visit-2", "conv-1"]
    assert [c.id for c in select(cases, (), limit=2)] == ["visit-1", "none-1"]


# -- quotes --------------------------------------------------------------------------------------------


def test_quotes_are_found_exactly_or_despite_whitespace_and_unicode_forms() -> None:
    text = normalise("He visited the Meiji Jingu\u00a0Shrine,\n the largest Shinto shrine.  Cafe\u0301 time.")
    assert find_quote(text, "Meiji Jingu Shrine") == (15, 33)
    start, end = find_quote(text, "Shrine, the largest   Shinto") or (0, 0)
    assert text[start:end] == "Shrine,\n the largest Shinto"
    start, end = find_quote(text, "Cafe\u0301") or (0, 0)  # decomposed in the file, composed (NFC) in the index
    assert text[start:end] == "Café"
    assert find_quote(text, "Meiji Shrine") is None


def test_quotes_that_cannot_be_found_name_the_case_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        GOOD,
        {**GOOD, "id": "visit-011", "quote": "Not in the article."},
        {**GOOD, "id": "x-1", "document": "other.txt"},
    )
    documents = {VISIT: document(VISIT, (ARTICLES / VISIT).read_text(encoding="utf-8"))}
    with pytest.raises(EvalDataError) as caught:
        locate_quotes(load_cases(path), documents, str(path))
    message = str(caught.value)
    assert f"{path} line 2 (visit-011): the quote 'Not in the article.' is not in {VISIT}" in message
    assert f"{path} line 3 (x-1): document 'other.txt' is not in the index" in message
    assert "line 1 " not in message

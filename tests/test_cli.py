from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag import Settings, cli
from tests.conftest import make_assistant


@pytest.fixture
def runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    replies = ["The meeting ended with signing 14 documents [1]."] * 3
    monkeypatch.setattr(cli, "_assistant", lambda s: make_assistant(s, list(replies)))
    monkeypatch.setenv("RAG_DOCUMENTS", str(settings.documents_dir))
    monkeypatch.setenv("RAG_INDEX", str(settings.index_dir))
    return CliRunner()


def test_index_reports_added_then_unchanged(runner: CliRunner) -> None:
    first = runner.invoke(cli.main, ["index"])
    assert first.exit_code == 0 and "2 added" in first.output
    again = runner.invoke(cli.main, ["index"])
    assert again.exit_code == 0 and "0 added, 0 changed, 0 removed, 2 unchanged" in again.output
    assert "0 chunks embedded" in again.output


def test_ask_json_gives_exact_citation_spans(runner: CliRunner, settings: Settings) -> None:
    result = runner.invoke(cli.main, ["ask", "How many documents were signed?", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["citations"]
    for citation in data["citations"]:
        text = (settings.documents_dir / citation["doc_id"]).read_text(encoding="utf-8").strip()
        assert text[citation["start"] : citation["end"]] == citation["quote"]
    assert set(data["timings"]) >= {"retrieval_s", "first_token_s", "total_s", "tokens_per_s"}


def test_errors_are_one_line_messages_not_tracebacks(runner: CliRunner, tmp_path: Path) -> None:
    empty = runner.invoke(cli.main, ["ask", "   "])
    assert empty.exit_code == 1 and "question is empty" in empty.output and "Traceback" not in empty.output
    missing = runner.invoke(
        cli.main, ["--documents", str(tmp_path / "nowhere"), "--index", str(tmp_path / "i"), "index"]
    )
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_models_lists_the_known_models(runner: CliRunner) -> None:
    result = CliRunner().invoke(cli.main, ["--model", "/no/such/file.gguf", "models", "--json"])
    assert result.exit_code == 0
    names = {row["name"] for row in json.loads(result.output)["models"]}
    assert {"qwen2.5-0.5b", "smollm2-135m"} <= names


def test_a_question_that_is_not_valid_text_is_a_message(runner: CliRunner) -> None:
    result = runner.invoke(cli.main, ["ask", "caf\udcff\udcfe"])  # what Python makes of the bytes \xff\xfe in argv
    assert result.exit_code == 1 and "not valid text" in result.output and "Traceback" not in result.output


def test_ask_json_citations_carry_the_articles_news_metadata(runner: CliRunner) -> None:
    data = json.loads(runner.invoke(cli.main, ["ask", "How many documents were signed?", "--json"]).output)
    assert data["citations"]
    for citation in data["citations"]:
        assert {"published", "source", "url"} <= set(citation)


def test_ask_keeps_to_the_filters_and_says_when_none_matches(runner: CliRunner) -> None:
    none = runner.invoke(cli.main, ["ask", "How many documents were signed?", "--source", "Nobody", "--json"])
    assert none.exit_code == 0, none.output
    data = json.loads(none.output)
    assert data["abstained"] and not data["citations"] and "No article matches" in data["text"]
    assert "from nobody" in data["text"]
    bad = runner.invoke(cli.main, ["ask", "How many documents were signed?", "--since", "last tuesday"])
    assert bad.exit_code == 1 and "is not a date" in bad.output and "Traceback" not in bad.output
    empty = runner.invoke(cli.main, ["ask", "Who?", "--since", "2024-05-02", "--until", "2024-05-01"])
    assert empty.exit_code == 1 and "date range is empty" in empty.output

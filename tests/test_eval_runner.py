"""`rag eval` end to end with the fakes: scripted replies in, known numbers and report files out."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rag import Assistant, Settings, cli
from rag.errors import ModelError
from rag.evaluation import EvalRun, evaluate, report
from rag.models.generation import Message
from tests.conftest import VISIT, make_assistant
from tests.fakes import ScriptedGenerator

CASES: list[dict[str, Any]] = [
    {"id": "visit-010", "question": "How many documents were signed when the meeting ended?",
     "answers": ["14", "fourteen"], "document": VISIT, "quote": "The meeting ended with signing 14 documents.",
     "kind": "number", "history": []},
    {"id": "visit-003", "question": "Which emperor did President Tokayev hold talks with in Tokyo?",
     "answers": ["Naruhito"], "document": VISIT,
     "quote": "President Tokayev held talks with Emperor Naruhito of Japan in Tokyo.", "kind": "name", "history": []},
    {"id": "visit-012", "question": "Whom did the Kazakh leader see as the week drew to a close?",
     "answers": ["Yuriko Koike", "Koike"], "document": VISIT,
     "quote": "On Friday, December 19, Kassym-Jomart Tokayev met with Tokyo Governor Yuriko Koike.",
     "kind": "name", "history": []},
    {"id": "none-001", "question": "What is the population of Kazakhstan?", "answerable": False,
     "kind": "unanswerable", "history": []},
    {"id": "none-002",
     "question": "At what time did the Kazakh leader hold talks with Japanese Prime Minister Sanae Takaichi?",
     "answerable": False, "kind": "unanswerable", "history": []},
    {"id": "conv-002", "question": "On what date did he hold talks with Emperor Naruhito in Tokyo?",
     "answers": ["December 18", "18 December"], "document": VISIT,
     "quote": "On December 18, President Tokayev held talks with Emperor Naruhito of Japan in Tokyo.",
     "kind": "followup",
     "history": [{"role": "user", "content": "Which emperor did Tokayev meet?"},
                 {"role": "assistant", "content": "Emperor Naruhito [1]."}]},
]  # fmt: skip
REFUSAL = "The articles do not say."
# Each planned reply copies a sentence of the article, so the pipeline's own checks keep it as it is;
# each key is a phrase of one question that is not in the articles.
REPLIES = {  # the first key found in the prompt wins
    "On what date": "On December 18, President Tokayev held talks with Emperor Naruhito of Japan in Tokyo.",  # right
    "documents were signed": "The meeting ended with signing 14 documents.",  # right
    "Which emperor": "President Tokayev held talks with Emperor Naruhito of Japan in Tokyo.",  # right
    "Whom did": REFUSAL,  # wrongly refused
    "population": REFUSAL,  # rightly refused
    "At what time": "Then, the Kazakh leader held talks with Japanese Prime Minister Sanae Takaichi.",  # not refused
}


def passage_number(prompt: str, text: str) -> int:
    """The [n] of the first numbered passage in the prompt that holds `text`."""
    starts = [(m.start(), int(m.group(1))) for m in re.finditer(r"^\[(\d+)\]", prompt, flags=re.MULTILINE)]
    for (start, n), (end, _) in zip(starts, [*starts[1:], (len(prompt), 0)], strict=True):
        if text in prompt[start:end]:
            return n
    return 1


def scripted_reply(messages: list[Message]) -> str:
    """A fake model with one planned reply per case, chosen by the question in the prompt."""
    prompt = messages[-1]["content"]
    if not re.search(r"^\[\d+\]", prompt, flags=re.MULTILINE):
        return ""  # not an answering prompt (e.g. rewriting a follow-up): the pipeline falls back
    if "crash" in prompt:
        raise ModelError("the model crashed")
    if "Stop here" in prompt:
        raise KeyboardInterrupt
    for key, reply in REPLIES.items():
        if key in prompt:
            if reply == REFUSAL:
                return reply
            return f"{reply[:-1]} [{passage_number(prompt, reply[:-1])}]."
    return REFUSAL


def fake_assistant(settings: Settings) -> Assistant:
    return make_assistant(settings, [scripted_reply] * 40)


@pytest.fixture
def questions(tmp_path: Path) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in CASES), encoding="utf-8")
    return path


@pytest.fixture
def assistant(settings: Settings) -> Assistant:
    return fake_assistant(settings)


@pytest.fixture
def run(assistant: Assistant, questions: Path) -> EvalRun:
    return evaluate(assistant, questions, k=4, progress=False)


def test_the_numbers_follow_from_the_scripted_replies(run: EvalRun, assistant: Assistant) -> None:
    s = run.summary
    assert (s.cases, s.answerable, s.unanswerable, s.errors, s.k) == (6, 4, 2, 0, 4)
    assert s.correct == pytest.approx(4 / 6)  # visit-010, visit-003, none-001, conv-002
    assert s.answer_accuracy == pytest.approx(3 / 4)
    assert s.refusal_rate == 0.5 and s.false_refusal_rate == 0.25
    assert s.citation_precision == 1.0 and s.citations_checked == 3
    assert s.citation_recall == 1.0
    assert s.recall_at_k == 1.0 and s.mrr is not None  # wordy questions: even the hash embedder finds them
    assert 0 < s.mrr <= 1
    assert s.total_p50 is not None and s.total_p95 is not None and 0 < s.total_p50 <= s.total_p95
    by_id = {r.id: r for r in run.results}
    assert by_id["visit-012"].problems == ("refused, although the articles answer it",)
    assert by_id["none-002"].problems == ("answered, although the articles do not say",)
    assert by_id["visit-010"].citations[0].supported and by_id["visit-010"].citations[0].cites_support
    assert by_id["conv-002"].correct
    generator = assistant.generator
    assert isinstance(generator, ScriptedGenerator)
    seen = [m["content"] for prompt in generator.prompts for m in prompt]
    assert any("Which emperor did Tokayev meet?" in text for text in seen), "the history was not passed on"
    assert run.settings["generator"] == "test/scripted" and run.settings["documents"] == 2


def test_the_three_report_files_are_written(run: EvalRun, tmp_path: Path) -> None:
    paths = report.write_all(run, tmp_path / "out")
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["format"] == report.FORMAT
    assert data["summary"]["correct"] == pytest.approx(4 / 6)
    assert [c["id"] for c in data["results"]] == [c["id"] for c in CASES]
    first = data["results"][0]
    assert first["answer"].startswith("The meeting ended with signing 14 documents [")
    assert first["citations"][0]["supported"] is True
    assert first["timings"]["total_s"] > 0 and "tokens_per_s" in first["timings"]

    markdown = paths["markdown"].read_text(encoding="utf-8")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in markdown.splitlines() if line.startswith("| ")}
    assert set(rows) >= {c["id"] for c in CASES}
    assert "signing 14 documents" in rows["visit-010"] and "✓" in rows["visit-010"] and "✅" in rows["visit-010"]
    assert "refused, although the articles answer it" in rows["visit-012"]
    assert "checker: The reply was not kept: the model found no answer in the passages." in rows["visit-012"]
    assert "answered, although the articles do not say" in rows["none-002"]
    assert "| correct (all cases) | 0.67 |" in markdown
    by_id = {c["id"]: c for c in data["results"]}
    assert by_id["visit-012"]["mode"] == "refused" and by_id["visit-012"]["raw"] == "The articles do not say."
    assert by_id["visit-010"]["mode"] == "written" and "[" in by_id["visit-010"]["raw"]

    assert paths["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = report.console_table(run)
    assert "refusals (unanswerable)" in table and "0.67" in table


def test_a_case_the_library_fails_on_is_recorded_and_the_run_goes_on(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    crash = {**CASES[0], "id": "visit-999", "question": "How many documents crash the model?"}
    path.write_text(json.dumps(crash) + "\n" + json.dumps(CASES[0]) + "\n", encoding="utf-8")
    result = evaluate(fake_assistant(settings), path, progress=False)
    assert result.summary.errors == 1 and result.results[1].correct
    assert result.results[0].error == "the model crashed" and not result.results[0].correct


# -- through the command line ------------------------------------------------------------------------


@pytest.fixture
def cli_runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(cli, "_assistant", lambda _: fake_assistant(settings))
    return CliRunner()


def test_floors_that_are_met_exit_zero(cli_runner: CliRunner, questions: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    args = ["eval", "--questions", str(questions), "--out", str(out), "--min-recall", "0.9", "--min-correct", "0.6"]
    result = cli_runner.invoke(cli.main, args)
    assert result.exit_code == 0, result.output
    assert "retrieval recall@" in result.output and str(out / "report.md") in result.output
    assert {p.name for p in out.iterdir()} == {"results.json", "report.md", "chart.png"}


def test_each_missed_floor_is_a_line_and_exit_status_one(
    cli_runner: CliRunner, questions: Path, tmp_path: Path
) -> None:
    floors = ["--min-correct", "0.9", "--min-refusal", "0.75", "--min-citation-precision", "0.5", "--min-recall", "1"]
    args = ["eval", "--questions", str(questions), "--out", str(tmp_path / "r"), *floors]
    result = cli_runner.invoke(cli.main, args)
    assert result.exit_code == 1
    failures = [line for line in result.output.splitlines() if line.startswith("Below the floor")]
    assert failures == [
        "Below the floor: --min-correct 0.90: correct answers (refusals count on unanswerable cases) is 0.67",
        "Below the floor: --min-refusal 0.75: refusals on unanswerable cases is 0.50",
    ]
    assert (tmp_path / "r" / "report.md").exists()  # the report is written even when a floor fails


def test_only_and_limit_choose_the_cases_and_results_go_under_eval_results(
    cli_runner: CliRunner, questions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["eval", "--questions", str(questions), "--only", "none-", "--only", "conv-", "--limit", "2"]
    result = cli_runner.invoke(cli.main, args)
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "eval" / "results").iterdir()
    assert re.fullmatch(r"\d{8}-\d{6}-" + re.escape(settings.model), folder.name)
    ids = [c["id"] for c in json.loads((folder / "results.json").read_text(encoding="utf-8"))["results"]]
    assert ids == ["none-001", "none-002"]
    nothing = cli_runner.invoke(cli.main, ["eval", "--questions", str(questions), "--only", "zzz"])
    assert nothing.exit_code == 1 and "No case in" in nothing.output


def test_a_bad_question_file_is_a_one_line_error(cli_runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(CASES[0]) + "\n{oops\n", encoding="utf-8")
    result = cli_runner.invoke(cli.main, ["eval", "--questions", str(path)])
    assert result.exit_code == 1 and f"{path} line 2: not valid JSON" in result.output
    assert "Traceback" not in result.output


def test_an_interrupted_run_reports_the_cases_done(cli_runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    stop = {**CASES[3], "id": "none-009", "question": "Stop here: what is the capital?"}
    path.write_text("".join(json.dumps(c) + "\n" for c in [*CASES[:2], stop, *CASES[2:]]), encoding="utf-8")
    result = cli_runner.invoke(cli.main, ["eval", "--questions", str(path), "--out", str(tmp_path / "r")])
    assert result.exit_code == 130
    assert "Interrupted: only 2 of 7 cases were run" in result.output
    data = json.loads((tmp_path / "r" / "results.json").read_text(encoding="utf-8"))
    assert data["interrupted"] is True and [r["id"] for r in data["results"]] == ["visit-010", "visit-003"]
    assert data["summary"]["answer_accuracy"] == 1.0


def test_importing_the_evaluation_loads_no_heavy_library() -> None:
    heavy = "{'torch', 'llama_cpp', 'matplotlib', 'tqdm'}"
    code = f"import sys, rag.evaluation.report; print(sorted({heavy} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_a_wrong_quote_shows_what_the_model_replied_and_why_the_checker_replaced_it(run: EvalRun) -> None:
    refused = run.results[2]  # visit-012, wrongly refused
    assert refused.reply is not None
    wrong = replace(refused, reply=replace(
        refused.reply,
        mode="quoted",
        abstained=False,
        text="The articles say: “The meeting ended with signing 14 documents.” [1]",
        raw_text="Tokayev met Shinzo Abe [1].",
        check_notes=("no sentence of the reply is supported by the passages",),
    ))
    markdown = report.markdown(replace(run, results=(*run.results[:2], wrong, *run.results[3:])))
    row = next(line for line in markdown.splitlines() if line.startswith("| visit-012 "))
    assert "the model replied: “Tokayev met Shinzo Abe [1].”" in row
    assert "checker: no sentence of the reply is supported by the passages" in row
    right = next(line for line in markdown.splitlines() if line.startswith("| visit-010 "))
    assert "the model replied" not in right and "checker:" not in right

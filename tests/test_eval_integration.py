"""`rag eval` with the real models (MiniLM and SmolLM2-135M) on a few cases: the CI floor.

The floor is on retrieval and on the run completing, which only a broken pipeline misses; the small
model's answers are too weak to hold a floor on (the full set's numbers are in eval/results/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag import cli
from tests.conftest import ROOT

SUBSET = ("visit-003", "visit-010", "lecture-005", "both-001", "none-001", "conv-002")  # in file order


@pytest.mark.integration
def test_eval_runs_the_real_small_models_and_holds_the_floor(docs_dir: Path, tmp_path: Path) -> None:
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    chosen = [line for line in lines if line.strip() and json.loads(line)["id"] in SUBSET]
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(chosen) + "\n", encoding="utf-8")
    out = tmp_path / "results"

    args = ["--documents", str(docs_dir), "--index", str(tmp_path / "index"), "--model", "smollm2-135m"]
    args += ["eval", "--questions", str(questions), "--out", str(out), "-k", "4", "--min-recall", "0.5"]
    result = CliRunner().invoke(cli.main, args)

    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [r["id"] for r in data["results"]] == list(SUBSET)
    assert data["summary"]["errors"] == 0
    assert data["settings"]["embedder"] == "sentence-transformers/all-MiniLM-L6-v2"
    for r in data["results"]:
        assert r["answer"].strip()
        assert 0 < r["timings"]["retrieval_s"] < r["timings"]["total_s"]
    assert (out / "chart.png").stat().st_size > 10_000 and (out / "report.md").exists()

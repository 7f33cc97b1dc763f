"""Run question cases through `Assistant.stream`, the same path as the web chat and the Python API.

`evaluate` loads the models and the index first (so the first question's timings do not include
loading them), finds each supporting quote in the indexed text, then asks every case with its
conversation history, with a progress bar on stderr. A case whose question the library rejects
(a `RagError`) is recorded as an error and the run goes on; any other exception stops it, and a
KeyboardInterrupt ends it early with the cases done so far.

Every run records what it ran with (`run_settings`): the git commit (and whether the tree had
uncommitted changes), the model and its SHA-256, the retrieval and prompt settings, and the
checker's thresholds, so two runs can be told apart long after.

`evaluate_open` runs an open-question file (open_questions.py) the same way.

Deliberately not here: the scoring rules (metrics.py, scoring.py) and the output files (report.py).
"""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rag.answers.checking import policy_for
from rag.errors import RagError
from rag.evaluation.dataset import Case, EvalDataError, load_cases, locate_quotes, select
from rag.evaluation.open_questions import OpenCase, OpenResult, OpenSummary, load_open_cases, score_open, summarise_open
from rag.evaluation.scoring import CaseResult, Summary, score_case, summarise
from rag.models import gguf
from rag.pipeline import Assistant
from rag.types import Answer

log = logging.getLogger(__name__)

OnCase = Callable[[int, int, str, bool], None]  # (cases done, cases in all, the case just scored, whether it was good)


@dataclass(frozen=True)
class EvalRun:
    questions: str
    model: str
    k: int
    started: str  # local time, ISO 8601
    wall_s: float  # the whole run, loading included
    planned: int  # cases selected; more than len(results) when the run was interrupted
    summary: Summary
    results: tuple[CaseResult, ...]
    settings: dict[str, Any]

    @property
    def interrupted(self) -> bool:
        return len(self.results) < self.planned


def evaluate(
    assistant: Assistant,
    questions: Path,
    *,
    k: int | None = None,
    only: Sequence[str] = (),
    limit: int | None = None,
    progress: bool = True,
) -> EvalRun:
    """Load, check and run the question file against the assistant; raise EvalDataError for a bad file."""
    started, clock = datetime.now().astimezone(), time.perf_counter()
    cases = select(load_cases(questions), only, limit)
    if not cases:
        raise EvalDataError(f"No case in {questions} has an id starting with {' or '.join(only)}.")
    k = k or assistant.settings.k
    log.info("Loading the models and the index")
    assistant.warm_up()
    cases = locate_quotes(cases, assistant.stored.documents, str(questions))
    ran_with = run_settings(assistant)  # before the run: what the code was when it started
    results = run_cases(assistant, cases, k, _progress_bar(len(cases)) if progress else None)
    return EvalRun(
        questions=str(questions),
        model=assistant.settings.model,
        k=k,
        started=started.isoformat(timespec="seconds"),
        wall_s=time.perf_counter() - clock,
        planned=len(cases),
        summary=summarise(results, k),
        results=tuple(results),
        settings=ran_with,
    )


def run_settings(assistant: Assistant) -> dict[str, Any]:
    """What a run ran with: commit, model and checksum, settings, thresholds, documents."""
    settings = assistant.settings
    spec = gguf.KNOWN_MODELS.get(settings.model)
    return {
        "commit": _git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "model": settings.model,
        "model_sha256": spec.sha256 if spec else settings.model_sha256,
        "judge_model": settings.judge_model,
        "generator": getattr(assistant.generator, "name", ""),
        "embedder": assistant.embedder.name,
        "documents_dir": str(settings.documents_dir),
        "documents": len(assistant.stored.documents),
        "chunks": len(assistant.stored.chunks),
        "context_size": settings.context_size,
        "k": settings.k,
        "read_k": settings.read_k,
        "retriever": settings.retriever,
        "answer_tokens": settings.answer_tokens,
        "open_answer_tokens": settings.open_answer_tokens,
        "threads": settings.threads,
        "chunk_tokens": settings.chunking.chunk_tokens,
        "overlap_sentences": settings.chunking.overlap_sentences,
        "policy": dataclasses.asdict(policy_for(settings.model)),
        "repair_model": settings.repair_model,
        "open_answers": settings.open_answers,
        "llama_cpu": settings.llama_cpu,
    }


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


@dataclass(frozen=True)
class OpenRun:
    questions: str
    started: str
    wall_s: float
    summary: OpenSummary
    results: tuple[OpenResult, ...]
    settings: dict[str, Any]


def evaluate_open(
    assistant: Assistant, questions: Path, *, only: Sequence[str] = (), limit: int | None = None
) -> OpenRun:
    """Ask every open question of the file and score the key points each answer covers."""
    started, clock = datetime.now().astimezone(), time.perf_counter()
    cases: list[OpenCase] = [c for c in load_open_cases(questions) if not only or c.id.startswith(tuple(only))]
    cases = cases[:limit] if limit else cases
    if not cases:
        raise EvalDataError(f"No open question in {questions} was selected.")
    assistant.warm_up()
    ran_with = run_settings(assistant)
    documents = {d.id: d.text for d in assistant.stored.documents.values()}
    results: list[OpenResult] = []
    bar = _progress_bar(len(cases))
    try:
        for case in cases:
            try:
                answer = _ask_question(assistant, case.question, case.history_messages(), assistant.settings.k)
            except RagError as err:
                results.append(score_open(case, None, documents, str(err)))
            else:
                results.append(score_open(case, answer, documents))
            bar(len(results), len(cases), results[-1].id, results[-1].coverage >= 0.8)
    except KeyboardInterrupt:
        log.warning("Interrupted after %d of %d cases", len(results), len(cases))
    return OpenRun(
        str(questions), started.isoformat(timespec="seconds"), time.perf_counter() - clock,
        summarise_open(results), tuple(results), ran_with,
    )


def run_cases(
    assistant: Assistant, cases: Sequence[Case], k: int, on_case: OnCase | None = None
) -> list[CaseResult]:
    """Ask each case (quotes already located) and score it.

    A KeyboardInterrupt stops the run and returns the cases done so far, so a long run that is
    stopped still leaves a report of what it measured.
    """
    results: list[CaseResult] = []
    try:
        for case in cases:
            try:
                answer = _ask(assistant, case, k)
            except RagError as err:
                log.warning("%s failed: %s", case.id, err)
                results.append(score_case(case, None, str(err)))
            else:
                results.append(score_case(case, answer))
            if on_case:
                on_case(len(results), len(cases), results[-1].id, results[-1].correct)
    except KeyboardInterrupt:
        log.warning("Interrupted after %d of %d cases", len(results), len(cases))
    return results


def _ask(assistant: Assistant, case: Case, k: int) -> Answer:
    return _ask_question(assistant, case.question, case.history_messages(), k)


def _ask_question(assistant: Assistant, question: str, history: list[dict[str, str]], k: int) -> Answer:
    final: Answer | None = None
    for event in assistant.stream(question, k=k, history=history):
        if isinstance(event, Answer):
            final = event
    if final is None:
        raise RagError(f"the pipeline gave no answer to {question!r}")
    return final


def _progress_bar(total: int) -> OnCase:
    from tqdm import tqdm

    bar = tqdm(total=total, unit="question", desc="Evaluating", file=sys.stderr, dynamic_ncols=True)
    correct = 0

    def update(done: int, total: int, case_id: str, good: bool) -> None:
        nonlocal correct
        correct += good
        bar.update(1)
        bar.set_postfix_str(f"{correct}/{done} good, last {case_id}")
        if done == total:
            bar.close()

    return update

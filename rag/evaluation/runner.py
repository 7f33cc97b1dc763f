"""Run question cases through `Assistant.stream`, the same path as the web chat and the Python API.

`evaluate` loads the models and the index first (so the first question's timings do not include
loading them), finds each supporting quote in the indexed text, then asks every case with its
conversation history, with a progress bar on stderr. A case whose question the library rejects
(a `RagError`) is recorded as an error and the run goes on; any other exception stops it, and a
KeyboardInterrupt ends it early with the cases done so far.

Deliberately not here: the scoring rules (metrics.py, scoring.py) and the output files (report.py).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.evaluation.dataset import Case, EvalDataError, load_cases, locate_quotes, select
from rag.evaluation.scoring import CaseResult, Summary, score_case, summarise
from rag.pipeline import Assistant
from rag.types import Answer

log = logging.getLogger(__name__)

Progress = Callable[[int, int, CaseResult], None]  # (cases done, cases in all, the latest result)


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
    results = run_cases(assistant, cases, k, _progress_bar(len(cases)) if progress else None)
    settings = assistant.settings
    return EvalRun(
        questions=str(questions),
        model=settings.model,
        k=k,
        started=started.isoformat(timespec="seconds"),
        wall_s=time.perf_counter() - clock,
        planned=len(cases),
        summary=summarise(results, k),
        results=tuple(results),
        settings={
            "model": settings.model,
            "generator": getattr(assistant.generator, "name", ""),
            "embedder": assistant.embedder.name,
            "documents_dir": str(settings.documents_dir),
            "documents": len(assistant.stored.documents),
            "chunks": len(assistant.stored.chunks),
            "context_size": settings.context_size,
            "read_k": settings.read_k,
            "retriever": settings.retriever,
            "answer_tokens": settings.answer_tokens,
            "threads": settings.threads,
            "chunk_tokens": settings.chunking.chunk_tokens,
            "overlap_sentences": settings.chunking.overlap_sentences,
        },
    )


def run_cases(
    assistant: Assistant, cases: Sequence[Case], k: int, progress: Progress | None = None
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
            if progress:
                progress(len(results), len(cases), results[-1])
    except KeyboardInterrupt:
        log.warning("Interrupted after %d of %d cases", len(results), len(cases))
    return results


def _ask(assistant: Assistant, case: Case, k: int) -> Answer:
    final: Answer | None = None
    for event in assistant.stream(case.question, k=k, history=case.history_messages()):
        if isinstance(event, Answer):
            final = event
    if final is None:
        raise RagError(f"the pipeline gave no answer to {case.id}")
    return final


def _progress_bar(total: int) -> Progress:
    from tqdm import tqdm

    bar = tqdm(total=total, unit="question", desc="Evaluating", file=sys.stderr, dynamic_ncols=True)
    correct = 0

    def update(done: int, total: int, result: CaseResult) -> None:
        nonlocal correct
        correct += result.correct
        bar.update(1)
        bar.set_postfix_str(f"{correct}/{done} correct, last {result.id}")
        if done == total:
            bar.close()

    return update

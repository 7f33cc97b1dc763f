"""Open questions ("Summarize …", "What are the main points …"): read their file, score an answer
by the key points it covers, and summarise a run.

A file holds one JSON object per line (eval/OPEN-QUESTIONS.md): `id`, `question`, `kind`,
`documents`, `history` and `points`, each point a `point` in words and `any`, short alternative
phrasings. A point is covered when every content word of one alternative (stemmed, stop words
left out, as rag/text/terms.py compares texts) is among the answer's words, so "strategic trust" is
covered by "restoring trust that is strategic" but not by "trust". The answer's words are those of
its kept claims (`Answer.claims`), so a reply sentence the checker removed covers nothing.

An open question is never to be refused when its articles are indexed, and every sentence of its
answer must cite the sentence it came from: `OpenResult.refused` and `OpenResult.all_cited`.

>>> point = Point("a keynote lecture", ("keynote lecture", "lecture UNU"))
>>> point.covered_by("He gave the keynote at UNU, a lecture on trust.")
True
>>> point.covered_by("He gave a keynote speech.")
False

Deliberately not here: running the assistant (runner.py) or writing files (report.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.answers.markers import strip_markers
from rag.evaluation import metrics
from rag.evaluation.dataset import EvalDataError
from rag.text.terms import terms
from rag.types import OWN_WORDS, Answer, Timings

KINDS = frozenset({"summary", "main-points", "events", "list", "compare", "why", "yes-no", "describe"})


@dataclass(frozen=True)
class Point:
    point: str
    any: tuple[str, ...]

    def covered_by(self, text: str) -> bool:
        said = set(terms(text))
        return any(set(terms(alternative)) <= said for alternative in self.any if terms(alternative))


@dataclass(frozen=True)
class OpenCase:
    id: str
    question: str
    kind: str
    documents: tuple[str, ...]
    points: tuple[Point, ...]
    history: tuple[tuple[str, str], ...] = ()

    def history_messages(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.history]


@dataclass(frozen=True)
class OpenResult:
    id: str
    kind: str
    question: str
    answer: str
    covered: tuple[bool, ...]  # one flag per key point, in the file's order
    refused: bool
    all_cited: bool  # every kept claim cites a span whose quote is that span of its document
    mode: str
    claims: int  # kept claims
    removed: tuple[str, ...]
    raw: str
    timings: Timings | None
    error: str = ""
    missed: tuple[str, ...] = ()  # the key points not covered, in words

    @property
    def coverage(self) -> float:
        return sum(self.covered) / len(self.covered) if self.covered else 0.0


@dataclass(frozen=True)
class OpenSummary:
    cases: int
    errors: int
    coverage: float | None  # mean share of key points covered
    refused: float | None  # share of cases refused
    all_cited: float | None  # share of answered cases whose every sentence is cited
    own_words: float | None = None  # share of answered cases written by the model (mode written/repaired)
    words_p50: float | None = None  # words per answered case (markers left out), p50
    short: float | None = None  # share of answered cases of at most SHORT_WORDS words
    first_token_p50: float | None = None
    first_token_p95: float | None = None
    total_p50: float | None = None
    total_p95: float | None = None


SHORT_WORDS = 120  # an open answer a reader takes in at a glance (issue #20's bound)


def load_open_cases(path: Path) -> list[OpenCase]:
    """Read an open-question file; one EvalDataError lists every problem with its line number."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise EvalDataError(f"Cannot read the open-question file {path}: {err}") from err
    cases, problems, seen = [], [], set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            points = tuple(Point(str(p["point"]), tuple(map(str, p["any"]))) for p in row["points"])
            case = OpenCase(
                str(row["id"]), str(row["question"]), str(row["kind"]), tuple(row["documents"]), points,
                tuple((t["role"], t["content"]) for t in row.get("history", [])),
            )
        except (ValueError, KeyError, TypeError) as err:
            problems.append(f"{path}:{number}: {err!r}")
            continue
        if case.kind not in KINDS:
            problems.append(f"{path}:{number}: kind {case.kind!r} is not one of {', '.join(sorted(KINDS))}")
        if case.id in seen:
            problems.append(f"{path}:{number}: id {case.id!r} is used twice")
        if not case.points or any(not p.any for p in case.points):
            problems.append(f"{path}:{number}: every case needs points, each with alternatives in 'any'")
        seen.add(case.id)
        cases.append(case)
    if problems:
        raise EvalDataError("\n".join(problems))
    return cases


def score_open(case: OpenCase, answer: Answer | None, documents: dict[str, str], error: str = "") -> OpenResult:
    """`documents` maps document ids to their indexed text, to check each citation's span."""
    if answer is None:
        return OpenResult(
            case.id, case.kind, case.question, "", tuple(False for _ in case.points), True, False, "", 0, (), "",
            None, error,
        )
    kept = [c for c in answer.claims if c.kept]
    said = " ".join(c.text for c in kept)
    exact = all(documents.get(c.doc_id, "")[c.start : c.end] == c.quote for c in answer.citations)
    markers = {c.marker for c in answer.citations}
    all_cited = bool(kept) and exact and all(c.markers and set(c.markers) <= markers for c in kept)
    covered = tuple(p.covered_by(said) for p in case.points)
    return OpenResult(
        case.id, case.kind, case.question, answer.text, covered, answer.abstained, all_cited, answer.mode, len(kept),
        answer.removed, answer.raw_text, answer.timings,
        missed=tuple(p.point for p, hit in zip(case.points, covered, strict=True) if not hit),
    )


def _words(text: str) -> int:
    return len(strip_markers(text).split())


def summarise_open(results: Sequence[OpenResult]) -> OpenSummary:
    answered = [r for r in results if not r.refused]
    timed = [r.timings for r in results if r.timings is not None]
    return OpenSummary(
        cases=len(results),
        errors=sum(1 for r in results if r.error),
        coverage=sum(r.coverage for r in results) / len(results) if results else None,
        refused=metrics.share(r.refused for r in results),
        all_cited=metrics.share(r.all_cited for r in answered),
        own_words=metrics.share(r.mode in OWN_WORDS for r in answered),
        words_p50=metrics.percentile([float(_words(r.answer)) for r in answered], 50),
        short=metrics.share(_words(r.answer) <= SHORT_WORDS for r in answered),
        first_token_p50=metrics.percentile([t.first_token_s for t in timed], 50),
        first_token_p95=metrics.percentile([t.first_token_s for t in timed], 95),
        total_p50=metrics.percentile([t.total_s for t in timed], 50),
        total_p95=metrics.percentile([t.total_s for t in timed], 95),
    )

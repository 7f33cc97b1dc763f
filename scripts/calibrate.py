"""Choose the checker's policy (rag/answers/checking.py: Policy) on one half of each question set, and
report it on the other half. Prints; changes nothing.

    .venv/bin/python scripts/calibrate.py --set xquad --set in-house [--limit 200] [--collect-only | --cached-only]

Step 1, collect: every case is answered once by the real pipeline with a policy that keeps nothing,
so that every step runs (the draft and its judgements, the repair and its judgements, the judge on
each sentence that could be quoted). Every model call is recorded (rag/evaluation/recording.py) in
.cache/calibration/<set>-<models>/; an interrupted collection resumes. Cases are taken in an
order that spreads over the whole set (every 8th first), so `--limit N` is a fair sample.
Step 2, replay: the same pipeline answers every case again under each policy of the grid, from the
recordings (no model time), and each run is scored as `rag eval` scores it (right and direct, in the
model's words or quoted, wrong, refused). A policy's worth to a reader, per case: +1 for a right and
direct answer (or a refusal when the articles do not say), -`--wrong-cost` for a wrong answer
(an invented answer is the failure readers mind most), -0.5 for refusing what the articles answer.
The cases are split into halves (xquad by article, so no article is in both; in-house case by case):
the policy best on half A of every set is scored on the B halves, and the other way round.
Also printed: how well the judge's P(yes) tells replies that hold the accepted answer from those
that do not (ROC AUC), for the drafts and the repairs.

Copy the chosen values into `Policy` (rag/answers/checking.py) and write the held-out rows in docs/checking.md.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag import Assistant, Settings, engines
from rag.answers.checking import Policy
from rag.answers.markers import strip_markers
from rag.evaluation import metrics
from rag.evaluation.dataset import Case, load_cases, locate_quotes
from rag.evaluation.recording import Recorder
from rag.evaluation.scoring import CaseResult, Summary, score_case, summarise
from rag.evaluation.sets import question_set
from rag.filters import Filters
from rag.types import Answer, Hit

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "calibration"
# Keeps nothing and gives up on nothing: every step of an answer runs once, and is recorded.
EVERYTHING = Policy(keep=2.0, quote=2.0, extract=0.0, repair_refusals=True)


def collection_order(cases: Sequence[Case]) -> list[Case]:
    """Every 8th case first, then the ones between: a collection stopped early is still a sample of
    every article and every kind of case, and the same sample on every machine."""
    return [case for part in (cases[i::8] for i in range(8)) for case in part]


@dataclass
class Setup:
    name: str
    assistant: Assistant
    recorders: list[Recorder]
    cases: list[Case]


def setup(name: str, model: str | None, judge: str | None, repair: str | None, limit: int | None,
          answer_from: str | None = None) -> Setup:
    qset = question_set(name, ROOT)
    settings = Settings.from_env(documents_dir=qset.documents, index_dir=qset.index_dir(ROOT), model=model,
                                 judge_model=judge, repair_model=repair, answer_from=answer_from)
    tag = f"{name}-{Path(settings.model).stem}-{Path(settings.judge_model).stem}-{Path(settings.repair_model).stem}"
    tag += "" if settings.answer_from == "passages" else f"-from-{settings.answer_from}"
    folder = CACHE / tag
    generator = Recorder(engines.make_model(settings, settings.model, settings.context_size), folder / "generator.pkl")
    recorders = [generator]
    judging = None
    if settings.judge_model not in ("none", "same", settings.model):
        judge_model = engines.make_model(settings, settings.judge_model, engines.JUDGE_CONTEXT)
        judging = Recorder(judge_model, folder / "judge.pkl")
        recorders.append(judging)
    assistant = Assistant(settings, generator=generator, judge=judging)
    assistant.index()
    _remember_searches(assistant)
    cases = collection_order(locate_quotes(load_cases(qset.questions), assistant.stored.documents, str(qset.questions)))
    return Setup(name, assistant, recorders, cases[:limit] if limit else cases)


def _remember_searches(assistant: Assistant) -> None:
    """Retrieval does not depend on the policy: search each question once."""
    retriever = assistant.retriever()
    search = retriever.search
    seen: dict[tuple[str, int], list[Hit]] = {}

    def remembered(query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        if (query, k) not in seen:
            seen[(query, k)] = search(query, k, filters)
        return seen[(query, k)]

    retriever.search = remembered  # type: ignore[method-assign]


def run(s: Setup, policy: Policy, progress: bool = False) -> list[tuple[Case, Answer]]:
    s.assistant.policy = policy
    rows = []
    for n, case in enumerate(s.cases, start=1):
        reply = s.assistant.answer(case.question, history=case.history_messages())
        rows.append((case, reply))
        if progress:
            print(f"{n}/{len(s.cases)} {case.id}: {reply.raw_text[:60]!r} | {reply.repair_text[:60]!r}",
                  file=sys.stderr)
            if n % 10 == 0:
                for r in s.recorders:
                    r.save()
    for r in s.recorders:
        r.save()
    return rows


def grid() -> list[Policy]:
    return [
        Policy(keep=keep, quote=quote, extract=extract, relevant=relevant, margin=margin)
        for keep, quote, extract, relevant, margin in itertools.product(
            (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8), (0.6, 0.8, 2.0), (0.2, 0.35), (0.0, 0.3), (0.1, 0.2, 1.0)
        )
    ]


def halves(cases: Sequence[Case], by_document: bool) -> tuple[list[int], list[int]]:
    """Two halves of the cases: by article (every other article) or every other case."""
    if by_document:
        documents = sorted({_document(case) for case in cases})
        first = set(documents[::2])
        a = [i for i, case in enumerate(cases) if _document(case) in first]
    else:
        a = list(range(0, len(cases), 2))
    b = [i for i in range(len(cases)) if i not in set(a)]
    return a, b


def _document(case: Case) -> str:
    if case.sources:
        return case.sources[0].document
    return "none-" + str(sum(map(ord, case.id)) % 2)  # an unanswerable case has no document: spread by id


def worth(results: Sequence[CaseResult], wrong_cost: float) -> float:
    right = sum(r.correct for r in results)
    wrong = sum(not r.correct and not r.abstained for r in results)
    needless = sum(r.answerable and r.abstained for r in results)
    return (right - wrong_cost * wrong - 0.5 * needless) / max(1, len(results))


HEADER = (f"{'policy':<64} | {'right':>5} {'words':>5} {'quote':>5} {'wrong':>5} {'w-ref':>5} "
          f"{'refus':>5} {'old':>5} {'cites':>5}")


def row(label: str, s: Summary) -> str:
    def f(x: float | None) -> str:
        return "  -  " if x is None else f"{x:5.2f}"

    return (f"{label:<64} | {f(s.answer_accuracy)} {f(s.written)} {f(s.quoted)} {f(s.wrong_answer_rate)} "
            f"{f(s.false_refusal_rate)} {f(s.refusal_rate)} {f(s.holds_answer)} {f(s.citation_precision)}")


def name(p: Policy) -> str:
    return (f"keep {p.keep} quote {p.quote} extract {p.extract} relevant {p.relevant} margin {p.margin}"
            f"{'' if p.repair_refusals else ' trust-refusals'}")


def judge_roc(rows: Sequence[tuple[Case, Answer]]) -> str:
    """AUC of the judge's best P(yes) for a reply's claims against: the reply holds an accepted answer."""
    out = []
    for label, text_of in (("drafts", lambda a: a.raw_text), ("repairs", lambda a: a.repair_text)):
        scores, labels = [], []
        for case, answer in rows:
            text = strip_markers(text_of(answer))
            support = _support(answer, text) if text else None
            if support is None:
                continue
            scores.append(support)
            labels.append(case.answerable and metrics.answer_matches(text, case.answers, case.all_of))
        auc = _auc(scores, labels)
        out.append(f"{label}: AUC {auc:.3f} over {len(scores)} replies, {sum(labels)} holding the answer")
    return "; ".join(out)


def _support(answer: Answer, text: str) -> float | None:
    """The best P(yes) the judge gave a claim of this reply (the claims of both replies are in
    `answer.claims`; a claim belongs to the reply whose text holds it)."""
    found = [c.support for c in answer.claims if c.support is not None and c.text.rstrip(".") in text]
    return max(found) if found else None


def _auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return float("nan")
    return sum((p > q) + 0.5 * (p == q) for p in pos for q in neg) / (len(pos) * len(neg))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", dest="sets", action="append", help="in-house, xquad (repeatable)")
    parser.add_argument("--model", help="the answering model (RAG_MODEL)")
    parser.add_argument("--judge", help="the judge model (RAG_JUDGE_MODEL)")
    parser.add_argument("--repair", help="the repair model (RAG_REPAIR_MODEL)")
    parser.add_argument("--answer-from", help="passages or sentences (RAG_ANSWER_FROM)")
    parser.add_argument("--limit", type=int, help="only the first N cases in collection order")
    parser.add_argument("--collect-only", action="store_true")
    parser.add_argument(
        "--held-out", metavar="FROM:TO",
        help="instead: answer the cases FROM:TO in collection order (never collected, never chosen on) with the "
        "current Policy, end to end, and score them",
    )
    parser.add_argument("--wrong-cost", type=float, default=2.0)
    parser.add_argument("--top", type=int, default=6)
    args = parser.parse_args()
    if args.held_out:
        score_held_out(args)
        return
    setups = [setup(name, args.model, args.judge, args.repair, args.limit, args.answer_from)
              for name in (args.sets or ["in-house"])]
    for s in setups:
        started = time.perf_counter()
        rows = run(s, EVERYTHING, progress=True)
        asked = sum(r.asked for r in s.recorders)
        print(f"== {s.name}: {len(rows)} cases collected ({asked} model calls made, "
              f"{time.perf_counter() - started:.0f} s); judge {judge_roc(rows)}")
    if args.collect_only:
        return
    scored: dict[str, dict[Policy, list[CaseResult]]] = {}
    for s in setups:
        scored[s.name] = {}
        for policy in grid():
            scored[s.name][policy] = [score_case(case, answer) for case, answer in run(s, policy)]
        best = sorted(scored[s.name], key=lambda p: -worth(scored[s.name][p], args.wrong_cost))[: args.top]
        print(f"\n== {s.name}: {len(s.cases)} cases, the best {args.top} policies on all of them")
        print(HEADER)
        for policy in best:
            print(row(name(policy), summarise(scored[s.name][policy], 5)))
    cut = {s.name: halves(s.cases, by_document=s.name.startswith("xquad")) for s in setups}

    def worth_on(policy: Policy, half: int | None) -> float:
        total = 0.0
        for n, results in scored.items():
            chosen = results[policy] if half is None else [results[policy][i] for i in cut[n][half]]
            total += worth(chosen, args.wrong_cost)
        return total / len(scored)

    print("\n== chosen on one half of every set, scored on the other halves")
    print(HEADER)
    for chosen, held in ((0, 1), (1, 0)):
        best_policy = max(grid(), key=lambda p: worth_on(p, chosen))
        for n, results in scored.items():
            held_out = [results[best_policy][i] for i in cut[n][held]]
            print(row(f"{n} {'AB'[held]} ({len(held_out)}): {name(best_policy)}", summarise(held_out, 5)))
    best_policy = max(grid(), key=lambda p: worth_on(p, None))
    print(f"chosen on everything: {name(best_policy)}")
    for n, results in scored.items():
        print(row(f"{n} (all {len(results[best_policy])})", summarise(results[best_policy], 5)))


def score_held_out(args: argparse.Namespace) -> None:
    start, _, end = args.held_out.partition(":")
    for set_name in args.sets or ["in-house"]:
        s = setup(set_name, args.model, args.judge, args.repair, None, args.answer_from)
        s.cases = s.cases[int(start) : int(end) if end else None]
        started = time.perf_counter()
        policy = s.assistant.policy
        results = [score_case(case, answer) for case, answer in run(s, policy, progress=True)]
        print(f"== {set_name}: cases {args.held_out} in collection order ({len(results)}), never collected or chosen "
              f"on, {time.perf_counter() - started:.0f} s; {name(policy)}")
        print(HEADER)
        print(row(f"{set_name} held out", summarise(results, 5)))


if __name__ == "__main__":
    main()

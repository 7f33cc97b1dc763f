"""Choose the answer checker's thresholds on one half of a question set, and report them on the other.

    .venv/bin/python scripts/calibrate.py --set xquad [--set in-house] [--model qwen2.5-0.5b]

Step 1 asks the model every question of each set once and caches its raw replies and passages in
.cache/calibration/SET-MODEL.pkl (the replies do not depend on the thresholds; an interrupted
collection resumes where it stopped, and asks the cases in an order that spreads over the whole set,
so a part of it is a fair sample). The judge's answers (rag/judging.py) are cached too, in
.cache/calibration/judge-JUDGE_MODEL.pkl, so re-checking costs no model time.
Step 2 re-checks the cached replies under a grid of thresholds and ranks each combination by what
its replies are worth to a reader, per case:
  +1 for a right answer (or a refusal when the articles do not say),
  -1 for a wrong answer (an invented or off-target reply is the failure users complain of most),
  -0.5 for a refusal when the articles do say (honest, but no help).
The cases are split into two halves (xquad by article, so no article is in both; the others case by
case): each half chooses the best combination, which is then scored on the other half. The whole-set
best is printed too, but only the held-out rows say how the checker does on questions it was not
tuned on. It changes nothing: copy the chosen values into rag/grounding.py and say so in
docs/checking.md.
"""

from __future__ import annotations

import argparse
import itertools
import pickle
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from rag import Assistant, Settings
from rag.evaluation.dataset import Case, load_cases, locate_quotes
from rag.evaluation.scoring import CaseResult, Summary, score_case, summarise
from rag.evaluation.sets import question_set
from rag.grounding import Thresholds, check_answer, thresholds_for
from rag.judging import Judge
from rag.types import Answer

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "calibration"

Row = tuple[Case, Answer]


def collect(assistant: Assistant, questions: Path, cache: Path, more: bool = True) -> list[Row]:
    rows: list[Row] = pickle.loads(cache.read_bytes()) if cache.exists() else []
    if not more:
        return rows
    done = {case.id for case, _ in rows}
    cases = locate_quotes(load_cases(questions), assistant.stored.documents, str(questions))
    todo = [case for case in collection_order(cases) if case.id not in done]
    for n, case in enumerate(todo, start=1):
        reply = assistant.answer(case.question, history=case.history_messages())
        rows.append((case, reply))
        print(f"{len(done) + n}/{len(cases)} {case.id}: {reply.raw_text[:70]!r}", file=sys.stderr)
        if n % 10 == 0 or n == len(todo):
            _save(cache, rows)
    order = {c.id: i for i, c in enumerate(cases)}
    return sorted(rows, key=lambda row: order.get(row[0].id, len(order)))


def collection_order(cases: Sequence[Case]) -> list[Case]:
    """Every 8th case first, then the ones between: a collection stopped early is still a sample of
    every article and every kind of case, and the same sample on every machine."""
    return [case for part in (cases[i::8] for i in range(8)) for case in part]


def _save(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(data))
    tmp.replace(path)


def _judge(assistant: Assistant) -> Judge:
    if assistant.judge is None:
        raise SystemExit("Calibration needs a judge: set RAG_JUDGE_MODEL to a model, or to 'same'.")
    return assistant.judge


def _judge_cache(assistant: Assistant) -> Path:
    return CACHE / f"judge-{Path(assistant.settings.judge_model).name}.pkl"


def _save_judge(assistant: Assistant) -> None:
    _save(_judge_cache(assistant), dict(_judge(assistant)._seen))


def _load_judge(assistant: Assistant) -> None:
    path = _judge_cache(assistant)
    judge = _judge(assistant)
    if path.exists():
        judge._seen.update(pickle.loads(path.read_bytes()))
    judge._remember = 10**9


def recheck(
    assistant: Assistant, rows: Sequence[Row], thresholds: Thresholds, *, judge: bool = True
) -> list[CaseResult]:
    retriever = assistant.retriever()
    results = []
    for case, reply in rows:
        if reply.shape == "open" and not reply.raw_text and reply.mode != "refused":
            results.append(score_case(case, reply))  # extracted from the passages: no reply to check
            continue
        verdict = check_answer(
            reply.standalone_question, reply.raw_text, reply.passages, assistant.remembered.embed, retriever.idf,
            thresholds, assistant.judge if judge else None,
        )
        checked = replace(
            reply, text=verdict.text, citations=verdict.citations, claims=verdict.claims,
            abstained=verdict.abstained, mode=verdict.mode,
        )
        results.append(score_case(case, checked))
    return results


def halves(rows: Sequence[Row], by_document: bool) -> tuple[list[int], list[int]]:
    """Two halves of the cases: by article (every other article) or every other case."""
    if by_document:
        documents = sorted({_document(case) for case, _ in rows})
        first = set(documents[::2])
        a = [i for i, (case, _) in enumerate(rows) if _document(case) in first]
    else:
        a = list(range(0, len(rows), 2))
    b = [i for i in range(len(rows)) if i not in set(a)]
    return a, b


def _document(case: Case) -> str:
    if case.sources:
        return case.sources[0].document
    # an unanswerable case has no document: spread them by id
    return "none-" + str(sum(map(ord, case.id)) % 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--set", dest="sets", action="append", default=None, help="in-house, xquad (repeatable)")
    parser.add_argument("--collect-only", action="store_true", help="ask the questions not cached yet, then stop")
    parser.add_argument("--cached-only", action="store_true", help="re-check only the replies already cached")
    parser.add_argument(
        "--held-out-from", type=int, metavar="N",
        help="only score the current thresholds on the cached cases after the first N in collection order "
        "(the cases that were not there when the thresholds were chosen)",
    )
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    scored_sets: dict[str, tuple[dict[Thresholds, list[CaseResult]], tuple[list[int], list[int]]]] = {}
    for name in args.sets or ["in-house"]:
        qset = question_set(name, ROOT)
        settings = Settings.from_env(model=args.model, documents_dir=qset.documents, index_dir=qset.index_dir(ROOT))
        if args.collect_only:  # the replies do not depend on the judge: judge later, from the cache
            settings = replace(settings, judge_model="none")
        assistant = Assistant(settings)
        assistant.index()
        assistant.warm_up()
        if not args.collect_only:
            _load_judge(assistant)
        cache = CACHE / f"{name}-{Path(settings.model).name}.pkl"
        rows = collect(assistant, qset.questions, cache, not args.cached_only)
        if args.collect_only:
            continue
        if args.held_out_from is not None:
            order = [c.id for c in collection_order(load_cases(qset.questions))]
            later = set(order[args.held_out_from :])
            held = [row for row in rows if row[0].id in later]
            results = recheck(assistant, held, thresholds_for(settings.model))
            print(f"\n== {name}: {len(held)} cached cases after the first {args.held_out_from}, current thresholds")
            print(HEADER)
            print(_row(_name(thresholds_for(settings.model)), summarise(results, 5)))
            _save_judge(assistant)
            continue
        scored_sets[name] = report(assistant, name, rows, args.top)
        _save_judge(assistant)
    if len(scored_sets) > 1:
        joint(scored_sets)


def joint(scored_sets: dict[str, tuple[dict[Thresholds, list[CaseResult]], tuple[list[int], list[int]]]]) -> None:
    """One set of thresholds for every set: chosen on one half of each set together (each set's
    worth counting equally), scored on the other halves; then chosen on everything (the default)."""
    def worth_on(t: Thresholds, half: int | None) -> float:
        total = 0.0
        for scored, halves_ in scored_sets.values():
            rows = scored[t] if half is None else [scored[t][i] for i in halves_[half]]
            total += worth(rows)
        return total / len(scored_sets)

    print("\n== all sets together: chosen on one half of each, scored on the other halves")
    for chosen, held in ((0, 1), (1, 0)):
        best = max(GRID, key=lambda t: worth_on(t, chosen))
        for name, (scored, halves_) in scored_sets.items():
            print(_row(f"{name}: {_name(best)}", summarise([scored[best][i] for i in halves_[held]], 5)))
    best = max(GRID, key=lambda t: worth_on(t, None))
    print("Chosen on everything:")
    for name, (scored, _) in scored_sets.items():
        print(_row(f"{name}: {_name(best)}", summarise(scored[best], 5)))


GRID = [
    Thresholds(support=support, relevant=relevant, extract=extract, margin=margin)
    for support, relevant, extract, margin in itertools.product(
        (0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97), (0.0, 0.2, 0.3, 0.4), (0.45, 0.5, 0.55, 0.6, 1.1), (0.08, 1.0)
    )
]


def report(
    assistant: Assistant, name: str, rows: Sequence[Row], top: int
) -> tuple[dict[Thresholds, list[CaseResult]], tuple[list[int], list[int]]]:
    scored = {t: recheck(assistant, rows, t) for t in GRID}
    words = recheck(assistant, rows, Thresholds(), judge=False)
    print(f"\n== {name}: {len(rows)} cases, model {assistant.settings.model}")
    print(HEADER)
    print(_row("words only (no judge), defaults", summarise(words, 5)))
    print(_row("judge, defaults", summarise(scored[Thresholds()], 5) if Thresholds() in scored else None))
    for t in sorted(GRID, key=lambda t: -worth(scored[t]))[:top]:
        print(_row(_name(t), summarise(scored[t], 5)))
    a, b = halves(rows, by_document=name.startswith("xquad"))
    print("Chosen on one half, scored on the other:")
    for chosen, held in ((a, b), (b, a)):
        best = max(GRID, key=lambda t: worth([scored[t][i] for i in chosen]))
        print(_row(_name(best) + f" ({len(held)} held out)", summarise([scored[best][i] for i in held], 5)))
    return scored, (a, b)


def worth(results: Sequence[CaseResult]) -> float:
    right = sum(r.correct for r in results)
    wrong = sum(not r.correct and not r.abstained for r in results)
    needless_refusals = sum(r.answerable and r.abstained for r in results)
    return (right - wrong - 0.5 * needless_refusals) / max(1, len(results))


HEADER = f"{'thresholds':<48} | {'right':>6} {'refused':>7} {'wrong-ref':>9} {'wrong-ans':>9} {'cite-prec':>9}"


def _name(t: Thresholds) -> str:
    return f"support {t.support} relevant {t.relevant} extract {t.extract} margin {t.margin}"


def _row(label: str, s: Summary | None) -> str:
    if s is None:
        return f"{label:<48} | (not in the grid)"

    def f(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    return (
        f"{label:<48} | {f(s.answer_accuracy):>6} {f(s.refusal_rate):>7} {f(s.false_refusal_rate):>9} "
        f"{f(s.wrong_answer_rate):>9} {f(s.citation_precision):>9}"
    )


if __name__ == "__main__":
    main()

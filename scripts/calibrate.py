"""Choose the answer checker's thresholds on a question set, and print how each choice scores.

    .venv/bin/python scripts/calibrate.py [--model qwen2.5-0.5b] [--questions eval/questions.jsonl]

Step 1 asks the model every question once and caches its raw replies and passages (the replies do
not depend on the thresholds), in .cache/calibration-<model>.pkl. Step 2 re-checks the cached
replies under every combination of thresholds and prints correct answers, refusals on
unanswerable cases, wrong refusals, wrong answers and citation precision, best first by the
worth of the replies to a reader, per case:
  +1 for a right answer (or a refusal when the articles do not say),
  -1 for a wrong answer (an invented or off-target reply is the failure users complain of most),
  -0.5 for a refusal when the articles do say (honest, but no help).
It changes nothing: copy the chosen values into rag/grounding.py, `Thresholds` for the default
model or `CALIBRATED` for another, and say so.
"""

from __future__ import annotations

import argparse
import itertools
import pickle
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from rag import Answer, Assistant, Settings
from rag.evaluation.dataset import Case, load_cases, locate_quotes
from rag.evaluation.scoring import CaseResult, score_case, summarise
from rag.grounding import Thresholds, check_answer


def collect(assistant: Assistant, questions: Path, cache: Path) -> list[tuple[Case, Answer]]:
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    cases = locate_quotes(load_cases(questions), assistant.stored.documents, str(questions))
    rows: list[tuple[Case, Answer]] = []
    for n, case in enumerate(cases, start=1):
        reply = assistant.answer(case.question, history=case.history_messages())
        rows.append((case, reply))
        print(f"{n}/{len(cases)} {case.id}: {reply.raw_text[:80]!r}", file=sys.stderr)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(rows))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--questions", type=Path, default=Path("eval/questions.jsonl"))
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    settings = Settings.from_env(model=args.model)
    assistant = Assistant(settings)
    assistant.index()
    cache = args.cache or Path(".cache") / f"calibration-{Path(settings.model).name}.pkl"
    rows = collect(assistant, args.questions, cache)
    retriever = assistant.retriever()
    embed = assistant.remembered.embed  # every threshold combination re-checks the same sentences

    grid = [
        Thresholds(coverage, relevant, extract, margin)
        for coverage, relevant, extract, margin in itertools.product(
            (0.5, 0.6, 0.7), (0.3, 0.4, 0.5), (0.45, 0.5, 0.55, 0.6, 0.65, 1.1), (0.04, 0.08, 0.12, 1.0)
        )
    ]
    scored: dict[Thresholds, list[CaseResult]] = {}
    for thresholds in grid:
        results = []
        for case, reply in rows:
            verdict = check_answer(
                reply.standalone_question, reply.raw_text, reply.passages, embed, retriever.idf, thresholds
            )
            checked = replace(reply, text=verdict.text, citations=verdict.citations, abstained=verdict.abstained)
            results.append(score_case(case, checked))
        scored[thresholds] = results

    def summary(results: Sequence[CaseResult]) -> object:
        return summarise(results, settings.k)

    table = sorted(grid, key=lambda t: -worth(scored[t]))
    print("Best on the whole set:")
    print("{:>8} {:>8} {:>8} {:>8} | {:>7} {:>7} {:>9} {:>9} {:>9}".format(
        "coverage", "relevant", "extract", "margin", "correct", "refused", "wrong-ref", "wrong-ans", "cite-prec"))
    for t in table[: args.top]:
        print(_row(t, summary(scored[t])))
    # Held out: choose on half the cases, score on the other half, both ways round. A large drop
    # from the whole-set score means the thresholds fit this question set rather than the task.
    print("\nChosen on one half, scored on the other:")
    for fold in (0, 1):
        chosen_half = [i for i in range(len(rows)) if i % 2 == fold]
        held_half = [i for i in range(len(rows)) if i % 2 != fold]
        best = max(grid, key=lambda t: worth([scored[t][i] for i in chosen_half]))
        print(_row(best, summary([scored[best][i] for i in held_half])))


def worth(results: Sequence[CaseResult]) -> float:
    right = sum(r.correct for r in results)
    wrong = sum(not r.correct and not r.abstained for r in results)
    needless_refusals = sum(r.answerable and r.abstained for r in results)
    return (right - wrong - 0.5 * needless_refusals) / len(results)


def _row(t: Thresholds, s: object) -> str:
    return (
        f"{t.min_coverage:8.2f} {t.relevant:8.2f} {t.extract:8.2f} {t.margin:8.2f} | "
        f"{s.answer_accuracy or 0:7.3f} {s.refusal_rate or 0:7.3f} "  # type: ignore[attr-defined]
        f"{s.false_refusal_rate or 0:9.3f} {s.wrong_answer_rate or 0:9.3f} "  # type: ignore[attr-defined]
        f"{s.citation_precision or 0:9.3f}"  # type: ignore[attr-defined]
    )


if __name__ == "__main__":
    main()

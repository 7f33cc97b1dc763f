"""Measure speed and memory on this machine and print the numbers (no assertions, nothing written).

    .venv/bin/python scripts/bench.py [--model qwen2.5-0.5b] [--judge qwen2.5-1.5b|same|none] [--questions 12] [--k 4]

Prints: start-up (imports, loading the models, the warm-up the chat does before taking questions),
building the index from scratch and re-running it with nothing changed, the first question's
times, then how the answers were made (written, repaired, quoted, refused) and per question the
retrieval time, the time to the draft's first token (shown as a draft), to the first token of the
final answer (text that stays) and the total time (p50 and p95 over the first N answerable
questions of eval/questions.jsonl, each asked once after that first question), checking (from
the last reply to the final answer), generated tokens per second, and the process's peak memory.
The percentiles are the evaluation's (rag/evaluation/metrics.py).
Run it on an otherwise idle machine: other work on the same cores slows every number.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--judge", default=None, help="the judge model (RAG_JUDGE_MODEL): a name, 'same' or 'none'")
    parser.add_argument("--questions", type=int, default=12)
    parser.add_argument("-k", type=int, default=None)
    args = parser.parse_args()

    t0 = time.perf_counter()
    from rag import Assistant, Settings
    from rag.evaluation.metrics import percentile

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(index_dir=Path(tmp) / "index", model=args.model, judge_model=args.judge)
        assistant = Assistant(settings)
        t1 = time.perf_counter()
        assistant.embedder.embed(["warm up"])
        t2 = time.perf_counter()
        report = assistant.index()
        t3 = time.perf_counter()
        again = assistant.index()
        t4 = time.perf_counter()
        assistant.generator.count_tokens("warm up")
        t5 = time.perf_counter()
        assistant.warm_up()  # what `rag serve` and `rag chat` do before taking questions
        t6 = time.perf_counter()
        print(f"model                 {settings.model} (k={args.k or settings.k}, {settings.threads} threads)")
        print(f"judge                 {settings.judge_model}")
        print(f"import rag            {t1 - t0:6.2f} s")
        print(f"load embedder         {t2 - t1:6.2f} s")
        print(f"index from scratch    {t3 - t2:6.2f} s  ({report.chunks_embedded} chunks)")
        print(f"index, no change      {t4 - t3:6.2f} s  ({again.chunks_embedded} chunks embedded)")
        print(f"load generator        {t5 - t4:6.2f} s")
        print(f"warm up               {t6 - t5:6.2f} s  (each model run once)")

        cases = [json.loads(line) for line in Path("eval/questions.jsonl").read_text(encoding="utf-8").splitlines()]
        questions = [c["question"] for c in cases if c.get("answerable", True) and not c.get("history")]
        first = assistant.answer(questions[-1], k=args.k).timings  # not in the numbers below
        print(f"first question        {first.first_token_s:6.2f} s to the first token, {first.total_s:.2f} s in all")
        answers = [assistant.answer(q, k=args.k) for q in questions[: args.questions]]
        timings = [a.timings for a in answers]

    modes = {m: sum(a.mode == m for a in answers) for m in ("written", "repaired", "quoted", "extracted", "refused")}
    print("answers               " + ", ".join(f"{n} {m}" for m, n in modes.items() if n))
    for name, values in (
        ("retrieval", [t.retrieval_s for t in timings]),
        ("first token (draft)", [t.draft_token_s for t in timings if t.draft_token_s]),
        ("first token (answer)", [t.first_token_s for t in timings]),
        ("checking the reply", [t.check_s for t in timings]),
        ("total", [t.total_s for t in timings]),
    ):
        print(f"{name:<21} p50 {percentile(values, 50) or 0:6.2f} s   p95 {percentile(values, 95) or 0:6.2f} s")
    prompt = statistics.mean(t.prompt_tokens for t in timings)
    rates = [t.tokens_per_s for t in timings if t.tokens_per_s]
    print(f"prompt tokens         mean {prompt:.0f}")
    print(f"generation            {statistics.mean(rates):.1f} tokens/s" if rates else "generation            n/a")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS)     {peak:.0f} MiB")


if __name__ == "__main__":
    main()

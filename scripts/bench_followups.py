"""Which questions asked mid-conversation get rewritten, and what rewriting costs. Prints; asserts nothing.

    .venv/bin/python scripts/bench_followups.py [--questions eval/conversation.jsonl] [--model qwen2.5-0.5b]

eval/conversation.jsonl holds questions asked after a turn of conversation, each marked `depends`:
true for a follow-up that needs the conversation ("What did they discuss?", "And in Geneva?"), false
for a new question ("Summarize the news about the lecture."). Printed: the precision and recall of
`rag.answers.rewriting.depends_on_conversation` against those marks, then, with the real answering model,
what a rewrite adds before the first token (the rewriting call alone, p50 and p95), and the seconds
saved over the earlier behaviour of rewriting every question that has a conversation.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rag import Settings
from rag.answers.rewriting import depends_on_conversation, rewrite
from rag.engines import make_generator
from rag.evaluation.metrics import percentile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=Path("eval/conversation.jsonl"))
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    cases = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    flagged = [depends_on_conversation(c["question"]) for c in cases]
    tp = sum(f and c["depends"] for f, c in zip(flagged, cases, strict=True))
    fp = [c["question"] for f, c in zip(flagged, cases, strict=True) if f and not c["depends"]]
    fn = [c["question"] for f, c in zip(flagged, cases, strict=True) if not f and c["depends"]]
    print(f"{len(cases)} questions asked mid-conversation, {sum(c['depends'] for c in cases)} of them follow-ups")
    print(f"rewritten when needed: precision {tp / max(1, tp + len(fp)):.2f}, recall {tp / max(1, tp + len(fn)):.2f}")
    for q in fp:
        print(f"  rewritten, though new: {q}")
    for q in fn:
        print(f"  not rewritten, though a follow-up: {q}")

    generator = make_generator(Settings.from_env(model=args.model))
    generator.count_tokens("warm up")
    seconds: list[float] = []
    for case in cases:
        started = time.perf_counter()
        standalone = rewrite(case["question"], case["history"], generator)
        seconds.append(time.perf_counter() - started)
        if case["depends"]:
            print(f"  {case['question']!r} -> {standalone!r} ({seconds[-1]:.1f} s)")
    needed = [s for s, f in zip(seconds, flagged, strict=True) if f]
    print(f"a rewrite adds before the first token: p50 {percentile(seconds, 50):.2f} s, "
          f"p95 {percentile(seconds, 95):.2f} s ({generator.name})")
    print(f"rewriting only when needed: {len(needed)} of {len(cases)} questions; "
          f"{sum(seconds) - sum(needed):.1f} s saved over rewriting every one "
          f"({(sum(seconds) - sum(needed)) / len(cases):.2f} s per question on average)")


if __name__ == "__main__":
    main()

"""Score timeline and "what's new" answers on eval/timelines/questions.jsonl. Prints; changes nothing.

    .venv/bin/python scripts/eval_timelines.py [--show]

The set's articles (eval/timelines/documents/) and the two default articles are indexed into
.cache/eval-index/timelines/ with the real MiniLM embedder; each question is asked through
`Assistant.answer` as the chat asks it, a "what's new" question on its own `today`. An expected
event is right when one line of the answer has its date and its words and cites a sentence; a
question is in order when the lines of its right events come in the expected order; a question that
should find nothing new is right when the answer says so. Printed: each question's result, then the
share of events right, of questions in order, and of nothing-new questions right, with the commit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import re
import shutil
import subprocess
from pathlib import Path

from rag import Assistant, Settings, pipeline
from rag.answers.timelines import When
from rag.types import Answer

ROOT = Path(__file__).resolve().parent.parent
SET = ROOT / "eval" / "timelines"
WORK = ROOT / ".cache" / "eval-index" / "timelines"
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]


def iso(label: str) -> str:
    """'18 December 2025' -> '2025-12-18', 'May 2024' -> '2024-05', '1987' -> '1987'."""
    parts = label.lower().split()
    day = int(parts.pop(0)) if len(parts) == 3 or (len(parts) == 2 and parts[0].isdigit()) else None
    month = MONTHS.index(parts.pop(0)) + 1 if parts and parts[0] in MONTHS else None
    year = int(parts[0]) if parts else None
    return When(year, month, day).iso


def lines(reply: Answer) -> list[tuple[str, str]]:
    return [(iso(label), text) for label, text in re.findall(r"^- \*\*(.+?)\*\*: (.+)$", reply.text, re.MULTILINE)]


def score(case: dict, reply: Answer) -> tuple[int, bool, list[str]]:
    """(events right, in order, what was missed)."""
    found: list[int] = []
    missed = []
    got = lines(reply)
    for event in case["events"]:
        words = event["words"].lower().split()
        at = next((i for i, (date, text) in enumerate(got)
                   if date == event["date"] and all(w in text.lower() for w in words) and re.search(r"\[\d+\]", text)),
                  None)
        if at is None:
            missed.append(f"{event['date']} {event['words']}")
        else:
            found.append(at)
    return len(found), found == sorted(found), missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show", action="store_true", help="print every answer")
    args = parser.parse_args()
    docs = WORK / "documents"
    shutil.rmtree(docs, ignore_errors=True)
    shutil.copytree(SET / "documents", docs)
    for article in (ROOT / "documents").glob("*.txt"):
        shutil.copy(article, docs / article.name)
    assistant = Assistant(Settings.from_env({}, documents_dir=docs, index_dir=WORK / "index"))
    assistant.index()
    cases = [json.loads(line) for line in (SET / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line]
    events = right = ordered = timelines = nothing = nothing_right = 0
    for case in cases:
        if "today" in case:
            pipeline.today = functools.partial(dt.date.fromisoformat, case["today"])  # the day windows count from
        reply = assistant.answer(case["question"])
        if case.get("nothing_new"):
            nothing += 1
            ok = reply.abstained and reply.text.startswith("Nothing new")
            nothing_right += ok
            print(f"{case['id']:<8} nothing new: {'right' if ok else 'WRONG'}  ({reply.text[:70]!r})")
        else:
            n, in_order, missed = score(case, reply)
            events += len(case["events"])
            right += n
            timelines += 1
            ordered += in_order
            extra = len(lines(reply)) - n
            order = "in order" if in_order else "OUT OF ORDER"
            print(f"{case['id']:<8} {n}/{len(case['events'])} events right, {order}, {extra} other lines"
                  f"{'; missed: ' + '; '.join(missed) if missed else ''}")
        if args.show:
            print("   " + reply.text.replace("\n", "\n   "))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout
    print(f"\ncommit {commit.strip()}, embedder {assistant.settings.embedder_backend}, k for timelines "
          f"{assistant.settings.open_k}, summary floor {assistant.policy.summary}")
    print(f"events right (dated, worded, cited): {right}/{events} = {right / max(1, events):.2f}")
    print(f"questions in order: {ordered}/{timelines}; "
          f"nothing new said when nothing came in: {nothing_right}/{nothing}")


if __name__ == "__main__":
    main()

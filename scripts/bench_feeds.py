"""Feeds at feed speed (#23, docs/news.md): 10 local feeds of 50 entries each, served on 127.0.0.1.

  1. a chat question answered with nothing else running (the baseline), `--questions` of them;
  2. the first refresh (rag.ingest.feed_refresh.Refresher, as `rag serve` runs it): 500 entries fetched,
     saved, embedded with MiniLM and indexed; other questions asked while it runs;
  3. a second refresh with nothing new: every feed answers 304, nothing is embedded (target ≤ 2 s);
     and the same without ETag / Last-Modified (every feed downloaded, every entry already seen);
  4. for comparison, 500 more entries refreshed with the chat NOT telling the refresher it is
     answering (no pause between batches): a third set of questions asked while that runs.
Answers come from the default models (RAG_MODEL, RAG_JUDGE_MODEL) on the default articles. Each
phase asks its own questions (the 1st, 4th, 7th … of eval/questions.jsonl for the first phase, the
2nd, 5th … for the next): the judge remembers its judgements and llama.cpp the prompts it has read,
so a question asked twice is answered faster the second time.

    PYTHONPATH=. flock /tmp/cpu.lock .venv/bin/python scripts/bench_feeds.py --out /tmp/feeds.json
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_scale

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from rag.ingest import feeds  # noqa: E402
from rag.ingest.feed_refresh import Quiet, Refresher  # noqa: E402
from rag.pipeline import Assistant  # noqa: E402
from rag.settings import Settings  # noqa: E402
from tests.feed_server import feed_server  # noqa: E402

FEEDS, ENTRIES = 10, 50
LOCAL = ("127.0.0.1",)


def feed_xml(n: int, first: int, count: int, seed: int) -> str:
    """RSS 2.0 with `count` full-text entries (content:encoded), articles first.. of the synthetic archive."""
    items = []
    for i in range(first, first + count):
        article = bench_scale.make_article(n * 100_000 + i, seed)
        body = "".join(f"<p>{html.escape(p)}</p>" for p in article.body.split("\n\n"))
        day = time.strftime("%a, %d %b %Y 09:00:00 GMT", time.strptime(article.published, "%Y-%m-%d"))
        items.append(
            f"<item><title>{html.escape(article.title)}</title><link>https://feed{n}.example/{i}</link>"
            f"<guid>feed{n}-{i}</guid><pubDate>{day}</pubDate>"
            f"<content:encoded><![CDATA[{body}]]></content:encoded></item>"
        )
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>Local feed {n}</title>{''.join(items)}</channel></rss>")


def questions(limit: int) -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").read_text().splitlines() if line.strip()]
    return [r["question"] for r in rows if r.get("answers") and not r.get("history")][:limit]


def ask_all(assistant: Assistant, asked: list[str], quiet: Quiet | None, busy: threading.Thread | None = None
            ) -> dict[str, Any]:
    totals, firsts, overlapped = [], [], 0
    for question in asked:
        with quiet.answering() if quiet is not None else _nothing():
            reply = assistant.answer(question)
        totals.append(reply.timings.total_s)
        firsts.append(reply.timings.first_token_s)
        overlapped += bool(busy is not None and busy.is_alive())
    return {"questions": len(asked), "load_average_1min": round(os.getloadavg()[0], 2),
            "total_p50_s": round(statistics.median(totals), 2),
            "total_mean_s": round(statistics.mean(totals), 2), "first_token_p50_s": round(statistics.median(firsts), 2),
            "asked_while_refreshing": overlapped}


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def refresh_while_asking(assistant: Assistant, refresher: Refresher, asked: list[str], quiet: Quiet | None,
                         start_after_s: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run one refresh in a thread; once it is embedding, ask the questions. (refresh, answers)."""
    result: dict[str, Any] = {}

    def run() -> None:
        t = time.perf_counter()
        done = refresher.run_once()
        result.update(seconds=round(time.perf_counter() - t, 1), saved=done.saved, indexed=done.indexed,
                      error=done.error)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(start_after_s)  # fetching and saving 500 entries takes a few seconds; then it embeds
    answers = ask_all(assistant, asked, quiet, thread)
    thread.join()
    return result, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=8, help="questions asked in each phase")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start-after", type=float, default=8.0, help="seconds into a refresh to start asking")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-feeds-"))
    served, documents = work / "served", work / "documents"
    served.mkdir()
    documents.mkdir()
    for name in ("tokayev-state-visit-to-japan.txt", "tokayev-lecture-at-un-university.txt"):
        shutil.copy(ROOT / "documents" / name, documents / name)
    for n in range(FEEDS):
        (served / f"feed{n}.xml").write_text(feed_xml(n, 0, ENTRIES, args.seed), encoding="utf-8")
    settings = Settings.from_env(documents_dir=documents, index_dir=work / "index")
    assistant = Assistant(settings)
    report: dict[str, Any] = {"commit": bench_scale.commit(), "machine": bench_scale.machine(),
                              "model": settings.model, "judge": settings.judge_model}
    pool = questions(3 * args.questions)
    idle_q, paused_q, unpaused_q = pool[0::3], pool[1::3], pool[2::3]

    with feed_server(served) as server:
        assistant.index()
        assistant.warm_up()
        report["idle"] = ask_all(assistant, idle_q, None)

        followed = {}
        for n in range(FEEDS):
            url = f"{server.base}/feed{n}.xml"
            followed[url] = feeds.Feed(url, feeds.feed_slug(url), limit=ENTRIES)
        feeds.save(documents, followed)
        quiet = Quiet()
        refresher = Refresher(assistant, 3600, quiet=quiet, allow_hosts=LOCAL)
        report["first_refresh"], report["during_first_refresh"] = refresh_while_asking(
            assistant, refresher, paused_q, quiet, args.start_after)
        entries = assistant.stored.manifest["documents"]
        report["first_refresh"]["feed_articles_indexed"] = sum(d.startswith("feeds/") for d in entries)

        counting = Counting(assistant.embedder)
        assistant._embedder = counting  # what refreshes embed from here on (questions go through their own)
        t = time.perf_counter()
        second = refresher.run_once()
        report["second_refresh"] = {"seconds": round(time.perf_counter() - t, 3), "saved": second.saved,
                                    "not_modified": sum(r.not_modified for r in second.results),
                                    "texts_embedded": counting.texts}
        feeds.save(documents, {u: dataclasses.replace(f, etag=None, last_modified=None)
                               for u, f in feeds.load(documents).items()})
        t = time.perf_counter()
        full = refresher.run_once()
        report["second_refresh_without_304"] = {"seconds": round(time.perf_counter() - t, 3), "saved": full.saved,
                                                "texts_embedded": counting.texts}

        for n in range(FEEDS):
            (served / f"feed{n}.xml").write_text(feed_xml(n, ENTRIES, ENTRIES, args.seed), encoding="utf-8")
        ungated = Refresher(assistant, 3600, quiet=Quiet(), allow_hosts=LOCAL)  # the chat does not tell it
        report["third_refresh_not_paused"], report["during_third_refresh_not_paused"] = refresh_while_asking(
            assistant, ungated, unpaused_q, None, args.start_after)

    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    shutil.rmtree(work, ignore_errors=True)


class Counting:
    """The embedder, counting the texts it embeds."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.texts = inner, 0
        self.name, self.dimension = inner.name, inner.dimension

    def embed(self, texts: Any) -> Any:
        self.texts += len(texts)
        return self.inner.embed(texts)

    def fits(self, text: str) -> bool:
        return bool(self.inner.fits(text))


if __name__ == "__main__":
    main()

"""How well copies of one story are grouped, and whether a question's passages repeat a story (#23).

On the synthetic archive of scripts/news_archive.py (no copy of the BBC News set is on this machine):

  a) signatures and grouping: time per article, time to group the archive;
  b) every byte-identical pair grouped?;
  c) precision and recall of "same story" over every pair of the archive, by kind of copy, and over
     the hand-checked sample of 50 pairs (tests/fixtures/stories/sample_pairs.json);
  d) the estimated Jaccard similarity of each kind of pair to its original (why THRESHOLD is 0.5);
  e) --index: index the archive (MiniLM, or --embedder random) and ask one question per story that
     has copies (k=5): how many answers' five passages come from two copies of one story (two
     articles), with the grouping and without it (the true stories, not the predicted ones, are counted).

    PYTHONPATH=. python scripts/bench_stories.py                      # a) to d), seconds
    PYTHONPATH=. flock /tmp/cpu.lock python scripts/bench_stories.py --index   # and e), a few minutes
    PYTHONPATH=. python scripts/bench_stories.py --show-sample        # print the sample pairs to check by eye
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_scale
import news_archive

from rag.index import stories
from rag.ingest.loading import read_document

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "fixtures" / "stories" / "sample_pairs.json"


def texts_of(archive: news_archive.Archive) -> dict[str, str]:
    return {doc_id: read_document(archive.folder / doc_id, doc_id).text for doc_id in archive.story}


def grouped_pairs(found: list[list[str]]) -> set[tuple[str, str]]:
    return {(a, b) for group in found for a, b in itertools.combinations(sorted(group), 2)}


def score(truth: set[tuple[str, str]], predicted: set[tuple[str, str]], universe: set[tuple[str, str]] | None = None
          ) -> dict[str, Any]:
    if universe is not None:
        truth, predicted = truth & universe, predicted & universe
    hit = len(truth & predicted)
    return {"true_pairs": len(truth), "grouped_pairs": len(predicted), "right": hit,
            "precision": round(hit / len(predicted), 3) if predicted else 1.0,
            "recall": round(hit / len(truth), 3) if truth else 1.0}


def make_sample(archive: news_archive.Archive, seed: int = 0) -> list[dict[str, Any]]:
    """50 pairs: 25 edited copies (8 light, 9 medium, 8 heavy), 15 follow-ups with their original,
    10 unrelated articles that share at least one sentence."""
    rng = random.Random(f"sample:{seed}")
    pairs: list[dict[str, Any]] = []
    for kind, count in (("light", 8), ("medium", 9), ("heavy", 8), ("follow-up", 15)):
        ids = sorted(d for d, k in archive.kind.items() if k == kind)
        for doc_id in rng.sample(ids, count):
            pairs.append({"a": archive.copy_of[doc_id], "b": doc_id, "kind": kind, "copy": kind != "follow-up"})
    texts = texts_of(archive)
    base = sorted(d for d, k in archive.kind.items() if k == "base")
    sentences = {d: set(news_archive._SENTENCE.split(texts[d].replace("\n", " "))) for d in base}
    while len(pairs) < 50:
        a, b = rng.sample(base, 2)
        if len(sentences[a] & sentences[b]) >= 1:
            pairs.append({"a": a, "b": b, "kind": "shares-a-sentence", "copy": False})
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--index", action="store_true", help="also index the archive and ask the questions (e)")
    parser.add_argument("--embedder", choices=("minilm", "random"), default="minilm")
    parser.add_argument("--write-sample", action="store_true", help=f"write the 50 pairs to {SAMPLE}")
    parser.add_argument("--show-sample", action="store_true", help="print the sample pairs, to check them by eye")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-stories-"))
    archive = news_archive.build(work / "documents", args.base, args.seed)
    report: dict[str, Any] = {"files": len(archive.story), "kinds": {}}
    for kind in archive.kind.values():
        report["kinds"][kind] = report["kinds"].get(kind, 0) + 1

    texts = texts_of(archive)
    ids = sorted(texts)
    started = time.perf_counter()
    signatures = np.vstack([stories.signature(texts[d]) for d in ids])
    signed = time.perf_counter()
    found = stories.groups(ids, signatures)
    grouped = time.perf_counter()
    report["signature_ms_per_article"] = round(1000 * (signed - started) / len(ids), 2)
    report["grouping_s"] = round(grouped - signed, 3)
    report["stories_of_more_than_one"] = len(found)

    predicted = grouped_pairs(found)
    truth = archive.pairs()
    report["byte_identical_pairs"] = len(archive.byte_identical)
    report["byte_identical_grouped"] = sum(tuple(sorted(p)) in predicted for p in archive.byte_identical)
    report["all_pairs"] = score(truth, predicted)
    row = {d: i for i, d in enumerate(ids)}
    by_kind: dict[str, Any] = {}
    for kind in ("exact", "light", "medium", "heavy", "follow-up"):
        members = [d for d, k in archive.kind.items() if k == kind]
        sims = [stories.similarity(signatures[row[archive.copy_of[d]]], signatures[row[d]]) for d in members]
        together = sum(tuple(sorted((archive.copy_of[d], d))) in predicted for d in members)
        by_kind[kind] = {"pairs": len(members), "grouped": together, "jaccard_min": round(min(sims), 2),
                         "jaccard_median": round(statistics.median(sims), 2), "jaccard_max": round(max(sims), 2)}
    report["by_kind"] = by_kind
    wrongly = sorted(predicted - truth)
    report["wrongly_grouped_examples"] = wrongly[:5]

    if args.write_sample:
        SAMPLE.parent.mkdir(parents=True, exist_ok=True)
        sample = make_sample(archive, args.seed)
        SAMPLE.write_text(json.dumps({"base": args.base, "seed": args.seed, "pairs": sample}, indent=1) + "\n")
    sample = json.loads(SAMPLE.read_text())["pairs"] if SAMPLE.exists() else []
    if sample:
        sample_truth = {tuple(sorted((p["a"], p["b"]))) for p in sample if p["copy"]}
        universe = {tuple(sorted((p["a"], p["b"]))) for p in sample}
        report["sample"] = score(sample_truth, predicted, universe)  # type: ignore[arg-type]
        report["sample_misses"] = [p for p in sample if (tuple(sorted((p["a"], p["b"]))) in predicted) != p["copy"]]
    if args.show_sample:
        for n, p in enumerate(sample, 1):
            a, b = texts[p["a"]], texts[p["b"]]
            sim = stories.similarity(signatures[row[p["a"]]], signatures[row[p["b"]]])
            sa = set(news_archive._SENTENCE.split(a.replace("\n", " ")))
            sb = set(news_archive._SENTENCE.split(b.replace("\n", " ")))
            print(f"\n#{n} {p['kind']} copy={p['copy']} jaccard~{sim:.2f} shared sentences "
                  f"{len(sa & sb)}/{len(sa)}|{len(sb)}\n  A {p['a']}: {a[:160]!r}\n  B {p['b']}: {b[:160]!r}")

    if args.index:
        report["retrieval"] = bench_retrieval(archive, work, args.embedder, args.seed)
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


def bench_retrieval(archive: news_archive.Archive, work: Path, embedder_name: str, seed: int) -> dict[str, Any]:
    from rag.index.indexing import update_index
    from rag.index.local.retrieval import Retriever
    from rag.ingest.chunking import ChunkingSettings

    if embedder_name == "random":
        embedder: Any = bench_scale.RandomEmbedder()
    else:
        from rag.models.embedding import MiniLMEmbedder
        from rag.settings import Settings

        embedder = MiniLMEmbedder.from_settings(Settings())
    started = time.perf_counter()
    stored, report = update_index(archive.folder, work / "index", embedder, ChunkingSettings())
    indexed = time.perf_counter() - started
    with_copies = sorted({int(archive.story[d][1:]) for d in archive.copy_of if archive.kind[d] != "follow-up"})
    questions = [bench_scale.question_for(i, seed) for i in with_copies]

    def repeats(retriever: Retriever) -> tuple[int, float]:
        count, seconds = 0, []
        for question in questions:
            t = time.perf_counter()
            hits = retriever.search(question, 5)
            seconds.append(time.perf_counter() - t)
            copies = {(archive.story[h.chunk.doc_id], h.chunk.doc_id) for h in hits}  # two passages of one
            count += len(copies) != len({story for story, _ in copies})  # article are not two copies
        return count, statistics.median(seconds)

    grouped, grouped_s = repeats(Retriever(stored, embedder))
    entries = stored.manifest["documents"]
    saved = {d: e.pop("story") for d, e in entries.items() if "story" in e}
    ungrouped, ungrouped_s = repeats(Retriever(stored, embedder))
    for d, story in saved.items():
        entries[d]["story"] = story
    return {"embedder": embedder.name, "index_s": round(indexed, 1), "chunks": report.chunks_embedded,
            "questions": len(questions), "answers_with_two_copies_grouped": grouped,
            "answers_with_two_copies_without_grouping": ungrouped,
            "retrieval_p50_ms_grouped": round(1000 * grouped_s, 1),
            "retrieval_p50_ms_without": round(1000 * ungrouped_s, 1)}


if __name__ == "__main__":
    main()

"""The Milvus engine at scale (issue #22, docs/scale.md): start-up and updates over N articles.

The archive is bench_scale.py's synthetic one and the embedder its hash-seeded fake
("bench-random-384"): this measures the engine (Milvus Lite here), not MiniLM. Each step runs in a
fresh process of this script (Milvus Lite opens a file in one process at a time), through the
public interface only (`rag.index.open_index`), so the same script measures an older checkout:

- build: the first update over N articles (once; the Milvus Lite file is kept under --work);
- start: `load()` and `searcher()` (what a process answering questions does first), then one search;
  the resident memory before and after the start (after the imports), and its high-water mark;
- unchanged / add one / remove one: `update()` after nothing, one new article, one file deleted.

Each row: the step's own seconds (inside the process, after the imports) and the process's peak
RSS (GNU time). The Milvus Lite server is a separate process and not in that number.

    PYTHONPATH=. .venv/bin/python scripts/bench_milvus.py --articles 2000
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def bench_scale() -> ModuleType:
    """scripts/bench_scale.py (the archive and the fake embedder), loaded from beside this file."""
    spec = importlib.util.spec_from_file_location("bench_scale", Path(__file__).with_name("bench_scale.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_scale"] = module
    spec.loader.exec_module(module)
    return module


def step(name: str, documents: Path, db: Path) -> dict[str, Any]:
    """One measured step, in this process."""
    from rag import Settings
    from rag.index import open_index

    embedder = bench_scale().RandomEmbedder()
    settings = Settings(documents_dir=documents, index_dir=db.parent / "unused-index", milvus_uri=str(db),
                        milvus_collection="bench")
    index = open_index(settings, embedder)
    started = time.perf_counter()
    if name == "start":
        before = memory_mb()
        searcher = index.searcher(index.load(), embedder)
        ready = time.perf_counter() - started
        after = memory_mb()
        hits = searcher.search("What did Brennan announce about the Brennan-1 project?", 5)
        return {"seconds": ready, "first_search_s": time.perf_counter() - started - ready, "hits": len(hits),
                "idf_document": searcher.idf("document"), "rss_before_mb": before["VmRSS"],
                "rss_started_mb": after["VmRSS"], "peak_started_mb": after["VmHWM"]}
    if name == "add":
        (documents / "added.md").write_text("# An added article\n\nThe ferry to the islands was cancelled.",
                                            encoding="utf-8")
    if name == "remove":
        (documents / "added.md").unlink()
    _, report = index.update()
    return {"seconds": time.perf_counter() - started, "summary": report.summary()}


def memory_mb() -> dict[str, float]:
    """This process's resident memory now (VmRSS) and its high-water mark (VmHWM), in MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return fields


def measure(name: str, documents: Path, db: Path) -> dict[str, Any]:
    peak = db.parent / "peak-rss-kb"
    peak.unlink(missing_ok=True)
    gnu_time = ["/usr/bin/time", "-f", "%M", "-o", str(peak)] if Path("/usr/bin/time").exists() else []
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT))}
    started = time.perf_counter()
    out = subprocess.run([*gnu_time, sys.executable, __file__, "--step", name, "--documents", str(documents),
                          "--db", str(db)], env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    row = json.loads(out.stdout.strip().splitlines()[-1])
    lines = peak.read_text().split() if peak.exists() else []
    row.update(step=name, process_s=round(wall, 2),
               peak_rss_mb=round(int(lines[-1]) / 1024) if lines and lines[-1].isdigit() else None)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--work", type=Path, default=ROOT / ".cache" / "bench-milvus")
    parser.add_argument("--runs", type=int, default=3, help="runs of the start step")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--documents", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(args.step, args.documents, args.db)))
        return
    documents = args.work / f"archive-{args.articles}"
    if not documents.exists():
        bench_scale().make_archive(documents, args.articles)
    db = args.work / f"milvus-{args.articles}.db"
    steps = ([] if db.exists() else ["build"]) + ["start"] * args.runs + ["unchanged", "add", "remove"]
    for name in steps:
        print(json.dumps(measure(name, documents, db)), flush=True)


if __name__ == "__main__":
    main()

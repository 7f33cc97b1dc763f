"""How the system scales with the archive: a benchmark anyone can rerun (issue #12, docs/scale.md).

It builds a synthetic archive of N news articles from the text it has (the default and xquad-dev
articles, their sentences recombined, with names swapped and numbers perturbed) and measures,
through the public interfaces only (the `rag` CLI, `indexing.update_index`, `rag.index.open_index`
and `make_retriever`), so that it keeps working while the store underneath changes:

  a) the embedder alone: chunks/s of MiniLM over a sample of the archive's chunks;
  b) for each N: the full `rag index` (chunks/s), an unchanged `rag index`, and adding, changing and
     removing one article followed by `rag index`, each with its wall time and peak memory;
  c) cold start to the first answer: a fresh `rag ask --json` process (MiniLM only);
  d) retrieval p50/p95 over 100 questions in-process;
  e) --vectors N: retrieval alone on N random (and clustered) unit vectors with rag.index.local.vector_index:
     exact search time against size, HNSW build time, recall@10 against exact, p50/p95, memory.

`--embedder random` indexes through the Python API with a hash-seeded fake embedder: it measures
the store and the loading, not the embedder (embedding 850,000 chunks with MiniLM takes hours here).
Each result is printed as a row and all of them are written as JSON to --out.

    python scripts/bench_scale.py --sizes 1000 --embedder random
    python scripts/bench_scale.py --sizes 1000,10000
    python scripts/bench_scale.py --sizes 0 --vectors 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.evaluation.metrics import percentile

ROOT = Path(__file__).resolve().parent.parent
SOURCES = (ROOT / "documents", ROOT / "eval" / "xquad" / "documents")
OUTLETS = (
    "Astana Times", "Reuters", "BBC News", "The Guardian", "Associated Press", "Al Jazeera", "Le Monde",
    "Deutsche Welle", "The Japan Times", "Financial Times", "NHK World", "Kazinform",
)
AUTHORS = ("Aigerim Sadykova", "John Miller", "Marie Dubois", "Kenji Watanabe", "Sara Lindqvist", "Omar Haddad",
           "Priya Raman", "Lucas Ferreira", "Anna Kowalska", "David Chen", "Fatima Zahra", "Tom Becker")
# Names swapped into the recombined sentences, so that articles differ beyond their sentence order.
NAMES = ("Almaty", "Nairobi", "Hendricks", "Okafor", "Valparaíso", "Tanaka", "Brennan", "Ivanova", "Montoya",
         "Kristiansand", "Abernathy", "Quispe", "Lindgren", "Mbeki", "Castellano", "Yamamoto", "Novak", "Oduya",
         "Faraday", "Rosario", "Westbrook", "Halvorsen", "Delacroix", "Nakamura", "Petrov", "Sandoval")
START = (2023, 1, 1)
SPAN_DAYS = 730
# A fact question (answered by the model, not by quoting): cold start includes loading the generator.
QUESTION_TEMPLATE = "How many million will the {code} project receive, according to {name}?"


# -- the synthetic archive -------------------------------------------------------------------------
@dataclass(frozen=True)
class Article:
    name: str  # file name
    title: str
    published: str
    source: str
    author: str
    url: str
    body: str

    def markdown(self) -> str:
        front = "\n".join(
            f"{key}: {json.dumps(value, ensure_ascii=False)}"
            for key, value in (("title", self.title), ("published", self.published), ("source", self.source),
                               ("author", self.author), ("url", self.url))
        )
        return f"---\n{front}\n---\n\n# {self.title}\n\n{self.body}\n"


@lru_cache(maxsize=1)
def source_sentences() -> tuple[str, ...]:
    """Every sentence of the articles the repository ships (titles left out), in a fixed order."""
    sentences: list[str] = []
    for folder in SOURCES:
        for path in sorted(folder.glob("*.txt")):
            lines = path.read_text(encoding="utf-8").split("\n")
            text = " ".join(line.strip() for line in lines[1:] if line.strip())
            sentences.extend(s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\"“])", text) if 40 <= len(s) <= 400)
    return tuple(sentences)


_CAPITALISED = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]{3,}\b")  # a capitalised word inside a sentence
_NUMBER = re.compile(r"\b\d{2,4}\b")


def _varied(sentence: str, rng: random.Random) -> str:
    """The sentence with some capitalised names swapped from the pool and its numbers perturbed."""
    sentence = _CAPITALISED.sub(lambda m: rng.choice(NAMES) if rng.random() < 0.5 else m.group(0), sentence)
    return _NUMBER.sub(lambda m: str(max(1, int(m.group(0)) + rng.randint(-9, 9))), sentence)


VARIANTS = 16  # varied copies of each source sentence that articles draw from


@lru_cache(maxsize=4)
def sentence_pool(seed: int) -> tuple[str, ...]:
    """`VARIANTS` varied copies of every source sentence: varying once per archive, not per article, is fast."""
    rng = random.Random(f"pool:{seed}")
    return tuple(_varied(sentence, rng) for sentence in source_sentences() for _ in range(VARIANTS))


def make_article(i: int, seed: int) -> Article:
    """Article number i of the archive of `seed`: deterministic, 300-700 words."""
    sentences = sentence_pool(seed)
    rng = random.Random(f"{seed}:{i}")
    name, code = rng.choice(NAMES), f"{rng.choice(NAMES)}-{i}"
    words, target = 0, rng.randint(300, 700)
    paragraphs: list[str] = []
    # The first sentence is unique to the article: a question about it has one right answer.
    paragraph = [f"{name} announced on day {i} that the {code} project would receive {rng.randint(2, 999)} million."]
    words += len(paragraph[0].split())
    while words < target:
        sentence = rng.choice(sentences)
        paragraph.append(sentence)
        words += len(sentence.split())
        if len(paragraph) >= rng.randint(3, 6):
            paragraphs.append(" ".join(paragraph))
            paragraph = []
    if paragraph:
        paragraphs.append(" ".join(paragraph))
    day = time.gmtime(time.mktime((*START, 12, 0, 0, 0, 0, 0)) + rng.randrange(SPAN_DAYS) * 86_400)
    source = rng.choice(OUTLETS)
    slug = f"article-{i:06d}"
    return Article(
        name=f"{slug}.md",
        title=f"{name} and the {code} project",
        published=time.strftime("%Y-%m-%d", day),
        source=source,
        author=rng.choice(AUTHORS),
        url=f"https://{re.sub(r'[^a-z]+', '', source.lower())}.example/{slug}",
        body="\n\n".join(paragraphs),
    )


def question_for(i: int, seed: int) -> str:
    """A question only article i of the archive of `seed` answers."""
    article = make_article(i, seed)
    name, code = article.title.split(" and the ")[0], article.title.split(" and the ")[1].removesuffix(" project")
    return QUESTION_TEMPLATE.format(name=name, code=code)


def code_of(question: str) -> str:
    """The project code a question asks about: it appears in its article and in no other."""
    found = re.search(r"the (\S+) project", question)
    return found.group(1) if found else ""


def make_archive(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """Write articles 0..n-1 of the archive of `seed` to `folder` (1,000 per subfolder); their paths."""
    paths = []
    for i in range(n):
        article = make_article(i, seed)
        path = folder / f"{i // 1000:03d}" / article.name
        if i % 1000 == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(article.markdown(), encoding="utf-8")
        paths.append(path)
    return paths


# -- the fake embedder -----------------------------------------------------------------------------
class RandomEmbedder:
    """Hash-seeded random unit vectors: measures the store, never the embedder."""

    name = "bench-random-384"
    dimension = 384

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            out[row] = np.random.default_rng(seed).standard_normal(self.dimension, dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def fits(self, text: str) -> bool:
        return True


# -- measuring -------------------------------------------------------------------------------------
@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def run_rag(args: Sequence[str], env: dict[str, str]) -> Run:
    """`rag ARGS` in a fresh process running this checkout's code; its wall time and its own peak RSS.

    The peak comes from GNU time (`/usr/bin/time -f %M`) when there is one: Linux starts a child's
    high-water mark at its parent's RSS when it forks, so measured straight from this process (which
    may hold MiniLM) every child would look at least as big as the benchmark itself.
    """
    folder = ROOT / ".cache" / "bench-scale"
    out, err, peak = folder / "stdout", folder / "stderr", folder / "peak-rss-kb"
    folder.mkdir(parents=True, exist_ok=True)
    peak.unlink(missing_ok=True)
    gnu_time = ["/usr/bin/time", "-f", "%M", "-o", str(peak)] if Path("/usr/bin/time").exists() else []
    started = time.perf_counter()
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen([*gnu_time, sys.executable, "-m", "rag.cli", *args], env=env, cwd=ROOT,
                                stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not all children's
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = peak.read_text().split() if peak.exists() else []
    peak_kb = int(lines[-1]) if lines and lines[-1].isdigit() else usage.ru_maxrss
    return Run(seconds, peak_kb / 1024, proc.returncode, out.read_text(), err.read_text())


def rss_mb() -> dict[str, float]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return fields


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds, interpolated as everywhere else (rag/evaluation/metrics.py)."""
    ms = [s * 1000 for s in seconds]
    return {"p50_ms": round(percentile(ms, 50) or 0.0, 2), "p95_ms": round(percentile(ms, 95) or 0.0, 2)}


class Report:
    def __init__(self, out: Path, settings: dict[str, Any]) -> None:
        self.out = out
        self.rows: list[dict[str, Any]] = []
        self.data = {"settings": settings, "machine": machine(), "commit": commit(), "rows": self.rows}

    def row(self, section: str, **values: Any) -> None:
        self.rows.append({"section": section, **values})
        print(f"{section:<28} " + "  ".join(f"{k}={v}" for k, v in values.items()), flush=True)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(json.dumps(self.data, indent=2, ensure_ascii=False) + "\n")


def machine() -> dict[str, Any]:
    import faiss

    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "faiss": faiss.__version__}


def commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    except OSError:
        return "unknown"
    return sha + ("+dirty" if dirty.strip() else "")


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


# -- a) the embedder alone -------------------------------------------------------------------------
def sample_chunks(folder: Path, limit: int) -> list[str]:
    from rag.ingest.chunking import ChunkingSettings, chunk_document
    from rag.ingest.loading import read_document

    texts: list[str] = []
    for path in sorted(folder.rglob("*.md")):
        doc = read_document(path, path.relative_to(folder).as_posix())
        texts.extend(c.text for c in chunk_document(doc, ChunkingSettings()))
        if len(texts) >= limit:
            break
    return texts[:limit]


def bench_embedder(report: Report, folder: Path, limit: int) -> None:
    from rag.models.embedding import MiniLMEmbedder
    from rag.settings import Settings

    texts = sample_chunks(folder, limit)
    embedder = MiniLMEmbedder.from_settings(Settings.from_env())
    _, load = timed(embedder.warm_up)
    embedder.embed(texts[:32])  # the first batch pays for lazy initialisation
    _, seconds = timed(lambda: embedder.embed(texts))
    report.row("embedder", model=embedder.name, chunks=len(texts), seconds=round(seconds, 1),
               chunks_per_s=round(len(texts) / seconds, 1), model_load_s=round(load, 1))


# -- b) index builds and one-article changes -------------------------------------------------------
def rag_env(documents: Path, index: Path) -> dict[str, str]:
    env = {**os.environ, "RAG_DOCUMENTS": str(documents), "RAG_INDEX": str(index), "PYTHONPATH": str(ROOT)}
    env.pop("RAG_MILVUS_URI", None)
    return env


class Indexer:
    """Runs `rag index` (MiniLM) or `indexing.update_index` in this process (the random embedder)."""

    def __init__(self, documents: Path, index: Path, embedder: str) -> None:
        self.documents, self.index, self.embedder = documents, index, embedder

    def __call__(self) -> tuple[float, float, int]:
        """(seconds, peak RSS MB, chunks embedded) of one update."""
        if self.embedder == "minilm":
            run = run_rag(["index"], rag_env(self.documents, self.index))
            if run.returncode:
                raise SystemExit(f"rag index failed ({run.returncode}):\n{run.stderr[-3000:]}")
            found = re.search(r"(\d+) chunks? embedded", run.stdout + run.stderr)
            return run.seconds, run.peak_rss_mb, int(found.group(1)) if found else -1
        from rag.index.indexing import update_index
        from rag.ingest.chunking import ChunkingSettings

        (_, index_report), seconds = timed(
            lambda: update_index(self.documents, self.index, RandomEmbedder(), ChunkingSettings(), None))
        return seconds, float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), index_report.chunks_embedded


def bench_archive(report: Report, n: int, seed: int, embedder: str, work: Path, questions: int) -> None:
    documents, index = work / f"archive-{n}", work / f"index-{n}-{embedder}"
    shutil.rmtree(index, ignore_errors=True)
    if not (documents / "done").exists():
        shutil.rmtree(documents, ignore_errors=True)
        _, seconds = timed(lambda: make_archive(documents, n, seed))
        (documents / "done").write_text(str(n))  # not a supported suffix: never indexed
        report.row("archive", n=n, seconds=round(seconds, 1))
    label = "store (random vectors)" if embedder == "random" else "minilm"
    indexer = Indexer(documents, index, embedder)
    seconds, peak, chunks = indexer()
    report.row("index: full", n=n, embedder=label, seconds=round(seconds, 1), chunks=chunks,
               chunks_per_s=round(chunks / seconds, 1), peak_rss_mb=round(peak))
    seconds, peak, _ = indexer()
    report.row("index: unchanged", n=n, embedder=label, seconds=round(seconds, 2), peak_rss_mb=round(peak))
    extra = make_article(n, seed)
    added = documents / "new" / extra.name
    added.parent.mkdir(exist_ok=True)
    added.write_text(extra.markdown(), encoding="utf-8")
    for step, change in (("add one", None), ("change one", "edit"), ("remove one", "remove")):
        if change == "edit":
            added.write_text(extra.markdown() + "\nA correction was published later that day.\n", encoding="utf-8")
        elif change == "remove":
            added.unlink()
        seconds, peak, chunks = indexer()
        report.row(f"index: {step}", n=n, embedder=label, seconds=round(seconds, 2), chunks_embedded=chunks,
                   peak_rss_mb=round(peak))
    asked = [question_for(i, seed) for i in random.Random(seed).sample(range(n), min(questions, n))]
    if embedder == "minilm":
        bench_cold_start(report, n, documents, index, asked[0])
    bench_retrieval(report, n, documents, index, embedder, asked)


# -- c) cold start to the first answer -------------------------------------------------------------
def bench_cold_start(report: Report, n: int, documents: Path, index: Path, question: str) -> None:
    run = run_rag(["ask", "--json", question], rag_env(documents, index))
    if run.returncode:
        report.row("cold start", n=n, failed=run.returncode, stderr=run.stderr[-500:])
        return
    answer = json.loads(run.stdout)
    timings = {k: round(v, 2) if isinstance(v, float) else v for k, v in answer.get("timings", {}).items()}
    report.row("cold start: ask", n=n, seconds=round(run.seconds, 1), peak_rss_mb=round(run.peak_rss_mb),
               abstained=answer.get("abstained"), timings=timings)


# -- d) retrieval latency --------------------------------------------------------------------------
def bench_retrieval(report: Report, n: int, documents: Path, index: Path, embedder: str, asked: list[str]) -> None:
    from rag.index import open_index
    from rag.settings import Settings

    settings = Settings.from_env(documents_dir=documents, index_dir=index)
    model: Any = RandomEmbedder()
    if embedder == "minilm":
        from rag.models.embedding import MiniLMEmbedder

        model = MiniLMEmbedder.from_settings(settings)
        model.warm_up()
    before = rss_mb()
    engine = open_index(settings, model)
    loaded, load_s = timed(lambda: engine.load())
    retriever, make_s = timed(lambda: engine.searcher(loaded, model))
    retriever.search(asked[0], 5)
    times, hits = [], 0
    for question in asked:
        started = time.perf_counter()
        found = retriever.search(question, 5)
        times.append(time.perf_counter() - started)
        hits += any(code_of(question) in hit.title for hit in found)
    report.row("retrieval", n=n, embedder=embedder, questions=len(asked), load_s=round(load_s, 2),
               retriever_s=round(make_s, 2), **percentiles(times),
               **({"hit_at_5": round(hits / len(asked), 2)} if embedder == "minilm" else {}),
               rss_before_mb=before["VmRSS"], rss_after_mb=rss_mb()["VmRSS"])


# -- e) retrieval alone on N vectors ---------------------------------------------------------------
def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def vector_set(kind: str, n: int, queries: int, dim: int = 384, centres: int = 3_000) -> tuple[np.ndarray, np.ndarray]:
    """`random`: uniform on the sphere (the hardest case); `clustered`: around a few thousand centres."""
    rng = np.random.default_rng(12)
    if kind == "random":
        return unit_rows(rng, n, dim), unit_rows(rng, queries, dim)
    centre = unit_rows(rng, centres, dim)
    # Spread like topics: a point's cosine to its centre is ~0.8; sizes vary as news topics do.
    weights = rng.pareto(1.2, centres) + 1
    weights /= weights.sum()
    out = []
    for rows in (n, queries):
        x = np.empty((rows, dim), np.float32)
        for start in range(0, rows, 100_000):
            stop = min(rows, start + 100_000)
            which = rng.choice(centres, stop - start, p=weights)
            x[start:stop] = centre[which] + 0.75 * unit_rows(rng, stop - start, dim)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out.append(x)
    return out[0], out[1]


def bench_vectors(report: Report, n: int, kinds: Sequence[str], efs: Sequence[int], work: Path, queries: int,
                  hnsw_m: int = 0, ef_construction: int = 0) -> None:
    from rag.index.local import vector_index

    if hnsw_m:
        vector_index.HNSW_M = hnsw_m
    if ef_construction:
        vector_index.HNSW_EF_CONSTRUCTION = ef_construction
    for kind in kinds:
        bench_vector_set(report, kind, n, efs, work, queries)


def search_each(index: Any, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, list[float]]:
    """Rows found for each query searched alone (as a user's question is), and the time of each."""
    rows, times = [], []
    for query in queries:
        started = time.perf_counter()
        _, found = index.search(query, k)
        times.append(time.perf_counter() - started)
        rows.append(found[0])
    return np.array(rows), times


@dataclass
class MaskedSearch:
    index: Any
    allowed: np.ndarray

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.index.search(query, k, self.allowed)  # type: ignore[no-any-return]


def bench_vector_set(report: Report, kind: str, n: int, efs: Sequence[int], work: Path, queries: int) -> None:
    import faiss

    from rag.index.local import vector_index
    from rag.index.local.vector_index import VectorIndex

    x, q = vector_set(kind, n, queries)
    faiss.omp_set_num_threads(2)
    truth, times = search_each(VectorIndex.build(x, approximate_above=n), q)
    report.row("vectors: exact", kind=kind, n=n, **percentiles(times))
    for size in (25_000, 50_000, 100_000, 200_000, 400_000):
        if size < n:
            _, times = search_each(VectorIndex.build(x[:size], approximate_above=size), q[:50])
            report.row("vectors: exact by size", kind=kind, n=size, **percentiles(times))
    path = work / f"vectors-{kind}-{n}-M{vector_index.HNSW_M}-efc{vector_index.HNSW_EF_CONSTRUCTION}.hnsw"
    before = rss_mb()
    build_s = None
    if not path.exists():
        built, seconds = timed(lambda: VectorIndex.build(x, approximate_above=0))
        build_s = round(seconds, 1)
        built.save(path)
        del built
    hnsw = VectorIndex.load(path, x)
    for ef in efs:
        hnsw.ef_search = ef
        found, times = search_each(hnsw, q)
        recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
        report.row("vectors: hnsw", kind=kind, n=n, M=vector_index.HNSW_M,
                   ef_construction=vector_index.HNSW_EF_CONSTRUCTION, ef_search=ef,
                   recall_at_10=round(float(recall), 3), **percentiles(times))
    hnsw.ef_search = vector_index.HNSW_EF_SEARCH
    for fraction in (0.01, 0.1, 0.5):
        # A filter keeping a random share of the rows (a date range, some outlets, deleted rows).
        allowed = np.random.default_rng(5).random(n) < fraction
        expected, _ = search_each(MaskedSearch(VectorIndex.build(x, approximate_above=n), allowed), q[:100])
        found, times = search_each(MaskedSearch(hnsw, allowed), q[:100])
        recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, expected, strict=True)])
        report.row("vectors: hnsw filtered", kind=kind, n=n, allowed=fraction, ef_search=hnsw.ef_search,
                   recall_at_10=round(float(recall), 3), **percentiles(times))
    report.row("vectors: hnsw size", kind=kind, n=n, build_s=build_s, file_mb=round(path.stat().st_size / 2**20),
               vectors_mb=round(x.nbytes / 2**20), rss_before_mb=before, rss_after_mb=rss_mb())


def parse_ints(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip() and int(part) > 0]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="archive sizes in articles (0: none)")
    parser.add_argument("--embedder", choices=("minilm", "random"), default="minilm")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--questions", type=int, default=100, help="questions for retrieval p50/p95")
    parser.add_argument("--embed-sample", type=int, default=1000, help="chunks for the embedder alone (0: skip)")
    parser.add_argument("--vectors", type=int, default=0, help="retrieval alone on this many vectors (0: skip)")
    parser.add_argument("--vector-sets", default="random,clustered")
    parser.add_argument("--ef-search", default="32,64,128,256,512")
    parser.add_argument("--vector-queries", type=int, default=200)
    parser.add_argument("--hnsw-m", type=int, default=0, help="override rag.index.local.vector_index.HNSW_M")
    parser.add_argument("--ef-construction", type=int, default=0, help="override HNSW_EF_CONSTRUCTION")
    parser.add_argument("--work", type=Path, default=ROOT / ".cache" / "bench-scale")
    parser.add_argument("--out", type=Path, default=ROOT / ".cache" / "bench-scale" / "results.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))  # this checkout's rag, whatever is installed
    sizes = parse_ints(args.sizes)
    report = Report(args.out, {k: str(v) for k, v in vars(args).items()})
    args.work.mkdir(parents=True, exist_ok=True)
    if sizes and args.embedder == "minilm" and args.embed_sample:
        first = args.work / f"archive-{sizes[0]}"
        if not (first / "done").exists():
            shutil.rmtree(first, ignore_errors=True)
            make_archive(first, sizes[0], args.seed)
            (first / "done").write_text(str(sizes[0]))
        bench_embedder(report, first, args.embed_sample)
    for n in sizes:
        bench_archive(report, n, args.seed, args.embedder, args.work, args.questions)
    if args.vectors:
        bench_vectors(report, args.vectors, args.vector_sets.split(","), parse_ints(args.ef_search), args.work,
                      args.vector_queries, args.hnsw_m, args.ef_construction)
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()

"""Judge embedder configurations on the task: indexing speed, and recall of the gold passage (#23).

    flock /tmp/cpu.lock .venv/bin/python scripts/bench_embed_task.py \\
        --configs onnx:32:chars,onnx:16,onnx-int8:16 [--rounds 3] [--news 150] [--news-questions 100]

scripts/bench_embed.py compares backends by their agreement with PyTorch's vectors; this one asks
whether the right passage is still found. A configuration is `BACKEND:BATCH[:ORDER]`:

- BACKEND: `onnx`, `onnx-int8` or `torch` (rag.models.embedding.BACKENDS), or `file=PATH` for any ONNX
  export of the same model run by the product's onnxruntime code (e.g. a variant made by
  onnxruntime's transformer optimizer or another quantisation: exploration, not a product option);
- BATCH: texts per model call (MiniLMEmbedder.batch_size);
- ORDER: `tokens` (batches cut from texts sorted by token count: the code as it is) or `chars`
  (sorted by character count and tokenised per batch: the code before, kept here to compare).

For each configuration it prints one table row:

- chunks/s: the chunks of the three sets below embedded in calls of `rag.index.indexing.EMBED_BATCH`
  texts (as `rag index` does), after warm-up, best of `--rounds` passes (the machine is shared:
  the best pass is the least disturbed), with onnxruntime's default threads (one per core);
- recall@5 and @10 of the gold passage, dense alone and through the product's hybrid retrieval
  (rag.index.local.retrieval.Retriever: BM25 and dense fused), on each set. The gold passage is a chunk that
  covers a case's gold quote, the sentence holding its answer (`rag.evaluation.metrics.covers`,
  as `rag eval` scores retrieval); unanswerable cases are left out. After the first configuration,
  each row names the cases whose gold passage entered or left the top 5 against the first.

The sets: in-house (eval/questions.jsonl over documents/), xquad (eval/xquad/: real Wikipedia
articles with crowd-written questions, the same files as shared/xquad-dev), and news: no copy of
the BBC News set is on this machine (docs/news.md), so a synthetic archive stands in for it
(scripts/bench_scale.py's generator, `--news` articles; each question asks about the one sentence
that only its article has). Each set is indexed into a temporary folder with the vectors just
timed; nothing is written elsewhere.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))  # this checkout's rag, not an installed copy
import bench_scale  # noqa: E402  (scripts/ is not a package)

from rag.evaluation.dataset import Case, Source, load_cases, locate_quotes  # noqa: E402
from rag.evaluation.metrics import Span, first_hit_rank, recall_at_k  # noqa: E402
from rag.index.indexing import EMBED_BATCH, update_index  # noqa: E402
from rag.index.local.retrieval import Retriever  # noqa: E402
from rag.ingest.chunking import ChunkingSettings, chunk_document  # noqa: E402
from rag.ingest.loading import iter_files, read_document  # noqa: E402
from rag.models.embedding import MiniLMEmbedder, OnnxMiniLM, batches  # noqa: E402

MODES = ("dense", "hybrid")
KS = (5, 10)
_FIRST_SENTENCE = re.compile(r"\S[^\n]*? announced on day \d+ that the \S+ project would receive \d+ million\.")


@dataclass(frozen=True)
class Config:
    backend: str  # a rag.models.embedding backend, or "file=PATH"
    batch: int
    order: str = "tokens"

    @classmethod
    def parse(cls, text: str) -> Config:
        backend, batch, *rest = text.split(":")
        order = rest[0] if rest else "tokens"
        if order not in ("tokens", "chars"):
            raise SystemExit(f"{text}: the order is 'tokens' or 'chars'")
        return cls(backend, int(batch), order)

    def label(self) -> str:
        return f"{self.backend}:{self.batch}:{self.order}"


@dataclass(frozen=True)
class TaskSet:
    name: str
    documents: Path
    cases: list[Case]  # answerable cases with gold quotes (not yet located)


def project_set(name: str, documents: str, questions: str) -> TaskSet:
    cases = [c for c in load_cases(ROOT / questions) if c.answerable and c.sources]
    return TaskSet(name, ROOT / documents, cases)


def news_set(folder: Path, articles: int, questions: int, seed: int = 0) -> TaskSet:
    """The synthetic archive of `articles` articles, and `questions` of them asked about."""
    paths = bench_scale.make_archive(folder, articles, seed)
    cases = []
    for i in random.Random(seed).sample(range(articles), min(questions, articles)):
        found = _FIRST_SENTENCE.search(bench_scale.make_article(i, seed).body)
        assert found is not None, "every generated article opens with its own sentence"
        doc_id = paths[i].relative_to(folder).as_posix()
        gold = (Source(doc_id, found.group(0)),)
        cases.append(Case(f"news-{i}", bench_scale.question_for(i, seed), "fact", sources=gold))
    return TaskSet("news (synthetic)", folder, cases)


def chunk_texts(task: TaskSet, embedder: MiniLMEmbedder) -> list[str]:
    """The texts `rag index` would embed for the set's documents (the project's chunker and settings)."""
    texts: list[str] = []
    for path in iter_files(task.documents):
        document = read_document(path, path.relative_to(task.documents).as_posix())
        texts.extend(c.text for c in chunk_document(document, ChunkingSettings(), embedder.fits))
    return texts


class Precomputed:
    """An `Embedder` answering from vectors already computed (the timed pass), so each set is
    indexed with exactly the vectors that were timed; any other text goes to the real embedder."""

    def __init__(self, embedder: MiniLMEmbedder, vectors: dict[str, np.ndarray]) -> None:
        self.embedder = embedder
        self.vectors = vectors
        self.name = embedder.name
        self.dimension = embedder.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self.vectors]
        if missing:
            self.vectors.update(zip(missing, self.embedder.embed(missing), strict=True))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.vectors[t] for t in texts])

    def fits(self, text: str) -> bool:
        return self.embedder.fits(text)


def make_embedder(config: Config, cache: Path) -> MiniLMEmbedder:
    backend = "onnx" if config.backend.startswith("file=") else config.backend
    embedder = MiniLMEmbedder(batch_size=config.batch, backend=backend, cache_dir=cache)
    embedder.warm_up()
    if config.backend.startswith("file="):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        path = config.backend.removeprefix("file=")
        embedder._model._session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        embedder.name = f"{embedder.name}+{Path(path).name}"
    if config.order == "chars":
        order_by_characters(embedder._model)
    return embedder


def order_by_characters(model: OnnxMiniLM) -> None:
    """Make `model` batch as the code did before token-count ordering: texts sorted by character
    count, each batch tokenised and padded on its own."""

    def encode(texts: list[str], batch_size: int = 32, **_: Any) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for picked in batches(sorted(range(len(texts)), key=lambda i: -len(texts[i])), batch_size):
            encodings = model._tokenizer.encode_batch([texts[i] for i in picked])
            out[picked] = model._encode_batch([e.ids for e in encodings])
        return out

    model.encode = encode  # type: ignore[method-assign]


def time_embedding(embedder: MiniLMEmbedder, texts: list[str], rounds: int) -> tuple[float, np.ndarray]:
    """Best chunks/s over `rounds` passes, calls of EMBED_BATCH texts as indexing makes; the first pass's vectors."""
    embedder.embed(texts[:EMBED_BATCH])  # warm-up: the first calls of a session are slower
    best, first = 0.0, np.zeros((0, embedder.dimension), np.float32)
    for round_ in range(rounds):
        started = time.perf_counter()
        parts = [embedder.embed(texts[i : i + EMBED_BATCH]) for i in range(0, len(texts), EMBED_BATCH)]
        best = max(best, len(texts) / (time.perf_counter() - started))
        if round_ == 0:
            first = np.concatenate(parts)
    return best, first


@dataclass(frozen=True)
class Found:
    """One set's result: recall@k per "mode@k", and each case's 1-based gold rank (None: not in the top 10)."""

    recall: dict[str, float]
    ranks: dict[str, dict[str, int | None]]  # mode -> case id -> rank


def recalls(task: TaskSet, embedder: MiniLMEmbedder, vectors: dict[str, np.ndarray], work: Path) -> Found:
    """recall@k of the gold passage for each mode and k, the set indexed with `vectors`."""
    index, _ = update_index(task.documents, work, Precomputed(embedder, vectors), ChunkingSettings())
    cases = locate_quotes(task.cases, index.documents, task.name)
    recall: dict[str, float] = {}
    ranks: dict[str, dict[str, int | None]] = {}
    for mode in MODES:
        retriever = Retriever(index, embedder, mode)
        ranks[mode] = {}
        for case in cases:
            hits = retriever.search(case.question, max(KS))
            passages = [Span(h.chunk.doc_id, h.chunk.start, h.chunk.end) for h in hits]
            ranks[mode][case.id] = first_hit_rank(passages, case.spans)
        for k in KS:
            recall[f"{mode}@{k}"] = recall_at_k(list(ranks[mode].values()), k) or 0.0
    return Found(recall, ranks)


def changes(first: Found, other: Found, k: int = KS[0]) -> str:
    """The cases whose gold passage is in the top k for one configuration and not the other."""
    out = []
    for mode in MODES:
        for case, rank in first.ranks[mode].items():
            before, after = rank is not None and rank <= k, (r := other.ranks[mode][case]) is not None and r <= k
            if before != after:
                out.append(f"{mode} {case} {'lost' if before else 'gained'} (rank {rank} -> {r})")
    return ", ".join(out) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="onnx:32:chars,onnx:16,onnx-int8:16")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--news", type=int, default=150, help="articles in the synthetic news archive")
    parser.add_argument("--news-questions", type=int, default=100)
    args = parser.parse_args()

    from rag.settings import Settings

    cache = Settings.from_env().model_cache_dir
    with tempfile.TemporaryDirectory(prefix="bench-embed-task-") as tmp:
        work = Path(tmp)
        sets = [
            project_set("in-house", "documents", "eval/questions.jsonl"),
            project_set("xquad", "eval/xquad/documents", "eval/xquad/questions.jsonl"),
            news_set(work / "news", args.news, args.news_questions),
        ]
        rows = []
        for number, config in enumerate(Config.parse(c) for c in args.configs.split(",")):
            embedder = make_embedder(config, cache)
            texts = list(dict.fromkeys(t for s in sets for t in chunk_texts(s, embedder)))
            speed, vectors = time_embedding(embedder, texts, args.rounds)
            by_text = dict(zip(texts, vectors, strict=True))
            found = {s.name: recalls(s, embedder, by_text, work / f"index-{number}-{i}") for i, s in enumerate(sets)}
            rows.append((config, speed, found))
            print(f"{config.label()}: {speed:.0f} chunks/s over {len(texts)} chunks; "
                  + "; ".join(f"{name} " + " ".join(f"{m} {v:.3f}" for m, v in r.recall.items())
                              for name, r in found.items()), flush=True)
            first_config, _, first_found = rows[0]
            for name in found if rows[1:] else ():
                moved = changes(first_found[name], found[name])
                print(f"  {name}, top {KS[0]} against {first_config.label()}: {moved}")
    print("\ncases: " + ", ".join(f"{s.name} {len(s.cases)}" for s in sets))
    names = [s.name for s in sets]
    print(f"\n| configuration | chunks/s | {' | '.join(f'{n} R@5 dense / hybrid' for n in names)} | "
          f"{' | '.join(f'{n} R@10 dense / hybrid' for n in names)} |")
    print("|---" * (2 + 2 * len(names)) + "|")
    for config, speed, found in rows:
        at5 = " | ".join(f"{found[n].recall['dense@5']:.3f} / {found[n].recall['hybrid@5']:.3f}" for n in names)
        at10 = " | ".join(f"{found[n].recall['dense@10']:.3f} / {found[n].recall['hybrid@10']:.3f}" for n in names)
        print(f"| {config.label()} | {speed:.0f} | {at5} | {at10} |")


if __name__ == "__main__":
    main()

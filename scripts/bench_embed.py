"""Compare the embedder backends on the project's own texts and print the numbers (nothing written).

    flock /tmp/cpu.lock .venv/bin/python scripts/bench_embed.py [--backends torch,onnx,onnx-int8] [--batches 32,64,128]

The chunks are those the index would make of documents/ and eval/xquad/documents/ (the project's
chunker and settings); the questions are those of eval/questions.jsonl and eval/xquad/questions.jsonl,
each searched among the chunks of its own documents. For each backend it prints:

- chunks/s embedding all the chunks, at each batch size (the embedder's share of indexing alone);
- mean and min cosine of each chunk's vector to PyTorch's;
- retrieval agreement: recall@5 and @10 of the backend's dense top results against PyTorch's top
  results, both with the chunks embedded by the backend itself ("own index") and with PyTorch's chunk
  vectors ("torch index": questions embedded by the backend against an index PyTorch built).

This measures agreement with PyTorch, not the task: scripts/bench_embed_task.py judges a
configuration by recall of the gold passage (dense and hybrid) on the question sets, with its speed.

The ONNX exports are made (once) in the model cache (RAG_MODEL_CACHE) if they are not there yet.
Run it on an otherwise idle machine: other work on the same cores slows every number.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SETS = (("documents", "eval/questions.jsonl"), ("eval/xquad/documents", "eval/xquad/questions.jsonl"))


@dataclass(frozen=True)
class Corpus:
    chunks: list[str]
    owner: np.ndarray  # for each chunk, the index of its set in SETS
    questions: list[str]
    asked_in: np.ndarray  # for each question, the index of its set


def load_corpus(fits: object) -> Corpus:
    from rag.evaluation.dataset import load_cases
    from rag.ingest.chunking import ChunkingSettings, chunk_document
    from rag.ingest.loading import iter_files, read_document

    chunks: list[str] = []
    owner: list[int] = []
    questions: list[str] = []
    asked_in: list[int] = []
    for number, (docs, question_file) in enumerate(SETS):
        folder = ROOT / docs
        for path in iter_files(folder):
            doc = read_document(path, path.relative_to(folder).as_posix())
            for chunk in chunk_document(doc, ChunkingSettings(), fits):  # type: ignore[arg-type]
                chunks.append(chunk.text)
                owner.append(number)
        for case in load_cases(ROOT / question_file):
            questions.append(case.question)
            asked_in.append(number)
    return Corpus(chunks, np.array(owner), questions, np.array(asked_in))


def top(questions: np.ndarray, chunks: np.ndarray, corpus: Corpus, k: int) -> list[set[int]]:
    """Each question's k best chunks of its own set, by dot product (the vectors are unit length)."""
    scores = questions @ chunks.T
    scores[corpus.asked_in[:, None] != corpus.owner[None, :]] = -np.inf
    return [set(np.argsort(-row)[:k].tolist()) for row in scores]


def recall(found: list[set[int]], reference: list[set[int]], k: int) -> float:
    return float(np.mean([len(f & r) / k for f, r in zip(found, reference, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="torch,onnx,onnx-int8")
    parser.add_argument("--batches", default="32,64,128")
    args = parser.parse_args()
    backends = args.backends.split(",")
    if backends[0] != "torch":
        backends.insert(0, "torch")  # the reference
    batches = [int(b) for b in args.batches.split(",")]

    import torch

    from rag.models.embedding import MiniLMEmbedder
    from rag.settings import Settings

    cache = Settings.from_env().model_cache_dir
    embedders = {b: MiniLMEmbedder(batch_size=batches[0], backend=b, cache_dir=cache) for b in backends}
    for name, embedder in embedders.items():
        started = time.perf_counter()
        embedder.embed(["warm up"])
        took = time.perf_counter() - started
        print(f"{name:10s} loaded (and exported if needed) in {took:.1f} s as {embedder.backend}")
    corpus = load_corpus(embedders["torch"].fits)
    print(f"{len(corpus.chunks)} chunks, {len(corpus.questions)} questions; "
          f"torch threads {torch.get_num_threads()}, onnxruntime threads: its default (one per core)")

    vectors: dict[str, np.ndarray] = {}
    speed: dict[str, list[float]] = {}
    for name, embedder in embedders.items():
        speed[name] = []
        for batch in batches:
            embedder.batch_size = batch
            started = time.perf_counter()
            got = embedder.embed(corpus.chunks)
            speed[name].append(len(corpus.chunks) / (time.perf_counter() - started))
            vectors.setdefault(name, got)
        embedder.batch_size = batches[0]

    reference_q = embedders["torch"].embed(corpus.questions)
    reference = {k: top(reference_q, vectors["torch"], corpus, k) for k in (5, 10)}
    header = " | ".join(f"chunks/s b={b}" for b in batches)
    print(f"\n| backend | {header} | mean cos | min cos | R@5 own | R@10 own | R@5 torch idx | R@10 torch idx |")
    print("|---" * (len(batches) + 7) + "|")
    for name, embedder in embedders.items():
        cos = np.sum(vectors[name] * vectors["torch"], axis=1)
        questions = embedder.embed(corpus.questions)
        own = [recall(top(questions, vectors[name], corpus, k), reference[k], k) for k in (5, 10)]
        mixed = [recall(top(questions, vectors["torch"], corpus, k), reference[k], k) for k in (5, 10)]
        rates = " | ".join(f"{s:.0f}" for s in speed[name])
        print(f"| {name} | {rates} | {cos.mean():.5f} | {cos.min():.5f} | "
              f"{own[0]:.3f} | {own[1]:.3f} | {mixed[0]:.3f} | {mixed[1]:.3f} |")


if __name__ == "__main__":
    main()

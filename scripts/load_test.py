"""Load test: many chat sessions at once against the model behind llama.cpp's OpenAI-compatible server.

    flock /tmp/cpu.lock .venv/bin/python scripts/load_test.py [--sessions 20] [--servers 1] [--model smollm2-135m]

Starts `--servers` llama-cpp-python servers on 127.0.0.1 (free ports; nothing else is contacted),
each with `2 / servers` threads, and builds the index of documents/ in a temporary folder. Then:
1. one session alone: each question asked once, one after the other;
2. `--sessions` sessions at once, each asking one question (round-robin over the questions and the
   servers, as a load balancer would), all released together.
Each session is a whole answer through the public `Assistant.stream` (retrieval, prompt, the model
over HTTP, the citation check). Prints errors, time to first token and total time (p50 / p95) for
both, and the wall time. llama-cpp-python's server has one slot: it answers one request at a time
and queues the rest (llama.cpp's `llama-server --parallel N` and vLLM batch them instead; not
installable here). Several servers on one machine share its cores. Servers are stopped by PID.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rag.evaluation.metrics import percentile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.llm_server starts the servers

QUESTIONS = [
    "How many documents were signed after the talks with the Japanese Prime Minister?",
    "Who did Tokayev meet on December 19?",
    "Where did Tokayev deliver his keynote lecture?",
    "On what date did Tokayev arrive in Japan?",
    "What is the population of Kazakhstan?",
]


@dataclass
class Result:
    first_token_s: float
    total_s: float
    error: str = ""


def ask(assistant, question: str) -> Result:  # type: ignore[no-untyped-def]
    from rag.types import Answer, Delta

    started = time.perf_counter()
    first = 0.0
    try:
        for event in assistant.stream(question):
            if isinstance(event, Delta) and not first:
                first = time.perf_counter() - started
            if isinstance(event, Answer) and not event.text:
                return Result(first, time.perf_counter() - started, "empty answer")
    except Exception as err:  # a load test counts failures instead of stopping at the first
        return Result(first, time.perf_counter() - started, f"{type(err).__name__}: {err}")
    return Result(first, time.perf_counter() - started)


def summary(label: str, results: list[Result], wall_s: float) -> str:
    ok = [r for r in results if not r.error]
    firsts = [r.first_token_s for r in ok]
    totals = [r.total_s for r in ok]
    lines = [
        f"{label}: {len(results)} answers, {len(results) - len(ok)} errors, wall {wall_s:.1f} s",
        f"  first token p50 {percentile(firsts, 50) or 0:.2f} s, p95 {percentile(firsts, 95) or 0:.2f} s; "
        f"total p50 {percentile(totals, 50) or 0:.2f} s, p95 {percentile(totals, 95) or 0:.2f} s",
    ]
    lines += [f"  error: {r.error}" for r in results if r.error][:5]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--servers", type=int, default=1, help="server processes, each one slot")
    parser.add_argument("--threads", type=int, default=0, help="threads per server [default: 2 / servers]")
    parser.add_argument("--model", default="smollm2-135m")
    args = parser.parse_args()
    threads = args.threads or max(1, 2 // args.servers)

    from rag import Assistant, Settings
    from rag.models import gguf
    from rag.models.embedding import MiniLMEmbedder
    from tests.llm_server import llama_server

    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as servers:
        base = Settings.from_env({}, documents_dir=ROOT / "documents", index_dir=Path(tmp) / "index", model=args.model)
        path = gguf.resolve(args.model, base.model_cache_dir, base.model_sha256)
        urls = [servers.enter_context(llama_server(path, context_size=base.context_size, threads=threads,
                                                   log_file=Path(tmp) / f"server{n}.log"))
                for n in range(args.servers)]
        embedder = MiniLMEmbedder.from_settings(base)
        assistants = [Assistant(Settings.from_env({}, **{**vars(base), "llm_url": url}), embedder=embedder)
                      for url in urls]
        assistants[0].index()
        for assistant in assistants:
            assistant.warm_up()
        print(f"{args.servers} llama_cpp.server process(es) with {threads} thread(s) each, model {args.model}, "
              f"{len(assistants[0].stored.chunks)} chunks")

        started = time.perf_counter()
        alone = [ask(assistants[0], q) for q in QUESTIONS]
        print(summary("One session alone", alone, time.perf_counter() - started))

        results: list[Result | None] = [None] * args.sessions
        gate = threading.Barrier(args.sessions)

        def session(n: int) -> None:
            gate.wait()
            results[n] = ask(assistants[n % len(assistants)], QUESTIONS[n % len(QUESTIONS)])

        workers = [threading.Thread(target=session, args=(n,)) for n in range(args.sessions)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        done = [r for r in results if r is not None]
        print(summary(f"{args.sessions} sessions at once", done, time.perf_counter() - started))
        if any(r.error for r in done):
            sys.exit(1)


if __name__ == "__main__":
    main()

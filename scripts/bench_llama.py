"""Measure the llama.cpp build itself: prompt and generation tokens per second of a model, on the
CPU variant chosen (or forced), as llama-bench does. Prints the numbers; asserts nothing.

    .venv/bin/python scripts/bench_llama.py [--model qwen2.5-0.5b] [--cpu auto|x64|haswell|…] [--prompt 512] [--gen 64]

`--cpu all` measures every variant that can run on this CPU, each in its own process (ggml keeps
the first variant a process loads). Run it on an idle machine, one at a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def measure(model: str, cpu: str, prompt_tokens: int, gen_tokens: int, threads: int, repeats: int) -> dict[str, object]:
    from rag.models import gguf, llama_build
    from rag.settings import Settings

    settings = Settings.from_env()
    path = gguf.resolve(model, settings.model_cache_dir)
    build = llama_build.find_build()
    loaded = llama_build.prepare(path, cpu, threads)  # proven in a child process first, as the product does
    variant = loaded.name if loaded else ""
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_ctx=prompt_tokens + gen_tokens + 8, n_threads=threads,
                n_threads_batch=threads, flash_attn=True, verbose=False)
    words = ("The quick brown fox jumps over the lazy dog while the committee discusses the annual budget. " * 200)
    tokens = llm.tokenize(words.encode(), add_bos=True)[:prompt_tokens]
    pp, tg = [], []
    for _ in range(repeats):
        llm.reset()
        started = time.perf_counter()
        llm.eval(tokens)
        pp.append(len(tokens) / (time.perf_counter() - started))
        started = time.perf_counter()
        for _ in range(gen_tokens):
            token = llm.sample(top_k=1, temp=0.0)
            llm.eval([token])
        tg.append(gen_tokens / (time.perf_counter() - started))
    return {"model": model, "variant": variant or "linked-in", "threads": threads,
            "prompt_tok_s": round(statistics.median(pp), 1), "gen_tok_s": round(statistics.median(tg), 1),
            "build": build.describe()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen2.5-0.5b")
    parser.add_argument("--cpu", default="auto")
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--gen", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.cpu == "all":
        from rag.models import llama_build

        build = llama_build.find_build()
        for v in build.variants:
            if v.score <= 0:
                continue
            command = [sys.executable, __file__, "--model", args.model, "--cpu", v.name, "--prompt", str(args.prompt),
                       "--gen", str(args.gen), "--threads", str(args.threads), "--repeats", str(args.repeats)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            print(done.stdout.strip() or f"{v.name:<16} failed: {done.returncode} {done.stderr.strip()[-200:]}")
        return
    row = measure(args.model, args.cpu, args.prompt, args.gen, args.threads, args.repeats)
    if args.json:
        print(json.dumps(row))
    else:
        print(f"{row['variant']:<16} {row['model']}: prompt {row['prompt_tok_s']} tokens/s, "
              f"generation {row['gen_tok_s']} tokens/s ({row['threads']} threads)")


if __name__ == "__main__":
    main()

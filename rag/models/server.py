"""`python -m rag.models.server ARGS`: llama-cpp-python's OpenAI-compatible server
(`python -m llama_cpp.server`, the same ARGS), on the CPU variant this machine was proven to run.

A build with runtime CPU dispatch (scripts/setup.sh) loads no CPU code by itself when it is not
started by this library: `python -m llama_cpp.server` would say "no backends are loaded". This
runs the same proof as every model this library loads (rag/models/llama_build.py), then the server.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from rag.errors import ModelError
from rag.models import llama_build
from rag.settings import Settings


def _option(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def main() -> None:
    argv = sys.argv[1:]
    settings = Settings.from_env()
    model = _option(argv, "--model")
    threads = int(_option(argv, "--n_threads") or settings.threads)
    try:
        if model:
            llama_build.prepare(Path(model), settings.llama_cpu, threads)
        else:
            name = llama_build.choose(settings.llama_cpu)
            if name:
                llama_build.load_variant(name)
    except ModelError as err:
        sys.exit(f"rag.models.server: {err}")
    sys.argv = ["llama_cpp.server", *argv]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()

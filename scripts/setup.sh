#!/usr/bin/env bash
# Create .venv and install the project with everything it needs. Safe to run again: it only
# installs what is missing. The first run on a machine compiles llama.cpp (about 7 minutes on 2
# cores); the wheel is kept in ~/.cache/local-rag/wheels, so later runs take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv"
    "$PYTHON" -m venv .venv
fi
pip() { .venv/bin/python -m pip --disable-pip-version-check "$@"; }
pip install --quiet --upgrade "pip>=24"
# The CPU build of PyTorch, first: a torch pulled in by sentence-transformers would be the CUDA one.
.venv/bin/python -c 'import torch' 2>/dev/null || pip install --quiet "torch==2.13.0"

# llama.cpp, compiled with runtime CPU dispatch: the CPU code is built for every x86-64 level
# (x64 … haswell … icelake, zen4, sapphirerapids) and the best one that works is chosen when a model
# loads (rag/models/llama_build.py). One wheel then runs on any CPU, whichever machine built it. Not pip's
# own build: pip caches a wheel under a name that does not say how it was compiled, and would reuse a
# `-march=native` build on a CPU that lacks its instructions. RAG_LLAMA_CMAKE_ARGS replaces the flags
# (e.g. for a GPU build); the wheel is cached per flags.
LLAMA_VERSION=0.3.36
LLAMA_CMAKE_ARGS=${RAG_LLAMA_CMAKE_ARGS:-"-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON"}
build_key=$(printf '%s|%s|%s' "$LLAMA_VERSION" "$LLAMA_CMAKE_ARGS" "$(uname -sm)" | sha256sum | cut -c1-12)
wheels="${RAG_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/local-rag/wheels}/llama-cpp-python-$LLAMA_VERSION-$build_key"
if [ "$(cat .venv/llama-cpp-build 2>/dev/null)" != "$build_key" ]; then
    if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
        echo "Compiling llama.cpp with runtime CPU dispatch (once per machine: about 7 minutes on 2 cores)"
        rm -rf "$wheels.partial" && mkdir -p "$wheels.partial"
        CMAKE_ARGS="$LLAMA_CMAKE_ARGS" pip wheel --quiet --no-cache-dir --no-deps --no-binary llama-cpp-python \
            -w "$wheels.partial" "llama-cpp-python==$LLAMA_VERSION"
        rm -rf "$wheels" && mv "$wheels.partial" "$wheels"
    fi
    pip install --quiet --force-reinstall --no-deps "$wheels"/llama_cpp_python-*.whl
    echo "$build_key" > .venv/llama-cpp-build
fi

echo "Installing the project"
# dev: the test tools; remote and server: the model server and Milvus paths, which the tests run too.
pip install --quiet -e ".[dev,remote,server]"
# The embedder's ONNX and int8 files (RAG_EMBEDDER_BACKEND), exported once, offline, from the packaged
# MiniLM into the model cache (RAG_MODEL_CACHE). If this fails the embedder exports on first use, or
# falls back to PyTorch with a warning.
echo "Exporting the embedding model to ONNX (once, about half a minute)"
.venv/bin/python -c 'from rag.models.embedding import export_onnx; from rag.settings import Settings
print(export_onnx(Settings.from_env().model_cache_dir))' || echo "ONNX export failed: the embedder will use PyTorch"

# Prove the build before saying set-up is done: a child process loads SmolLM2 on the best CPU variant
# and decodes a few tokens; a variant that crashes (AMX on some virtual machines) is recorded and the
# next best is tried. It says which one runs, or why none does and what to do.
.venv/bin/python -m rag.models.llama_build check

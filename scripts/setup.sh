#!/usr/bin/env bash
# Create .venv and install the project with everything it needs. Safe to run again: it only
# installs what is missing. The first run compiles llama.cpp (about 9 minutes on 2 cores).
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
echo "Installing the project (the first time, llama-cpp-python compiles llama.cpp: ~9 min)"
# dev: the test tools; remote and server: the model server and Milvus paths, which the tests run too.
pip install --quiet -e ".[dev,remote,server]"
# The embedder's ONNX and int8 files (RAG_EMBEDDER_BACKEND), exported once, offline, from the packaged
# MiniLM into the model cache (RAG_MODEL_CACHE). If this fails the embedder exports on first use, or
# falls back to PyTorch with a warning.
echo "Exporting the embedding model to ONNX (once, about half a minute)"
.venv/bin/python -c 'from rag.embedding import export_onnx; from rag.settings import Settings
print(export_onnx(Settings.from_env().model_cache_dir))' || echo "ONNX export failed: the embedder will use PyTorch"

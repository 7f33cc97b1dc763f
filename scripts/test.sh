#!/usr/bin/env bash
# Set everything up and run the whole test suite: unit tests with fakes, then integration
# tests with the real embedding model and the small SmolLM2 model. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check rag ui tests
exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# Set everything up and open the chat in a web browser on http://127.0.0.1:7860. `rag serve`
# brings the index up to date with documents/ first. Extra arguments go to `rag serve`
# (--host, --port, --auth USER:PASSWORD, --no-browser). To chat in the terminal instead:
# .venv/bin/rag chat
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/rag serve "$@"

#!/usr/bin/env bash
# Set everything up, bring the index up to date with documents/, and start the chat.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/rag index
exec .venv/bin/rag chat "$@"

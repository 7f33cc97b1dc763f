"""The llama.cpp build check (rag/models/llama_build.py): a variant whose child process dies of a signal is
recorded and the next best one tried; a model error is not blamed on the CPU; what was proven is
remembered per build and CPU; nothing working is one message naming the model, the build and what to
do. The child processes are scripted here; tests/test_llama_build_integration.py runs the real one."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from rag.errors import ModelError
from rag.models import llama_build
from rag.models.llama_build import CpuVariant, LlamaBuild


def _build(tmp_path: Path, *names: str) -> LlamaBuild:
    variants = []
    for score, name in enumerate(reversed(names), start=1):
        path = tmp_path / f"libggml-cpu-{name}.so"
        path.write_bytes(name.encode())
        variants.append(CpuVariant(name, path, score))
    return LlamaBuild("0.3.36", tmp_path, tuple(sorted(variants, key=lambda v: -v.score)))


class Children:
    """Scripted child processes: per variant, a return code (negative: killed by that signal)."""

    def __init__(self, outcomes: dict[str, int], stderr: str = "") -> None:
        self.outcomes = outcomes
        self.stderr = stderr
        self.asked: list[str] = []

    def __call__(self, command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        variant = command[command.index("--cpu") + 1]
        self.asked.append(variant)
        code = self.outcomes.get(variant, 0)
        out = json.dumps({"variant": variant, "text": " Paris"}) if code == 0 else ""
        return subprocess.CompletedProcess(command, code, out, self.stderr)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF model")
    return path


def test_a_variant_that_crashes_is_skipped_and_remembered(tmp_path: Path, model: Path) -> None:
    build = _build(tmp_path, "sapphirerapids", "zen4", "x64")
    checks = tmp_path / "checks.json"
    children = Children({"sapphirerapids": -signal.SIGILL})
    assert llama_build.prove(model, build=build, run=children, checks_path=checks) == "zen4"
    assert children.asked == ["sapphirerapids", "zen4"]
    saved = json.loads(checks.read_text())
    assert saved["crashed"] == {"sapphirerapids": "SIGILL"}

    # The next start does not try again: the proof is remembered for this build, CPU and model file.
    again = Children({})
    assert llama_build.prove(model, build=build, run=again, checks_path=checks) == "zen4"
    assert again.asked == []

    # Another model on the same build skips the variant known to crash.
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF other")
    third = Children({})
    assert llama_build.prove(other, build=build, run=third, checks_path=checks) == "zen4"
    assert third.asked == ["zen4"]


def test_a_new_build_is_proven_again(tmp_path: Path, model: Path) -> None:
    checks = tmp_path / "checks.json"
    build = _build(tmp_path, "zen4", "x64")
    llama_build.prove(model, build=build, run=Children({}), checks_path=checks)
    rebuilt = LlamaBuild("0.3.37", build.lib_dir, build.variants)
    children = Children({})
    llama_build.prove(model, build=rebuilt, run=children, checks_path=checks)
    assert children.asked == ["zen4"]


def test_a_model_error_in_the_child_is_not_taken_for_a_crash(tmp_path: Path, model: Path) -> None:
    build = _build(tmp_path, "zen4", "x64")
    children = Children({"zen4": 1}, stderr="Traceback …\nValueError: Failed to load model from file: model.gguf\n")
    with pytest.raises(ModelError, match="Failed to load model"):
        llama_build.prove(model, build=build, run=children, checks_path=tmp_path / "c.json")
    assert children.asked == ["zen4"]  # x64 would fail the same way: not tried


def test_when_every_variant_crashes_the_message_names_the_model_the_build_and_what_to_do(
    tmp_path: Path, model: Path
) -> None:
    build = _build(tmp_path, "haswell", "x64")
    children = Children({"haswell": -signal.SIGSEGV, "x64": -signal.SIGILL})
    with pytest.raises(ModelError) as err:
        llama_build.prove(model, build=build, run=children, checks_path=tmp_path / "c.json")
    message = str(err.value)
    assert str(model) in message and "llama-cpp-python 0.3.36" in message
    assert "haswell: SIGSEGV" in message and "x64: SIGILL" in message
    assert "RAG_LLAMA_CPU=x64" in message


def test_a_forced_variant_is_the_only_one_tried(tmp_path: Path, model: Path) -> None:
    build = _build(tmp_path, "zen4", "haswell", "x64")
    children = Children({})
    assert llama_build.prove(model, "x64", build=build, run=children, checks_path=tmp_path / "c.json") == "x64"
    assert children.asked == ["x64"]
    with pytest.raises(ModelError, match=r"RAG_LLAMA_CPU is 'pentium'.*zen4, haswell, x64"):
        llama_build.prove(model, "pentium", build=build, run=children, checks_path=tmp_path / "c.json")


def test_a_child_that_hangs_counts_as_a_crash(tmp_path: Path, model: Path) -> None:
    build = _build(tmp_path, "zen4", "x64")

    def run(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        if "zen4" in command:
            raise subprocess.TimeoutExpired(command, timeout)
        return subprocess.CompletedProcess(command, 0, "{}", "")

    assert llama_build.prove(model, build=build, run=run, checks_path=tmp_path / "c.json") == "x64"


def test_a_build_with_its_cpu_code_linked_in_is_proven_without_choosing(tmp_path: Path, model: Path) -> None:
    build = LlamaBuild("0.3.36", tmp_path, ())
    children = Children({"auto": -signal.SIGILL})
    with pytest.raises(ModelError, match=r"linked in.*scripts/setup.sh"):
        llama_build.prove(model, build=build, run=children, checks_path=tmp_path / "c.json")


def test_variant_files_are_found_where_pip_installs_them(tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "llama_cpp"
    (package / "lib").mkdir(parents=True)
    (package.parent / "bin").mkdir()
    for name in ("libggml-cpu-x64.so", "libggml-cpu-zen4.so", "libggml-base.so", "libggml-cpu-armv8.2_1.so"):
        (package.parent / "bin" / name).write_bytes(b"")
    (package / "lib" / "libllama.so").write_bytes(b"")
    found = dict(llama_build.variant_files(package))
    assert sorted(found) == ["armv8.2_1", "x64", "zen4"]

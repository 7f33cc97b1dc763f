from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from rag import Assistant, Settings, pipeline
from rag.answers import checking
from tests.fakes import HashEmbedder, ScriptedGenerator

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "documents"
VISIT = "tokayev-state-visit-to-japan.txt"
LECTURE = "tokayev-lecture-at-un-university.txt"
SMALL_MODEL = "smollm2-135m"  # the integration tests' model


@pytest.fixture(autouse=True)
def _no_question_gate_with_fakes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside the integration tests, an Assistant checks claims without the question-relevance gate
    (Policy.relevant, margin): the hash embedder's question scores mean nothing, so the gate would
    turn away right claims at random. The gate is tested on its own in tests/test_checking.py, and
    with MiniLM in the integration tests, which keep the real policy."""
    if request.node.get_closest_marker("integration"):
        return
    monkeypatch.setattr(
        pipeline, "policy_for", lambda model: replace(checking.policy_for(model), relevant=0.0, margin=1.0)
    )


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    """A fresh copy of the two default articles."""
    folder = tmp_path / "documents"
    folder.mkdir()
    for name in (VISIT, LECTURE):
        shutil.copy(ARTICLES / name, folder / name)
    return folder


@pytest.fixture
def settings(tmp_path: Path, docs_dir: Path) -> Settings:
    # The fakes judge for themselves: ScriptedGenerator.yes_probability (None unless scripted).
    return Settings(
        documents_dir=docs_dir, index_dir=tmp_path / "index", model_cache_dir=tmp_path / "models", judge_model="same",
        repair_model="same",
    )


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


def make_assistant(settings: Settings, replies: list = (), embedder: HashEmbedder | None = None) -> Assistant:  # type: ignore[assignment]
    return Assistant(settings, embedder=embedder or HashEmbedder(), generator=ScriptedGenerator(replies))


@pytest.fixture(scope="session")
def llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The small SmolLM2 model behind llama-cpp-python's OpenAI-compatible server on 127.0.0.1,
    started once for the session and stopped by its PID at the end (also after a failure)."""
    from rag.models import gguf
    from tests.llm_server import llama_server

    root = tmp_path_factory.mktemp("llm-server")
    path = gguf.resolve(SMALL_MODEL, root / "models")
    with llama_server(path, log_file=root / "server.log") as url:
        yield url

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag import Assistant, Settings
from tests.fakes import HashEmbedder, ScriptedGenerator

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "documents"
VISIT = "tokayev-state-visit-to-japan.txt"
LECTURE = "tokayev-lecture-at-un-university.txt"


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
        documents_dir=docs_dir, index_dir=tmp_path / "index", model_cache_dir=tmp_path / "models", judge_model="same"
    )


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


def make_assistant(settings: Settings, replies: list = (), embedder: HashEmbedder | None = None) -> Assistant:  # type: ignore[assignment]
    return Assistant(settings, embedder=embedder or HashEmbedder(), generator=ScriptedGenerator(replies))

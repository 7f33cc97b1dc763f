"""rag/engines.py: which model each setting builds, and which models are shared rather than loaded twice."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from rag import Settings, engines
from rag.errors import RagError
from rag.models.generation import LlamaGenerator
from tests.fakes import ScriptedGenerator


def _gguf(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(b"GGUF" + b"\0" * 60)  # only resolved and checked for existence here, never loaded
    return path


def test_a_judge_of_none_builds_nothing_and_same_shares_the_answering_model(tmp_path: Path) -> None:
    answering = ScriptedGenerator([])
    settings = Settings(model_cache_dir=tmp_path)
    assert engines.make_judge_model(replace(settings, judge_model="none"), answering) is None
    assert engines.make_judge_model(replace(settings, judge_model="same"), answering) is answering
    named = replace(settings, judge_model=settings.model)  # the answering model by its name
    assert engines.make_judge_model(named, answering) is answering


def test_a_judge_of_its_own_is_loaded_with_the_short_judging_context(tmp_path: Path) -> None:
    path = _gguf(tmp_path, "judge.gguf")
    settings = Settings(model_cache_dir=tmp_path, judge_model=str(path), threads=3)
    judge = engines.make_judge_model(settings, ScriptedGenerator([]))
    assert isinstance(judge, LlamaGenerator)
    assert (judge.model_path, judge.context_size, judge.threads) == (path, engines.JUDGE_CONTEXT, 3)


def test_the_repairer_shares_the_judge_or_the_answering_model_when_the_settings_name_them(tmp_path: Path) -> None:
    answering, judge = ScriptedGenerator([]), ScriptedGenerator([])
    path = _gguf(tmp_path, "judge.gguf")
    settings = Settings(model_cache_dir=tmp_path, judge_model=str(path), repair_model=str(path))
    assert engines.make_repairer(settings, answering, judge) is judge
    assert engines.make_repairer(replace(settings, repair_model="same"), answering, judge) is answering
    assert engines.make_repairer(replace(settings, repair_model="none"), answering, judge) is None
    other = _gguf(tmp_path, "repair.gguf")
    repairer = engines.make_repairer(replace(settings, repair_model=str(other)), answering, judge)
    assert isinstance(repairer, LlamaGenerator)
    assert (repairer.model_path, repairer.context_size) == (other, settings.context_size)


def test_a_missing_model_file_is_named(tmp_path: Path) -> None:
    settings = Settings(model_cache_dir=tmp_path, judge_model=str(tmp_path / "nowhere.gguf"))
    with pytest.raises(RagError, match=r"nowhere\.gguf"):
        engines.make_judge_model(settings, ScriptedGenerator([]))

"""Story grouping on the synthetic archive and its hand-checked sample of 50 pairs
(tests/fixtures/stories/sample_pairs.json, scripts/bench_stories.py, docs/news.md): every
byte-identical pair is grouped; nothing that is not a copy is; most edited copies are."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

from rag.index import stories

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "fixtures" / "stories" / "sample_pairs.json"


def _script(name: str) -> ModuleType:
    sys.path.insert(0, str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_archive_and_the_sample_are_grouped_as_measured(tmp_path: Path) -> None:
    bench = _script("bench_stories")
    sample = json.loads(SAMPLE.read_text())
    archive = bench.news_archive.build(tmp_path / "documents", sample["base"], sample["seed"])
    texts = bench.texts_of(archive)
    ids = sorted(texts)
    predicted = bench.grouped_pairs(stories.groups(ids, np.vstack([stories.signature(texts[d]) for d in ids])))

    assert all(tuple(sorted(pair)) in predicted for pair in archive.byte_identical)
    assert bench.score(archive.pairs(), predicted)["precision"] == 1.0
    pairs = sample["pairs"]
    assert len(pairs) == 50 and all(p["a"] in texts and p["b"] in texts for p in pairs)
    truth = {tuple(sorted((p["a"], p["b"]))) for p in pairs if p["copy"]}
    scored = bench.score(truth, predicted, {tuple(sorted((p["a"], p["b"]))) for p in pairs})
    assert scored["precision"] == 1.0 and scored["recall"] >= 0.9, scored

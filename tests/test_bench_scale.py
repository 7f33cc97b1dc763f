"""scripts/bench_scale.py: the synthetic archive is deterministic, readable and varied; the fake embedder is sound."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from rag.ingest.chunking import ChunkingSettings, chunk_document
from rag.ingest.loading import load_documents

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "scripts" / "bench_scale.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_scale"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def front_matter(text: str) -> dict[str, str]:
    head = text.split("---\n")[1]
    return {key: value.strip().strip('"') for key, _, value in (line.partition(":") for line in head.splitlines())}


def test_the_same_seed_writes_the_same_archive(bench: ModuleType, tmp_path: Path) -> None:
    first = bench.make_archive(tmp_path / "a", 30, seed=3)
    second = bench.make_archive(tmp_path / "b", 30, seed=3)
    other = bench.make_archive(tmp_path / "c", 30, seed=4)
    assert [p.read_text() for p in first] == [p.read_text() for p in second]
    assert [p.read_text() for p in first] != [p.read_text() for p in other]


def test_articles_load_with_their_title_and_front_matter(bench: ModuleType, tmp_path: Path) -> None:
    paths = bench.make_archive(tmp_path, 40, seed=0)
    documents, skipped = load_documents(tmp_path)
    assert not skipped
    assert len(documents) == len(paths) == 40
    by_id = {d.id: d for d in documents}
    for path in paths:
        meta = front_matter(path.read_text())
        doc = by_id[path.relative_to(tmp_path).as_posix()]
        assert doc.title == meta["title"]
        assert re.fullmatch(r"202[3-5]-\d\d-\d\d", meta["published"])
        assert meta["source"] in bench.OUTLETS
        assert meta["author"] and meta["url"].startswith("https://")
        words = len(path.read_text().split("---\n", 2)[2].split())
        assert 300 <= words <= 760
        assert chunk_document(doc, ChunkingSettings())


def test_articles_differ_in_names_numbers_sources_and_dates(bench: ModuleType, tmp_path: Path) -> None:
    paths = bench.make_archive(tmp_path, 60, seed=0)
    texts = [p.read_text() for p in paths]
    metas = [front_matter(t) for t in texts]
    assert len({m["source"] for m in metas}) >= 6
    assert len({m["published"] for m in metas}) >= 40
    assert len(set(texts)) == 60
    swapped = sum(len(re.findall("|".join(bench.NAMES), t)) for t in texts)
    assert swapped > 60 * 3  # names from the pool appear beyond each title
    assert bench._varied("In 1998 the Smith family paid 250 dollars.", bench.random.Random(1)) != (
        "In 1998 the Smith family paid 250 dollars.")


def test_each_question_names_its_own_article(bench: ModuleType, tmp_path: Path) -> None:
    paths = bench.make_archive(tmp_path, 5, seed=0)
    for i, path in enumerate(paths):
        code = bench.code_of(bench.question_for(i, 0))
        assert code
        assert [p for p in paths if code in p.read_text()] == [path]


def test_random_embedder_is_deterministic_unit_length(bench: ModuleType) -> None:
    embedder = bench.RandomEmbedder()
    a = embedder.embed(["one", "two", "one"])
    assert a.shape == (3, 384) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(a[0], a[2])
    assert not np.allclose(a[0], a[1])
    assert embedder.fits("x" * 100_000)

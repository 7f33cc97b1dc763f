"""VectorIndex: exact below the threshold, HNSW above; masks honoured; files round-trip or fail clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexStoreError
from rag.index.local import vector_index
from rag.index.local.vector_index import VectorIndex

DIM = 32


def unit(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return unit(5_000, 0)


@pytest.fixture(scope="module")
def queries() -> np.ndarray:
    return unit(50, 1)


@pytest.fixture(scope="module")
def hnsw(vectors: np.ndarray) -> VectorIndex:
    return VectorIndex.build(vectors, approximate_above=1_000)


def truth(vectors: np.ndarray, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    scores = queries @ vectors.T
    if allowed is not None:
        scores[:, ~allowed] = -np.inf
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def recall(found: np.ndarray, expected: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found, expected, strict=True)]))


def test_kind_follows_the_threshold(vectors: np.ndarray, hnsw: VectorIndex) -> None:
    exact = VectorIndex.build(vectors)
    assert (exact.kind, exact.size) == ("exact", 5_000)
    assert (hnsw.kind, hnsw.size) == ("hnsw", 5_000)
    assert VectorIndex.build(vectors[:1_000], approximate_above=1_000).kind == "exact"


def test_exact_matches_numpy(vectors: np.ndarray, queries: np.ndarray) -> None:
    scores, rows = VectorIndex.build(vectors).search(queries, 10)
    np.testing.assert_array_equal(rows, truth(vectors, queries, 10))
    np.testing.assert_allclose(scores, np.sort(queries @ vectors.T, axis=1)[:, ::-1][:, :10], rtol=1e-5)


def test_approximate_recall(vectors: np.ndarray, queries: np.ndarray, hnsw: VectorIndex) -> None:
    _, rows = hnsw.search(queries, 10)
    assert recall(rows, truth(vectors, queries, 10)) >= 0.9


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
@pytest.mark.parametrize("fraction", [0.004, 0.03, 0.5, 0.97])
def test_allowed_rows_only_and_the_best_of_them(
    kind: str, fraction: float, vectors: np.ndarray, queries: np.ndarray, hnsw: VectorIndex,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 5,000 rows are few: brute-force masks of up to 200 rows only, so that the graph walk with a
    # selector is what the larger masks go through, as they would in a segment of millions.
    monkeypatch.setattr(vector_index, "BRUTE_FORCE_ROWS", 200)
    index = hnsw if kind == "hnsw" else VectorIndex.build(vectors)
    allowed = np.random.default_rng(2).random(len(vectors)) < fraction
    scores, rows = index.search(queries, 10, allowed)
    found = rows[rows >= 0]
    assert allowed[found].all()
    assert len(found) == queries.shape[0] * min(10, int(allowed.sum()))
    expected = truth(vectors, queries, 10, allowed)
    # Sparse masks are brute-forced (exact); dense ones go through the index with a selector.
    assert recall(rows, expected) >= (1.0 if fraction < 0.05 or kind == "exact" else 0.9)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)


def test_fewer_allowed_rows_than_k_are_padded(vectors: np.ndarray, queries: np.ndarray, hnsw: VectorIndex) -> None:
    allowed = np.zeros(len(vectors), bool)
    allowed[[7, 4_000, 4_999]] = True
    for index in (hnsw, VectorIndex.build(vectors)):
        scores, rows = index.search(queries[:2], 5, allowed)
        assert sorted(rows[0, :3]) == [7, 4_000, 4_999]
        assert rows[:, 3:].tolist() == [[-1, -1], [-1, -1]]
        assert np.isneginf(scores[:, 3:]).all()
        _, none = index.search(queries[:2], 5, np.zeros(len(vectors), bool))
        assert (none == -1).all()


def test_a_mask_of_the_wrong_length_is_refused(hnsw: VectorIndex, queries: np.ndarray) -> None:
    with pytest.raises(ValueError, match="allowed"):
        hnsw.search(queries, 5, np.ones(10, bool))


def test_save_load_round_trip(tmp_path: Path, vectors: np.ndarray, queries: np.ndarray, hnsw: VectorIndex) -> None:
    path = tmp_path / "vectors.hnsw"
    hnsw.save(path)
    np.save(tmp_path / "vectors.npy", vectors)
    mapped = np.load(tmp_path / "vectors.npy", mmap_mode="r")
    loaded = VectorIndex.load(path, mapped)
    assert (loaded.kind, loaded.size) == ("hnsw", 5_000)
    for allowed in (None, np.arange(len(vectors)) % 3 == 0, np.arange(len(vectors)) < 40):
        expected = hnsw.search(queries, 10, allowed)
        got = loaded.search(queries, 10, allowed)
        np.testing.assert_array_equal(got[1], expected[1])
        np.testing.assert_array_equal(got[0], expected[0])


def test_exact_needs_no_file(tmp_path: Path, vectors: np.ndarray, queries: np.ndarray) -> None:
    exact = VectorIndex.build(vectors)
    exact.save(tmp_path / "none.hnsw")
    assert not (tmp_path / "none.hnsw").exists()
    loaded = VectorIndex.load(None, vectors)
    assert loaded.kind == "exact"
    np.testing.assert_array_equal(loaded.search(queries, 10)[1], exact.search(queries, 10)[1])


@pytest.mark.parametrize("damage", ["truncated", "garbage", "missing", "other vectors"])
def test_a_damaged_file_says_which_and_what_to_do(
    tmp_path: Path, damage: str, vectors: np.ndarray, hnsw: VectorIndex
) -> None:
    path = tmp_path / "vectors.hnsw"
    hnsw.save(path)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a faiss index at all" * 10)
    elif damage == "missing":
        path.unlink()
    with pytest.raises(IndexStoreError) as err:
        VectorIndex.load(path, vectors[:100] if damage == "other vectors" else vectors)
    assert str(path) in str(err.value)
    assert "Run `rag index` to rebuild it." in str(err.value)

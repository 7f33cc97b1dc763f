"""The embedder's backends: ONNX vectors agree with PyTorch's, an export is used only when complete,
a missing onnxruntime or a failed export falls back to PyTorch, and one model call runs at a time.

The unit tests replace the export and the PyTorch model with small stand-ins; the integration
tests load the real MiniLM and export it into a temporary cache.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.errors import SettingsError
from rag.models import embedding
from rag.models.embedding import EXPORT_DONE, MODEL_NAME, ONNX_FILES, MiniLMEmbedder, export_is_complete, export_onnx
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# Least cosine to PyTorch's vector, per text. fp32 is the same computation. int8 (per channel, MatMul
# only) was measured at a min of 0.9886 over the project's 337 chunks; a little margin for the odd
# texts below (one word, a repeated word past the length limit).
THRESHOLDS = {"onnx": 0.999, "onnx-int8": 0.97}


class CountingModel:
    """Stands in for a loaded model: vectors from word lengths; notes calls that overlap."""

    max_seq_length = 256

    def __init__(self) -> None:
        self.inside = 0
        self.overlapped = False
        self.calls = 0

    def encode(self, texts: Sequence[str], batch_size: int = 32, **_: Any) -> np.ndarray:
        self.inside += 1
        self.overlapped |= self.inside > 1
        time.sleep(0.01)  # long enough for another thread to come in, were there no lock
        self.calls += 1
        self.inside -= 1
        vectors = np.ones((len(texts), 384), dtype=np.float32)
        vectors[:, 0] = [len(t) for t in texts]
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2


def fake_export(source: Path, work: Path) -> None:
    for name in ONNX_FILES.values():
        (work / name).write_bytes(b"onnx " + name.encode())


class RecordedExport:
    def __init__(self) -> None:
        self.calls: list[Path] = []

    def __call__(self, source: Path, work: Path) -> None:
        self.calls.append(work)
        fake_export(source, work)


# -- unit ------------------------------------------------------------------------------------------


def test_without_onnxruntime_the_embedder_is_pytorch(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails
    with caplog.at_level(logging.WARNING, logger="rag.models.embedding"):
        embedder = MiniLMEmbedder(backend="onnx-int8")
    assert (embedder.backend, embedder.name) == ("torch", MODEL_NAME)
    assert "using PyTorch" in caplog.text


def test_a_failed_export_falls_back_to_pytorch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: Any) -> None:
    def broken(source: Path, work: Path) -> None:
        raise RuntimeError("exporter missing")

    model = CountingModel()
    monkeypatch.setattr(embedding, "onnx_available", lambda: True)
    monkeypatch.setattr(embedding, "_export", broken)
    monkeypatch.setattr(embedding, "load_torch", lambda: model)
    embedder = MiniLMEmbedder(backend="onnx-int8", cache_dir=tmp_path)
    assert embedder.name == f"{MODEL_NAME}+int8"
    with caplog.at_level(logging.WARNING, logger="rag.models.embedding"):
        vectors = embedder.embed(["one", "two words"])
    assert vectors.shape == (2, 384)
    assert (embedder.backend, embedder.name) == ("torch", MODEL_NAME)
    assert "exporter missing" in caplog.text
    assert embedder.fits("short text") and not embedder.fits("word " * 300)
    assert not list((tmp_path / "embedder").iterdir())  # the temporary folder is gone


def test_export_is_made_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    export = RecordedExport()
    monkeypatch.setattr(embedding, "_export", export)
    folder = export_onnx(tmp_path)
    assert export_onnx(tmp_path) == folder
    assert len(export.calls) == 1
    assert sorted(p.name for p in folder.iterdir()) == sorted([EXPORT_DONE, *ONNX_FILES.values()])
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no temporary folder left


def test_a_half_written_export_is_not_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(embedding, "_export", fake_export)
    folder = export_onnx(tmp_path)
    digest = json.loads((folder / EXPORT_DONE).read_text())["source_sha256"]
    (folder / EXPORT_DONE).unlink()  # as if the process died before the marker was written
    assert not export_is_complete(folder, digest)
    export = RecordedExport()
    monkeypatch.setattr(embedding, "_export", export)
    assert export_onnx(tmp_path) == folder
    assert len(export.calls) == 1 and export_is_complete(folder, digest)


def test_a_changed_file_is_exported_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(embedding, "_export", fake_export)
    folder = export_onnx(tmp_path)
    digest = json.loads((folder / EXPORT_DONE).read_text())["source_sha256"]
    (folder / ONNX_FILES["onnx-int8"]).write_bytes(b"cut short")
    assert not export_is_complete(folder, digest)
    export_onnx(tmp_path)
    assert export_is_complete(folder, digest)


def test_a_failed_export_leaves_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def half(source: Path, work: Path) -> None:
        (work / ONNX_FILES["onnx"]).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(embedding, "_export", half)
    with pytest.raises(OSError, match="disk full"):
        export_onnx(tmp_path)
    assert not list((tmp_path / "embedder").iterdir())


def test_one_model_call_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    model = CountingModel()
    monkeypatch.setattr(embedding, "load_torch", lambda: model)
    embedder = MiniLMEmbedder(backend="torch")
    threads = [threading.Thread(target=embedder.embed, args=([f"text {n}"],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert model.calls == 8
    assert not model.overlapped


def test_the_backend_setting() -> None:
    assert Settings.from_env({"RAG_EMBEDDER_BACKEND": "torch"}).embedder_backend == "torch"
    with pytest.raises(SettingsError, match="RAG_EMBEDDER_BACKEND"):
        Settings.from_env({"RAG_EMBEDDER_BACKEND": "gpu"})
    embedder = MiniLMEmbedder.from_settings(Settings(embedder_backend="torch", model_cache_dir=Path("/nowhere")))
    assert (embedder.backend, embedder.cache_dir) == ("torch", Path("/nowhere"))


class PaddingSession:
    """Stands in for the onnxruntime session: each token's hidden state is a fixed function of its
    id, and a padded position gets noise, so a vector is right only if the mask is applied. Notes
    the shape of every batch."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, int]] = []

    def run(self, _outputs: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        ids, mask = feed["input_ids"], feed["attention_mask"]
        self.shapes.append(ids.shape)
        hidden = np.sin(ids[:, :, None] * np.arange(1, 385)[None, None, :] / 97.0).astype(np.float32)
        hidden[mask == 0] = np.random.default_rng(0).standard_normal((int((mask == 0).sum()), 384))
        return [hidden]


def test_batches_sorted_by_token_count_give_each_text_its_own_vector() -> None:
    session = PaddingSession()
    model = embedding.OnnxMiniLM(Path("unused.onnx"), embedding.model_folder(), session=session)
    texts = ["A short one.", "A much longer sentence about the state visit to Japan and what was signed there.",
             "Mid-length text about Tokyo.", "Hi", "Another long sentence, with commas, numbers like 2024 and 17."]
    alone = np.stack([model.encode([t])[0] for t in texts])
    session.shapes.clear()
    together = model.encode(texts, batch_size=2)
    assert np.allclose(together, alone, atol=1e-6)  # the original order, and padding changes nothing
    lengths = sorted((model.count_tokens(t) for t in texts), reverse=True)
    assert session.shapes == [(2, lengths[0]), (2, lengths[2]), (1, lengths[4])]  # longest first: least padding
    assert len({tuple(v) for v in together.round(5)}) == len(texts)


# -- integration: the real model -------------------------------------------------------------------


@pytest.fixture(scope="module")
def texts() -> list[str]:
    from rag.ingest.chunking import ChunkingSettings, chunk_document
    from rag.ingest.loading import read_document

    doc = read_document(ROOT / "documents" / "tokayev-state-visit-to-japan.txt", "visit")
    chunks = [c.text for c in chunk_document(doc, ChunkingSettings())][:24]
    return [*chunks, "What did the two leaders agree on?", "Japan", "word " * 400]


@pytest.fixture(scope="module")
def torch_vectors(texts: list[str]) -> np.ndarray:
    return MiniLMEmbedder(backend="torch").embed(texts)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedder-cache")


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_onnx_vectors_agree_with_pytorch(
    backend: str, cache: Path, texts: list[str], torch_vectors: np.ndarray
) -> None:
    embedder = MiniLMEmbedder(backend=backend, cache_dir=cache)
    vectors = embedder.embed(texts)
    assert embedder.backend == backend  # not fallen back to PyTorch
    assert vectors.shape == torch_vectors.shape and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    cosines = np.sum(vectors * torch_vectors, axis=1)
    assert cosines.min() >= THRESHOLDS[backend], cosines.min()
    embedder.batch_size = 5
    again = embedder.embed(texts[::-1])[::-1]
    if backend == "onnx":  # batch size and order do not change a text's vector
        assert np.allclose(again, vectors, atol=1e-4)
    else:  # int8 activations are scaled per batch, so its neighbours move a vector a little
        assert np.sum(again * torch_vectors, axis=1).min() >= THRESHOLDS[backend]


@pytest.mark.integration
def test_fits_is_the_same_for_every_backend(cache: Path, texts: list[str]) -> None:
    torch_embedder = MiniLMEmbedder(backend="torch")
    onnx_embedder = MiniLMEmbedder(backend="onnx-int8", cache_dir=cache)
    answers = [onnx_embedder.fits(t) for t in texts]
    assert answers == [torch_embedder.fits(t) for t in texts]
    assert not answers[-1] and all(answers[:-1])

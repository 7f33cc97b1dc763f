from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from rag.errors import ModelError
from rag.models import gguf


def _write_gguf(path: Path, payload: bytes = b"model weights") -> str:
    path.write_bytes(gguf.GGUF_MAGIC + payload)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_gguf_by_path_with_the_right_checksum_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    digest = _write_gguf(path)
    assert gguf.resolve(str(path), tmp_path / "cache", digest) == path


def test_a_model_that_fails_its_checksum_is_refused_with_the_path_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    _write_gguf(path)
    with pytest.raises(ModelError) as err:
        gguf.resolve(str(path), tmp_path / "cache", "0" * 64)
    assert str(path) in str(err.value) and "fails its checksum" in str(err.value)


def test_a_file_changed_after_verification_is_checked_again(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    digest = _write_gguf(path)
    gguf.verify(path, digest)
    path.write_bytes(gguf.GGUF_MAGIC + b"tampered weights")
    os.utime(path, ns=(1, 1))
    with pytest.raises(ModelError, match="fails its checksum"):
        gguf.verify(path, digest)


def test_not_a_gguf_and_missing_files_are_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ModelError, match="not a GGUF"):
        gguf.resolve(str(text), tmp_path)
    with pytest.raises(ModelError, match="neither a known model"):
        gguf.resolve(str(tmp_path / "missing.gguf"), tmp_path)


def test_parts_are_assembled_verified_and_a_bad_assembly_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = [tmp_path / "p1.bin", tmp_path / "p2.bin"]
    parts[0].write_bytes(gguf.GGUF_MAGIC + b"first half ")
    parts[1].write_bytes(b"second half")
    whole = parts[0].read_bytes() + parts[1].read_bytes()
    spec = gguf.ModelSpec(
        name="tiny",
        filename="tiny.gguf",
        sha256=hashlib.sha256(whole).hexdigest(),
        size=len(whole),
        parts=(("json", "p1.bin"), ("json", "p2.bin")),  # any importable module will do as the "package"
        install_hint="pip install tiny-parts",
    )
    monkeypatch.setattr(gguf, "_part_path", lambda module, inner: tmp_path / inner)
    monkeypatch.setitem(gguf.KNOWN_MODELS, "tiny", spec)
    path = gguf.resolve("tiny", tmp_path / "cache")
    assert path.read_bytes() == whole

    bad = gguf.ModelSpec(**{**spec.__dict__, "name": "bad", "filename": "bad.gguf", "sha256": "1" * 64})
    monkeypatch.setitem(gguf.KNOWN_MODELS, "bad", bad)
    with pytest.raises(ModelError, match="wrong checksum"):
        gguf.resolve("bad", tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("bad.gguf*")), "no half-assembled file is left behind"


def test_a_known_model_whose_packages_are_missing_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = gguf.ModelSpec(
        "ghost", "ghost.gguf", "0" * 64, 1, (("no_such_pkg_x", "a"), ("no_such_pkg_y", "b")), "pip install ghost"
    )
    monkeypatch.setitem(gguf.KNOWN_MODELS, "ghost", spec)
    with pytest.raises(ModelError, match="pip install ghost"):
        gguf.resolve("ghost", tmp_path)


def test_every_known_model_is_pinned_by_the_packages_its_install_hint_names() -> None:
    """Every known model installs with the project (the default answers, the 1.5B judges, SmolLM2
    runs the integration tests), and `rag` tells whoever lacks one to pip install the packages in its
    hint: the project's pins and the hints must agree."""
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    pinned = set(pyproject["project"]["dependencies"])
    for spec in gguf.KNOWN_MODELS.values():
        hint = spec.install_hint.removeprefix("pip install ").split()
        assert set(hint) <= pinned, spec.name
        modules = {r.split("==")[0].replace("-", "_") for r in hint}
        assert modules == set(spec.packages())

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rag import faults
from rag.errors import IndexStoreError
from rag.index import indexing
from rag.index.indexing import update_index
from rag.index.local import store
from rag.index.manifest import FORMAT_VERSION
from rag.ingest.chunking import ChunkingSettings
from tests.conftest import LECTURE, VISIT
from tests.fakes import HashEmbedder


def _build(docs: Path, index: Path, embedder: HashEmbedder, chunking: ChunkingSettings | None = None):  # type: ignore[no-untyped-def]
    return update_index(docs, index, embedder, chunking or ChunkingSettings())


def test_first_build_embeds_everything_and_writes_a_self_describing_manifest(docs_dir: Path, tmp_path: Path) -> None:
    embedder = HashEmbedder()
    stored, report = _build(docs_dir, tmp_path / "index", embedder)
    assert sorted(report.added) == sorted([VISIT, LECTURE])
    assert report.chunks_embedded == len(stored.chunks) == embedder.texts_embedded
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["embedder"] == {"name": embedder.name, "dimension": embedder.dimension}
    assert manifest["chunking"] == ChunkingSettings().as_dict()
    assert manifest["documents"][VISIT]["hash"] == stored.documents[VISIT].hash
    assert manifest["documents"][VISIT]["chunks"] == sum(c.doc_id == VISIT for c in stored.chunks)


def test_nothing_changed_embeds_nothing_and_writes_nothing(docs_dir: Path, tmp_path: Path) -> None:
    _build(docs_dir, tmp_path / "index", HashEmbedder())
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "index").iterdir()}
    embedder = HashEmbedder()
    _, report = _build(docs_dir, tmp_path / "index", embedder)
    assert embedder.texts_embedded == 0
    assert not report.wrote and sorted(report.unchanged) == sorted([VISIT, LECTURE])
    assert before == {p.name: p.stat().st_mtime_ns for p in (tmp_path / "index").iterdir()}


def test_a_new_title_for_unchanged_text_is_written_without_embedding_again(docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    stored, _ = _build(docs_dir, index_dir, HashEmbedder())
    fresh = stored.documents[VISIT].title
    # An index written when titles were made another way (the first line, cut at 90 characters),
    # and a file touched since (so it is read again and its title made anew).
    manifest = json.loads((index_dir / "manifest.json").read_text())
    manifest["documents"][VISIT]["title"] = "The number and intensity of armed conflicts…"
    manifest["documents"][VISIT]["stat"] = [0, 0]
    (index_dir / "manifest.json").write_text(json.dumps(manifest))
    assert store.load(index_dir, "test/hash-embedder", 256).documents[VISIT].title.startswith("The number")

    embedder = HashEmbedder()
    _, report = _build(docs_dir, index_dir, embedder)
    assert embedder.texts_embedded == 0 and report.retitled == [VISIT] and report.wrote
    assert "1 with a new title" in report.summary()
    reloaded = store.load(index_dir, embedder.name, embedder.dimension)
    assert reloaded.documents[VISIT].title == fresh == reloaded.manifest["documents"][VISIT]["title"]
    _, again = _build(docs_dir, index_dir, embedder)
    assert not again.wrote


def test_add_change_and_delete_are_incremental(docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    first, _ = _build(docs_dir, index_dir, HashEmbedder())
    old_visit_chunks = {c.id for c in first.chunks if c.doc_id == VISIT}

    (docs_dir / "new.md").write_text("# New article\n\nThe bridge opened on Monday.", encoding="utf-8")
    visit = docs_dir / VISIT
    visit.write_text(visit.read_text(encoding="utf-8").replace("14 documents", "15 documents"), encoding="utf-8")
    (docs_dir / LECTURE).unlink()

    embedder = HashEmbedder()
    stored, report = _build(docs_dir, index_dir, embedder)
    assert report.added == ["new.md"] and report.changed == [VISIT] and report.removed == [LECTURE]
    embedded = [t for call in embedder.calls for t in call]
    assert all("bridge" in t or t in stored.documents[VISIT].text for t in embedded)
    assert not any(c.doc_id == LECTURE for c in stored.chunks), "a deleted file's chunks disappear"
    new_visit_chunks = {c.id for c in stored.chunks if c.doc_id == VISIT}
    assert any("15 documents" in c.text for c in stored.chunks)
    assert not any("14 documents" in c.text for c in stored.chunks), "an edited file's old chunks are replaced"
    assert old_visit_chunks != new_visit_chunks

    reloaded = store.load(index_dir, embedder.name, embedder.dimension)
    assert [c.id for c in reloaded.chunks] == [c.id for c in stored.chunks]
    assert reloaded.vectors.shape == (len(stored.chunks), embedder.dimension)


def test_unchanged_documents_keep_their_vectors(docs_dir: Path, tmp_path: Path) -> None:
    first, _ = _build(docs_dir, tmp_path / "index", HashEmbedder())
    (docs_dir / "extra.txt").write_text("Something else entirely.", encoding="utf-8")
    second, _ = _build(docs_dir, tmp_path / "index", HashEmbedder())
    rows_first = [i for i, c in enumerate(first.chunks) if c.doc_id == VISIT]
    rows_second = [i for i, c in enumerate(second.chunks) if c.doc_id == VISIT]
    assert (first.vectors[rows_first] == second.vectors[rows_second]).all()


def test_changed_chunking_settings_rebuild_everything(docs_dir: Path, tmp_path: Path) -> None:
    _build(docs_dir, tmp_path / "index", HashEmbedder())
    embedder = HashEmbedder()
    stored, _ = _build(docs_dir, tmp_path / "index", embedder, ChunkingSettings(chunk_tokens=60))
    assert embedder.texts_embedded == len(stored.chunks) > 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("embedder", {"name": "other/model", "dimension": 256}, "built with embedder 'other/model'"),
        ("embedder", {"name": "test/hash-embedder", "dimension": 99}, "99 dimensions"),
        ("format_version", 999, "format version 999"),
    ],
)
def test_a_mismatched_index_is_refused_with_what_to_do(
    docs_dir: Path, tmp_path: Path, field: str, value: object, message: str
) -> None:
    index_dir = tmp_path / "index"
    embedder = HashEmbedder()
    _build(docs_dir, index_dir, embedder)
    manifest = json.loads((index_dir / "manifest.json").read_text())
    manifest[field] = value
    (index_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexStoreError, match=message) as err:
        store.load(index_dir, embedder.name, embedder.dimension)
    assert "rag index" in str(err.value)


def test_missing_and_damaged_index_give_clear_errors(docs_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(IndexStoreError, match="No index"):
        store.load(tmp_path / "none", "x", 3)
    index_dir = tmp_path / "index"
    embedder = HashEmbedder()
    _build(docs_dir, index_dir, embedder)
    next(index_dir.glob("seg-*/chunks.npz")).write_text("{not numpy")
    with pytest.raises(IndexStoreError, match="damaged"):
        store.load(index_dir, embedder.name, embedder.dimension)


def test_a_crash_in_the_middle_of_writing_leaves_the_previous_index_usable(
    docs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = tmp_path / "index"
    embedder = HashEmbedder()
    before, _ = _build(docs_dir, index_dir, embedder)
    (docs_dir / "new.txt").write_text("A brand new article about bridges.", encoding="utf-8")

    real_replace = os.replace

    def crash(src: object, dst: object) -> None:
        raise KeyboardInterrupt("killed while writing the index")

    monkeypatch.setattr(store.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        _build(docs_dir, index_dir, embedder)
    monkeypatch.setattr(store.os, "replace", real_replace)

    survived = store.load(index_dir, embedder.name, embedder.dimension)
    assert [c.id for c in survived.chunks] == [c.id for c in before.chunks]

    _, report = _build(docs_dir, index_dir, embedder)
    assert report.added == ["new.txt"]
    referenced = {s["name"] for s in json.loads((index_dir / "manifest.json").read_text())["segments"]}
    on_disk = {p.name for p in index_dir.iterdir()} - {"manifest.json", "stories.npz", store.LOCK}
    assert on_disk == referenced, "leftovers of the crashed write are cleaned up by the next one"


def test_a_crash_while_writing_a_data_file_leaves_the_previous_index_usable(
    docs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = tmp_path / "index"
    embedder = HashEmbedder()
    before, _ = _build(docs_dir, index_dir, embedder)
    (docs_dir / VISIT).write_text("Changed text entirely.", encoding="utf-8")
    calls = {"n": 0}

    def die_on_second_file(path: Path, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            path.write_bytes(data[: len(data) // 2])  # half-written, then the process dies
            raise SystemExit("killed")

    with faults.injected("store.write", die_on_second_file), pytest.raises(SystemExit):
        _build(docs_dir, index_dir, embedder)
    assert calls["n"] == 2, "the crash happened while writing the index"
    survived = store.load(index_dir, embedder.name, embedder.dimension)
    assert len(survived.chunks) == len(before.chunks)


def test_a_document_that_cannot_be_chunked_is_skipped_and_the_rest_are_indexed(
    docs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (docs_dir / "odd.txt").write_text("An article the chunker chokes on.", encoding="utf-8")
    real = indexing.chunk_document

    def choke(doc, settings, fits):  # type: ignore[no-untyped-def]
        if doc.id == "odd.txt":
            raise RecursionError("maximum recursion depth exceeded")
        return real(doc, settings, fits)

    monkeypatch.setattr(indexing, "chunk_document", choke)
    stored, report = _build(docs_dir, tmp_path / "index", HashEmbedder())
    assert sorted(report.added) == sorted([VISIT, LECTURE]) and set(stored.documents) == {VISIT, LECTURE}
    assert [Path(s.path).name for s in report.skipped] == ["odd.txt"]
    assert "could not be split into passages" in report.skipped[0].reason


def test_many_small_files_are_embedded_in_a_few_batches(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(300):
        (docs / f"note-{n:03}.txt").write_text(f"Note {n} is about bridge number {n}.", encoding="utf-8")
    embedder = HashEmbedder()
    stored, report = _build(docs, tmp_path / "index", embedder)
    assert len(report.added) == 300 == len(stored.chunks)
    assert len(embedder.calls) <= 3, "300 one-chunk files are not 300 embedder calls"
    assert all(stored.documents[c.doc_id].text == c.text for c in stored.chunks)


def test_a_clean_up_killed_after_a_save_is_finished_by_the_next_run(docs_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    embedder = HashEmbedder()
    _build(docs_dir, index_dir, embedder)
    for name in ("vectors-0badf00d.faiss", "chunks-0badf00d.jsonl", ".manifest.json.0badf00d.tmp"):
        (index_dir / name).write_text("left by a clean-up killed with -9, or by the format before segments")
    (index_dir / "seg-0badf00d").mkdir()  # a segment a merge replaced, its deletion killed
    (index_dir / ".seg-0badf00d.tmp").mkdir()  # a segment being written when the build was killed
    (index_dir / "seg-0badf00d" / "vectors.npy").write_bytes(b"old")
    _, report = _build(docs_dir, index_dir, embedder)
    assert not report.wrote
    referenced = {s["name"] for s in json.loads((index_dir / "manifest.json").read_text())["segments"]}
    assert {p.name for p in index_dir.iterdir()} - {"manifest.json", "stories.npz", store.LOCK} == referenced


def test_prepared_documents_are_not_embedded_again(docs_dir: Path, tmp_path: Path) -> None:
    embedder = HashEmbedder()
    prepared = indexing.prepare(docs_dir, tmp_path / "index", embedder, ChunkingSettings())
    assert sorted(prepared.report.added) == sorted([VISIT, LECTURE]) and not (tmp_path / "index").exists()
    embedded = embedder.texts_embedded
    stored, _ = update_index(docs_dir, tmp_path / "index", embedder, ChunkingSettings(), prepared=prepared)
    assert embedder.texts_embedded == embedded == len(stored.chunks)


def test_an_index_folder_that_cannot_be_written_is_a_clear_error(docs_dir: Path, tmp_path: Path) -> None:
    taken = tmp_path / "hostname"
    taken.write_text("a file, not a folder")
    with pytest.raises(IndexStoreError, match="Cannot write the index"):
        _build(docs_dir, taken, HashEmbedder())

"""Kill -9 a real indexing process at many moments: the index on disk always loads, every document
it names reads back whole, and the next run finishes the work without losing any article."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rag.index.indexing import update_index
from rag.index.local import store
from rag.ingest.chunking import ChunkingSettings
from tests.fakes import HashEmbedder

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from rag.index import indexing
    from rag.ingest.chunking import ChunkingSettings
    from tests.fakes import HashEmbedder
    indexing.SEGMENT_CHUNKS = 100  # many commits and merges in a short run
    indexing.EMBED_BATCH = 50
    indexing.update_index(Path(sys.argv[1]), Path(sys.argv[2]), HashEmbedder(), ChunkingSettings())
    """
)


def _run(docs: Path, index: Path, kill_after: float | None) -> bool:
    """Run the writer; kill -9 it after `kill_after` seconds. Whether it was killed."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(docs), str(index)], env=env)
    if kill_after is not None:
        time.sleep(kill_after)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
    return process.wait() == -signal.SIGKILL


@pytest.mark.server  # starts real processes and kills them: slower than a unit test
def test_killing_the_indexer_at_any_moment_loses_nothing(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(1500):
        (docs / f"n{n:04}.txt").write_text(f"Note {n}: the council met on day {n} about bridge {n % 17}.", "utf-8")
    copies = {f"n{n:04}.txt": f"copy-n{n:04}.txt" for n in range(0, 1500, 25)}  # one story, two files
    for original, copy in copies.items():
        shutil.copy(docs / original, docs / copy)
    index = tmp_path / "index"
    started = time.perf_counter()
    _run(docs, tmp_path / "timing", None)
    whole = time.perf_counter() - started  # process start included: kills land all through the build
    killed_mid_build = 0
    for attempt in range(10):
        if attempt % 2 == 0:
            shutil.rmtree(index, ignore_errors=True)  # a first build, killed; odd attempts resume it
        killed = _run(docs, index, whole * (0.3 + 0.07 * attempt))
        if store.exists(index):
            stored = store.load(index, "test/hash-embedder", 256)
            killed_mid_build += killed and 0 < len(stored.documents) < 1500
            for doc_id in list(stored.documents)[::50]:
                assert stored.documents[doc_id].text.startswith("Note "), doc_id
            assert all(chunk.text.startswith("Note ") for chunk in stored.chunks[::50])
            _stories_agree(stored.manifest["documents"], copies)
        if attempt % 3 == 2:  # now and then, an edit and a deletion between runs
            (docs / f"n{attempt:04}.txt").write_text(f"Note {attempt} was corrected.", "utf-8")
            (docs / f"n{1499 - attempt:04}.txt").unlink()
    assert killed_mid_build >= 2, "the drill killed too few runs between their first commit and their last"
    del stored  # the clean-up keeps what a reader holds (#21): this test's reader lets go first
    stored, _ = update_index(docs, index, HashEmbedder(), ChunkingSettings())
    _stories_agree(stored.manifest["documents"], copies)
    assert sum("story" in e for e in stored.manifest["documents"].values()) == 2 * len(copies)
    on_disk = sorted(p.name for p in docs.iterdir())
    assert sorted(stored.documents) == on_disk and len(stored.chunks) == len(on_disk)
    for name in on_disk:
        assert stored.documents[name].text == (docs / name).read_text("utf-8").strip()
    names = {s.name for s in stored.segments}
    leftovers = {p.name for p in index.iterdir()} - {"manifest.json", "stories.npz", store.LOCK}
    assert leftovers == names, "leftovers are cleaned up"


def _stories_agree(entries: dict, copies: dict[str, str]) -> None:
    """The stories a (possibly killed) build committed agree with the documents it committed: both
    files of a copied note are one story when both are indexed, and no story has one member."""
    members: dict[str, list[str]] = {}
    for doc_id, entry in entries.items():
        if entry.get("story"):
            members.setdefault(entry["story"], []).append(doc_id)
    assert all(len(m) > 1 for m in members.values())
    for original, copy in copies.items():
        if original in entries and copy in entries:
            assert entries[original].get("story") == entries[copy].get("story") is not None, original

"""Index writers and readers that cannot hurt each other (issue #21, item 1).

Two writers at once damaged the index for good: a clean-up deleted segments the other writer's
manifest named, a merge read segments from an out-of-date manifest, and readers held no snapshot,
so a running `rag serve` failed every question after a CLI merge and never saw the CLI's articles.
Here: one writer at a time (a lock that says who holds it), a clean-up that keeps what a reader
holds, readers that keep their snapshot and pick up a newer one on their next question, a damaged
index that `rag index` repairs or rebuilds with a note saying which, and chat errors without the
server's paths.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rag import Assistant, Settings, cli
from rag.errors import IndexBusy, IndexStoreError
from rag.index import indexing
from rag.index.local import store
from rag.ingest.chunking import ChunkingSettings
from tests.conftest import LECTURE, VISIT, make_assistant
from tests.fakes import HashEmbedder, ScriptedGenerator
from tests.test_ui_app import ArticleGenerator
from ui.chat import Chat, ChatSession
from ui.library import Library

FERRY = "The new ferry between Aomori and Hakodate carries four hundred passengers across the strait."


def _update(settings: Settings, wait_s: float | None = None):  # type: ignore[no-untyped-def]
    """What a `rag index` in another process does (its own embedder, its own snapshot)."""
    waiting: dict[str, Any] = {} if wait_s is None else {"wait_s": wait_s}
    return indexing.update_index(settings.documents_dir, settings.index_dir, HashEmbedder(), ChunkingSettings(),
                                 **waiting)


def _segments_on_disk(index: Path) -> set[str]:
    return {p.name for p in index.iterdir() if p.name.startswith(store.SEGMENT_PREFIX)}


def _named(index: Path) -> set[str]:
    return {s["name"] for s in json.loads((index / store.MANIFEST).read_text())["segments"]}


# -- one writer at a time ------------------------------------------------------------------------
def test_a_second_writer_is_told_who_is_writing(settings: Settings) -> None:
    _update(settings)
    with store.writer_lock(settings.index_dir), pytest.raises(IndexBusy) as busy:
        _update(settings, wait_s=0)
    message = str(busy.value)
    assert f"(pid {os.getpid()})" in message and "Another `rag index`" in message and "\n" not in message


def test_a_second_writer_waits_for_the_first_to_finish(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    _update(settings)
    (settings.documents_dir / "ferry.txt").write_text(FERRY, encoding="utf-8")
    held = threading.Event()

    def first_writer() -> None:
        with store.writer_lock(settings.index_dir):
            held.set()
            time.sleep(0.5)

    writer = threading.Thread(target=first_writer)
    writer.start()
    assert held.wait(10)
    with caplog.at_level(logging.WARNING):
        stored, report = _update(settings, wait_s=60)
    writer.join()
    assert report.added == ["ferry.txt"] and "ferry.txt" in stored.documents
    assert f"Waiting for another `rag index` (pid {os.getpid()})" in caplog.text


# -- readers keep their snapshot ------------------------------------------------------------------
def test_a_reader_keeps_its_snapshot_through_another_writers_merge(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexing, "MERGE_FACTOR", 2)  # every second segment is a merge
    _update(settings)
    reader = store.load(settings.index_dir, "test/hash-embedder", 256)
    first = set(_named(settings.index_dir))
    for n in range(3):
        (settings.documents_dir / f"ferry-{n}.txt").write_text(f"{FERRY} Crossing {n}.", encoding="utf-8")
        _update(settings)
    assert not first & _named(settings.index_dir), "the segment the reader holds was merged away"
    assert first <= _segments_on_disk(settings.index_dir), "…but it is kept while the reader holds it"
    assert reader.documents[VISIT].text.startswith("President") or reader.documents[VISIT].text
    assert all(chunk.text for chunk in reader.chunks), "every chunk of the snapshot still reads"
    del reader
    store.tidy(settings.index_dir)
    assert _segments_on_disk(settings.index_dir) == _named(settings.index_dir), "let go, it is deleted"


def test_a_running_assistant_answers_after_a_cli_merge_and_sees_the_cli_articles(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexing, "MERGE_FACTOR", 2)
    assistant = make_assistant(settings)
    assistant.index()
    before = assistant.answer("How many documents were signed?")
    assert before.passages
    for n in range(3):  # `rag index` in another process, merging the segments the assistant holds
        (settings.documents_dir / f"ferry-{n}.txt").write_text(f"{FERRY} Crossing {n}.", encoding="utf-8")
        _update(settings)
    reply = assistant.answer("How many passengers does the ferry between Aomori and Hakodate carry?")
    assert any(hit.chunk.doc_id.startswith("ferry-") for hit in reply.passages), "the CLI's articles are seen"
    assert set(assistant.stored.documents) == {VISIT, LECTURE, "ferry-0.txt", "ferry-1.txt", "ferry-2.txt"}
    (settings.documents_dir / "ferry-3.txt").write_text(f"{FERRY} Crossing 3.", encoding="utf-8")
    assistant.index()  # a write here tidies what the old snapshot held
    assert _segments_on_disk(settings.index_dir) == _named(settings.index_dir)


def test_a_reader_that_loses_a_race_with_a_clean_up_reads_the_new_manifest(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _update(settings)
    real = store.read_manifest_stamped
    stale = json.loads((settings.index_dir / store.MANIFEST).read_text())
    stale["segments"] = [{"name": "seg-deletedmeanwhile", "chunks": 1}, *stale["segments"]]
    calls = []

    def first_the_stale_one(folder: Path):  # type: ignore[no-untyped-def]
        calls.append(folder)
        return (stale, (0, 0, 0)) if len(calls) == 1 else real(folder)

    monkeypatch.setattr(store, "read_manifest_stamped", first_the_stale_one)
    stored = store.load(settings.index_dir, "test/hash-embedder", 256)
    assert len(calls) == 2 and set(stored.documents) == {VISIT, LECTURE}


# -- a damaged index is never a dead end ---------------------------------------------------------
@pytest.fixture
def runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(cli, "_assistant", lambda s: make_assistant(s))
    monkeypatch.setenv("RAG_DOCUMENTS", str(settings.documents_dir))
    monkeypatch.setenv("RAG_INDEX", str(settings.index_dir))
    return CliRunner()


def test_a_missing_segment_is_repaired_by_rag_index(runner: CliRunner, settings: Settings) -> None:
    """The state two writers left: a manifest naming a segment the other one deleted."""
    assert runner.invoke(cli.main, ["index"]).exit_code == 0
    (settings.documents_dir / "ferry.txt").write_text(FERRY, encoding="utf-8")
    assert runner.invoke(cli.main, ["index"]).exit_code == 0
    first = sorted(_named(settings.index_dir))[0]
    lost = [d for d, e in json.loads((settings.index_dir / store.MANIFEST).read_text())["documents"].items()
            if e["segment"] == first]
    shutil.rmtree(settings.index_dir / first)
    with pytest.raises(IndexStoreError, match="damaged"):
        store.load(settings.index_dir, "test/hash-embedder", 256)
    result = runner.invoke(cli.main, ["index"])
    assert result.exit_code == 0, result.output
    assert f"was damaged ({first} is missing): repaired by embedding its {len(lost)} article" in result.output
    stored = store.load(settings.index_dir, "test/hash-embedder", 256)
    assert set(stored.documents) == {VISIT, LECTURE, "ferry.txt"}
    assert "0 added, 0 changed" in runner.invoke(cli.main, ["index"]).output, "repaired once, then unchanged"


def test_a_missing_segment_whose_articles_are_gone_too_is_repaired(runner: CliRunner, settings: Settings) -> None:
    assert runner.invoke(cli.main, ["index"]).exit_code == 0
    for name in _named(settings.index_dir):
        shutil.rmtree(settings.index_dir / name)
    for name in (VISIT, LECTURE):
        (settings.documents_dir / name).unlink()
    (settings.documents_dir / "ferry.txt").write_text(FERRY, encoding="utf-8")
    result = runner.invoke(cli.main, ["index"])
    assert result.exit_code == 0 and "repaired" in result.output, result.output
    assert set(store.load(settings.index_dir, "test/hash-embedder", 256).documents) == {"ferry.txt"}


def test_an_unreadable_segment_is_repaired(runner: CliRunner, settings: Settings) -> None:
    assert runner.invoke(cli.main, ["index"]).exit_code == 0
    name = sorted(_named(settings.index_dir))[0]
    (settings.index_dir / name / "chunks.npz").write_text("{not numpy")
    result = runner.invoke(cli.main, ["index"])
    assert result.exit_code == 0 and f"{name} is unreadable" in result.output and "repaired" in result.output
    assert set(store.load(settings.index_dir, "test/hash-embedder", 256).documents) == {VISIT, LECTURE}


def test_an_unreadable_manifest_is_rebuilt_and_the_note_says_so(runner: CliRunner, settings: Settings) -> None:
    assert runner.invoke(cli.main, ["index"]).exit_code == 0
    (settings.index_dir / store.MANIFEST).write_text('{"segments": [', encoding="utf-8")
    result = runner.invoke(cli.main, ["index"])
    assert result.exit_code == 0 and "is unreadable" in result.output and "was rebuilt" in result.output
    assert "2 added" in result.output
    assert _segments_on_disk(settings.index_dir) == _named(settings.index_dir), "the old segments are gone"


# -- the web app ----------------------------------------------------------------------------------
def test_an_upload_while_another_process_writes_is_saved_and_says_so(settings: Settings, tmp_path: Path) -> None:
    assistant = make_assistant(replace(settings, index_wait=0))
    assistant.index()
    upload = tmp_path / "ferry.txt"
    upload.write_text(FERRY, encoding="utf-8")
    with store.writer_lock(settings.index_dir):
        status = Library(assistant).upload([upload])
    assert "Another `rag index`" in status and f"pid {os.getpid()}" in status
    assert "1 saved but not indexed" in status and "will be indexed" in status
    assert str(tmp_path) not in status, "no server path on the page"
    assert (settings.documents_dir / "ferry.txt").exists()
    assistant.index()
    assert "ferry.txt" in assistant.stored.documents


def test_chat_errors_never_show_the_servers_paths(settings: Settings) -> None:
    make_assistant(settings).index()
    first = sorted(_named(settings.index_dir))[0]
    shutil.rmtree(settings.index_dir / first)  # damaged before this server loaded it
    chat = Chat(Assistant(settings, embedder=HashEmbedder(), generator=ArticleGenerator()))
    last = list(chat.ask("How many documents were signed?", ChatSession()))[-1]
    shown = last.messages[-1]["content"] + last.panel
    assert "damaged" in shown and "rag index" in shown
    assert str(settings.index_dir) not in shown and str(settings.index_dir.parent) not in shown

    class Broken(ScriptedGenerator):
        def stream(self, messages, max_tokens):  # type: ignore[no-untyped-def]
            raise FileNotFoundError(2, "No such file or directory", str(settings.index_dir / "seg-x/documents.jsonl"))
            yield ""

    store.tidy(settings.index_dir)
    make_assistant(settings).index()  # repaired
    chat = Chat(Assistant(replace(settings, open_answers="generate"), embedder=HashEmbedder(), generator=Broken()))
    last = list(chat.ask("How many documents were signed?", ChatSession()))[-1]
    shown = last.messages[-1]["content"] + last.panel
    assert "Something went wrong while answering (FileNotFoundError)" in shown
    assert "documents.jsonl" not in shown and str(settings.index_dir) not in shown


# -- two processes -------------------------------------------------------------------------------
WRITER = textwrap.dedent(
    """
    import inspect, sys
    from pathlib import Path
    from rag.index import indexing
    from rag.index.local import store
    from rag.ingest.chunking import ChunkingSettings
    from tests.fakes import HashEmbedder
    indexing.MERGE_FACTOR = 2  # a merge every other round
    docs, index, who, rounds = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    waiting = {"wait_s": 60} if "wait_s" in inspect.signature(indexing.update_index).parameters else {}
    for n in range(rounds):
        (docs / f"{who}-{n:02}.txt").write_text(f"Report {n} of {who}: the bridge opened on day {n}.", "utf-8")
        stored, _ = indexing.update_index(docs, index, HashEmbedder(), ChunkingSettings(), **waiting)
        for doc_id in stored.documents:
            stored.documents[doc_id].text  # every article of the snapshot reads back
        reader = store.load(index, "test/hash-embedder", 256)
        assert all(c.text for c in reader.chunks)
    """
)


@pytest.mark.server  # two real processes, a few seconds
def test_two_writer_processes_never_damage_the_index(settings: Settings) -> None:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    rounds = 12
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(settings.documents_dir), str(settings.index_dir), who, str(rounds)],
            env=env, stderr=subprocess.PIPE, text=True,
        )
        for who in ("cron", "person")
    ]
    errors = [w.communicate(timeout=600)[1] for w in writers]
    assert [w.returncode for w in writers] == [0, 0], "\n".join(errors)
    stored = store.load(settings.index_dir, "test/hash-embedder", 256)
    expected = {VISIT, LECTURE} | {f"{who}-{n:02}.txt" for who in ("cron", "person") for n in range(rounds)}
    assert set(stored.documents) == expected

"""The same indexing and retrieval promises on both index engines: the local segments of the index
folder (the default) and Milvus (here Milvus Lite 2.5.1, the real engine embedded, one file per test session).

Incremental updates by content hash, crash safety, refusing an index built by another embedder,
exact citations, and the same passages found by dense, BM25 and hybrid search.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from rag import Settings, faults
from rag.errors import IndexStoreError
from rag.filters import Filters
from rag.index import DocumentEntry, IndexReport, Searcher, Snapshot, open_index
from rag.index.milvus import store
from rag.ingest.chunking import ChunkingSettings
from rag.models.embedding import embedder_name
from rag.text.terms import terms
from tests.conftest import LECTURE, VISIT, make_assistant
from tests.fakes import HashEmbedder

BACKENDS = ["local", "milvus"]
_names = itertools.count()


@pytest.fixture(scope="session")
def milvus_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("milvus") / "test.db")


@pytest.fixture(params=BACKENDS)
def backend_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    if request.param == "milvus":
        # One Milvus Lite file for the session; each test its own collections.
        return replace(settings, milvus_uri=request.getfixturevalue("milvus_file"),
                       milvus_collection=f"test{next(_names)}")
    return settings


def _build(settings: Settings, embedder: HashEmbedder | None = None) -> tuple[Snapshot, IndexReport]:
    return open_index(settings, embedder or HashEmbedder()).update()


def _load(settings: Settings, embedder: HashEmbedder | None = None) -> Snapshot:
    return open_index(settings, embedder or HashEmbedder()).load()


def _exists(settings: Settings) -> bool:
    return open_index(settings).exists()


def _searcher(snapshot: Snapshot, settings: Settings) -> Searcher:
    embedder = HashEmbedder()
    return open_index(settings, embedder).searcher(snapshot, embedder)


def _milvus_rows(settings: Settings) -> set[tuple[str, str]]:
    """(doc id, content hash) of every chunk row in Milvus, and the collections there are."""
    index = _load(settings)
    assert isinstance(index, store.MilvusIndex)
    assert not index.collections.other_chunk_collections()
    rows = index.collections.query(index.collections.chunks, 'doc_hash != ""', ["doc_id", "doc_hash"])
    return {(r["doc_id"], r["doc_hash"]) for r in rows}


def test_the_first_build_embeds_everything_and_loads_back_the_same(backend_settings: Settings) -> None:
    embedder = HashEmbedder()
    assert not _exists(backend_settings)
    stored, report = _build(backend_settings, embedder)
    assert sorted(report.added) == sorted([VISIT, LECTURE])
    assert report.chunks_embedded == len(stored.chunks) == embedder.texts_embedded > 0
    assert _exists(backend_settings)
    loaded = _load(backend_settings)
    assert [c.id for c in loaded.chunks] == [c.id for c in stored.chunks]
    for doc_id in (VISIT, LECTURE):
        original = (backend_settings.documents_dir / doc_id).read_text(encoding="utf-8")
        assert loaded.documents[doc_id].hash == loaded.manifest["documents"][doc_id]["hash"]
        assert original.strip()[:200] in loaded.documents[doc_id].text
    for chunk in loaded.chunks:
        assert loaded.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text


def test_nothing_changed_embeds_nothing_and_writes_nothing(backend_settings: Settings) -> None:
    first, _ = _build(backend_settings)
    embedder = HashEmbedder()
    again, report = _build(backend_settings, embedder)
    assert embedder.texts_embedded == 0 and not report.wrote
    assert again.manifest == first.manifest == _load(backend_settings).manifest


def test_add_change_and_delete_are_incremental(backend_settings: Settings) -> None:
    docs = backend_settings.documents_dir
    _build(backend_settings)
    (docs / "new.md").write_text("# New article\n\nThe bridge opened on Monday.", encoding="utf-8")
    visit = docs / VISIT
    visit.write_text(visit.read_text(encoding="utf-8").replace("14 documents", "15 documents"), encoding="utf-8")
    (docs / LECTURE).unlink()

    embedder = HashEmbedder()
    stored, report = _build(backend_settings, embedder)
    assert report.added == ["new.md"] and report.changed == [VISIT] and report.removed == [LECTURE]
    assert all("bridge" in t or t in stored.documents[VISIT].text for call in embedder.calls for t in call)
    loaded = _load(backend_settings)
    assert [c.id for c in loaded.chunks] == [c.id for c in stored.chunks]
    assert not any(c.doc_id == LECTURE for c in loaded.chunks), "a deleted file's chunks disappear"
    assert any("15 documents" in c.text for c in loaded.chunks)
    assert not any("14 documents" in c.text for c in loaded.chunks), "an edited file's old chunks are replaced"
    hits = _searcher(loaded, backend_settings).search("14 documents signed", 10)
    assert hits and not any("14 documents" in h.chunk.text for h in hits)
    if backend_settings.milvus_uri:
        live = {(d, e["hash"]) for d, e in loaded.manifest["documents"].items()}
        assert _milvus_rows(backend_settings) == live, "old rows deleted"


def test_changed_chunking_settings_rebuild_everything(backend_settings: Settings) -> None:
    _build(backend_settings)
    embedder = HashEmbedder()
    stored, _ = _build(replace(backend_settings, chunking=ChunkingSettings(chunk_tokens=60)), embedder)
    assert embedder.texts_embedded == len(stored.chunks) > 0


def test_an_index_built_by_another_embedder_is_refused_then_rebuilt(backend_settings: Settings) -> None:
    _build(backend_settings)
    other = HashEmbedder(dimension=128)
    with pytest.raises(IndexStoreError, match="128") as err:
        _load(backend_settings, other)
    assert "rag index" in str(err.value)
    stored, report = _build(backend_settings, other)
    assert other.texts_embedded == len(stored.chunks) and sorted(report.added) == sorted([VISIT, LECTURE])
    assert len(_load(backend_settings, other).chunks) == len(stored.chunks)


def test_switching_between_fp32_and_int8_minilm_rebuilds(backend_settings: Settings) -> None:
    """The two MiniLM backends give the same dimension but not the same vectors: an index built by one
    is refused by the other with both names and the command to run, and `rag index` rebuilds it."""
    fp32, int8 = HashEmbedder(), HashEmbedder()
    fp32.name, int8.name = embedder_name("onnx"), embedder_name("onnx-int8")
    assert fp32.name != int8.name and embedder_name("torch") == fp32.name
    _build(backend_settings, fp32)
    with pytest.raises(IndexStoreError) as err:
        _load(backend_settings, int8)
    assert f"{fp32.name!r}" in str(err.value) and f"{int8.name!r}" in str(err.value)
    assert "Run `rag index`" in str(err.value)
    stored, report = _build(backend_settings, int8)
    assert int8.texts_embedded == len(stored.chunks) > 0 and sorted(report.added) == sorted([VISIT, LECTURE])
    assert _load(backend_settings, int8).manifest == stored.manifest


def _killed_at_the_commit_point() -> contextlib.AbstractContextManager[None]:
    """While the block runs, an update is killed at its commit point (either engine)."""
    def crash(where: object) -> None:
        raise KeyboardInterrupt(f"killed while committing {where}")

    return faults.injected("index.commit", crash)


def test_a_crash_before_the_commit_leaves_the_previous_index_whole_and_unpolluted(
    backend_settings: Settings
) -> None:
    before, _ = _build(backend_settings)
    docs = backend_settings.documents_dir
    (docs / "new.txt").write_text("A brand new article about bridges and 14 documents.", encoding="utf-8")
    visit = docs / VISIT
    visit.write_text(visit.read_text(encoding="utf-8").replace("14 documents", "15 documents"), encoding="utf-8")
    with _killed_at_the_commit_point(), pytest.raises(KeyboardInterrupt):
        _build(backend_settings)

    survived = _load(backend_settings)
    assert [c.id for c in survived.chunks] == [c.id for c in before.chunks]
    assert survived.manifest == before.manifest
    for mode in ("dense", "bm25", "hybrid"):
        retriever = _searcher(survived, replace(backend_settings, retriever=mode))
        hits = retriever.search("bridges 15 documents", 20)
        assert hits and all(h.chunk.doc_id != "new.txt" and "15 documents" not in h.chunk.text for h in hits)

    _, report = _build(backend_settings)
    assert report.added == ["new.txt"] and report.changed == [VISIT]
    if backend_settings.milvus_uri:
        live = {(d, e["hash"]) for d, e in _load(backend_settings).manifest["documents"].items()}
        assert _milvus_rows(backend_settings) == live, "leftovers deleted"


def test_a_running_milvus_reader_follows_an_update_committed_elsewhere(settings: Settings, milvus_file: str) -> None:
    shared = replace(settings, milvus_uri=milvus_file, milvus_collection=f"test{next(_names)}")
    _build(shared)
    reader = _searcher(_load(shared), shared)  # e.g. a web process
    visit = shared.documents_dir / VISIT
    visit.write_text(visit.read_text(encoding="utf-8").replace("14 documents", "15 documents"), encoding="utf-8")
    _build(shared)  # `rag index` run elsewhere
    hits = reader.search("How many documents were signed?", 5)
    assert any("15 documents" in h.chunk.text for h in hits)
    assert not any("14 documents" in h.chunk.text for h in hits)
    assert reader.index.manifest == _load(shared).manifest


QUESTIONS = [
    "How many documents were signed after the talks with the Prime Minister?",
    "Who did Tokayev meet on December 19?",
    "keynote lecture United Nations University",
]


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_milvus_finds_the_same_passages_as_the_local_engine_and_bm25s(
    settings: Settings, milvus_file: str, mode: str
) -> None:
    local_settings = replace(settings, retriever=mode)
    milvus_settings = replace(local_settings, milvus_uri=milvus_file, milvus_collection=f"test{next(_names)}")
    local = _searcher(_build(local_settings)[0], local_settings)
    milvus = _searcher(_build(milvus_settings)[0], milvus_settings)
    for question in QUESTIONS:
        expected, found = local.search(question, 5), milvus.search(question, 5)
        assert found[0].chunk == expected[0].chunk
        assert len({h.chunk.id for h in found} & {h.chunk.id for h in expected}) >= 4, "at most a tie at the end"
        by_id = {h.chunk.id: h for h in local.search(question, 50)}
        for hit, rival in zip(found, expected, strict=True):
            assert hit.dense == pytest.approx(by_id[hit.chunk.id].dense, abs=1e-4)
            assert hit.lexical == pytest.approx(by_id[hit.chunk.id].lexical, rel=1e-3, abs=1e-4)
            assert hit.title == by_id[hit.chunk.id].title
            # The same scores in the same order: any difference in the ranking is between equals. (In
            # hybrid, equals broken differently in one list shift the fused scores of the last few.)
            if mode != "hybrid" or hit.rank <= 3:
                assert hit.score == pytest.approx(rival.score, rel=1e-3, abs=1e-4), [h.score for h in found]
    assert milvus.idf("document") == pytest.approx(local.idf("document"))


def test_a_whole_answer_from_milvus_cites_exact_spans(backend_settings: Settings) -> None:
    assistant = make_assistant(backend_settings, ["The meeting ended with signing 14 documents [1]."])
    reply = assistant.answer("How many documents were signed after the talks with the Prime Minister?")
    assert reply.citations and not reply.abstained
    for citation in reply.citations:
        assert assistant.stored.documents[citation.doc_id].text[citation.start : citation.end] == citation.quote
    assert any("14 documents" in c.quote for c in reply.citations)


def test_a_bad_collection_name_and_an_unreachable_server_give_clear_errors(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "CONNECT_TIMEOUT_S", 1.0)
    with pytest.raises(IndexStoreError, match="RAG_MILVUS_COLLECTION"):
        _exists(replace(settings, milvus_uri=str(settings.index_dir / "m.db"), milvus_collection="1-x"))
    with pytest.raises(IndexStoreError, match=r"cannot be reached.*RAG_MILVUS_URI"):
        _exists(replace(settings, milvus_uri="http://127.0.0.1:9"))


def test_a_milvus_lite_file_open_in_another_process_gives_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    path = str(tmp_path / "busy.db")
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from pymilvus import MilvusClient; MilvusClient(uri={path!r}); print('open', "
         "flush=True); import time; time.sleep(600)"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(IndexStoreError, match="one process at a time"):
            _exists(replace(settings, milvus_uri=path))
    finally:
        holder.kill()
        holder.wait()


def test_an_upload_embeds_only_the_new_article_on_either_engine(backend_settings: Settings, tmp_path: Path) -> None:
    """The Articles tab chunks and embeds against the index in use (the Milvus one too), not against
    the index folder: an upload embeds the new article's passages once, and nothing else."""
    from ui.library import Library

    embedder = HashEmbedder()
    assistant = make_assistant(backend_settings, embedder=embedder)
    assistant.index()
    before = embedder.texts_embedded
    upload = tmp_path / "bridge.txt"
    upload.write_text("The new bridge over the river opened on Monday after three years of work.", encoding="utf-8")
    status = Library(assistant).upload([upload])
    assert "1 added" in status
    new_chunks = [c for c in assistant.stored.chunks if c.doc_id == "bridge.txt"]
    assert new_chunks and embedder.texts_embedded - before == len(new_chunks)
    assert not (backend_settings.milvus_uri and backend_settings.index_dir.exists())


# -- every retrieval feature, on both engines -------------------------------------------------------
NEWS = {
    "bridge-2022.txt": ("The harbour bridge repairs began. Engineers closed the harbour bridge for repairs.",
                        {"published": "2022-03-01", "source": "Daily Planet"}),
    "bridge-2024.txt": ("The harbour bridge repairs were finished. Engineers reopened the harbour bridge.",
                        {"published": "2024-06-01", "source": "Evening Star"}),
    "bridge-2023.txt": ("The harbour bridge repairs went on. Engineers kept the harbour bridge closed all year.",
                        {"published": "2023-05-01", "source": "Daily Planet"}),
}


@pytest.fixture
def news_settings(backend_settings: Settings) -> Settings:
    for name, (text, meta) in NEWS.items():
        (backend_settings.documents_dir / name).write_text(text, encoding="utf-8")
        (backend_settings.documents_dir / f"{name}.meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return backend_settings


def _built_searcher(settings: Settings) -> Searcher:
    index = open_index(settings, HashEmbedder())
    snapshot, _ = index.update()
    return index.searcher(snapshot, HashEmbedder())


def test_the_catalog_holds_each_articles_entry_typed(news_settings: Settings) -> None:
    snapshot = _built_searcher(news_settings).index
    assert set(snapshot.catalog) == {VISIT, LECTURE, *NEWS}
    entry = snapshot.catalog["bridge-2024.txt"]
    assert isinstance(entry, DocumentEntry)
    assert (entry.doc_id, entry.published, entry.source, entry.chunks) == (
        "bridge-2024.txt", "2024-06-01", "Evening Star", 1)
    assert entry.hash == snapshot.documents["bridge-2024.txt"].hash and entry.title.startswith("The harbour")
    assert sum(e.chunks for e in snapshot.catalog.values()) == len(snapshot.chunks)


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_date_and_source_filters_keep_to_the_articles_they_allow(news_settings: Settings, mode: str) -> None:
    searcher = _built_searcher(replace(news_settings, retriever=mode))
    question = "harbour bridge repairs engineers"
    assert {h.chunk.doc_id for h in searcher.search(question, 10)} >= set(NEWS)
    since = searcher.search(question, 10, Filters.parse(since="2023-01-01"))
    assert {h.chunk.doc_id for h in since} == {"bridge-2023.txt", "bridge-2024.txt"}
    source = searcher.search(question, 10, Filters.parse(sources=["daily planet"]))
    assert {h.chunk.doc_id for h in source} == {"bridge-2022.txt", "bridge-2023.txt"}
    assert all(h.source == "Daily Planet" and h.published for h in source)
    assert searcher.search(question, 10, Filters.parse(until="2000-01-01")) == []


def test_a_question_about_the_latest_news_gets_the_newest_first(news_settings: Settings) -> None:
    searcher = _built_searcher(news_settings)  # hybrid, the default
    latest = searcher.search("What is the latest on the harbour bridge repairs?", 3)
    assert [h.chunk.doc_id for h in latest] == ["bridge-2024.txt", "bridge-2023.txt", "bridge-2022.txt"]
    assert [h.rank for h in latest] == [1, 2, 3]


def test_idf_weighs_rare_words_above_common_ones(news_settings: Settings) -> None:
    searcher = _built_searcher(news_settings)
    reopened, harbour, bridge = (terms(word)[0] for word in ("reopened", "harbour", "bridge"))
    assert searcher.idf("zzyzx") > searcher.idf(reopened) > searcher.idf(harbour) > 0  # unseen, 1 chunk, 3
    assert searcher.idf(bridge) == pytest.approx(searcher.idf(harbour))


def test_prepare_then_update_embeds_once_and_removing_a_file_removes_the_article(backend_settings: Settings) -> None:
    embedder = HashEmbedder()
    index = open_index(backend_settings, embedder)
    index.update()
    (backend_settings.documents_dir / "ferry.txt").write_text("The night ferry to the islands was cancelled.",
                                                              encoding="utf-8")
    prepared = index.prepare()
    assert prepared.report.added == ["ferry.txt"]
    embedded = embedder.texts_embedded
    snapshot, report = index.update(prepared)
    assert report.added == ["ferry.txt"] and embedder.texts_embedded == embedded, "nothing embedded twice"
    assert "ferry.txt" in snapshot.catalog

    (backend_settings.documents_dir / LECTURE).unlink()
    snapshot, report = index.update()
    assert report.removed == [LECTURE] and LECTURE not in snapshot.catalog
    assert not any(c.doc_id == LECTURE for c in snapshot.chunks)
    hits = index.searcher(snapshot, HashEmbedder()).search("keynote lecture United Nations University", 10)
    assert hits and LECTURE not in {h.chunk.doc_id for h in hits}


def test_an_update_reads_only_the_files_that_changed(backend_settings: Settings, monkeypatch: pytest.MonkeyPatch
                                                     ) -> None:
    """Size and modification time say a file is unchanged (indexing.scan_folder, shared): an update
    opens only the new or edited files, on either engine, and a touched file is read once more."""
    import os

    from rag.index import indexing
    from rag.ingest import loading

    _build(backend_settings)
    opened: list[str] = []
    original = loading.read_file

    def recording(path: Path, doc_id: str):  # type: ignore[no-untyped-def]
        opened.append(doc_id)
        return original(path, doc_id)

    monkeypatch.setattr(loading, "read_file", recording)
    monkeypatch.setattr(indexing, "read_file", recording)
    docs = backend_settings.documents_dir
    _, report = _build(backend_settings)
    assert opened == [] and not report.wrote

    (docs / "new.txt").write_text("The night ferry to the islands was cancelled.", encoding="utf-8")
    stat = (docs / LECTURE).stat()
    os.utime(docs / LECTURE, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # touched, same text
    _, report = _build(backend_settings)
    assert sorted(opened) == sorted(["new.txt", LECTURE]) and report.added == ["new.txt"]
    assert LECTURE in report.unchanged and VISIT in report.unchanged

    opened.clear()
    _, report = _build(backend_settings)
    assert opened == [] and not report.wrote, "the touched file's new signature was recorded"
    assert set(_load(backend_settings).catalog) == {VISIT, LECTURE, "new.txt"}


def test_idf_follows_adds_changes_and_removals_without_reading_the_chunks(backend_settings: Settings) -> None:
    """The checker's IDF equals `idf_table` over the live chunks after every kind of update: the
    local engine counts from its segments' term matrices, Milvus from the term counts it keeps
    with each manifest (milvus_terms.py), adding and subtracting what each update writes."""
    from rag.text.terms import idf_table

    docs = backend_settings.documents_dir
    _build(backend_settings)
    (docs / "ferry.txt").write_text("The night ferry to the islands was cancelled. The ferry returns.",
                                    encoding="utf-8")
    visit = docs / VISIT
    visit.write_text(visit.read_text(encoding="utf-8").replace("14 documents", "15 islands"), encoding="utf-8")
    _build(backend_settings)
    (docs / LECTURE).unlink()
    for step in ("after add and change", "after removal"):
        searcher = _built_searcher(backend_settings)
        texts = [c.text for c in searcher.index.chunks]
        expected = idf_table(texts)
        for term in {t for text in texts for t in terms(text)} | {"zzyzx", "lectur", "14"}:
            assert searcher.idf(term) == pytest.approx(expected(term)), (step, term)


def test_a_milvus_searcher_starts_without_reading_every_chunk(settings: Settings, milvus_file: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    shared = replace(settings, milvus_uri=milvus_file, milvus_collection=f"test{next(_names)}")
    _build(shared)
    read: list[tuple[str, str]] = []  # (collection, expression) of every query through Collections.query
    real = store.Collections.query

    def recording(self: store.Collections, name: str, filter: str, fields: list[str]) -> list[dict]:  # type: ignore[type-arg]
        read.append((name, filter))
        return real(self, name, filter, fields)

    monkeypatch.setattr(store.Collections, "query", recording)
    index = open_index(shared, HashEmbedder())
    searcher = index.searcher(index.load(), HashEmbedder())
    assert searcher.search("How many documents were signed?", 3)
    assert searcher.idf("zzyzx") > searcher.idf(terms("documents")[0]) > 0
    assert not [r for r in read if "_chunks_" in r[0]], "a chunk collection read at start"
    visit = shared.documents_dir / VISIT
    visit.write_text(visit.read_text(encoding="utf-8").replace("14 documents", "15 documents"), encoding="utf-8")
    _build(shared)  # an update reads the terms of the rows it replaces, by their hash, not every row
    chunk_reads = [f for name, f in read if "_chunks_" in name]
    assert chunk_reads and all(f.startswith("doc_hash in [") and f.count('"') == 2 for f in chunk_reads), chunk_reads
    assert any("15 documents" in h.chunk.text for h in searcher.search("How many documents were signed?", 3))


def test_milvus_clean_up_names_only_what_went_away_in_bounded_batches(
    settings: Settings, milvus_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No expression an update sends to Milvus names an unchanged article: the clean-up deletes the
    rows an update replaced by primary key and the texts of hashes that went away, DELETE_BATCH at
    a time, however many articles stay."""
    shared = replace(settings, milvus_uri=milvus_file, milvus_collection=f"test{next(_names)}")
    docs = shared.documents_dir
    for n in range(12):
        (docs / f"short-{n}.txt").write_text(f"Short article number {n} about the harbour and boat {n}.",
                                             encoding="utf-8")
    first, _ = _build(shared)
    monkeypatch.setattr(store, "DELETE_BATCH", 2)
    (docs / "short-0.txt").write_text("Short article zero, rewritten: the harbour closed.", encoding="utf-8")
    (docs / "short-1.txt").unlink()
    (docs / "short-2.txt").unlink()

    client = store.connect(milvus_file)
    sent: list[tuple[str, str, int]] = []  # (method, expression, primary keys named)
    for method in ("delete", "query", "query_iterator"):
        real = getattr(client, method)

        def recording(*args: object, _real=real, _method=method, **kwargs: object) -> object:  # type: ignore[no-untyped-def]
            sent.append((_method, str(kwargs.get("filter") or ""), len(kwargs.get("ids") or [])))  # type: ignore[arg-type]
            return _real(*args, **kwargs)

        monkeypatch.setattr(client, method, recording)
    stored, report = _build(shared)
    monkeypatch.undo()
    assert report.changed == ["short-0.txt"] and report.removed == ["short-1.txt", "short-2.txt"]
    touched = {f"short-{n}.txt" for n in range(3)}
    unchanged = {e["hash"] for d, e in first.manifest["documents"].items() if d not in touched}
    assert sent and not [s for s in sent if any(h in s[1] for h in unchanged)], "an unchanged article named"
    deletes = [s for s in sent if s[0] == "delete"]
    assert deletes and all(s[1].count('"') <= 2 * 3 and s[2] <= 2 for s in deletes), deletes
    live = {(d, e["hash"]) for d, e in stored.manifest["documents"].items()}
    assert _milvus_rows(shared) == live


def test_milvus_rows_of_an_update_killed_before_its_commit_go_even_when_never_committed(
    settings: Settings, milvus_file: str
) -> None:
    shared = replace(settings, milvus_uri=milvus_file, milvus_collection=f"test{next(_names)}")
    _build(shared)
    visit = shared.documents_dir / VISIT
    text = visit.read_text(encoding="utf-8")
    visit.write_text(text.replace("14 documents", "15 documents"), encoding="utf-8")
    with _killed_at_the_commit_point(), pytest.raises(KeyboardInterrupt):
        _build(shared)
    visit.write_text(text.replace("14 documents", "16 documents"), encoding="utf-8")  # that version never lands
    _build(shared)
    live = {(d, e["hash"]) for d, e in _load(shared).manifest["documents"].items()}
    assert _milvus_rows(shared) == live, "the killed update's rows are deleted by the next one"
    index = _load(shared)
    assert isinstance(index, store.MilvusIndex)
    texts = index.collections.query(index.collections.texts, 'key != ""', ["key"])
    assert {r["key"] for r in texts} == {h for _, h in live}


def test_milvus_rows_an_update_killed_after_its_commit_replaced_go_at_the_next_one(
    settings: Settings, milvus_file: str
) -> None:
    shared = replace(settings, milvus_uri=milvus_file, milvus_collection=f"test{next(_names)}")
    _build(shared)
    visit = shared.documents_dir / VISIT
    visit.write_text(visit.read_text(encoding="utf-8").replace("14 documents", "15 documents"), encoding="utf-8")
    (shared.documents_dir / LECTURE).unlink()

    def killed() -> None:
        raise KeyboardInterrupt("killed after the commit, before the clean-up")

    with faults.injected("index.clean_up", killed), pytest.raises(KeyboardInterrupt):
        _build(shared)
    _, report = _build(shared)  # nothing changed in the folder: the clean-up is finished all the same
    assert not report.added and not report.changed and not report.removed
    live = {(d, e["hash"]) for d, e in _load(shared).manifest["documents"].items()}
    assert _milvus_rows(shared) == live and [d for d, _ in live] == [VISIT]


# -- one story, one passage, on both engines ---------------------------------------------------------
@pytest.fixture
def story_settings(backend_settings: Settings) -> Settings:
    from tests.test_stories import EDITED, FARES, HARBOUR, MUSEUM

    docs = backend_settings.documents_dir
    for name, text in {"bbc-fares.txt": "Rail fares to rise 3.1%\n\n" + FARES,
                       "wire-fares.txt": "Rail fares to rise 3.1%\n\n" + FARES,
                       "guardian-fares.txt": "Commuters face another fare rise\n\n" + EDITED,
                       "harbour.txt": HARBOUR, "museum.txt": MUSEUM}.items():
        (docs / name).write_text(text, encoding="utf-8")
    return backend_settings


FARE_COPIES = {"bbc-fares.txt", "wire-fares.txt", "guardian-fares.txt"}


def _stories_of(searcher: Searcher) -> list[tuple[str, ...]]:
    by_story: dict[str, list[str]] = {}
    for entry in searcher.index.catalog.values():
        if entry.story:
            by_story.setdefault(entry.story, []).append(entry.doc_id)
    return sorted(tuple(sorted(ids)) for ids in by_story.values())


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_copies_of_one_story_give_one_passage_naming_the_others(story_settings: Settings, mode: str) -> None:
    searcher = _built_searcher(replace(story_settings, retriever=mode))
    assert _stories_of(searcher) == [tuple(sorted(FARE_COPIES))]
    hits = searcher.search("How much will rail fares rise in January?", 5)
    fares = [h for h in hits if h.chunk.doc_id in FARE_COPIES]
    assert fares and len({h.chunk.doc_id for h in fares}) == 1, "no two copies of one story among the passages"
    assert all(set(h.also_in) == FARE_COPIES - {fares[0].chunk.doc_id} for h in fares)
    assert all(not h.also_in for h in hits if h.chunk.doc_id not in FARE_COPIES)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


def test_editing_and_removing_a_copy_regroups_the_story(story_settings: Settings) -> None:
    from tests.test_stories import MUSEUM

    docs = story_settings.documents_dir
    _built_searcher(story_settings)
    (docs / "guardian-fares.txt").write_text(MUSEUM + " A new line about the museum shop.", encoding="utf-8")
    searcher = _built_searcher(story_settings)
    assert _stories_of(searcher) == [("bbc-fares.txt", "wire-fares.txt"), ("guardian-fares.txt", "museum.txt")]
    hits = searcher.search("How much will rail fares rise in January?", 5)
    assert {h.also_in for h in hits if h.chunk.doc_id in {"bbc-fares.txt", "wire-fares.txt"}} in (
        {("wire-fares.txt",)}, {("bbc-fares.txt",)})
    (docs / "wire-fares.txt").unlink()
    (docs / "museum.txt").unlink()
    searcher = _built_searcher(story_settings)
    assert _stories_of(searcher) == []
    assert not any(h.also_in for h in searcher.search("How much will rail fares rise in January?", 5))

"""The segmented index: one article's change costs one article's work, merges keep results, BM25
over segments equals bm25s over the live chunks, a killed build resumes, and filters and recency
steer retrieval."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rag import faults
from rag.filters import Filters
from rag.index import indexing
from rag.index.local import store
from rag.index.local.retrieval import Retriever, asks_for_recent
from rag.ingest import loading
from rag.ingest.chunking import ChunkingSettings
from rag.text.terms import terms
from rag.types import Document
from tests.fakes import HashEmbedder

TOPICS = ["bridge", "harbour", "railway", "school", "hospital", "airport", "museum", "stadium"]


def _article(n: int) -> str:
    topic = TOPICS[n % len(TOPICS)]
    return (
        f"Article {n} reports on the {topic} of town {n}. The mayor opened the {topic} on day {n}. "
        f"Residents said the {topic} cost {n * 3} million. Engineers inspected it {n % 5 + 1} times."
    )


def _folder(tmp_path: Path, count: int) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    for n in range(count):
        (docs / f"a{n:03}.txt").write_text(_article(n), encoding="utf-8")
    return docs


def _build(docs: Path, index: Path, embedder: HashEmbedder | None = None):  # type: ignore[no-untyped-def]
    return indexing.update_index(docs, index, embedder or HashEmbedder(), ChunkingSettings())


def _segments(index: Path) -> list[str]:
    return [s["name"] for s in json.loads((index / "manifest.json").read_text())["segments"]]


def test_adding_one_article_writes_one_small_segment_and_leaves_the_others_untouched(tmp_path: Path) -> None:
    docs, index = _folder(tmp_path, 30), tmp_path / "index"
    _build(docs, index)
    before = {p: p.stat().st_mtime_ns for p in index.glob("seg-*/*")}
    (docs / "new.txt").write_text("A brand new article about a ferry.", encoding="utf-8")
    embedder = HashEmbedder()
    stored, report = _build(docs, index, embedder)
    assert report.added == ["new.txt"] and embedder.texts_embedded == 1
    assert len(_segments(index)) == 2
    assert {p: p.stat().st_mtime_ns for p in before} == before, "the first segment is not rewritten"
    assert stored.documents["new.txt"].text == "A brand new article about a ferry."
    assert len(stored.chunks) == 31


def test_an_unchanged_index_reads_no_article(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs, index = _folder(tmp_path, 10), tmp_path / "index"
    _build(docs, index)

    def must_not_read(path: Path, doc_id: str) -> tuple[Document, str | None]:
        raise AssertionError(f"{doc_id} was read again")

    monkeypatch.setattr(indexing, "read_file", must_not_read)
    stored, report = _build(docs, index)
    assert not report.wrote and len(report.unchanged) == 10 and len(stored.chunks) == 10


def test_a_touched_but_unchanged_file_is_read_once_and_not_embedded(tmp_path: Path) -> None:
    docs, index = _folder(tmp_path, 5), tmp_path / "index"
    _build(docs, index)
    os.utime(docs / "a001.txt", ns=(1, 1))
    embedder = HashEmbedder()
    _, report = _build(docs, index, embedder)
    assert embedder.texts_embedded == 0 and report.unchanged.count("a001.txt") == 1
    manifest = json.loads((index / "manifest.json").read_text())
    assert manifest["documents"]["a001.txt"]["stat"][1] == 1, "the new time is remembered"


def _oracle_bm25(stored: store.StoredIndex, query: str) -> dict[str, float]:
    import bm25s

    chunks = list(stored.chunks)
    bm25 = bm25s.BM25()
    bm25.index([terms(c.text) or ["_"] for c in chunks], show_progress=False)
    known = [t for t in terms(query) if t in bm25.vocab_dict]
    scores = bm25.get_scores(known) if known else np.zeros(len(chunks))
    return {c.id: float(s) for c, s in zip(chunks, scores, strict=True)}


def test_bm25_over_segments_with_replaced_and_removed_articles_equals_bm25s_over_the_live_chunks(
    tmp_path: Path,
) -> None:
    docs, index = _folder(tmp_path, 12), tmp_path / "index"
    _build(docs, index)
    (docs / "a003.txt").write_text("The bridge of town 3 was closed. The bridge bridge reopened.", encoding="utf-8")
    (docs / "a004.txt").unlink()
    (docs / "z.txt").write_text("A railway and a bridge were opened on day 9.", encoding="utf-8")
    stored, _ = _build(docs, index)
    assert len(stored.segments) == 2 and not stored.live.all(), "dead rows are in the first segment"
    retriever = Retriever(stored, HashEmbedder(), "bm25")
    for query in ("bridge", "railway bridge day 9", "How much did the harbour cost?", "bridge bridge"):
        expected = _oracle_bm25(stored, query)
        got = retriever._bm25.scores(terms(query))
        for row in stored.live_rows:
            chunk = stored.chunk_at(int(row))
            assert got[row] == pytest.approx(expected[chunk.id], rel=1e-5), (query, chunk.id)
        assert not got[~stored.live].any(), "dead rows score nothing"
    hits = retriever.search("bridge closed", 3)
    assert hits[0].chunk.doc_id == "a003.txt" and "closed" in hits[0].chunk.text
    assert not any(h.chunk.doc_id == "a004.txt" for h in retriever.search("harbour town 4", 20))


def test_merging_small_segments_keeps_every_answer_the_same(tmp_path: Path) -> None:
    docs, index = _folder(tmp_path, 8), tmp_path / "index"
    _build(docs, index)
    for n in range(8, 8 + indexing.MERGE_FACTOR):  # one article at a time, as a reader adds them
        (docs / f"a{n:03}.txt").write_text(_article(n), encoding="utf-8")
        stored, _ = _build(docs, index)
    assert len(_segments(index)) < indexing.MERGE_FACTOR, "small segments were merged"
    assert len(list(index.glob("seg-*"))) == len(_segments(index)), "merged segments are deleted"
    fresh, _ = _build(docs, tmp_path / "fresh")
    embedder = HashEmbedder()
    for query in ("Who opened the museum?", "railway cost 27 million", "inspected 3 times"):
        merged_hits = Retriever(stored, embedder).search(query, 5)
        fresh_hits = Retriever(fresh, embedder).search(query, 5)
        assert [(h.chunk.id, h.chunk.text) for h in merged_hits] == [(h.chunk.id, h.chunk.text) for h in fresh_hits]
        assert [h.score for h in merged_hits] == pytest.approx([h.score for h in fresh_hits])
        assert [h.lexical for h in merged_hits] == pytest.approx([h.lexical for h in fresh_hits])


def test_a_mostly_replaced_segment_is_rewritten_without_its_dead_rows(tmp_path: Path) -> None:
    docs, index = _folder(tmp_path, 6), tmp_path / "index"
    _build(docs, index)
    for n in range(4):
        (docs / f"a{n:03}.txt").write_text(f"Rewritten article {n} about a canal.", encoding="utf-8")
    stored, _ = _build(docs, index)
    assert stored.live.all(), "no segment keeps more dead rows than live ones"
    assert sorted(c.doc_id for c in stored.chunks) == [f"a{n:03}.txt" for n in range(6)]


def test_a_build_killed_half_way_keeps_the_segments_it_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs, index = _folder(tmp_path, 40), tmp_path / "index"
    monkeypatch.setattr(indexing, "SEGMENT_CHUNKS", 10)
    monkeypatch.setattr(indexing, "EMBED_BATCH", 10)
    embedder = HashEmbedder()
    real = embedder.embed

    def dies_on_the_third_batch(texts):  # type: ignore[no-untyped-def]
        if len(embedder.calls) == 2:
            raise KeyboardInterrupt("killed")
        return real(texts)

    monkeypatch.setattr(embedder, "embed", dies_on_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        _build(docs, index, embedder)
    survived = store.load(index, embedder.name, embedder.dimension)
    assert len(survived.documents) == 20 and len(survived.chunks) == 20, "two segments of 10 were committed"

    again = HashEmbedder()
    stored, report = _build(docs, index, again)
    assert again.texts_embedded == 20 and len(report.added) == 20 and len(report.unchanged) == 20
    assert len(stored.chunks) == 40


def test_a_crash_while_merging_leaves_the_previous_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs, index = _folder(tmp_path, 4), tmp_path / "index"
    _build(docs, index)
    for n in range(4, 4 + indexing.MERGE_FACTOR - 2):  # one segment short of a merge
        (docs / f"a{n:03}.txt").write_text(_article(n), encoding="utf-8")
        _build(docs, index)
    before = store.load(index, "test/hash-embedder", 256)
    assert len(before.segments) == indexing.MERGE_FACTOR - 1
    (docs / "last.txt").write_text("The last article, about a tunnel.", encoding="utf-8")

    def killed(segments: list[str]) -> None:
        assert len(segments) >= 2, "a merge joins segments"
        raise SystemExit("killed while merging")

    with faults.injected("index.merge", killed), pytest.raises(SystemExit):
        _build(docs, index)
    survived = store.load(index, "test/hash-embedder", 256)
    assert {c.id for c in before.chunks} <= {c.id for c in survived.chunks}
    assert "last.txt" in survived.documents, "the new segment was committed before the merge"


def _dated(monkeypatch: pytest.MonkeyPatch, meta: dict[str, tuple[str | None, str | None]]) -> None:
    real = loading.read_file

    def with_metadata(path: Path, doc_id: str) -> tuple[Document, str | None]:
        document, note = real(path, doc_id)
        published, source = meta.get(doc_id, (None, None))
        return replace(document, published=published, source=source), note

    monkeypatch.setattr(indexing, "read_file", with_metadata)


def test_filters_keep_to_a_date_range_and_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs, index = _folder(tmp_path, 16), tmp_path / "index"
    _dated(monkeypatch, {f"a{n:03}.txt": (f"2024-{n % 12 + 1:02}-15", "Daily" if n % 2 else "Herald")
                         for n in range(15)})
    stored, _ = _build(docs, index)
    retriever = Retriever(stored, HashEmbedder())
    hits = retriever.search("bridge mayor opened", 10, Filters.parse(since="2024-03-01", until="2024-06-30"))
    assert hits and all("2024-03-15" <= (h.published or "") <= "2024-06-15" for h in hits)
    herald = retriever.search("bridge mayor opened", 10, Filters.parse(sources=["herald"]))
    assert herald and {h.source for h in herald} == {"Herald"}
    dated = retriever.search("town 15", 20, Filters.parse(since="2000-01-01"))
    assert "a015.txt" not in {h.chunk.doc_id for h in dated}, "an undated article is left out by a date filter"
    assert retriever.search("bridge", 5, Filters.parse(sources=["nobody"])) == []


def test_a_question_about_the_latest_news_prefers_newer_articles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    texts = {
        "old.txt": "The ferry strike began. The ferry strike closed the port, a strike of ferry crews.",
        "mid.txt": "The ferry strike continued. Ferry workers and owners met in the port.",
        "new.txt": "The ferry strike ended. Ferry workers accepted the offer in the port.",
    }
    for name, text in texts.items():
        (docs / name).write_text(text, encoding="utf-8")
    _dated(monkeypatch, {"old.txt": ("2023-01-02", "Daily"), "mid.txt": ("2023-06-02", "Daily"),
                         "new.txt": ("2024-02-02T08:00:00+00:00", "Daily")})
    stored, _ = _build(docs, tmp_path / "index")
    retriever = Retriever(stored, HashEmbedder())
    assert asks_for_recent("What is the latest on the ferry strike?")
    assert retriever.search("What is the latest on the ferry strike?", 3)[0].chunk.doc_id == "new.txt"
    assert retriever.search("What happened in the ferry strike?", 3)[0].chunk.doc_id == "old.txt", (
        "without a question about recency, the most relevant article comes first"
    )


def test_a_sidecar_added_or_edited_later_is_noticed_without_reading_other_files(tmp_path: Path) -> None:
    docs, index = _folder(tmp_path, 5), tmp_path / "index"
    _build(docs, index)
    (docs / "a001.txt.meta.json").write_text('{"source": "Herald", "published": "2024-05-01"}', "utf-8")
    stored, report = _build(docs, index)
    assert report.changed == ["a001.txt"] and stored.manifest["documents"]["a001.txt"]["source"] == "Herald"
    (docs / "a001.txt.meta.json").write_text('{"source": "Daily Post", "published": "2024-05-01"}', "utf-8")
    stored, report = _build(docs, index)
    assert report.changed == ["a001.txt"] and stored.documents["a001.txt"].source == "Daily Post"
    hits = Retriever(stored, HashEmbedder()).search("harbour", 3, Filters.parse(sources=["daily post"]))
    assert [h.chunk.doc_id for h in hits] == ["a001.txt"]


def test_a_segment_above_the_threshold_is_searched_approximately_and_finds_the_same_passages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.index.local import vector_index

    docs = _folder(tmp_path, 300)
    exact, _ = _build(docs, tmp_path / "exact")
    monkeypatch.setattr(vector_index, "APPROXIMATE_ABOVE", 100)
    approximate, _ = _build(docs, tmp_path / "approximate")
    assert [s.vector_index.kind for s in approximate.segments] == ["hnsw"]
    assert list((tmp_path / "approximate").glob("seg-*/vectors.ann"))
    embedder = HashEmbedder()
    agree = 0
    queries = [f"the {TOPICS[n % 8]} of town {n} cost {n * 3} million" for n in range(0, 300, 15)]
    for query in queries:
        want = [h.chunk.id for h in Retriever(exact, embedder, "dense").search(query, 10)]
        got = [h.chunk.id for h in Retriever(approximate, embedder, "dense").search(query, 10)]
        agree += len(set(want) & set(got))
    assert agree / (10 * len(queries)) >= 0.9
    dated = Retriever(approximate, embedder).search("harbour", 5, Filters.parse(sources=["nobody"]))
    assert dated == []

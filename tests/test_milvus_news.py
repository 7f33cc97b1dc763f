"""Articles as news in the Milvus index (Milvus Lite, the real engine): each document keeps its date,
source, author and address; hits carry them; `Filters` keep a search to the articles they allow."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from rag.filters import Filters
from rag.index.milvus import store
from rag.index.milvus.retrieval import MilvusRetriever
from rag.ingest.chunking import ChunkingSettings
from tests.fakes import HashEmbedder

pytest.importorskip("pymilvus")

_names = itertools.count()
ARTICLES = {
    "tokyo.txt": (
        "Tokayev arrives in Tokyo\n\nThe president of Kazakhstan arrived in Tokyo for a state visit. "
        "Fourteen agreements on energy and critical minerals were signed in Tokyo.",
        {"published": "2024-12-18", "source": "Kazinform", "author": "A. Writer", "url": "https://kazinform.example/1"},
    ),
    "lecture.md": (
        "---\ntitle: A lecture in Tokyo\ndate: 2024-12-19\nsource: Daily Planet\n---\n"
        "The president gave a lecture in Tokyo at the United Nations University about energy and water.",
        {},
    ),
    "older.txt": (
        "An older story\n\nEnergy ministers met in Astana to discuss pipelines and energy prices in Tokyo.",
        {"published": "2023-01-05", "source": "Kazinform"},
    ),
}


@pytest.fixture(scope="module")
def milvus_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("milvus-news") / "news.db")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "documents"
    root.mkdir()
    for name, (text, meta) in ARTICLES.items():
        (root / name).write_text(text, encoding="utf-8")
        if meta:
            (root / f"{name}.meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return root


def _update(folder: Path, uri: str, prefix: str) -> tuple[store.MilvusIndex, store.IndexReport]:
    return store.update_index(folder, uri, prefix, HashEmbedder(), ChunkingSettings())


def test_documents_keep_their_news_metadata(folder: Path, milvus_file: str) -> None:
    prefix = f"news{next(_names)}"
    _update(folder, milvus_file, prefix)
    loaded = store.load(milvus_file, prefix, HashEmbedder().name, HashEmbedder().dimension)
    tokyo = loaded.documents["tokyo.txt"]
    assert (tokyo.published, tokyo.source, tokyo.author, tokyo.url) == (
        "2024-12-18",
        "Kazinform",
        "A. Writer",
        "https://kazinform.example/1",
    )
    assert tokyo.text.startswith("# Tokayev arrives in Tokyo"), "the stored text still checks out"
    lecture = loaded.documents["lecture.md"]
    assert (lecture.title, lecture.published, lecture.source, lecture.url) == (
        "A lecture in Tokyo",
        "2024-12-19",
        "Daily Planet",
        None,
    )


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_hits_carry_metadata_and_filters_keep_to_the_allowed_articles(
    folder: Path, milvus_file: str, mode: str
) -> None:
    prefix = f"news{next(_names)}"
    index, _ = _update(folder, milvus_file, prefix)
    retriever = MilvusRetriever(index, HashEmbedder(), mode)

    hits = retriever.search("energy in Tokyo", 10)
    assert {h.chunk.doc_id for h in hits} == set(ARTICLES)
    by_doc = {h.chunk.doc_id: h for h in hits}
    assert (by_doc["tokyo.txt"].published, by_doc["tokyo.txt"].source, by_doc["tokyo.txt"].url) == (
        "2024-12-18",
        "Kazinform",
        "https://kazinform.example/1",
    )

    kazinform = retriever.search("energy in Tokyo", 10, Filters.parse(sources=["kazinform"]))
    assert {h.chunk.doc_id for h in kazinform} == {"tokyo.txt", "older.txt"}
    assert [h.rank for h in kazinform] == list(range(1, len(kazinform) + 1))
    recent = retriever.search("energy in Tokyo", 10, Filters.parse(since="2024-01-01", sources=["Kazinform"]))
    assert {h.chunk.doc_id for h in recent} == {"tokyo.txt"}
    assert retriever.search("energy in Tokyo", 10, Filters.parse(until="2020-01-01")) == []
    everything = retriever.search("energy in Tokyo", 10, Filters())
    assert [h.chunk.id for h in everything] == [h.chunk.id for h in hits], "an empty filter filters nothing"


def test_a_narrow_filter_still_gets_hits_beyond_the_unfiltered_top(folder: Path, milvus_file: str) -> None:
    for n in range(30):  # many articles that match the question better than the one allowed
        (folder / f"match{n:02d}.txt").write_text(f"Energy in Tokyo {n}: energy Tokyo energy.", encoding="utf-8")
    prefix = f"news{next(_names)}"
    index, _ = _update(folder, milvus_file, prefix)
    retriever = MilvusRetriever(index, HashEmbedder(), "dense")
    assert "lecture.md" not in {h.chunk.doc_id for h in retriever.search("energy Tokyo", 3)}
    only = retriever.search("energy Tokyo", 3, Filters.parse(sources=["Daily Planet"]))
    assert only and {h.chunk.doc_id for h in only} == {"lecture.md"}


def test_a_sidecar_only_edit_is_a_change_and_updates_the_metadata(folder: Path, milvus_file: str) -> None:
    prefix = f"news{next(_names)}"
    _update(folder, milvus_file, prefix)
    (folder / "older.txt.meta.json").write_text(json.dumps({"published": "2023-01-05", "source": "Reuters"}))
    index, report = _update(folder, milvus_file, prefix)
    assert report.changed == ["older.txt"] and sorted(report.unchanged) == ["lecture.md", "tokyo.txt"]
    assert index.documents["older.txt"].source == "Reuters"
    retriever = MilvusRetriever(index, HashEmbedder(), "bm25")
    hits = retriever.search("pipelines Astana", 5, Filters.parse(sources=["reuters"]))
    assert hits and {h.chunk.doc_id for h in hits} == {"older.txt"} and hits[0].source == "Reuters"

"""Dates and sources a reader can trust (#23): a file's time is `added`, not `published`, and stays
out of date filters and recency unless asked; a folder declares metadata for its files; a headline
is the title, not a sentence to cite; entities in titles are decoded; an empty Source menu says why."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from rag import Settings
from rag.filters import Filters
from rag.index.indexing import update_index
from rag.index.local import store
from rag.index.local.retrieval import Retriever
from rag.ingest.chunking import ChunkingSettings
from rag.ingest.loading import read_document
from rag.ingest.metadata import FOLDER_SIDECAR
from tests.conftest import make_assistant
from tests.fakes import HashEmbedder
from ui.app import NO_SOURCES, source_info

HEADLINE = "Brown shrugs off economy fears"
BODY = (
    "Gordon Brown has said the UK economy is strong enough to withstand a slowdown in the United States. "
    "The chancellor told the Treasury committee that inflation would stay close to its target this year."
)


def _old(path: Path, year: int = 2026) -> None:
    stamp = dt.datetime(year, 12, 6, 10, 0, tzinfo=dt.UTC).timestamp()
    os.utime(path, (stamp, stamp))


def test_a_file_dated_by_its_time_is_kept_out_of_date_filters_and_recency_unless_asked(tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "dated.md").write_text("---\npublished: 2005-01-03\n---\nThe bridge reopened on Monday.\n", "utf-8")
    (folder / "copied.txt").write_text("The bridge reopened after repairs to its deck.\n", "utf-8")
    _old(folder / "copied.txt")
    stored, _ = update_index(folder, tmp_path / "index", HashEmbedder(), ChunkingSettings())
    entry = stored.manifest["documents"]["copied.txt"]
    assert entry["published"] is None and entry["added"] == "2026-12-06T10:00:00+00:00"
    assert stored.documents["copied.txt"].published is None

    retriever = Retriever(stored, HashEmbedder())
    since = Filters.parse(since="2005-01-01")
    assert {h.chunk.doc_id for h in retriever.search("bridge reopened", 5, since)} == {"dated.md"}
    with_added = Filters.parse(since="2005-01-01", added_dates=True)
    assert {h.chunk.doc_id for h in retriever.search("bridge reopened", 5, with_added)} == {"dated.md", "copied.txt"}
    # "Latest": the file copied in 2026 does not jump ahead of the article published in 2005 ...
    assert retriever.search("What is the latest on the bridge?", 2)[0].chunk.doc_id in {"dated.md", "copied.txt"}
    newest = retriever.search("What is the latest on the bridge reopened?", 2, Filters(added_dates=True))
    plain = retriever.search("What is the latest on the bridge reopened?", 2)
    assert newest[0].chunk.doc_id == "copied.txt" and plain[0].chunk.doc_id == "dated.md"


def test_an_index_that_kept_file_times_as_published_is_corrected_without_embedding(tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "copied.txt").write_text("The bridge reopened after repairs.\n", "utf-8")
    index = tmp_path / "index"
    update_index(folder, index, HashEmbedder(), ChunkingSettings())
    manifest = json.loads((index / "manifest.json").read_text())
    entry = manifest["documents"]["copied.txt"]
    entry["published"], _ = entry.pop("added"), manifest.pop("news_version")  # as an older version wrote it
    (index / "manifest.json").write_text(json.dumps(manifest))

    embedder = HashEmbedder()
    stored, report = update_index(folder, index, embedder, ChunkingSettings())
    assert embedder.texts_embedded == 0 and report.unchanged == ["copied.txt"]
    assert stored.manifest["documents"]["copied.txt"]["published"] is None
    assert stored.manifest["documents"]["copied.txt"]["added"]
    assert stored.documents["copied.txt"].published is None and stored.documents["copied.txt"].added


def test_a_folder_declares_source_and_dates_for_its_files_and_an_edit_is_picked_up(tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    (folder / "bbc" / "business").mkdir(parents=True)
    (folder / "bbc" / FOLDER_SIDECAR).write_text(json.dumps(
        {"source": "BBC News", "date_pattern": "(?P<year>[0-9]{4})(?P<month>[0-9]{2})(?P<day>[0-9]{2})"}
    ), "utf-8")
    (folder / "bbc" / "business" / "20050103-fares.txt").write_text("Fares rise.\n", "utf-8")
    (folder / "bbc" / "business" / "undated.txt").write_text("Prices fall.\n", "utf-8")
    (folder / "bbc" / "business" / "own.txt").write_text("---\nsource: Reuters\n---\nOil climbs.\n", "utf-8")
    (folder / "elsewhere.txt").write_text("Nothing declared.\n", "utf-8")
    index = tmp_path / "index"
    stored, _ = update_index(folder, index, HashEmbedder(), ChunkingSettings())
    entries = stored.manifest["documents"]
    assert entries["bbc/business/20050103-fares.txt"]["source"] == "BBC News"
    assert entries["bbc/business/20050103-fares.txt"]["published"] == "2005-01-03"
    assert entries["bbc/business/undated.txt"]["published"] is None, "no date in its name: no date"
    assert entries["bbc/business/own.txt"]["source"] == "Reuters", "the article's own metadata wins"
    assert entries["elsewhere.txt"]["source"] is None

    (folder / "bbc" / FOLDER_SIDECAR).write_text(json.dumps({"source": "BBC", "published": "2005-02-01"}), "utf-8")
    stored, report = update_index(folder, index, HashEmbedder(), ChunkingSettings())
    assert report.changed == ["bbc/business/20050103-fares.txt", "bbc/business/own.txt", "bbc/business/undated.txt"]
    assert report.unchanged == ["elsewhere.txt"]
    entries = stored.manifest["documents"]
    assert entries["bbc/business/undated.txt"]["published"] == "2005-02-01" == entries["bbc/business/own.txt"][
        "published"
    ], "the folder's default day, for every file that names none"
    assert entries["bbc/business/own.txt"]["source"] == "Reuters"


def test_a_broken_folder_file_is_a_note_and_the_articles_still_load(tmp_path: Path) -> None:
    (tmp_path / FOLDER_SIDECAR).write_text("{not json", "utf-8")
    (tmp_path / "a.txt").write_text("Body.\n", "utf-8")
    from rag.ingest.loading import read_file

    doc, note = read_file(tmp_path / "a.txt", "a.txt")
    assert doc.text == "Body." and note is not None and FOLDER_SIDECAR in note


def test_a_headline_is_the_title_and_never_cited_as_a_sentence(tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "brown.txt").write_text(f"{HEADLINE}\n\n{BODY}\n", "utf-8")
    doc = read_document(folder / "brown.txt", "brown.txt")
    assert doc.title == HEADLINE and doc.text.startswith(f"# {HEADLINE}\n")
    settings = Settings(documents_dir=folder, index_dir=tmp_path / "index", model_cache_dir=tmp_path / "m",
                        judge_model="same")
    assistant = make_assistant(settings, [f"{HEADLINE} [1]."])
    reply = assistant.answer("Does Brown fear for the economy?")
    assert all(HEADLINE not in c.quote for c in reply.citations)


def test_html_entities_in_titles_are_decoded(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Profits rise to &#163;1.8m\n\nThe firm made more money.\n", "utf-8")
    (tmp_path / "b.md").write_text("---\ntitle: AT&amp;T buys &quot;Cingular&quot;\n---\nText.\n", "utf-8")
    assert read_document(tmp_path / "a.txt", "a.txt").title == "Profits rise to £1.8m"
    assert read_document(tmp_path / "b.md", "b.md").title == 'AT&T buys "Cingular"'


def test_the_source_menu_says_why_it_is_empty() -> None:
    assert source_info([]) == NO_SOURCES and "source" in NO_SOURCES
    assert source_info(["BBC News"]) == "all sources when none is chosen"


def test_stored_documents_keep_their_dates_after_a_reload(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("Body.\n", "utf-8")
    update_index(tmp_path / "d", tmp_path / "i", HashEmbedder(), ChunkingSettings())
    loaded = store.load(tmp_path / "i", "test/hash-embedder", 256)
    assert loaded.documents["a.txt"].added and loaded.documents["a.txt"].published is None

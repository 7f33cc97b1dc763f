"""One story, many copies (#23): copies are grouped at indexing, retrieval returns one passage per
story and names the other copies, and the groups follow edits, removals and a crash."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag import Settings
from rag.cli import format_answer
from rag.index import stories
from rag.index.indexing import update_index
from rag.index.local import store
from rag.index.local.retrieval import Retriever
from rag.ingest.chunking import ChunkingSettings
from tests.conftest import make_assistant
from tests.fakes import HashEmbedder

FARES = (
    "Rail fares in England will rise by an average of 3.1% in January, the rail industry said on Tuesday. "
    "Season tickets between Brighton and London will cost more than five thousand pounds for the first time. "
    "The Campaign for Better Transport said passengers were being priced off the trains. "
    "The Department for Transport said the rise was the lowest for four years and that investment in new "
    "trains and stations would continue. Unions called for the fares to be frozen while services were "
    "disrupted by engineering works across the south of the country."
)
EDITED = FARES.replace("the rail industry said on Tuesday", "train operators announced on Tuesday").replace(
    "Unions called for the fares to be frozen", "The RMT union demanded a fare freeze"
)
HARBOUR = (
    "The harbour at Dover reopened on Monday after a storm closed it for two days, stranding lorries on the "
    "motorway. Ferry companies said sailings to Calais would return to the normal timetable by Wednesday, "
    "and the port authority thanked drivers for their patience. Police lifted the queueing system on the "
    "approach roads in the afternoon, but warned of delays through the night as the backlog cleared."
)
MUSEUM = (
    "A museum of computing opened in the old post office in Leeds, with a working valve machine from the "
    "nineteen fifties at its centre. Volunteers spent six years restoring it from parts found in a barn. "
    "The curator said school groups had booked every weekday until the summer holidays."
)


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _build(folder: Path, index: Path) -> store.StoredIndex:
    stored, _ = update_index(folder, index, HashEmbedder(), ChunkingSettings())
    return stored


def _stories(index: Path) -> list[tuple[str, ...]]:
    entries = json.loads((index / "manifest.json").read_text())["documents"]
    return sorted(stories.members(entries).values())


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    folder = tmp_path / "documents"
    _write(folder, {
        "bbc/fares.txt": "Rail fares to rise 3.1%\n\n" + FARES,
        "wire/fares.txt": "Rail fares to rise 3.1%\n\n" + FARES,  # byte-identical to the BBC's
        "guardian/fares.txt": "Commuters face another fare rise\n\n" + EDITED,  # an edited copy
        "bbc/harbour.txt": HARBOUR,
        "bbc/museum.txt": MUSEUM,
    })
    return folder


def test_identical_and_edited_copies_are_one_story_and_others_are_not(archive: Path, tmp_path: Path) -> None:
    _build(archive, tmp_path / "index")
    assert _stories(tmp_path / "index") == [("bbc/fares.txt", "guardian/fares.txt", "wire/fares.txt")]
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["stories"] == stories.SETTINGS
    assert "story" not in manifest["documents"]["bbc/harbour.txt"]


def test_signatures_estimate_similarity_and_empty_texts_are_nobodys_copy() -> None:
    same = stories.similarity(stories.signature(FARES), stories.signature(FARES))
    edited = stories.similarity(stories.signature(FARES), stories.signature(EDITED))
    other = stories.similarity(stories.signature(FARES), stories.signature(HARBOUR))
    assert same == 1.0 and edited >= stories.THRESHOLD > other
    assert stories.groups(["a", "b"], np.vstack([stories.signature(""), stories.signature("")])) == []


def test_retrieval_returns_one_passage_per_story_naming_the_other_copies(archive: Path, tmp_path: Path) -> None:
    stored = _build(archive, tmp_path / "index")
    hits = Retriever(stored, HashEmbedder()).search("How much will rail fares rise in January?", 5)
    fares = [h for h in hits if h.chunk.doc_id.endswith("fares.txt")]
    assert len({h.chunk.doc_id for h in fares}) == 1, "no two copies of one story among the passages"
    others = {"bbc/fares.txt", "guardian/fares.txt", "wire/fares.txt"} - {fares[0].chunk.doc_id}
    assert all(set(h.also_in) == others for h in fares)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(not h.also_in for h in hits if h not in fares)


def test_editing_and_removing_copies_regroups(archive: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    _build(archive, index)
    (archive / "guardian" / "fares.txt").write_text(MUSEUM + " A new line about the museum shop.", encoding="utf-8")
    _build(archive, index)
    assert _stories(index) == [("bbc/fares.txt", "wire/fares.txt"), ("bbc/museum.txt", "guardian/fares.txt")]
    (archive / "wire" / "fares.txt").unlink()
    (archive / "bbc" / "museum.txt").unlink()
    _build(archive, index)
    assert _stories(index) == []
    entries = json.loads((index / "manifest.json").read_text())["documents"]
    assert all("story" not in e for e in entries.values())


def test_a_crash_before_the_commit_leaves_documents_and_stories_that_agree(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    _build(archive, index)
    before = _stories(index)
    (archive / "wire" / "fares.txt").write_text(HARBOUR, encoding="utf-8")  # now a copy of the harbour story

    real_replace = store.os.replace

    def crash(src: object, dst: object) -> None:
        if str(dst).endswith("manifest.json"):
            raise KeyboardInterrupt("killed while committing")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(store.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        _build(archive, index)
    monkeypatch.setattr(store.os, "replace", real_replace)
    assert _stories(index) == before, "the previous manifest and its stories are intact"
    survived = store.load(index, "test/hash-embedder", 256)
    assert set(survived.documents) == {d for d in json.loads((index / "manifest.json").read_text())["documents"]}

    _build(archive, index)
    assert _stories(index) == [("bbc/fares.txt", "guardian/fares.txt"), ("bbc/harbour.txt", "wire/fares.txt")]


def test_a_lost_signature_cache_is_rebuilt_from_the_stored_texts(archive: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    _build(archive, index)
    (index / stories.CACHE).unlink()
    (archive / "bbc" / "harbour.txt").write_text(HARBOUR + " Updated at noon.", encoding="utf-8")
    _build(archive, index)
    assert _stories(index) == [("bbc/fares.txt", "guardian/fares.txt", "wire/fares.txt")]
    assert (index / stories.CACHE).exists()


def test_a_citation_names_the_other_copies_in_the_api_and_in_rag_ask(archive: Path, tmp_path: Path) -> None:
    settings = Settings(documents_dir=archive, index_dir=tmp_path / "index", model_cache_dir=tmp_path / "m",
                        judge_model="same")
    assistant = make_assistant(settings, ["Rail fares in England will rise by an average of 3.1% in January [1]."])
    reply = assistant.answer("How much will rail fares rise in January?")
    assert reply.citations
    cited = reply.citations[0]
    assert cited.doc_id.endswith("fares.txt") and len(cited.also_in) == 2
    printed = format_answer(reply, assistant.stored.manifest["documents"])
    assert "The same story is also in: " + ", ".join(cited.also_in) in printed

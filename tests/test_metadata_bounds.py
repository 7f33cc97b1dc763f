"""Hostile metadata (issue #21): front matter and sidecars anyone can write are bounded before they
are parsed, and every value is text of a bounded length; the article is indexed either way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.index.indexing import update_index
from rag.ingest import metadata
from rag.ingest.chunking import ChunkingSettings
from rag.ingest.loading import load_documents, read_file
from tests.fakes import HashEmbedder


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    """The "billion laughs" front matter: each level an anchored list of `width` aliases of the one
    before, the title the last level (9 x 9: 676 bytes that stand for 9**9 strings)."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for n in range(1, levels):
        lines.append(f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * width)}]")
    return "---\n" + "\n".join(lines) + f"\ntitle: *l{levels - 1}\n---\nThe body of the article.\n"


@pytest.mark.parametrize("levels", [9, 10])
def test_a_billion_laughs_front_matter_is_refused_and_the_article_indexed(tmp_path: Path, levels: int) -> None:
    (tmp_path / "bomb.md").write_text(billion_laughs(levels), encoding="utf-8")
    doc, note = read_file(tmp_path / "bomb.md", "bomb.md")
    assert note is not None and "YAML alias (*name), which is not accepted" in note
    assert len(doc.title) < 200 and "The body of the article." in doc.text
    index = tmp_path / "index"
    docs = tmp_path / "docs"
    docs.mkdir()
    (tmp_path / "bomb.md").rename(docs / "bomb.md")
    _, report = update_index(docs, index, HashEmbedder(), ChunkingSettings())
    assert report.added == ["bomb.md"] and any("alias" in n for n in report.notes)
    assert (index / "manifest.json").stat().st_size < 10_000, "the manifest holds no blown-up title"


def test_front_matter_too_long_is_ignored_with_a_note(tmp_path: Path) -> None:
    """A value of a million characters was kept (issue #21): now the whole block is too long."""
    (tmp_path / "a.md").write_text(f"---\ntitle: {'T' * 1_000_000}\n---\nThe body.", encoding="utf-8")
    doc, note = read_file(tmp_path / "a.md", "a.md")
    assert note is not None and "front matter is longer than 65,536 characters; it was indexed as text" in note
    assert len(doc.title) < 1_000 and "The body." in doc.text


def test_deeply_nested_front_matter_is_refused_without_a_recursion_error(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\ntitle: " + "[" * 5_000 + "]" * 5_000 + "\n---\nThe body.", "utf-8")
    doc, note = read_file(tmp_path / "a.md", "a.md")
    assert note is not None and "nested more than 16 levels deep" in note and "The body." in doc.text


def test_values_are_capped_typed_and_never_a_python_repr(tmp_path: Path) -> None:
    front = (
        "---\n"
        f"title: {'T' * 20_000}\n"
        "source: {name: BBC, region: Asia}\n"
        "author: [Ann One, null, Bob Two]\n"
        "url: yes\n"
        "published: 2024-05-01\n"
        "---\nThe body of the article."
    )
    (tmp_path / "a.md").write_text(front, encoding="utf-8")
    doc, note = read_file(tmp_path / "a.md", "a.md")
    assert note is not None
    assert len(doc.title) < 1_000 and "its title is 20,000 characters, more than 1,000; it was left out" in note
    assert doc.source is None and "its source is a mapping, not text" in note, "not \"{'name': 'BBC', …}\""
    assert doc.author == "Ann One, Bob Two", "a null in a list is dropped, not 'None'"
    assert doc.url is None and "its url is yes/no, not text" in note
    assert doc.published == "2024-05-01"
    assert len(note) < 1_000, "the note does not quote the 20,000 characters"


def test_a_sidecar_nested_200000_deep_is_ignored_and_the_article_indexed(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("The body of the article.", encoding="utf-8")
    (tmp_path / "a.txt.meta.json").write_text('{"source": ' + "[" * 200_000 + "]" * 200_000 + "}", "utf-8")
    documents, skipped = load_documents(tmp_path)
    assert [d.id for d in documents] == ["a.txt"] and skipped == []
    _, note = read_file(tmp_path / "a.txt", "a.txt")
    assert note is not None and "a.txt.meta.json is" in note and "it was ignored" in note


def test_a_sidecar_nested_just_too_deep_for_the_limit_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("The body of the article.", encoding="utf-8")
    (tmp_path / "a.txt.meta.json").write_text('{"source": ' + "[" * 3_000 + "]" * 3_000 + "}", "utf-8")
    doc, note = read_file(tmp_path / "a.txt", "a.txt")
    assert note is not None and "nested more than 16 levels deep; it was ignored" in note and doc.source is None


def test_a_large_sidecar_is_ignored_before_it_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("The body of the article.", encoding="utf-8")
    (tmp_path / "a.txt.meta.json").write_text(json.dumps({"source": "S", "pad": "x" * 100_000}), "utf-8")
    doc, note = read_file(tmp_path / "a.txt", "a.txt")
    assert doc.source is None and note is not None and "more than the 65,536 a sidecar may have" in note


def test_a_sidecar_encoding_must_be_a_short_name(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("The body of the article.", encoding="utf-8")
    (tmp_path / "a.txt.meta.json").write_text(json.dumps({"encoding": ["utf-8", {"x": 1}]}), "utf-8")
    doc, note = read_file(tmp_path / "a.txt", "a.txt")
    assert doc.text == "The body of the article." and note is not None and "its encoding is a list" in note


def test_fields_keep_numbers_and_dates_as_text() -> None:
    import datetime as dt

    found, notes = metadata.fields({"source": 1843, "title": dt.date(2024, 5, 1), 7: "x"})
    assert found == {"source": "1843", "title": "2024-05-01"} and notes == []

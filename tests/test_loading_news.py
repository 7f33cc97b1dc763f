"""Articles as news: metadata from front matter, sidecars and HTML; the hash covers it; encodings."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import pytest

from rag.ingest.loading import UnusableFile, content_hash, load_documents, read_document, read_file

NEWS_PAGE = """<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Tokayev arrives in Tokyo for state visit | Daily Planet</title>
<meta property="og:title" content="Tokayev arrives in Tokyo for state visit">
<meta property="og:site_name" content="Daily Planet">
<meta property="article:published_time" content="2024-12-18T09:30:00+00:00">
<meta name="author" content="Lois Lane">
<link rel="canonical" href="https://dailyplanet.example/world/tokayev-tokyo">
</head><body>
<nav><a href="/">Home</a> | <a href="/world">World</a></nav>
<article><h1>Tokayev arrives in Tokyo for state visit</h1>
<p>The President of Kazakhstan arrived in Tokyo on Wednesday for a three-day state visit, the first by a
Kazakh leader in nearly a decade, officials said.</p>
<p>Fourteen agreements on energy, transport and critical minerals are expected to be signed during the
visit, according to the foreign ministry in Astana.</p>
</article><footer>Copyright 2019 Daily Planet</footer></body></html>
"""


def test_front_matter_is_metadata_and_is_removed_from_the_text(tmp_path: Path) -> None:
    (tmp_path / "visit.md").write_text(
        "---\ntitle: The visit\ndate: 2024-05-01\nsite: BBC News\nauthor: [Ann One, Bob Two]\n"
        "link: https://bbc.example/visit\n---\n# A heading\n\nThe president arrived in Tokyo.\n",
        encoding="utf-8",
    )
    doc = read_document(tmp_path / "visit.md", "visit.md")
    assert doc.text == "# A heading\n\nThe president arrived in Tokyo."
    assert doc.title == "The visit", "a title key wins over the heading"
    assert (doc.published, doc.source, doc.author, doc.url) == (
        "2024-05-01",
        "BBC News",
        "Ann One, Bob Two",
        "https://bbc.example/visit",
    )
    start = doc.text.index("arrived")
    assert doc.text[start : start + 7] == "arrived", "offsets point into the text without the front matter"


def test_a_text_file_without_front_matter_keeps_its_dashes(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Headline\n---\nBody after a rule.", encoding="utf-8")
    doc = read_document(tmp_path / "a.txt", "a.txt")
    # The headline line is kept as a heading (searched, never cited as a sentence); the rule stays text.
    assert doc.text == "# Headline\n---\nBody after a rule." and doc.source is None and doc.title == "Headline"


def test_invalid_front_matter_is_kept_as_text_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("---\ntitle: [unclosed\n---\nBody.", encoding="utf-8")
    doc, note = read_file(tmp_path / "a.txt", "a.txt")
    assert "Body." in doc.text and "unclosed" in doc.text
    assert note is not None and "front matter is not valid YAML" in note


def test_the_sidecar_wins_over_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\nsource: Blog\npublished: 2024-01-01\n---\nBody text.", encoding="utf-8")
    (tmp_path / "a.md.meta.json").write_text(
        '{"source": "Reuters", "url": "https://reuters.example/a", "title": "From the sidecar"}', encoding="utf-8"
    )
    documents, skipped = load_documents(tmp_path)
    assert not skipped and [d.id for d in documents] == ["a.md"], "a sidecar is not an article"
    doc = documents[0]
    assert (doc.source, doc.url, doc.published, doc.title) == (
        "Reuters",
        "https://reuters.example/a",
        "2024-01-01",
        "From the sidecar",
    )


def test_a_sidecar_gives_a_pdf_its_metadata(tmp_path: Path) -> None:
    from tests.test_loading import _tiny_pdf

    (tmp_path / "story.pdf").write_bytes(_tiny_pdf("Fourteen documents were signed."))
    (tmp_path / "story.pdf.meta.json").write_text('{"date": "18 December 2024", "source": "Kazinform"}')
    doc = read_document(tmp_path / "story.pdf", "story.pdf")
    assert (doc.published, doc.source) == ("2024-12-18", "Kazinform")


def test_an_invalid_sidecar_is_named_in_a_warning_and_the_article_still_loads(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a.txt").write_text("Body text.", encoding="utf-8")
    (tmp_path / "a.txt.meta.json").write_text('{"source": "Reuters",', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        documents, skipped = load_documents(tmp_path)
    assert [d.id for d in documents] == ["a.txt"] and not skipped
    assert documents[0].source is None
    assert "a.txt.meta.json is not valid JSON" in caplog.text


def test_an_unparseable_date_is_left_out_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("---\ndate: last Tuesday\nsource: BBC\n---\nBody.", encoding="utf-8")
    doc, note = read_file(tmp_path / "a.txt", "a.txt")
    assert doc.source == "BBC" and doc.published is None  # the file's time is not a publication date
    assert doc.added is not None and doc.added.endswith("+00:00")
    assert note is not None and "'last Tuesday' is not a date" in note


def test_html_metadata_comes_from_trafilatura(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(NEWS_PAGE, encoding="utf-8")
    doc = read_document(tmp_path / "page.html", "page.html")
    assert doc.title == "Tokayev arrives in Tokyo for state visit"
    assert doc.published == "2024-12-18"
    assert doc.source == "Daily Planet"
    assert doc.author == "Lois Lane"
    assert doc.url == "https://dailyplanet.example/world/tokayev-tokyo"
    assert "Fourteen agreements" in doc.text and "Home" not in doc.text


def test_the_file_time_is_kept_as_added_not_published_when_nothing_else_is_known(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Body text.", encoding="utf-8")
    stamp = dt.datetime(2023, 3, 4, 5, 6, 7, tzinfo=dt.UTC).timestamp()
    os.utime(path, (stamp, stamp))
    doc = read_document(path, "a.txt")
    assert doc.published is None and doc.added == "2023-03-04T05:06:07+00:00"
    assert doc.hash == content_hash(doc.text), "the file time is not hashed: touching a file changes nothing"


def test_a_metadata_only_change_changes_the_hash(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Body text.", encoding="utf-8")
    before = read_document(path, "a.txt").hash
    (tmp_path / "a.txt.meta.json").write_text('{"source": "Reuters"}', encoding="utf-8")
    with_source = read_document(path, "a.txt").hash
    (tmp_path / "a.txt.meta.json").write_text('{"source": "AP"}', encoding="utf-8")
    edited = read_document(path, "a.txt").hash
    assert len({before, with_source, edited}) == 3
    (tmp_path / "a.txt.meta.json").write_text('{"source": "AP"}\n', encoding="utf-8")
    assert read_document(path, "a.txt").hash == edited, "same metadata, same hash"


WINDOWS_1252 = "The minister said “the deal is done” – costing €5m… and the café owners welcomed it."
LATIN_1 = "Le ministre a déclaré que l'accord était conclu. Les élèves à l'école ont fêté Noël."
SHIFT_JIS = "日本政府は木曜日、カザフスタンの大統領を東京に迎え、エネルギー分野での協力について合意したと発表した。"


@pytest.mark.parametrize(
    ("text", "encoding", "named"),
    [
        (WINDOWS_1252, "cp1252", "Windows-1252"),
        (LATIN_1, "latin-1", "Windows-1252"),  # Latin-1's letters are Windows-1252's
        (SHIFT_JIS, "shift_jis", "Shift_JIS"),
    ],
)
def test_text_that_is_not_utf8_is_decoded_and_the_encoding_named(
    tmp_path: Path, text: str, encoding: str, named: str
) -> None:
    (tmp_path / "a.txt").write_bytes(text.encode(encoding))
    doc, note = read_file(tmp_path / "a.txt", "a.txt")
    assert doc.text == text
    assert note is not None and note.startswith("not UTF-8: read as ") and named in note


def test_an_html_page_declaring_its_charset_is_read_in_it(tmp_path: Path) -> None:
    page = NEWS_PAGE.replace('charset="utf-8"', 'charset="windows-1251"').replace(
        "according to the foreign ministry", "according to the ministry (Министерство иностранных дел)"
    )
    (tmp_path / "page.html").write_bytes(page.encode("cp1251"))
    doc, note = read_file(tmp_path / "page.html", "page.html")
    assert "Министерство иностранных дел" in doc.text
    assert note == "not UTF-8: read as Windows-1251 (declared)"


def test_a_sidecar_can_name_the_encoding(tmp_path: Path) -> None:
    text = "Příliš žluťoučký kůň úpěl ďábelské ódy; Praha hlásí dohodu."
    (tmp_path / "a.txt").write_bytes(text.encode("cp1250"))
    (tmp_path / "a.txt.meta.json").write_text('{"encoding": "cp1250"}', encoding="utf-8")
    doc, note = read_file(tmp_path / "a.txt", "a.txt")
    assert doc.text == text and note is not None and "Windows-1250 (declared)" in note


def test_bytes_no_encoding_reads_are_skipped_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(bytes(range(1, 256)) * 4)
    with pytest.raises(UnusableFile, match=r"not valid UTF-8 .* save it as UTF-8"):
        read_file(tmp_path / "a.txt", "a.txt")

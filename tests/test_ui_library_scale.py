"""The Articles tab at scale: pages of the table, search and order, uploads of many files with
progress and a summary, and articles added by their address (with a fake fetcher: no network)."""

from __future__ import annotations

import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rag import Assistant, Settings
from rag.errors import FetchError
from rag.types import Document
from tests.fakes import HashEmbedder, ScriptedGenerator
from ui import catalog, render
from ui.catalog import Row, View, page_of
from ui.library import Library
from ui.progress import Indexing


def archive(n: int) -> list[Row]:
    """n articles, one a day back from 2024-12-31 for the first 2,000 (later ones undated)."""
    return [
        Row(
            f"article-{i:05d}.md",
            f"Story {i:05d}",
            f"{2024 - i // 365:04d}-{12 - (i // 31) % 12:02d}-{31 - i % 28:02d}" if i < 2000 else "",
            "Daily Planet" if i % 3 else "Evening Star",
        )
        for i in range(n)
    ]


def test_a_page_shows_its_rows_and_says_which_of_how_many() -> None:
    page = page_of(archive(2227), View(page=2))
    assert len(page.rows) == 50 and page.pages == 45 and page.number == 2
    assert page.label == "Showing 51–100 of 2,227 articles"
    last = page_of(archive(2227), View(page=45))
    assert len(last.rows) == 27 and last.label == "Showing 2,201–2,227 of 2,227 articles"


@pytest.mark.parametrize(("asked", "shown"), [(0, 1), (-3, 1), (46, 45), (10_000, 45)])
def test_a_page_out_of_range_is_clamped(asked: int, shown: int) -> None:
    assert page_of(archive(2227), View(page=asked)).number == shown


def test_the_pages_hold_every_article_once() -> None:
    rows = archive(321)
    seen = [r.doc_id for n in range(1, 8) for r in page_of(rows, View(page=n)).rows]
    assert sorted(seen) == sorted(r.doc_id for r in rows)


def test_newest_first_with_equal_days_by_title_and_undated_last() -> None:
    rows = [
        Row("c.txt", "Charlie", "2024-05-01"),
        Row("u.txt", "Undated"),
        Row("b.txt", "bravo", "2024-06-01T08:00:00+00:00"[:10]),
        Row("a.txt", "Alpha", "2024-05-01"),
    ]
    assert [r.doc_id for r in page_of(rows, View()).rows] == ["b.txt", "a.txt", "c.txt", "u.txt"]
    assert [r.doc_id for r in page_of(rows, View(sort="title")).rows] == ["a.txt", "b.txt", "c.txt", "u.txt"]


def test_search_looks_in_titles_file_names_and_sources_whatever_the_case() -> None:
    rows = archive(3000)
    by_source = page_of(rows, View(search="evening STAR"))
    assert by_source.matching == 1000 and all(r.source == "Evening Star" for r in by_source.rows)
    assert by_source.label == "Showing 1–50 of 1,000 articles matching “evening STAR” (3,000 in all)"
    assert [r.doc_id for r in page_of(rows, View(search="story 00042")).rows] == ["article-00042.md"]
    assert page_of(rows, View(search="ARTICLE-00042.MD")).matching == 1
    nothing = page_of(rows, View(search="no such thing"))
    assert nothing.rows == () and nothing.label == "No article matches “no such thing” (3,000 in all)"


def test_only_one_page_of_ten_thousand_articles_is_rendered() -> None:
    rows = archive(10_000)
    page = page_of(rows, View(page=3))
    table = render.documents_page(page)
    assert table.count("<tr>") == 1 + 50  # the header and one page
    assert "Showing 101–150 of 10,000 articles · page 3 of 200" in table


def test_table_rows_show_day_source_and_a_title_linked_only_to_http_addresses() -> None:
    entries = {
        "a.md": {
            "title": "Rates <rise>",
            "published": "2024-05-01T09:30:00+00:00",
            "source": "BBC & Co",
            "url": "https://bbc.example/a?x=1&y='2'",
            "chunks": 4,
        },
        "b.md": {"title": "Sneaky", "url": "javascript:alert(1)", "chunks": 1},
    }
    table = render.documents_page(page_of(catalog.rows(entries), View()))
    assert "<td class='rag-day'>2024-05-01</td>" in table and "BBC &amp; Co" in table
    assert (
        "<a href='https://bbc.example/a?x=1&amp;y=&#x27;2&#x27;' target='_blank' rel='noopener noreferrer'>"
        "Rates &lt;rise&gt;</a>" in table
    )
    assert "javascript" not in table and "<td class='rag-title'>Sneaky</td>" in table


def test_news_fields_missing_from_the_manifest_come_from_the_documents() -> None:
    entries: dict[str, dict[str, Any]] = {
        "a.md": {"title": "A", "chunks": 1},
        "b.md": {"title": "B", "published": "2023-01-02", "source": "X", "url": ""},
    }
    documents = {
        "a.md": Document("a.md", "A", "text", "h", published="2024-02-03", source="Wire", url="https://w.example/a"),
        "b.md": Document("b.md", "B", "text", "h", published="1999-01-01", source="Other"),
    }
    by_id = {r.doc_id: r for r in catalog.rows(entries, documents)}
    assert (by_id["a.md"].published, by_id["a.md"].source, by_id["a.md"].url) == (
        "2024-02-03",
        "Wire",
        "https://w.example/a",
    )
    assert (by_id["b.md"].published, by_id["b.md"].source) == ("2023-01-02", "X")
    assert catalog.sources(list(by_id.values())) == ["Wire", "X"]


def test_the_indexing_progress_says_how_many_and_how_long() -> None:
    seen: list[tuple[float, str]] = []
    ticks = iter([0.0, 30.0, 31.0, 40.0])
    indexing = Indexing(lambda f, what: seen.append((f, what)), lambda: next(ticks))
    indexing(0, 120, "a.txt")
    indexing(36, 120, "k.txt")  # 36 files in 30 s: 84 left take 70 s
    indexing(0, 3, "x.txt")  # a new pass starts its own estimate
    indexing(120, 120, "")
    assert seen[0] == (0.0, "Indexing 1 of 120 files")
    assert seen[1] == (0.3, "Indexing 37 of 120 files… about 1 min left")
    assert seen[2] == (0.0, "Indexing 1 of 3 files")
    assert seen[3] == (1.0, "Saving the index")


@pytest.fixture
def assistant(settings: Settings) -> Assistant:
    return Assistant(settings, embedder=HashEmbedder(), generator=ScriptedGenerator())


def notices(status: str) -> list[str]:
    return [re.sub(r"&[^;]+;", "", n) for n in re.findall(r"role='status'>(.*?)</div>", status)]


def test_an_upload_of_many_files_shows_progress_then_a_summary(assistant: Assistant, tmp_path: Path) -> None:
    assistant.index()
    files = []
    for n in range(5):
        path = tmp_path / f"note-{n}.txt"
        path.write_text(f"Note {n}\n\nThe bridge number {n} opened in spring.", encoding="utf-8")
        files.append(path)
    (tmp_path / "copy.txt").write_bytes(
        (assistant.settings.documents_dir / "tokayev-state-visit-to-japan.txt").read_bytes()
    )
    (tmp_path / "tool.exe").write_bytes(b"MZ")
    files += [tmp_path / "copy.txt", tmp_path / "tool.exe"]
    seen: list[tuple[float, str]] = []
    status = Library(assistant).upload(files, lambda f, what: seen.append((f, what)))
    said = [what for _, what in seen]
    assert said[:7] == [f"Saving {n} of 7 files: {p.name}" for n, p in enumerate(files, start=1)]
    assert [f for f, _ in seen[:7]] == [n / 7 for n in range(7)]
    assert any(w.startswith("Indexing 1 of 5 files") for w in said) and said[-1] == "Saving the index"
    assert notices(status)[0] == "7 files sent: 5 added, 1 already in the library, 1 refused."
    assert "rag-info" in status.split("</div>")[0]
    table = Library(assistant).table(View(search="note"))
    assert "Showing 1–5 of 5 articles matching" in table


@dataclass(frozen=True)
class FakeFetched:
    path: Path
    doc_id: str
    title: str
    published: str | None = None
    source: str | None = None
    author: str | None = None
    url: str | None = None


class FakeFetcher:
    """fetch_article's signature; saves a Markdown article for the good addresses, FetchError otherwise."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.allowed: list[tuple[str, ...]] = []

    def __call__(
        self, url: str, documents_dir: Path, *, timeout_s: float = 15.0, max_bytes: int = 5_000_000,
        allow_hosts: tuple[str, ...] = (),
    ) -> FakeFetched:
        self.asked.append(url)
        self.allowed.append(allow_hosts)
        if "timeout" in url:
            raise FetchError(f"{url} did not answer within {timeout_s:.0f} s: try again later.")
        if not url.startswith("https://"):
            raise FetchError(f"“{url}” is not a web address: give one starting with https://.")
        slug = url.rstrip("/").rsplit("/", 1)[-1]
        path = documents_dir / f"{slug}.md"
        title = f"Harbour <news> {slug}"
        path.write_text(f"# {title}\n\nThe harbour of {slug} reopened after the storm.\n", encoding="utf-8")
        return FakeFetched(path, path.name, title, "2024-05-01", "Coast Times", None, url)


def test_articles_are_added_by_address_each_with_its_result(assistant: Assistant) -> None:
    assistant.index()
    fetcher = FakeFetcher()
    library = Library(assistant, fetch=fetcher)
    pasted = "https://coast.example/news/dover\n\nnot an address\nhttps://coast.example/news/dover\nhttps://slow.example/timeout\n"
    seen: list[str] = []
    status, retry = library.add_addresses(pasted, lambda f, what: seen.append(what))
    assert fetcher.asked == ["https://coast.example/news/dover", "not an address", "https://slow.example/timeout"]
    shown = notices(status)
    assert shown[0] == "1 of 3 addresses added, 2 could not be fetched."
    assert "not an address: “not an address” is not a web address: give one starting with https://." in shown
    assert any("did not answer within 15 s" in n for n in shown)
    assert "Saved “Harbour news dover” from https://coast.example/news/dover as dover.md." in shown
    assert "&lt;news&gt;" in status and "<news>" not in status
    assert retry == "not an address\nhttps://slow.example/timeout"  # what failed stays, to try again
    assert seen[:3] == [
        "Fetching 1 of 3: https://coast.example/news/dover",
        "Fetching 2 of 3: not an address",
        "Fetching 3 of 3: https://slow.example/timeout",
    ]
    assert "dover.md" in assistant.stored.manifest["documents"]
    assert "Harbour &lt;news&gt; dover" in library.table(View(search="dover"))


def test_nothing_pasted_asks_for_an_address(assistant: Assistant) -> None:
    fetcher = FakeFetcher()
    status, retry = Library(assistant, fetch=fetcher).add_addresses(" \n ")
    assert "Paste the address of an article" in status and retry == "" and fetcher.asked == []


def test_the_fetcher_is_rag_fetching_imported_when_first_used(
    assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetcher = FakeFetcher()
    module = types.ModuleType("rag.ingest.fetching")
    module.fetch_article = fetcher  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rag.ingest.fetching", module)
    status, _ = Library(assistant).add_addresses("https://coast.example/news/hull")
    assert fetcher.asked == ["https://coast.example/news/hull"] and "as hull.md." in status
    assert fetcher.allowed == [()], "no private host is allowed unless RAG_FETCH_ALLOW_HOSTS names it"


def test_without_rag_fetching_the_page_says_so(assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rag.ingest.fetching", None)  # importing it raises ImportError
    status, retry = Library(assistant).add_addresses("https://coast.example/news/hull")
    assert "not available in this installation" in status and retry == "https://coast.example/news/hull"

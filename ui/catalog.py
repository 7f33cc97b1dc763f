"""The articles table as data: one row per indexed article, searched, sorted and cut into pages.

The Articles tab shows one page of rows at a time, so an archive of thousands of articles costs a
page of HTML, not all of it: `rows` reads the index manifest once into small `Row`s, and `page_of`
filters them by a search text (a case-insensitive substring of the title, the file name or the
source), sorts them (newest first by publication day, undated articles last; or by title) and
returns the requested page, clamped to the pages there are.

>>> shelf = [Row("a.txt", "Alpha", "2024-05-01"), Row("b.txt", "Beta", "2024-06-01"), Row("c.txt", "Gamma")]
>>> [r.doc_id for r in page_of(shelf, View()).rows]
['b.txt', 'a.txt', 'c.txt']
>>> page_of(shelf, View(search="ALP")).label
'Showing 1–1 of 1 article matching “ALP” (3 in all)'

Deliberately not here: HTML (ui/render.py) and gradio (ui/app.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rag.filters import day_of
from rag.index import DocumentEntry
from rag.types import Document

PAGE_SIZE = 50
NEWS = ("published", "source", "url")
SORTS = {"newest": "Newest first", "title": "Title A–Z"}


@dataclass(frozen=True)
class Row:
    doc_id: str
    title: str
    published: str = ""  # the publication day, YYYY-MM-DD, or "" when unknown
    source: str = ""
    url: str = ""
    chars: int = 0
    chunks: int = 0
    indexed_at: str = ""
    added: str = ""  # with no publication day: the day the file was added (its time), YYYY-MM-DD
    haystack: str = field(default="", repr=False, compare=False)  # what a search looks in, casefolded

    def __post_init__(self) -> None:
        if not self.haystack:
            object.__setattr__(self, "haystack", f"{self.title}\n{self.doc_id}\n{self.source}".casefold())


@dataclass(frozen=True)
class View:
    """What one browser session asked to see: a search text, an order and a 1-based page number."""

    search: str = ""
    sort: str = "newest"
    page: int = 1


@dataclass(frozen=True)
class Page:
    rows: tuple[Row, ...]
    number: int  # 1-based, within 1..pages
    pages: int  # at least 1
    matching: int  # rows the search kept
    total: int  # rows in all
    first: int  # 1-based position of rows[0] among the matching rows; 0 when there are none
    search: str = ""

    @property
    def label(self) -> str:
        """The line above the table: "Showing 51–100 of 2,227 articles", and the search if any."""
        noun = "article" if self.matching == 1 else "articles"
        if not self.matching:
            shown = f"No article matches “{self.search}”" if self.search else "No articles"
        else:
            shown = f"Showing {self.first:,}–{self.first + len(self.rows) - 1:,} of {self.matching:,} {noun}"
            if self.search:
                shown += f" matching “{self.search}”"
        return shown + (f" ({self.total:,} in all)" if self.search else "")


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def rows(
    entries: Mapping[str, DocumentEntry | Mapping[str, Any]], documents: Mapping[str, Document] | None = None
) -> list[Row]:
    """A row per catalog entry (a manifest's raw entries are read as such); news fields an index
    from before news metadata lacks are taken from its `Document` if given."""
    out = []
    for doc_id, raw in entries.items():
        entry = DocumentEntry.of(doc_id, raw)
        doc = documents.get(doc_id) if documents is not None and not entry.news_recorded else None

        def field_(name: str, entry: DocumentEntry = entry, doc: Document | None = doc) -> str:
            return _text(getattr(entry, name) or (getattr(doc, name, None) if doc is not None else None))

        out.append(
            Row(
                doc_id=doc_id,
                title=_text(entry.title) or doc_id,
                published=day_of(field_("published")) or "",
                source=field_("source"),
                url=field_("url"),
                chars=entry.chars,
                chunks=entry.chunks,
                indexed_at=_text(entry.indexed_at),
                added=day_of(_text(entry.added)) or "",
            )
        )
    return out


def _sorted(rows: Sequence[Row], sort: str) -> list[Row]:
    by_title = sorted(rows, key=lambda r: (r.title.casefold(), r.doc_id))
    if sort == "title":
        return by_title
    # Stable and reversed: the newest day first, equal days by title; "" (undated) sorts last.
    return sorted(by_title, key=lambda r: r.published, reverse=True)


def page_of(rows: Sequence[Row], view: View, size: int = PAGE_SIZE) -> Page:
    search = " ".join(view.search.split())
    needle = search.casefold()
    matching = [r for r in rows if needle in r.haystack] if needle else list(rows)
    pages = max(1, -(-len(matching) // size))
    number = min(max(1, view.page), pages)
    start = (number - 1) * size
    shown = _sorted(matching, view.sort if view.sort in SORTS else "newest")[start : start + size]
    return Page(tuple(shown), number, pages, len(matching), len(rows), start + 1 if shown else 0, search)


def sources(rows: Sequence[Row]) -> list[str]:
    """Each source once (the first spelling seen of it, whatever its case), sorted A–Z.

    >>> sources([Row("a", "A", source="BBC News"), Row("b", "B", source="bbc news"), Row("c", "C")])
    ['BBC News']
    """
    seen: dict[str, str] = {}
    for row in rows:
        if row.source:
            seen.setdefault(row.source.casefold(), row.source)
    return [seen[key] for key in sorted(seen)]

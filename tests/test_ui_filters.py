"""The chat's Published and Source filters reach `Assistant.stream`; a bad date or filters that leave
no article are said in the chat with the question kept; citations show their article as news."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from rag.filters import Filters
from rag.index import catalog_of
from rag.types import Answer, Chunk, Citation, Delta, Document, Hit
from ui import render, scope
from ui.chat import Chat, ChatSession

TEXT = "The harbour reopened on Monday after the storm."
DOCS = {
    "dover.md": Document(
        "dover.md", "Dover", TEXT, "h1", published="2024-05-01", source="Coast Times", url="https://coast.example/dover"
    ),
    "hull.md": Document("hull.md", "Hull", TEXT, "h2", published="2023-01-10", source="Wire"),
}
CHUNK = Chunk("dover.md#0", "dover.md", TEXT, 0, len(TEXT))


class Stored:
    def __init__(self) -> None:
        self.manifest: dict[str, Any] = {
            "documents": {
                d: {"title": DOCS[d].title, "published": DOCS[d].published, "source": DOCS[d].source} for d in DOCS
            }
        }
        self.documents: Mapping[str, Document] = DOCS
        self.catalog = catalog_of(self.manifest)  # what the UI reads of an index snapshot (rag.index.Snapshot)


class RecordingAssistant:
    """Streams one short cited answer and records the filters each question was asked with."""

    def __init__(self) -> None:
        self.stored = Stored()
        self.asked: list[Filters | None] = []

    def stream(
        self, question: str, *, k: int | None = None, history: Any = None, filters: Filters | None = None
    ) -> Iterator[Delta | Answer]:
        self.asked.append(filters)
        yield Delta("Reopened [1].")
        citation = Citation(
            1,
            "dover.md",
            "Dover",
            0,
            len(TEXT),
            TEXT,
            CHUNK.id,
            "2024-05-01",
            "Coast Times",
            "https://coast.example/dover",
        )
        yield Answer(question, "Reopened [1].", (citation,), (Hit(CHUNK, 0.9, 1, "Dover"),))


def ask(published: str | None, sources: list[str] | None) -> tuple[RecordingAssistant, Any]:
    assistant = RecordingAssistant()
    updates = list(Chat(assistant, None).ask("When did the harbour reopen?", ChatSession(), published, sources))  # type: ignore[arg-type]
    return assistant, updates[-1]


@pytest.mark.parametrize(
    ("published", "since"),
    [
        ("", None),
        (None, None),
        ("Any time", None),
        ("30d", (dt.date.today() - dt.timedelta(days=30)).isoformat()),
        ("1y", (dt.date.today() - dt.timedelta(days=365)).isoformat()),
        (" 2024-05-01 ", "2024-05-01"),
    ],
)
def test_the_published_menu_becomes_a_since_date(published: str | None, since: str | None) -> None:
    assert scope.parse(published, []).since == since


@pytest.mark.parametrize("typed", ["yesterday", "2024-13-01", "01/05/2024"])
def test_a_date_that_is_not_one_says_what_to_type(typed: str) -> None:
    with pytest.raises(scope.ScopeError, match="is not a date: type it as YYYY-MM-DD"):
        scope.parse(typed, [])


def test_the_chosen_filters_reach_stream() -> None:
    assistant, last = ask("2024-04-01", ["coast times"])
    assert assistant.asked == [Filters(since="2024-04-01", sources=("coast times",))]
    assert "Only articles published since 2024-04-01, from coast times" in last.panel
    assert last.textbox == ""


def test_no_filter_asks_as_before() -> None:
    assistant, last = ask("", [])
    assert assistant.asked == [None] and "rag-scope" not in last.panel


def test_filters_no_article_passes_are_said_instead_of_asking() -> None:
    assistant, last = ask("2024-06-01", ["Wire"])
    assert assistant.asked == []  # the model was not asked
    said = html.unescape(re.sub(r"\\(.)", r"\1", last.messages[-1]["content"]))
    assert said.startswith("⚠️ No indexed article matches the filters (published since 2024-06-01, from wire)")
    assert last.textbox == "When did the harbour reopen?"  # to ask again after widening the filters
    assert last.session.history == () and "rag-error" in last.panel


def test_a_bad_date_is_a_message_and_nothing_is_lost() -> None:
    assistant, last = ask("last tuesday", [])
    assert assistant.asked == []
    assert "is not a date" in html.unescape(last.panel) and last.textbox == "When did the harbour reopen?"
    assert [m["role"] for m in last.messages] == ["user", "assistant"] and last.session.history == ()


def test_a_citation_shows_its_article_day_source_and_link() -> None:
    _, last = ask("", [])
    assert (
        "<div class='rag-news'>2024-05-01 · Coast Times · <a href='https://coast.example/dover' target='_blank' "
        "rel='noopener noreferrer'>coast.example</a></div>" in last.panel
    )


def test_news_lines_are_escaped_and_link_only_http_addresses() -> None:
    hit = Hit(
        Chunk("x#0", "x.md", TEXT, 0, len(TEXT)),
        0.5,
        1,
        "X",
        published="2024-02-03T10:00:00+01:00",
        source="<b>Wire</b>",
        url="javascript:alert(1)",
    )
    panel = render.sources_html(Answer("q", "no", passages=(hit,), abstained=True), "q", {})
    assert "<div class='rag-news'>2024-02-03 · &lt;b&gt;Wire&lt;/b&gt;</div>" in panel
    assert "javascript" not in panel and "<a " not in panel
    for bad in ("data:text/html,x", "ftp://x.org/a", "https:///nohost", "//x.org/a", "https://x.org/a b"):
        assert render.safe_url(bad) is None, bad
    tricky = render.news_line(None, None, "https://x.org/?q='><script>")
    assert "<script>" not in tricky and "href='https://x.org/?q=&#x27;&gt;&lt;script&gt;'" in tricky


def test_a_citation_without_news_fields_takes_them_from_its_document() -> None:
    citation = Citation(1, "hull.md", "Hull", 0, 10, TEXT[:10])
    answer = Answer("q", "Reopened [1].", (citation,), (Hit(Chunk("h#0", "hull.md", TEXT, 0, len(TEXT)), 0.9, 1),))
    panel = render.sources_html(answer, "q", DOCS)
    assert "<div class='rag-news'>2023-01-10 · Wire</div>" in panel
    assert "rag-news" not in render.sources_html(answer, "q", {})

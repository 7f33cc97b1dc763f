"""The archive features through the served page's API: the chat's filters and adding by address."""

from __future__ import annotations

import html
import sys
import types
from pathlib import Path

import pytest
from gradio_client import Client

from rag import Assistant, Settings
from tests.fakes import HashEmbedder
from tests.test_ui_app import SIGNED, ArticleGenerator, serving, shown
from tests.test_ui_library_scale import FakeFetcher

pytestmark = pytest.mark.server


def test_filters_that_leave_no_article_are_said_and_the_question_stays(settings: Settings) -> None:
    generator = ArticleGenerator()
    with serving(Assistant(settings, embedder=HashEmbedder(), generator=generator)) as url:
        client = Client(url, verbose=False)
        # No article is published in 2099 (and an undated one never passes a date filter).
        chat, _, box = client.predict(SIGNED, "2099-01-01", [], api_name="/ask")
        assert "No indexed article matches the filters (published since 2099-01-01)" in shown(chat[-1])
        assert box == SIGNED and generator.prompts == []
        chat, _, box = client.predict(SIGNED, "not a date", [], api_name="/ask")
        assert "is not a date" in shown(chat[-1]) and box == SIGNED
        chat, _, box = client.predict(SIGNED, api_name="/ask")  # no filter given: as before
        assert "14 documents" in shown(chat[-1]) and box == ""


def test_an_article_added_by_address_is_indexed_and_listed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fetcher = FakeFetcher()
    module = types.ModuleType("rag.ingest.fetching")
    module.fetch_article = fetcher  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rag.ingest.fetching", module)
    with serving(Assistant(settings, embedder=HashEmbedder(), generator=ArticleGenerator())) as url:
        status, table, _, retry = Client(url, verbose=False).predict(
            "https://coast.example/news/dover\nftp://coast.example/x", api_name="/add_addresses"
        )
    status = html.unescape(status)
    assert "1 of 2 addresses added, 1 could not be fetched." in status and "as dover.md." in status
    assert retry == "ftp://coast.example/x" and "Harbour &lt;news&gt; dover" in table

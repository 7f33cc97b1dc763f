"""The feeds panel of the Articles tab: the feeds followed, with their last refresh and error; follow
one by its address, stop following one, refresh them all now.

Following or refreshing saves the new entries (rag/ingest/feeds.py) and then re-indexes through the
Library, as an upload does (embedding outside the assistant's lock). A feed that cannot be
followed is one line in the status box and changes nothing. Removing a feed keeps its articles.

Deliberately not here: gradio (ui/app.py), HTML (ui/render.py), fetching and parsing (rag/ingest/feeds.py).
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from rag.errors import RagError
from rag.ingest import feed_http, feeds
from ui import render
from ui.library import Library
from ui.progress import Bar, no_bar

log = logging.getLogger(__name__)


class FeedsShown(NamedTuple):
    """The feeds table and the remove menu's choices (label, address)."""

    table: str
    choices: list[tuple[str, str]]


class FeedsPanel:
    def __init__(self, library: Library, get: feeds.Get | None = None, fetch_page: feeds.PageFetch | None = None):
        self.library = library
        self._get = get  # None: rag.ingest.feed_http.http_get
        self._fetch_page = fetch_page  # None: rag.ingest.fetching, as `rag add`

    @property
    def _settings(self):  # type: ignore[no-untyped-def]
        return self.library.assistant.settings

    def show(self) -> FeedsShown:
        try:
            followed = list(feeds.load(self._settings.documents_dir).values())
        except RagError as err:
            return FeedsShown(render.notice_html(str(err), "error"), [])
        return FeedsShown(render.feeds_html(followed), [(f"{f.title or f.url} ({f.url})", f.url) for f in followed])

    def add(self, url: str | None, progress: Bar = no_bar) -> str:
        """Follow the feed at `url`, save its entries and index them; the status message as HTML."""
        address = (url or "").strip()
        if not address:
            return render.notice_html("Paste the address of an RSS or Atom feed (https://…).", "info")
        progress(0.0, f"Fetching {address}")
        s = self._settings
        try:
            result = feeds.add(address, s.documents_dir, limit=s.feed_limit, allow_hosts=s.feed_hosts,
                               fetch_page=self._fetch_page, get=self._get or feed_http.http_get)
        except RagError as err:
            return render.notice_html(str(err), "error")
        notes = [(f"Following {result.feed.title or result.feed.url}: {len(result.saved)} new articles.", "ok")]
        notes += [(n, "info") for n in result.notes]
        if result.saved:
            notes += self.library._reindex(progress, expect=list(result.saved))[0]
        return "".join(render.notice_html(text, kind) for text, kind in notes)

    def remove(self, url: str | None) -> str:
        if not url:
            return render.notice_html("Choose the feed to stop following first.", "info")
        try:
            feed = feeds.remove(url, self._settings.documents_dir)
        except RagError as err:
            return render.notice_html(str(err), "error")
        return render.notice_html(
            f"No longer following {feed.title or feed.url}; its articles stay in the documents folder "
            f"({feeds.FOLDER}/{feed.slug}).", "ok"
        )

    def refresh(self, progress: Bar = no_bar) -> str:
        """Refresh every feed now and index what they brought."""
        s = self._settings
        progress(0.0, "Refreshing the feeds")
        try:
            results = feeds.refresh_all(s.documents_dir, allow_hosts=s.feed_hosts, fetch_page=self._fetch_page,
                                        get=self._get or feed_http.http_get)
        except RagError as err:
            return render.notice_html(str(err), "error")
        if not results:
            return render.notice_html("No feeds are followed yet: add one above.", "info")
        notes = [(r.line, "error" if r.error else "ok") for r in results]
        saved = [d for r in results for d in r.saved]
        if saved:
            notes += self.library._reindex(progress, expect=saved)[0]
        return "".join(render.notice_html(text, kind) for text, kind in notes)


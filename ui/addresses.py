"""Add articles by their address: fetch each page into the documents folder, with a result per address.

`split` reads what was pasted into the field (one address per line; blank lines and repeats are
dropped). `fetch_all` fetches them one after the other with `rag.ingest.fetching.fetch_article`, which
keeps the article text and its metadata as a Markdown file in the documents folder, and returns
what became of each: the saved title and file, or the `FetchError` message (a bad address, an
address on this machine or a private network, a page that is not HTML, a timeout, a page too
large). One failure does not stop the others. The fetcher is imported when first used, so the page
loads even where fetching is not installed.

>>> split("https://a.example/1\\n\\n  https://a.example/1 \\nhttps://b.example/2")
['https://a.example/1', 'https://b.example/2']

Deliberately not here: indexing (ui/library.py runs it afterwards), HTML, gradio.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import FetchError
from ui.progress import Bar, no_bar

log = logging.getLogger(__name__)

MAX_ADDRESSES = 20  # per request: each fetch can take up to its timeout
Fetch = Callable[[str, Path], Any]  # rag.ingest.fetching.fetch_article: (url, documents folder) -> FetchedArticle


@dataclass(frozen=True)
class Fetched:
    url: str
    doc_id: str = ""  # the saved file, "" when the fetch failed
    title: str = ""
    error: str = ""

    @property
    def message(self) -> str:
        shown = _shown(self.url)
        if self.error:
            return f"{shown}: {self.error}"
        return f"Saved “{self.title or self.doc_id}” from {shown} as {self.doc_id}."


def _shown(url: str) -> str:
    return url if len(url) <= 100 else url[:99] + "…"


def split(text: str | None) -> list[str]:
    seen: dict[str, None] = {}
    for line in (text or "").splitlines():
        if line.strip():
            seen.setdefault(line.strip(), None)
    return list(seen)


def default_fetch(allow_hosts: Sequence[str] = ()) -> Fetch:
    """`rag.ingest.fetching.fetch_article`, imported now, allowing the private hosts `allow_hosts`
    (Settings.fetch_allow_hosts); ImportError when this installation lacks it."""
    fetch_article = importlib.import_module("rag.ingest.fetching").fetch_article
    return functools.partial(fetch_article, allow_hosts=tuple(allow_hosts))


def fetch_all(urls: list[str], folder: Path, fetch: Fetch, progress: Bar = no_bar) -> list[Fetched]:
    results = []
    for n, url in enumerate(urls):
        progress(n / len(urls), f"Fetching {n + 1} of {len(urls)}: {_shown(url)}")
        try:
            article = fetch(url, folder)
        except FetchError as err:
            results.append(Fetched(url, error=str(err)))
            continue
        except Exception as err:  # one odd page must not stop the others, nor take the page down
            log.exception("Fetching %r failed", url)
            results.append(Fetched(url, error=f"fetching it failed ({type(err).__name__}: {err})."))
            continue
        results.append(Fetched(url, str(article.doc_id), " ".join(str(article.title or "").split())))
    return results

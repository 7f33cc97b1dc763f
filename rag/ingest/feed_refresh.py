"""Refresh the feeds in the background of `rag serve`, without holding up a chat.

A `Refresher` thread refreshes every feed followed (rag/ingest/feeds.py) every `every_s` seconds, the first
time at once. When entries were saved it embeds them (Assistant.prepare, `BATCH` chunks per call)
and then brings the index up to date (`Assistant.index`, which then only writes, holding the
assistant's lock briefly, as an upload does). It never takes the model: the web chat's answers go
through their own queue. While a question is being answered (`Quiet.answering`, entered by the
web chat) it waits between batches, so the two cores are the answer's: an answer overlaps at most
one small batch of embedding.

Deliberately not here: fetching and saving feeds (rag/ingest/feeds.py), and the page (ui/).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rag.errors import RagError
from rag.ingest import feed_http, feeds

log = logging.getLogger(__name__)

BATCH = 16  # chunks per embedder call in the background: about 0.2 s on 2 cores


class Quiet:
    """How many answers are being given; `wait` returns when there are none."""

    def __init__(self) -> None:
        self._answering = 0
        self._changed = threading.Condition()

    @contextmanager
    def answering(self) -> Iterator[None]:
        with self._changed:
            self._answering += 1
        try:
            yield
        finally:
            with self._changed:
                self._answering -= 1
                self._changed.notify_all()

    @property
    def busy(self) -> bool:
        return self._answering > 0

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no answer is being given (True), or `timeout` seconds pass (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._answering == 0, timeout)


@dataclass
class Round:
    """What one background refresh did."""

    results: list[feeds.Refreshed] = field(default_factory=list)
    indexed: str = ""  # the index report's summary, "" when nothing was saved
    error: str = ""

    @property
    def saved(self) -> int:
        return sum(len(r.saved) for r in self.results)


class Refresher:
    def __init__(
        self,
        assistant: Any,  # rag.pipeline.Assistant (not imported: this module stays light)
        every_s: float,
        *,
        quiet: Quiet | None = None,
        allow_hosts: Collection[str] = (),
        get: feeds.Get | None = None,
        fetch_page: feeds.PageFetch | None = None,
        on_round: Callable[[Round], None] | None = None,
    ) -> None:
        self.assistant = assistant
        self.every_s = every_s
        self.quiet = quiet or Quiet()
        self.allow_hosts = tuple(allow_hosts)
        self.get = get
        self.fetch_page = fetch_page
        self.on_round = on_round
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: Round | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="feed-refresher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.every_s)

    def run_once(self) -> Round:
        """Refresh every feed, then embed and index what was saved; never raises."""
        settings = self.assistant.settings
        done = Round()
        try:
            done.results = feeds.refresh_all(
                settings.documents_dir, get=self.get or feed_http.http_get, fetch_page=self.fetch_page,
                allow_hosts=self.allow_hosts,
            )
            for result in done.results:
                (log.warning if result.error else log.info)("Feed %s", result.line)
            if done.saved:
                prepared = self.assistant.prepare(self._between_batches, batch=BATCH)
                self.quiet.wait()
                done.indexed = self.assistant.index(prepared=prepared).summary()
                log.info("Feeds: %d new articles; index: %s", done.saved, done.indexed)
        except RagError as err:
            done.error = str(err)
            log.warning("Refreshing the feeds failed: %s", err)
        except Exception as err:  # the server must outlive any failure of a refresh
            done.error = f"{type(err).__name__}: {err}"
            log.exception("Refreshing the feeds failed")
        self.last = done
        if self.on_round is not None:
            self.on_round(done)
        return done

    def _between_batches(self, done: int, total: int, doc_id: str) -> None:
        self.quiet.wait()

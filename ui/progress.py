"""Progress for the Articles tab in words: "Saving 3 of 120 files", "Indexing 37 of 120 files… about 40 s left".

`Bar` is what the page's progress bar takes: (fraction done, what is happening). `Indexing`
adapts the library's `rag.progress.Progress` (done, total, doc_id) of `Assistant.prepare` and `.index` to it,
with an estimate of the time left from the pace so far (none before the first file is done). The
clock is a parameter so that tests can drive it.

>>> seen = []
>>> clock = iter([100.0, 110.0]).__next__
>>> indexing = Indexing(lambda f, what: seen.append(what), clock)
>>> indexing(0, 120, "a.txt"); indexing(10, 120, "k.txt")
>>> seen[-1]
'Indexing 11 of 120 files… about 2 min left'

Deliberately not here: gradio (ui/app.py passes its gr.Progress in) and indexing itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Bar = Callable[[float, str], None]  # (fraction done, what is happening): gradio's gr.Progress takes these


def no_bar(fraction: float, what: str) -> None:
    return None


def time_left(seconds: float) -> str:
    """
    >>> time_left(4), time_left(42.4), time_left(150), time_left(4000)
    ('a few seconds', '40 s', '2 min', '1 h 7 min')
    """
    if seconds < 10:
        return "a few seconds"
    if seconds < 60:
        return f"{int(seconds // 10 * 10)} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


class Indexing:
    """Call it as indexing calls its progress callback; it reports to `progress` in words."""

    def __init__(self, progress: Bar, clock: Callable[[], float] = time.monotonic) -> None:
        self.progress = progress
        self.clock = clock
        self._start: tuple[float, int] | None = None  # (when, files done then)
        self._last = -1

    def __call__(self, done: int, total: int, doc_id: str) -> None:
        if not doc_id:
            self.progress(1.0, "Saving the index")
            return
        now = self.clock()
        if self._start is None or done < self._last:  # a new pass (the index step after the preparing one)
            self._start = (now, done)
        self._last = done
        what = f"Indexing {done + 1:,} of {total:,} files"
        since, done_then = self._start
        if done > done_then and now > since:
            pace = (now - since) / (done - done_then)
            what += f"… about {time_left(pace * (total - done))} left"
        self.progress(done / total if total else 1.0, what)

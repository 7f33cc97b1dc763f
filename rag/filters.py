"""Which articles a question may be answered from: a publication-date range and a set of sources.

`Filters` is what the web chat, `rag ask --since/--until/--source` and `answer(..., filters=...)`
pass down to retrieval. Dates are compared as calendar days (the first ten characters of an ISO
8601 date or date-time); an article whose date is unknown is left out by a date filter, and so is
one dated only by its file's time (`Document.added`: when it was copied here, not when the news
appeared) unless `added_dates` says to count that date too. Sources
match case-insensitively and exactly ("BBC News" matches "bbc news", not "BBC").

>>> from rag.index import DocumentEntry as Entry
>>> f = Filters.parse(since="2024-05-01", sources=["BBC News"])
>>> f.allows(Entry("a", published="2024-05-03T10:00:00+00:00", source="bbc news")), f.allows(Entry("b", source="BBC"))
(True, False)
>>> Filters.parse(since="30d", today=dt.date(2024, 6, 30)).since
'2024-05-31'
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from rag.errors import SettingsError

_RELATIVE = re.compile(r"^\s*(\d{1,5})\s*([dwmy])\s*$", re.IGNORECASE)
_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}


class Dated(Protocol):
    """What a filter reads of an article: rag.index.DocumentEntry has it."""

    @property
    def published(self) -> str | None: ...
    @property
    def source(self) -> str | None: ...
    @property
    def added(self) -> str | None: ...


@dataclass(frozen=True)
class Filters:
    since: str | None = None  # "YYYY-MM-DD", inclusive
    until: str | None = None  # "YYYY-MM-DD", inclusive
    sources: tuple[str, ...] = ()  # folded with str.casefold
    # Count the date a file was added (its modification time) for an article with no publication
    # date, in date filters and for "latest" questions. Off: only publication dates count.
    added_dates: bool = False

    @property
    def active(self) -> bool:
        return bool(self.since or self.until or self.sources)

    @property
    def dated(self) -> bool:
        return bool(self.since or self.until)

    def describe(self) -> str:
        """In words, e.g. "published from 2024-05-01 to 2024-05-31, from bbc news"."""
        parts = []
        if self.since and self.until:
            parts.append(f"published from {self.since} to {self.until}")
        elif self.since:
            parts.append(f"published since {self.since}")
        elif self.until:
            parts.append(f"published until {self.until}")
        if self.sources:
            parts.append("from " + " or ".join(self.sources))
        return ", ".join(parts) or "any article"

    def allows(self, entry: Dated) -> bool:
        """Whether the article `entry` describes may be searched: the one filter test, for every engine and the UI."""
        if self.dated:
            day = self.day(entry.published, entry.added)
            if day is None or (self.since and day < self.since) or (self.until and day > self.until):
                return False
        return not self.sources or (entry.source or "").casefold() in self.sources

    def day(self, published: str | None, added: str | None = None) -> str | None:
        """The day an article counts as dated: its publication day, else (only with `added_dates`)
        the day its file was added.

        >>> Filters().day(None, "2026-12-06T10:00:00+00:00"), Filters(added_dates=True).day(None, "2026-12-06")
        (None, '2026-12-06')
        """
        return day_of(published) or (day_of(added) if self.added_dates else None)

    @classmethod
    def parse(
        cls,
        since: str | None = None,
        until: str | None = None,
        sources: Iterable[str] = (),
        today: dt.date | None = None,
        added_dates: bool = False,
    ) -> Filters:
        """From what a person types: a date ("2024-05-01") or a span back from today ("30d", "2w",
        "6m", "1y") for `since`; a date for `until`. Raises SettingsError saying what is wrong."""
        start = _date(since, "since", today)
        end = _date(until, "until", today)
        if start and end and start > end:
            raise SettingsError(f"The date range is empty: since {start} is after until {end}.")
        folded = tuple(sorted({s.strip().casefold() for s in sources if s and s.strip()}))
        return cls(start, end, folded, added_dates)


def day_of(published: str | None) -> str | None:
    """The calendar day of an ISO 8601 date or date-time, or None when it is not one."""
    if not published or not re.match(r"^\d{4}-\d{2}-\d{2}", published):
        return None
    return published[:10]


def _date(value: str | None, name: str, today: dt.date | None) -> str | None:
    if value is None or not value.strip():
        return None
    relative = _RELATIVE.match(value)
    if relative:
        back = int(relative.group(1)) * _DAYS[relative.group(2).lower()]
        return ((today or dt.date.today()) - dt.timedelta(days=back)).isoformat()
    try:
        return dt.date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        raise SettingsError(
            f"The {name} date {value!r} is not a date: give YYYY-MM-DD (e.g. 2024-05-01) or a span back from today "
            "such as 30d, 2w, 6m or 1y."
        ) from None

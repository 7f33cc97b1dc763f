"""Dates in the articles' sentences, and the window of a "what's new" question.

A timeline (rag/answers/answering.py: `Answering.timeline`) lists events in date order, each dated. An
event's date is taken from its sentence when the sentence says one, resolved against its article's
publication date: "on Friday" in an article of Friday 2024-12-20 is 2024-12-20, "last month" the
month before, "December 18" the 18th of December of the year that puts it nearest the article's
date ("30 December" in an article of 3 January is the year before). A sentence without a date gets its article's.
Written by hand rather than with dateparser: its `search_dates` reads "may", "march" and "second"
as dates, and what a timeline needs is a handful of forms, each resolved one known way.

"What's new on X (since D / this week / in the last N days)?" asks about the articles published in
a window, which `window` reads off the question ("since January" is since the latest 1 January
on or before today); with no window named it is the last 7 days.

>>> import datetime as dt
>>> friday = dt.date(2024, 12, 20)
>>> resolve("On Friday, the two sides signed it.", friday).label
'20 December 2024'
>>> resolve("On December 18, he held talks with the Emperor.", friday).label
'18 December 2024'
>>> resolve("Prices rose last month.", friday).label
'November 2024'
>>> resolve("He arrived on December 17.", None).label
'17 December'
>>> resolve("On Friday, December 19, he met the Governor.", None).label  # the weekday fixes the year
'19 December 2025'
>>> resolve("They met at the embassy.", friday) is None
True
>>> window("What's new on the iPod since January?", dt.date(2025, 3, 5)).since
'2025-01-01'
>>> window("What is new on the visit this week?", dt.date(2025, 3, 5)).describe()
'published since 2025-03-03 (this week)'
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answers import evidence as ev
from rag.answers.evidence import Evidence
from rag.text.terms import fold
from rag.types import Hit

MONTHS = {name.lower(): n for n, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): n for n, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
WEEKDAYS = {name.lower(): n for n, name in enumerate(calendar.day_name)}
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"(?P<weekday>" + "|".join(WEEKDAYS) + r")"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
# The forms read, most precise first; the first (leftmost) match in a sentence wins.
_FORMS = [
    re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<month>[01]\d)-(?P<day>[0-3]\d)\b"),
    re.compile(rf"\b(?:{_WEEKDAY},? )?(?:the )?{_DAY} (?:of )?{_MONTH}(?:,? {_YEAR})?\b"),
    re.compile(rf"\b(?:{_WEEKDAY},? )?{_MONTH} {_DAY}\b(?!:)(?:,? {_YEAR})?"),
    re.compile(rf"\b{_MONTH},? {_YEAR}\b"),
    re.compile(rf"\b(?:in|during|since|by|until|early|late|mid|mid-|last|this|next) {_MONTH}\b"),
    re.compile(rf"\b(?:on|last|this|next|since|by|until) {_WEEKDAY}\b"),
    re.compile(r"\b(?P<relative>yesterday|today|tomorrow|last night|last month|this month|next month|last year|"
               r"this year|next year)\b"),
    re.compile(rf"\b(?:in|during|since|by|until|of|from) {_YEAR}\b"),
]


@dataclass(frozen=True)
class When:
    """A date, as precise as the text says: a day, a month or a year; the year may be unknown."""

    year: int | None
    month: int | None = None
    day: int | None = None
    from_text: bool = True  # False: the article's date, the sentence said none

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.year or 0, self.month or 0, self.day or 0)

    @property
    def label(self) -> str:
        """'18 December 2024', 'December 2024', '2024', '18 December' (year unknown)."""
        parts = [str(self.day)] if self.day else []
        if self.month:
            parts.append(calendar.month_name[self.month])
        if self.year:
            parts.append(str(self.year))
        return " ".join(parts)

    @property
    def iso(self) -> str:
        """As much of YYYY-MM-DD as is known: '2024-12-18', '2024-12', '--12-18'."""
        year = f"{self.year:04d}" if self.year else "-"
        if not self.month:
            return year
        return f"{year}-{self.month:02d}" + (f"-{self.day:02d}" if self.day else "")


def resolve(sentence: str, published: dt.date | None) -> When | None:
    """The date the sentence names, resolved against its article's publication date; None when it
    names none (or only one relative to a publication date that is unknown)."""
    text = _plain(sentence)
    found = sorted(((m.start(), i, m) for i, form in enumerate(_FORMS) for m in form.finditer(text)),
                   key=lambda t: (t[0], t[1]))
    for _, _, match in found:
        when = _when(match, published)
        if when is not None:
            return when
    return None


def _when(match: re.Match[str], published: dt.date | None) -> When | None:
    named = {k: v for k, v in match.groupdict().items() if v}
    if "relative" in named:
        return _relative(named["relative"], published)
    month = _month(named.get("month"))
    year = int(named["year"]) if "year" in named else None
    day = int(named["day"]) if "day" in named else None
    weekday = WEEKDAYS.get(named.get("weekday", ""))
    if month is None and day is None and year is None:  # "on Friday"
        if published is None or weekday is None:
            return None
        back = (published.weekday() - weekday) % 7
        return _day(published - dt.timedelta(days=back))
    if month is None:
        return When(year) if year else None
    if day is not None and not _valid(year or 2000, month, day):
        return None
    if year is None and "last" in match.group(0).split() and published is not None:  # "last March"
        year = published.year if month < published.month else published.year - 1
    if year is None and published is not None:  # the year that puts it nearest the article
        year = min((published.year + d for d in (-1, 0, 1)),
                   key=lambda y: abs((dt.date(y, month, min(day or 15, 28)) - published).days))
    if year is None and weekday is not None and day is not None:
        year = _year_of_weekday(month, day, weekday)
    return When(year, month, day)


def _relative(word: str, published: dt.date | None) -> When | None:
    if published is None:
        return None
    if word in ("yesterday", "last night"):
        return _day(published - dt.timedelta(days=1))
    if word == "today":
        return _day(published)
    if word == "tomorrow":
        return _day(published + dt.timedelta(days=1))
    months = {"last month": -1, "this month": 0, "next month": 1}
    if word in months:
        n = published.year * 12 + published.month - 1 + months[word]
        return When(n // 12, n % 12 + 1)
    return When(published.year + {"last year": -1, "this year": 0, "next year": 1}[word])


def _plain(text: str) -> str:
    """Lower case, NFKC, straight apostrophes; hyphens kept (rag.text.terms.fold drops them, and ISO dates
    need them)."""
    return unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")


def _month(name: str | None) -> int | None:
    if name is None:
        return None
    return int(name) if name.isdigit() else MONTHS.get(name.rstrip("."))


def _valid(year: int, month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]


def _day(day: dt.date) -> When:
    return When(day.year, day.month, day.day)


def _year_of_weekday(month: int, day: int, weekday: int, today: dt.date | None = None) -> int | None:
    """The latest year, not after this one, in which that day of that month falls on that weekday."""
    this = (today or dt.date.today()).year
    for year in range(this, this - 12, -1):
        if _valid(year, month, day) and dt.date(year, month, day).weekday() == weekday:
            return year
    return None


def article_date(published: str | None) -> dt.date | None:
    """An article's publication day from its `published` field ("2024-12-20" or a full timestamp)."""
    if not published:
        return None
    try:
        return dt.date.fromisoformat(published[:10])
    except ValueError:
        return None


# -- "what's new" ---------------------------------------------------------------------------------
_WHATS_NEW = re.compile(r"\bwhat(?:'s| is| has been|s) new\b|\bwhat(?:'s| is) the news\b|\bany news\b|\bnews since\b")


@dataclass(frozen=True)
class Window:
    since: str  # YYYY-MM-DD, inclusive
    said: str  # how the question named it ("since January", "this week"), or "" for the default
    until: str = ""  # YYYY-MM-DD, inclusive: the day asked on (an article dated later is not "new" then)

    def describe(self) -> str:
        return f"published since {self.since} ({self.said or 'the last 7 days: no window was named'})"


def asks_whats_new(question: str) -> bool:
    return bool(_WHATS_NEW.search(_plain(question)))


def window(question: str, today: dt.date) -> Window:
    """The window a "what's new" question names, relative to `today`; the last 7 days when none."""
    text = _plain(question)
    if m := re.search(r"\b(?:in|over|during) the (?:last|past) (\d+|two|three|four|five|six|seven|ten|few) "
                      r"(day|week|month)s?\b", text):
        count = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10, "few": 3}.get(
            m.group(1)) or int(m.group(1))
        days = {"day": 1, "week": 7, "month": 30}[m.group(2)] * count
        return Window((today - dt.timedelta(days=days)).isoformat(), m.group(0), today.isoformat())
    if m := re.search(r"\b(?:in the |over the )?(?:last|past) (day|week|month|year)\b", text):
        days = {"day": 1, "week": 7, "month": 30, "year": 365}[m.group(1)]
        return Window((today - dt.timedelta(days=days)).isoformat(), m.group(0), today.isoformat())
    if m := re.search(r"\bthis (week|month|year)\b|\btoday\b", text):
        unit = m.group(1)
        start = {None: today, "week": today - dt.timedelta(days=today.weekday()),
                 "month": today.replace(day=1), "year": today.replace(month=1, day=1)}[unit]
        return Window(start.isoformat(), m.group(0), today.isoformat())
    if m := re.search(r"\bsince (.{3,40}?)(?:\?|$|,|;| and\b)", text):
        when = resolve(m.group(1), today) or resolve("in " + m.group(1), today)
        if when is not None and when.year:
            start = dt.date(when.year, when.month or 1, when.day or 1)
            if start > today and not re.search(r"\d{4}", m.group(1)):  # "since December" said in March
                start = start.replace(year=start.year - 1)
            return Window(start.isoformat(), "since " + m.group(1).strip(), today.isoformat())
    return Window((today - dt.timedelta(days=7)).isoformat(), "", today.isoformat())


# -- events ---------------------------------------------------------------------------------------
def dated_events(chosen: Sequence[Evidence], passages: Sequence[Hit]) -> list[tuple[When, Evidence]]:
    """The chosen sentences as events, each once, dated and in date order.

    A sentence's date is the one it names; else the last one named before it in its article, in
    the passages retrieved (news
    tells events in order: "On December 18, he held talks … The meeting ended with 14 documents."
    happened on the 18th); else its article's publication date. A day without a year, in an
    article without a date, takes the year another sentence of that article resolves to ("On
    Friday, December 19" fixes 2025 for "December 18" before it). Events whose date is unknown
    come last, in reading order."""
    units = ev.sentences(passages)
    seen: set[str] = set()
    events: list[tuple[When | None, int, Evidence]] = []
    for order, unit in enumerate(chosen):
        key = " ".join(fold(unit.text).split())
        if key in seen:  # the same sentence in two copies of a story
            continue
        seen.add(key)
        published = article_date(passages[unit.passage - 1].published)
        when = resolve(unit.text, published)
        if when is None:  # the last date named before it in its article, in any passage retrieved
            doc = passages[unit.passage - 1].chunk.doc_id
            before = sorted((u for u in units if passages[u.passage - 1].chunk.doc_id == doc and u.end <= unit.start),
                            key=lambda u: u.start)
            when = next((w for u in reversed(before) if (w := resolve(u.text, published)) is not None), None)
        if when is None and published is not None:
            when = When(published.year, published.month, published.day, from_text=False)
        events.append((when, order, unit))
    events = _with_years(events, passages)
    events.sort(key=lambda e: (e[0] is None, e[0].key if e[0] else (0, 0, 0), e[1]))
    return [(when or When(None), unit) for when, _, unit in events]


def _with_years(events: list[tuple[When | None, int, Evidence]], passages: Sequence[Hit]
                ) -> list[tuple[When | None, int, Evidence]]:
    years: dict[str, int] = {}
    for when, _, unit in events:
        if when is not None and when.year and when.month:
            years.setdefault(passages[unit.passage - 1].chunk.doc_id, when.year)
    out = []
    for when, order, unit in events:
        year = years.get(passages[unit.passage - 1].chunk.doc_id)
        if when is not None and when.year is None and when.month and year:
            when = When(year, when.month, when.day, when.from_text)
        out.append((when, order, unit))
    return out

"""The chat's filters: which articles a question may be answered from, as chosen above the input.

The "Published" menu gives a span back from today ("7d", "30d", "1y") or a date typed as
YYYY-MM-DD; the "Source" menu gives sources of the indexed articles. `parse` turns them into a
`rag.filters.Filters`, or a `ScopeError` whose message says what to type; `nothing_left` is the
message shown instead of asking when no indexed article passes the filters (a refusal then would
look as if the articles did not know).

>>> parse("2024-05-01", ["BBC News", "Reuters"]).describe()
'published since 2024-05-01, from bbc news or reuters'
>>> parse("", []).active
False

Deliberately not here: retrieval (rag.filters and the retrievers apply the filter), gradio, HTML.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rag.errors import SettingsError
from rag.filters import Filters
from rag.index import DocumentEntry

PERIODS = [("Any time", ""), ("Last 7 days", "7d"), ("Last 30 days", "30d"), ("Last year", "1y")]


class ScopeError(ValueError):
    """The filters cannot be read; the message says what to type instead."""


def parse(published: str | None, sources: Iterable[str] | None) -> Filters:
    labels = {label.casefold(): value for label, value in PERIODS}
    since = (published or "").strip()
    since = labels.get(since.casefold(), since)  # a label typed out in full, like "Any time"
    try:
        return Filters.parse(since=since or None, sources=list(sources or ()))
    except SettingsError:
        raise ScopeError(
            f"“{since}” is not a date: type it as YYYY-MM-DD (for example 2024-05-01), or choose a period "
            "under Published. Your question is still in the box."
        ) from None


def any_allowed(catalog: Mapping[str, DocumentEntry], filters: Filters) -> bool:
    """Whether any indexed article passes `filters`, from the index's catalog (no article is read)."""
    return any(filters.allows(e) for e in catalog.values())


def nothing_left(filters: Filters) -> str:
    return (
        f"No indexed article matches the filters ({filters.describe()}): there is nothing to answer from. Choose "
        "“Any time” "
        "under Published or other sources, then ask again: your question is still in the box."
    )

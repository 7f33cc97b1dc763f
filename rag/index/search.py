"""The part of search both engines share, written once: the modes, how deep each list is searched,
newest first for questions about recency, one passage per story (copies of one article, grouped
by rag/index/stories.py at each commit), and the `Hit` made of a passage and its article's entry.

Each engine finds its candidates its own way (rag/index/local/retrieval.py over the segments, with its own
reciprocal rank fusion; rag/index/milvus/retrieval.py inside Milvus) and the filters are one test,
`Filters.allows(entry)` (rag/filters.py), on the catalog's `DocumentEntry`s.

>>> search_depth(1000, 5), search_depth(1000, 20), search_depth(30, 5)
(50, 80, 30)
>>> newest_first([("old", 1.0), ("new", 0.9), ("far", 0.1)], {"old": "2024-01-01", "new": "2024-06-01"}.get)
[('new', 0.9), ('old', 1.0), ('far', 0.1)]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from rag.filters import Filters
from rag.index import DocumentEntry
from rag.types import Chunk, Hit

# The usual 60 suits fusing long lists; with a handful of passages kept, a smaller constant lets a
# passage ranked first by one list count for more. On eval/questions.jsonl, recall@5 is 0.974 for
# 5 and 10, 0.961 for 20 and 0.947 for 30 to 100 (recall@3 and @4 unchanged).
RRF_K = 10
MODES = ("hybrid", "dense", "bm25")
# A question about recency ranks newest first the passages whose fused score is at least this share
# of the best one's: about as relevant, so "the latest on X" is still about X.
RECENT_SHARE = 0.6

_RECENT = re.compile(
    r"\b(latest|newest|most recent|recent(ly)?|lately|new developments?|up to date|this (week|month|year)|"
    r"last (few )?(days?|weeks?|months?)|today|yesterday|current(ly)?|now|so far|still)\b",
    re.IGNORECASE,
)

T = TypeVar("T")


def asks_for_recent(question: str) -> bool:
    """Whether the question asks for the newest news ("What is the latest on …?").

    >>> asks_for_recent("What is the latest on the bridge?"), asks_for_recent("Who built the bridge?")
    (True, False)
    """
    return bool(_RECENT.search(question))


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"retriever must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def search_depth(size: int, k: int) -> int:
    """How many candidates each list (dense, BM25) brings for k hits, in an index of `size` chunks."""
    return min(size, max(4 * k, 50))


def newest_first(ranked: list[tuple[T, float]], day: Callable[[T], str | None]) -> list[tuple[T, float]]:
    """For a question about recency: among the candidates nearly as relevant as the best one
    (RECENT_SHARE of its fused score), the newest articles first (by `day`, undated last, ties in
    their rank); the rest after, as ranked."""
    if not ranked:
        return ranked
    bar = RECENT_SHARE * ranked[0][1]
    relevant = [item for item in ranked if item[1] >= bar]
    newest = sorted(relevant, key=lambda item: day(item[0]) or "", reverse=True)  # stable
    return newest + ranked[len(relevant):]


def entry_day(entry: DocumentEntry | None, filters: Filters | None) -> str | None:
    """The day an article counts as dated for recency: published, else (only if the filters count
    them) the day its file was added."""
    if entry is None:
        return None
    return Filters(added_dates=filters is not None and filters.added_dates).day(entry.published, entry.added)


def one_per_story(
    ranked: Iterable[T], entry_of: Callable[[T], DocumentEntry | None], k: int,
    members: Mapping[str, tuple[str, ...]],
) -> list[tuple[T, DocumentEntry, tuple[str, ...]]]:
    """The first k of `ranked` (best first), one copy per story: once a passage of an article of a
    story (rag/index/stories.py) is kept, the passages of its other copies are passed over (the article's
    own passages never are). Each kept item comes with its article's entry and the other copies
    (`members`: story -> its articles, stories.members), for `Hit.also_in`. Items of no article
    in the catalog are passed over.

    >>> entries = {"a": DocumentEntry("a", story="a"), "b": DocumentEntry("b", story="a"), "c": DocumentEntry("c")}
    >>> kept = one_per_story(["b", "a", "c", "b"], entries.get, 5, {"a": ("a", "b")})
    >>> [(item, also_in) for item, _, also_in in kept]
    [('b', ('a',)), ('c', ()), ('b', ('a',))]
    """
    kept: list[tuple[T, DocumentEntry, tuple[str, ...]]] = []
    told: dict[str, str] = {}  # story -> the copy whose passages stand for it
    for item in ranked:
        if len(kept) == k:
            break
        entry = entry_of(item)
        if entry is None:
            continue
        story = entry.story
        if story and told.setdefault(story, entry.doc_id) != entry.doc_id:
            continue  # another copy of a story already found: its passages would repeat it
        also_in = tuple(d for d in members.get(story, ()) if d != entry.doc_id) if story else ()
        kept.append((item, entry, also_in))
    return kept


def make_hit(
    chunk: Chunk, score: float, rank: int, entry: DocumentEntry, *, dense: float, lexical: float,
    also_in: tuple[str, ...] = (),
) -> Hit:
    """A ranked passage, with its article's title, date, source and address from the catalog."""
    return Hit(chunk, score, rank, entry.title, dense=dense, lexical=lexical, published=entry.published,
               source=entry.source, url=entry.url, also_in=also_in)

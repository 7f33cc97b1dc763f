"""The Milvus index's term counts: how many chunks there are and how many contain each term, for
the answer checker's IDF (`Searcher.idf`, the formula of `rag.text.terms.idf_table`).

The local engine takes these counts from the term matrices stored with its segments (rag/index/local/bm25.py).
Milvus keeps its own BM25 statistics to itself, so the Milvus engine keeps this small table beside
each manifest (store.py writes it under `terms_key(tag)` in the meta collection, with the
manifest, before the commit point): an update adds the terms of the chunk rows it writes and
subtracts those of the rows it replaces, and a searcher reads the table once, instead of reading
every chunk of the index at start. A row's terms are its `terms` field: `rag.text.terms.terms()` of the
chunk, joined by spaces (`EMPTY` for a chunk without any).

>>> counts = TermCounts()
>>> counts.add("bridg open bridg"); counts.add("ferri")
>>> counts.chunks, sorted(counts.df.items())
(2, [('bridg', 1), ('ferri', 1), ('open', 1)])
>>> counts.add("ferri", -1); sorted(counts.df.items())
[('bridg', 1), ('open', 1)]
>>> TermCounts.from_json(counts.to_json()) == counts
True
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from rag.text.terms import idf_from_counts

EMPTY = "_"  # the `terms` of a chunk without any (Milvus's analyser wants some text); never a term


def terms_key(tag: str) -> str:
    """The meta collection's key of the term counts written with manifest `tag`."""
    return f"terms-{tag}"


@dataclass
class TermCounts:
    chunks: int = 0
    df: dict[str, int] = field(default_factory=dict)  # term -> chunks containing it

    def add(self, row_terms: str, sign: int = 1) -> None:
        """Count one chunk row's terms in (sign 1) or out (sign -1)."""
        self.chunks += sign
        for term in set(row_terms.split()) - {EMPTY}:
            count = self.df.get(term, 0) + sign
            if count > 0:
                self.df[term] = count
            else:
                self.df.pop(term, None)

    def idf(self) -> Callable[[str], float]:
        return idf_from_counts(self.chunks, self.df)

    def to_json(self) -> str:
        return json.dumps({"chunks": self.chunks, "df": self.df}, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> TermCounts:
        data = json.loads(text)
        return cls(int(data["chunks"]), {str(t): int(n) for t, n in data["df"].items()})

"""Dense, BM25 or hybrid search in the Milvus index (store.py), returning the same `Hit`s as
retrieval.Retriever does over the FAISS files.

- dense: the MiniLM vectors, inner product (= cosine: they are normalised);
- bm25: Milvus's BM25 function over the chunks' `rag.text.terms` (k1 1.5, b 0.75 as bm25s). Milvus's
  scores carry the classic factor (k1 + 1) that Lucene's formula, and so bm25s, dropped: dividing
  by it gives bm25s's scores (tests/test_index_backends.py compares them);
- hybrid: Milvus's own `hybrid_search` with `RRFRanker` and the FAISS backend's constant; a
  question about recency puts the newest of the nearly best first, as the local engine does
  (rag/index/search.py, shared by both).
`search(query, k, filters)` keeps to the articles a `Filters` allows, inside Milvus: the manifest
knows every document's date and source, so the allowed document versions become a `doc_hash in
[...]` expression (or `not in` the excluded ones, whichever list is shorter) on every search
request. Unlike post-filtering a deeper candidate list, a narrow filter still gets k hits, and the
chunk rows need no new fields (an existing Milvus index keeps working without being rebuilt).
Of copies of one story (grouped at each commit, rag/index/stories.py) only the passages of the best ranked
copy are kept, naming the others in `Hit.also_in` (rag/index/search.py's `one_per_story`, as the
local engine). `idf` comes from the term counts written with the manifest (milvus_terms.py): no
chunk is read when a searcher starts.
Deliberately not here: writing the index, and deciding whether hits are enough.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from rag.filters import Filters
from rag.index import stories
from rag.index.milvus.store import (
    BM25_PARAMS,
    CHUNK_FIELDS,
    STRONG,
    MilvusIndex,
    load_from,
    quoted,
    read_head,
    row_chunk,
)
from rag.index.search import (
    RRF_K,
    asks_for_recent,
    check_mode,
    entry_day,
    make_hit,
    newest_first,
    one_per_story,
    search_depth,
)
from rag.models.embedding import Embedder
from rag.text.terms import terms
from rag.types import Hit

log = logging.getLogger(__name__)

BM25_FACTOR = 1.0 + BM25_PARAMS["bm25_k1"]


class MilvusRetriever:
    """Dense, BM25 or hybrid search in Milvus, returning the same `Hit`s as retrieval.Retriever.

    Hybrid is Milvus's own reciprocal rank fusion of the two searches (RRFRanker with the same
    constant as the FAISS backend). Every hit carries its cosine similarity and its BM25 score,
    whichever list found it: the missing one is asked of Milvus for just those chunks.
    Each search first checks `head` (one small query), so an update committed by another process
    (`rag index` elsewhere in a cluster) is followed at the next question.
    """

    def __init__(self, index: MilvusIndex, embedder: Embedder, mode: str = "hybrid") -> None:
        self.index = index
        self.embedder = embedder
        self.mode = check_mode(mode)
        self.idf = index.term_counts.idf()  # one small table read, not every chunk (milvus_terms.py)
        self._stories = stories.members(index.manifest.get("documents", {}))
        self._refreshing = threading.Lock()

    def refresh(self) -> None:
        """Load the manifest `head` names if another process has committed a new one."""
        with self._refreshing:
            tag = read_head(self.index.collections)
            if tag is None or tag == self.index.manifest.get("tag"):
                return
            log.info("The index in %s was updated elsewhere: loading manifest %s", self.index.where, tag)
            embedder = self.index.manifest["embedder"]
            index = load_from(self.index.collections, embedder["name"], int(embedder["dimension"]), self.index.where)
            self.idf = index.term_counts.idf()
            self._stories = stories.members(index.manifest.get("documents", {}))
            self.index = index

    def _client(self) -> Any:
        return self.index.collections.client

    def _search(self, anns_field: str, data: Any, metric: str, limit: int, filter: str = "") -> list[dict[str, Any]]:
        found = self._client().search(
            self.index.collections.chunks, data=[data], anns_field=anns_field, limit=limit, filter=filter,
            search_params={"metric_type": metric}, output_fields=CHUNK_FIELDS, consistency_level=STRONG,
        )
        return [{**hit["entity"], "score": float(hit["distance"])} for hit in found[0]]

    def _hybrid(self, vector: list[float], query_terms: str, depth: int, filter: str = "") -> list[dict[str, Any]]:
        from pymilvus import AnnSearchRequest, RRFRanker

        requests = [
            AnnSearchRequest(data=[vector], anns_field="vector", param={"metric_type": "IP"}, limit=depth,
                             expr=filter or None),
            AnnSearchRequest(data=[query_terms], anns_field="sparse", param={"metric_type": "BM25"}, limit=depth,
                             expr=filter or None),
        ]
        found = self._client().hybrid_search(
            self.index.collections.chunks, reqs=requests, ranker=RRFRanker(RRF_K), limit=depth,
            output_fields=CHUNK_FIELDS, consistency_level=STRONG,
        )
        return [{**hit["entity"], "score": float(hit["distance"])} for hit in found[0]]

    def allowed(self, filters: Filters | None) -> str | None:
        """The Milvus expression for the document versions `filters` allows: "" for all of them,
        None for none."""
        if filters is None or not filters.active:
            return ""
        catalog = self.index.catalog
        keep = [e.hash for e in catalog.values() if filters.allows(e)]
        if not keep:
            return None
        if len(keep) == len(catalog):
            return ""
        kept = set(keep)
        drop = [e.hash for e in catalog.values() if e.hash not in kept]
        return f"doc_hash in {quoted(keep)}" if len(keep) <= len(drop) else f"doc_hash not in {quoted(drop)}"

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        self.refresh()
        size = self.index.size
        where = self.allowed(filters)
        if not size or k <= 0 or where is None:
            return []
        depth = search_depth(size, k)
        vector = self.embedder.embed([query])[0]
        as_list = [float(x) for x in vector]
        query_terms = " ".join(terms(query))
        if self.mode == "dense" or (self.mode == "hybrid" and not query_terms):
            rows = self._search("vector", as_list, "IP", depth, where)
            if self.mode == "hybrid":  # no words to match: the fusion of the dense list alone
                rows = [{**r, "score": 1.0 / (RRF_K + n)} for n, r in enumerate(rows, start=1)]
        elif self.mode == "bm25":
            rows = self._search("sparse", query_terms, "BM25", depth, where) if query_terms else []
            rows = [{**r, "score": r["score"] / BM25_FACTOR} for r in rows]
        else:
            rows = self._hybrid(as_list, query_terms, depth, where)
        rows = [r for r in rows if self.index.live(r)]
        catalog = self.index.catalog
        if self.mode == "hybrid" and asks_for_recent(query):
            ranked = newest_first([(n, r["score"]) for n, r in enumerate(rows)],
                                  lambda n: entry_day(catalog.get(rows[n]["doc_id"]), filters))
            rows = [rows[n] for n, _ in ranked]
        kept = one_per_story(rows, lambda r: catalog.get(r["doc_id"]), k, self._stories)
        if not kept:
            return []
        rows = [r for r, _, _ in kept]

        pks = quoted([r["pk"] for r in rows])
        vectors = {r["pk"]: r["vector"] for r in self._client().query(
            self.index.collections.chunks, filter=f"pk in {pks}", output_fields=["pk", "vector"],
            consistency_level=STRONG)}
        lexical: dict[str, float] = {}
        if query_terms:
            scored = self._search("sparse", query_terms, "BM25", len(rows), f"pk in {pks}")
            lexical = {r["pk"]: r["score"] / BM25_FACTOR for r in scored}
        return [make_hit(row_chunk(r), r["score"], rank, entry, dense=float(np.dot(vectors[r["pk"]], vector)),
                         lexical=lexical.get(r["pk"], 0.0), also_in=also_in)
                for rank, (r, entry, also_in) in enumerate(kept, start=1)]

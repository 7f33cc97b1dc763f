"""One story, many copies: find the articles that are copies of one another and group them.

Wire copy reaches an archive many times: the same text from several outlets, with an edited
headline, a line added or cut. Each article gets a MinHash signature (datasketch, `NUM_PERM`
permutations) of its word `SHINGLE`-grams; signatures are cut into `BANDS` bands, and two articles
sharing one band are candidates (locality-sensitive hashing: pairs of Jaccard similarity 0.5 are
found with probability 0.87, pairs of 0.6 with 0.99, of 0.35 with 0.38; 64 bands of 2 found more
heavily edited copies but cost 2 s per commit at 5,000 articles). A candidate pair is a copy when its estimated
Jaccard similarity is at least `THRESHOLD`; copies of copies are one story (union-find). Identical
texts always share every band, so every byte-identical pair is grouped.

A story is named by its first member's id (A–Z) and written in each member's manifest entry
(`"story"`), in the same atomic commit as the documents (store.commit): a build killed at any
moment leaves documents and stories that agree. Articles in no group have no `"story"`.
Signatures are kept by document hash, in `index/stories.npz` (the local engine) or as rows of
the Milvus texts collection (rag/index/milvus/store.py, MilvusSignatures): a cache written before the manifest
that names them; a signature it lacks is computed from the article's text again. Both engines
call `regroup` at each commit.

Deliberately not here: which passage of a story retrieval returns (rag/index/search.py's
`one_per_story`, for both engines, keeps the best one and names the other copies in `Hit.also_in`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

NUM_PERM = 128
BANDS = 32  # of NUM_PERM // BANDS rows each
SHINGLE = 5  # words
# Estimated Jaccard similarity of the shingle sets. On the synthetic archive (docs/news.md) edited
# copies score 0.20-1.0 and follow-ups quoting one paragraph of a story at most 0.23: 0.35 kept
# every follow-up apart and grouped 94% of the copies (0.5: 88%).
THRESHOLD = 0.35
SEED = 1
CACHE = "stories.npz"
SETTINGS = {"method": "minhash-lsh", "num_perm": NUM_PERM, "bands": BANDS, "shingle": SHINGLE, "threshold": THRESHOLD}

_WORD = re.compile(r"\w+")


def shingles(text: str, size: int = SHINGLE) -> set[bytes]:
    """The text's runs of `size` words, lower-cased (all its words as one run when it has fewer).

    >>> sorted(shingles("The cat sat. The cat sat!", 3))
    [b'cat sat the', b'sat the cat', b'the cat sat']
    """
    words = _WORD.findall(text.casefold())
    if len(words) < size:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + size]).encode() for i in range(len(words) - size + 1)}


def signature(text: str) -> np.ndarray:
    """The text's MinHash signature, `NUM_PERM` uint32 values; all zeros for a text without words
    (it is then nobody's copy)."""
    from datasketch import MinHash  # lazy: only indexing needs it

    grams = shingles(text)
    if not grams:
        return np.zeros(NUM_PERM, np.uint32)
    minhash = MinHash(num_perm=NUM_PERM, seed=SEED)
    minhash.update_batch(list(grams))
    return np.asarray(minhash.hashvalues, dtype=np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The Jaccard similarity two signatures estimate (0 when either text had no words)."""
    if not a.any() or not b.any():
        return 0.0
    return float(np.mean(a == b))


def groups(
    ids: list[str], signatures: np.ndarray, threshold: float = THRESHOLD, bands: int = BANDS
) -> list[list[str]]:
    """The stories of more than one article: lists of ids (each sorted), sorted by their first id.

    >>> sig = signature("Rail fares rise by three per cent in January, the operators said on Friday")
    >>> other = signature("A completely different article about football results and a cup match")
    >>> groups(["a", "b", "c"], np.vstack([sig, other, sig]))
    [['a', 'c']]
    """
    n = len(ids)
    if n < 2:
        return []
    rows = NUM_PERM // bands
    banded = signatures.reshape(n, bands, rows).astype(np.uint64)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    live: np.ndarray = np.asarray(signatures.any(axis=1), dtype=bool)
    checked: set[tuple[int, int]] = set()
    for band in range(bands):
        keys = np.zeros(n, np.uint64)
        for r in range(rows):  # a polynomial hash of the band's values (uint64 wraps around)
            keys = keys * np.uint64(1_000_003) + banded[:, band, r]
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        sizes = np.diff(np.r_[starts, n])
        for start, size in zip(starts[sizes > 1], sizes[sizes > 1], strict=True):
            members = [int(m) for m in order[start : start + size] if live[m]]
            for x, first in enumerate(members):
                for second in members[x + 1 :]:
                    pair = (min(first, second), max(first, second))
                    if pair in checked:
                        continue
                    checked.add(pair)
                    if find(first) == find(second):
                        continue
                    if similarity(signatures[first], signatures[second]) >= threshold:
                        parent[find(first)] = find(second)
    found: dict[int, list[str]] = {}
    for i in range(n):
        found.setdefault(find(i), []).append(ids[i])
    return sorted((sorted(g) for g in found.values() if len(g) > 1), key=lambda g: g[0])


class SignatureCache(Protocol):
    """Document hash -> signature, kept by an engine: `Signatures` in the index folder, or rows in
    Milvus (rag/index/milvus/store.py); `add` computes a signature the cache lacks."""

    known: dict[str, np.ndarray]

    def add(self, doc_hash: str, text: str) -> None: ...


class Signatures:
    """The signature cache of an index folder: document hash -> signature."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / CACHE
        self.known: dict[str, np.ndarray] = {}
        self.changed = False
        try:
            with np.load(self.path, allow_pickle=False) as data:
                hashes, values = data["hashes"], data["signatures"]
            if values.shape[1:] == (NUM_PERM,):
                self.known = {h.decode(): values[i] for i, h in enumerate(hashes)}
        except (OSError, KeyError, ValueError, EOFError) as err:
            if self.path.exists():
                log.warning("The story signatures in %s cannot be read (%s): they are computed again", self.path, err)

    def add(self, doc_hash: str, text: str) -> None:
        if doc_hash not in self.known:
            self.known[doc_hash] = signature(text)
            self.changed = True

    def save(self, keep: Iterable[str]) -> None:
        """Write the signatures of the hashes in `keep` (atomically: a temporary file, renamed)."""
        wanted = sorted(set(keep) & set(self.known))
        if not self.changed and len(wanted) == len(self.known):
            return
        import io

        buffer = io.BytesIO()
        values = np.vstack([self.known[h] for h in wanted]) if wanted else np.zeros((0, NUM_PERM), np.uint32)
        np.savez(buffer, hashes=np.array([h.encode() for h in wanted], dtype="S64"), signatures=values)
        tmp = self.path.with_name(f".{CACHE}.{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            f.write(buffer.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self.known = {h: self.known[h] for h in wanted}
        self.changed = False


def regroup(
    entries: Mapping[str, dict[str, Any]], cache: SignatureCache, read_texts: Callable[[list[str]], Mapping[str, str]]
) -> int:
    """Write each entry's story (or remove it) from the signatures of all entries; `read_texts` gives
    the text of the documents whose signature is not cached (by id). Returns the number of stories."""
    missing = [doc_id for doc_id, e in entries.items() if e.get("hash") not in cache.known]
    if missing:
        texts = read_texts(missing)
        for doc_id in missing:
            cache.add(str(entries[doc_id]["hash"]), texts.get(doc_id, ""))
    ids = sorted(entries)
    if not ids:
        return 0
    found = groups(ids, np.vstack([cache.known[str(entries[i]["hash"])] for i in ids]))
    for entry in entries.values():
        entry.pop("story", None)
    for story in found:
        for doc_id in story:
            entries[doc_id]["story"] = story[0]
    return len(found)


def members(entries: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """Story name -> its articles' ids, A–Z, from manifest entries.

    >>> members({"a": {"story": "a"}, "b": {}, "c": {"story": "a"}})
    {'a': ('a', 'c')}
    """
    out: dict[str, list[str]] = {}
    for doc_id, entry in entries.items():
        if entry.get("story"):
            out.setdefault(str(entry["story"]), []).append(doc_id)
    return {story: tuple(sorted(ids)) for story, ids in out.items()}

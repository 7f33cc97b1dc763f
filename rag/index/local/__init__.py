"""The local engine: immutable segments in the index folder named by a manifest
(store.py), their nearest vectors (vector_index.py) and BM25 (bm25.py), searched by
retrieval.py; engine.py puts them behind `rag.index.Index`.
"""

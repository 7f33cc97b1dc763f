"""The Milvus engine: collections in a Milvus Lite file or a Milvus server (store.py),
searched by retrieval.py; engine.py puts them behind `rag.index.Index`.
"""

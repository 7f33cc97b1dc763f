"""What every index's manifest promises, whichever engine keeps it: the format version this program
reads, and the embedder its vectors were made by. An index that breaks either promise is refused
with a message saying which and what to do (`rag index` rebuilds it).

>>> check_compatible({"format_version": FORMAT_VERSION, "embedder": {"name": "m", "dimension": 3}}, "m", 3, "index")
>>> check_compatible({"format_version": FORMAT_VERSION, "embedder": {"name": "m", "dimension": 3}}, "other", 3, "index")
Traceback (most recent call last):
rag.errors.IndexStoreError: The index in index was built with embedder 'm' (3 dimensions), not 'other' (3). ...
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rag.errors import IndexStoreError

FORMAT_VERSION = 2


def check_compatible(manifest: Mapping[str, Any], embedder_name: str, dimension: int, where: str | Path) -> None:
    """Raise IndexStoreError unless the manifest (of the index at `where`) is of this format and
    was built by this embedder."""
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexStoreError(
            f"The index in {where} has format version {version}, this program reads version "
            f"{FORMAT_VERSION}. Run `rag index` to rebuild it."
        )
    built_with = manifest.get("embedder", {})
    if built_with.get("name") != embedder_name or built_with.get("dimension") != dimension:
        raise IndexStoreError(
            f"The index in {where} was built with embedder {built_with.get('name')!r} "
            f"({built_with.get('dimension')} dimensions), not {embedder_name!r} ({dimension}). "
            "Run `rag index` to rebuild it."
        )

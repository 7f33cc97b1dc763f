"""Named points where work can be made to fail on purpose, to prove that a crash there loses
nothing: the tests install a hook at a point (`injected`), the product calls `point` on its way
past. With no hook installed a point is one dictionary look-up.

The points (`POINTS`), each named where the work is:
- "store.write": before each index file is written (`path`, `data`: the file and its bytes);
- "index.merge": before segments are merged into one (`segments`: their names; the new one is
  already written);
- "index.commit": at the commit point, before the new manifest becomes the index (`where`: the
  index folder or the Milvus collections' prefix), on both engines;
- "index.clean_up": after the commit, before what the update replaced is deleted (Milvus).

A hook may raise (SystemExit stands in for a kill) or do part of the work first, e.g. write half
the file. Naming the points here keeps tests off private functions: renaming one breaks no test.

>>> with injected("index.merge", lambda segments: print("merging", segments)):
...     point("index.merge", segments=["s1", "s2"])
merging ['s1', 's2']
>>> point("index.merge")  # no hook: nothing happens
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

POINTS = frozenset({"store.write", "index.merge", "index.commit", "index.clean_up"})

Hook = Callable[..., None]

_hooks: dict[str, Hook] = {}


def point(name: str, **context: Any) -> None:
    """Run the hook installed at `name`, if any, with what the point knows (`context`)."""
    hook = _hooks.get(name)
    if hook is not None:
        hook(**context)


@contextmanager
def injected(name: str, hook: Hook) -> Iterator[None]:
    """Run `hook` at the point `name` while the block runs.

    >>> with injected("index.nowhere", print):
    ...     pass
    Traceback (most recent call last):
    ValueError: no fault point 'index.nowhere' (there are: index.clean_up, index.commit, index.merge, store.write)
    """
    if name not in POINTS:
        raise ValueError(f"no fault point {name!r} (there are: {', '.join(sorted(POINTS))})")
    if name in _hooks:
        raise ValueError(f"a hook is already installed at {name!r}")
    _hooks[name] = hook
    try:
        yield
    finally:
        del _hooks[name]

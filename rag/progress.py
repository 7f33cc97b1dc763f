"""How far long work has come: one callback type for indexing and fetching, and for the pages and
the command line that show it.

`Progress(done, total, what)`: `done` of `total` items finished; `what` names the item being worked
on, or is "" once the items are done and the work is finishing (the index being saved). The web
page's bar takes a fraction and words instead: ui/progress.py turns one into the other. An
evaluation run reports each scored case rather than a count (rag/evaluation/runner.py, `OnCase`).

>>> seen = []
>>> report: Progress = lambda done, total, what: seen.append(f"{done}/{total} {what}".strip())
>>> report(1, 3, "a.txt"); report(3, 3, "")
>>> seen
['1/3 a.txt', '3/3']
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int, str], None]  # (items done, items in all, the item being worked on or "")


def no_progress(done: int, total: int, what: str) -> None:
    """A Progress that shows nothing."""
    return None

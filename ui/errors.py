"""What a web visitor is told when something fails: the message, without the server's paths.

The library's messages name the file at fault ("The index in /srv/rag/index is damaged …"), which
is right in a terminal and wrong on a web page anyone may open. `public_message` replaces the
folders the settings name with what they are ("the index folder") and any other absolute path
with "…"; web addresses are left alone. `unexpected` is the message for an error nobody foresaw:
its kind only, never its text (a FileNotFoundError's text is a path); the details go to the log.

>>> from pathlib import Path
>>> public_message("The index in /srv/rag/index is damaged (No such file: '/srv/rag/index/seg-1/x').",
...                {Path("/srv/rag/index"): "the index folder"})
"The index in the index folder is damaged (No such file: 'the index folder/seg-1/x')."
>>> public_message("Open /etc/passwd or https://news.example/a/b, 1/2 done.", {})
'Open … or https://news.example/a/b, 1/2 done.'

Deliberately not here: deciding what is an error (the library does) and the markup (ui/render.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from rag.settings import Settings

# An absolute path: a slash not inside a word, an address (://) or a number (1/2), then its parts.
_ABSOLUTE = re.compile(r"(?<![\w/:.~-])/(?:[^\s/'\"(),;]+/?)+")


def folders(settings: Settings) -> dict[Path, str]:
    """The folders a message may name, and how a visitor is told of them."""
    return {
        settings.index_dir: "the index folder",
        settings.documents_dir: "the documents folder",
        settings.model_cache_dir: "the model folder",
    }


def public_message(message: str, known: Mapping[Path, str]) -> str:
    """`message` with the `known` folders named by what they are and other absolute paths left out."""
    spellings: list[tuple[str, str]] = []
    for folder, label in known.items():
        for spelling in {str(folder), str(folder.expanduser().resolve())}:
            if spelling.startswith("/") and spelling != "/":
                spellings.append((spelling, label))
    for spelling, label in sorted(spellings, key=lambda s: -len(s[0])):  # the longest first: nested folders
        message = message.replace(spelling, label)
    return _ABSOLUTE.sub("…", message)


def unexpected(err: BaseException, doing: str) -> str:
    """The message for an error nobody foresaw while `doing` something ("answering").

    >>> unexpected(FileNotFoundError(2, "No such file", "/srv/rag/index/seg-1/documents.jsonl"), "answering")
    "Something went wrong while answering (FileNotFoundError). Try again; the server's log has the details."
    """
    return f"Something went wrong while {doing} ({type(err).__name__}). Try again; the server's log has the details."

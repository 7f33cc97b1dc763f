"""An article's news metadata from where a file can carry it: YAML front matter, a sidecar file.

Front matter is a YAML block at the very top of a .txt or .md file, between two `---` lines;
`split_front_matter` returns it and the text after it (that text is what gets indexed). A sidecar
is `<file>.meta.json` next to any article (`story.pdf.meta.json`). Both use the same keys: title,
published (or date), source (or site), author, url (or link); the sidecar may also name the file's
encoding. `iso_date` turns the dates people write into ISO 8601.

A folder can declare metadata for every article under it in `_folder.meta.json`: `source`,
`author`, a default `published` day, and a `date_pattern`, a regular expression matched against the
article's path in the documents folder whose named groups `year`, `month` and `day` (or one group
`date`, read by `iso_date`) give its date (`folder_metadata`). A folder's file overrides its parent's.

Front matter and sidecars come from files anyone can write (an upload, a fetched page's sidecar), so
both are bounded
before they are parsed: front matter at most `MAX_FRONT_MATTER_CHARS`, parsed without aliases
(`*name`, the "billion laughs" blow-up: nine levels of nine aliases took 19 s and 1.2 GB) and at
most `MAX_DEPTH` levels deep; a sidecar at most `MAX_SIDECAR_BYTES` and `MAX_DEPTH` deep (a JSON
nesting of 200,000 raised RecursionError). `fields` keeps only text: a string, a number, a date or
a list of them (joined by commas, nulls dropped), each at most `MAX_CHARS` of its field; a mapping,
a yes/no or an over-long value is left out with a note, never stored as a Python repr. A block
that cannot be used is a `MetadataProblem`: the caller notes it and indexes the article without it.

Deliberately not here: reading the article itself, and which source wins (loading.py decides:
the sidecar over the file, the file over its folder's file, any of them over the file's time).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import json
import re
from pathlib import Path
from typing import Any

FIELDS = ("title", "published", "source", "author", "url")
FOLDER_SIDECAR = "_folder.meta.json"
FOLDER_FIELDS = ("published", "source", "author", "date_pattern")
MAX_FRONT_MATTER_CHARS = 64 * 1024  # a news article's front matter is a few hundred characters
MAX_SIDECAR_BYTES = 64 * 1024
MAX_DEPTH = 16  # levels of lists and mappings in a front matter block or sidecar
# The longest value each field keeps; a longer one is left out with a note (not cut: a value this
# long is not what the field means). The encoding is a sidecar's name for the file's charset.
MAX_CHARS = {"title": 1_000, "published": 100, "source": 300, "author": 1_000, "url": 2_048, "encoding": 40}
MAX_ITEMS = 50  # of a list (of authors, say)
_ALIASES = {"date": "published", "site": "source", "link": "url"}
_FRONT = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE)
_WRITTEN = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%Y/%m/%d", "%d.%m.%Y", "%Y-%m-%d %H:%M", "%Y%m%d")


class MetadataProblem(Exception):
    """A front matter block or sidecar that cannot be used; the message says what is wrong."""


def split_front_matter(raw: str) -> tuple[dict[str, Any], str]:
    """(the front matter's keys, the text after it); ({}, raw) when the text has none.

    MetadataProblem when there is a block that cannot be used: not YAML, not `key: value` lines,
    longer than MAX_FRONT_MATTER_CHARS, with an alias or nested deeper than MAX_DEPTH.

    >>> split_front_matter("---\\ntitle: Visit\\ndate: 2024-05-01\\n---\\nBody.")
    ({'title': 'Visit', 'date': datetime.date(2024, 5, 1)}, 'Body.')
    """
    if not _OPENING.match(raw):
        return {}, raw
    match = _FRONT.match(raw[: MAX_FRONT_MATTER_CHARS + 16])
    if not match:
        if _FRONT.match(raw):  # linear: the lazy match stops at the first closing line
            raise MetadataProblem(f"its front matter is longer than {MAX_FRONT_MATTER_CHARS:,} characters")
        return {}, raw
    import yaml  # lazy: only for files with front matter

    try:
        data = yaml.load(match.group(1), Loader=_loader())  # a SafeLoader without aliases
    except yaml.YAMLError as err:
        raise MetadataProblem(f"its front matter is not valid YAML ({str(err).splitlines()[0]})") from None
    except RecursionError:
        raise MetadataProblem(f"its front matter is nested more than {MAX_DEPTH} levels deep") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MetadataProblem("its front matter is not a list of `key: value` lines")
    return data, raw[match.end() :]


_OPENING = re.compile(r"\A\ufeff?---[ \t]*\r?\n")


@functools.cache
def _loader() -> type:
    """yaml.SafeLoader that refuses aliases and deep nesting while it composes the document, before
    anything is built: an alias is where the exponential blow-up of "billion laughs" comes from."""
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise MetadataProblem("its front matter uses a YAML alias (*name), which is not accepted")
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH:
                    raise MetadataProblem(f"its front matter is nested more than {MAX_DEPTH} levels deep")
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return BoundedLoader


def read_sidecar(path: Path) -> dict[str, Any]:
    """The keys of `<path>.meta.json`, {} when there is none; MetadataProblem when it is unusable
    (unreadable, larger than MAX_SIDECAR_BYTES, nested deeper than MAX_DEPTH, not a JSON object)."""
    sidecar = sidecar_path(path)
    try:
        size = sidecar.stat().st_size
        if size > MAX_SIDECAR_BYTES:
            raise MetadataProblem(
                f"its sidecar {sidecar.name} is {size:,} bytes, more than the {MAX_SIDECAR_BYTES:,} a sidecar "
                "may have; it was ignored"
            )
        text = sidecar.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        raise MetadataProblem(f"its sidecar {sidecar.name} cannot be read ({err})") from None
    if json_depth(text) > MAX_DEPTH:
        raise MetadataProblem(f"its sidecar {sidecar.name} is nested more than {MAX_DEPTH} levels deep; it was ignored")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise MetadataProblem(f"its sidecar {sidecar.name} is not valid JSON ({err}); it was ignored") from None
    if not isinstance(data, dict):
        raise MetadataProblem(f"its sidecar {sidecar.name} is not a JSON object; it was ignored")
    return data


# A JSON string (its closing quote optional, so an unclosed one is consumed once, not retried from
# every quote inside it) or a bracket: one pass over the text.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


def json_depth(text: str) -> int:
    """How deeply the arrays and objects of a JSON text nest, without parsing it (linear, no
    recursion). Brackets inside strings do not count.

    >>> json_depth('{"a": [1, {"b": "[[["}]}'), json_depth("[" * 200_000 + "]" * 200_000), json_depth("7")
    (3, 200000, 0)
    """
    depth = deepest = 0
    for token in _JSON_TOKEN.findall(text):
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("]", "}"):
            depth -= 1
    return deepest


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def fields(data: dict[Any, Any]) -> tuple[dict[str, str], list[str]]:
    """The known keys of a front matter block or sidecar, aliases resolved and values made text
    (a list of authors joined by commas; `published` as ISO 8601), and a note for each value that
    could not be used.

    >>> fields({"Title": "Visit", "author": ["Ann", None, "Bob"], "source": {"name": "BBC"}})
    ({'title': 'Visit', 'author': 'Ann, Bob'}, ['its source is a mapping, not text; it was left out'])
    """
    out: dict[str, str] = {}
    notes: list[str] = []
    for key, value in data.items():
        if not isinstance(key, str):
            continue
        name = _ALIASES.get(key.lower(), key.lower())
        if name not in FIELDS or value is None or (name in out and key.lower() != name):
            continue  # the canonical key wins over its alias
        if name == "published":
            date = iso_date(value)
            if date is None:
                notes.append(f"its date {_shown(value)} is not a date it understands (use YYYY-MM-DD); it was left out")
                continue
            out[name] = date
            continue
        text = as_text(value, name, notes)
        if text is not None:
            out[name] = text
    return out, notes


def as_text(value: object, name: str, notes: list[str]) -> str | None:
    """`value` as the text of field `name`, or None with a note saying why it was left out.

    >>> notes = []; [as_text(v, "author", notes) for v in ("  Ann ", 1843, [None, "Bob", 2], True, "x" * 2000)]
    ['Ann', '1843', 'Bob, 2', None, None]
    >>> print(*notes, sep="\\n")
    its author is yes/no, not text; it was left out
    its author is 2,000 characters, more than 1,000; it was left out
    """
    if isinstance(value, list | tuple):
        items = [_scalar(v) for v in value[: MAX_ITEMS + 1] if v is not None]
        if len(value) > MAX_ITEMS or any(i is None for i in items):
            what = f"more than {MAX_ITEMS} items" if len(value) > MAX_ITEMS else "a list of more than text"
            notes.append(f"its {name} is {what}; it was left out")
            return None
        text = ", ".join(i for i in items if i)
    else:
        single = _scalar(value)
        if single is None:
            kind = "yes/no, not text" if isinstance(value, bool) else "a mapping, not text" if isinstance(
                value, dict) else "not text"
            notes.append(f"its {name} is {kind}; it was left out")
            return None
        text = single
    limit = MAX_CHARS.get(name, 1_000)
    if len(text) > limit:
        notes.append(f"its {name} is {len(text):,} characters, more than {limit:,}; it was left out")
        return None
    return text or None


def _scalar(value: object) -> str | None:
    """A string, a number or a date as text (stripped); None for anything else (yes/no included:
    YAML reads `yes` as True, and "True" is not what anyone wrote)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dt.date):  # datetime too
        return value.isoformat()
    return None


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, str) else type(value).__name__
    return text if len(text) <= 60 else text[:59] + "…"


def iso_date(value: object) -> str | None:
    """A date as ISO 8601: a day ("2024-05-01") or a date-time ("2024-05-01T09:30:00+00:00").

    >>> [iso_date(v) for v in ("2024-05-01", "2024-05-01T09:30:00Z", "Wed, 01 May 2024 09:30:00 GMT", "1 May 2024")]
    ['2024-05-01', '2024-05-01T09:30:00+00:00', '2024-05-01T09:30:00+00:00', '2024-05-01']
    >>> iso_date("last Tuesday") is None
    True
    """
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_CHARS["published"]:
        return None
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            return None
    try:
        return dt.datetime.fromisoformat(text).isoformat(timespec="seconds")
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(text).isoformat(timespec="seconds")
    except (TypeError, ValueError, IndexError):
        pass
    for form in _WRITTEN:
        try:
            parsed = dt.datetime.strptime(text, form)
        except ValueError:
            continue
        return parsed.date().isoformat() if "%H" not in form else parsed.isoformat(timespec="seconds")
    return None


def file_time(path: Path) -> str:
    """The file's modification time, as an ISO 8601 date-time in UTC."""
    stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
    return stamp.isoformat(timespec="seconds")


def folder_metadata(path: Path, root: Path) -> tuple[dict[str, Any], list[str]]:
    """What the `_folder.meta.json` files between `root` and `path`'s folder declare for `path`
    (the nearest folder's keys winning), as `fields` gives them, with the date `date_pattern`
    finds in the path; and a note for each thing that could not be used.

    >>> import tempfile; root = Path(tempfile.mkdtemp()); (root / "bbc" / "2005-01").mkdir(parents=True)
    >>> _ = (root / "bbc" / FOLDER_SIDECAR).write_text('{"source": "BBC News", '
    ...     '"date_pattern": "(?P<year>[0-9]{4})-(?P<month>[0-9]{2})/(?P<day>[0-9]{2})"}')
    >>> folder_metadata(root / "bbc" / "2005-01" / "03-story.txt", root)
    ({'source': 'BBC News', 'published': '2005-01-03'}, [])
    """
    declared: dict[str, Any] = {}
    notes: list[str] = []
    try:
        parents = path.parent.relative_to(root).parts
    except ValueError:
        return {}, []
    folder = root
    for part in ("", *parents):
        folder = folder / part if part else folder
        data, problem = _read_folder_sidecar(folder / FOLDER_SIDECAR)
        if problem:
            notes.append(problem)
        declared.update({k.lower(): v for k, v in data.items() if k.lower() in (*FOLDER_FIELDS, "date")})
    if "date" in declared and "published" not in declared:
        declared["published"] = declared.pop("date")
    declared.pop("date", None)
    pattern = declared.pop("date_pattern", None)
    found, problems = fields(declared)
    notes += [f"in {FOLDER_SIDECAR}: {p}" for p in problems]
    if pattern:
        day, problem = date_from_path(str(pattern), path.relative_to(root).as_posix())
        if problem:
            notes.append(f"in {FOLDER_SIDECAR}: {problem}")
        if day:
            found["published"] = day
    return found, notes


def date_from_path(pattern: str, relative: str) -> tuple[str | None, str | None]:
    """The date `pattern` finds in a file's path, and a problem when the pattern cannot be used.

    >>> date_from_path("(?P<year>[0-9]{4})(?P<month>[0-9]{2})(?P<day>[0-9]{2})", "wire/20050103-story.txt")
    ('2005-01-03', None)
    >>> date_from_path("(?P<date>[0-9]+ [A-Za-z]+ [0-9]{4})", "x/3 January 2005.txt")
    ('2005-01-03', None)
    >>> date_from_path("(?P<year>[0-9]{4})", "x/no-date.txt")
    (None, None)
    """
    try:
        match = re.search(pattern, relative)
    except re.error as err:
        return None, f"its date_pattern {pattern!r} is not a regular expression ({err}); it was ignored"
    if not match:
        return None, None
    groups = match.groupdict()
    if groups.get("date"):
        return iso_date(groups["date"]), None
    try:
        day = dt.date(int(groups["year"]), int(groups.get("month") or 1), int(groups.get("day") or 1))
    except (KeyError, TypeError, ValueError):
        return None, (f"its date_pattern {pattern!r} needs groups named year, month and day (or one named "
                      "date) that make a date")
    return day.isoformat(), None


def _read_folder_sidecar(path: Path) -> tuple[dict[str, Any], str | None]:
    try:
        stat = path.stat()
    except OSError:
        return {}, None
    return _folder_sidecar(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _folder_sidecar(path: str, size: int, mtime_ns: int) -> tuple[dict[str, Any], str | None]:
    """A folder's sidecar, read once per version of it (an archive reads it for every file)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return {}, f"the folder's {FOLDER_SIDECAR} cannot be used ({err}); it was ignored"
    if not isinstance(data, dict):
        return {}, f"the folder's {FOLDER_SIDECAR} is not a JSON object; it was ignored"
    return data, None

"""An article's news metadata from where a file can carry it: YAML front matter, a sidecar file.

Front matter is a YAML block at the very top of a .txt or .md file, between two `---` lines;
`split_front_matter` returns it and the text after it (that text is what gets indexed). A sidecar
is `<file>.meta.json` next to any article (`story.pdf.meta.json`). Both use the same keys: title,
published (or date), source (or site), author, url (or link); the sidecar may also name the file's
encoding. `iso_date` turns the dates people write into ISO 8601.

Deliberately not here: reading the article itself, and which source wins (loading.py decides:
the sidecar over the file, the file over the file's time).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
from pathlib import Path
from typing import Any

FIELDS = ("title", "published", "source", "author", "url")
_ALIASES = {"date": "published", "site": "source", "link": "url"}
_FRONT = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE)
_WRITTEN = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%Y/%m/%d", "%d.%m.%Y", "%Y-%m-%d %H:%M", "%Y%m%d")


class MetadataProblem(Exception):
    """A front matter block or sidecar that cannot be used; the message says what is wrong."""


def split_front_matter(raw: str) -> tuple[dict[str, Any], str]:
    """(the front matter's keys, the text after it); ({}, raw) when the text has none.

    >>> split_front_matter("---\\ntitle: Visit\\ndate: 2024-05-01\\n---\\nBody.")
    ({'title': 'Visit', 'date': datetime.date(2024, 5, 1)}, 'Body.')
    """
    match = _FRONT.match(raw)
    if not match:
        return {}, raw
    import yaml  # lazy: only for files with front matter

    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as err:
        raise MetadataProblem(f"its front matter is not valid YAML ({str(err).splitlines()[0]})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MetadataProblem("its front matter is not a list of `key: value` lines")
    return data, raw[match.end() :]


def read_sidecar(path: Path) -> dict[str, Any]:
    """The keys of `<path>.meta.json`, {} when there is none; MetadataProblem when it is unusable."""
    sidecar = sidecar_path(path)
    try:
        text = sidecar.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        raise MetadataProblem(f"its sidecar {sidecar.name} cannot be read ({err})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise MetadataProblem(f"its sidecar {sidecar.name} is not valid JSON ({err}); it was ignored") from None
    if not isinstance(data, dict):
        raise MetadataProblem(f"its sidecar {sidecar.name} is not a JSON object; it was ignored")
    return data


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def fields(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The known keys of a front matter block or sidecar, aliases resolved and values made strings
    (a list of authors joined by commas; `published` as ISO 8601), and a note for each value that
    could not be used."""
    out: dict[str, Any] = {}
    notes: list[str] = []
    for key, value in data.items():
        name = _ALIASES.get(str(key).lower(), str(key).lower())
        if name not in FIELDS or value is None or (name in out and str(key).lower() != name):
            continue  # the canonical key wins over its alias
        if name == "published":
            date = iso_date(value)
            if date is None:
                notes.append(f"its date {value!r} is not a date it understands (use YYYY-MM-DD); it was left out")
                continue
            out[name] = date
        elif isinstance(value, list | tuple):
            out[name] = ", ".join(str(v).strip() for v in value if str(v).strip()) or None
        else:
            out[name] = str(value).strip() or None
    return {k: v for k, v in out.items() if v is not None}, notes


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
    if not isinstance(value, str) or not value.strip():
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

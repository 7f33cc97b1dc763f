"""Read an evaluation question file (JSONL) into `Case`s, and find each supporting quote in the index.

The format is described in eval/README.md. Every problem in the file is reported at once, each with
the file name and line number, as one `EvalDataError`. `locate_quotes` turns each case's quotes into
exact character spans of the indexed (normalised) document text: an exact match first, then one
that tolerates Unicode normalisation and differences in whitespace.

Deliberately not here: scoring, or anything that runs a model.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.evaluation.metrics import Span
from rag.types import Document

log = logging.getLogger(__name__)

KINDS = frozenset(
    {"name", "number", "date", "list", "paraphrase", "place", "title", "fact", "unanswerable", "followup"}
)
_ANSWER_FIELDS = ("answers", "all_of", "document", "quote", "documents", "quotes")
# "why" and "gold_elsewhere" explain an unanswerable case (xquad-dev); they are kept for reading, not scored.
_KNOWN_FIELDS = frozenset({"id", "question", "answerable", "kind", "history", "why", "gold_elsewhere", *_ANSWER_FIELDS})
_MAX_REPORTED = 20


class EvalDataError(RagError):
    """A question file is unreadable or malformed, or its quotes are not in the indexed documents."""


@dataclass(frozen=True)
class Source:
    document: str  # document id, as in the index
    quote: str  # copied exactly from the document


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    kind: str
    answerable: bool = True
    answers: tuple[str, ...] = ()
    all_of: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    history: tuple[tuple[str, str], ...] = ()  # (role, content), oldest first
    line: int = 0
    spans: tuple[Span, ...] = ()  # where each source quote is, filled in by `locate_quotes`

    def history_messages(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.history]


def load_cases(path: Path) -> list[Case]:
    """Every case in the file, in order; raise EvalDataError listing every problem found."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EvalDataError(f"The question file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise EvalDataError(f"The question file {path} cannot be read ({err}).") from None
    cases: list[Case] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as err:
            problems.append(f"{path} line {number}: not valid JSON ({err})")
            continue
        errors: list[str] = []
        case = _parse(row, number, errors)
        problems.extend(f"{path} line {number}: {e}" for e in errors)
        if case is None:
            continue
        if case.id in first_line:
            problems.append(f"{path} line {number}: id {case.id!r} is already used on line {first_line[case.id]}")
            continue
        first_line[case.id] = number
        cases.append(case)
    if problems:
        raise EvalDataError(_listing(f"The question file {path} has {len(problems)} problem(s)", problems))
    if not cases:
        raise EvalDataError(f"The question file {path} holds no cases.")
    return cases


def _listing(title: str, problems: Sequence[str]) -> str:
    shown = list(problems[:_MAX_REPORTED])
    if len(problems) > _MAX_REPORTED:
        shown.append(f"… and {len(problems) - _MAX_REPORTED} more")
    return title + ":\n  " + "\n  ".join(shown)


def _parse(row: Any, line: int, errors: list[str]) -> Case | None:
    if not isinstance(row, dict):
        errors.append("each line must be a JSON object")
        return None
    unknown = sorted(set(row) - _KNOWN_FIELDS)
    if unknown:
        log.warning("Line %d: ignoring unknown field(s) %s", line, ", ".join(unknown))
    case_id = _text(row, "id", errors)
    question = _text(row, "question", errors)
    kind = _text(row, "kind", errors)
    if kind and kind not in KINDS:
        errors.append(f"kind {kind!r} is not one of {', '.join(sorted(KINDS))}")
    history = _history(row, errors)
    answerable = row.get("answerable", True)
    if not isinstance(answerable, bool):
        errors.append('"answerable" must be true or false')
        return None
    if not answerable:
        present = [f for f in _ANSWER_FIELDS if f in row]
        if present:
            errors.append(f"an unanswerable case must not have {', '.join(present)}")
        if kind and kind != "unanswerable":
            errors.append('an unanswerable case must have kind "unanswerable"')
        if errors:
            return None
        return Case(case_id, question, kind, False, history=history, line=line)
    answers = _strings(row, "answers", errors, required=True)
    all_of = _strings(row, "all_of", errors, required=False)
    sources = _sources(row, errors)
    if errors:
        return None
    return Case(case_id, question, kind, True, answers, all_of, sources, history, line)


def _text(row: dict[str, Any], name: str, errors: list[str]) -> str:
    value = row.get(name)
    if name not in row:
        errors.append(f'missing field "{name}"')
    elif not isinstance(value, str) or not value.strip():
        errors.append(f'"{name}" must be a non-empty string')
    else:
        return value
    return ""


def _strings(row: dict[str, Any], name: str, errors: list[str], required: bool) -> tuple[str, ...]:
    if name not in row:
        if required:
            errors.append(f'missing field "{name}" (an answerable case needs it)')
        return ()
    value = row[name]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        errors.append(f'"{name}" must be a non-empty list of non-empty strings')
        return ()
    return tuple(value)


def _sources(row: dict[str, Any], errors: list[str]) -> tuple[Source, ...]:
    single = "document" in row or "quote" in row
    multiple = "documents" in row or "quotes" in row
    if single and multiple:
        errors.append('give either "document" and "quote" or "documents" and "quotes", not both')
        return ()
    if multiple:
        documents, quotes = row.get("documents"), row.get("quotes")
        if not (_string_list(documents) and _string_list(quotes)):
            errors.append('"documents" and "quotes" must both be non-empty lists of strings')
            return ()
        assert isinstance(documents, list) and isinstance(quotes, list)
        if len(documents) != len(quotes):
            errors.append(f'"documents" has {len(documents)} items but "quotes" has {len(quotes)}')
            return ()
        return tuple(Source(d, q) for d, q in zip(documents, quotes, strict=True))
    document, quote = _text(row, "document", errors), _text(row, "quote", errors)
    return (Source(document, quote),) if document and quote else ()


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v.strip() for v in value)


def _history(row: dict[str, Any], errors: list[str]) -> tuple[tuple[str, str], ...]:
    if "history" not in row:
        errors.append('missing field "history" (use [] for a stand-alone question)')
        return ()
    turns = row["history"]
    valid = isinstance(turns, list) and all(
        isinstance(t, dict) and t.get("role") in ("user", "assistant") and isinstance(t.get("content"), str)
        for t in turns
    )
    if not valid:
        errors.append('"history" must be a list of {"role": "user" | "assistant", "content": "..."} objects')
        return ()
    return tuple((t["role"], t["content"]) for t in turns)


# -- quotes ------------------------------------------------------------------------------------


def find_quote(text: str, quote: str) -> tuple[int, int] | None:
    """The (start, end) of `quote` in `text`: exactly, else ignoring NFC and whitespace differences.

    >>> find_quote("He met  the\\nEmperor.", "met the Emperor")
    (3, 19)
    """
    start = text.find(quote)
    if start >= 0:
        return start, start + len(quote)
    words = unicodedata.normalize("NFC", quote.replace("\u00a0", " ")).split()
    if not words:
        return None
    match = re.search(r"\s+".join(re.escape(w) for w in words), text)
    return (match.start(), match.end()) if match else None


def locate_quotes(cases: Sequence[Case], documents: Mapping[str, Document], source: str = "") -> list[Case]:
    """The cases with `spans` filled in; raise EvalDataError naming every quote that cannot be found."""
    located: list[Case] = []
    problems: list[str] = []
    for case in cases:
        spans: list[Span] = []
        for src in case.sources:
            where = f"{source} line {case.line} ({case.id})" if source else case.id
            document = documents.get(src.document)
            if document is None:
                problems.append(f"{where}: document {src.document!r} is not in the index")
                continue
            found = find_quote(document.text, src.quote)
            if found is None:
                problems.append(f"{where}: the quote {_short(src.quote)!r} is not in {src.document}")
                continue
            spans.append(Span(src.document, *found))
        located.append(replace(case, spans=tuple(spans)))
    if problems:
        known = ", ".join(sorted(documents)[:10]) or "none"
        raise EvalDataError(
            _listing(f"{len(problems)} supporting quote(s) cannot be found (indexed documents: {known})", problems)
        )
    return located


def _short(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def select(cases: Sequence[Case], only: Sequence[str] = (), limit: int | None = None) -> list[Case]:
    """The cases whose id starts with one of the `only` prefixes (all when none), at most `limit`, in order."""
    chosen = [c for c in cases if not only or c.id.startswith(tuple(only))]
    return chosen[:limit] if limit is not None else chosen

"""Turn answers, their sources and the index into HTML for the page; everything shown is escaped.

Article text, titles, file names and generated answers are untrusted. Everything taken from them
goes through `html.escape` (for gr.HTML) or `chat_text` (for the Chatbot's Markdown), so an article
holding `<script>`, HTML or Markdown shows it as text: nothing runs, nothing loads.

A citation is shown as its passage (the retrieved chunk that holds the cited span) with that span
highlighted, whether the span is the whole chunk or one sentence inside it, and its place in the
article, such as "paragraph 4 of 11, characters 1234–1301".

Deliberately not here: gradio, files, or deciding what is cited (rag.answers.answering does that).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import urlsplit

from rag.filters import day_of
from rag.types import HOW_MADE, Answer, Chunk, Citation, Document, Hit, Stage
from ui import catalog

ARTICLE_LIMIT = 20_000  # characters of an article shown around a citation, at most
_MARKDOWN_PUNCTUATION = re.compile(r"""([!"#$%'()*+,\-./:;=?@\[\\\]^_`{|}~])""")


def chat_text(text: str) -> str:
    """Markdown source that displays exactly `text`: no HTML, link, image or emphasis is rendered.

    Every ASCII punctuation character is backslash-escaped (CommonMark allows it for all of them)
    and `& < >` become entities, so an answer quoting `![x](http://…)` loads no image.

    >>> chat_text("Signed [1]. <b> *y*")
    'Signed \\\\[1\\\\]\\\\. &lt;b&gt; \\\\*y\\\\*'
    """
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def highlight(text: str, start: int, end: int) -> str:
    """`text` escaped, with `text[start:end]` wrapped in <mark>; offsets are clamped to the text.

    >>> highlight("a <b> c", 2, 5)
    'a <mark>&lt;b&gt;</mark> c'
    >>> highlight("whole", -3, 99)
    '<mark>whole</mark>'
    """
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    return f"{escape(text[:start])}<mark>{escape(text[start:end])}</mark>{escape(text[end:])}"


def safe_url(url: str | None) -> str | None:
    """`url` when it is an http(s) address that can be a link, else None: no `javascript:`, `data:`,
    relative or malformed addresses.

    >>> safe_url("https://example.com/a?b=1"), safe_url("javascript:alert(1)"), safe_url("//x.org/a")
    ('https://example.com/a?b=1', None, None)
    """
    if not url or any(c.isspace() or ord(c) < 32 for c in url.strip()):
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def link(text: str, url: str | None) -> str:
    """`text` escaped, as a link opening `url` in a new tab when it is a safe http(s) address.

    >>> link("<b>", "https://x.org/?a=1&b=2")
    "<a href='https://x.org/?a=1&amp;b=2' target='_blank' rel='noopener noreferrer'>&lt;b&gt;</a>"
    >>> link("T", "javascript:alert(1)")
    'T'
    """
    href = safe_url(url)
    if href is None:
        return escape(text)
    return f"<a href='{escape(href, quote=True)}' target='_blank' rel='noopener noreferrer'>{escape(text)}</a>"


def news_line(published: str | None, source: str | None, url: str | None, added: str | None = None) -> str:
    """The article's day, source and a link to it, as a line under a citation ("" when none is known).
    With no publication day, the day its file was added is shown as such.

    >>> news_line("2024-05-01T09:30:00+00:00", "BBC <News>", None)
    "<div class='rag-news'>2024-05-01 · BBC &lt;News&gt;</div>"
    >>> news_line(None, None, None, "2026-12-06T10:00:00+00:00")
    "<div class='rag-news'>added 2026-12-06 (no publication date)</div>"
    """
    day = day_of(published) or (f"added {day_of(added)} (no publication date)" if day_of(added) else "")
    parts = [escape(p) for p in (day, " ".join((source or "").split())) if p]
    href = safe_url(url)
    if href is not None:
        host = (urlsplit(href).hostname or href).removeprefix("www.")
        parts.append(link(host, href))
    return f"<div class='rag-news'>{' · '.join(parts)}</div>" if parts else ""


def _news(
    doc_id: str, documents: Mapping[str, Document], published: str | None, source: str | None, url: str | None
) -> str:
    """The news line from what the citation or hit carries, completed from the document."""
    document = documents.get(doc_id)
    added = None
    if document is not None:
        published, source, url = published or document.published, source or document.source, url or document.url
        added = document.added
    return news_line(published, source, url, added)


def also_in_html(also_in: Sequence[str], documents: Mapping[str, Document]) -> str:
    """The other articles that carry the same story, by source (and file), under a passage.

    >>> also_in_html(["wire/a.txt"], {"wire/a.txt": Document("wire/a.txt", "A", "x", "h", source="Reuters")})
    "<div class='rag-also'>Same story also in: Reuters (<code>wire/a.txt</code>)</div>"
    """
    if not also_in:
        return ""
    named = []
    for doc_id in also_in:
        document = documents.get(doc_id)
        source = " ".join((document.source or "").split()) if document is not None else ""
        code = f"<code>{escape(doc_id)}</code>"
        named.append(f"{escape(source)} ({code})" if source else code)
    return f"<div class='rag-also'>Same story also in: {', '.join(named)}</div>"


def passage_for(citation: Citation, passages: Sequence[Hit]) -> Chunk | None:
    """The retrieved chunk a citation points into: by chunk id, else the one that holds its span."""
    chunks = [hit.chunk for hit in passages]
    for chunk in chunks:
        if citation.chunk_id and chunk.id == citation.chunk_id:
            return chunk
    same_doc = [c for c in chunks if c.doc_id == citation.doc_id]
    for chunk in same_doc:
        if chunk.start <= citation.start and citation.end <= chunk.end:
            return chunk
    overlapping = [c for c in same_doc if min(c.end, citation.end) > max(c.start, citation.start)]
    return max(overlapping, key=lambda c: min(c.end, citation.end) - max(c.start, citation.start), default=None)


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Paragraphs as (start, end): blocks between blank lines, or the lines of a text without any.

    >>> paragraph_spans("One.\\nTwo.")
    [(0, 4), (5, 9)]
    >>> paragraph_spans("One\\nstill one.\\n\\nTwo.")
    [(0, 14), (16, 20)]
    """
    separator = r"\n[ \t]*\n\s*" if re.search(r"\n[ \t]*\n", text) else r"\n\s*"
    spans: list[tuple[int, int]] = []
    start = 0
    for match in re.finditer(separator, text):
        if text[start : match.start()].strip():
            spans.append((start, match.start()))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


def place_in_article(text: str, start: int, end: int) -> str:
    """Where a span lies, in words a reader can follow.

    >>> place_in_article("First.\\nSecond one.\\nThird.", 7, 18)
    'paragraph 2 of 3, characters 7–18'
    >>> place_in_article("First.\\nSecond one.\\nThird.", 0, 18)
    'paragraphs 1–2 of 3, characters 0–18'
    """
    spans = paragraph_spans(text)
    inside = [n for n, (p_start, p_end) in enumerate(spans, start=1) if p_start < max(end, start + 1) and start < p_end]
    where = f"characters {start}–{end}"
    if not inside:
        return where
    first, last = inside[0], inside[-1]
    paragraphs = f"paragraph {first}" if first == last else f"paragraphs {first}–{last}"
    return f"{paragraphs} of {len(spans)}, {where}"


def article_excerpt(text: str, start: int, end: int, limit: int = ARTICLE_LIMIT) -> str:
    """The article (or `limit` characters around the span) escaped, with the span highlighted."""
    if len(text) <= limit:
        return highlight(text, start, end)
    lo = max(0, min(start, len(text)) - limit // 2)
    hi = min(len(text), lo + limit)
    before = "…" if lo > 0 else ""
    after = "…" if hi < len(text) else ""
    return before + highlight(text[lo:hi], start - lo, end - lo) + after


def _citation_html(citation: Citation, answer: Answer, documents: Mapping[str, Document]) -> str:
    chunk = passage_for(citation, answer.passages)
    if chunk is not None:
        passage = highlight(chunk.text, citation.start - chunk.start, citation.end - chunk.start)
    else:
        passage = highlight(citation.quote, 0, len(citation.quote))
    document = documents.get(citation.doc_id)
    place = f"characters {citation.start}–{citation.end}"
    article = ""
    if document is not None:
        place = place_in_article(document.text, citation.start, citation.end)
        article = (
            "<details class='rag-article'><summary>Show it in the article</summary>"
            f"<div class='rag-article-text'>{article_excerpt(document.text, citation.start, citation.end)}</div>"
            "</details>"
        )
    return (
        f"<li class='rag-source' data-marker='{citation.marker}'>"
        f"<div class='rag-source-head'><span class='rag-marker'>[{citation.marker}]</span> "
        f"<span class='rag-title'>{escape(citation.title or citation.doc_id)}</span></div>"
        f"{_news(citation.doc_id, documents, citation.published, citation.source, citation.url)}"
        f"{also_in_html(citation.also_in, documents)}"
        f"<div class='rag-place'>{escape(citation.doc_id)} · {escape(place)}</div>"
        f"<blockquote class='rag-passage'>{passage}</blockquote>{article}</li>"
    )


def _hit_html(hit: Hit, documents: Mapping[str, Document]) -> str:
    chunk = hit.chunk
    document = documents.get(chunk.doc_id)
    place = (
        place_in_article(document.text, chunk.start, chunk.end) if document else f"characters {chunk.start}–{chunk.end}"
    )
    return (
        "<li class='rag-source rag-uncited'>"
        f"<div class='rag-source-head'><span class='rag-title'>{escape(hit.title or chunk.doc_id)}</span></div>"
        f"{_news(chunk.doc_id, documents, hit.published, hit.source, hit.url)}"
        f"{also_in_html(hit.also_in, documents)}"
        f"<div class='rag-place'>{escape(chunk.doc_id)} · {escape(place)} · score {hit.score:.2f}</div>"
        f"<blockquote class='rag-passage'>{escape(chunk.text)}</blockquote></li>"
    )


def _details_html(answer: Answer, asked: str, scope: str = "") -> str:
    t = answer.timings
    rows = [f"<div class='rag-asked'>{escape(asked)}</div>"]
    if scope:
        rows.append(f"<div class='rag-scope'>Only articles {escape(scope)}</div>")
    searched = answer.standalone_question
    if searched and " ".join(searched.split()).casefold() != " ".join(asked.split()).casefold():
        rows.append(f"<div class='rag-searched'>Searched for: {escape(searched)}</div>")
    rows.append(f"<div class='rag-how'>{escape(HOW_MADE[answer.mode])}</div>")
    timing = f"answer after {t.first_token_s:.1f} s"
    if t.draft_token_s:
        timing += f" (draft after {t.draft_token_s:.1f} s)"
    timing += f" · total {t.total_s:.1f} s"
    if answer.model:
        timing += f" · {escape(answer.model)}"
    rows.append(f"<div class='rag-timings'>{timing}</div>")
    rows.extend(f"<div class='rag-warning'>{escape(w)}</div>" for w in answer.warnings)
    rows.extend(
        f"<div class='rag-struck'>Not kept: <s>{escape(c.text)}</s> ({escape(c.reason)})</div>"
        for c in answer.claims if not c.kept
    )
    rows.extend(f"<div class='rag-check'>{escape(n)}</div>" for n in answer.check_notes)
    return "<div class='rag-details'>" + "".join(rows) + "</div>"


def sources_html(answer: Answer, asked: str, documents: Mapping[str, Document], scope: str = "") -> str:
    """The sources panel for one answer: each citation's passage, highlighted and placed, with its
    article's day, source and address; `scope` says which articles the question was kept to."""
    parts = ["<div class='rag-sources'>", _details_html(answer, asked, scope)]
    if answer.abstained:
        closest = answer.passages[:3]
        parts.append("<div class='rag-refusal'>The articles do not seem to answer this.</div>")
        if closest:
            parts.append("<h4>Closest passages</h4><ol class='rag-list'>")
            parts.extend(_hit_html(hit, documents) for hit in closest)
            parts.append("</ol>")
    elif answer.citations:
        parts.append("<h4>Sources</h4><ol class='rag-list'>")
        parts.extend(_citation_html(c, answer, documents) for c in answer.citations)
        parts.append("</ol>")
        cited = {passage_for(c, answer.passages) for c in answer.citations}
        others = [hit for hit in answer.passages if hit.chunk not in cited]
        if others:
            parts.append(f"<details class='rag-others'><summary>Other passages searched ({len(others)})</summary>")
            parts.append("<ol class='rag-list'>" + "".join(_hit_html(h, documents) for h in others) + "</ol></details>")
    else:
        parts.append("<div class='rag-warning'>This answer cites no passage: check it against these.</div>")
        parts.append("<ol class='rag-list'>" + "".join(_hit_html(h, documents) for h in answer.passages) + "</ol>")
    parts.append("</div>")
    return "".join(parts)


def answer_markdown(answer: Answer) -> str:
    """The chat message for an answer: its text with its [n] markers, and a line saying how it was
    made when it is not the model's checked reply, or when it cites nothing."""
    text = chat_text(answer.text)
    if answer.abstained:
        return f"{text}\n\n*Not found in the articles: the closest passages are under Sources\\.*"
    if not answer.citations:
        return f"{text}\n\n*No passage is cited for this answer: check it against the passages under Sources\\.*"
    if answer.mode != "written":
        return f"{text}\n\n*{chat_text(HOW_MADE[answer.mode])}*"
    return text


STAGES: dict[Stage, str] = {
    "rewriting": "Reading the conversation…",
    "searching": "Searching the articles…",
    "writing": "Writing a draft…",
    "checking": "Checking the draft against the articles…",
    "repairing": "The draft did not pass: asking again with the best sentences…",
    "quoting": "Looking for a sentence that answers it…",
}


def working_markdown(stage: Stage, drafts: Sequence[str]) -> str:
    """The chat message while an answer is on its way: what is being done, and the model's draft,
    marked as a draft (a draft that was not kept is struck through). Never presented as the answer."""
    lines = [f"*{chat_text(STAGES[stage])}*"]
    for n, draft in enumerate(drafts):
        if not draft.strip():
            continue
        body = chat_text(draft.strip())
        if n < len(drafts) - 1:
            lines.append(f"> ~~{body}~~ *(not kept)*")
        else:
            lines.append(f"> *Draft, not yet checked:* {body}")
    return "\n\n".join(lines)


def notice_html(message: str, kind: str = "info") -> str:
    """A message box (kind: "info", "ok" or "error") with escaped text."""
    return f"<div class='rag-notice rag-{escape(kind)}' role='status'>{escape(message)}</div>"


def placeholder_html(message: str) -> str:
    return f"<div class='rag-empty'>{escape(message)}</div>"


def documents_table(entries: Mapping[str, Mapping[str, Any]]) -> str:
    """The first page of the indexed articles, newest first (see `documents_page`)."""
    return documents_page(catalog.page_of(catalog.rows(entries), catalog.View()))


def _day_cell(row: catalog.Row) -> str:
    """The publication day; with none, the day the file was added, marked as such."""
    if row.published or not row.added:
        return escape(row.published)
    tip = "No publication date: the day the file was added"
    return f"<span class='rag-added' title='{tip}'>added {escape(row.added)}</span>"


def documents_page(page: catalog.Page) -> str:
    """One page of the articles table: published, source, title (linked to its address), file, size,
    chunks and when it was indexed, under a line saying which rows of how many these are."""
    if not page.total:
        return placeholder_html("No articles are indexed yet: add some below.")
    head = f"<div class='rag-page-label'>{escape(page.label)}"
    if page.pages > 1:
        head += f" · page {page.number:,} of {page.pages:,}"
    head += "</div>"
    if not page.rows:
        return head
    rows = []
    for row in page.rows:
        when = row.indexed_at[:16].replace("T", " ")
        rows.append(
            "<tr>"
            f"<td class='rag-day'>{_day_cell(row)}</td>"
            f"<td class='rag-outlet'>{escape(row.source)}</td>"
            f"<td class='rag-title'>{link(row.title, row.url)}</td>"
            f"<td><code>{escape(row.doc_id)}</code></td>"
            f"<td class='rag-num'>{row.chars:,} characters</td>"
            f"<td class='rag-num'>{row.chunks}</td>"
            f"<td>{escape(when)}</td>"
            "</tr>"
        )
    return (
        head + "<table class='rag-documents'><thead><tr><th>Published</th><th>Source</th><th>Title</th><th>File</th>"
        "<th>Size</th><th>Chunks</th><th>Indexed</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def feeds_html(followed: Sequence[Any]) -> str:
    """The feeds followed (rag.ingest.feeds.Feed records): title linked to the feed, articles saved, when it
    was last refreshed, and its last error or "ok"."""
    if not followed:
        return placeholder_html("No feeds are followed: paste the address of an RSS or Atom feed below.")
    rows = []
    for feed in followed:
        when = (feed.last_refresh or "never")[:16].replace("T", " ")
        state = (f"<span class='rag-error'>{escape(feed.last_error)}</span>" if feed.last_error else "ok")
        rows.append(
            "<tr>"
            f"<td class='rag-title'>{link(feed.title or feed.url, feed.url)}</td>"
            f"<td><code>{escape(feed.url)}</code></td>"
            f"<td class='rag-num'>{feed.saved:,}</td>"
            f"<td>{escape(when)}</td>"
            f"<td class='rag-feed-state'>{state}</td>"
            "</tr>"
        )
    return (
        "<table class='rag-documents rag-feeds'><thead><tr><th>Feed</th><th>Address</th><th>Articles</th>"
        "<th>Last refresh</th><th>Status</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )

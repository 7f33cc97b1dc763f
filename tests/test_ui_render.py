"""The page's HTML: untrusted text is escaped everywhere, cited spans are highlighted and placed."""

from __future__ import annotations

import html
import re

import pytest

from rag.types import Answer, Chunk, Citation, Claim, Document, Hit, Timings
from ui import render

ARTICLE = (
    "Tokyo talks <b>opened</b>.\n\n"
    "Then, the leader held talks with the Prime Minister. The meeting ended with signing 14 documents.\n\n"
    "On Friday, <script>document.title='pwned'</script> the governor met him."
)
DOC = Document("visit.txt", "Visit <img src=x onerror=alert(1)>", ARTICLE, "h")
PARAGRAPH_2 = ARTICLE.split("\n\n")[1]
CHUNK = Chunk("c2", DOC.id, PARAGRAPH_2, ARTICLE.index(PARAGRAPH_2), ARTICLE.index(PARAGRAPH_2) + len(PARAGRAPH_2))
SCRIPT_PARA = ARTICLE.split("\n\n")[2]
SCRIPT_CHUNK = Chunk("c3", DOC.id, SCRIPT_PARA, ARTICLE.index(SCRIPT_PARA), len(ARTICLE))
SENTENCE = "The meeting ended with signing 14 documents."


def displayed(markdown: str) -> str:
    """What a CommonMark renderer shows for text made only of backslash escapes and entities."""
    return html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown))


def citation(start: int, end: int, chunk: Chunk = CHUNK, marker: int = 1) -> Citation:
    return Citation(marker, DOC.id, DOC.title, start, end, ARTICLE[start:end], chunk.id)


def answer(**fields: object) -> Answer:
    base: dict[str, object] = {
        "question": "How many documents were signed?",
        "text": "Fourteen documents were signed [1].",
        "passages": (Hit(CHUNK, 0.9, 1, DOC.title), Hit(SCRIPT_CHUNK, 0.2, 2, DOC.title)),
        "timings": Timings(first_token_s=0.42, total_s=1.75),
        "standalone_question": "How many documents were signed?",
        "model": "test/model",
    }
    base.update(fields)
    return Answer(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "Signed [1]. <script>alert(1)</script>",
        "![x](http://tracker.example/p.png) and [link](javascript:alert(1)) <img src=x onerror=alert(1)>",
        "*not emphasis* _nor this_ `code` # heading $5 & $6 &amp; http://example.com a@b.org",
        "back\\slash \\[1\\] | table | ~~strike~~",
    ],
)
def test_chat_text_displays_exactly_the_text_and_renders_no_markup(text: str) -> None:
    markdown = render.chat_text(text)
    assert displayed(markdown) == text
    assert "<" not in markdown and ">" not in markdown
    assert re.search(r"(?<!\\)[\[\]()*_`!]", markdown) is None  # no unescaped Markdown syntax left


def test_highlight_marks_exactly_the_span_and_escapes_both_sides() -> None:
    out = render.highlight("a <i>b</i> c", 2, 10)
    assert out == "a <mark>&lt;i&gt;b&lt;/i&gt;</mark> c"
    assert render.highlight("abc", 5, 9) == "abc<mark></mark>"
    assert render.highlight("abc", 2, 1) == "ab<mark></mark>c"


def test_passage_is_found_by_chunk_id_then_by_span() -> None:
    hits = (Hit(SCRIPT_CHUNK, 0.5, 1), Hit(CHUNK, 0.4, 2))
    start = ARTICLE.index(SENTENCE)
    assert render.passage_for(citation(start, start + len(SENTENCE)), hits) == CHUNK
    no_id = Citation(1, DOC.id, DOC.title, start, start + len(SENTENCE), SENTENCE)
    assert render.passage_for(no_id, hits) == CHUNK
    elsewhere = Citation(1, "other.txt", "t", start, start + 5, "x")
    assert render.passage_for(elsewhere, hits) is None


def test_a_sentence_citation_highlights_only_that_sentence_inside_its_passage() -> None:
    start = ARTICLE.index(SENTENCE)
    page = render.sources_html(answer(citations=(citation(start, start + len(SENTENCE)),)), "asked", {DOC.id: DOC})
    passage = re.search(r"<blockquote class='rag-passage'>(.*?)</blockquote>", page, re.S)
    assert passage is not None
    assert f"<mark>{SENTENCE}</mark>" in passage.group(1)
    assert passage.group(1).startswith("Then, the leader held talks")  # the rest of the passage, unmarked
    assert f"paragraph 2 of 3, characters {start}–{start + len(SENTENCE)}" in page


def test_a_whole_chunk_citation_highlights_the_whole_passage() -> None:
    page = render.sources_html(answer(citations=(citation(CHUNK.start, CHUNK.end),)), "asked", {DOC.id: DOC})
    assert f"<blockquote class='rag-passage'><mark>{PARAGRAPH_2}</mark></blockquote>" in page


def test_titles_passages_and_questions_from_articles_are_escaped() -> None:
    cited = citation(SCRIPT_CHUNK.start, SCRIPT_CHUNK.end, SCRIPT_CHUNK)
    page = render.sources_html(
        answer(citations=(cited,), standalone_question="<b>rewritten</b>"), "<i>asked</i>", {DOC.id: DOC}
    )
    assert "<script" not in page and "<img" not in page and "<b>" not in page and "<i>" not in page
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in page
    assert "Visit &lt;img src=x onerror=alert(1)&gt;" in page
    assert "Searched for: &lt;b&gt;rewritten&lt;/b&gt;" in page


def test_the_searched_question_is_shown_only_when_it_differs() -> None:
    same = render.sources_html(answer(), "How many  documents were signed?", {})
    other = render.sources_html(answer(standalone_question="How many documents did Tokayev sign?"), "And he?", {})
    assert "Searched for" not in same
    assert "Searched for: How many documents did Tokayev sign?" in other
    assert "answer after 0.4 s · total 1.8 s · test/model" in same


def test_a_refusal_offers_the_closest_passages_without_highlights() -> None:
    page = render.sources_html(answer(text="The articles do not say.", abstained=True), "q", {DOC.id: DOC})
    assert "The articles do not seem to answer this." in page
    assert "Closest passages" in page and PARAGRAPH_2 in page
    assert "<mark>" not in page
    message = render.answer_markdown(answer(text="The articles do not say.", abstained=True))
    assert displayed(message.split("\n\n")[0]) == "The articles do not say."
    assert "closest passages" in message


def test_an_answer_without_citations_is_flagged() -> None:
    page = render.sources_html(answer(text="Fourteen."), "q", {})
    assert "cites no passage" in page
    assert "No passage is cited" in render.answer_markdown(answer(text="Fourteen."))


def test_the_article_view_highlights_the_span_in_the_whole_text() -> None:
    start = ARTICLE.index(SENTENCE)
    view = render.article_excerpt(ARTICLE, start, start + len(SENTENCE))
    assert view.count("<mark>") == 1 and f"<mark>{SENTENCE}</mark>" in view
    assert "Tokyo talks &lt;b&gt;opened&lt;/b&gt;." in view
    long = "x" * 50_000 + SENTENCE + "y" * 50_000
    window = render.article_excerpt(long, 50_000, 50_000 + len(SENTENCE), limit=1_000)
    assert f"<mark>{SENTENCE}</mark>" in window and window.startswith("…") and window.endswith("…")
    assert len(window) < 1_100


@pytest.mark.parametrize(
    ("text", "count"),
    [("One.\nTwo.\nThree.", 3), ("One\nwrapped.\n\nTwo.\n\n\nThree.", 3), ("Only one.", 1), ("", 0)],
)
def test_paragraphs_are_blank_line_blocks_or_lines(text: str, count: int) -> None:
    spans = render.paragraph_spans(text)
    assert len(spans) == count
    assert all(text[s:e].strip() == text[s:e] and text[s:e] for s, e in spans)


def test_place_in_the_default_articles(docs_dir) -> None:  # type: ignore[no-untyped-def]
    from rag.ingest.loading import load_documents

    documents = {d.id: d for d in load_documents(docs_dir)[0]}
    visit = documents["tokayev-state-visit-to-japan.txt"].text
    start = visit.index("The meeting ended with signing 14 documents.")
    assert render.place_in_article(visit, start, start + 44) == f"paragraph 8 of 12, characters {start}–{start + 44}"
    lecture = documents["tokayev-lecture-at-un-university.txt"].text  # one paragraph per line
    start = lecture.index("Addressing nuclear security")
    assert render.place_in_article(lecture, start, start + 10).startswith("paragraph 10 of 11,")


def test_documents_table_lists_and_escapes() -> None:
    table = render.documents_table(
        {
            "b.txt": {
                "title": "Beta <script>x</script>",
                "chars": 12_345,
                "chunks": 3,
                "indexed_at": "2025-12-19T10:11Z",
            },
            "a.md": {"title": "Alpha", "chars": 10, "chunks": 1, "indexed_at": "2025-12-18T09:00:00+0000"},
        }
    )
    assert "<script" not in table and "Beta &lt;script&gt;x&lt;/script&gt;" in table
    assert table.index("Alpha") < table.index("Beta")
    assert "12,345 characters" in table and "2025-12-19 10:11" in table
    assert "No articles are indexed" in render.documents_table({})


def test_notices_escape_their_message() -> None:
    assert render.notice_html("<b>x</b>", "error") == (
        "<div class='rag-notice rag-error' role='status'>&lt;b&gt;x&lt;/b&gt;</div>"
    )


def test_sentences_the_checker_left_out_and_quoted_answers_are_shown_as_such() -> None:
    start = ARTICLE.index(SENTENCE)
    quoted = answer(
        citations=(citation(start, start + len(SENTENCE)),), mode="quoted",
        claims=(Claim("<b>Fifteen</b>.", "removed", reason="no passage says it"),),
        check_notes=("the reply does not state the <year> the question asks for",),
    )
    page = render.sources_html(quoted, "q", {})
    assert "Not kept: <s>&lt;b&gt;Fifteen&lt;/b&gt;.</s> (no passage says it)" in page
    assert "the reply does not state the &lt;year&gt; the question asks for" in page
    assert "Quoted from the article" in page  # how it was made, in the details
    assert "Quoted from the article" in render.answer_markdown(quoted)
    assert "Quoted" not in render.answer_markdown(answer(citations=quoted.citations))


def test_while_an_answer_is_made_the_draft_is_shown_as_a_draft_and_a_draft_not_kept_is_struck() -> None:
    working = render.working_markdown("repairing", ["They signed *12* agreements.", "They signed 14"])
    assert working.startswith("*The draft did not pass")
    assert "~~They signed \\*12\\* agreements\\.~~ *(not kept)*" in working
    assert working.endswith("*Draft, not yet checked:* They signed 14")
    assert render.working_markdown("searching", []) == "*Searching the articles…*"

"""Timelines and "what's new" (rag/answers/timelines.py, Answering.timeline): dates read from sentences and
resolved against the article's publication date, events in date order and cited, and the window a
"what's new" question names."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from rag import Settings, pipeline
from rag.answers.shapes import answer_shape
from rag.answers.timelines import When, resolve, window
from tests.conftest import make_assistant

FRIDAY = dt.date(2024, 12, 20)


@pytest.mark.parametrize(
    ("sentence", "published", "label"),
    [
        ("On Friday, the two sides signed it.", FRIDAY, "20 December 2024"),  # the day itself
        ("On Friday, the two sides signed it.", dt.date(2024, 12, 23), "20 December 2024"),  # a Monday's article
        ("On Monday the talks resumed.", FRIDAY, "16 December 2024"),
        ("Prices rose last month.", FRIDAY, "November 2024"),
        ("Prices rose last month.", dt.date(2025, 1, 10), "December 2024"),
        ("On December 18, he held talks with the Emperor.", FRIDAY, "18 December 2024"),
        ("He was elected on 30 December.", dt.date(2025, 1, 3), "30 December 2024"),  # not a year later
        ("The plan was agreed on 2023-06-01 in Geneva.", FRIDAY, "1 June 2023"),
        ("It opened on 30 August 2024 after a delay.", None, "30 August 2024"),
        ("The bridge was started in May.", dt.date(2024, 9, 2), "May 2024"),
        ("The treaty dates from 1992.", None, "1992"),
        ("Yesterday the minister resigned.", FRIDAY, "19 December 2024"),
        ("He arrived on December 17.", None, "17 December"),  # no year known
        ("On Friday, December 19, he met the Governor.", None, "19 December 2025"),  # the weekday fixes it
    ],
)
def test_a_date_in_a_sentence_is_resolved_against_its_article(sentence: str, published: dt.date | None,
                                                               label: str) -> None:
    when = resolve(sentence, published)
    assert when is not None and when.label == label


@pytest.mark.parametrize("sentence", ["They met at the embassy.", "He said 14 documents were signed.",
                                      "On Friday they met.", "It happened on February 30."])
def test_no_date_is_made_up(sentence: str) -> None:
    # "On Friday" with no publication date to count from is no date.
    assert resolve(sentence, None) is None


@pytest.mark.parametrize(
    ("question", "since", "said"),
    [
        ("What's new on the bridge this week?", "2024-09-02", "this week"),
        ("What is new on the bridge since June?", "2024-06-01", "since june"),
        ("What's new on the bridge since December?", "2023-12-01", "since december"),  # the last one past
        ("Any news on the bridge in the last 3 days?", "2024-09-02", "in the last 3 days"),
        ("What is new on the bridge since 2024-08-15?", "2024-08-15", "since 2024-08-15"),
        ("What's new on the bridge?", "2024-08-29", ""),  # none named: the last 7 days
    ],
)
def test_the_window_of_a_whats_new_question(question: str, since: str, said: str) -> None:
    found = window(question, dt.date(2024, 9, 5))
    assert (found.since, found.said) == (since, said)


def test_timeline_questions_are_told_from_fact_and_open_ones() -> None:
    assert [answer_shape(q) for q in (
        "What happened with the harbour bridge, in order?", "Give me a timeline of the visit.",
        "What's new on the iPod since January?", "Summarize the visit.", "When did the bridge open?",
    )] == ["timeline", "timeline", "timeline", "open", "fact"]


ARTICLES = {
    "approved.md": ("2024-03-04", "Council approves harbour bridge",
                    "The city council approved the harbour bridge on Friday after a long debate. The vote was "
                    "close. Construction of the harbour bridge is due to start in May."),
    "work.md": ("2024-05-20", "Work starts on harbour bridge",
                "Work on the harbour bridge began on May 13 with a small ceremony. Crews drove the first piles "
                "for the harbour bridge within days."),
    "opened.md": ("2024-09-02", "Harbour bridge opens",
                  "The harbour bridge opened to traffic on 30 August 2024. The mayor cut the ribbon on the "
                  "harbour bridge."),
}


@pytest.fixture
def news(tmp_path: Path) -> Settings:
    docs = tmp_path / "documents"
    docs.mkdir()
    for name, (published, title, body) in ARTICLES.items():
        (docs / name).write_text(f"---\npublished: {published}\nsource: City News\n---\n# {title}\n\n{body}\n",
                                 encoding="utf-8")
    return Settings(documents_dir=docs, index_dir=tmp_path / "index", model_cache_dir=tmp_path / "models",
                    judge_model="same", repair_model="same")


def _lines(text: str) -> list[tuple[str, str]]:
    return re.findall(r"^- \*\*(.+?)\*\*: (.+)$", text, flags=re.MULTILINE)


def test_a_timeline_lists_the_events_in_date_order_each_dated_and_cited(news: Settings) -> None:
    assistant = make_assistant(news)
    reply = assistant.answer("What happened with the harbour bridge, in order?")
    assert reply.shape == "timeline" and reply.mode == "extracted" and not reply.abstained
    lines = _lines(reply.text)
    assert len(lines) == len(reply.claims) >= 3
    labels = [label for label, _ in lines]
    # "on Friday" in the article of Monday 4 March is 1 March; "within days" inherits May 13; "in
    # May" in March's article is the May to come.
    assert labels[:3] == ["1 March 2024", "May 2024", "13 May 2024"] and labels[-1] == "30 August 2024"
    days = [_key(label) for label in labels]
    assert days == sorted(days)
    documents = assistant.stored.documents
    for citation in reply.citations:
        assert documents[citation.doc_id].text[citation.start : citation.end] == citation.quote
    for (_, sentence), claim in zip(lines, reply.claims, strict=True):
        assert claim.markers and sentence.endswith(f"[{claim.markers[0]}].")


def _key(label: str) -> tuple[int, int, int]:
    """The sort key of a label such as '13 May 2024' or 'May 2024'."""
    *day, month, year = label.split()
    return When(int(year), MONTHS.index(month) + 1, int(day[0]) if day else None).key


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def test_whats_new_answers_from_the_window_and_says_which(news: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "today", lambda: dt.date(2024, 9, 5))
    reply = make_assistant(news).answer("What's new on the harbour bridge since June?")
    assert reply.shape == "timeline" and not reply.abstained
    assert {c.doc_id for c in reply.citations} == {"opened.md"}
    assert any("published since 2024-06-01 (since june)" in note for note in reply.check_notes)


def test_whats_new_says_plainly_when_nothing_came_in(news: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "today", lambda: dt.date(2024, 12, 5))
    reply = make_assistant(news).answer("What's new on the harbour bridge this week?")
    assert reply.abstained and not reply.citations
    assert reply.text.startswith("Nothing new came in: no article published since 2024-12-02 (this week)")


def test_an_article_dated_after_the_day_asked_is_not_new(news: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # Asked on 1 June 2024: the bridge's opening (an article of September) is not news yet.
    monkeypatch.setattr(pipeline, "today", lambda: dt.date(2024, 6, 1))
    reply = make_assistant(news).answer("What's new on the harbour bridge since May?")
    assert {c.doc_id for c in reply.citations} == {"work.md"}

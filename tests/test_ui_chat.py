"""One session's conversation logic, without a server: streaming, stopping, errors, choosing sources."""

from __future__ import annotations

from rag import Assistant, Settings
from tests.fakes import HashEmbedder
from tests.test_ui_app import SIGNED, ArticleGenerator, shown
from ui.chat import CURSOR, EMPTY_PANEL, Chat, ChatSession, clear, select, stop


def make_chat(settings: Settings, generator: ArticleGenerator) -> Chat:
    return Chat(Assistant(settings, embedder=HashEmbedder(), generator=generator))


def test_the_question_shows_at_once_then_the_draft_as_a_draft_then_the_checked_answer(settings: Settings) -> None:
    generator = ArticleGenerator()
    session = ChatSession(panel="<div>the previous answer's sources</div>")
    updates = list(make_chat(settings, generator).ask(f"  {SIGNED}\n", session))
    first, last = updates[0], updates[-1]
    # At once: the question, what is being done, and the previous answer's sources gone.
    assert [m["role"] for m in first.messages] == ["user", "assistant"] and first.session.streaming
    assert "Searching the articles" in shown(first.messages[-1]) and "previous answer" not in first.panel
    streamed = [u.messages[-1]["content"] for u in updates[1:-1]]
    assert streamed and all(text.endswith(CURSOR) for text in streamed)
    # The model's reply shows only as a draft while it is checked, never as the answer.
    final = last.session.history[1]["content"]
    for text in streamed:  # every update is a labelled draft, or the final text itself
        assert "Draft, not yet checked" in text or "14 documents" not in text or text.startswith(final.split(" [")[0])
    assert any("Draft, not yet checked" in text for text in streamed)
    assert any("Checking the draft" in text for text in streamed)
    assert not last.messages[-1]["content"].endswith(CURSOR) and not last.session.streaming
    assert "14 documents" in shown(last.messages[-1])
    assert last.session.history == (
        {"role": "user", "content": SIGNED},
        {"role": "assistant", "content": last.session.history[1]["content"]},
    )
    assert last.session.sources == {1: last.panel} and last.textbox == ""


def test_an_empty_question_changes_nothing_and_asks_nothing(settings: Settings) -> None:
    generator = ArticleGenerator()
    session = ChatSession()
    [update] = list(make_chat(settings, generator).ask("   ", session))
    assert update.session is session and update.messages == [] and generator.prompts == []


def test_stopping_ends_the_answer_at_its_next_token_and_releases_the_model(settings: Settings) -> None:
    generator = ArticleGenerator()
    answering = make_chat(settings, generator).ask(SIGNED, ChatSession())
    latest = next(answering)
    while generator.running == 0:  # the question, what is being done, then the first draft piece
        latest = next(answering)
    assert generator.running == 1
    stop(latest.session)
    stopped = next(answering)
    assert list(answering) == []
    assert generator.running == 0 and generator.stopped == 1 and generator.finished == 0
    assert shown(stopped.messages[-1]).endswith("*Stopped.*") and CURSOR not in stopped.messages[-1]["content"]
    assert stopped.session.history == () and not stopped.session.streaming and "Stopped" in stopped.panel


def test_clearing_while_answering_stops_and_empties_the_chat(settings: Settings) -> None:
    generator = ArticleGenerator()
    answering = make_chat(settings, generator).ask(SIGNED, ChatSession())
    latest = next(answering)
    while generator.running == 0:
        latest = next(answering)
    assert clear(latest.session) == ([], EMPTY_PANEL, ChatSession())
    assert list(answering) == [([], EMPTY_PANEL, ChatSession(), "")]
    assert generator.stopped == 1


def test_stop_and_clear_when_nothing_runs_change_nothing() -> None:
    session = ChatSession(messages=({"role": "user", "content": "q"},))
    stop(session)
    assert clear(session) == ([], EMPTY_PANEL, ChatSession())


def test_each_answer_keeps_its_own_sources_panel(settings: Settings) -> None:
    chat = make_chat(settings, ArticleGenerator())
    first = list(chat.ask(SIGNED, ChatSession()))[-1].session
    second = list(chat.ask("Who did Tokayev meet on December 19?", first))[-1].session
    assert second.panel != first.panel and "Yuriko Koike" in second.panel
    panel, chosen = select(second, 1)
    assert panel == first.panel and chosen.panel == first.panel
    assert select(second, 2)[0] == second.panel  # a question has no panel of its own: keep the current one


def test_a_question_that_is_not_valid_text_is_a_message_in_the_chat(settings: Settings) -> None:
    last = list(make_chat(settings, ArticleGenerator()).ask("who \ud800 signed?", ChatSession()))[-1]
    assert "is not valid text" in shown(last.messages[-1]) and "TypeError" not in shown(last.messages[-1])
    assert "rag-error" in last.panel

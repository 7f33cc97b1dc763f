"""One browser session's conversation, asked through the same streaming answer function as the API.

`ChatSession` is the state of one browser session (gradio keeps one per tab in a `gr.State`): the
messages the chat shows (escaped Markdown), the plain question/answer turns given to the model as
history, and the sources panel of every answer. `Chat.ask` streams one answer as a series of
`Update`s: the question at once with what is being done (searching, writing, checking …) and the
sources panel cleared; the model's draft marked as a draft being checked (a draft that is not kept
is struck through, never left to look like the answer); then the checked answer with its sources.
Errors become a message in the chat and the session carries on: a failed or stopped turn is shown
but not given to the model as history; an error's message never shows the server's paths
(ui/errors.py). The chat's filters (ui/scope.py) go to `Assistant.stream`;
a date it cannot read, or filters no indexed article passes, is said in the chat instead of
asking, and the question stays in the box.

Deliberately not here: gradio itself (ui/app.py wires this to the page) and HTML (ui/render.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from rag.errors import RagError
from rag.index import DocumentEntry
from rag.ingest.feed_refresh import Quiet
from rag.pipeline import Assistant
from rag.types import Answer, Delta, Document, Draft, Stage, Status
from ui import errors, render, scope

log = logging.getLogger(__name__)

EMPTY_PANEL = render.placeholder_html("The sources of an answer appear here. Click an earlier answer to see its own.")
WORKING_PANEL = render.placeholder_html("Finding the sources of this answer…")
CURSOR = " ▍"


class StopSignal:
    """Raised by a session's stop or clear button, read by its running answer between tokens.

    Stopping is cooperative: the answer loop ends itself and reports it, which leaves gradio's
    queue in a clean state (cancelling a generator that has a gr.State output can leave the page
    showing "Error" on every output).
    """

    def __init__(self) -> None:
        self._raised = threading.Event()
        self.clear = False

    def raise_(self, *, clear: bool = False) -> None:
        self.clear = self.clear or clear
        self._raised.set()

    def __bool__(self) -> bool:
        return self._raised.is_set()


@dataclass(frozen=True)
class ChatSession:
    messages: tuple[dict[str, str], ...] = ()  # what the Chatbot shows: {"role", "content"} in escaped Markdown
    history: tuple[dict[str, str], ...] = ()  # finished turns as plain text, for the model
    sources: Mapping[int, str] = field(default_factory=dict)  # index of an answer in `messages` -> its panel
    panel: str = EMPTY_PANEL  # the sources panel shown now
    streaming: bool = False  # an answer is being generated into the last message
    signal: StopSignal | None = None  # how to stop that answer


class Update(NamedTuple):
    """The values of the page's outputs after one step: chat messages, sources panel, state, input box."""

    messages: list[dict[str, str]]
    panel: str
    session: ChatSession
    textbox: str


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": render.chat_text(text)}


def _assistant(markdown: str) -> dict[str, str]:
    return {"role": "assistant", "content": markdown}


class Chat:
    def __init__(self, assistant: Assistant, k: int | None = None, quiet: Quiet | None = None) -> None:
        self.assistant = assistant
        self.k = k
        self.quiet = quiet  # told while an answer is given: the feed refresher waits meanwhile

    def entries(self) -> Mapping[str, DocumentEntry]:
        """The index's entry of each indexed article: title, date, source … without its text."""
        try:
            return self.assistant.stored.catalog
        except RagError:
            return {}

    def documents(self) -> Mapping[str, Document]:
        try:
            return self.assistant.stored.documents
        except RagError:
            return {}

    def ask(
        self,
        question: str,
        session: ChatSession,
        published: str | None = None,
        sources: Sequence[str] | None = None,
    ) -> Iterator[Update]:
        """Answer `question` from the articles the filters allow: `published` is a span back from
        today ("30d") or a date ("2024-05-01"), `sources` the sources to keep (all when empty)."""
        question = " ".join((question or "").split())
        if not question:
            yield Update(list(session.messages), session.panel, session, "")
            return
        try:
            filters = scope.parse(published, sources)
        except scope.ScopeError as err:
            yield _not_asked(session, question, str(err))
            return
        if filters.active:
            entries = self.entries()
            if entries and not scope.any_allowed(entries, filters):
                yield _not_asked(session, question, scope.nothing_left(filters))
                return
        asked = (*session.messages, _user(question))
        signal = StopSignal()
        # The previous answer's sources go at once: the panel belongs to the answer on its way.
        session = replace(session, messages=(*asked, _assistant(render.working_markdown("searching", []))),
                          streaming=True, signal=signal, panel=WORKING_PANEL)
        yield Update(list(session.messages), session.panel, session, "")

        stage: Stage = "searching"
        drafts: list[str] = []  # the model's replies while they are written and checked: never the answer
        final = ""  # text that stays
        events = self.assistant.stream(
            question, k=self.k, history=list(session.history), filters=filters if filters.active else None
        )
        answering = self.quiet.answering() if self.quiet is not None else contextlib.nullcontext()
        try:
            answering.__enter__()
            for event in events:
                if signal:
                    yield _stopped(session, asked, final, signal.clear)
                    return
                if isinstance(event, Status | Draft):
                    if isinstance(event, Status):
                        stage = event.stage
                    elif event.restart or not drafts:
                        drafts.append(event.text)
                    else:
                        drafts[-1] += event.text
                    shown = render.working_markdown(stage, drafts)
                    session = replace(session, messages=(*asked, _assistant(shown + CURSOR)))
                    yield Update(list(session.messages), session.panel, session, "")
                elif isinstance(event, Delta):
                    final += event.text
                    session = replace(session, messages=(*asked, _assistant(render.chat_text(final) + CURSOR)))
                    yield Update(list(session.messages), session.panel, session, "")
                elif isinstance(event, Answer):
                    yield self._finish(question, event, session, asked, filters.describe() if filters.active else "")
        except RagError as err:
            log.warning("Answering %r failed: %s", question, err)
            yield self._failed(session, asked, errors.public_message(str(err), self._folders()))
        except Exception as err:  # the page must survive any failure of the model or the index
            log.exception("Answering %r failed", question)
            yield self._failed(session, asked, errors.unexpected(err, "answering"))
        finally:
            answering.__exit__(None, None, None)
            close = getattr(events, "close", None)
            if close is not None:
                close()  # a stopped answer releases the model at once

    def _folders(self) -> dict[Any, str]:
        return errors.folders(self.assistant.settings)

    def _finish(self, question: str, answer: Answer, session: ChatSession, asked: tuple, scoped: str = "") -> Update:
        panel = render.sources_html(answer, question, self.documents(), scoped)
        messages = (*asked, _assistant(render.answer_markdown(answer)))
        session = replace(
            session,
            messages=messages,
            history=(
                *session.history,
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer.text},
            ),
            sources={**session.sources, len(messages) - 1: panel},
            panel=panel,
            streaming=False,
            signal=None,
        )
        return Update(list(messages), panel, session, "")

    def _failed(self, session: ChatSession, asked: tuple, message: str) -> Update:
        panel = render.notice_html(message, "error")
        messages = (*asked, _assistant("⚠️ " + render.chat_text(message)))
        session = replace(session, messages=messages, panel=panel, streaming=False, signal=None)
        return Update(list(messages), panel, session, "")


def _not_asked(session: ChatSession, question: str, message: str) -> Update:
    """The question and why it was not asked, in the chat; the question stays in the box to ask again.
    Neither goes into the history given to the model."""
    messages = (*session.messages, _user(question), _assistant("⚠️ " + render.chat_text(message)))
    panel = render.notice_html(message, "error")
    session = replace(session, messages=messages, panel=panel, streaming=False, signal=None)
    return Update(list(messages), panel, session, question)


def stop(session: ChatSession) -> None:
    """The stop button: the running answer ends at its next token and says it was stopped."""
    if session.signal is not None:
        session.signal.raise_()


def _stopped(session: ChatSession, asked: tuple, streamed: str, clear: bool) -> Update:
    if clear:
        return Update([], EMPTY_PANEL, ChatSession(), "")
    text = render.chat_text(streamed.strip()) + "\n\n" if streamed.strip() else ""
    messages = (*asked, _assistant(f"{text}*Stopped\\.*"))
    panel = render.notice_html("Stopped: an unfinished answer has no sources.", "info")
    session = replace(session, messages=messages, panel=panel, streaming=False, signal=None)
    return Update(list(messages), panel, session, "")


def clear(session: ChatSession | None = None) -> tuple[list[dict[str, str]], str, ChatSession]:
    """A fresh conversation: no messages, no history given to the model; a running answer stops."""
    if session is not None and session.signal is not None:
        session.signal.raise_(clear=True)
    return [], EMPTY_PANEL, ChatSession()


def select(session: ChatSession, index: int | None) -> tuple[str, ChatSession]:
    """Show the sources of the answer at `index` in the chat (the latest one stays if it has none)."""
    panel = session.sources.get(index, session.panel) if index is not None else session.panel
    return panel, replace(session, panel=panel)

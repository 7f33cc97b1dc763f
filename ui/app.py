"""The web page: a chat with a sources panel, and an articles view; `launch` serves it.

The chat has a row of filters (Published, Source) under its input; the Source menu lists the
sources in the index and is refreshed whenever articles are added or removed. The articles view
shows one page of the table at a time, searched and ordered per session, and adds articles from
uploads or from their addresses; under it, the feeds followed (ui/feeds.py), with their last refresh
and error, to follow, stop following or refresh now.

One `Assistant` serves every browser session (the models load once per process). Answers go
through gradio's queue one at a time (`concurrency_id="model"`): other sessions wait their turn and
see their place in the queue, and a stopped answer frees the model at its next token. Index changes are
queued the same way under their own id. Each session keeps its own conversation in a `gr.State`.
The server listens on 127.0.0.1 unless told otherwise, answers only to the host names it was
started for (ui/security.py: no DNS rebinding), and limits login guesses when `auth` is given.
Uploads are deleted from gradio's cache once handled, files it still holds after an hour are
deleted, and all of them when the server stops.

Deliberately not here: what the handlers do (ui/chat.py, ui/library.py) or the markup (ui/render.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder
from starlette.middleware import Middleware

from rag.errors import RagError
from rag.ingest.feed_refresh import Quiet
from rag.ingest.loading import SUPPORTED_SUFFIXES
from rag.pipeline import Assistant
from rag.settings import Settings
from ui import catalog, render, scope
from ui import chat as chat_logic
from ui.chat import EMPTY_PANEL, Chat, ChatSession
from ui.feeds import FeedsPanel
from ui.library import MAX_FILES, Library
from ui.security import HostCheck, LoginThrottle, allowed_hosts
from ui.theme import CSS, theme
from ui.uploads import MAX_UPLOAD_BYTES, size_text

log = logging.getLogger(__name__)

UPLOAD_TYPES = list(SUPPORTED_SUFFIXES)  # what the upload dialog offers: what indexing reads
# Example questions offered on an empty chat, for the default articles that are indexed.
EXAMPLES = {
    "tokayev-state-visit-to-japan.txt": [
        "How many documents were signed after the talks with the Japanese Prime Minister?",
        "Who did Tokayev meet in Tokyo on December 19?",
    ],
    "tokayev-lecture-at-un-university.txt": [
        "What did Tokayev say about nuclear deterrence?",
        "Which Japanese teachings did Tokayev cite in his lecture?",
    ],
}
LOOPBACK = ("127.0.0.1", "localhost", "::1")
CACHE_CLEANING = (600, 3600)  # every 10 minutes, delete uploads gradio has held for over an hour


def _examples(assistant: Assistant) -> list[dict[str, str]]:
    try:
        indexed = assistant.stored.catalog
    except RagError:
        return []
    return [{"text": q} for doc_id, questions in EXAMPLES.items() if doc_id in indexed for q in questions]


def _busy() -> tuple[Any, Any]:
    return gr.update(visible=False), gr.update(visible=True)


def _idle() -> tuple[Any, Any]:
    return gr.update(visible=True), gr.update(visible=False)


def _example_text(evt: gr.SelectData) -> str:
    value = evt.value
    return str(value.get("text", "")) if isinstance(value, dict) else str(value or "")


def _selected(session: ChatSession, evt: gr.SelectData) -> tuple[str, ChatSession]:
    index = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
    return chat_logic.select(session, index if isinstance(index, int) else None)


def build_app(
    assistant: Assistant, settings: Settings | None = None, *, k: int | None = None, quiet: Quiet | None = None,
    feeds_panel: FeedsPanel | None = None,
) -> gr.Blocks:
    """The page around `assistant`; `settings` defaults to the assistant's own. `quiet` is told while
    an answer is given (the feed refresher waits meanwhile); `feeds_panel` is for tests."""
    settings = settings or assistant.settings
    with gr.Blocks(title="Ask the articles", analytics_enabled=False, delete_cache=CACHE_CLEANING) as demo:
        gr.HTML(
            "<h1>Ask the articles</h1><p>Answers come only from the indexed articles, and each shows the "
            "passages it cites. Everything runs on this computer.</p>",
            elem_id="rag-header",
            js_on_load=None,
        )
        library = Library(assistant, Path(get_upload_folder()))
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                source_filter = _chat_tab(Chat(assistant, k, quiet), _examples(assistant), library.sources())
            with gr.Tab("Articles", id="articles") as articles_tab:
                _articles_tab(library, settings, articles_tab, demo, source_filter)
                _feeds_section(feeds_panel or FeedsPanel(library), articles_tab, demo)
    demo.queue(default_concurrency_limit=4)
    return demo


NO_SOURCES = ("No indexed article names its source: add `source:` to an article's front matter, or a "
              "_folder.meta.json with a source to its folder.")


def source_info(names: Sequence[str]) -> str:
    """The line under the Source menu: what choosing none means, or why it is empty."""
    return "all sources when none is chosen" if names else NO_SOURCES


def _chat_tab(chat: Chat, examples: list[dict[str, str]], source_names: list[str]) -> gr.Dropdown:
    """The chat; returns its Source menu, which the Articles tab refreshes."""
    session = gr.State(ChatSession())
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=360):
            chatbot = gr.Chatbot(
                label="Conversation",
                elem_id="rag-chat",
                height=560,
                placeholder="**Ask a question about the articles.** Answers cite their sources as [1], [2]…",
                examples=examples or None,  # type: ignore[arg-type]
                latex_delimiters=[],  # "$" in an article is money, not LaTeX
                allow_tags=False,
                buttons=[],
            )
            with gr.Row(equal_height=True):
                question = gr.Textbox(
                    placeholder="Ask about the articles…",
                    show_label=False,
                    max_lines=6,
                    scale=8,
                    autofocus=True,
                    elem_id="rag-question",
                )
                send = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="rag-send")
                stop = gr.Button("Stop", variant="stop", scale=1, min_width=90, visible=False, elem_id="rag-stop")
            with gr.Row(equal_height=True, elem_id="rag-filters"):
                # Custom values: a date typed as YYYY-MM-DD, and a source removed since the page loaded
                # (ui/scope.py reads both, and says so when nothing is left to answer from).
                published = gr.Dropdown(
                    scope.PERIODS,
                    value="",
                    label="Published",
                    info="or type a date: YYYY-MM-DD",
                    allow_custom_value=True,
                    scale=1,
                    min_width=160,
                    elem_id="rag-published",
                )
                source_filter = gr.Dropdown(
                    source_names,
                    value=[],
                    multiselect=True,
                    label="Source",
                    info=source_info(source_names),
                    allow_custom_value=True,
                    scale=2,
                    min_width=200,
                    elem_id="rag-source-filter",
                )
            clear = gr.Button("New conversation", size="sm", elem_id="rag-clear")
        with gr.Column(scale=2, min_width=320):
            sources = gr.HTML(
                EMPTY_PANEL,
                label="Sources",
                show_label=True,
                container=True,
                max_height=640,
                elem_id="rag-sources",
                js_on_load=None,
            )

    private: dict[str, Any] = {"queue": False, "api_visibility": "private"}
    ask: dict[str, Any] = {
        "fn": chat.ask,
        "inputs": [question, session, published, source_filter],
        "outputs": [chatbot, sources, session, question],
        "concurrency_limit": 1,
        "concurrency_id": "model",
        "show_progress": "minimal",
    }
    buttons = [send, stop]
    triggers = [question.submit, send.click]
    gr.on(triggers, _busy, outputs=buttons, **private)
    asked = gr.on(triggers, api_name="ask", **ask)
    asked.then(_idle, outputs=buttons, **private)
    picked = chatbot.example_select(_example_text, outputs=[question], **private)
    picked.then(_busy, outputs=buttons, **private)
    picked.then(api_visibility="private", **ask).then(_idle, outputs=buttons, **private)

    panel = [chatbot, sources, session]
    stop.click(chat_logic.stop, [session], None, **private)  # the answer itself ends, then _idle runs
    clear.click(chat_logic.clear, [session], panel, queue=False, api_name="clear").then(_idle, None, buttons, **private)
    chatbot.clear(chat_logic.clear, [session], panel, **private).then(_idle, None, buttons, **private)  # its bin icon
    chatbot.select(_selected, [session], [sources, session], **private)
    return source_filter


def _articles_tab(
    library: Library, settings: Settings, tab: gr.Tab, demo: gr.Blocks, source_filter: gr.Dropdown
) -> None:
    gr.HTML(render.placeholder_html(f"Documents folder: {settings.documents_dir}"), js_on_load=None)
    first = library.show()
    page = gr.State(first.page)
    with gr.Row(equal_height=True):
        search = gr.Textbox(
            placeholder="Search titles, file names and sources…",
            show_label=False,
            scale=4,
            elem_id="rag-search",
        )
        order = gr.Dropdown(
            [(label, key) for key, label in catalog.SORTS.items()],
            value="newest",
            show_label=False,
            scale=1,
            min_width=140,
            elem_id="rag-sort",
        )
        previous = gr.Button("‹ Previous", size="sm", scale=0, min_width=100, elem_id="rag-previous")
        following = gr.Button("Next ›", size="sm", scale=0, min_width=100, elem_id="rag-next")
    table = gr.HTML(first.table, elem_id="rag-documents", js_on_load=None)
    upload_box = gr.File(
        label=f"Add articles: .txt, .md, .html or .pdf, up to {size_text(MAX_UPLOAD_BYTES)} each, "
        f"up to {MAX_FILES} at once",
        file_count="multiple",
        file_types=UPLOAD_TYPES,
        elem_id="rag-upload",
    )
    with gr.Row(equal_height=True):
        address_box = gr.Textbox(
            label="Add articles by their address",
            placeholder="https://… (one address a line)",
            lines=2,
            max_lines=8,
            scale=4,
            elem_id="rag-addresses",
        )
        fetch_button = gr.Button("Fetch and add", scale=1, elem_id="rag-fetch")
    status = gr.HTML("", elem_id="rag-status", js_on_load=None)
    with gr.Row(equal_height=True):
        # Any value is let through to Library.remove, which accepts only an indexed article: the choices
        # gradio checks against are those on the page shown, and an API client may name any other.
        choice = gr.Dropdown(
            first.choices,
            value=None,
            label="Remove an article (from the page shown)",
            scale=4,
            elem_id="rag-choice",
            allow_custom_value=True,
        )
        remove_button = gr.Button("Remove from the index", variant="stop", scale=1, elem_id="rag-remove")

    def view(text: str | None, sort: str | None, number: int | None) -> catalog.View:
        return catalog.View(text or "", sort or "newest", int(number or 1))

    def show(text: str | None, sort: str | None, number: int | None) -> tuple[Any, ...]:
        shown = library.show(view(text, sort, number))
        return shown.table, gr.update(choices=shown.choices, value=None), shown.page

    def upload(
        files: list[str] | None,
        text: str | None = None,  # a default of None: API clients may leave the table's view out
        sort: str | None = None,
        number: int | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, ...]:
        message = library.upload(files, lambda done, what: progress(done, desc=what))
        table_html, choices, _ = show(text, sort, number)
        return message, table_html, choices, None

    def add(
        urls: str | None,
        text: str | None = None,  # a default of None: API clients may leave the table's view out
        sort: str | None = None,
        number: int | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, ...]:
        message, retry = library.add_addresses(urls, lambda done, what: progress(done, desc=what))
        table_html, choices, _ = show(text, sort, number)
        return message, table_html, choices, retry

    def remove(
        doc_id: str | None,
        text: str | None = None,  # a default of None: API clients may leave the table's view out
        sort: str | None = None,
        number: int | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, ...]:
        message = library.remove(doc_id, lambda done, what: progress(done, desc=what))
        table_html, choices, _ = show(text, sort, number)
        return message, table_html, choices

    def sources() -> Any:
        names = library.sources()
        return gr.update(choices=names, info=source_info(names))

    private: dict[str, Any] = {"queue": False, "api_visibility": "private"}
    queued: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": "index"}
    current = [search, order, page]
    shown_page = [table, choice, page]
    upload_box.upload(
        upload, [upload_box, *current], [status, table, choice, upload_box], api_name="upload", **queued
    ).then(sources, None, [source_filter], **private)
    fetch_button.click(
        add, [address_box, *current], [status, table, choice, address_box], api_name="add_addresses", **queued
    ).then(sources, None, [source_filter], **private)
    remove_button.click(remove, [choice, *current], [status, table, choice], api_name="remove", **queued).then(
        sources, None, [source_filter], **private
    )
    gr.on(
        [search.change, order.change],
        lambda text, sort: show(text, sort, 1),
        [search, order],
        shown_page,
        trigger_mode="always_last",
        **private,
    )
    previous.click(lambda text, sort, n: show(text, sort, (n or 1) - 1), current, shown_page, **private)
    following.click(lambda text, sort, n: show(text, sort, (n or 1) + 1), current, shown_page, **private)
    tab.select(show, current, shown_page, **private)
    demo.load(show, current, shown_page, **private).then(sources, None, [source_filter], **private)


def _feeds_section(panel: FeedsPanel, tab: gr.Tab, demo: gr.Blocks) -> None:
    """Under the articles: the feeds followed, follow one, stop following one, refresh them now."""
    first = panel.show()
    gr.Markdown("### Feeds", elem_id="rag-feeds-head")
    table = gr.HTML(first.table, elem_id="rag-feeds", js_on_load=None)
    with gr.Row(equal_height=True):
        address = gr.Textbox(
            label="Follow a feed", placeholder="https://… (an RSS or Atom feed)", scale=4, elem_id="rag-feed-url"
        )
        follow = gr.Button("Follow", scale=1, elem_id="rag-feed-add")
        refresh = gr.Button("Refresh feeds now", scale=1, elem_id="rag-feed-refresh")
    with gr.Row(equal_height=True):
        choice = gr.Dropdown(first.choices, value=None, label="Stop following a feed (its articles stay)",
                             allow_custom_value=True, scale=4, elem_id="rag-feed-choice")
        unfollow = gr.Button("Stop following", variant="stop", scale=1, elem_id="rag-feed-remove")
    status = gr.HTML("", elem_id="rag-feed-status", js_on_load=None)

    def shown() -> tuple[Any, ...]:
        now = panel.show()
        return now.table, gr.update(choices=now.choices, value=None)

    def add(url: str | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        message = panel.add(url, lambda done, what: progress(done, desc=what))
        return (message, *shown(), "")

    def remove(url: str | None) -> tuple[Any, ...]:
        return (panel.remove(url), *shown())

    def refresh_now(progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        return (panel.refresh(lambda done, what: progress(done, desc=what)), *shown())

    queued: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": "index"}
    private: dict[str, Any] = {"queue": False, "api_visibility": "private"}
    follow.click(add, [address], [status, table, choice, address], api_name="add_feed", **queued)
    address.submit(add, [address], [status, table, choice, address], **queued, api_visibility="private")
    unfollow.click(remove, [choice], [status, table, choice], api_name="remove_feed", **queued)
    refresh.click(refresh_now, None, [status, table, choice], api_name="refresh_feeds", **queued)
    gr.on([tab.select, demo.load], shown, None, [table, choice], **private)
    # The background refresher changes the table too: an API to read it (the page reads it on load).
    def listed() -> str:
        return panel.show().table

    gr.api(listed, api_name="feeds")


def launch(
    assistant: Assistant,
    settings: Settings | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | None = None,
    open_browser: bool = False,
    k: int | None = None,
    allow_hosts: Sequence[str] = (),
    quiet: Quiet | None = None,
) -> tuple[gr.Blocks, str]:
    """Serve the page on host:port in a background thread; return it and its URL.

    Requests must name `host` (or, for a loopback address, any loopback name; for 0.0.0.0, this
    machine's names) or one of `allow_hosts` in their Host header. Call `.block_thread()` on the
    returned app to serve until Ctrl-C, or `.close()` to stop.
    """
    if host not in LOOPBACK and auth is None:
        log.warning("Listening on %s without --auth: anyone who can reach this machine can use the chat.", host)
    demo = build_app(assistant, settings, k=k, quiet=quiet)
    host_check = Middleware(HostCheck, allowed=allowed_hosts(host, allow_hosts))
    _, url, _ = demo.launch(
        server_name=host,
        server_port=port,
        auth=LoginThrottle(*auth) if auth else None,
        inbrowser=open_browser,
        prevent_thread_lock=True,
        quiet=True,
        show_error=True,
        ssr_mode=False,
        max_file_size=MAX_UPLOAD_BYTES,  # the same limit the label states and ui.uploads checks
        app_kwargs={"middleware": [host_check]},
        run_history=False,  # its page offers to copy past runs to a cloud bucket: not for a private tool
        footer_links=["api", "settings"],
        theme=theme(),
        css=CSS,
    )
    _put_first(demo.server_app, host_check)
    return demo, url


def _put_first(app: Any, middleware: Middleware) -> None:
    """Make `middleware` the outermost of the app's own middleware and rebuild its stack.

    gradio adds its CORS middleware outside the ones given through app_kwargs, and that one trusts
    the Host header: it answered a preflight from evil.example and added evil.example's origin to
    the refusal. Starlette builds the stack on the first request (gradio makes one while starting),
    so it is rebuilt here; until then the host check already ran, one layer further in.
    """
    app.user_middleware = [middleware, *(m for m in app.user_middleware if m is not middleware)]
    app.middleware_stack = app.build_middleware_stack()

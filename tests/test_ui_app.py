"""The web chat, served for real on a free port and used through gradio_client.

`ArticleGenerator` (also used by the browser test) answers like a careful model would: it copies
the article sentence that answers the question and cites the prompt passage that holds it, or
refuses. It records prompts and how many streams ran at once, so the tests can check history,
session separation, queueing and stopping.
"""

from __future__ import annotations

import html
import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AuthenticationError

from rag import Assistant, ModelError, Settings
from rag.models.generation import Message
from tests.fakes import HashEmbedder, ScriptedGenerator
from ui.app import launch

pytestmark = pytest.mark.server  # each test starts the Gradio app on a local port

SIGNED = "How many documents were signed after the talks with the Japanese Prime Minister?"
SIGNED_SENTENCE = "The meeting ended with signing 14 documents."
SCRIPT = "<script>window.__pwned = 1; document.title = 'pwned'</script>"
SCRIPT_SENTENCE = f"The festival of {SCRIPT} lanterns opens on Monday."
ANSWERS = {
    "documents": SIGNED_SENTENCE,
    "december 19": "On Friday, December 19, Kassym-Jomart Tokayev met with Tokyo Governor Yuriko Koike.",
    "nuclear": "Addressing nuclear security, President Tokayev stated that global security cannot be based on "
    "nuclear deterrence.",
    "pilot": "The Smart City pilot in Astana starts with the Zhibek Zholy tram line in March.",
    "lanterns": SCRIPT_SENTENCE,
}
NEW_ARTICLE = (
    "Astana and Tokyo agree a Smart City pilot\n\n"
    "The Smart City pilot in Astana starts with the Zhibek Zholy tram line in March.\n\n"
    "Engineers from both capitals will share traffic data every week."
)
SCRIPT_ARTICLE = f"{SCRIPT} Lantern festival\n\n{SCRIPT_SENTENCE}"


class ArticleGenerator:
    name = "test/article"

    def __init__(
        self, answers: Mapping[str, str] = ANSWERS, delay: float = 0.0, fail_first: Exception | None = None
    ) -> None:
        self.answers = dict(answers)
        self.delay = delay
        self.fail_first = fail_first
        self.context_size = 2048
        self.prompts: list[list[Message]] = []
        self.running = 0
        self.most_running = 0
        self.finished = 0
        self.stopped = 0
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text))

    def yes_probability(self, messages: list[Message]) -> float | None:
        return None  # a generator that cannot judge: the checker goes by words

    def reply(self, messages: list[Message]) -> str:
        prompt = messages[-1]["content"]
        question = prompt.rsplit("Question:", 1)[-1].lower()
        blocks = re.split(r"^\[(\d+)\] ", prompt, flags=re.MULTILINE)
        # The keyword said last: a follow-up searched for as "previous question + follow-up" is about the latter.
        said = [
            (question.rfind(keyword), sentence) for keyword, sentence in self.answers.items() if keyword in question
        ]
        if said:
            sentence = max(said)[1]
            for n, block in zip(blocks[1::2], blocks[2::2], strict=True):
                if sentence in block:
                    return f"{sentence[:-1]} [{n}]."
        return "The articles do not say."

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        self.prompts.append(messages)
        if self.fail_first is not None:
            error, self.fail_first = self.fail_first, None
            raise error
        with self._lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        complete = False
        try:
            for piece in re.findall(r"\S+\s*", self.reply(messages)):
                time.sleep(self.delay)
                yield piece
            complete = True
        finally:
            with self._lock:
                self.running -= 1
                self.finished += complete
                self.stopped += not complete


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(assistant: Assistant, **options: Any) -> Iterator[str]:
    """The app on a free port for the duration of the block; yields its URL."""
    demo, url = launch(assistant, port=free_port(), **options)
    try:
        yield url
    finally:
        demo.close()


def shown(message: Mapping[str, Any]) -> str:
    """The text a chat message displays (its Markdown escapes and entities resolved)."""
    content = message["content"]
    text = "".join(part.get("text", "") for part in content) if isinstance(content, list) else str(content)
    return html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text))


def marked(sources: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r"<mark>(.*?)</mark>", sources, flags=re.S)]


@pytest.fixture
def generator() -> ArticleGenerator:
    return ArticleGenerator()


@pytest.fixture
def assistant(settings: Settings, generator: ArticleGenerator) -> Assistant:
    return Assistant(settings, embedder=HashEmbedder(), generator=generator)


@pytest.fixture
def url(assistant: Assistant) -> Iterator[str]:
    with serving(assistant) as address:
        yield address


def test_an_answer_streams_with_its_markers_and_its_cited_passage(url: str) -> None:
    client = Client(url, verbose=False)
    job = client.submit(SIGNED, api_name="/ask")
    chat, sources, box = job.result(timeout=60)
    assert box == ""
    assert [m["role"] for m in chat] == ["user", "assistant"]
    assert shown(chat[0]) == SIGNED
    assert "14 documents" in shown(chat[1]) and re.search(r"\[\d\]", shown(chat[1]))  # the marker is kept
    assert any(SIGNED_SENTENCE in span for span in marked(sources))
    assert "tokayev-state-visit-to-japan.txt" in sources and "paragraph" in sources
    streamed = [shown(out[0][-1]) for out in job.outputs() if out[0] and out[0][-1]["role"] == "assistant"]
    assert len(streamed) >= 4 and streamed[0] != streamed[-1]  # token by token, then the checked answer


def test_a_refusal_is_shown_with_the_closest_passages(url: str) -> None:
    chat, sources, _ = Client(url, verbose=False).predict("Who won the football match?", api_name="/ask")
    assert shown(chat[-1]).startswith("The articles do not say.")
    assert "Not found in the articles" in shown(chat[-1])
    assert "Closest passages" in sources and "<mark>" not in sources


def test_follow_ups_carry_the_conversation_and_clearing_forgets_it(url: str, generator: ArticleGenerator) -> None:
    client = Client(url, verbose=False)
    client.predict(SIGNED, api_name="/ask")
    asked = len(generator.prompts)
    client.predict("And whom did he meet on December 19?", api_name="/ask")
    # The answering prompt carries the earlier turns (the rewriting prompt holds them as text).
    follow_up = next(p for p in generator.prompts[asked:] if p[0]["content"] == generator.prompts[0][0]["content"])
    assert {"role": "user", "content": SIGNED} in follow_up
    assert any(m["role"] == "assistant" and "14 documents" in m["content"] for m in follow_up)
    client.predict(api_name="/clear")
    chat, _, _ = client.predict("Which nuclear policy did Tokayev reject?", api_name="/ask")
    assert [m["role"] for m in chat] == ["user", "assistant"]
    assert [m["role"] for m in generator.prompts[-1]] == ["system", "user"]


def test_each_browser_session_has_its_own_conversation(url: str, generator: ArticleGenerator) -> None:
    first, second = Client(url, verbose=False), Client(url, verbose=False)
    first.predict(SIGNED, api_name="/ask")
    chat, _, _ = second.predict("Which nuclear policy did Tokayev reject?", api_name="/ask")
    assert len(chat) == 2
    assert [m["role"] for m in generator.prompts[-1]] == ["system", "user"]


def test_sessions_at_once_queue_for_the_one_model_and_all_get_their_answer(settings: Settings) -> None:
    generator = ArticleGenerator(delay=0.05)
    questions = [SIGNED, "Who did Tokayev meet on December 19?", "Which nuclear policy did he reject?"] * 2
    with serving(Assistant(settings, embedder=HashEmbedder(), generator=generator)) as url:
        clients = [Client(url, verbose=False) for _ in questions]
        with ThreadPoolExecutor(len(questions)) as pool:
            replies = list(pool.map(lambda c, q: c.predict(q, api_name="/ask"), clients, questions))
    assert generator.most_running == 1  # never two generations at once on the shared model
    assert generator.finished == len(questions)
    expected_answers = ["14 documents", "Yuriko Koike", "nuclear deterrence"] * 2
    for (chat, sources, _), expected in zip(replies, expected_answers, strict=True):
        assert expected in shown(chat[-1]) and any(expected in span for span in marked(sources))


def test_stopping_ends_the_generation_and_the_chat_goes_on(settings: Settings) -> None:
    generator = ArticleGenerator(delay=0.5)
    with serving(Assistant(settings, embedder=HashEmbedder(), generator=generator)) as url:
        client = Client(url, verbose=False)
        job = client.submit(SIGNED, api_name="/ask")
        deadline = time.monotonic() + 30
        while generator.running == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        job.cancel()
        deadline = time.monotonic() + 10
        while generator.stopped == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert generator.stopped == 1 and generator.finished == 0
        generator.delay = 0.0
        chat, _, _ = client.predict("Which nuclear policy did Tokayev reject?", api_name="/ask")
    assert "nuclear deterrence" in shown(chat[-1]) and generator.finished == 1


def test_a_model_failure_is_a_message_and_the_app_keeps_running(settings: Settings) -> None:
    generator = ArticleGenerator(fail_first=ModelError("The model file x.gguf is damaged: run `rag models`."))
    with serving(Assistant(settings, embedder=HashEmbedder(), generator=generator)) as url:
        client = Client(url, verbose=False)
        chat, sources, _ = client.predict(SIGNED, api_name="/ask")
        assert "The model file x.gguf is damaged" in shown(chat[-1])
        assert "rag-error" in sources
        generator.prompts.clear()
        chat, sources, _ = client.predict(SIGNED, api_name="/ask")
    assert "14 documents" in shown(chat[-1]) and len(chat) == 4
    assert [m["role"] for m in generator.prompts[-1]] == ["system", "user"]  # the failed turn is not history


def test_an_unexpected_crash_is_a_message_too(settings: Settings) -> None:
    generator = ArticleGenerator(fail_first=RuntimeError("llama_decode returned -3"))
    with serving(Assistant(settings, embedder=HashEmbedder(), generator=generator)) as url:
        chat, _, _ = Client(url, verbose=False).predict(SIGNED, api_name="/ask")
    # Its kind only: an unforeseen error's text may hold a server path (#21); the log has it.
    assert "Something went wrong while answering (RuntimeError). Try again" in shown(chat[-1])


def test_uploaded_articles_are_indexed_and_answered_from(url: str, tmp_path: Path, docs_dir: Path) -> None:
    client = Client(url, verbose=False)
    source = tmp_path / "Astana smart city.txt"
    source.write_text(NEW_ARTICLE, encoding="utf-8")
    status, table, _, _ = client.predict([handle_file(str(source))], api_name="/upload")
    assert "Added “Astana smart city.txt” as Astana-smart-city.txt." in html.unescape(status)
    assert (docs_dir / "Astana-smart-city.txt").read_text(encoding="utf-8") == NEW_ARTICLE
    assert "Astana and Tokyo agree a Smart City pilot" in table
    chat, sources, _ = client.predict("When does the Smart City pilot start?", api_name="/ask")
    assert "Zhibek Zholy tram line in March" in shown(chat[-1])
    assert "Astana-smart-city.txt" in sources

    status, table, _ = client.predict("Astana-smart-city.txt", api_name="/remove")
    assert "Removed Astana-smart-city.txt." in status and "1 removed" in status
    assert not (docs_dir / "Astana-smart-city.txt").exists() and "Smart City" not in table


def test_bad_uploads_are_refused_with_a_message(url: str, tmp_path: Path, docs_dir: Path) -> None:
    before = sorted(p.name for p in docs_dir.iterdir())
    binary = tmp_path / "scan.txt"
    binary.write_bytes(b"\x00\x01\x02 binary" * 100)
    status, _, _, _ = Client(url, verbose=False).predict([handle_file(str(binary))], api_name="/upload")
    assert "“scan.txt” cannot be used: it looks binary" in html.unescape(status)
    assert sorted(p.name for p in docs_dir.iterdir()) == before


def test_an_article_with_a_script_tag_is_shown_as_text(url: str, tmp_path: Path) -> None:
    client = Client(url, verbose=False)
    source = tmp_path / "lanterns.txt"
    source.write_text(SCRIPT_ARTICLE, encoding="utf-8")
    _, table, _, _ = client.predict([handle_file(str(source))], api_name="/upload")
    chat, sources, _ = client.predict("When do the lanterns open?", api_name="/ask")
    for page in (table, sources, chat[-1]["content"][0]["text"]):
        assert "<script" not in page.lower()
    assert "&lt;script&gt;window.__pwned = 1;" in sources
    assert "<script>window.__pwned = 1;" in shown(chat[-1])  # displayed, as text


def test_a_login_is_required_when_auth_is_given(assistant: Assistant) -> None:
    with serving(assistant, auth=("reader", "s3cret")) as url:
        assert url.startswith("http://127.0.0.1:")
        with pytest.raises(AuthenticationError, match="credentials were not provided"):
            Client(url, verbose=False)
        chat, _, _ = Client(url, auth=("reader", "s3cret"), verbose=False).predict(SIGNED, api_name="/ask")
    assert "14 documents" in shown(chat[-1])


def test_no_index_yet_is_built_on_first_use(settings: Settings) -> None:
    assistant = Assistant(settings, embedder=HashEmbedder(), generator=ScriptedGenerator())
    assert not (settings.index_dir / "manifest.json").exists()
    with serving(assistant) as url:
        chat, sources, _ = Client(url, verbose=False).predict("Anything?", api_name="/ask")
    assert shown(chat[-1]).startswith("The articles do not say.") and "Closest passages" in sources


def test_an_empty_documents_folder_is_reported_in_the_page(tmp_path: Path) -> None:
    settings = Settings(documents_dir=tmp_path / "missing", index_dir=tmp_path / "index")
    with serving(Assistant(settings, embedder=HashEmbedder(), generator=ScriptedGenerator())) as url:
        chat, sources, _ = Client(url, verbose=False).predict("Anything?", api_name="/ask")
    assert "does not exist" in shown(chat[-1]) and "rag-error" in sources


@pytest.mark.integration
def test_the_real_small_models_answer_with_a_source_shown(tmp_path: Path, docs_dir: Path) -> None:
    settings = Settings(
        documents_dir=docs_dir, index_dir=tmp_path / "index", model="smollm2-135m", model_cache_dir=tmp_path / "models"
    )
    assistant = Assistant(settings)
    assistant.warm_up()
    with serving(assistant) as url:
        chat, sources, _ = Client(url, verbose=False).predict(SIGNED, api_name="/ask")
    # The small model's answer is often wrong; what is checked is that one comes back with its sources.
    assert chat[-1]["role"] == "assistant" and shown(chat[-1]).strip()
    assert "rag-error" not in sources
    assert "class='rag-source" in sources and "tokayev-" in sources


def test_serve_refuses_a_malformed_login_before_loading_anything() -> None:
    from click.testing import CliRunner

    from rag.cli import main

    result = CliRunner().invoke(main, ["serve", "--no-browser"], env={"RAG_AUTH": "just-a-user"})
    assert result.exit_code == 2 and "expected USER:PASSWORD" in result.output
    assert "[default: 127.0.0.1]" in CliRunner().invoke(main, ["serve", "--help"]).output

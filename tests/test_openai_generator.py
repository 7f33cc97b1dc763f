"""`OpenAIGenerator` against a scripted OpenAI-compatible server (tests/openai_stub.py), through the
real `openai` client and real HTTP on 127.0.0.1. The real llama.cpp server: tests/test_llm_server.py."""

from __future__ import annotations

import math
import socket
import threading

import pytest

from rag import Settings
from rag.engines import make_generator
from rag.models.generation import LlamaGenerator
from rag.models.openai_generator import Limits, OpenAIGenerator, ServerError, _pieces, estimate_tokens
from tests.conftest import make_assistant
from tests.fakes import ScriptedGenerator
from tests.openai_stub import Script, stub_server

QUESTION = [{"role": "user", "content": "Were 14 documents signed?"}]


def test_the_reply_streams_in_pieces_with_greedy_settings_and_the_stop_strings() -> None:
    script = Script(reply="Fourteen documents were signed [1].")
    with stub_server(script) as url:
        generator = OpenAIGenerator(url, stop=["\n\nQuestion:"])
        pieces = list(generator.stream(QUESTION, 50))
    assert pieces == ["Fourteen ", "documents ", "were ", "signed ", "[1]."]
    sent = script.requests[-1]
    assert sent["stream"] is True and sent["temperature"] == 0.0 and sent["max_tokens"] == 50
    assert sent["stop"] == ["\n\nQuestion:"] and sent["messages"] == QUESTION
    assert sent["repeat_penalty"] == 1.0, "llama.cpp servers decode as the in-process model does"
    assert sent["model"] == "stub-model", "with no model named, the first one the server lists"
    assert generator.name == "stub-model"


def test_tokens_are_counted_by_the_servers_tokenizer_when_it_has_one() -> None:
    with stub_server(Script(tokenize=True)) as url:
        count = OpenAIGenerator(url).count_tokens("Fourteen documents, signed.")
    assert count == 5 != estimate_tokens("Fourteen documents, signed.")


def test_without_a_tokenizer_endpoint_the_count_is_a_safe_over_estimate() -> None:
    text = "The meeting between the leaders ended with the signing of 14 documents on cooperation."
    with stub_server(Script(tokenize=False)) as url:
        count = OpenAIGenerator(url).count_tokens(text)
    assert count == estimate_tokens(text)
    from rag.ingest.chunking import count_tokens

    assert count > count_tokens(text)


def test_a_server_that_is_down_gives_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free, and nothing listens once the socket closes
    generator = OpenAIGenerator(f"http://127.0.0.1:{port}/v1", retries=0, timeout_s=5)
    with pytest.raises(ServerError, match=rf"127.0.0.1:{port}/v1 cannot be reached.*RAG_LLM_URL"):
        list(generator.stream(QUESTION, 10))


def test_a_slow_server_times_out_with_a_clear_error() -> None:
    script = Script(delay_s=3.0)
    with stub_server(script) as url:
        generator = OpenAIGenerator(url, retries=1, timeout_s=0.5)
        with pytest.raises(ServerError, match=r"did not answer within 0.5 s \(tried 2 times\).*RAG_LLM_TIMEOUT"):
            list(generator.stream(QUESTION, 10))
    assert len(script.requests) == 2, "retried once"


def test_a_busy_server_is_retried_before_the_first_token() -> None:
    script = Script(fail_first=1)
    with stub_server(script) as url:
        pieces = list(OpenAIGenerator(url, retries=2).stream(QUESTION, 10))
    assert "".join(pieces) == script.reply and len(script.requests) == 2


def test_yes_probability_sums_case_and_space_variants_of_the_first_token() -> None:
    script = Script(logprobs=[("Yes", math.log(0.5)), (" yes", math.log(0.1)), ("No", math.log(0.2)),
                              ("no", math.log(0.1)), ("The", math.log(0.05))])
    with stub_server(script) as url:
        p = OpenAIGenerator(url).yes_probability(QUESTION)
    assert p == pytest.approx(0.6 / 0.9)
    sent = script.requests[-1]
    assert sent["max_tokens"] == 1 and sent["logprobs"] is True and sent["top_logprobs"] == 20
    assert not sent.get("stream")


def test_yes_probability_is_none_when_the_server_gives_no_logprobs() -> None:
    with stub_server(Script(logprobs=None)) as url:
        assert OpenAIGenerator(url).yes_probability(QUESTION) is None


def test_yes_probability_is_none_when_neither_word_is_among_the_alternatives() -> None:
    with stub_server(Script(logprobs=[("The", -0.1), ("Four", -2.0)])) as url:
        assert OpenAIGenerator(url).yes_probability(QUESTION) is None


def test_the_settings_choose_the_server_or_the_built_in_model(tmp_path) -> None:  # type: ignore[no-untyped-def]
    remote = make_generator(Settings.from_env({"RAG_LLM_URL": "http://127.0.0.1:9/v1", "RAG_LLM_MODEL": "m",
                                               "RAG_LLM_TIMEOUT": "7", "RAG_MODEL": "smollm2-135m"}))
    assert isinstance(remote, OpenAIGenerator)
    assert (remote.base_url, remote.model, remote.timeout_s, remote.name) == ("http://127.0.0.1:9/v1", "m", 7.0,
                                                                              "smollm2-135m")
    local = make_generator(Settings(model="smollm2-135m", model_cache_dir=tmp_path))
    assert isinstance(local, LlamaGenerator)


def test_the_api_key_stays_out_of_the_settings_repr() -> None:
    settings = Settings.from_env({"RAG_LLM_API_KEY": "sk-secret", "RAG_MILVUS_TOKEN": "root:Milvus"})
    assert settings.llm_api_key == "sk-secret" and "sk-secret" not in repr(settings)
    assert "root:Milvus" not in repr(settings)


def test_a_whole_answer_through_the_server(settings: Settings) -> None:
    script = Script(reply="The meeting ended with signing 14 documents [1].")
    with stub_server(script) as url:
        assistant = make_assistant(settings)
        assistant._generator = OpenAIGenerator(url)
        reply = assistant.answer("How many documents were signed after the talks with the Prime Minister?")
    assert any("14 documents" in c.quote for c in reply.citations)
    documents = assistant.stored.documents
    for c in reply.citations:
        assert documents[c.doc_id].text[c.start : c.end] == c.quote


def test_the_scripted_generator_judges_with_its_scripted_value() -> None:
    assert ScriptedGenerator().yes_probability(QUESTION) is None
    judge = ScriptedGenerator(yes=0.8)
    assert judge.yes_probability(QUESTION) == 0.8 and judge.judged == [QUESTION]


def _drain(generator: OpenAIGenerator, max_tokens: int = 20) -> tuple[list[str], BaseException | None]:
    """Read a whole reply in a thread: the pieces and the error, or a failure if it never ends
    (the code before issue #21 read an endless reply forever)."""
    pieces: list[str] = []
    failed: list[BaseException] = []

    def read() -> None:
        try:
            for piece in generator.stream(QUESTION, max_tokens):
                pieces.append(piece)
        except BaseException as err:
            failed.append(err)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(60)  # a bound on liveness, not a measure of speed: the limits below are 1-3 s
    assert not reader.is_alive(), f"the reply never ended ({len(pieces)} pieces read)"
    return pieces, failed[0] if failed else None


def test_a_server_that_ignores_max_tokens_and_streams_forever_is_cut_at_the_length() -> None:
    script = Script(endless="pieces")
    with stub_server(script) as url:
        pieces, error = _drain(OpenAIGenerator(url, timeout_s=5, reply_timeout_s=30), max_tokens=20)
        assert error is None, "a reply cut at its length is a reply, as when a model stops there"
        assert 20 <= len(pieces) <= Limits.for_reply(20, 5, 30).pieces
        assert script.hung_up.wait(10), "the connection is closed, so the server stops generating"


def test_keep_alive_comments_are_not_progress() -> None:
    script = Script(endless="keepalive", interval_s=0.2)
    with stub_server(script) as url:
        pieces, error = _drain(OpenAIGenerator(url, timeout_s=1, reply_timeout_s=60))
        assert pieces == [] and isinstance(error, ServerError)
        assert "sent the first piece of its reply not within 1 s (the response began, but no text" in str(error)
        assert "RAG_LLM_TIMEOUT" in str(error) and "\n" not in str(error)
        assert script.hung_up.wait(10)


def test_a_reply_trickling_one_byte_at_a_time_ends_at_the_reply_limit() -> None:
    script = Script(endless="trickle", interval_s=0.002)
    with stub_server(script) as url:
        pieces, error = _drain(OpenAIGenerator(url, timeout_s=2, reply_timeout_s=3), max_tokens=2000)
        assert pieces, "each piece came in time, so only the whole reply's limit can end it"
        assert isinstance(error, ServerError) and "did not finish its reply within 3 s" in str(error)
        assert "RAG_LLM_REPLY_TIMEOUT" in str(error)


def test_the_reply_limit_comes_from_the_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings.from_env({"RAG_LLM_URL": "http://127.0.0.1:9/v1", "RAG_LLM_TIMEOUT": "7",
                                  "RAG_LLM_REPLY_TIMEOUT": "40"}, model_cache_dir=tmp_path)
    generator = make_generator(settings)
    assert isinstance(generator, OpenAIGenerator)
    assert (generator.timeout_s, generator.reply_timeout_s) == (7, 40)


def test_an_error_event_in_the_middle_of_a_reply_is_a_server_error() -> None:
    chunks = iter([b'data: {"choices":[{"delta":{"content":"Four"}}]}\n\n', b'data: {"error": {"message": "oom"}}\n\n'])
    reply = _pieces(chunks, threading.Event())
    assert next(reply) == "Four"
    with pytest.raises(ServerError, match="reported an error in the middle of a reply: oom"):
        next(reply)

"""The real llama.cpp model behind llama-cpp-python's OpenAI-compatible server (the `llm_url`
fixture): what the answer checker and the prompt budget need from it works over HTTP too.
The whole question-answering path through the server runs in tests/test_integration.py."""

from __future__ import annotations

import types

import pytest

from rag.answers.prompting import SYSTEM_PROMPT
from rag.models import gguf
from rag.models.generation import LlamaGenerator
from rag.models.openai_generator import OpenAIGenerator, estimate_tokens
from tests.conftest import SMALL_MODEL

pytestmark = pytest.mark.integration

TEXT = "The meeting between the leaders ended with the signing of 14 documents on cooperation."


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> LlamaGenerator:
    path = gguf.resolve(SMALL_MODEL, tmp_path_factory.mktemp("models"))
    return LlamaGenerator(path, threads=2)


def test_tokens_are_counted_by_the_servers_tokenizer(llm_url: str, in_process: LlamaGenerator) -> None:
    served = OpenAIGenerator(llm_url)
    # llama-cpp-python's count includes the beginning-of-text token; the in-process count does not.
    assert served.count_tokens(TEXT) - in_process.count_tokens(TEXT) in (0, 1)
    assert served.count_tokens(TEXT) != estimate_tokens(TEXT)


def test_the_server_answers_exactly_as_the_model_in_this_process(llm_url: str, in_process: LlamaGenerator) -> None:
    messages = [{"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": f"[1] {TEXT}\n\nQuestion: How many documents were signed?"}]
    served = "".join(OpenAIGenerator(llm_url).stream(messages, 40))
    assert served and served == "".join(in_process.stream(messages, 40))


def test_the_yes_no_judgement_works_over_the_server(llm_url: str) -> None:
    question = [{"role": "user", "content": f"Passage: {TEXT}\nDoes the passage say 14 documents were signed? "
                                            "Answer yes or no."}]
    p = OpenAIGenerator(llm_url).yes_probability(question)
    assert p is not None and 0.0 <= p <= 1.0


def test_a_reply_stopped_early_leaves_the_server_ready_for_the_next(llm_url: str) -> None:
    generator = OpenAIGenerator(llm_url)
    messages = [{"role": "user", "content": "Count from one to two hundred in words."}]
    stream = generator.stream(messages, 100)
    assert isinstance(stream, types.GeneratorType)
    next(stream)
    stream.close()  # the reader went away: the HTTP response is closed
    assert "".join(generator.stream([{"role": "user", "content": "Say hello."}], 8))

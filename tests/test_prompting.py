from __future__ import annotations

import pytest

from rag.answers.markers import parse_markers
from rag.answers.prompting import SYSTEM_PROMPT, build_prompt
from rag.answers.replies import looks_like_refusal
from rag.types import Chunk, Hit
from tests.fakes import ScriptedGenerator

count = ScriptedGenerator().count_tokens


def _hits(n: int, words: int = 60) -> list[Hit]:
    text = " ".join(f"word{i}" for i in range(words))
    return [Hit(Chunk(f"c{i}", f"d{i}.txt", text, 0, len(text)), 1.0 - i / 100, i + 1, "Title") for i in range(n)]


def _total_tokens(messages: list[dict[str, str]]) -> int:
    return sum(count(m["content"]) + 8 for m in messages)


@pytest.mark.parametrize("k", [1, 5, 50])
@pytest.mark.parametrize("question_words", [3, 300, 5000])
def test_the_prompt_always_fits_the_context_window(k: int, question_words: int) -> None:
    question = " ".join(["why"] * question_words) + "?"
    history = [{"role": "user", "content": "earlier " * 200}, {"role": "assistant", "content": "reply " * 200}]
    prompt = build_prompt(question, _hits(k), count, 1024, 160, 200, history)
    assert _total_tokens(prompt.messages) + 160 <= 1024
    assert 1 <= len(prompt.passages) <= k


def test_passages_are_numbered_in_rank_order_and_the_instructions_come_first() -> None:
    prompt = build_prompt("What?", _hits(3, 5), count, 2048, 160, 200)
    assert prompt.messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
    user = prompt.messages[-1]["content"]
    assert user.index("[1]") < user.index("[2]") < user.index("[3]") < user.index("Question: What?")


def test_an_over_long_question_is_cut_with_a_warning() -> None:
    question = "alpha " * 400
    prompt = build_prompt(question, _hits(2), count, 2048, 160, 50)
    assert count(prompt.question) <= 50
    assert prompt.warnings and "longer than 50 tokens" in prompt.warnings[0]


def test_the_latest_turns_of_the_conversation_are_kept() -> None:
    history = [{"role": "user", "content": f"turn {i}"} for i in range(10)]
    prompt = build_prompt("And then?", _hits(1, 5), count, 2048, 160, 200, history)
    contents = [m["content"] for m in prompt.messages[1:-1]]
    assert contents == [f"turn {i}" for i in range(4, 10)]


def test_markers_that_point_at_no_passage_are_dropped_not_remapped() -> None:
    text, used = parse_markers("Fourteen documents were signed [4]. Koike met him [2][9]. Both [1, 3].", 3)
    assert text == "Fourteen documents were signed. Koike met him [2]. Both [1][3]."
    assert used == [2, 1, 3]


def test_marker_variants_are_understood() -> None:
    assert parse_markers("A [Passage 2] and B [passages 1 and 3]", 3)[1] == [2, 1, 3]


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("The articles do not say.", True),
        ("The passages don’t say who attended.", True),
        ("There is no information about the population.", True),
        ("Fourteen documents were signed [1].", False),
    ],
)
def test_refusals_are_recognised(text: str, refused: bool) -> None:
    assert looks_like_refusal(text) is refused


def test_passages_are_grouped_by_article_each_named_once_best_article_first() -> None:
    def hit(n: int, doc: str) -> Hit:
        text = f"Passage text {n}."
        return Hit(Chunk(f"c{n}", doc, text, 100 * n, 100 * n + len(text)), 1.0 - n / 10, n, f"Title of {doc}")

    hits = [hit(1, "visit.txt"), hit(2, "lecture.txt"), hit(3, "visit.txt"), hit(4, "lecture.txt")]
    prompt = build_prompt("What?", hits, count, 2048, 160, 200)
    assert [h.chunk.id for h in prompt.passages] == ["c1", "c3", "c2", "c4"]  # [n] is passages[n - 1]
    user = prompt.messages[-1]["content"]
    assert user.count("Title of visit.txt") == 1 and user.count("Title of lecture.txt") == 1
    assert user.index("Title of visit.txt") < user.index("[1] Passage text 1.") < user.index("[2] Passage text 3.")
    assert user.index("[2] Passage text 3.") < user.index("Title of lecture.txt") < user.index("[3] Passage text 2.")
    assert prompt.tokens == sum(count(m["content"]) + 8 for m in prompt.messages)


ARTICLE = "Alpha met Beta. They signed 14 documents. Koike hosted them. Rain fell later."


def _slice(chunk_id: str, first: str, last: str, rank: int) -> Hit:
    start, end = ARTICLE.index(first), ARTICLE.index(last) + len(last)
    return Hit(Chunk(chunk_id, "a.txt", ARTICLE[start:end], start, end), 1.0 - rank / 10, rank, "A")


def test_sentences_an_earlier_passage_shows_are_not_repeated() -> None:
    hits = [
        _slice("middle", "They signed", "them.", 1),
        _slice("after", "Koike", "later.", 2),  # repeats its first sentence
        _slice("before", "Alpha", "documents.", 3),  # repeats its last sentence
    ]
    prompt = build_prompt("What?", hits, count, 2048, 160, 200)
    user = prompt.messages[-1]["content"]
    assert "[1] They signed 14 documents. Koike hosted them." in user
    assert "[2] Rain fell later." in user and "[3] Alpha met Beta." in user
    assert user.count("Koike hosted them.") == 1 and user.count("They signed 14 documents.") == 1
    # passage [n] still stands for the whole chunk, so citations resolve against all of it
    assert [h.chunk.id for h in prompt.passages] == ["middle", "after", "before"]


def test_a_passage_whose_every_sentence_is_already_shown_is_left_out() -> None:
    hits = [_slice("wide", "Alpha", "them.", 1), _slice("inside", "They signed", "documents.", 2)]
    prompt = build_prompt("What?", hits, count, 2048, 160, 200)
    assert [h.chunk.id for h in prompt.passages] == ["wide"]
    assert "[2]" not in prompt.messages[-1]["content"]

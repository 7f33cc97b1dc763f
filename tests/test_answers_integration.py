"""Answers with the real models: the default answering model (Qwen2.5-Coder-0.5B) writes, the
default judge (Qwen2.5-Coder-1.5B) decides whether a sentence says what a claim says, MiniLM
retrieves; SmolLM2 writes the open answers.

The judge cases are the failures that the word-overlap checker got wrong: a right paraphrase it
refused ("invoked" where the article says "cited"), and claims that swap a role or an act while
sharing nearly every word with their evidence. Marked `integration`: the models load once per module.
"""

from __future__ import annotations

import shutil

import pytest

from rag import Assistant, Settings, engines
from rag.answers.checking import ReplyCheck, check_reply, policy_for
from rag.answers.judging import Judge
from rag.types import Answer, Chunk, Hit
from tests.conftest import ARTICLES, LECTURE, VISIT

pytestmark = pytest.mark.integration

SHOTOKU = (
    "Drawing parallels between Japanese ethical principles and Kazakhstan’s foreign policy philosophy, "
    "President Tokayev cited the 7th-century teachings of Prince Shotoku that place harmony above all else."
)
MEMORANDUM = (
    "Later, in the presence of the Kazakh President, Astana Mayor Zhenis Kassymbek and Tokyo Governor Yuriko "
    "Koike signed a Memorandum of Understanding between the capitals of Kazakhstan and Japan."
)


@pytest.fixture(scope="module")
def judge() -> Judge:
    settings = Settings.from_env({})
    return Judge(engines.make_model(settings, settings.judge_model, engines.JUDGE_CONTEXT))


def _check(question: str, raw: str, passage: str, judge: Judge) -> ReplyCheck:
    hits = [Hit(Chunk("c1", "article.txt", passage, 0, len(passage)), 1.0, 1, "Article")]
    return check_reply(question, raw, hits, "fact", policy_for(Settings().model), judge)


def test_a_right_paraphrase_is_kept_with_its_sentence_cited(judge: Judge) -> None:
    # The word checker refused this reply ("invoked" and "leader" are not in the sentence).
    raw = "The Kazakh leader invoked the 7th-century teachings of Prince Shotoku [1]."
    result = _check("Whose teachings did the Kazakh leader invoke?", raw, SHOTOKU, judge)
    assert result.answers, result.checks
    assert result.kept[0].evidence is not None and result.kept[0].evidence.text == SHOTOKU


def test_a_claim_that_swaps_a_role_is_removed(judge: Judge) -> None:
    # Tokayev was present; the mayor and the governor signed it.
    raw = "Tokayev signed the Memorandum of Understanding with Yuriko Koike [1]."
    result = _check("Who signed the Memorandum of Understanding with Yuriko Koike?", raw, MEMORANDUM, judge)
    assert not result.kept and result.checks[0].status == "unsupported", result.checks


def test_the_judge_tells_the_paraphrase_from_the_swapped_role(judge: Judge) -> None:
    faithful = judge(SHOTOKU, "Tokayev quoted Prince Shotoku, who put harmony above everything.")
    swapped = judge(SHOTOKU, "Prince Shotoku cited the teachings of President Tokayev.")
    assert faithful is not None and swapped is not None and faithful > swapped


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    root = tmp_path_factory.mktemp("open")
    docs = root / "documents"
    docs.mkdir()
    for name in (VISIT, LECTURE):
        shutil.copy(ARTICLES / name, docs / name)
    settings = Settings.from_env({}, documents_dir=docs, index_dir=root / "index", model="smollm2-135m")
    assistant = Assistant(settings)
    assistant.index()
    return assistant


def _every_sentence_cited_exactly(reply: Answer, assistant: Assistant) -> None:
    kept = [c for c in reply.claims if c.kept]
    assert kept and not reply.abstained
    markers = {c.marker for c in reply.citations}
    for claim in kept:
        assert claim.markers and set(claim.markers) <= markers, claim
    for citation in reply.citations:
        assert assistant.stored.documents[citation.doc_id].text[citation.start : citation.end] == citation.quote


def test_a_summary_question_is_answered_with_every_sentence_cited(small: Assistant) -> None:
    reply = small.answer("Summarize the article about the lecture at the UN University.")
    assert reply.shape == "open" and len([c for c in reply.claims if c.kept]) >= 3
    _every_sentence_cited_exactly(reply, small)
    # Most of it from the lecture article (the visit article reports the lecture too).
    cited = [c.doc_id for c in reply.citations]
    assert cited.count(LECTURE) > len(cited) / 2


def test_a_summary_the_small_model_writes_keeps_only_judged_claims_each_cited(small: Assistant) -> None:
    reply = small.answer("What are the main points Tokayev made about the United Nations?")
    assert reply.raw_text  # the model wrote a reply, and the checker decided on each of its sentences
    _every_sentence_cited_exactly(reply, small)
    for claim in reply.claims:
        assert claim.status in ("supported", "quoted", "removed")
        if claim.status == "supported" and reply.mode == "written":
            assert claim.support is not None and claim.support >= small.policy.keep


MUSEUM = (
    "The Riverton Museum of Industry opened its doors in 1899 in a former textile mill on the east bank of the river. "
    "Its first director was the engineer Margaret Holloway, who ran the museum until 1921. "
    "Under her, the museum bought three steam engines and a complete printing workshop. "
    "In 1950 the museum moved to a new building designed by the architect Tomas Brandt."
)


def test_the_default_models_answer_in_their_own_words_and_cite_the_sentence(tmp_path: pytest.TempPathFactory) -> None:
    """A fact question answered by the default models: the 0.5B model's reply is kept as written (not
    replaced by a quote) and cites the sentence that says it."""
    docs = tmp_path / "documents"  # type: ignore[operator]
    docs.mkdir()
    (docs / "museum.txt").write_text("The Riverton Museum of Industry\n\n" + MUSEUM + "\n", encoding="utf-8")
    settings = Settings.from_env({}, documents_dir=docs, index_dir=tmp_path / "index")  # type: ignore[operator]
    assistant = Assistant(settings)
    reply = assistant.answer("Who was the first director of the Riverton Museum of Industry?")
    assert reply.mode in ("written", "repaired"), (reply.mode, reply.raw_text, reply.check_notes)
    assert "Margaret Holloway" in reply.text
    (citation,) = reply.citations
    assert citation.quote == "Its first director was the engineer Margaret Holloway, who ran the museum until 1921."
    assert reply.timings.first_token_s >= reply.timings.draft_token_s > 0

"""Open questions and the judge, with the real models: the small SmolLM2 answering, MiniLM retrieving,
and the default judge model (Qwen2.5-Coder-1.5B) deciding whether evidence says what a claim says.

The judge cases are the failures that the word-overlap checker got wrong: a right paraphrase it
refused ("invoked" where the article says "cited"), and claims that swap a role or an act while
sharing nearly every word with their evidence. Marked `integration`: the models load once per module.
"""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from rag import Assistant, Settings, models
from rag.generation import LlamaGenerator
from rag.grounding import Thresholds, check_answer
from rag.judging import Judge
from rag.pipeline import JUDGE_CONTEXT
from rag.terms import idf_table
from rag.types import Answer, Chunk, Hit
from tests.conftest import ARTICLES, LECTURE, VISIT
from tests.fakes import HashEmbedder

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
    path = models.resolve(settings.judge_model, settings.model_cache_dir, None)
    return Judge(LlamaGenerator(path, JUDGE_CONTEXT, settings.threads, name=settings.judge_model))


def _check(question: str, raw: str, passage: str, judge: Judge, thresholds: Thresholds | None = None) -> object:
    hits = [Hit(Chunk("c1", "article.txt", passage, 0, len(passage)), 1.0, 1, "Article")]
    embed = HashEmbedder().embed  # the decisions below rest on the judge, not on embeddings
    thresholds = thresholds or Thresholds(relevant=0.0)
    return check_answer(question, raw, hits, embed, idf_table([passage]), thresholds, judge)


def test_a_right_paraphrase_is_answered_rightly_with_its_sentence_cited(judge: Judge) -> None:
    # The word checker refused this reply ("invoked" and "leader" are not in the sentence). With the
    # default threshold the judge keeps it or, when not sure enough, the sentence that says it is
    # quoted: either way the answer is right and cites the sentence (here the only one, always quotable).
    raw = "The Kazakh leader invoked the 7th-century teachings of Prince Shotoku [1]."
    question = "Whose teachings did the Kazakh leader invoke?"
    verdict = _check(question, raw, SHOTOKU, judge, Thresholds(relevant=0.0, extract=0.0))
    assert not verdict.abstained and "Prince Shotoku" in verdict.text  # type: ignore[attr-defined]
    assert verdict.citations[0].quote == SHOTOKU  # type: ignore[attr-defined]
    # As a statement, the judge says the sentence says it (the first checker's failure).
    assert (judge(SHOTOKU, "The Kazakh leader invoked the 7th-century teachings of Prince Shotoku.") or 0) > 0.5


def test_a_claim_that_swaps_a_role_is_removed(judge: Judge) -> None:
    # Tokayev was present; the mayor and the governor signed it.
    raw = "Tokayev signed the Memorandum of Understanding with Yuriko Koike [1]."
    verdict = _check("Who signed the Memorandum of Understanding with Yuriko Koike?", raw, MEMORANDUM, judge)
    removed = [c for c in verdict.claims if not c.kept]  # type: ignore[attr-defined]
    assert removed and removed[0].text.startswith("Tokayev signed"), verdict.claims  # type: ignore[attr-defined]
    assert "Tokayev signed" not in verdict.text  # type: ignore[attr-defined]


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
    writer = Assistant(
        dataclasses.replace(small.settings, open_answers="generate"),
        embedder=small.embedder, generator=small.generator,
    )
    reply = writer.answer("What are the main points Tokayev made about the United Nations?")
    assert reply.raw_text  # the model wrote a reply, and the checker decided on each of its sentences
    _every_sentence_cited_exactly(reply, small)
    for claim in reply.claims:
        assert claim.status in ("supported", "quoted", "removed")
        if claim.status == "supported":
            assert claim.support is not None and claim.support >= Thresholds().support

"""The claim checker (rag/answers/checking.py) on hand-made cases: each claim must rest on a sentence of the
passages, found whether or not the reply cites it; a scripted judge decides what words cannot.

Most cases check by words alone (no judge), as for a generator that gives no probabilities; the
cases at the end give the checker a scripted judge."""

from __future__ import annotations

import pytest

from rag.answers.checking import Policy, ReplyCheck, check_reply
from rag.answers.composing import compose
from rag.types import Chunk, Hit
from tests.fakes import paragraph_hits

DOC = (
    "Then, the Kazakh leader held talks with Japanese Prime Minister Sanae Takaichi. "
    "The meeting ended with signing 14 documents.\n\n"
    "On Friday, December 19, Kassym-Jomart Tokayev met with Tokyo Governor Yuriko Koike. "
    "The two sides discussed cooperation in digitalization and artificial intelligence.\n\n"
    "Global military spending last year amounted to a record 2.7 trillion US dollars."
)
POLICY = Policy()


def passages(doc: str = DOC) -> list[Hit]:
    return paragraph_hits(doc)


def check(question: str, reply: str, hits: list[Hit] | None = None, judge: object = None) -> ReplyCheck:
    return check_reply(question, reply, hits or passages(), "fact", POLICY, judge)  # type: ignore[arg-type]


def statuses(result: ReplyCheck) -> list[str]:
    return [c.status for c in result.checks]


def test_a_right_claim_is_kept_and_cited_to_its_exact_sentence() -> None:
    result = check("How many documents were signed after the talks?", "They signed 14 documents [1].")
    assert result.answers and statuses(result) == ["supported"]
    text, (citation,), _ = compose(result.checks, passages())
    assert citation.quote == "The meeting ended with signing 14 documents."
    assert DOC[citation.start : citation.end] == citation.quote
    assert text == "They signed 14 documents [1]."


def test_a_claim_without_a_marker_finds_its_evidence_anyway() -> None:
    # The 0.5B model often cites nothing: its claims are checked all the same.
    result = check("How many documents were signed after the talks?", "They signed 14 documents.")
    assert result.answers and statuses(result) == ["reassigned"]
    assert result.kept[0].evidence is not None and "14 documents" in result.kept[0].evidence.text


def test_a_claim_cited_to_the_wrong_passage_is_cited_to_the_one_that_says_it() -> None:
    result = check("Who did Tokayev meet on December 19?", "On December 19 Tokayev met Governor Yuriko Koike [3].")
    assert statuses(result) == ["reassigned"]
    _, (citation,), claims = compose(result.checks, passages())
    assert "Yuriko Koike" in citation.quote and citation.chunk_id == "c2" and claims[0].markers == (1,)


def test_an_unsupported_number_is_removed_never_presented_as_sourced() -> None:
    result = check(
        "How many documents were signed after the talks?",
        "They signed 14 documents [1]. The deals were worth 300 million dollars [1].",
    )
    assert statuses(result) == ["supported", "unsupported"]
    text, citations, claims = compose(result.checks, passages())
    assert "300" not in text and [c.quote for c in citations] == ["The meeting ended with signing 14 documents."]
    assert claims[1].status == "removed" and claims[1].reason == "no passage sentence says it"


def test_a_name_from_outside_the_passages_is_removed() -> None:
    result = check(
        "Who did Tokayev meet on December 19?",
        "On December 19 Tokayev met Tokyo Governor Yuriko Koike [2]. He also met Shinzo Abe [2].",
    )
    assert statuses(result) == ["supported", "unsupported"]


def test_number_words_count_as_their_digits() -> None:
    assert check("How many documents were signed after the talks?", "Fourteen documents were signed [1].").answers


def test_a_date_does_not_answer_a_question_about_the_year() -> None:
    result = check("In what year did Tokayev meet Governor Yuriko Koike?", "He met her on December 19 [2].")
    assert not result.answers and statuses(result) == ["off-question"] and "year" in result.why


@pytest.mark.parametrize("reply", ["", "   ", "The articles do not say."])
def test_no_reply_or_a_refusal_answers_nothing(reply: str) -> None:
    result = check("Anything?", reply)
    assert not result.answers and not result.checks


def test_a_claim_that_drops_the_passages_negation_is_not_kept() -> None:
    passage = "Tokayev stressed that UN reform is no longer a rhetorical discussion but a strategic necessity."
    hits = passages(passage)
    flipped = check("How did Tokayev characterize UN reform?", "Tokayev said UN reform is a rhetorical discussion [1].",
                    hits)
    assert statuses(flipped) == ["contradicted"]
    kept = check("How did Tokayev characterize UN reform?", "UN reform is no longer a rhetorical discussion [1].", hits)
    assert statuses(kept) == ["supported"]


def test_each_item_of_a_listed_reply_is_checked_on_its_own() -> None:
    result = check_reply(
        "Which areas of cooperation did the two sides discuss?",
        "They discussed:\n\n1. Digitalization [2]\n2. Space tourism [2]\n3. Artificial intelligence [2]",
        passages(), "open", POLICY, None,
    )
    text, _, claims = compose(result.checks, passages())
    assert "Digitalization [1]" in text and "Artificial intelligence [1]" in text and "2." not in text
    assert [c.text for c in claims if not c.kept] == ["Space tourism"]


def test_words_in_quotation_marks_must_be_in_the_passage_word_for_word() -> None:
    visit = "He gave a lecture titled “How Kazakhstan Envisions a Fairer and More Stable World.”"
    lecture = "In his address, titled “How Kazakhstan Envisions a More Just and Stable World,” he spoke."
    claim = 'The lecture was titled "How Kazakhstan Envisions a More Just and Stable World" [1].'
    both = [Hit(Chunk("v", "visit.txt", visit, 0, len(visit)), 1.0, 1), Hit(Chunk("l", "lecture.txt", lecture, 0,
                                                                                 len(lecture)), 1.0, 2)]
    moved = check("What was his address titled?", claim, both)
    assert moved.kept and moved.kept[0].evidence is not None and moved.kept[0].evidence.passage == 2
    alone = check("What was his address titled?", claim, both[:1])
    assert not alone.kept


def test_a_claim_pieced_together_from_two_sentences_is_not_kept() -> None:
    passage = (
        "The Head of State highly appreciated the activity of the League, saying that he viewed it as an "
        "important mechanism of strengthening the bilateral cooperation. Then, the Kazakh leader held talks "
        "with Japanese Prime Minister Sanae Takaichi."
    )
    hits = passages(passage)
    question = "How did the Kazakh leader interpret being asked to give the talk?"
    pieced = ("The Kazakh leader interpreted being asked to give the talk by saying that he viewed it as an "
              "important mechanism of strengthening the bilateral cooperation [1].")
    assert not check(question, pieced, hits).kept
    faithful = "The Kazakh leader viewed the League as an important mechanism of strengthening the cooperation [1]."
    (kept,) = check(question, faithful, hits).kept
    assert kept.evidence is not None and kept.evidence.text.startswith("The Head of State highly appreciated")


# -- with a judge -------------------------------------------------------------------------------
LECTURE = (
    "The Kazakh President cited the 7th-century teachings of Prince Shotoku on harmony. "
    "On December 18, President Tokayev held talks with Emperor Naruhito of Japan in Tokyo."
)


class ScriptedJudge:
    """Says yes (0.99) to the pairs it is told are faithful, no (0.1) to the rest; records each call."""

    def __init__(self, faithful: dict[str, str]) -> None:
        self.faithful = faithful  # claim -> a part of the evidence sentence that says it
        self.calls: list[tuple[str, str, str | None]] = []

    def __call__(self, evidence: str, claim: str, question: str | None = None) -> float | None:
        self.calls.append((evidence, claim, question))
        return 0.99 if self.faithful.get(claim, "\0") in evidence else 0.1

    def answers(self, evidence: str, question: str) -> float | None:
        return 0.1


PARAPHRASE = "The Kazakh leader invoked the old lessons of Prince Shotoku [1]."


def test_a_right_paraphrase_is_kept_when_the_judge_says_its_sentence_says_it() -> None:
    judge = ScriptedJudge({"The Kazakh leader invoked the old lessons of Prince Shotoku.": "cited the 7th-century"})
    question = "Whose teachings did the Kazakh leader invoke?"
    result = check(question, PARAPHRASE, passages(LECTURE), judge)
    assert result.answers and result.kept[0].support == 0.99
    # The judge read the claim against the one sentence that holds its words, as an answer to the question.
    claim = "The Kazakh leader invoked the old lessons of Prince Shotoku."
    assert judge.calls == [(LECTURE.split(". ")[0] + ".", claim, question)]
    # By words alone the same paraphrase fails: "invoked" and "lessons" are not in the sentence.
    assert not check(question, PARAPHRASE, passages(LECTURE)).answers


def test_a_claim_that_swaps_the_act_is_removed_when_the_judge_says_no() -> None:
    reply = "On December 18, President Tokayev left Japan [1]."
    question = "On what date did Tokayev leave Japan?"
    assert check(question, reply, passages(LECTURE)).answers  # every word but "left" is in the sentence
    judged = check(question, reply, passages(LECTURE), ScriptedJudge({}))
    assert not judged.answers and statuses(judged) == ["unsupported"] and judged.checks[0].support == 0.1


def test_the_keep_threshold_decides_a_doubtful_claim() -> None:
    reply = "On December 18, President Tokayev held talks with Emperor Naruhito [1]."
    question = "When did Tokayev hold talks with Emperor Naruhito?"

    def doubtful(evidence: str, claim: str, question: str | None = None) -> float:
        return 0.7

    lenient = check_reply(question, reply, passages(LECTURE), "fact", Policy(keep=0.6), doubtful)  # type: ignore[arg-type]
    strict = check_reply(question, reply, passages(LECTURE), "fact", Policy(keep=0.8), doubtful)  # type: ignore[arg-type]
    assert lenient.answers and not strict.answers


def test_a_generator_that_cannot_judge_falls_back_to_words_and_says_so() -> None:
    result = check("On what date did Tokayev leave Japan?", "On December 18, President Tokayev left Japan [1].",
                   passages(LECTURE), lambda evidence, claim, question=None: None)
    assert result.answers and not result.judged


def test_an_open_reply_keeps_every_claim_the_judge_finds_said_judged_as_statements() -> None:
    reply = "The President cited Prince Shotoku [1]. He held talks with Emperor Naruhito [1]. He visited Mars [1]."
    judge = ScriptedJudge(
        {"The President cited Prince Shotoku.": "cited the 7th", "He held talks with Emperor Naruhito.": "held talks"}
    )
    result = check_reply("Summarize the article.", reply, passages(LECTURE), "open", POLICY, judge)
    assert result.answers and statuses(result) == ["supported", "supported", "unsupported"]
    assert {question for _, _, question in judge.calls} == {None}


def test_a_claim_judged_on_two_sentences_cites_the_one_that_holds_its_answer() -> None:
    # "Its" needs the sentence before it to be judged; the citation is the sentence naming Holloway.
    museum = ("The Riverton Museum of Industry opened its doors in 1899 in a former textile mill. "
              "Its first director was the engineer Margaret Holloway, who ran the museum until 1921.")
    hits = [Hit(Chunk("c1", "museum.txt", museum, 0, len(museum)), 1.0, 1, "Museum")]
    seen: list[str] = []

    def judge(evidence: str, claim: str, question: str | None = None) -> float:
        seen.append(evidence)
        return 0.9

    reply = "The first director of the Riverton Museum of Industry was Margaret Holloway [1]."
    result = check_reply("Who was the first director of the Riverton Museum of Industry?", reply, hits, "fact",
                         POLICY, judge)
    assert result.answers and seen == [museum]  # judged on both sentences
    _, (citation,), _ = compose(result.checks, hits)
    assert citation.quote == "Its first director was the engineer Margaret Holloway, who ran the museum until 1921."
    assert museum[citation.start : citation.end] == citation.quote


def test_a_claim_that_slips_into_another_script_is_removed_whatever_the_judge_says() -> None:
    # The 0.5B model wrote "The President подчеркнул the significance …"; no passage says that.
    def lenient(evidence: str, claim: str, question: str | None = None) -> float:
        return 0.99

    result = check_reply("Summarize the talks.", "Tokayev подчеркнул talks with Governor Yuriko Koike [2].",
                         passages(), "open", POLICY, lenient)
    assert not result.answers and statuses(result) == ["unsupported"]
    same = check_reply("Summarize the talks.", "Tokayev met Governor Yuriko Koike [2].", passages(), "open", POLICY,
                       lenient)
    assert same.answers

"""How an answer is made (rag/answers/answering.py), with a scripted writer, repairer and judge: the model's
own words are kept when they pass; a failed reply is repaired from the best sentences; a short
quote is the last resort; and the refusal is honest. What streams out never takes text back."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from rag.answers.answering import Answering, Outcome, short_span
from rag.answers.checking import Policy
from rag.answers.evidence import Evidence
from rag.text.terms import idf_table
from rag.types import Chunk, Delta, Draft, Hit, Status
from tests.fakes import HashEmbedder, ScriptedGenerator, paragraph_hits

ARTICLE = (
    "On Friday, December 19, Kassym-Jomart Tokayev met with Tokyo Governor Yuriko Koike. "
    "The two sides discussed cooperation in digitalization and artificial intelligence.\n\n"
    "Then, the Kazakh leader held talks with Japanese Prime Minister Sanae Takaichi. "
    "The meeting ended with signing 14 documents.\n\n"
    "The museum, which was founded in 1852 after the Great Exhibition of the year before, opened in South "
    "Kensington in 1857 under its first director, Henry Cole, who ran it until 1873 and then left for London."
)
EMBED = HashEmbedder().embed
IDF = idf_table(ARTICLE.split("\n\n"))


def passages() -> list[Hit]:
    return paragraph_hits(ARTICLE)


class Judge:
    """Yes (0.95) to the claims and sentences it is told are right, no (0.2) to everything else."""

    def __init__(self, right: Sequence[str] = (), answering: Sequence[str] = ()) -> None:
        self.right = list(right)  # words a right claim holds
        self.answering = list(answering)  # words a sentence that answers holds
        self.asked: list[str] = []

    def __call__(self, evidence: str, claim: str, question: str | None = None) -> float | None:
        self.asked.append(claim)
        return 0.95 if any(w in claim for w in self.right) else 0.2

    def answers(self, evidence: str, question: str) -> float | None:
        self.asked.append("answers: " + evidence)
        return 0.95 if any(w in evidence for w in self.answering) else 0.2


def answering(writer: ScriptedGenerator, judge: Judge, repairer: ScriptedGenerator | None = None,
              **policy: float) -> Answering:
    return Answering(writer, judge, EMBED, IDF, Policy(**{"extract": 0.1, **policy}),  # type: ignore[arg-type]
                     repairer=repairer or ScriptedGenerator(["The articles do not say."]))


def events(a: Answering, question: str) -> list[object]:
    return list(a.fact(question, passages()))


def outcome(evs: list[object]) -> Outcome:
    last = evs[-1]
    assert isinstance(last, Outcome)
    return last


def test_a_right_reply_is_kept_in_the_models_words_and_cited() -> None:
    writer = ScriptedGenerator(["The meeting ended with the signing of 14 documents [2]."])
    made = outcome(events(answering(writer, Judge(right=["14"])), "How many documents were signed?"))
    assert made.mode == "written" and made.text == "The meeting ended with the signing of 14 documents [1]."
    assert made.citations[0].quote == "The meeting ended with signing 14 documents."
    assert ARTICLE[made.citations[0].start : made.citations[0].end] == made.citations[0].quote


def test_a_doubtful_reply_is_repaired_from_the_best_sentences_not_pasted() -> None:
    writer = ScriptedGenerator(["They signed 12 agreements [1]."])
    repairer = ScriptedGenerator(["They signed 14 documents [1]."])
    made = outcome(events(answering(writer, Judge(right=["14"]), repairer), "How many documents were signed?"))
    assert made.mode == "repaired" and made.text == "They signed 14 documents [1]."
    assert made.draft == "They signed 12 agreements [1]." and made.repair == "They signed 14 documents [1]."
    # The repair prompt is short: only the sentences that match the question best, each numbered.
    (prompt,) = repairer.prompts
    user = prompt[-1]["content"]
    assert "[1] The meeting ended with signing 14 documents.\n" in user  # the best match first, alone
    assert "[4] " in user and "[5] " not in user  # four sentences, not the passages
    # The struck claim is kept, with its reason, for the reader to see.
    assert [c.text for c in made.claims if not c.kept] == ["They signed 12 agreements."]
    assert any(n.startswith("Repaired") for n in made.notes)


def test_when_both_replies_fail_a_short_span_of_the_answering_sentence_is_quoted() -> None:
    writer = ScriptedGenerator(["The museum's first director was Prince Albert [3]."])
    repairer = ScriptedGenerator(["Queen Victoria directed it [1]."])
    judge = Judge(right=[], answering=["Henry Cole"])
    made = outcome(events(answering(writer, judge, repairer), "Who was the museum's first director?"))
    assert made.mode == "quoted" and not made.abstained
    (citation,) = made.citations
    assert citation.quote == "opened in South Kensington in 1857 under its first director, Henry Cole"
    assert ARTICLE[citation.start : citation.end] == citation.quote
    assert made.text == f"The articles say: “{citation.quote}” [1]"
    assert len(citation.quote.split()) < len(ARTICLE.split("\n\n")[2].split()) / 2  # a clause, not a passage


def test_an_invented_answer_that_nothing_holds_becomes_an_honest_refusal() -> None:
    writer = ScriptedGenerator(["About 20 million people live in Kazakhstan [1]."])
    repairer = ScriptedGenerator(["Kazakhstan has 20 million people."])
    made = outcome(events(answering(writer, Judge(), repairer), "What is the population of Kazakhstan?"))
    assert made.mode == "refused" and made.abstained and made.text == "The articles do not say." and not made.citations
    assert len(made.notes) >= 2  # why the reply, then the repair, were not kept


def test_a_question_no_sentence_matches_is_refused_without_asking_again() -> None:
    writer = ScriptedGenerator(["Paris is the capital of France."])
    repairer = ScriptedGenerator(["Should not be asked."])
    made = outcome(events(answering(writer, Judge(), repairer, extract=0.99), "What is the capital of France?"))
    assert made.mode == "refused" and not repairer.prompts


def test_a_model_refusal_is_trusted_when_the_policy_says_so() -> None:
    repairer = ScriptedGenerator(["They signed 14 documents [1]."])
    trusting = answering(ScriptedGenerator(["The articles do not say."]), Judge(right=["14"]), repairer,
                         repair_refusals=False)
    assert outcome(events(trusting, "How many documents were signed?")).mode == "refused" and not repairer.prompts
    asking = answering(ScriptedGenerator(["The articles do not say."]), Judge(right=["14"]),
                       ScriptedGenerator(["They signed 14 documents [1]."]))
    assert outcome(events(asking, "How many documents were signed?")).mode == "repaired"


def test_drafts_stream_as_drafts_and_the_final_text_only_once_it_is_checked() -> None:
    writer = ScriptedGenerator(["They signed 12 agreements [1]."])
    repairer = ScriptedGenerator(["They signed 14 documents [1]."])
    evs = events(answering(writer, Judge(right=["14"]), repairer), "How many documents were signed?")
    kinds = [type(e).__name__ for e in evs]
    # Nothing final before the checks are done; one final text, never followed by other text.
    assert kinds.index("Delta") > max(i for i, k in enumerate(kinds) if k == "Draft")
    assert kinds.count("Delta") == 1 and kinds[-1] == "Outcome"
    stages = [e.stage for e in evs if isinstance(e, Status)]
    assert stages == ["writing", "checking", "repairing", "checking"]
    restarts = [e for e in evs if isinstance(e, Draft) and e.restart]
    assert len(restarts) == 1  # the second reply begins a new draft: the first one was not kept
    (final,) = [e for e in evs if isinstance(e, Delta)]
    made = outcome(evs)
    assert final.text == made.text and made.first_final >= made.first_draft > 0


def test_a_heading_is_never_quoted_as_what_the_articles_say() -> None:
    text = "# Halvorsen and the Halvorsen-5789 project\n\nHalvorsen said the Halvorsen-5789 project gets 879 million."
    hit = Hit(Chunk("h1", "web/story.md", text, 0, len(text)), 1.0, 1, "Halvorsen-5789")
    a = Answering(ScriptedGenerator(["It is on day 12 [1]."]), Judge(answering=["Halvorsen"]), EMBED,
                  idf_table([text]), Policy(extract=0.1), repairer=ScriptedGenerator(["No idea."]))
    made = outcome(list(a.fact("What is the latest on the Halvorsen-5789 project?", [hit])))
    assert made.mode == "quoted" and all(c.start > text.index("\n") for c in made.citations)


@pytest.mark.parametrize("how", ["rewrite", "generate"])
def test_an_open_question_is_answered_in_the_models_words_each_sentence_checked(how: str) -> None:
    writer = ScriptedGenerator(["Tokayev met Governor Yuriko Koike [1]. They discussed artificial intelligence [2]. "
                                "He flew to the Moon [3]."])
    a = answering(writer, Judge(right=["Koike", "intelligence"]), summary=0.01)
    a.open_answers = how
    made = outcome(list(a.open("Summarize the talks with the Tokyo Governor.", passages())))
    assert made.mode == "written"
    statuses = [c.status for c in made.claims]
    assert statuses.count("supported") == 2 and statuses[-1] == "removed" and "Moon" not in made.text
    assert all(ARTICLE[c.start : c.end] == c.quote for c in made.citations)
    if how == "generate":
        assert statuses == ["supported", "supported", "removed"] and len(made.citations) == 2
    else:  # the model was shown the chosen sentences, one numbered passage each
        assert "[1] On Friday, December 19, Kassym-Jomart Tokayev met with Tokyo Governor Yuriko Koike.\n" in (
            writer.prompts[0][-1]["content"])
        # The chosen sentences it did not say are quoted in their place, in the article's order.
        shown = re.findall(r"^\[\d+\] (.+)$", writer.prompts[0][-1]["content"], flags=re.MULTILINE)
        quoted = [c.text for c in made.claims if c.status == "quoted"]
        assert len(quoted) == len(shown) - 2 and all(q in ARTICLE for q in quoted)
        kept = [c for c in made.claims if c.kept]
        starts = [next(x.start for x in made.citations if x.marker == c.markers[0]) for c in kept]
        assert starts == sorted(starts)


def test_a_question_for_one_view_is_answered_by_the_models_words_without_quotes_of_the_rest() -> None:
    writer = ScriptedGenerator(["Tokayev met Governor Yuriko Koike [1]."])
    a = answering(writer, Judge(right=["Koike"]), summary=0.01)
    made = outcome(list(a.open("How did Tokayev view the talks with the Tokyo Governor?", passages())))
    assert made.mode == "written" and [c.status for c in made.claims] == ["supported"]
    writer = ScriptedGenerator(["Tokayev met Governor Yuriko Koike [1]."])
    broad = answering(writer, Judge(right=["Koike"]), summary=0.01)
    made = outcome(list(broad.open("Summarize the talks with the Tokyo Governor.", passages())))
    assert "quoted" in [c.status for c in made.claims], "a question for several points gets the rest quoted"


@pytest.mark.parametrize("how", ["rewrite", "generate"])
def test_an_open_question_whose_sentences_all_fail_gets_the_articles_sentences(how: str) -> None:
    writer = ScriptedGenerator(["He flew to the Moon [1]."])
    a = answering(writer, Judge(), summary=0.05)
    a.open_answers = how
    made = outcome(list(a.open("Summarize the talks with Koike.", passages())))
    assert made.mode == "extracted" and made.citations
    assert all(ARTICLE[c.start : c.end] == c.quote for c in made.citations)


def test_short_span_keeps_a_short_sentence_whole() -> None:
    text = "The meeting ended with signing 14 documents."
    unit = Evidence(1, 10, 10 + len(text), text)
    assert short_span(unit, "How many documents were signed?") == unit

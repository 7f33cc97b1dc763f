"""The pure scoring rules of `rag eval`, on small hand-made cases."""

from __future__ import annotations

import pytest

from rag.answers.replies import claims
from rag.evaluation import metrics
from rag.evaluation.dataset import Case, Source
from rag.evaluation.metrics import Span
from rag.evaluation.scoring import FLOORS, check_floors, score_case, summarise
from rag.types import Answer, Chunk, Citation, Claim, Hit, Timings

DOC = "visit.txt"
TEXT = (
    "On December 18, President Tokayev held talks with Emperor Naruhito of Japan in Tokyo. "
    "Then, the Kazakh leader held talks with Japanese Prime Minister Sanae Takaichi. "
    "The meeting ended with signing 14 documents. "
    "On Friday, December 19, Kassym-Jomart Tokayev met with Tokyo Governor Yuriko Koike."
)
SENTENCES = [s + "." for s in TEXT.split(". ")]
SENTENCES[-1] = SENTENCES[-1][:-1]


def span_of(quote: str) -> Span:
    start = TEXT.index(quote)
    return Span(DOC, start, start + len(quote))


def hit(quote: str, rank: int) -> Hit:
    s = span_of(quote)
    return Hit(Chunk(f"c{rank}", DOC, quote, s.start, s.end), score=1.0 / rank, rank=rank, title="Visit")


def citation(marker: int, quote: str) -> Citation:
    s = span_of(quote)
    return Citation(marker, DOC, "Visit", s.start, s.end, quote)


def case(question: str, answers: tuple[str, ...], quote: str, all_of: tuple[str, ...] = ()) -> Case:
    return Case("t-1", question, "name", True, answers, all_of, (Source(DOC, quote),), spans=(span_of(quote),))


PASSAGES = tuple(hit(s, n) for n, s in enumerate(SENTENCES, start=1))
KOIKE = case("Who is the Tokyo Governor?", ("Yuriko Koike", "Koike"), "Tokyo Governor Yuriko Koike")
DOCUMENTS = case("How many documents were signed?", ("14", "fourteen"), "signing 14 documents")


def answer(text: str, citations: tuple[Citation, ...] = (), abstained: bool = False) -> Answer:
    """An answer whose claims are the sentences of `text`, each citing the markers after it."""
    said = () if abstained else tuple(Claim(s, "supported", cited) for s, cited in claims(text))
    return Answer("q", text, citations, PASSAGES, abstained, Timings(0.01, 0.5, 1.5, 300, 20, draft_token_s=0.5), said)


# -- normalising and matching answers ------------------------------------------------------------


def test_normalise_folds_case_quotes_dashes_punctuation_and_compatibility_forms() -> None:
    assert metrics.normalise("  “Meiji  Jingu” — Tokayev’s\tvisit! ") == "meiji jingu tokayevs visit"
    assert metrics.normalise("Under-Secretary-General") == "under secretary general"
    assert metrics.normalise("１４ documents, ﬁnally") == "14 documents finally"  # NFKC: full-width, ligature


def test_a_paraphrased_correct_answer_is_correct() -> None:
    reply = "They signed fourteen documents when the meeting ended."
    assert metrics.answer_matches(reply, DOCUMENTS.answers)
    assert metrics.token_f1(reply, DOCUMENTS.answers) > 0
    result = score_case(DOCUMENTS, answer(reply + " [3]", (citation(3, SENTENCES[2]),)))
    assert result.correct and result.cites_support
    assert result.citations[0].supported is True  # "fourteen" for "14" is an accepted variant


def test_a_reworded_sentence_is_not_supported_by_a_quote_without_its_words() -> None:
    # The known cost of checking words: a reply that rewords the passage entirely is counted as
    # unsupported, though it is right. (A real citation quotes a whole chunk, which is more lenient.)
    reply = "At the end of the talks the two sides concluded fourteen agreements."
    assert metrics.answer_matches(reply, DOCUMENTS.answers)
    ok, _ = metrics.citation_support(reply, SENTENCES[2], DOCUMENTS.answers, question=DOCUMENTS.question)
    assert not ok


def test_matching_is_whole_words_for_numbers_but_contains_for_words() -> None:
    assert not metrics.answer_matches("They signed 140 documents in 2014.", ["14"])
    assert metrics.answer_matches("It was the 50th anniversary.", ["50"])
    assert metrics.answer_matches("Russia, China and the Central Asian states", ["Central Asia"])


def test_list_answers_need_every_item() -> None:
    items = ("Smart City", "artificial intelligence", "urban development")
    assert not metrics.answer_matches("Smart City and AI.", ["Smart City"], items)
    assert metrics.missing_items("Smart City and AI.", items) == ["artificial intelligence", "urban development"]
    assert metrics.answer_matches("Smart City, artificial intelligence and urban development.", ["Smart City"], items)


def test_citation_markers_do_not_count_as_numbers() -> None:
    # The evaluation reads the answer's claims, which hold no markers, not its rendered text.
    result = score_case(case("How many?", ("1",), "signing 14 documents"), answer("The articles name no figure [1]."))
    assert not result.correct


def test_token_f1_is_best_over_references_and_ignores_articles() -> None:
    assert metrics.token_f1("Yuriko Koike", ["Koike", "Yuriko Koike"]) == 1.0
    assert metrics.token_f1("The governor is Yuriko Koike.", ["Yuriko Koike"]) == pytest.approx(2 * 0.5 / 1.5)
    assert metrics.token_f1("Sanae Takaichi", ["Yuriko Koike"]) == 0.0


# -- the right person for the wrong role -------------------------------------------------------------


def test_the_right_person_for_the_wrong_role_fails_its_citation_and_scores_low_f1() -> None:
    reply = "Yuriko Koike is the Prime Minister of Japan."
    # Matching alone cannot tell: the accepted name is there...
    assert metrics.answer_matches(reply, KOIKE.answers)
    # ...but the cited passage does not say she is Prime Minister, so the citation is not precise,
    ok, reason = metrics.citation_support(reply, SENTENCES[3], KOIKE.answers, question=KOIKE.question)
    assert not ok and "prim, minister, japan" in reason
    # and the answer is scored well below a direct one.
    assert metrics.token_f1(reply, KOIKE.answers) < 0.5 < metrics.token_f1("Yuriko Koike.", KOIKE.answers)
    result = score_case(KOIKE, answer(reply + " [4]", (citation(4, SENTENCES[3]),)))
    assert result.citations[0].supported is False
    assert any("citation [4] does not support" in p for p in result.problems)


def test_the_right_answer_in_the_right_role_is_supported() -> None:
    reply = "The Tokyo Governor is Yuriko Koike."
    assert metrics.citation_support(reply, SENTENCES[3], KOIKE.answers, question=KOIKE.question) == (True, "")


def test_filler_and_the_questions_own_words_do_not_count_against_a_citation() -> None:
    quote = (
        "Referring to the tragedies of Hiroshima, Nagasaki, and the Semipalatinsk nuclear test site, he "
        "recalled Kazakhstan’s decision to renounce the world’s fourth-largest nuclear arsenal."
    )
    question = "Which tragedies did Tokayev refer to when addressing nuclear security?"
    items = ("Hiroshima", "Nagasaki", "Semipalatinsk")
    reply = "The answer is: he referenced Hiroshima and Nagasaki, as well as the Semipalatinsk test site."
    assert metrics.citation_support(reply, quote, ["Semipalatinsk"], items, question) == (True, "")
    invented = "The tragedies he referenced were Hiroshima and Nagasaki, bombed by American aircraft in wartime."
    ok, reason = metrics.citation_support(invented, quote, ["Semipalatinsk"], items, question)
    assert not ok and "bomb, american, aircraft, wartim" in reason


# -- citations -----------------------------------------------------------------------------------------


def test_a_wrong_citation_is_not_precise_and_does_not_cite_the_support() -> None:
    reply = "Tokayev met Tokyo Governor Yuriko Koike."
    ok, reason = metrics.citation_support(reply, SENTENCES[2], KOIKE.answers, question=KOIKE.question)
    assert not ok and "Yuriko Koike" in reason
    result = score_case(KOIKE, answer(reply + " [3]", (citation(3, SENTENCES[2]),)))
    assert result.correct and result.cites_support is False
    assert "no citation points at the supporting passage" in result.problems


def test_a_sentence_without_the_answer_needs_most_of_its_words_in_the_quote() -> None:
    quote = SENTENCES[0]
    assert metrics.citation_support("Tokayev held talks with the Emperor in Tokyo.", quote, ["14"])[0]
    ok, reason = metrics.citation_support("Tokayev visited the largest Shinto shrine.", quote, ["14"])
    assert not ok and "20%" in reason  # only "tokayev" of tokayev, visit, largest, shinto, shrine


def test_a_citation_is_judged_against_the_claims_that_cite_it_not_the_rendered_text() -> None:
    # The text says [1] after the Koike sentence, but the claims (the data) say the documents claim
    # cites it: the evaluation reads the data.
    said = (Claim("They signed 14 documents.", "supported", (1,)), Claim("Koike governs Tokyo.", "supported", ()))
    reply = Answer("q", "They signed 14 documents. Koike governs Tokyo [1].", (citation(1, SENTENCES[2]),), PASSAGES,
                   claims=said)
    result = score_case(DOCUMENTS, reply)
    assert result.citations[0].sentence == "They signed 14 documents." and result.citations[0].supported


def test_a_citation_used_in_two_sentences_must_support_both() -> None:
    reply = "They signed 14 documents [3]. Tokayev met Yuriko Koike [3]."
    result = score_case(DOCUMENTS, answer(reply, (citation(3, SENTENCES[2]),)))
    assert result.citations[0].supported is False and "Yuriko Koike" in result.citations[0].sentence


# -- refusals --------------------------------------------------------------------------------------------


def test_a_correct_refusal_on_an_unanswerable_case() -> None:
    unanswerable = Case("none-1", "What is the population of Kazakhstan?", "unanswerable", answerable=False)
    refused = score_case(unanswerable, answer("The articles do not say.", abstained=True))
    assert refused.correct and refused.problems == ()
    invented = score_case(unanswerable, answer("About 20 million people [1].", (citation(1, SENTENCES[0]),)))
    assert not invented.correct and invented.problems == ("answered, although the articles do not say",)
    assert invented.citations[0].supported is None  # nothing to judge it against


def test_a_refusal_is_never_correct_on_an_answerable_case() -> None:
    # Even when the refusal happens to repeat the accepted answer.
    result = score_case(KOIKE, answer("The articles do not say whether Koike is the governor.", abstained=True))
    assert not result.correct and result.f1 == 0.0
    assert "refused, although the articles answer it" in result.problems


# -- retrieval -------------------------------------------------------------------------------------------


def test_a_passage_holds_a_quote_when_it_covers_it() -> None:
    passage = Span(DOC, 100, 500)
    assert metrics.covers(passage, Span(DOC, 100, 500))
    assert not metrics.covers(passage, Span(DOC, 450, 520))  # runs over the end
    assert not metrics.covers(passage, Span("other.txt", 150, 200))
    assert metrics.covers(passage, Span(DOC, 50, 700))  # a quote longer than the passage: half of it is enough
    assert not metrics.covers(passage, Span(DOC, 0, 900))


def test_rank_recall_and_mrr_count_any_quote_of_a_multi_document_case() -> None:
    passages = [Span(DOC, 0, 100), Span("lecture.txt", 0, 100), Span(DOC, 100, 200)]
    assert metrics.first_hit_rank(passages, [Span(DOC, 120, 150), Span("lecture.txt", 10, 20)]) == 2
    assert metrics.first_hit_rank(passages, [Span(DOC, 500, 550)]) is None
    ranks = [1, 2, None, 4]
    assert metrics.recall_at_k(ranks, 4) == 0.75
    assert metrics.recall_at_k(ranks, 1) == 0.25
    assert metrics.mean_reciprocal_rank(ranks, 4) == pytest.approx((1 + 0.5 + 0.25) / 4)
    assert metrics.recall_at_k([], 4) is None


def test_score_case_records_the_rank_of_the_supporting_passage() -> None:
    assert score_case(KOIKE, answer("Yuriko Koike [4].", (citation(4, SENTENCES[3]),))).rank == 4
    reply = answer("Naruhito [1].", (citation(1, SENTENCES[0]),))
    missed = score_case(KOIKE, Answer("q", reply.text, reply.citations, PASSAGES[:2], claims=reply.claims))
    assert missed.rank is None and "no supporting passage among the 2 retrieved" in missed.problems


# -- a run's summary and floors --------------------------------------------------------------------------


def test_summary_counts_each_metric_over_its_own_cases() -> None:
    unanswerable = Case("none-1", "What is the population?", "unanswerable", answerable=False)
    results = [
        score_case(KOIKE, answer("Yuriko Koike [4].", (citation(4, SENTENCES[3]),))),  # right, cited well
        score_case(KOIKE, answer("Yuriko Koike [3].", (citation(3, SENTENCES[2]),))),  # right, cited wrongly
        score_case(DOCUMENTS, answer("The articles do not say.", abstained=True)),  # wrongly refused
        score_case(unanswerable, answer("The articles do not say.", abstained=True)),  # rightly refused
        score_case(unanswerable, answer("Twenty million [1].", (citation(1, SENTENCES[0]),))),  # invented
        score_case(DOCUMENTS, None, "the model crashed"),
    ]
    s = summarise(results, k=4)
    assert (s.cases, s.answerable, s.unanswerable, s.errors) == (6, 4, 2, 1)
    assert s.correct == pytest.approx(3 / 6)
    assert s.answer_accuracy == pytest.approx(2 / 4)
    assert s.citation_precision == pytest.approx(1 / 2) and s.citations_checked == 2
    assert s.citation_recall == pytest.approx(1 / 2)
    assert s.refusal_rate == pytest.approx(1 / 2)
    assert s.false_refusal_rate == pytest.approx(1 / 4)
    assert s.wrong_answer_rate == pytest.approx(1 / 4)  # the crash; the wrong citation still answers right
    assert s.recall_at_k == pytest.approx(3 / 4)  # the crashed case retrieved nothing
    assert s.total_p50 == pytest.approx(1.5) and s.first_token_p95 == pytest.approx(0.5)
    assert s.tokens_per_s == pytest.approx(20 / 1.0)
    assert s.by_kind["unanswerable"] == {"cases": 2, "correct": 0.5}


def test_percentiles_interpolate() -> None:
    values = [0.1 * n for n in range(1, 21)]
    assert metrics.percentile(values, 50) == pytest.approx(1.05)
    assert metrics.percentile(values, 95) == pytest.approx(1.905)
    assert metrics.percentile([3.0], 95) == 3.0
    assert metrics.percentile([], 50) is None


def test_floors_fail_below_the_threshold_or_when_unmeasured() -> None:
    s = summarise([score_case(KOIKE, answer("Yuriko Koike [4].", (citation(4, SENTENCES[3]),)))], k=4)
    assert check_floors(s, {"correct": 1.0, "recall": 0.5, "citation_precision": 0.9}) == []
    failures = check_floors(s, {"correct": None, "refusal": 0.5})
    assert failures == [
        "--min-refusal 0.50: refusals on unanswerable cases could not be measured (no cases or citations for it)"
    ]
    wrong = summarise([score_case(KOIKE, answer("Sanae Takaichi [2].", (citation(2, SENTENCES[1]),)))], k=4)
    assert check_floors(wrong, {"correct": 0.5}) == [
        "--min-correct 0.50: correct answers (refusals count on unanswerable cases) is 0.00"
    ]
    assert set(FLOORS) == {"correct", "refusal", "recall", "citation_precision"}

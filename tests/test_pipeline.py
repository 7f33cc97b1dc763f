from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from rag import Answer, Delta, Draft, Settings, Status
from rag.answers.prompting import SYSTEM_PROMPT
from rag.errors import IndexStoreError, QuestionError
from tests.conftest import VISIT, make_assistant
from tests.fakes import ScriptedGenerator


def test_the_first_question_builds_the_index(settings: Settings) -> None:
    assistant = make_assistant(settings, ["Fourteen documents were signed [1]."])
    assert not (settings.index_dir / "manifest.json").exists()
    reply = assistant.answer("How many documents were signed after the talks?")
    assert (settings.index_dir / "manifest.json").exists()
    assert reply.passages


def test_citations_slice_the_document_to_exactly_the_quote(settings: Settings) -> None:
    assistant = make_assistant(settings, ["The meeting ended with signing 14 documents [1]."])
    reply = assistant.answer("How many documents were signed after the talks with the Prime Minister?")
    assert reply.citations and not reply.abstained
    documents = assistant.stored.documents
    for citation in reply.citations:
        assert documents[citation.doc_id].text[citation.start : citation.end] == citation.quote
    assert any("14 documents" in c.quote for c in reply.citations)
    assert reply.citations[0].doc_id == VISIT


def test_out_of_range_markers_are_dropped(settings: Settings) -> None:
    assistant = make_assistant(settings, ["The meeting ended with signing 14 documents [1][42]."])
    reply = assistant.answer("How many documents were signed?")
    assert "[42]" not in reply.text
    assert [c.marker for c in reply.citations] == [1]


def test_stream_yields_the_draft_as_it_is_written_then_the_checked_text_then_the_answer(settings: Settings) -> None:
    assistant = make_assistant(settings, ["Tokyo Governor Yuriko Koike met Tokayev on December 19 [1]."])
    events = list(assistant.stream("Who did Tokayev meet on December 19?"))
    drafts = [e for e in events if isinstance(e, Draft)]
    deltas = [e for e in events if isinstance(e, Delta)]
    assert len(drafts) > 3 and isinstance(events[-1], Answer)
    assert "".join(d.text for d in drafts).strip() == "Tokyo Governor Yuriko Koike met Tokayev on December 19 [1]."
    # The final text comes once, after the draft has been checked, and is the answer's text.
    assert events.index(deltas[0]) > events.index(drafts[-1])
    assert "".join(d.text for d in deltas) == events[-1].text and events[-1].mode == "written"
    assert [e.stage for e in events if isinstance(e, Status)][:3] == ["searching", "writing", "checking"]
    timings = events[-1].timings
    assert 0 <= timings.retrieval_s <= timings.draft_token_s <= timings.first_token_s <= timings.total_s


def test_a_refusal_is_marked_as_such_and_cites_nothing(settings: Settings) -> None:
    # The model refuses, and so does its second reply to the repair prompt (the same scripted model).
    assistant = make_assistant(settings, ["The articles do not say [1].", "The articles do not say."])
    reply = assistant.answer("What is the population of Kazakhstan?")
    assert reply.abstained and reply.mode == "refused" and not reply.citations and reply.passages
    assert reply.check_notes[0] == "The reply was not kept: the model found no answer in the passages."


@pytest.mark.parametrize("question", ["", "   \n\t", None])
def test_an_empty_question_is_a_clear_error(settings: Settings, question: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        make_assistant(settings).answer(question)


def test_a_huge_question_is_cut_with_a_warning_not_refused(settings: Settings) -> None:
    reply = make_assistant(settings, ["x [1]."]).answer("Who signed it? " * 3000)
    assert reply.warnings and "longer than" in reply.warnings[0]


def test_a_follow_up_is_rewritten_into_a_standalone_question_before_retrieval(settings: Settings) -> None:
    rewritten = "Which topics did Tokayev and Tokyo Governor Yuriko Koike discuss?"
    assistant = make_assistant(settings, [rewritten, "They discussed digitalization [1]."])
    history = [("Who did he meet on December 19?", "He met Yuriko Koike [2].")]
    reply = assistant.answer("What did they discuss?", history=history)
    rewrite_prompt, answer_prompt = assistant.generator.prompts  # type: ignore[attr-defined]
    assert "What did they discuss?" in rewrite_prompt[-1]["content"]
    assert "He met Yuriko Koike." in rewrite_prompt[-1]["content"], "old markers are stripped"
    assert reply.standalone_question == rewritten and reply.question == "What did they discuss?"
    assert rewritten in answer_prompt[-1]["content"]
    assert {"role": "assistant", "content": "He met Yuriko Koike."} in answer_prompt
    assert any("Koike" in hit.chunk.text for hit in reply.passages[:2])


def test_a_rewrite_that_is_not_a_question_falls_back_to_the_follow_up_with_the_last_turns_names(
    settings: Settings,
) -> None:
    assistant = make_assistant(settings, ["Sure! Here you go", "The articles do not say."])
    reply = assistant.answer("What did they discuss?", history=[("Who met Yuriko Koike?", "Tokayev [1].")])
    assert reply.standalone_question == "What did they discuss? (Yuriko Koike)"


def test_a_rewrite_that_leaves_the_follow_up_as_it_was_falls_back_too(settings: Settings) -> None:
    # The 0.5B model often hands the question back untouched; "they" still points nowhere.
    assistant = make_assistant(settings, ["What did they discuss?", "The articles do not say."])
    reply = assistant.answer("What did they discuss?", history=[("Who met Yuriko Koike?", "Tokayev [1].")])
    assert reply.standalone_question == "What did they discuss? (Yuriko Koike)"
    # A follow-up that points back at nothing may come back as it was.
    assistant = make_assistant(settings, ["Who signed the memorandum?", "The articles do not say."])
    reply = assistant.answer("Who signed the memorandum?", history=[("Who met Yuriko Koike?", "Tokayev [1].")])
    assert reply.standalone_question == "Who signed the memorandum?"


def test_without_history_no_rewriting_happens(settings: Settings) -> None:
    assistant = make_assistant(settings, ["Tokayev met Tokyo Governor Yuriko Koike [1]."])
    reply = assistant.answer("Who met Yuriko Koike?")
    assert len(assistant.generator.prompts) == 1  # type: ignore[attr-defined]
    assert reply.standalone_question == "Who met Yuriko Koike?"


def test_a_new_question_mid_conversation_is_asked_as_it_is_and_a_follow_up_is_rewritten(settings: Settings) -> None:
    history = [{"role": "user", "content": "Who did Tokayev meet on December 19?"},
               {"role": "assistant", "content": "He met Tokyo Governor Yuriko Koike [1]."}]
    standalone = make_assistant(settings, ["The meeting ended with signing 14 documents [1]."])
    reply = standalone.answer("How many documents were signed after the talks with the Prime Minister?",
                              history=history)
    assert len(standalone.generator.prompts) == 1  # type: ignore[attr-defined]  # no rewriting prompt
    assert reply.standalone_question == "How many documents were signed after the talks with the Prime Minister?"
    follow_up = make_assistant(settings, ["What did Tokayev and Yuriko Koike discuss?",
                                          "They discussed digitalization and artificial intelligence [1]."])
    reply = follow_up.answer("What did they discuss?", history=history)
    assert reply.standalone_question == "What did Tokayev and Yuriko Koike discuss?"
    assert "Rewrite the last question" in follow_up.generator.prompts[0][0]["content"]  # type: ignore[attr-defined]


def test_an_index_built_with_another_embedder_is_refused(settings: Settings) -> None:
    make_assistant(settings).index()
    manifest_path = settings.index_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["embedder"]["name"] = "someone-else/model"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexStoreError, match="rag index"):
        make_assistant(settings).answer("Anything?")


def test_importing_the_package_does_not_import_torch_or_llama() -> None:
    code = "import sys, rag; from rag import answer; print('torch' in sys.modules, 'llama_cpp' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent
    )
    assert out.stdout.split() == ["False", "False"]


def test_the_model_reads_the_best_passages_and_the_checker_may_also_quote_the_rest(settings: Settings) -> None:
    assistant = make_assistant(replace(settings, k=3, read_k=1, repair_model="none"), ["Nothing useful here [1]."])
    reply = assistant.answer("How many documents were signed after the talks?")
    assert isinstance(assistant.generator, ScriptedGenerator)
    (messages,) = assistant.generator.prompts
    prompt = messages[-1]["content"]  # the user message
    assert "[1]" in prompt and "[2]" not in prompt
    assert len(reply.passages) == 3
    assert reply.passages[0].chunk.text in prompt
    assert all(h.chunk.text not in prompt for h in reply.passages[1:])


def test_the_question_is_embedded_once_per_answer(settings: Settings) -> None:
    assistant = make_assistant(settings, ["The meeting ended with signing 14 documents [1]."] * 2)
    assistant.index()
    embedder = assistant.embedder
    assert hasattr(embedder, "calls")
    question = "How many documents were signed after the talks?"
    embedder.calls.clear()
    assistant.answer(question)
    # retrieval embeds it; the checker reuses that vector
    assert sum(call.count(question) for call in embedder.calls) == 1
    embedder.calls.clear()
    assistant.answer(question)  # asked again: every vector is remembered
    assert embedder.calls == []


def test_a_model_with_thresholds_of_its_own_is_checked_with_them(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.answers import checking

    question = "How many documents were signed after the talks with the Prime Minister?"
    reply = "The meeting ended with signing 14 documents [1]."
    assert not make_assistant(settings, [reply]).answer(question).abstained
    # A policy no reply and no sentence can pass, for this model only; the words-only check stands in
    # for the judge (the scripted model gives no probabilities), so the coverage bar is what fails.
    impossible = checking.Policy(min_coverage=1.1, extract=1.1)
    monkeypatch.setitem(checking.CALIBRATED, settings.model, impossible)
    assert make_assistant(settings, [reply]).answer(question).abstained


def test_warm_up_runs_both_models_once_so_the_first_question_waits_no_longer_than_the_next(
    settings: Settings,
) -> None:
    assistant = make_assistant(settings)
    assistant.index()
    embedder, generator = assistant.embedder, assistant.generator
    embedder.calls.clear()  # type: ignore[attr-defined]
    assistant.warm_up()
    assert embedder.calls  # type: ignore[attr-defined]  # the embedder's slow first call is made now
    (warm,) = generator.prompts  # type: ignore[attr-defined]
    assert warm[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assistant.answer("How many documents were signed after the talks?")
    # A real prompt begins with the instructions the warm-up made the model read, so llama.cpp
    # reuses what it computed for them.
    assert generator.prompts[-1][0] == warm[0]  # type: ignore[attr-defined]

"""Wire the stages into one question-answering object: index, retrieve, prompt, generate, cite.

`Assistant` keeps the models and the index loaded between questions; `answer()` returns a
finished `Answer`, `stream()` yields `Delta`s as text is generated and the `Answer` last. The web
chat, the evaluation runner, the CLI and `rag.answer` all go through `stream()`.
This module wires; the computing is done in the stage modules.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from rag import engines
from rag.answers import timelines
from rag.answers.answering import Answering, Outcome
from rag.answers.checking import Policy, policy_for
from rag.answers.judging import Judge
from rag.answers.markers import strip_markers
from rag.answers.prompting import SYSTEM_PROMPT
from rag.answers.questions import clean_question, history_messages
from rag.answers.rewriting import depends_on_conversation, rewrite
from rag.answers.shapes import answer_shape
from rag.errors import RagError
from rag.filters import Filters
from rag.index import Index, IndexReport, Prepared, Progress, Searcher, Snapshot
from rag.models.embedding import Embedder, RememberedVectors
from rag.models.generation import Generator, Message
from rag.settings import Settings
from rag.types import Answer, Delta, Draft, Shape, Status, Timings

log = logging.getLogger(__name__)

History = Sequence[Message] | Sequence[tuple[str, str]]


class Assistant:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        generator: Generator | None = None,
        judge: Generator | None = None,
        policy: Policy | None = None,
    ) -> None:
        """`embedder`, `generator` and `judge` (the judging model) replace the ones the settings name;
        `policy` the checker's thresholds (rag/answers/checking.py)."""
        self.settings = settings or Settings.from_env()
        self._embedder = embedder
        self._generator = generator
        self._judge_generator = judge
        self.policy = policy or policy_for(self.settings.model)
        self._retriever: Searcher | None = None
        self._engine: Index | None = None
        self._engine_embedder: Embedder | None = None  # the embedder `_engine` was opened with
        self._lock = threading.RLock()  # guards the models and the retriever; held only briefly
        self._writing = threading.Lock()  # one index update at a time in this process
        self._remembered: RememberedVectors | None = None
        self._judge: Judge | None = None
        self._repairer: Generator | None = None
        self._repairer_made = False  # whether `_repairer` was built (None is a choice: no repair)
        self._unreadable = ""  # the error of a newer index that could not be loaded, said once

    # -- components, loaded on first use -------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = engines.make_embedder(self.settings)
        return self._embedder

    @property
    def engine(self) -> Index:
        """The index engine the settings name (rag.index): the index folder, or Milvus."""
        embedder = self.embedder
        if self._engine is None or self._engine_embedder is not embedder:
            self._engine, self._engine_embedder = engines.make_index(self.settings, embedder), embedder
        return self._engine

    @property
    def remembered(self) -> RememberedVectors:
        """The embedder with its vectors remembered: for questions and the checker's sentences,
        so the checker reuses the question vector retrieval made (documents are embedded once)."""
        with self._lock:
            if self._remembered is None:
                self._remembered = RememberedVectors(self.embedder)
            return self._remembered

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            self._generator = engines.make_generator(self.settings)
        return self._generator

    @property
    def judge(self) -> Judge | None:
        """The model that judges each claim (settings.judge_model), its judgements remembered
        between questions; None when claims are checked by their words only."""
        with self._lock:
            s = self.settings
            if s.judge_model == "none":
                return None
            if self._judge is None:
                judge = self._judge_generator
                if judge is None:
                    judge = engines.make_judge_model(s, self.generator)
                assert judge is not None, "judge_model is not 'none'"
                self._judge = Judge(judge)
            return self._judge

    def warm_up(self) -> None:
        """Load the models and the index now, and run each once, so that the first question is
        answered as soon as the next ones: the embedder's first call is slow (PyTorch loads then),
        and the model keeps what it has read of a prompt's beginning, the same instructions every
        time, for the next prompt (docs/history/benchmarks.md has the numbers)."""
        self.retriever()
        self.embedder.embed(["warm up"])
        instructions: list[Message] = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": ""}]
        for _ in self.generator.stream(instructions, 1):
            pass
        if self.judge is not None:  # the judge model loads and reads its instructions once, too
            self.judge("warm up", "warm up")
        if self.repairer is not None:
            self.repairer.count_tokens("warm up")  # loaded now (the judge's model, unless set apart)

    # -- index ---------------------------------------------------------------------------------
    # Questions are answered from a snapshot of the index (rag/index/) while it is updated: here
    # (an upload, say) or by another process (`rag index`, `rag add`). An update here holds no lock
    # a question needs (store.writer_lock orders it with other writers); the next question after
    # any update is answered from the new index, and one already running finishes on its own.
    def prepare(self, progress: Progress | None = None, batch: int | None = None) -> Prepared:
        """Chunk and embed what `index` would, writing nothing and holding no lock: pass the result
        to `index`, which then only writes (an upload does this, so questions are answered meanwhile)."""
        return self.engine.prepare(progress, batch)

    def index(self, progress: Progress | None = None, prepared: Prepared | None = None) -> IndexReport:
        """Bring the index up to date with the documents folder (what `prepared` holds is not embedded again)."""
        with self._writing:
            previous = self._retriever.index if self._retriever is not None else None
            stored, report = self.engine.update(prepared, progress, previous)
            retriever = self.engine.searcher(stored, self.remembered)
            with self._lock:
                self._retriever = retriever
            del previous
            self.engine.tidy()  # what the update replaced, now that this process let go of it
            return report

    def retriever(self) -> Searcher:
        """The retriever over the index as it is now: a newer index committed by anyone since the
        last question is loaded first (its unchanged segments reused)."""
        s = self.settings
        with self._lock:
            if self._retriever is not None:
                if self.engine.changed(self._retriever.index):
                    self._refresh()
                return self._retriever
            if engines.make_index(s).exists():  # asked before the embedder loads: a Milvus that is down says so at once
                stored = self.engine.load()
                self._retriever = self.engine.searcher(stored, self.remembered)
                return self._retriever
        log.info("No index in %s yet: building it from %s", s.milvus_uri or s.index_dir, s.documents_dir)
        self.index()  # not under self._lock: index() takes it to put the new index in place
        assert self._retriever is not None
        return self._retriever

    def _refresh(self) -> None:
        """Load the index another writer committed; if it cannot be read, keep answering from the
        snapshot in use (it stays whole: its segments are held) and say so once."""
        assert self._retriever is not None
        current = self._retriever
        try:
            stored = self.engine.load(current.index)
        except RagError as err:
            if str(err) != self._unreadable:
                log.warning("Answering from the index as it was loaded: the newer one cannot be read (%s)", err)
                self._unreadable = str(err)
            return
        self._unreadable = ""
        self._retriever = self.engine.searcher(stored, self.remembered)

    @property
    def stored(self) -> Snapshot:
        return self.retriever().index

    # -- answering -----------------------------------------------------------------------------
    def answering(self) -> Answering:
        """How answers are made: the models, the checker's policy and the prompt sizes."""
        s = self.settings
        retriever = self.retriever()
        judge = self.judge
        return Answering(
            generator=self.generator,
            judge=judge,
            embed=self.remembered.embed,
            idf=retriever.idf,
            policy=self.policy,
            answer_tokens=s.answer_tokens,
            open_answer_tokens=s.open_answer_tokens,
            max_question_tokens=s.max_question_tokens,
            read_k=s.read_k,
            repairer=self.repairer,
            repair=s.repair_model != "none",
            open_answers=s.open_answers,
            answer_from=s.answer_from,
            open_read_k=s.open_k,
        )

    @property
    def repairer(self) -> Generator | None:
        """The model that answers a repair prompt (settings.repair_model; None: no repair): the
        judge's model by default, which reads better than the answering model (rag/engines.py)."""
        with self._lock:
            if not self._repairer_made:
                judge = self.judge
                self._repairer = engines.make_repairer(self.settings, self.generator,
                                                       judge.generator if judge is not None else None)
                self._repairer_made = True
            return self._repairer

    def answer(
        self, question: str, *, k: int | None = None, history: History | None = None, filters: Filters | None = None
    ) -> Answer:
        for event in self.stream(question, k=k, history=history, filters=filters):
            if isinstance(event, Answer):
                return event
        raise AssertionError("stream() ended without an Answer")

    def stream(
        self, question: str, *, k: int | None = None, history: History | None = None, filters: Filters | None = None
    ) -> Iterator[Status | Draft | Delta | Answer]:
        """Stream the answer to `question`, from the articles `filters` allows (all by default):
        `Status` as the work goes on, `Draft` pieces of the model's reply while it is checked, the
        final text as `Delta` pieces (never taken back), and the `Answer` last."""
        started = time.perf_counter()
        question = _check_question(question)
        s = self.settings
        retriever = self.retriever()
        turns = _messages(history)
        standalone = question
        if turns and depends_on_conversation(question):
            yield Status("rewriting")
            standalone = rewrite(question, turns, self.generator)
        yield Status("searching")
        shape = answer_shape(standalone)
        window = timelines.window(standalone, today()) if shape == "timeline" and timelines.asks_whats_new(
            standalone) else None
        if window is not None:  # "what's new": only the articles published in the window
            base = filters or Filters()
            since = max(base.since or window.since, window.since)
            until = min(base.until or window.until, window.until)
            filters = replace(base, since=since, until=until)
        hits = retriever.search(standalone, k or (s.k if shape == "fact" else s.open_k), filters)
        retrieved = time.perf_counter()
        if filters is not None and filters.active and not hits and window is None:
            text = (f"No article matches the filters ({filters.describe()}): widen the dates or the sources, or "
                    "clear them.")
            outcome: Outcome | None = Outcome(text, (), (), "refused", (f"No article matches {filters.describe()}.",))
            yield Delta(text)
        else:
            answering = self.answering()
            if shape == "fact":
                events = answering.fact(standalone, hits, turns)
            elif shape == "timeline":
                events = answering.timeline(standalone, hits, window)
            else:
                events = answering.open(standalone, hits, turns)
            outcome = None
            for event in events:
                if isinstance(event, Outcome):
                    outcome = event
                else:
                    yield event
        assert outcome is not None, "an answer ends with its Outcome"
        yield self._answer(question, standalone, shape, outcome, started, retrieved)

    def _answer(
        self, question: str, searched: str, shape: Shape, outcome: Outcome, started: float, retrieved: float
    ) -> Answer:
        """The Answer, made once from the outcome."""
        done = time.perf_counter()
        first_final = outcome.first_final or done
        written = outcome.draft + outcome.repair
        return Answer(
            question=question,
            text=outcome.text,
            citations=outcome.citations,
            claims=outcome.claims,
            passages=outcome.passages,
            abstained=outcome.abstained,
            timings=Timings(
                retrieval_s=retrieved - started,
                first_token_s=first_final - started,
                draft_token_s=outcome.first_draft - started if outcome.first_draft else 0.0,
                total_s=done - started,
                prompt_tokens=outcome.prompt_tokens,
                generated_tokens=self.generator.count_tokens(written) if written else 0,
                check_s=max(0.0, first_final - outcome.replied) if outcome.replied else 0.0,
            ),
            standalone_question=searched,
            warnings=outcome.warnings,
            model=getattr(self.generator, "name", ""),
            mode=outcome.mode,
            raw_text=outcome.draft,
            repair_text=outcome.repair,
            evidence_score=outcome.evidence_score,
            check_notes=outcome.notes,
            shape=shape,
        )


def today() -> dt.date:
    """The day \"what's new\" windows are counted back from (a seam for tests)."""
    return dt.date.today()


def _check_question(question: Any) -> str:
    return clean_question(question)


def _messages(history: History | None) -> list[Message]:
    """Accept [{"role", "content"}, ...] or [(user, assistant), ...] and return the former."""
    return history_messages(history, strip_markers)

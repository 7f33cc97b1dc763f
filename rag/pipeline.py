"""Wire the stages into one question-answering object: index, retrieve, prompt, generate, cite.

`Assistant` keeps the models and the index loaded between questions; `answer()` returns a
finished `Answer`, `stream()` yields `Delta`s as text is generated and the `Answer` last. The web
chat, the evaluation runner, the CLI and `rag.answer` all go through `stream()`.
This module wires; the computing is done in the stage modules.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from rag import backends, models
from rag.answer_types import answer_shape
from rag.backends import make_generator
from rag.embedding import Embedder, MiniLMEmbedder, RememberedVectors
from rag.errors import RagError
from rag.filters import Filters
from rag.generation import Generator, LlamaGenerator, Message
from rag.grounding import Verdict, check_answer, extract_answer, thresholds_for
from rag.indexing import IndexReport, Progress
from rag.judging import Judge
from rag.markers import strip_markers
from rag.prompting import SYSTEM_PROMPT, build_prompt
from rag.questions import clean_question, history_messages
from rag.rewriting import rewrite
from rag.settings import Settings
from rag.types import Answer, Delta, Hit, Timings

log = logging.getLogger(__name__)

History = Sequence[Message] | Sequence[tuple[str, str]]

JUDGE_CONTEXT = 768  # tokens: the instructions, one claim and its evidence


class Assistant:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        generator: Generator | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self._embedder = embedder
        self._generator = generator
        self._retriever: backends.Searcher | None = None
        self._lock = threading.RLock()  # guards the models and the retriever; held only briefly
        self._writing = threading.Lock()  # one index update at a time in this process
        self._remembered: RememberedVectors | None = None
        self._judge: Judge | None = None
        self._unreadable = ""  # the error of a newer index that could not be loaded, said once

    # -- components, loaded on first use -------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = MiniLMEmbedder.from_settings(self.settings)
        return self._embedder

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
            self._generator = make_generator(self.settings)
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
                if s.judge_model in ("same", s.model):
                    judge: Generator = self.generator
                else:
                    path = models.resolve(s.judge_model, s.model_cache_dir, None)
                    # Judgements are short prompts: a small context leaves memory for the answering model.
                    judge = LlamaGenerator(path, JUDGE_CONTEXT, s.threads, name=s.judge_model, cpu=s.llama_cpu)
                self._judge = Judge(judge)
            return self._judge

    def warm_up(self) -> None:
        """Load the models and the index now, and run each once, so that the first question is
        answered as soon as the next ones: the embedder's first call is slow (PyTorch loads then),
        and the model keeps what it has read of a prompt's beginning, the same instructions every
        time, for the next prompt (docs/benchmarks.md has the numbers)."""
        self.retriever()
        self.embedder.embed(["warm up"])
        instructions: list[Message] = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": ""}]
        for _ in self.generator.stream(instructions, 1):
            pass
        if self.judge is not None:  # the judge model loads and reads its instructions once, too
            self.judge("warm up", "warm up")

    # -- index ---------------------------------------------------------------------------------
    # Questions are answered from a snapshot of the index (store.py) while it is updated: here
    # (an upload, say) or by another process (`rag index`, `rag add`). An update here holds no lock
    # a question needs (store.writer_lock orders it with other writers); the next question after
    # any update is answered from the new index, and one already running finishes on its own.
    def index(self, progress: Progress | None = None) -> IndexReport:
        """Bring the index up to date with the documents folder."""
        with self._writing:
            previous = self._retriever.index if self._retriever is not None else None
            stored, report = backends.update_index(self.settings, self.embedder, progress, previous)
            retriever = backends.make_retriever(stored, self.remembered, self.settings)
            with self._lock:
                self._retriever = retriever
            del previous
            backends.tidy(self.settings)  # what the update replaced, now that this process let go of it
            return report

    def retriever(self) -> backends.Searcher:
        """The retriever over the index as it is now: a newer index committed by anyone since the
        last question is loaded first (its unchanged segments reused)."""
        s = self.settings
        with self._lock:
            if self._retriever is not None:
                if backends.index_changed(self._retriever.index):
                    self._refresh()
                return self._retriever
            if backends.index_exists(s):
                stored = backends.load_index(s, self.embedder)
                self._retriever = backends.make_retriever(stored, self.remembered, s)
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
            stored = backends.load_index(self.settings, self.embedder, current.index)
        except RagError as err:
            if str(err) != self._unreadable:
                log.warning("Answering from the index as it was loaded: the newer one cannot be read (%s)", err)
                self._unreadable = str(err)
            return
        self._unreadable = ""
        self._retriever = backends.make_retriever(stored, self.remembered, self.settings)

    @property
    def stored(self) -> backends.IndexView:
        return self.retriever().index

    # -- answering -----------------------------------------------------------------------------
    def answer(
        self, question: str, *, k: int | None = None, history: History | None = None, filters: Filters | None = None
    ) -> Answer:
        for event in self.stream(question, k=k, history=history, filters=filters):
            if isinstance(event, Answer):
                return event
        raise AssertionError("stream() ended without an Answer")

    def stream(
        self, question: str, *, k: int | None = None, history: History | None = None, filters: Filters | None = None
    ) -> Iterator[Delta | Answer]:
        """Stream the answer to `question`, from the articles `filters` allows (all by default)."""
        started = time.perf_counter()
        question = _check_question(question)
        s = self.settings
        retriever = self.retriever()
        generator = self.generator
        turns = _messages(history)
        standalone = rewrite(question, turns, generator) if turns else question
        shape = answer_shape(standalone)
        extract = shape == "open" and s.open_answers == "extract"
        hits = retriever.search(standalone, k or (s.open_k if extract else s.k), filters)
        retrieved = time.perf_counter()
        if filters is not None and filters.active and not hits:
            verdict = Verdict(f"No article matches the filters ({filters.describe()}): widen the dates or the "
                              "sources, or clear them.", (), abstained=True, mode="refused", shape=shape)
            yield Delta(verdict.text)
            done = time.perf_counter()
            yield self._answer(question, standalone, [], verdict, "", started, retrieved, done, done, done, 0,
                               (f"No article matches {filters.describe()}.",))
            return

        if extract:
            verdict = extract_answer(standalone, hits, self.remembered.embed, retriever.idf, thresholds_for(s.model))
            yield Delta(verdict.text)
            done = time.perf_counter()
            yield self._answer(question, standalone, hits, verdict, "", started, retrieved, done, done, done, 0, ())
            return
        answer_tokens = s.answer_tokens if shape == "fact" else s.open_answer_tokens
        prompt = build_prompt(
            standalone, hits[: s.read_k], generator.count_tokens, generator.context_size, answer_tokens,
            s.max_question_tokens, turns, shape,
        )
        # The model reads the best few passages; the checker may also cite or quote the rest. They
        # follow the prompt's passages, so the model's [n] markers keep their meaning.
        checked = [*prompt.passages, *(h for h in hits if h not in prompt.passages)]
        pieces: list[str] = []
        first_token = 0.0
        for piece in generator.stream(prompt.messages, answer_tokens):
            if not pieces:
                first_token = time.perf_counter()
            pieces.append(piece)
            yield Delta(piece)
        finished = time.perf_counter()

        raw = "".join(pieces).strip()
        verdict = check_answer(
            prompt.question, raw, checked, self.remembered.embed, retriever.idf, thresholds_for(s.model), self.judge
        )
        yield self._answer(
            question, prompt.question, checked, verdict, raw, started, retrieved, first_token or finished, finished,
            time.perf_counter(), prompt.tokens, prompt.warnings,
        )

    def _answer(
        self,
        question: str,
        searched: str,
        passages: Sequence[Hit],
        verdict: Verdict,
        raw: str,
        started: float,
        retrieved: float,
        first_token: float,
        finished: float,
        checked: float,
        prompt_tokens: int,
        warnings: Sequence[str],
    ) -> Answer:
        return Answer(
            question=question,
            text=verdict.text,
            citations=verdict.citations,
            claims=verdict.claims,
            passages=tuple(passages),
            abstained=verdict.abstained,
            timings=Timings(
                retrieval_s=retrieved - started,
                first_token_s=first_token - started,
                total_s=time.perf_counter() - started,
                prompt_tokens=prompt_tokens,
                generated_tokens=self.generator.count_tokens(raw) if raw else 0,
                check_s=checked - finished,
            ),
            standalone_question=searched,
            warnings=tuple(warnings),
            model=getattr(self.generator, "name", ""),
            mode=verdict.mode,
            raw_text=raw,
            evidence_score=verdict.evidence_score,
            check_notes=verdict.notes,
            shape=verdict.shape,
        )


def _check_question(question: Any) -> str:
    return clean_question(question)


def _messages(history: History | None) -> list[Message]:
    """Accept [{"role", "content"}, ...] or [(user, assistant), ...] and return the former."""
    return history_messages(history, strip_markers)

"""The project's question sets, each with the documents it was written for and an index of its own.

`rag eval --set NAME` runs one of them: the set's documents are indexed into a folder of their own
under `.cache/eval-index/`, never into the user's index, so a run measures the same articles on
every machine whatever `documents/` holds.

| set | questions | documents |
|---|---|---|
| in-house | eval/questions.jsonl: 96 written from the two default articles | documents/ |
| xquad | eval/xquad/questions.jsonl: 590 crowd-written, 114 unanswerable | eval/xquad/documents/ |
| open | eval/open-questions.jsonl: open questions with key points | documents/ |
| xquad-open | eval/xquad/open-questions.jsonl | eval/xquad/documents/ |

Paths are relative to the repository root (the folder holding eval/).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rag.evaluation.dataset import EvalDataError


@dataclass(frozen=True)
class QuestionSet:
    name: str
    questions: Path
    documents: Path
    open: bool = False  # open questions scored by key points (rag/evaluation/open_questions.py)

    def index_dir(self, root: Path) -> Path:
        return root / ".cache" / "eval-index" / self.name


SETS: dict[str, QuestionSet] = {
    s.name: s
    for s in (
        QuestionSet("in-house", Path("eval/questions.jsonl"), Path("documents")),
        QuestionSet("xquad", Path("eval/xquad/questions.jsonl"), Path("eval/xquad/documents")),
        QuestionSet("open", Path("eval/open-questions.jsonl"), Path("documents"), open=True),
        QuestionSet("xquad-open", Path("eval/xquad/open-questions.jsonl"), Path("eval/xquad/documents"), open=True),
    )
}


def question_set(name: str, root: Path = Path(".")) -> QuestionSet:
    """The named set with its paths under `root`; EvalDataError names the sets there are."""
    try:
        found = SETS[name]
    except KeyError:
        raise EvalDataError(f"No question set named {name!r}: choose one of {', '.join(SETS)}.") from None
    return QuestionSet(found.name, root / found.questions, root / found.documents, found.open)

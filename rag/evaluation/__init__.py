"""The evaluation runner behind `rag eval`: how far the answers, retrieval and citations can be trusted.

- `dataset`: read and check a question file (eval/README.md), find each quote in the indexed text;
- `metrics`: the pure scoring rules (answer matching, token F1, recall@k, MRR, citation support);
- `scoring`: judge one case's Answer, summarise a run, compare it with the `--min-*` floors;
- `runner`: ask every case through `Assistant.stream`, as the web chat does, and time it;
- `report`: the console table, results.json, report.md and chart.png.

Importing this package does not import matplotlib, tqdm, torch or llama.cpp.
"""

from __future__ import annotations

from rag.evaluation.dataset import Case, EvalDataError, load_cases, locate_quotes
from rag.evaluation.runner import EvalRun, evaluate
from rag.evaluation.scoring import CaseResult, Summary, check_floors

__all__ = [
    "Case",
    "CaseResult",
    "EvalDataError",
    "EvalRun",
    "Summary",
    "check_floors",
    "evaluate",
    "load_cases",
    "locate_quotes",
]

"""Present an `EvalRun`: a console table, results.json, report.md and chart.png in one folder.

The JSON holds everything (settings, summary, every case with its answer, passages, citations and
problems) for comparing runs by script; the Markdown is for people, with a row per question and
what went wrong; the chart shows the headline numbers. matplotlib is imported only to draw the
chart, through its Agg canvas, so no display is needed and no global backend is changed.

Deliberately not here: computing any number (scoring.py) or running anything (runner.py).
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from rag.evaluation.open_questions import SHORT_WORDS, OpenResult
from rag.evaluation.runner import EvalRun, OpenRun
from rag.evaluation.scoring import CaseResult, Summary

FORMAT = "rag-eval/1"


def default_folder(base: Path, model: str, started: datetime | None = None) -> Path:
    """A new folder under `base` named after the time and model, e.g. `20250101-120000-smollm2-135m`."""
    stamp = (started or datetime.now()).strftime("%Y%m%d-%H%M%S")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(model).stem if model.endswith(".gguf") else model).strip("-")
    folder = base / f"{stamp}-{name or 'model'}"
    n = 2
    while folder.exists():
        folder = base / f"{stamp}-{name or 'model'}-{n}"
        n += 1
    return folder


def write_all(run: EvalRun, folder: Path) -> dict[str, Path]:
    """Write results.json, report.md and chart.png into `folder` (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "results.json", "markdown": folder / "report.md", "chart": folder / "chart.png"}
    paths["json"].write_text(json.dumps(to_dict(run), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["markdown"].write_text(markdown(run), encoding="utf-8")
    write_chart(run, paths["chart"])
    return paths


def to_dict(run: EvalRun) -> dict[str, Any]:
    data = dataclasses.asdict(dataclasses.replace(run, results=()))
    data["results"] = [case_dict(r) for r in run.results]
    return {"format": FORMAT, **data, "interrupted": run.interrupted}


def case_dict(r: CaseResult) -> dict[str, Any]:
    """One case as results.json holds it: the judgement, and of its answer what a reader of the run
    needs (the passages as spans, not their text)."""
    data = {f.name: getattr(r, f.name) for f in dataclasses.fields(r) if f.name != "reply"}
    data["citations"] = [dataclasses.asdict(c) for c in r.citations]
    reply = r.reply
    data.update(
        answer=r.answer, abstained=r.abstained, mode=r.mode, raw=r.raw, searched=r.searched,
        check_notes=list(r.check_notes), passages=[dataclasses.asdict(p) for p in r.passages],
        repair=reply.repair_text if reply else "",
        claims=[dataclasses.asdict(c) for c in reply.claims] if reply else [],
        timings=None,
    )
    if r.timings is not None:
        data["timings"] = {**dataclasses.asdict(r.timings), "tokens_per_s": round(r.timings.tokens_per_s, 1)}
    return data


# -- numbers as text ---------------------------------------------------------------------------


def _fraction(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def headline_rows(s: Summary) -> list[tuple[str, str, str]]:
    """(metric, value, detail) rows shared by the console table and the Markdown report."""
    return [
        ("correct (all cases)", _fraction(s.correct), f"{s.cases} cases; unanswerable ones count when refused"),
        ("right and direct", _fraction(s.answer_accuracy),
         f"{s.answerable} answerable: {_fraction(s.written)} in the model's words, {_fraction(s.quoted)} quoted"),
        ("in the model's words", _fraction(s.own_words), "share of the right and direct answers"),
        ("right but not direct", _fraction(s.long), "the answer inside a pasted passage"),
        ("holds the answer (old rule)", _fraction(s.holds_answer), "anywhere in the reply, however long"),
        ("SQuAD EM / F1", f"{_fraction(s.exact_match)} / {_fraction(s.mean_f1)}",
         f"{'n/a' if s.mean_words is None else f'{s.mean_words:.0f}'} words per answer"),
        (f"retrieval recall@{s.k}", _fraction(s.recall_at_k), f"MRR {_fraction(s.mrr)}"),
        ("citation precision", _fraction(s.citation_precision), f"{s.citations_checked} citations checked"),
        ("citation recall", _fraction(s.citation_recall), "correct answers citing the supporting passage"),
        ("refusals (unanswerable)", _fraction(s.refusal_rate), f"{s.unanswerable} unanswerable cases"),
        ("wrong refusals (answerable)", _fraction(s.false_refusal_rate), "lower is better"),
        ("wrong answers (answerable)", _fraction(s.wrong_answer_rate), "answered, but not correctly; lower is better"),
        ("retrieval time", f"p50 {_seconds(s.retrieval_p50)}", f"p95 {_seconds(s.retrieval_p95)}"),
        ("first token of the answer", f"p50 {_seconds(s.first_token_p50)}",
         f"p95 {_seconds(s.first_token_p95)}; the draft's p50 {_seconds(s.draft_token_p50)}"),
        ("total time", f"p50 {_seconds(s.total_p50)}", f"p95 {_seconds(s.total_p95)}"),
        ("generation speed", "n/a" if s.tokens_per_s is None else f"{s.tokens_per_s:.0f} tokens/s", ""),
    ]  # fmt: skip


def console_table(run: EvalRun) -> str:
    s = run.summary
    lines = [f"Evaluation of {run.model} on {run.questions}: {s.cases} cases, k={s.k}, {run.wall_s:.0f} s in all"]
    rows = headline_rows(s)
    width = max(len(r[0]) for r in rows)
    lines += [f"  {name:<{width}}  {value:<11} {detail}".rstrip() for name, value, detail in rows]
    kinds = ", ".join(f"{kind} {_fraction(v['correct'])} ({v['cases']})" for kind, v in s.by_kind.items())
    lines.append(f"  correct by kind: {kinds}")
    if s.errors:
        lines.append(f"  {s.errors} case(s) failed with an error: see the report")
    if run.interrupted:
        lines.append(f"  Interrupted: only {s.cases} of {run.planned} cases were run; the numbers cover those")
    return "\n".join(lines)


# -- Markdown ----------------------------------------------------------------------------------


def _cell(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[:limit] + "…"
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def _verdict(r: CaseResult) -> str:
    if r.error:
        return "error"
    if not r.answerable:
        return "✅ refused" if r.correct else "❌ answered"
    if r.abstained:
        return "❌ refused"
    return {"written": "✅", "quoted": "✅ quoted", "long": "❌ not direct"}.get(r.outcome, "❌")


def _citations(r: CaseResult) -> str:
    marks = {True: "✓", False: "✗", None: ""}
    return "<br>".join(
        f"[{c.marker}] {c.doc_id} {c.start}–{c.end} {marks[c.supported]}{' (support)' if c.cites_support else ''}"
        for c in r.citations
    )


def markdown(run: EvalRun) -> str:
    s = run.summary
    out = [
        f"# Evaluation: {run.model}",
        "",
        f"- Questions: `{run.questions}` ({s.cases} cases: {s.answerable} answerable, {s.unanswerable} unanswerable)",
        f"- Started {run.started}; {run.wall_s:.0f} s in all; k = {s.k}",
        *([f"- **Interrupted**: only {s.cases} of {run.planned} cases were run"] if run.interrupted else []),
        f"- Generator `{run.settings.get('generator', '')}`, embedder `{run.settings.get('embedder', '')}`, "
        f"{run.settings.get('documents', '?')} documents in {run.settings.get('chunks', '?')} chunks",
        _provenance(run.settings),
        "",
        "| metric | value | |",
        "|---|---|---|",
        *(f"| {name} | {value} | {detail} |" for name, value, detail in headline_rows(s)),
        "",
        "| kind | cases | correct |",
        "|---|---|---|",
        *(f"| {kind} | {v['cases']} | {_fraction(v['correct'])} |" for kind, v in s.by_kind.items()),
        "",
        "## Questions",
        "",
        "Rank: position of the first retrieved passage holding the supporting quote. "
        "Citations: ✓ supports its sentence, ✗ does not; (support) marks one overlapping the supporting quote.",
        "",
        "| id | kind | result | rank | answer | citations | what was wrong |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in run.results:
        rank = "" if not r.answerable else ("–" if r.rank is None else str(r.rank))
        out.append(
            f"| {r.id} | {r.kind} | {_verdict(r)} | {rank} | {_cell(r.answer)} | {_citations(r)} | "
            f"{'<br>'.join(_cell(p, 200) for p in _explained(r))} |"
        )
    return "\n".join(out) + "\n"


def _explained(r: CaseResult) -> list[str]:
    """The problems and, for a wrong quote or refusal, what the model replied (when the checker
    replaced it) and why: was the model wrong, or the checker?"""
    lines = list(r.problems)
    if not r.correct and r.mode in ("quoted", "refused"):
        if r.raw and r.raw != r.answer:
            lines.append(f"the model replied: “{' '.join(r.raw.split())}”")
        lines.extend(f"checker: {note}" for note in r.check_notes)
    return lines


# -- chart -------------------------------------------------------------------------------------


def write_chart(run: EvalRun, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    s = run.summary
    quality = [
        ("correct (all)", s.correct),
        ("right and direct", s.answer_accuracy),
        ("in the model's words", s.written),
        ("holds the answer (old rule)", s.holds_answer),
        ("mean token F1", s.mean_f1),
        (f"recall@{s.k}", s.recall_at_k),
        ("MRR", s.mrr),
        ("citation precision", s.citation_precision),
        ("citation recall", s.citation_recall),
        ("refusals (unanswerable)", s.refusal_rate),
        ("wrong refusals (answerable)", s.false_refusal_rate),
        ("wrong answers (answerable)", s.wrong_answer_rate),
    ]
    fig = Figure(figsize=(11, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, width_ratios=[3, 2])
    labels = [name for name, _ in quality][::-1]
    values = [v or 0.0 for _, v in quality][::-1]
    bars = left.barh(labels, values, color=["#c0504d" if "wrong" in n else "#4f81bd" for n in labels])
    for bar, (_, value) in zip(bars, quality[::-1], strict=True):
        left.text(bar.get_width() + 0.01, bar.get_y() + bar.get_height() / 2, _fraction(value), va="center")
    left.set_xlim(0, 1.12)
    left.set_title("Quality (fraction)")

    stages = ["retrieval", "first token", "total"]
    p50 = [s.retrieval_p50, s.first_token_p50, s.total_p50]
    p95 = [s.retrieval_p95, s.first_token_p95, s.total_p95]
    x = range(len(stages))
    right.bar([i - 0.2 for i in x], [v or 0.0 for v in p50], width=0.4, label="p50", color="#4f81bd")
    right.bar([i + 0.2 for i in x], [v or 0.0 for v in p95], width=0.4, label="p95", color="#9bbb59")
    right.set_xticks(list(x), stages)
    right.set_ylabel("seconds per question")
    speed = "" if s.tokens_per_s is None else f", {s.tokens_per_s:.0f} tokens/s"
    right.set_title(f"Speed{speed}")
    right.legend()
    fig.suptitle(f"{run.model} on {Path(run.questions).name}: {s.cases} cases, k={s.k} ({run.started[:10]})")
    fig.savefig(path, dpi=100)


def _provenance(settings: dict[str, Any]) -> str:
    """The line that says what ran: commit, model and checksum, judge, thresholds."""
    commit = settings.get("commit") or "unknown"
    dirty = " (with uncommitted changes)" if settings.get("uncommitted_changes") else ""
    thresholds = ", ".join(f"{k} {v}" for k, v in (settings.get("thresholds") or {}).items())
    return (
        f"- Commit `{commit[:12]}`{dirty}; model `{settings.get('model', '')}` "
        f"(sha256 `{str(settings.get('model_sha256') or '')[:12]}…`); judge `{settings.get('judge_model', '')}`; "
        f"thresholds: {thresholds}"
    )


# -- open questions ------------------------------------------------------------------------------


def write_open(run: OpenRun, folder: Path) -> dict[str, Path]:
    """Write results.json and report.md of an open-question run into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "results.json", "markdown": folder / "report.md"}
    data = {"format": FORMAT + "+open", **dataclasses.asdict(run)}
    paths["json"].write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["markdown"].write_text(open_markdown(run), encoding="utf-8")
    return paths


def open_table(run: OpenRun) -> str:
    s = run.summary
    return "\n".join([
        f"Open questions on {run.questions}: {s.cases} cases, {run.wall_s:.0f} s in all",
        f"  key points covered (mean)  {_fraction(s.coverage)}",
        f"  refused                    {_fraction(s.refused)}",
        f"  every sentence cited       {_fraction(s.all_cited)}",
        f"  in the model's own words   {_fraction(s.own_words)}",
        f"  words per answer           p50 {s.words_p50 or 0:.0f}; at most {SHORT_WORDS}: {_fraction(s.short)}",
        f"  time to first token        p50 {_seconds(s.first_token_p50)}  p95 {_seconds(s.first_token_p95)}",
        f"  total time                 p50 {_seconds(s.total_p50)}  p95 {_seconds(s.total_p95)}",
    ])


def open_markdown(run: OpenRun) -> str:
    out = [
        f"# Open questions: {run.settings.get('model', '')}",
        "",
        f"- Questions: `{run.questions}`; started {run.started}",
        _provenance(run.settings),
        "",
        "```",
        open_table(run),
        "```",
        "",
        "| id | kind | covered | refused | cited | answer | points missed |",
        "|---|---|---|---|---|---|---|",
    ]
    out += [_open_row(r) for r in run.results]
    return "\n".join(out) + "\n"


def _open_row(r: OpenResult) -> str:
    covered = f"{sum(r.covered)}/{len(r.covered)}"
    return (
        f"| {r.id} | {r.kind} | {covered} | {'yes' if r.refused else ''} | {'✓' if r.all_cited else '✗'} | "
        f"{_cell(r.answer)} | {_cell(r.error or '; '.join(r.missed))} |"
    )

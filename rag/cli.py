"""The `rag` command: index the documents, ask questions, chat in the terminal, list the models.

Every option also reads a RAG_* environment variable; library errors become a one-line message
and exit status 1, never a traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import faulthandler
import json
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rag.errors import RagError
from rag.filters import Filters, day_of
from rag.settings import Settings
from rag.types import HOW_MADE, Answer

if TYPE_CHECKING:
    from rag.index import DocumentEntry

log = logging.getLogger("rag")


class _Group(click.Group):
    """Turn the library's own errors into a clear message instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RagError as err:
            raise click.ClickException(str(err)) from None


@click.group(cls=_Group)
@click.option("--documents", type=click.Path(path_type=Path), envvar="RAG_DOCUMENTS", help="Folder of articles.")
@click.option("--index", "index_dir", type=click.Path(path_type=Path), envvar="RAG_INDEX", help="Index folder.")
@click.option("--model", envvar="RAG_MODEL", help="Known model name (see `rag models`) or path to a GGUF file.")
@click.option("--model-sha256", envvar="RAG_MODEL_SHA256", help="Expected SHA-256 of a model given by path.")
@click.option("-v", "--verbose", is_flag=True, help="Show progress and diagnostic logs.")
@click.pass_context
def main(
    ctx: click.Context,
    documents: Path | None,
    index_dir: Path | None,
    model: str | None,
    model_sha256: str | None,
    verbose: bool,
) -> None:
    """Ask questions about the articles in a folder, answered by a local model with exact citations."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    # Models are proven in a child process before they load (rag/models/llama_build.py); should native code
    # still crash here, Python says where instead of the process vanishing without a word.
    with contextlib.suppress(AttributeError, ValueError, OSError):  # stderr may be no file (a test's runner)
        faulthandler.enable()
    ctx.obj = Settings.from_env(documents_dir=documents, index_dir=index_dir, model=model, model_sha256=model_sha256)


def _assistant(settings: Settings) -> Any:
    from rag.pipeline import Assistant

    return Assistant(settings)


@main.command()
@click.pass_obj
def index(settings: Settings) -> None:
    """Bring the index up to date with the documents folder (only changed files are embedded)."""
    from tqdm import tqdm

    bar: Any = None

    def progress(done: int, total: int, doc_id: str) -> None:
        nonlocal bar
        if total and bar is None:
            bar = tqdm(total=total, unit="doc", desc="Embedding", file=sys.stderr)
        if bar is not None:
            bar.n = done
            bar.set_postfix_str(doc_id[-40:])
            bar.refresh()

    report = _assistant(settings).index(progress)
    if bar is not None:
        bar.close()
    for skipped in report.skipped:
        click.echo(f"Skipped {skipped.path}: {skipped.reason}", err=True)
    for note in report.notes:
        click.echo(f"Note: {note}", err=True)
    click.echo(f"Index {settings.milvus_uri or settings.index_dir}: {report.summary()}")


_since = click.option("--since", metavar="DATE|SPAN", help="Only articles published on or after this day "
                      "(YYYY-MM-DD) or within this span back from today (30d, 2w, 6m, 1y).")
_until = click.option("--until", metavar="DATE", help="Only articles published on or before this day (YYYY-MM-DD).")
_source = click.option("--source", "sources", multiple=True, metavar="NAME",
                       help="Only articles from this source, e.g. 'BBC News' (repeatable).")
_added = click.option("--added-dates", is_flag=True, help="For articles with no publication date, let the day "
                      "their file was added count in --since/--until and for 'latest' questions.")


def _filters(
    since: str | None, until: str | None, sources: tuple[str, ...], added_dates: bool = False
) -> Filters | None:
    filters = Filters.parse(since=since, until=until, sources=sources, added_dates=added_dates)  # SettingsError
    return filters if filters.active or added_dates else None


@main.command()
@click.argument("question")
@click.option("-k", type=click.IntRange(1, 50), envvar="RAG_K", help="Passages to retrieve.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole answer as JSON.")
@_since
@_until
@_source
@_added
@click.pass_obj
def ask(
    settings: Settings, question: str, k: int | None, as_json: bool, since: str | None, until: str | None,
    sources: tuple[str, ...], added_dates: bool,
) -> None:
    """Answer one QUESTION from the articles (all of them, or those --since/--until/--source allow)."""
    filters = _filters(since, until, sources, added_dates)
    assistant = _assistant(settings)
    reply = assistant.answer(question, k=k, filters=filters)
    if as_json:
        click.echo(json.dumps(answer_to_dict(reply), ensure_ascii=False, indent=2))
        return
    click.echo(format_answer(reply, _entries(assistant)))


def _entries(assistant: Any) -> Mapping[str, DocumentEntry]:
    """The index's catalog (to name the sources of a story's other copies)."""
    try:
        return assistant.stored.catalog
    except (RagError, AttributeError):
        return {}


@main.command()
@click.option("-k", type=click.IntRange(1, 50), envvar="RAG_K", help="Passages to retrieve.")
@click.pass_obj
def chat(settings: Settings, k: int | None) -> None:
    """Chat in the terminal: what it is doing, then the checked answer as it is made; an empty line
    or Ctrl-D quits. The model's draft is not printed: only text that stays is."""
    from rag.types import Answer, Status

    assistant = _assistant(settings)
    click.echo("Loading the models…", err=True)
    assistant.warm_up()
    history: list[dict[str, str]] = []
    while True:
        try:
            question = input("\nQuestion> ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not question:
            break
        try:
            for event in assistant.stream(question, k=k, history=history):
                if isinstance(event, Status):
                    click.echo(click.style(f"({event.stage}…) ", dim=True), nl=False, err=True)
                elif isinstance(event, Answer):
                    click.echo("\n" + format_answer(event, _entries(assistant)))
                    history += [{"role": "user", "content": question}, {"role": "assistant", "content": event.text}]
        except RagError as err:
            click.echo(f"\nError: {err}", err=True)


def _parse_auth(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise click.BadParameter("expected USER:PASSWORD, both non-empty", ctx, param)
    return user, password


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="RAG_HOST", help="Address to listen on.")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535), envvar="RAG_PORT")
@click.option("--auth", envvar="RAG_AUTH", callback=_parse_auth, metavar="USER:PASSWORD", help="Require this login.")
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    envvar="RAG_ALLOW_HOSTS",
    metavar="NAME",
    help="Also answer to this host name (repeatable), e.g. behind a proxy; other names are refused.",
)
@click.option("--no-browser", is_flag=True, help="Do not open the chat in a web browser.")
@click.option("-k", type=click.IntRange(1, 50), envvar="RAG_K", help="Passages to retrieve.")
@click.pass_obj
def serve(
    settings: Settings,
    host: str,
    port: int,
    auth: tuple[str, str] | None,
    allow_hosts: tuple[str, ...],
    no_browser: bool,
    k: int | None,
) -> None:
    """Chat in a web browser: bring the index up to date, load the models, serve http://HOST:PORT.

    \b
    Another folder of articles, index or model:
      rag --documents PATH --index PATH --model NAME serve
    or RAG_DOCUMENTS, RAG_INDEX, RAG_MODEL (every setting: README.md, "Settings").
    """
    from ui.app import launch

    def progress(done: int, total: int, doc_id: str) -> None:
        if doc_id:
            click.echo(f"  embedding {doc_id} ({done + 1}/{total})", err=True)

    assistant = _assistant(settings)
    click.echo(f"Updating the index of {settings.documents_dir}…", err=True)
    report = assistant.index(progress)
    for skipped in report.skipped:
        click.echo(f"Skipped {skipped.path}: {skipped.reason}", err=True)
    for note in report.notes:
        click.echo(f"Note: {note}", err=True)
    click.echo(f"Index {settings.index_dir}: {report.summary()}", err=True)
    click.echo("Loading the models…", err=True)
    assistant.warm_up()
    from rag.ingest.feed_refresh import Quiet, Refresher

    quiet = Quiet()
    try:
        app, url = launch(
            assistant,
            settings,
            host=host,
            port=port,
            auth=auth,
            open_browser=not no_browser,
            k=k,
            allow_hosts=allow_hosts,
            quiet=quiet,
        )
    except OSError as err:
        message = f"Cannot serve on {host}:{port} ({err}). Choose another --port or RAG_PORT."
        raise click.ClickException(message) from None
    refresher = None
    if settings.feeds_every:
        refresher = Refresher(assistant, settings.feeds_every * 60, quiet=quiet, allow_hosts=settings.feed_hosts)
        refresher.start()
        click.echo(f"Feeds are refreshed every {settings.feeds_every} minutes (RAG_FEEDS_EVERY; 0 turns it off).",
                   err=True)
    click.echo(f"Chat running on {url}  (Ctrl-C to stop; `rag chat` chats in the terminal instead)")
    _stop_on_sigterm()
    try:
        app.block_thread()  # until Ctrl-C, or SIGTERM from a service manager
    finally:
        if refresher is not None:
            refresher.stop(timeout=1.0)
        app.close()


def _stop_on_sigterm() -> None:
    """Stop on SIGTERM as on Ctrl-C: the server shuts down in order, and gradio deletes the uploads
    it still holds (a refused one included). Python's default for SIGTERM ends the process at once."""
    import signal

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_obj
def models(settings: Settings, as_json: bool) -> None:
    """List the known models: installed or not, where, and whether the file is verified.

    Assembles and verifies the selected model if its packages are installed.
    """
    from rag.models import gguf as registry

    try:
        path = registry.resolve(settings.model, settings.model_cache_dir, settings.model_sha256)
        selected = f"Selected model: {settings.model} -> {path} (verified)"
    except RagError as err:
        selected = f"Selected model: {settings.model}: {err}"
    rows = registry.status(settings.model_cache_dir)
    if as_json:
        click.echo(json.dumps({"selected": settings.model, "models": rows}, indent=2))
        return
    click.echo(selected)
    for row in rows:
        state = "verified" if row["verified"] else ("installed" if row["installed"] else "not installed")
        click.echo(f"  {row['name']:<14} {state:<13} {int(str(row['size'])) / 1e6:>7.0f} MB  {row['path']}")
        if not row["installed"]:
            click.echo(f"  {'':<14} install: {row['install']}")


@main.command("eval")
@click.option(
    "--set",
    "set_name",
    type=click.Choice(["in-house", "xquad", "open", "xquad-open"]),
    help="One of the project's question sets, run on its own documents and index (rag/evaluation/sets.py).",
)
@click.option(
    "--questions",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("eval/questions.jsonl"),
    show_default=True,
    help="Question file (JSONL, described in eval/README.md), run on --documents.",
)
@click.option("-k", type=click.IntRange(1, 50), envvar="RAG_K", help="Passages to retrieve.")
@click.option("--limit", type=click.IntRange(min=1), help="Run only the first N (selected) cases.")
@click.option("--only", multiple=True, metavar="PREFIX", help="Run only ids starting with PREFIX (repeatable).")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Results folder [default: eval/results/TIME-MODEL]."
)
@click.option("--min-correct", type=click.FloatRange(0, 1), help="Fail below this share of correct cases.")
@click.option("--min-refusal", type=click.FloatRange(0, 1), help="Fail below this refusal rate on unanswerable cases.")
@click.option("--min-recall", type=click.FloatRange(0, 1), help="Fail below this retrieval recall@k.")
@click.option("--min-citation-precision", type=click.FloatRange(0, 1), help="Fail below this citation precision.")
@click.pass_obj
def eval_command(
    settings: Settings,
    set_name: str | None,
    questions: Path,
    k: int | None,
    limit: int | None,
    only: tuple[str, ...],
    out: Path | None,
    min_correct: float | None,
    min_refusal: float | None,
    min_recall: float | None,
    min_citation_precision: float | None,
) -> None:
    """Run a question set and report answers, retrieval, citations, refusals and speed.

    Writes results.json, report.md and chart.png, and exits with status 1 if a --min-* floor is missed
    (130 if stopped early by Ctrl-C or SIGTERM; the report then covers the cases done).
    """
    import signal

    from rag.evaluation import check_floors, evaluate, report
    from rag.evaluation.runner import evaluate_open
    from rag.evaluation.sets import question_set

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # like Ctrl-C: finish with a report of the cases done

    is_open = False
    if set_name:
        chosen = question_set(set_name, Path(__file__).resolve().parent.parent)
        questions, is_open = chosen.questions, chosen.open
        settings = dataclasses.replace(
            settings, documents_dir=chosen.documents, index_dir=chosen.index_dir(Path(__file__).resolve().parent.parent)
        )
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        assistant = _assistant(settings)
        assistant.index()
        if is_open:
            open_run = evaluate_open(assistant, questions, only=only, limit=limit)
        else:
            run = evaluate(assistant, questions, k=k, only=only, limit=limit)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if is_open:
        folder = out or report.default_folder(Path("eval/results"), f"{settings.model}-{set_name}")
        paths = report.write_open(open_run, folder)
        click.echo(report.open_table(open_run))
        click.echo(f"Report: {paths['markdown']}  (also {paths['json'].name})")
        return
    paths = report.write_all(run, out or report.default_folder(Path("eval/results"), run.model))
    click.echo(report.console_table(run))
    click.echo(f"Report: {paths['markdown']}  (also {paths['json'].name}, {paths['chart'].name})")
    floors = {
        "correct": min_correct,
        "refusal": min_refusal,
        "recall": min_recall,
        "citation_precision": min_citation_precision,
    }
    failures = check_floors(run.summary, floors)
    for failure in failures:
        click.echo(f"Below the floor: {failure}", err=True)
    if run.interrupted:
        sys.exit(130)
    if failures:
        sys.exit(1)


@main.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@click.pass_context
def add(ctx: click.Context, urls: tuple[str, ...]) -> None:
    """Fetch the articles at these web addresses into the documents folder (web/<site>/), then bring
    the index up to date as `rag index` does. Exits with status 1 if any address failed.

    Only public addresses are fetched: a host on this machine or a private network is refused
    unless RAG_FETCH_ALLOW_HOSTS names it."""
    from rag.errors import FetchError
    from rag.ingest.fetching import fetch_article

    settings: Settings = ctx.obj
    failed = 0
    for url in urls:
        try:
            article = fetch_article(url, settings.documents_dir, allow_hosts=settings.fetch_allow_hosts)
        except FetchError as err:
            failed += 1
            click.echo(f"Not added: {err}", err=True)
            continue
        about = ", ".join(x for x in (article.source, article.published, article.author) if x)
        click.echo(f"Saved {article.url} as {article.doc_id}: {article.title}" + (f" ({about})" if about else ""))
    if failed < len(urls):
        ctx.invoke(index)
    if failed:
        click.echo(f"{failed} of {len(urls)} addresses could not be added.", err=True)
        sys.exit(1)


@main.group(cls=_Group)
def feeds() -> None:
    """Follow RSS and Atom feeds: each entry becomes an article under documents/feeds/."""


@feeds.command("add")
@click.argument("url")
@click.option("--limit", type=click.IntRange(1, 1000), envvar="RAG_FEED_LIMIT",
              help="New entries saved per refresh at most [default: 50].")
@click.pass_context
def feeds_add(ctx: click.Context, url: str, limit: int | None) -> None:
    """Follow the feed at URL: fetch it now, save its entries, bring the index up to date."""
    from rag.ingest import feeds as following

    settings: Settings = _settings(ctx)
    result = following.add(url, settings.documents_dir, limit=limit or settings.feed_limit,
                           allow_hosts=settings.feed_hosts)
    click.echo(f"Following {result.feed.url} as {result.feed.title!r}: {len(result.saved)} articles saved in "
               f"{settings.documents_dir / following.FOLDER / result.feed.slug}")
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)
    if result.saved:
        ctx.invoke(index)


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def feeds_list(ctx: click.Context, as_json: bool) -> None:
    """List the feeds followed: address, title, last refresh, articles saved, last error."""
    from rag.ingest import feeds as following

    followed = following.load(_settings(ctx).documents_dir)
    if as_json:
        rows = [{k: v for k, v in dataclasses.asdict(f).items() if k != "seen"} for f in followed.values()]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not followed:
        click.echo("No feeds are followed. Add one with `rag feeds add URL`.")
    for feed in followed.values():
        state = f"error: {feed.last_error}" if feed.last_error else "ok"
        click.echo(f"{feed.url}\n  {feed.title or '(no title yet)'}; {feed.saved} articles; last refresh "
                   f"{feed.last_refresh or 'never'}; {state}")


@feeds.command("remove")
@click.argument("url")
@click.pass_context
def feeds_remove(ctx: click.Context, url: str) -> None:
    """Stop following the feed at URL (the articles it saved stay; delete its folder to drop them)."""
    from rag.ingest import feeds as following

    settings = _settings(ctx)
    feed = following.remove(url, settings.documents_dir)
    click.echo(f"No longer following {feed.url}. Its articles stay in "
               f"{settings.documents_dir / following.FOLDER / feed.slug}.")


@feeds.command("update")
@click.argument("urls", nargs=-1, metavar="[URL]...")
@click.pass_context
def feeds_update(ctx: click.Context, urls: tuple[str, ...]) -> None:
    """Refresh the feeds followed (or only these), save their new entries, bring the index up to date.
    Exits with status 1 if a feed failed (the others are still saved and indexed)."""
    from rag.ingest import feeds as following

    settings = _settings(ctx)
    results = following.refresh_all(settings.documents_dir, allow_hosts=settings.feed_hosts, only=urls)
    if not results:
        click.echo("No feeds are followed. Add one with `rag feeds add URL`.")
    for result in results:
        click.echo(result.line, err=bool(result.error))
        for note in result.notes:
            click.echo(f"  Note: {note}", err=True)
    if any(r.saved for r in results):
        ctx.invoke(index)
    if any(r.error for r in results):
        sys.exit(1)


def _settings(ctx: click.Context) -> Settings:
    root = ctx.find_root().obj
    assert isinstance(root, Settings)
    return root


def answer_to_dict(reply: Answer) -> dict[str, Any]:
    data = dataclasses.asdict(reply)
    data["timings"]["tokens_per_s"] = round(reply.timings.tokens_per_s, 1)
    return data


def also_in_text(
    doc_ids: tuple[str, ...], entries: Mapping[str, DocumentEntry | Mapping[str, Any]] | None = None
) -> str:
    """The other copies of a story, as a reader names them: "Reuters (wire/a.txt), b.txt".

    >>> also_in_text(("wire/a.txt", "b.txt"), {"wire/a.txt": {"source": "Reuters"}})
    'Reuters (wire/a.txt), b.txt'
    """
    parts = []
    for doc_id in doc_ids:
        from rag.index import DocumentEntry

        known = (entries or {}).get(doc_id)
        source = DocumentEntry.of(doc_id, known).source if known is not None else None
        parts.append(f"{source} ({doc_id})" if source else doc_id)
    return ", ".join(parts)


def format_answer(reply: Answer, entries: Mapping[str, DocumentEntry | Mapping[str, Any]] | None = None) -> str:
    """The answer as `rag ask` prints it; `entries` (the index's catalog) name the sources of other copies."""
    lines = [reply.text]
    if reply.abstained and reply.passages:
        lines.append("\nClosest passages:")
        for n, hit in enumerate(reply.passages[:3], start=1):
            lines.append(f"  [{n}] {hit.title[:60]} (chars {hit.chunk.start}-{hit.chunk.end})")
    for c in reply.citations:
        quote = c.quote if len(c.quote) <= 200 else c.quote[:200] + "…"
        news = ", ".join(x for x in (c.source, day_of(c.published), c.url) if x)
        lines.append(f"\n[{c.marker}] {c.doc_id}, characters {c.start}-{c.end}{f' ({news})' if news else ''}"
                     f"\n    “{quote}”")
        if c.also_in:
            lines.append(f"    The same story is also in: {also_in_text(c.also_in, entries)}")
    t = reply.timings
    lines.append(f"\n{HOW_MADE[reply.mode]}")
    lines.append(
        f"({t.retrieval_s:.2f} s retrieval, {t.first_token_s:.1f} s to the answer's first word, {t.total_s:.1f} s "
        f"total; {reply.model})"
    )
    for warning in reply.warnings:
        lines.append(f"Warning: {warning}")
    for claim in reply.claims:
        if not claim.kept:
            lines.append(f"Not kept: “{claim.text}” ({claim.reason})")
    for note in reply.check_notes:
        lines.append(f"Checked: {note}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

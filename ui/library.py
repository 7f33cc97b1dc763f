"""The articles view: list what is indexed a page at a time, add uploaded files or fetched addresses,
remove an article; re-index each time.

Every change goes through the documents folder and then `Assistant.index`, which is incremental:
only the added or changed files are embedded, and a removed file leaves the index. The chunking and
embedding are done first by `Assistant.prepare`, outside the assistant's lock, so questions in
other sessions are answered meanwhile from the current index; `Assistant.index` then only writes.
Each action returns an escaped status message, a summary first; a refused file or address does not
stop the others. At most `MAX_FILES` files are taken per upload, `MAX_ADDRESSES` addresses per
request, and at most `MAX_NOTES` notices are shown. The uploaded copies gradio keeps in its cache
(`uploads_dir`) are deleted once handled, added or not. Another process writing the index (a
`rag index` run) is waited for (RAG_INDEX_WAIT); if it takes longer, the files stay saved and the
notice says they will be indexed next time. Errors never show the server's paths (ui/errors.py).

Deliberately not here: name and size checks (ui/uploads.py), fetching (ui/addresses.py), searching
and paging the table (ui/catalog.py), gradio (ui/app.py), HTML (ui/render.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from rag.errors import IndexBusy, RagError
from rag.index import DocumentEntry, IndexReport
from rag.pipeline import Assistant
from rag.types import Document
from ui import addresses, catalog, errors, render, uploads
from ui.addresses import MAX_ADDRESSES, Fetch
from ui.progress import Bar, Indexing, no_bar

log = logging.getLogger(__name__)

MAX_FILES = 100  # per upload: more is a folder copy, better done in the file manager and `rag index`
MAX_NOTES = 12


class Shown(NamedTuple):
    """One page of the articles table, the remove menu's choices on it, and the page number shown."""

    table: str
    choices: list[tuple[str, str]]
    page: int


class Library:
    def __init__(self, assistant: Assistant, uploads_dir: Path | None = None, fetch: Fetch | None = None) -> None:
        self.assistant = assistant
        self.uploads_dir = uploads_dir  # gradio's upload cache: files under it are deleted once handled
        self._fetch = fetch  # None: rag.ingest.fetching.fetch_article, imported when first used
        self._rows: tuple[Mapping[str, Any], int, list[catalog.Row]] | None = None  # (the entries read, their rows)

    @property
    def folder(self) -> Path:
        return self.assistant.settings.documents_dir

    def entries(self) -> Mapping[str, DocumentEntry]:
        """The index's catalog: each indexed article's entry, without its text."""
        return self.assistant.stored.catalog

    def documents(self) -> Mapping[str, Document]:
        return self.assistant.stored.documents

    def rows(self) -> list[catalog.Row]:
        """The table's rows, read again only when the index changed (each index update makes a new
        manifest), so paging through thousands of articles does not re-read them at every click."""
        entries = self.assistant.stored.catalog  # one per snapshot: the same object until the index changes
        cached = self._rows
        if cached is None or cached[0] is not entries or cached[1] != len(entries):
            cached = self._rows = (entries, len(entries), catalog.rows(entries, self.documents()))
        return cached[2]

    def show(self, view: catalog.View = catalog.View()) -> Shown:  # noqa: B008 (a frozen dataclass)
        """The page of the table `view` asks for (clamped to the pages there are)."""
        try:
            page = catalog.page_of(self.rows(), view)
        except RagError as err:
            return Shown(render.notice_html(self._public(err), "error"), [], 1)
        return Shown(
            render.documents_page(page), [(f"{r.title} ({r.doc_id})", r.doc_id) for r in page.rows], page.number
        )

    def table(self, view: catalog.View = catalog.View()) -> str:  # noqa: B008
        return self.show(view).table

    def choices(self, view: catalog.View = catalog.View()) -> list[tuple[str, str]]:  # noqa: B008
        """(label, doc id) pairs for the remove menu: the articles on the page shown."""
        return self.show(view).choices

    def sources(self) -> list[str]:
        """The sources of the indexed articles, for the chat's filter: each once, A–Z."""
        try:
            return catalog.sources(self.rows())
        except RagError:
            return []

    def _index(self, progress: Bar) -> IndexReport:
        report = Indexing(progress)
        progress(0.0, "Reading the documents folder")
        prepared = self.assistant.prepare(report)  # against the index in use: the folder's, or Milvus
        return self.assistant.index(report, prepared)

    def upload(self, files: Sequence[str | Path] | None, progress: Bar = no_bar) -> str:
        """Save the uploaded files and index them; the status message as HTML, a summary first."""
        if not files:
            return render.notice_html("Choose one or more .txt, .md, .html or .pdf files to add.", "info")
        notes: list[tuple[str, str]] = []
        added: list[str] = []
        already = refused = 0
        taken = list(files[:MAX_FILES])
        try:
            contents = uploads.FolderContents(self.folder)
            for n, file in enumerate(taken):
                path = Path(file)
                progress(n / len(taken), f"Saving {n + 1:,} of {len(taken):,} files: {path.name}")
                try:
                    saved = uploads.save_upload(path, path.name, self.folder, contents=contents)
                except uploads.UploadError as err:
                    notes.append((str(err), "error"))
                    refused += 1
                    continue
                except OSError as err:  # the upload vanished, or the folder cannot be written
                    notes.append((f"{path.name} could not be added ({err.strerror or err}).", "error"))
                    refused += 1
                    continue
                notes.append((saved.message, "ok" if saved.added else "info"))
                if saved.added:
                    added.append(saved.doc_id)
                else:
                    already += 1
        finally:
            self._discard(files)
        left_out = len(files) - len(taken)
        if left_out:
            notes.insert(
                0,
                (
                    f"{len(files)} files were sent: only the first {MAX_FILES} were taken. Upload the other "
                    f"{left_out} in another batch, or copy them into the documents folder and run `rag index`.",
                    "error",
                ),
            )
        not_indexed: set[str] = set()
        if added:
            indexed, not_indexed = self._reindex(progress, expect=added)
            notes.extend(indexed)
        summary = Summary(len(files), len(added) - len(not_indexed), already, refused, len(not_indexed), left_out)
        return _notices(notes, head=(summary.text, summary.kind))

    def add_addresses(self, text: str | None, progress: Bar = no_bar) -> tuple[str, str]:
        """Fetch each address (one a line) into the documents folder and index what was saved.

        Returns the status message as HTML, and the addresses not added (one a line) to try again.
        """
        urls = addresses.split(text)
        if not urls:
            return render.notice_html("Paste the address of an article (https://…), one per line.", "info"), ""
        try:
            fetch = self._fetch or addresses.default_fetch(self.assistant.settings.fetch_allow_hosts)
        except ImportError:
            log.exception("rag.ingest.fetching cannot be imported")
            message = "Adding articles by address is not available in this installation."
            return render.notice_html(message, "error"), "\n".join(urls)
        notes: list[tuple[str, str]] = []
        if len(urls) > MAX_ADDRESSES:
            notes.append(
                (
                    f"{len(urls)} addresses were given: only the first {MAX_ADDRESSES} were fetched. "
                    "Add the others in another batch.",
                    "error",
                )
            )
        results = addresses.fetch_all(urls[:MAX_ADDRESSES], self.folder, fetch, progress)
        saved = [r.doc_id for r in results if not r.error]
        notes.extend((r.message, "error" if r.error else "ok") for r in results)
        not_indexed: set[str] = set()
        if saved:
            indexed, not_indexed = self._reindex(progress, expect=saved)
            notes.extend(indexed)
        done = len(saved) - len(not_indexed)
        failed = len(results) - len(saved)
        head = f"{done} of {len(results)} address{'' if len(results) == 1 else 'es'} added"
        head += f", {failed} could not be fetched" if failed else ""
        head += f", {len(not_indexed)} saved but not indexed" if not_indexed else ""
        kind = "ok" if done == len(results) else "error" if not done else "info"
        retry = [r.url for r in results if r.error] + urls[MAX_ADDRESSES:]
        return _notices(notes, head=(head + ".", kind)), "\n".join(retry)

    def _public(self, err: Exception) -> str:
        return errors.public_message(str(err), errors.folders(self.assistant.settings))

    def _discard(self, files: Sequence[str | Path]) -> None:
        """Delete gradio's copies of these uploads (never anything outside its upload folder)."""
        if self.uploads_dir is None:
            return
        root = self.uploads_dir.resolve()
        for file in files:
            path = Path(file).resolve()
            if root not in path.parents:
                continue
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
                if path.parent != root and not any(path.parent.iterdir()):
                    path.parent.rmdir()  # gradio keeps each upload in a folder of its own

    def remove(self, doc_id: str | None, progress: Bar = no_bar) -> str:
        if not doc_id:
            return render.notice_html("Choose the article to remove first.", "info")
        try:
            uploads.remove_document(self.folder, doc_id, self.entries())
        except RagError as err:
            return render.notice_html(self._public(err), "error")
        notes = [(f"Removed {doc_id}.", "ok"), *self._reindex(progress)[0]]
        return _notices(notes)

    def _reindex(self, progress: Bar, expect: Sequence[str] = ()) -> tuple[list[tuple[str, str]], set[str]]:
        """Index the folder: the notices, and which of the `expect`ed new files were not indexed."""
        try:
            report = self._index(progress)
        except IndexBusy as err:
            later = (
                " The files are saved in the documents folder: they will be indexed by that run if it reads them, "
                "or the next time articles are added or removed."
            )
            return [(self._public(err) + (later if expect else ""), "error")], set(expect)
        except RagError as err:
            return [(self._public(err), "error")], set(expect)
        except Exception as err:  # a broken file or model must not take the page down
            log.exception("Indexing failed")
            return [(errors.unexpected(err, "indexing"), "error")], set(expect)
        notes = [(f"Index updated: {report.summary()}.", "info")]
        skipped = {Path(s.path).name: s.reason for s in report.skipped}
        missed = {name for name in expect if Path(name).name in skipped}
        notes.extend(
            (f"{name} was not indexed: {skipped[Path(name).name]}.", "error") for name in expect if name in missed
        )
        return notes, missed


@dataclass(frozen=True)
class Summary:
    """What became of the files of one upload, in one line."""

    sent: int
    added: int  # saved and indexed
    unchanged: int  # the same content was already in the library
    refused: int  # not saved: the notices say why
    not_indexed: int  # saved, but the indexer skipped them: the notices say why
    left_out: int  # over MAX_FILES

    @property
    def text(self) -> str:
        """
        >>> Summary(120, 90, 4, 3, 3, 20).text
        '120 files sent: 90 added, 4 already in the library, 3 refused, 3 saved but not indexed, 20 not taken.'
        >>> Summary(1, 1, 0, 0, 0, 0).text
        '1 file sent: 1 added.'
        """
        parts = [f"{self.added} added"]
        parts += [f"{self.unchanged} already in the library"] if self.unchanged else []
        parts += [f"{self.refused} refused"] if self.refused else []
        parts += [f"{self.not_indexed} saved but not indexed"] if self.not_indexed else []
        parts += [f"{self.left_out} not taken"] if self.left_out else []
        return f"{self.sent} file{'' if self.sent == 1 else 's'} sent: {', '.join(parts)}."

    @property
    def kind(self) -> str:
        if self.refused or self.not_indexed or self.left_out:
            return "error" if not self.added else "info"
        return "ok" if self.added else "info"


def _notices(notes: list[tuple[str, str]], head: tuple[str, str] | None = None) -> str:
    """The notices as HTML: `head` first, then the errors, at most MAX_NOTES in all, and how many more
    there were."""
    ordered = [n for n in notes if n[1] == "error"] + [n for n in notes if n[1] != "error"]
    room = MAX_NOTES - (head is not None)
    shown = ([head] if head else []) + ordered[:room]
    if len(ordered) > room:
        hidden = ordered[room:]
        refused = sum(kind == "error" for _, kind in hidden)
        shown.append((f"…and {len(hidden)} more notices ({refused} about refused files).", "info"))
    return "".join(render.notice_html(text, kind) for text, kind in shown)

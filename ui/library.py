"""The articles view: list what is indexed, add uploaded files, remove an article; re-index each time.

Every change goes through the documents folder and then `Assistant.index`, which is incremental:
only the added or changed files are embedded, and a removed file leaves the index. The chunking and
embedding are done first by `rag.indexing.prepare`, outside the assistant's lock, so questions in
other sessions are answered meanwhile from the current index; `Assistant.index` then only writes.
Each action returns an escaped status message; a refused file does not stop the others in the same
upload. At most `MAX_FILES` files are taken per upload, and at most `MAX_NOTES` notices are shown.
The uploaded copies gradio keeps in its cache (`uploads_dir`) are deleted once handled, added or not.

Deliberately not here: name and size checks (ui/uploads.py), gradio (ui/app.py), HTML (ui/render.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rag import indexing
from rag.errors import RagError
from rag.indexing import IndexReport
from rag.pipeline import Assistant
from ui import render, uploads

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]  # (fraction done, what is happening)

MAX_FILES = 100  # per upload: more is a folder copy, better done in the file manager and `rag index`
MAX_NOTES = 12


def _no_progress(fraction: float, what: str) -> None:
    return None


class Library:
    def __init__(self, assistant: Assistant, uploads_dir: Path | None = None) -> None:
        self.assistant = assistant
        self.uploads_dir = uploads_dir  # gradio's upload cache: files under it are deleted once handled

    @property
    def folder(self) -> Path:
        return self.assistant.settings.documents_dir

    def entries(self) -> dict[str, dict[str, Any]]:
        return dict(self.assistant.stored.manifest.get("documents", {}))

    def table(self) -> str:
        try:
            return render.documents_table(self.entries())
        except RagError as err:
            return render.notice_html(str(err), "error")

    def choices(self) -> list[tuple[str, str]]:
        """(label, doc id) pairs for the remove menu."""
        try:
            entries = self.entries()
        except RagError:
            return []
        return sorted(((f"{e.get('title') or doc_id} ({doc_id})", doc_id) for doc_id, e in entries.items()))

    def _index(self, progress: Progress) -> IndexReport:
        def report(done: int, total: int, doc_id: str) -> None:
            progress(done / total if total else 1.0, f"Indexing {doc_id}" if doc_id else "Saving the index")

        progress(0.0, "Reading the documents folder")
        s = self.assistant.settings
        indexing.prepare(s.documents_dir, s.index_dir, self.assistant.embedder, s.chunking, report)
        return self.assistant.index(report)

    def upload(self, files: Sequence[str | Path] | None, progress: Progress = _no_progress) -> str:
        """Save the uploaded files and index them; the status message as HTML."""
        if not files:
            return render.notice_html("Choose one or more .txt, .md, .html or .pdf files to add.", "info")
        notes: list[tuple[str, str]] = []
        added: list[str] = []
        try:
            contents = uploads.FolderContents(self.folder)
            for n, file in enumerate(files):
                path = Path(file)
                if n >= MAX_FILES:
                    continue
                try:
                    saved = uploads.save_upload(path, path.name, self.folder, contents=contents)
                except uploads.UploadError as err:
                    notes.append((str(err), "error"))
                    continue
                except OSError as err:  # the upload vanished, or the folder cannot be written
                    notes.append((f"{path.name} could not be added ({err.strerror or err}).", "error"))
                    continue
                notes.append((saved.message, "ok" if saved.added else "info"))
                if saved.added:
                    added.append(saved.doc_id)
        finally:
            self._discard(files)
        if len(files) > MAX_FILES:
            notes.insert(
                0,
                (
                    f"{len(files)} files were sent: only the first {MAX_FILES} were taken. Upload the other "
                    f"{len(files) - MAX_FILES} in another batch, or copy them into the documents folder and run "
                    "`rag index`.",
                    "error",
                ),
            )
        if added:
            notes.extend(self._reindex(progress, expect=added))
        return _notices(notes)

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

    def remove(self, doc_id: str | None, progress: Progress = _no_progress) -> str:
        if not doc_id:
            return render.notice_html("Choose the article to remove first.", "info")
        try:
            uploads.remove_document(self.folder, doc_id, self.entries())
        except RagError as err:
            return render.notice_html(str(err), "error")
        notes = [(f"Removed {doc_id}.", "ok"), *self._reindex(progress)]
        return _notices(notes)

    def _reindex(self, progress: Progress, expect: Sequence[str] = ()) -> list[tuple[str, str]]:
        try:
            report = self._index(progress)
        except RagError as err:
            return [(str(err), "error")]
        except Exception as err:  # a broken file or model must not take the page down
            log.exception("Indexing failed")
            return [(f"Indexing failed ({type(err).__name__}: {err}).", "error")]
        notes = [(f"Index updated: {report.summary()}.", "info")]
        skipped = {Path(s.path).name: s.reason for s in report.skipped}
        notes.extend((f"{name} was not indexed: {skipped[name]}.", "error") for name in expect if name in skipped)
        return notes


def _notices(notes: list[tuple[str, str]]) -> str:
    """The notices as HTML: the errors first, at most MAX_NOTES, and how many more there were."""
    ordered = [n for n in notes if n[1] == "error"] + [n for n in notes if n[1] != "error"]
    shown = ordered[:MAX_NOTES]
    if len(ordered) > MAX_NOTES:
        hidden = ordered[MAX_NOTES:]
        refused = sum(kind == "error" for _, kind in hidden)
        shown.append((f"…and {len(hidden)} more notices ({refused} about refused files).", "info"))
    return "".join(render.notice_html(text, kind) for text, kind in shown)

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from rag.errors import DocumentsError
from rag.ingest import loading
from rag.ingest.loading import load_documents


def test_reads_txt_md_html_and_titles(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("First line title\n\nBody text here.", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("Intro\n\n# The Heading\n\nMarkdown body.", encoding="utf-8")
    (tmp_path / "c.html").write_text(
        "<html><head><title>Page Title</title></head><body><nav><a href='/'>Home</a> | <a>Menu item</a></nav>"
        "<article><h1>Page Title</h1><p>The actual article paragraph talks about the lecture in Tokyo and "
        "continues with enough words to count as the main content of this page.</p>"
        "<p>A second paragraph of the article with more detail about the visit.</p></article>"
        "<footer>Copyright footer</footer></body></html>",
        encoding="utf-8",
    )
    (tmp_path / "ignored.csv").write_text("x,y", encoding="utf-8")
    documents, skipped = load_documents(tmp_path)
    by_id = {d.id: d for d in documents}
    assert set(by_id) == {"a.txt", "sub/b.md", "c.html"} and not skipped
    assert by_id["a.txt"].title == "First line title"
    assert by_id["sub/b.md"].title == "The Heading"
    html = by_id["c.html"]
    assert html.title == "Page Title"
    assert "actual article paragraph" in html.text
    assert "Menu item" not in html.text and "Copyright footer" not in html.text


def test_reads_pdf_text(tmp_path: Path) -> None:
    pdf = _tiny_pdf("Fourteen documents were signed in Tokyo.")
    (tmp_path / "doc.pdf").write_bytes(pdf)
    documents, skipped = load_documents(tmp_path)
    assert not skipped
    assert "Fourteen documents were signed" in documents[0].text


def test_bad_files_are_skipped_with_the_file_and_the_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "good.txt").write_text("A good article.", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("  \n\n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00")
    (tmp_path / "undecodable.txt").write_bytes(bytes(range(1, 256)) * 4)  # no encoding reads it as text
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    documents, skipped = load_documents(tmp_path)
    assert [d.id for d in documents] == ["good.txt"]
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "UTF-8" in reasons["undecodable.txt"]
    assert "broken.pdf" in reasons
    for name in reasons:
        assert name in caplog.text, "each skipped file is named in a warning"


def test_too_large_file_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loading, "MAX_FILE_BYTES", 10)
    (tmp_path / "big.txt").write_text("x" * 100, encoding="utf-8")
    documents, skipped = load_documents(tmp_path)
    assert not documents and "larger than" in skipped[0].reason


def test_a_file_with_too_much_text_is_skipped_with_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loading, "MAX_TEXT_CHARS", 1_000)
    (tmp_path / "book.txt").write_text("word " * 1_000, encoding="utf-8")
    (tmp_path / "article.txt").write_text("A short article.", encoding="utf-8")
    documents, skipped = load_documents(tmp_path)
    assert [d.id for d in documents] == ["article.txt"]
    assert "its text is 4,999 characters, more than the 1,000" in skipped[0].reason


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentsError, match="does not exist"):
        load_documents(tmp_path / "nope")


def test_normalisation_and_hash_are_stable(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes("\ufeffLine one.  \r\n\r\n\r\n\r\nLine two\r\n".encode())
    (tmp_path / "b.txt").write_text("Line one.\n\nLine two", encoding="utf-8")
    documents, _ = load_documents(tmp_path)
    a, b = documents
    assert a.text == "Line one.\n\nLine two" and a.hash == b.hash


def _tiny_pdf(text: str) -> bytes:
    """A minimal one-page PDF with a text layer, written by hand (no PDF writer needed)."""
    stream = f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_a_paragraph_long_first_line_is_not_used_as_the_title(tmp_path: Path) -> None:
    (tmp_path / "state-visit_to-japan.txt").write_text("A very long opening sentence " * 10, encoding="utf-8")
    (documents, _) = load_documents(tmp_path)
    assert documents[0].title == "State visit to japan"


def _encrypted_pdf(text: str, user_password: str, algorithm: str = "AES-256") -> bytes:
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_tiny_pdf(text))))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_an_aes_encrypted_pdf_with_no_user_password_is_read(tmp_path: Path) -> None:
    (tmp_path / "aes.pdf").write_bytes(_encrypted_pdf("Fourteen documents were signed in Tokyo.", ""))
    documents, skipped = load_documents(tmp_path)
    assert not skipped and "Fourteen documents were signed" in documents[0].text


def test_a_password_protected_pdf_is_skipped_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("A good article.", encoding="utf-8")
    (tmp_path / "locked.pdf").write_bytes(_encrypted_pdf("Secret.", "letmein"))
    (tmp_path / "locked-rc4.pdf").write_bytes(_encrypted_pdf("Secret.", "letmein", "RC4-128"))
    documents, skipped = load_documents(tmp_path)
    assert [d.id for d in documents] == ["good.txt"]
    assert {Path(s.path).name: "password-protected PDF" in s.reason for s in skipped} == {
        "locked.pdf": True,
        "locked-rc4.pdf": True,
    }


def test_any_failure_of_a_reader_skips_only_that_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pypdf.errors import DependencyError

    def no_crypto(html: str, url: str | None = None) -> tuple[str, dict[str, str]]:
        raise DependencyError("cryptography>=3.1 is required for AES algorithm")

    monkeypatch.setattr(loading, "html_article", no_crypto)
    (tmp_path / "good.txt").write_text("A good article.", encoding="utf-8")
    (tmp_path / "page.html").write_text("<p>Hello</p>", encoding="utf-8")
    documents, skipped = load_documents(tmp_path)
    assert [d.id for d in documents] == ["good.txt"]
    assert "DependencyError" in skipped[0].reason and "cryptography" in skipped[0].reason


def test_links_that_leave_the_documents_folder_are_skipped_and_named(tmp_path: Path) -> None:
    docs = tmp_path / "documents"
    (docs / "sub").mkdir(parents=True)
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash", encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "private.txt").write_text("Private notes.", encoding="utf-8")
    (docs / "article.txt").write_text("An article.", encoding="utf-8")
    (docs / "passwd.txt").symlink_to(secret)
    (docs / "sub" / "up.txt").symlink_to(Path("..") / ".." / "passwd")
    (docs / "elsewhere").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (docs / "same.txt").symlink_to(docs / "article.txt")  # a link inside the folder is fine
    (docs / "dangling.txt").symlink_to(tmp_path / "gone.txt")
    documents, skipped = load_documents(docs)
    assert sorted(d.id for d in documents) == ["article.txt", "same.txt"]
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert set(reasons) == {"passwd.txt", "up.txt", "dangling.txt", "elsewhere"}
    assert f"a link to {secret.resolve()}, outside the documents folder" in reasons["passwd.txt"]
    assert "root:x" not in "".join(d.text for d in documents)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_text_with_a_byte_order_mark_is_read(tmp_path: Path, encoding: str) -> None:
    text = "Токаев visited Tokyo.\nFourteen documents were signed."
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    (tmp_path / "wide.txt").write_bytes(data)
    documents, skipped = load_documents(tmp_path)
    assert not skipped and documents[0].text == text

"""Uploads land inside the documents folder under a clean name, or are refused with a clear reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from ui.uploads import MAX_STEM, UploadError, remove_document, safe_name, save_upload

ARTICLE = b"Tokyo Governor Yuriko Koike met the President on December 19.\n"


@pytest.mark.parametrize(
    ("sent", "saved"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("/etc/cron.d/evil.md", "evil.md"),
        ("C:\\Users\\me\\Tokyo visit (final).PDF", "Tokyo-visit-final.pdf"),
        ("a/../b.html", "b.html"),
        ("..\\..\\boot.ini.txt", "boot.ini.txt"),
        (".hidden.txt", "hidden.txt"),  # the loader skips hidden files, so no leading dot
        ("...txt", "article.txt"),
        (".txt", "article.txt"),
        ("nul\x00byte\n.txt", "nul-byte.txt"),
        ("Токаев в Японии.md", "Токаев-в-Японии.md"),
        ("report.markdown", "report.markdown"),
    ],
)
def test_safe_name_keeps_only_a_clean_last_component(sent: str, saved: str) -> None:
    assert safe_name(sent) == saved


@pytest.mark.parametrize(
    ("sent", "reason"),
    [
        ("", "no file name"),
        ("   ", "no file name"),
        ("dir/", "no file name"),
        ("../../etc/passwd", "no file extension"),
        ("notes.", "no file extension"),
        ("virus.exe", "is a .exe file"),
        ("article.txt.sh", "is a .sh file"),
        ("page.php", "only .txt, .md, .html or .pdf"),
    ],
)
def test_safe_name_refuses_with_a_reason(sent: str, reason: str) -> None:
    with pytest.raises(UploadError, match=reason):
        safe_name(sent)


def test_long_names_are_shortened() -> None:
    name = safe_name("x" * 300 + ".txt")
    assert name == "x" * MAX_STEM + ".txt"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "documents"
    path.mkdir()
    return path


def upload(tmp_path: Path, data: bytes, name: str = "sent.bin") -> Path:
    source = tmp_path / "incoming" / name
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(data)
    return source


def test_an_upload_is_saved_inside_the_folder_whatever_its_name(tmp_path: Path, folder: Path) -> None:
    saved = save_upload(upload(tmp_path, ARTICLE), "../../../outside.txt", folder)
    assert saved.added and saved.doc_id == "outside.txt"
    assert saved.path.parent == folder and saved.path.read_bytes() == ARTICLE
    assert not (tmp_path / "outside.txt").exists()
    assert "outside.txt" in saved.message


def test_the_same_content_is_not_added_twice(tmp_path: Path, folder: Path) -> None:
    save_upload(upload(tmp_path, ARTICLE), "koike.txt", folder)
    again = save_upload(upload(tmp_path, ARTICLE), "koike-copy.txt", folder)
    assert not again.added and again.doc_id == "koike.txt"
    assert "already in the library as koike.txt" in again.message
    assert sorted(p.name for p in folder.iterdir()) == ["koike.txt"]


def test_a_different_file_with_a_taken_name_is_saved_beside_it_and_said_so(tmp_path: Path, folder: Path) -> None:
    (folder / "koike.txt").write_bytes(ARTICLE)
    saved = save_upload(upload(tmp_path, b"Another article about the governor.\n"), "koike.txt", folder)
    assert saved.added and saved.doc_id == "koike-2.txt"
    assert (folder / "koike.txt").read_bytes() == ARTICLE  # never overwritten
    assert "A different file named koike.txt" in saved.message and "koike-2.txt" in saved.message


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"", "empty.txt", "is empty"),
        (b"x" * 2048, "big.txt", "is 2 KiB: articles can be at most 1 KiB"),
        (b"\x00\x01binary" * 10, "blob.txt", "looks binary"),
        (bytes(range(1, 256)) * 4, "undecodable.txt", "not valid UTF-8"),
        (b"not really a pdf", "fake.pdf", "not a readable PDF"),
        (ARTICLE, "script.js", r"is a \.js file"),
    ],
)
def test_unusable_uploads_are_refused_and_nothing_is_written(
    tmp_path: Path, folder: Path, data: bytes, name: str, reason: str
) -> None:
    with pytest.raises(UploadError, match=reason):
        save_upload(upload(tmp_path, data), name, folder, max_bytes=1024)
    assert list(folder.iterdir()) == []


def test_the_size_message_names_the_limit(tmp_path: Path, folder: Path) -> None:
    with pytest.raises(UploadError) as refused:
        save_upload(upload(tmp_path, b"a" * (3 * 1024 * 1024)), "long.txt", folder, max_bytes=2 * 1024 * 1024)
    assert str(refused.value) == "“long.txt” is 3 MiB: articles can be at most 2 MiB."


def test_remove_deletes_only_an_indexed_file_inside_the_folder(tmp_path: Path, folder: Path) -> None:
    (folder / "a.txt").write_bytes(ARTICLE)
    (tmp_path / "secret.txt").write_bytes(b"keep me")
    with pytest.raises(UploadError, match="not an indexed article"):
        remove_document(folder, "b.txt", {"a.txt"})
    with pytest.raises(UploadError, match="not inside the documents folder"):
        remove_document(folder, "../secret.txt", {"a.txt", "../secret.txt"})
    assert (tmp_path / "secret.txt").exists()
    assert remove_document(folder, "a.txt", {"a.txt"}) == folder / "a.txt"
    assert not (folder / "a.txt").exists()


def test_a_password_protected_pdf_upload_is_refused_and_says_so(tmp_path: Path, folder: Path) -> None:
    from tests.test_loading import _encrypted_pdf

    with pytest.raises(UploadError, match=r"“locked\.pdf” cannot be used: it is a password-protected PDF"):
        save_upload(upload(tmp_path, _encrypted_pdf("Secret plans.", "letmein")), "locked.pdf", folder)
    saved = save_upload(upload(tmp_path, _encrypted_pdf("The bridge opens in May.", "")), "aes.pdf", folder)
    assert saved.added and list(folder.iterdir()) == [folder / "aes.pdf"]


def test_a_utf16_upload_is_added(tmp_path: Path, folder: Path) -> None:
    saved = save_upload(upload(tmp_path, "Tokyo visit\n\nSigned 14 documents.".encode("utf-16")), "wide.txt", folder)
    assert saved.added and saved.message == "Added wide.txt."

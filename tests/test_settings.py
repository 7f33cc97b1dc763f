"""Every setting is checked when the settings are made; a bad one is one clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rag import Settings, cli
from rag.errors import SettingsError


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"RAG_K": "abc"}, "RAG_K (k) is 'abc': it takes a whole number from 1 to 50."),
        ({"RAG_K": "0"}, "RAG_K (k) is 0: it takes a whole number from 1 to 50."),
        ({"RAG_CONTEXT_SIZE": "200"}, "RAG_CONTEXT_SIZE (context_size) is 200: it takes a whole number from 1024"),
        ({"RAG_THREADS": "-1"}, "RAG_THREADS (threads) is -1"),
        ({"RAG_RETRIEVER": "nope"}, "RAG_RETRIEVER (retriever) is 'nope': it takes hybrid, dense, bm25."),
        ({"RAG_INDEX": "/etc/hostname"}, "RAG_INDEX (index_dir) is '/etc/hostname', which is a file: it must be a"),
    ],
)
def test_a_bad_environment_variable_names_itself_and_what_it_takes(environ: dict[str, str], says: str) -> None:
    if "RAG_INDEX" in environ and not Path(environ["RAG_INDEX"]).is_file():
        pytest.skip("needs /etc/hostname")
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(environ)
    assert says in str(refused.value)


def test_settings_made_in_python_are_checked_too(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^RAG_K \(k\) is 0"):
        Settings(k=0)
    with pytest.raises(SettingsError, match="answer_tokens is 2"):
        Settings(answer_tokens=2)
    with pytest.raises(SettingsError, match="documents_dir"):
        (tmp_path / "file.txt").write_text("x")
        Settings(documents_dir=tmp_path / "file.txt")


@pytest.mark.parametrize(
    ("variable", "value"),
    [("RAG_K", "abc"), ("RAG_CONTEXT_SIZE", "200"), ("RAG_RETRIEVER", "nope"), ("RAG_THREADS", "many")],
)
def test_the_cli_prints_one_line_not_a_traceback(variable: str, value: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.main, ["--index", str(tmp_path / "i"), "index"], env={variable: value})
    assert result.exit_code == 1
    assert f"Error: {variable} (" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1

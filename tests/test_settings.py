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
        # Issue #21: these gave a KeyError traceback (abc) or were accepted (-1, 0).
        ({"RAG_LLM_TIMEOUT": "abc"}, "RAG_LLM_TIMEOUT (llm_timeout) is 'abc': it takes a whole number from 1 to 3600."),
        ({"RAG_LLM_TIMEOUT": "-1"}, "RAG_LLM_TIMEOUT (llm_timeout) is -1: it takes a whole number from 1 to 3600."),
        ({"RAG_LLM_TIMEOUT": "0"}, "RAG_LLM_TIMEOUT (llm_timeout) is 0"),
        ({"RAG_LLM_REPLY_TIMEOUT": "1e9"}, "RAG_LLM_REPLY_TIMEOUT (llm_reply_timeout) is '1e9'"),
        ({"RAG_INDEX_WAIT": "-5"}, "RAG_INDEX_WAIT (index_wait) is -5: it takes a whole number from 0 to 86400."),
        ({"RAG_OPEN_ANSWERS": "guess"},
         "RAG_OPEN_ANSWERS (open_answers) is 'guess': it takes rewrite, generate, extract."),
        ({"RAG_LLM_URL": "localhost:8000"}, "RAG_LLM_URL (llm_url) is 'localhost:8000': it takes the server's address"),
        ({"RAG_MODEL_SHA256": "abc"}, "RAG_MODEL_SHA256 (model_sha256) is 'abc': it takes 64 hexadecimal digits."),
        ({"RAG_FETCH_ALLOW_HOSTS": "news.lan;rm -rf"}, "RAG_FETCH_ALLOW_HOSTS (fetch_allow_hosts) is"),
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
    [
        ("RAG_K", "abc"), ("RAG_CONTEXT_SIZE", "200"), ("RAG_RETRIEVER", "nope"), ("RAG_THREADS", "many"),
        ("RAG_LLM_TIMEOUT", "abc"), ("RAG_LLM_TIMEOUT", "-1"), ("RAG_INDEX_WAIT", "soon"),
    ],
)
def test_the_cli_prints_one_line_not_a_traceback(variable: str, value: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.main, ["--index", str(tmp_path / "i"), "index"], env={variable: value})
    assert result.exit_code == 1
    assert f"Error: {variable} (" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_new_settings_read_their_variables() -> None:
    settings = Settings.from_env(
        {"RAG_LLM_TIMEOUT": "5", "RAG_LLM_REPLY_TIMEOUT": "30", "RAG_INDEX_WAIT": "0",
         "RAG_FETCH_ALLOW_HOSTS": "news.lan, 10.0.0.5,"}
    )
    assert (settings.llm_timeout, settings.llm_reply_timeout, settings.index_wait) == (5, 30, 0)
    assert settings.fetch_allow_hosts == ("news.lan", "10.0.0.5")

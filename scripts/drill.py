"""The reliability drill of issue #21: each attack, against the CLI and a real `rag serve` on 127.0.0.1.

    flock /tmp/cpu.lock env PYTHONPATH=. .venv/bin/python scripts/drill.py [--writers 20] [--uploads 10]

1. Two writers: two `rag index` processes at once, `--writers` rounds (the second starts 0-1.5 s
   after the first, each with three articles of its own to add). After every round the index must
   load with every article readable, and no run may say "damaged".
2. Upload against the CLI: a real `rag serve` (the real embedder; the model is a scripted
   OpenAI-compatible stub, the judge off) takes an upload through its web API while a `rag index`
   adds six other articles (the upload starts 0-2 s after it), `--uploads` rounds. The upload must
   be indexed, the index whole, and the next question in the chat must find the CLI's article (the
   server sees what the CLI added).
3. Internal addresses: `rag add` and the Articles tab's address field, with every spelling of this
   machine and of private networks, and a redirect from an allowed host to localhost. All must be
   refused, and the internal server must receive no request.
4. The alias bomb: a 9x9 (and a 10x10) "billion laughs" front matter, indexed by `rag index` and
   uploaded to the server; time and peak memory against a plain file of the same size.
5. The endless reply: `rag ask` and the chat against a model server that streams forever (text
   ignoring max_tokens, fast or slow; keep-alive comments only; one byte every 2 s), with
   RAG_LLM_TIMEOUT=5 and RAG_LLM_REPLY_TIMEOUT=20. Each reply must be cut within its limit + 5 s,
   and the chat must answer its next question.
At the end, SIGTERM stops the server, which must leave no upload in gradio's cache.

Only the embedder loads (MiniLM on onnxruntime): the answering model is the stub and the judge is
off, since none of the attacks is about what a model says. Prints a Markdown table of the results;
exits 1 if any misses its target. Everything runs in a temporary folder (`--work` to keep it).
`--code DIR` runs the CLI and the server of another checkout (the code before a fix, say) and
`--only writers,uploads,addresses,bomb,stream` some of the attacks.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.index.local import store  # noqa: E402
from tests.openai_stub import Script, stub_server  # noqa: E402
from tests.test_fetch_guard import SPELLINGS  # noqa: E402
from tests.test_metadata_bounds import billion_laughs  # noqa: E402

ARTICLES = ("tokayev-state-visit-to-japan.txt", "tokayev-lecture-at-un-university.txt")
TOPICS = ["bridge", "harbour", "railway", "school", "hospital", "airport", "museum", "stadium", "library", "dam"]


@dataclass
class Result:
    attack: str
    measured: str
    target: str
    ok: bool


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float
    peak_mb: float  # the process's peak resident memory (ru_maxrss)


def article(name: str, n: int) -> str:
    """About 1,500 characters on a topic of its own, with a code word no other article has."""
    topic = TOPICS[n % len(TOPICS)]
    word = f"{name.replace('-', '')}x{n}"
    sentences = [
        f"Report {name} number {n} concerns the {topic} of the town of Kestrel {n}.",
        f"The code word of this report is {word}, and nothing else in the archive uses it.",
        f"The mayor opened the {topic} on day {n} in front of {100 + n} residents.",
        f"Engineers said the {topic} had cost {n * 3 + 7} million and taken {n % 5 + 2} years to build.",
        f"Critics of the {topic} asked why the council had not published the contracts.",
        f"The council answered that the contracts for the {topic} would be published within {n % 9 + 1} weeks.",
    ]
    return f"Drill report {name} {n}\n\n" + " ".join(sentences * 3)


class Drill:
    def __init__(self, work: Path, writers: int, uploads: int, code: Path = ROOT) -> None:
        self.code = code  # the repository whose `rag` the CLI and the server run
        self.work = work
        self.writers = writers
        self.uploads = uploads
        self.docs = work / "documents"
        self.index = work / "index"
        self.results: list[Result] = []
        self.log = work / "logs"
        self.log.mkdir(parents=True, exist_ok=True)
        self.docs.mkdir(parents=True, exist_ok=True)
        for name in ARTICLES:
            shutil.copy(ROOT / "documents" / name, self.docs / name)
        self.expected: set[str] = set(ARTICLES)
        self.runs = 0
        self.serve_log = self.log / "serve.err"
        self.serve_waits = 0

    # -- running the CLI -----------------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
        env.update(
            PYTHONPATH=str(self.code), RAG_DOCUMENTS=str(self.docs), RAG_INDEX=str(self.index), RAG_JUDGE_MODEL="none",
            GRADIO_TEMP_DIR=str(self.work / "gradio"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
        )
        env.update(extra)
        return env

    def start(self, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], Path, Path]:
        self.runs += 1
        out, err = self.log / f"{self.runs:03}.out", self.log / f"{self.runs:03}.err"
        process = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", *args], env=env or self.env(), cwd=self.work,
            stdout=out.open("wb"), stderr=err.open("wb"),
        )
        return process, out, err

    @staticmethod
    def finish(process: subprocess.Popen[bytes], out: Path, err: Path, started: float, timeout: float = 900) -> Run:
        watchdog = threading.Timer(timeout, process.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        return Run(process.returncode, out.read_text("utf-8", "replace"), err.read_text("utf-8", "replace"),
                   time.monotonic() - started, usage.ru_maxrss / 1024)

    def cli(self, *args: str, env: dict[str, str] | None = None) -> Run:
        started = time.monotonic()
        return self.finish(*self.start(*args, env=env), started)

    def check_index(self) -> tuple[bool, set[str], str]:
        """Whether the index loads and every article in it reads back; the missing articles."""
        try:
            manifest = json.loads((self.index / store.MANIFEST).read_text("utf-8"))
            stored = store.load(self.index, manifest["embedder"]["name"], manifest["embedder"]["dimension"])
            documents = set(stored.documents)
            for doc_id in documents:
                stored.documents[doc_id].text  # noqa: B018 - read back
            stored.close()
        except Exception as err:
            return False, set(self.expected), f"{type(err).__name__}: {err}"
        return True, self.expected - documents, ""

    def add(self, name: str, n: int) -> str:
        doc_id = f"{name}-{n:02}.txt"
        (self.docs / doc_id).write_text(article(name, n), encoding="utf-8")
        self.expected.add(doc_id)
        return doc_id

    def record(self, attack: str, measured: str, target: str, ok: bool) -> None:
        self.results.append(Result(attack, measured, target, ok))
        print(f"{'ok  ' if ok else 'MISS'} {attack}: {measured} (target: {target})", flush=True)

    # -- 1. two writers ------------------------------------------------------------------------
    def two_writers(self) -> None:
        first = self.cli("index")
        assert first.code == 0, first.err
        damaged = failed = waited = 0
        missing: set[str] = set()
        rng = random.Random(21)
        for r in range(self.writers):
            for k in range(3):
                self.add(f"cron{r:02}", k)
            started = time.monotonic()
            cron = self.start("index")
            time.sleep(rng.uniform(0, 1.5))
            for k in range(3):
                self.add(f"person{r:02}", k)
            person = self.start("index")
            runs = [self.finish(*cron, started), self.finish(*person, started)]
            failed += sum(run.code != 0 for run in runs)
            waited += sum("Waiting for another `rag index`" in run.err for run in runs)
            whole, lost, why = self.check_index()
            damaged += (not whole) or any("damaged" in run.err for run in runs)
            missing |= lost
            if not whole or lost or any(run.code for run in runs):
                print(f"  round {r}: whole={whole} missing={sorted(lost)} {why}", *(run.err[-500:] for run in runs))
        final = self.cli("index")
        tidy = "0 added, 0 changed, 0 removed" in final.out
        self.record(
            f"two `rag index` at once x {self.writers} rounds",
            f"{damaged} damaged, {failed} failed runs, {len(missing)} articles missing, {waited} runs waited "
            f"for the other; a last `rag index`: {'nothing to do' if tidy else final.out.strip()}",
            "0 damaged, every article present", damaged == 0 and failed == 0 and not missing and tidy,
        )

    # -- the server ----------------------------------------------------------------------------
    @contextmanager
    def server(self) -> Iterator[tuple[str, subprocess.Popen[bytes], Script]]:
        script = Script(reply="The articles do not say.")
        with stub_server(script) as llm:
            port = _free_port()
            env = self.env(RAG_LLM_URL=llm, RAG_LLM_TIMEOUT="5", RAG_LLM_REPLY_TIMEOUT="20",
                           RAG_MODEL="smollm2-135m")
            process, out, err = self.start("serve", "--port", str(port), "--no-browser", env=env)
            self.serve_log, self.serve_waits = err, 0
            deadline = time.monotonic() + 300
            while "Chat running on" not in out.read_text("utf-8", "replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"rag serve did not start:\n{err.read_text('utf-8', 'replace')[-3000:]}")
                time.sleep(0.5)
            try:
                yield f"http://127.0.0.1:{port}/", process, script
            finally:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        process.wait(60)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()

    # -- 2. upload against the CLI -------------------------------------------------------------
    def upload_against_cli(self, url: str, server: subprocess.Popen[bytes]) -> None:
        from gradio_client import Client, handle_file

        client = Client(url, verbose=False)
        rng = random.Random(7)
        damaged = not_indexed = unseen = leaks = 0
        missing: set[str] = set()
        overlapped = 0
        for r in range(self.uploads):
            cli_docs = [self.add(f"cli{r:02}", k) for k in range(6)]
            started = time.monotonic()
            cli = self.start("index")
            time.sleep(rng.uniform(0.0, 2.0))
            upload = self.work / "outgoing" / f"web-{r:02}.txt"
            upload.parent.mkdir(exist_ok=True)
            upload.write_text(article("web", r), encoding="utf-8")
            status, *_ = client.predict([handle_file(str(upload))], api_name="/upload")
            self.expected.add(f"web-{r:02}.txt")
            run = self.finish(*cli, started)
            waits = self.serve_log.read_text("utf-8", "replace").count("Waiting for another `rag index`")
            overlapped += "Waiting for another `rag index`" in run.err or waits > self.serve_waits
            self.serve_waits = waits
            whole, lost, why = self.check_index()
            damaged += (not whole) or "damaged" in run.err or "damaged" in status
            missing |= lost
            if "1 added" not in status or "not indexed" in status or "went wrong" in status:
                not_indexed += 1
                print(f"  round {r}: upload said {re.sub('<[^>]+>', ' ', status)[:400]}")
            chat, sources, *_ = client.predict(
                f"What does drill report {cli_docs[0][:-4]} say about code word cli{r:02}x0?", api_name="/ask"
            )
            answer = json.dumps(chat[-1]) + sources
            if cli_docs[0] not in sources or "went wrong" in answer:
                unseen += 1
                print(f"  round {r}: the chat did not find {cli_docs[0]}: {re.sub('<[^>]+>', ' ', answer)[:400]}")
            leaks += str(self.work) in status + answer
            if not whole or lost:
                print(f"  round {r}: whole={whole} missing={sorted(lost)} {why}")
        self.record(
            f"upload through `rag serve` while a `rag index` writes x {self.uploads} rounds",
            f"{damaged} damaged, {not_indexed} uploads not indexed, {len(missing)} articles missing, the chat "
            f"missed the CLI's new article {unseen} times, {leaks} pages showed a server path "
            f"({overlapped} rounds had a writer wait for the other)",
            "0 damaged, every article present and found",
            damaged == 0 and not_indexed == 0 and not missing and unseen == 0 and leaks == 0,
        )

    # -- 3. internal addresses -----------------------------------------------------------------
    def internal_addresses(self, url: str) -> None:
        from gradio_client import Client

        with internal_server() as (port, seen):
            urls = [s.format(port=port) for s in SPELLINGS]
            run = self.cli("add", *urls)
            refused = run.err.count("was not fetched")
            self.record(
                f"`rag add` with {len(urls)} spellings of this machine, private networks and 169.254.169.254",
                f"{refused} refused, {len(seen)} requests reached the internal server", f"{len(urls)} refused, 0",
                refused == len(urls) and not seen and run.code == 1,
            )
            go = self.cli("add", f"http://127.0.0.1:{port}/go", env=self.env(RAG_FETCH_ALLOW_HOSTS="127.0.0.1"))
            hop = f"it redirects to http://localhost:{port}/secret" in go.err
            self.record(
                "`rag add` of an allowed host that redirects to localhost",
                f"{'refused at the redirect' if hop else go.err.strip()[-200:]}; requests: {[p for p, _ in seen]}",
                "refused, /secret never requested", hop and all(p != "/secret" for p, _ in seen),
            )
            seen.clear()
            client = Client(url, verbose=False)
            web_refused = retry_count = 0
            for batch in (urls[:10], urls[10:]):  # the page shows at most 12 notices at once
                status, _, _, retry = client.predict("\n".join(batch), api_name="/add_addresses")
                web_refused += status.count("was not fetched")
                retry_count += len(retry.splitlines())
            self.record(
                f"the Articles tab's address field with the same {len(urls)} addresses",
                f"{web_refused} refused, {len(seen)} requests reached the internal server, "
                f"{retry_count} left to retry", f"{len(urls)} refused, 0",
                web_refused == len(urls) and not seen,
            )
            saved = list((self.docs / "web").rglob("*.md")) if (self.docs / "web").exists() else []
            self.record("internal pages saved into the documents folder", f"{len(saved)}", "0", not saved)

    # -- 4. the alias bomb ---------------------------------------------------------------------
    def alias_bomb(self, url: str, server: subprocess.Popen[bytes]) -> None:
        from gradio_client import Client, handle_file

        for levels in (9, 10):
            bomb = billion_laughs(levels)
            control = "---\ntitle: Control\n---\n" + ("The body of the article. " * 40)[: len(bomb) - 24] + "\n"
            times: dict[str, Run] = {}
            for kind, text in (("control", control), ("bomb", bomb)):
                name = f"{kind}-{levels}.md"
                (self.docs / name).write_text(text, encoding="utf-8")
                self.expected.add(name)
                times[kind] = self.cli("index")
            bomb_run, control_run = times["bomb"], times["control"]
            extra_s = bomb_run.seconds - control_run.seconds
            extra_mb = bomb_run.peak_mb - control_run.peak_mb
            noted = "YAML alias" in bomb_run.err
            self.record(
                f"`rag index` of a {levels}x{levels} alias bomb ({len(bomb)} bytes)",
                f"{bomb_run.seconds:.1f} s, peak {bomb_run.peak_mb:.0f} MB; a plain file of that size: "
                f"{control_run.seconds:.1f} s, {control_run.peak_mb:.0f} MB (bomb {extra_s:+.1f} s, {extra_mb:+.0f} MB)"
                f"; {'noted and indexed without its metadata' if noted else 'NOT NOTED'}",
                "<= 2 s and <= 100 MB more than the plain file",
                bomb_run.code == 0 and extra_s <= 2 and extra_mb <= 100 and noted,
            )
        client = Client(url, verbose=False)
        uploads: dict[str, tuple[float, float, str]] = {}
        for kind in ("control", "bomb"):
            bomb = billion_laughs(10)
            text = bomb if kind == "bomb" else "---\ntitle: Control\n---\n" + "The body of the article. " * 40
            text = text[: len(bomb)] + "\nUploaded through the web page.\n"  # not the same bytes as the CLI's
            upload = self.work / "outgoing" / f"{kind}-upload.md"
            upload.parent.mkdir(exist_ok=True)
            upload.write_text(text, encoding="utf-8")
            before = _memory(server.pid)
            started = time.monotonic()
            status, *_ = client.predict([handle_file(str(upload))], api_name="/upload")
            seconds = time.monotonic() - started
            self.expected.add(f"{kind}-upload.md")
            after = _memory(server.pid)
            uploads[kind] = (seconds, after["VmHWM"] - before["VmHWM"], status)
            if kind == "bomb":
                memory = (f"server memory {before['VmRSS']:.0f} -> {after['VmRSS']:.0f} MB, peak "
                          f"{before['VmHWM']:.0f} -> {after['VmHWM']:.0f} MB")
        (bomb_s, grew, status), (control_s, _, _) = uploads["bomb"], uploads["control"]
        added = "1 added" in status
        self.record(
            "upload of the 10x10 alias bomb to `rag serve`",
            f"{bomb_s:.1f} s (a plain file of that size: {control_s:.1f} s); {memory} ({grew:+.0f} MB); "
            f"{'added' if added else re.sub('<[^>]+>', ' ', status)[:200]}",
            "<= 2 s more than the plain file, <= 100 MB more memory",
            added and bomb_s - control_s <= 2 and grew <= 100,
        )

    # -- 5. the endless reply ------------------------------------------------------------------
    def endless(self, url: str, served: Script) -> None:
        from gradio_client import Client

        modes = [
            ("text forever, ignoring max_tokens", "pieces", 0.0, "the length of 120 tokens", 20.0),
            ("text forever, a piece a second", "pieces", 1.0, "RAG_LLM_REPLY_TIMEOUT=20", 20.0),
            ("keep-alive comments every second, no text", "keepalive", 1.0, "RAG_LLM_TIMEOUT=5", 5.0),
            ("one byte every 2 s", "trickle", 2.0, "RAG_LLM_TIMEOUT=5", 5.0),
        ]
        for what, endless, interval, limit, limit_s in modes:
            script = Script(endless=endless, interval_s=interval)
            with stub_server(script) as llm:
                env = self.env(RAG_LLM_URL=llm, RAG_LLM_TIMEOUT="5", RAG_LLM_REPLY_TIMEOUT="20",
                               RAG_MODEL="smollm2-135m", RAG_OPEN_ANSWERS="generate")
                run = self.cli("ask", "How many documents were signed after the talks?", env=env)
                script.hung_up.wait(30)
            cut = script.hung_up_at - script.began_at if script.hung_up.is_set() else float("inf")
            said = (run.err.strip().splitlines() or [""])[-1][:160] if run.code else "answered from the cut reply"
            self.record(
                f"`rag ask`, model server sending {what}",
                f"cut {cut:.1f} s after the reply began ({limit}); `rag ask` exited {run.code} after "
                f"{run.seconds:.1f} s in all: {said}",
                f"cut within {limit_s:g} + 5 s", cut <= limit_s + 5,
            )
        client = Client(url, verbose=False)
        served.endless, served.interval_s = "keepalive", 1.0
        served.hung_up.clear()
        started = time.monotonic()
        chat, *_ = client.predict("How many documents were signed after the talks?", api_name="/ask")
        seconds = time.monotonic() - started
        served.endless = ""
        cut = served.hung_up_at - served.began_at if served.hung_up.wait(30) else float("inf")
        started = time.monotonic()
        nxt, *_ = client.predict("Who did Tokayev meet in Tokyo?", api_name="/ask")
        after = time.monotonic() - started
        said = _said(chat[-1])
        self.record(
            "the web chat, model server sending keep-alives only",
            f"cut {cut:.1f} s after the reply began; after {seconds:.1f} s the chat said “{said[:150]}…”; "
            f"the next question was answered in {after:.1f} s", "cut within 5 + 5 s; the next question answered",
            cut <= 10 and "RAG_LLM_TIMEOUT" in said and "went wrong" not in _said(nxt[-1]),
        )

    # -- at the end ----------------------------------------------------------------------------
    def sigterm(self, server: subprocess.Popen[bytes]) -> None:
        cache = self.work / "gradio"
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            code = server.wait()
        files = [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
        left = [p for p in files if p.stat().st_size]
        # gradio's File component makes an empty NamedTemporaryFile for every file it hands over
        # (gradio/components/file.py, _process_single_file) and never deletes it: no upload's content.
        empty = len(files) - len(left)
        self.record("SIGTERM to `rag serve`", f"exited {code}; {len(left)} uploads left in gradio's cache "
                    f"({empty} empty files gradio's File component leaves, one per upload)", "0 left", not left)

    def final_check(self) -> None:
        whole, lost, why = self.check_index()
        self.record("the index at the end", f"{'loads' if whole else why}; {len(self.expected) - len(lost)} of "
                    f"{len(self.expected)} articles present", "whole, all present", whole and not lost)


def _said(message: dict[str, Any]) -> str:
    """The text a chat message shows (its Markdown escapes removed)."""
    content = message.get("content")
    text = "".join(p.get("text", "") for p in content) if isinstance(content, list) else str(content)
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def _memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of a process, in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def internal_server() -> Iterator[tuple[int, list[tuple[str, str | None]]]]:
    """An internal service on 127.0.0.1 with a secret page, and /go, which redirects to localhost."""
    from tests.test_fetch_guard import _Internal

    seen: list[tuple[str, str | None]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Internal,), {"seen": seen}))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1]), seen
    finally:
        server.shutdown()
        server.server_close()


def table(results: list[Result], header: dict[str, Any]) -> str:
    lines = [f"{k}: {v}" for k, v in header.items()] + ["", "| attack | measured | target | met |", "|---|---|---|---|"]
    lines += [f"| {r.attack} | {r.measured} | {r.target} | {'yes' if r.ok else '**no**'} |" for r in results]
    return "\n".join(lines)


ATTACKS = ("writers", "uploads", "addresses", "bomb", "stream")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=20, help="rounds of two `rag index` at once")
    parser.add_argument("--uploads", type=int, default=10, help="rounds of an upload against a `rag index`")
    parser.add_argument("--work", type=Path, help="keep everything in this folder (default: a temporary one)")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose rag to run (default: this one)")
    parser.add_argument("--only", default=",".join(ATTACKS), help=f"some of {','.join(ATTACKS)}")
    args = parser.parse_args()
    only = set(args.only.split(","))
    work = args.work or Path(tempfile.mkdtemp(prefix="rag-drill-"))
    drill = Drill(work, args.writers, args.uploads, args.code.resolve())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=args.code, capture_output=True, text=True)
    header = {
        "commit": commit.stdout.strip() or str(args.code),
        "date": dt.datetime.now().astimezone().isoformat(timespec="minutes"), "cores": os.cpu_count(),
        "work": str(work),
    }
    started = time.monotonic()
    try:
        if "writers" in only:
            drill.two_writers()
        if only & {"uploads", "addresses", "bomb", "stream"}:
            with drill.server() as (url, server, script):
                if "uploads" in only:
                    drill.upload_against_cli(url, server)
                if "addresses" in only:
                    drill.internal_addresses(url)
                if "bomb" in only:
                    drill.alias_bomb(url, server)
                if "stream" in only:
                    drill.endless(url, script)
                drill.sigterm(server)
        drill.final_check()
    finally:
        header["minutes"] = f"{(time.monotonic() - started) / 60:.1f}"
        print()
        print(table(drill.results, header))
        if args.work is None and all(r.ok for r in drill.results):
            shutil.rmtree(work, ignore_errors=True)
    return 0 if drill.results and all(r.ok for r in drill.results) else 1


if __name__ == "__main__":
    sys.exit(main())

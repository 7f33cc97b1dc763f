"""Which llama.cpp build is installed, which of its CPU variants this process runs, and proof that
it decodes on this machine before a model is trusted with a question.

`scripts/setup.sh` builds llama-cpp-python with runtime CPU dispatch (`GGML_BACKEND_DL`,
`GGML_CPU_ALL_VARIANTS`): one wheel holds the CPU code compiled for about fourteen x86-64 levels
(x64 … haswell … icelake, zen4 … sapphirerapids), each a `libggml-cpu-<name>.so` whose
`ggml_backend_score()` says how well it fits the CPU it runs on (0: it cannot run here). The
wheel runs on any x86-64 CPU, and pip may cache and reuse it anywhere.

The best-scoring variant is not always one that works: the sapphirerapids variant uses AMX tile
instructions whenever CPUID lists them, and some virtual machines list AMX but fault on it
(SIGILL or SIGSEGV in the first matrix product). A native crash cannot be caught in the process
it happens in, so each model is first tried in a child process (`check`): it loads the variant,
the model, and decodes a few tokens. When the child dies of a signal, the variant is recorded as
crashing on this build and CPU, and the next best is tried. What was proven is remembered in
`~/.cache/local-rag/llama-checks.json` (`checks_file()`), keyed by the build and the CPU, so this
costs a second or two once per model file, not per start.

`RAG_LLAMA_CPU` (Settings.llama_cpu) forces a variant: `x64` is the slowest and runs everywhere.
A build without runtime dispatch (a llama-cpp-python installed some other way) has its CPU code
linked in: nothing is chosen, and the proof still runs.

Deliberately not here: generating text (generation.py) or finding model files (gguf.py).
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import ModelError

log = logging.getLogger(__name__)

AUTO = "auto"
CHECKS_FILE = "llama-checks.json"
CHECK_TIMEOUT_S = 300.0  # a child that loads a 1.1 GB model from a cold disk and decodes four tokens
_VARIANT = re.compile(r"^(?:lib)?ggml-cpu-(?P<name>[\w.]+)\.(?:so|dll|dylib)$")


@dataclass(frozen=True)
class CpuVariant:
    name: str  # "haswell", "icelake", "x64" …
    path: Path
    score: int  # ggml_backend_score() on this CPU; 0: it cannot run here


@dataclass(frozen=True)
class LlamaBuild:
    version: str  # llama-cpp-python's
    lib_dir: Path  # llama_cpp/lib: libllama and libggml
    variants: tuple[CpuVariant, ...]  # best score first; empty: CPU code linked in (no runtime dispatch)

    @property
    def dispatched(self) -> bool:
        return bool(self.variants)

    @property
    def id(self) -> str:
        """Changes whenever the build is replaced: a proof holds for one build only."""
        parts = [self.version, *(f"{v.name}:{_stat_key(v.path)}" for v in self.variants)]
        if not self.variants:
            parts.append(_stat_key(self.lib_dir / "libllama.so"))
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    def describe(self) -> str:
        kind = f"runtime CPU dispatch, {len(self.variants)} variants" if self.dispatched else "CPU code linked in"
        return f"llama-cpp-python {self.version} ({kind}, {self.lib_dir})"

    def variant(self, name: str) -> CpuVariant:
        for v in self.variants:
            if v.name == name:
                return v
        names = ", ".join(v.name for v in self.variants) or "none: this build has its CPU code linked in"
        raise ModelError(f"RAG_LLAMA_CPU is {name!r}, which this llama.cpp build does not have. Its CPU variants: "
                         f"{names}; or `auto`.")


def _stat_key(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return "missing"
    return f"{st.st_size}-{st.st_mtime_ns}"


def _site_dirs() -> tuple[str, Path]:
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        raise ModelError("llama-cpp-python is not installed: run `bash scripts/setup.sh`.")
    package = Path(spec.origin).parent
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("llama_cpp_python")
    except PackageNotFoundError:
        installed = "unknown"
    return installed, package


def variant_files(package: Path) -> list[tuple[str, Path]]:
    """The CPU variant libraries a runtime-dispatched build installed: pip puts them in
    site-packages/bin (where llama.cpp's CMake installs loadable backends), a build that set
    CMAKE_INSTALL_BINDIR beside libllama."""
    found: dict[str, Path] = {}
    for folder in (package.parent / "bin", package / "lib"):
        if folder.is_dir():
            for entry in sorted(folder.iterdir()):
                match = _VARIANT.match(entry.name)
                if match and entry.is_file():
                    found.setdefault(match.group("name"), entry)
    return sorted(found.items())


def _score(path: Path) -> int:
    """ggml_backend_score() of one variant, as ggml itself reads it: load, call, unload. The score
    function checks CPUID only; it runs no instruction the variant was compiled for."""
    try:
        lib = ctypes.CDLL(str(path), mode=os.RTLD_LOCAL if hasattr(os, "RTLD_LOCAL") else 0)
    except OSError as err:
        log.warning("Cannot load llama.cpp CPU variant %s: %s", path, err)
        return 0
    try:
        score = getattr(lib, "ggml_backend_score", None)
        if score is None:
            return 0
        score.restype = ctypes.c_int
        return int(score())
    finally:
        _dlclose(lib)


def _dlclose(lib: ctypes.CDLL) -> None:
    try:
        import _ctypes

        _ctypes.dlclose(lib._handle)  # type: ignore[attr-defined]
    except (ImportError, AttributeError, OSError):
        pass


_build: LlamaBuild | None = None
_loaded: CpuVariant | None = None
_load_lock = threading.Lock()


def find_build() -> LlamaBuild:
    """The installed build, its variants scored on this CPU (imports llama_cpp, which loads libllama:
    the variants need its libggml-base)."""
    global _build
    if _build is None:
        installed, package = _site_dirs()
        import llama_cpp  # noqa: F401  (loads libllama and libggml-base, which the variants link to)

        variants = [CpuVariant(name, path, _score(path)) for name, path in variant_files(package)]
        variants.sort(key=lambda v: (-v.score, v.name))
        _build = LlamaBuild(installed, package / "lib", tuple(variants))
    return _build


def _ggml(build: LlamaBuild) -> ctypes.CDLL:
    """libggml as libllama loaded it: the one backend registry of this process."""
    for name in ("libggml.so.0", "libggml.so", "libggml.dylib", "ggml.dll"):
        path = build.lib_dir / name
        if path.exists():
            lib = ctypes.CDLL(str(path))
            lib.ggml_backend_reg_count.restype = ctypes.c_size_t
            lib.ggml_backend_load.restype = ctypes.c_void_p
            lib.ggml_backend_load.argtypes = [ctypes.c_char_p]
            return lib
    raise ModelError(f"{build.describe()} has no libggml in {build.lib_dir}: reinstall it with "
                     "`bash scripts/setup.sh`.")


def load_variant(name: str) -> CpuVariant | None:
    """Register this CPU variant with llama.cpp, once per process, before any model loads (after
    that, llama.cpp would load the best-scoring one itself, AMX or not). None for a build whose
    CPU code is linked in. Loading a second, different variant is refused: ggml keeps the first."""
    global _loaded
    build = find_build()
    if not build.dispatched:
        return None
    with _load_lock:
        if _loaded is not None:
            if _loaded.name != name:
                raise ModelError(f"llama.cpp already runs its {_loaded.name} CPU variant in this process; "
                                 f"{name} cannot be loaded beside it.")
            return _loaded
        variant = build.variant(name)
        _quiet_llama_log()
        ggml = _ggml(build)
        if ggml.ggml_backend_reg_count():  # llama.cpp has chosen already (a model loaded without prepare())
            log.warning("llama.cpp's backends were loaded before a CPU variant was chosen; %s is not loaded", name)
            return None
        if not ggml.ggml_backend_load(str(variant.path).encode()):
            raise ModelError(f"llama.cpp could not load its CPU variant {variant.path}: reinstall it with "
                             "`bash scripts/setup.sh`.")
        _loaded = variant
        log.info("llama.cpp runs its %s CPU variant (%s)", variant.name, variant.path)
        return variant


def _quiet_llama_log() -> None:
    """llama-cpp-python prints every llama.cpp log line (as "load_backend: loaded CPU backend …")
    until a model is loaded with verbose=False; this library logs the variant itself."""
    try:
        from llama_cpp import _logger
    except ImportError:
        return
    if _logger.logger.level == logging.NOTSET:
        _logger.set_verbose(False)


def loaded() -> CpuVariant | None:
    return _loaded


# -- proof ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Trial:
    """One child process's attempt: a variant, a model, four tokens."""

    variant: str  # "" for a build with its CPU code linked in
    ok: bool
    crashed: bool  # killed by a signal: a native crash, not an error Python could report
    detail: str  # what the child said last, or the signal
    seconds: float = 0.0


@dataclass
class Checks:
    """What has been proven on one build and CPU: the variants that crash, and per model file the
    variant it decoded with."""

    build: str
    cpu: str
    crashed: dict[str, str] = field(default_factory=dict)  # variant -> why
    proven: dict[str, str] = field(default_factory=dict)  # model key -> variant

    @classmethod
    def read(cls, path: Path, build: str, cpu: str) -> Checks:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("build") == build and data.get("cpu") == cpu:
                return cls(build, cpu, dict(data.get("crashed", {})), dict(data.get("proven", {})))
        except (OSError, ValueError, AttributeError, TypeError):
            pass
        return cls(build, cpu)

    def write(self, path: Path) -> None:
        data = {"build": self.build, "cpu": self.cpu, "crashed": self.crashed, "proven": self.proven}
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=path.name, suffix=".tmp", delete=False) as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(f.name, path)


def cpu_id() -> str:
    """The CPU as far as llama.cpp's choice goes: its model and the instruction sets it lists."""
    text = ""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        first = cpuinfo.split("\n\n", 1)[0]
        text = "\n".join(line for line in first.splitlines() if line.startswith(("model name", "flags", "Features")))
    except OSError:
        import platform

        text = platform.processor() + platform.machine()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def checks_file() -> Path:
    """Where proofs are remembered: one file per user, beside the model cache's default folder (the
    proof is about this machine's build and CPU, whatever folder the models are in)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "local-rag" / CHECKS_FILE


def model_key(model: Path) -> str:
    return f"{model.resolve()}:{_stat_key(model)}"


def child_command(model: Path, variant: str, threads: int) -> list[str]:
    return [sys.executable, "-m", "rag.models.llama_build", "try", "--model", str(model), "--cpu", variant or AUTO,
            "--threads", str(threads)]


Runner = Callable[[list[str], float], subprocess.CompletedProcess[str]]


def _run(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def trial(model: Path, variant: str, threads: int, run: Runner = _run) -> Trial:
    started = time.perf_counter()
    try:
        done = run(child_command(model, variant, threads), CHECK_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return Trial(variant, False, True, f"no answer within {CHECK_TIMEOUT_S:g} s", time.perf_counter() - started)
    seconds = time.perf_counter() - started
    if done.returncode == 0:
        return Trial(variant, True, False, done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "", seconds)
    lines = [line for line in (done.stderr or "").strip().splitlines() if line.strip()]
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        return Trial(variant, False, True, name, seconds)
    return Trial(variant, False, False, lines[-1] if lines else f"exit status {done.returncode}", seconds)


def prove(
    model: Path,
    choice: str = AUTO,
    *,
    threads: int = 2,
    run: Runner = _run,
    build: LlamaBuild | None = None,
    checks_path: Path | None = None,
) -> str:
    """Make sure `model` decodes on this machine and return the CPU variant to load ("" for a build
    without variants). The first time for a build, CPU and model file, a child process tries it
    (the best variant first, the next after a native crash); the outcome is remembered. Raises
    ModelError, naming the model file, the build and what to do, when nothing works."""
    build = build or find_build()
    path = checks_path or checks_file()
    checks = Checks.read(path, build.id, cpu_id())
    key = model_key(model)
    if choice != AUTO:
        build.variant(choice)  # a name the build has, or a clear message
    remembered = checks.proven.get(key)
    usable = not build.dispatched or remembered in {v.name for v in build.variants}
    if remembered is not None and (choice == AUTO or remembered == choice) and usable:
        return remembered

    if not build.dispatched:
        candidates = [""]
    elif choice != AUTO:
        candidates = [choice]
    else:
        candidates = [v.name for v in build.variants if v.score > 0 and v.name not in checks.crashed]
    tried: list[Trial] = []
    for name in candidates:
        result = trial(model, name, threads, run)
        tried.append(result)
        if result.ok:
            checks.proven[key] = name
            _save(checks, path)
            if tried[:-1]:
                log.warning("llama.cpp's %s CPU variant crashed here (%s); using %s", tried[0].variant or "build",
                            tried[0].detail, name)
            return name
        if not result.crashed:  # an error the child could report: not the CPU code's fault
            raise ModelError(f"llama.cpp could not run {model}: {result.detail}")
        if name:
            checks.crashed[name] = result.detail
            _save(checks, path)
    raise ModelError(_nothing_works(model, build, choice, tried))


def choose(choice: str, checks_path: Path | None = None) -> str:
    """The variant to load without a proof (no model named): the one asked for, or the best one not
    known to crash here. "" for a build without variants."""
    build = find_build()
    if not build.dispatched:
        return ""
    if choice != AUTO:
        return build.variant(choice).name
    crashed = Checks.read(checks_path or checks_file(), build.id, cpu_id()).crashed
    usable = [v.name for v in build.variants if v.score > 0 and v.name not in crashed]
    return usable[0] if usable else "x64"


def _save(checks: Checks, path: Path) -> None:
    try:
        checks.write(path)
    except OSError as err:  # a read-only cache: the proof is redone next time
        log.warning("Could not remember the llama.cpp check in %s: %s", path, err)


def _nothing_works(model: Path, build: LlamaBuild, choice: str, tried: Sequence[Trial]) -> str:
    what = "; ".join(f"{t.variant or 'its CPU code'}: {t.detail}" for t in tried) or "no variant fits this CPU"
    if build.dispatched and choice != AUTO:
        todo = "unset RAG_LLAMA_CPU to let it choose, or set RAG_LLAMA_CPU=x64 (the slowest, for any x86-64 CPU)"
    elif build.dispatched:
        todo = ("set RAG_LLAMA_CPU=x64 to force the baseline variant, or reinstall the build with "
                "`bash scripts/setup.sh`")
    else:
        todo = ("this build has its CPU code linked in (compiled for another CPU?): rebuild it with runtime CPU "
                "dispatch by running `bash scripts/setup.sh`")
    return f"llama.cpp crashed while decoding with {model} ({build.describe()}; {what}). To fix it: {todo}."


def prepare(model: Path, choice: str = AUTO, threads: int = 2) -> CpuVariant | None:
    """Before loading `model` in this process: prove it decodes here (a child process, once per build,
    CPU and model) and load the CPU variant that did."""
    name = prove(model, choice, threads=threads)
    return load_variant(name) if name else None


# -- the child --------------------------------------------------------------------------------
def _try_in_this_process(model: Path, choice: str, threads: int) -> str:
    import faulthandler

    faulthandler.enable()  # a native crash prints where it happened before the parent sees the signal
    build = find_build()
    name = build.variants[0].name if build.dispatched and choice == AUTO else choice
    variant = load_variant(name) if build.dispatched else None
    from llama_cpp import Llama

    started = time.perf_counter()
    llm = Llama(model_path=str(model), n_ctx=256, n_threads=threads, n_threads_batch=threads, flash_attn=True,
                verbose=False)
    out = llm("The capital of France is", max_tokens=4, temperature=0.0, top_k=1, seed=0)
    text = out["choices"][0]["text"]  # type: ignore[index]
    return json.dumps({"variant": variant.name if variant else "", "text": text,
                       "seconds": round(time.perf_counter() - started, 3)})


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m rag.models.llama_build try --model M --cpu V`: the child (prints one JSON line).
    `python -m rag.models.llama_build check [--model M] [--cpu V]`: what scripts/setup.sh runs: prove the
    build with a model (SmolLM2 by default), say which variant runs, exit 1 with the reason if none."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m rag.models.llama_build")
    parser.add_argument("command", choices=("try", "check"))
    parser.add_argument("--model", type=Path)
    parser.add_argument("--cpu", default=os.environ.get("RAG_LLAMA_CPU") or AUTO)
    parser.add_argument("--threads", type=int, default=max(1, min(os.cpu_count() or 2, 8)))
    args = parser.parse_args(argv)
    if args.command == "try":
        print(_try_in_this_process(args.model, args.cpu, args.threads))
        return 0
    from rag.models import gguf
    from rag.settings import Settings

    settings = Settings.from_env()
    try:
        model = args.model or gguf.resolve("smollm2-135m", settings.model_cache_dir)
        build = find_build()
        started = time.perf_counter()
        name = prove(model, args.cpu, threads=args.threads, build=build)
    except ModelError as err:
        print(f"llama.cpp check failed: {err}", file=sys.stderr)
        return 1
    crashed = Checks.read(checks_file(), build.id, cpu_id()).crashed
    skipped = "".join(f"; its {n} variant crashed here ({why}) and is not used" for n, why in crashed.items())
    where = f"its {name} CPU variant" if name else "its linked-in CPU code"
    print(f"llama.cpp works: {build.describe()} decodes {model.name} on {where}{skipped} "
          f"(checked in {time.perf_counter() - started:.1f} s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

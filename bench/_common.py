"""What every benchmark script shares: pinned anchors in their own venvs, timed + memory-measured subprocesses,
and the ``--json OUT`` result file that ``bench/run.py`` aggregates.

Result file shape (one object per script)::

    {"name": "resolve", "quick": false, "anchors": {"pip-audit": "2.10.1"},
     "rows": [{"case": "small", "tool": "mlaudit", "median": 1.2, "unit": "s", "runs": 3,
               "baseline": "uv pip compile", "ratio": 1.5, "rss_mb": 80.0, "detection": "13/13", "note": ""}],
     "notes": ["..."]}

``ratio`` is mlaudit's figure divided by the baseline's on the same case (lower is better for times), kept only
with ``same_work`` (what this run observed that shows both tools did the same work; see ``row``);
``detection`` is a short, comparable figure (recall, found/expected, false-positive rate); ``cpu`` is the median
CPU time (user + system, the process and its children) of the same runs: on a shared machine wall time moves with
the load, CPU time much less, so both are kept. Every key but ``case``/``tool`` may be missing or null.

Processes timed against each other run *side by side* (``interleaved``: A, B, A, B, ...), so a load spike hits
both, and with the same byte-code policy (``process_env`` + ``precompile``: an installed tool has its ``.pyc``
files; a session that sets ``PYTHONDONTWRITEBYTECODE`` would otherwise make every mlaudit start recompile the
project while the anchors, installed by pip, start from byte code). Anchors are installed with the ordinary pip client from the configured
package registry, pinned, into ``<cache>/venvs/<name>-<version>`` and reused across runs.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# the read-only ``shared/`` folder: beside the checkout, or beside the folder of worktrees that holds it
SHARED = next((base / "shared" for base in (ROOT.parent, ROOT.parent.parent) if (base / "shared").is_dir()),
              ROOT.parent / "shared")

# The anchors every script compares against, pinned (bump deliberately; results name the version).
PINS = {
    "pip-audit": "2.10.1",
    "guarddog": "3.2.0",
    "cyclonedx-bom": "7.5.0",
    "picklescan": "1.0.5",
    "modelscan": "0.8.8",
    "fickling": "0.1.12",
    "modelaudit": "0.2.54",
}


def bench_cache() -> Path:
    """Where anchor venvs live: ``MLAUDIT_BENCH_CACHE`` or a folder in the system temp dir (never the checkout)."""
    path = Path(os.environ.get("MLAUDIT_BENCH_CACHE") or Path(tempfile.gettempdir()) / "mlaudit-bench")
    path.mkdir(parents=True, exist_ok=True)
    return path


def mirror_git_dir(mirrors: Path, repo: str) -> Path:
    """The bare git copy of ``repo`` (``owner/name``) under ``mirrors``: the ``owner+name`` folder's ``repo``
    subfolder (how the fetch tool writes it) when there is one, else the folder itself."""
    folder = mirrors / repo.replace("/", "+")
    return folder / "repo" if (folder / "repo").is_dir() else folder


class AnchorUnavailable(RuntimeError):
    """The anchor could not be installed; the caller reports that instead of substituting anything."""


def anchor_venv(package: str, version: str | None = None, extra: tuple[str, ...] = ()) -> Path:
    """A venv with ``package==version`` (pinned from ``PINS``) installed; returns the venv's ``bin`` folder."""
    version = version or PINS[package]
    root = bench_cache() / "venvs" / f"{package}-{version}"
    marker = root / ".installed"
    if marker.is_file():
        return root / "bin"
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(root)
        proc = subprocess.run([str(root / "bin" / "python"), "-m", "pip", "install", "--quiet",
                               "--disable-pip-version-check", f"{package}=={version}", *extra],
                              capture_output=True, text=True, timeout=1200, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise AnchorUnavailable(f"{package}=={version}: {exc}") from exc
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        raise AnchorUnavailable(f"{package}=={version} could not be installed: {tail[:300]}")
    marker.write_text(version)
    return root / "bin"


@dataclass
class Measured:
    seconds: float
    rss_mb: float  # peak resident set of the largest process in the child's tree
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0  # user + system time of the child and its reaped descendants


def mlaudit_cmd() -> list[str]:
    """The ``mlaudit`` console script next to this interpreter (what a user runs), else ``python -m auditor``."""
    script = Path(sys.executable).with_name("mlaudit")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "auditor"]


# What goes into the wheel (pyproject's hatch targets): a change to any of it is another build.
_SOURCE_TREE = ("auditor", "data", "templates", "pyproject.toml", "README.md")


def source_fingerprint(root: Path = ROOT) -> str:
    """A digest of the checkout's packaged files (paths and contents, byte-code caches left out): the installed
    copy of mlaudit is rebuilt exactly when what ``pip install`` would package changed."""
    digest = hashlib.sha256()
    for top in _SOURCE_TREE:
        base = root / top
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file()
                                                      and "__pycache__" not in p.parts and p.suffix != ".pyc")
        for path in files:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def installed_mlaudit_cmd() -> list[str]:
    """``mlaudit`` as a user runs it -- ``pip install`` of this checkout (not editable) into a venv of its own --
    for the whole-process rows timed against an anchor, which runs from its own venv too.

    Why not the interpreter running the bench: an editable install's finder hook and whatever ``.pth`` files that
    interpreter's site-packages holds (one imported certifi at every start, ~30 ms) run at every start of mlaudit
    and of no anchor. The venv is built once per ``source_fingerprint``, untimed, in ``<cache>/venvs``, from the
    same base interpreter as the anchors' venvs; pip writes the byte code as it does for the anchors. Building
    takes a lock, so two bench runs sharing the cache do not install into one venv at once (memoised: one check
    per bench process)."""
    fingerprint = source_fingerprint()
    root = bench_cache() / "venvs" / f"mlaudit-{fingerprint}"
    script = root / "bin" / "mlaudit"
    marker = root / ".installed"
    lock_path = root.with_name(root.name + ".lock")
    with open(lock_path, "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (marker.is_file() and script.is_file()):
            venv.EnvBuilder(with_pip=True, clear=True).create(root)
            proc = subprocess.run([str(root / "bin" / "python"), "-m", "pip", "install", "--quiet",
                                   "--disable-pip-version-check", str(ROOT)], capture_output=True, text=True,
                                  timeout=1800, check=False, env=process_env())
            if proc.returncode != 0 or not script.is_file():
                tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
                raise RuntimeError(f"installing mlaudit from the checkout into {root.name} failed: {tail[:300]}")
            if source_fingerprint() != fingerprint:  # edited while pip copied it: the venv holds a mix
                shutil.rmtree(root, ignore_errors=True)
                raise RuntimeError("the checkout changed while it was being installed for the bench; run again")
            marker.write_text(fingerprint)
    return [str(script)]


INSTALLED_NOTE = ("mlaudit timed as installed by `pip install <checkout>` (not editable) into its own venv, byte code "
                  "written by pip, like the anchor's")


def process_env(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The environment a timed whole process runs with: this one (or ``base``) without ``PYTHONDONTWRITEBYTECODE``
    (the same byte-code policy for every tool of a comparison; see ``precompile``), plus ``extra``."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


def precompile(*paths: Path) -> None:
    """Write the ``.pyc`` files of the project (and ``paths``) once, untimed, as ``pip install`` does for an installed
    tool and for every anchor venv: timed runs then load byte code on both sides of a comparison."""
    targets = [str(ROOT / "auditor"), *(str(p) for p in paths)]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *targets], env=process_env(), capture_output=True,
                   check=False, timeout=600)


def interleaved(commands: Mapping[str, Callable[[], Measured]], runs: int) -> dict[str, list[Measured]]:
    """Run each command ``runs`` times, round-robin (A, B, C, A, B, C, ...): a comparison measured side by side, so
    that a load spike on a shared machine lands on every tool alike rather than on whichever ran during it."""
    out: dict[str, list[Measured]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            out[name].append(command())
    return out


def medians(samples: list[Measured]) -> tuple[float, float, float]:
    """Median wall seconds, median CPU seconds and the largest peak RSS (MB) of ``samples``."""
    return (statistics.median(m.seconds for m in samples), statistics.median(m.cpu_seconds for m in samples),
            max(m.rss_mb for m in samples))


GNU_TIME = Path("/usr/bin/time")


def run_measured(cmd: list[str], *, env: dict[str, str] | None = None, cwd: str | Path | None = None,
                 timeout: float = 3600.0) -> Measured:
    """Run ``cmd`` and return wall time, CPU time and peak RSS (``wait4`` rusage: the child and its reaped
    descendants).

    The peak RSS comes from GNU ``time`` wrapped around the command when it is installed: on Linux a child's
    ``ru_maxrss`` starts from the RSS of the process that forked it (the bench process itself, over 100 MB after
    in-process work), so without a small intermediate every child would report at least the parent's size."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(prefix="rss-", suffix=".txt") as rss_file:
        wrapped = ([str(GNU_TIME), "-f", "%M", "-o", rss_file.name, *cmd] if GNU_TIME.is_file() else cmd)
        start = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, 9)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        rss_mb = usage.ru_maxrss / 1024
        if wrapped is not cmd:
            lines = Path(rss_file.name).read_text(encoding="utf-8", errors="replace").split()
            rss_mb = int(lines[-1]) / 1024 if lines and lines[-1].isdigit() else 0.0
        out.seek(0)
        err.seek(0)
        return Measured(seconds, rss_mb, proc.returncode,
                        out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                        usage.ru_utime + usage.ru_stime)


def self_rss_mb() -> float:
    """Peak RSS of this process so far (MB): meaningful when ``bench/run.py`` runs each script in its own process."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or not theirs:
        return None
    return round(ours / theirs, 4)


def row(case: str, tool: str, median: float | None = None, unit: str = "s", *, same_work: str | None = None,
        **extra: Any) -> dict[str, Any]:
    """One table row. A ``ratio`` is kept only with ``same_work``: the evidence, measured in this run, that both
    tools did the same work (e.g. "both audited 201/201 packages"). Without it the ratio is withheld and the row
    says so: a speed ratio against a tool that skipped the work is not a comparison."""
    data: dict[str, Any] = {"case": case, "tool": tool, "median": None if median is None else round(median, 6),
                            "unit": unit}
    if isinstance(extra.get("cpu"), float):
        extra["cpu"] = round(extra["cpu"], 4)
    data.update({k: v for k, v in extra.items() if v is not None})
    if data.get("ratio") is not None:
        if same_work:
            data["same_work"] = same_work
        else:
            data.pop("ratio")
            note = str(data.get("note") or "")
            data["note"] = (note + "; " if note else "") + "ratio withheld: no evidence both tools did the same work"
    return data


def write_json(path: str | Path | None, result: dict[str, Any]) -> None:
    if not path:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")


def python() -> str:
    return sys.executable

"""What a worker does with one task: audit one project in-process, or scan one shard of a model store.

A project's audit is exactly the single run's: the same typed request merged with the project's own policy file
(``runconfig.options_for``, so the policy is found as ``mlaudit PROJECT`` would find it), ``run_audit``, the JSON
renderer and the report's gate; an exception becomes the exit code and message that ``mlaudit PROJECT`` would have
printed (``auditor.failure.error_exit``). What a worker keeps between its tasks is only what is the same for all of them:
its HTTP session (bounded per host, connections kept alive), the index pages it read (one request per
distribution and index per worker), and the process-wide caches of mlaudit itself (advisory index connection,
popularity indexes, imported checks), which a long-lived worker builds once instead of once per project.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.fleet.plan import UnitKind
from auditor.fleet.throttle import HostLimiter, throttled_session
from auditor.options import AuditRequest

if TYPE_CHECKING:
    from auditor.pkgindex import ProjectPage


@dataclass(frozen=True)
class FleetSettings:
    """Read-only and the same for every task of a run (on Ray it travels once, through the object store)."""

    request: AuditRequest  # the audit's flags, typed (no argparse values cross into a worker)
    cwd: str  # paths are as the user gave them: relative ones are relative to this folder
    per_host: int


@dataclass(frozen=True)
class Task:
    kind: UnitKind
    uid: str
    key: str
    path: str = ""  # a project's path, as given
    shard: int = -1  # a store's shard ...
    files: tuple[str, ...] = ()  # ... and its files, in scan order

    @property
    def label(self) -> str:
        return self.path if self.kind is UnitKind.PROJECT else f"{self.uid} part {self.shard}"


@dataclass
class Outcome:
    """What came back for a task: a JSON report (project) or an encoded scan result (shard), or the error."""

    task: Task
    exit_code: int
    payload: str | None = None
    error: str | None = None
    complete: bool = False
    seconds: float = 0.0
    pid: int = 0
    peak_rss_kib: int = 0
    attempts: int = 1
    crashed: bool = False  # the worker died or was stopped (timeout) on every attempt
    host_peaks: dict[str, int] = field(default_factory=dict)


class WorkerState:
    """Per worker process: created on its first task, kept for the others."""

    def __init__(self, per_host: int) -> None:
        self.limiter = HostLimiter(per_host)
        self.session = throttled_session(self.limiter)
        self.pages: dict[tuple[str, str], ProjectPage | None] = {}
        self.default_index: str | None = None


_STATE: WorkerState | None = None


def worker_state(per_host: int) -> WorkerState:
    global _STATE
    if _STATE is None:
        _STATE = WorkerState(per_host)
    return _STATE


def warm() -> None:
    """Build what every audit of this process will need, once: imports of the pipeline and its checks, the
    popularity indexes of the typosquat check, the advisory index file. Called by the driver before it forks
    its workers (they inherit it), and by a Ray worker on its first task."""
    from auditor.advisories.db import ensure_embedded_db
    from auditor.checks import load_checks
    from auditor.pipeline import run_audit  # noqa: F401
    from auditor.typosquat import hf_detector, pypi_detector

    load_checks()
    pypi_detector()
    hf_detector()
    ensure_embedded_db()


def peak_rss_kib() -> int:
    try:
        import resource
    except ImportError:  # not on this platform
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak // 1024) if sys.platform == "darwin" else int(peak)  # bytes on macOS, KiB elsewhere


def run_task(task: Task, settings: FleetSettings) -> Outcome:
    started = time.perf_counter()
    if os.getcwd() != settings.cwd and os.path.isdir(settings.cwd):
        os.chdir(settings.cwd)
    state = worker_state(settings.per_host)
    if task.kind is UnitKind.PROJECT:
        outcome = audit_project(task, settings, state)
    else:
        outcome = scan_shard(task)
    outcome.seconds = round(time.perf_counter() - started, 4)
    outcome.pid = os.getpid()
    outcome.peak_rss_kib = peak_rss_kib()
    outcome.host_peaks = dict(state.limiter.peak)
    return outcome


def audit_project(task: Task, settings: FleetSettings, state: WorkerState) -> Outcome:
    from auditor.failure import error_exit
    from auditor.net import HttpClient
    from auditor.options import RunCaches
    from auditor.outputs import get_renderer
    from auditor.pipeline import run_audit
    from auditor.pkgindex import DEFAULT_INDEX, PROJECT_PAGES
    from auditor.runconfig import options_for

    try:
        options = options_for(settings.request, [task.path])
        caches = RunCaches()
        caches.put(PROJECT_PAGES, state.pages)
        if state.default_index is not None:
            caches.put(DEFAULT_INDEX, state.default_index)
        report = run_audit(options, caches=caches, http=HttpClient(options.net, session=state.session))
        state.default_index = caches.get(DEFAULT_INDEX)
        text = get_renderer("json")(report)
        gate = report.gate()
        return Outcome(task, gate.exit_code, payload=text, complete=gate.complete)
    except Exception as exc:  # noqa: BLE001 - mapped exactly as the single run maps it, recorded per project
        code, message = error_exit(exc)
        return Outcome(task, code, error=message)


def scan_shard(task: Task) -> Outcome:
    from auditor.failure import error_exit
    from auditor.fleet.scancodec import encode
    from auditor.scan import scan_paths

    try:
        result = scan_paths([Path(f) for f in task.files])
        return Outcome(task, 0, payload=encode(result), complete=not result.skipped)
    except Exception as exc:  # noqa: BLE001 - the scanner guards each file; this is a bug, said per shard
        code, message = error_exit(exc)
        return Outcome(task, code, error=message)

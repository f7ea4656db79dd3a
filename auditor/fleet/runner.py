"""The driver of ``mlaudit fleet``: plan the units, find what an earlier run in the same folder already did, run
the rest (local pool or Ray), write each result as it arrives, and build the fleet view.

What is shared, and how:
- built once, before any worker starts: the advisory index file (``ensure_embedded_db``), the popularity indexes
  and imported checks (forked workers inherit them; a Ray worker builds them on its first task and keeps them for
  the following ones), and the resolver cache (uv's, a folder in the cache dir that all workers read);
- per worker: one HTTP session bounded per host, and the index pages it read (one request per distribution);
- what the driver alone does: hashing inputs (memoised, ``keys.DigestMemo``), writing the folder (``store``).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from auditor.errors import UsageError
from auditor.fleet import aggregate, scancodec
from auditor.fleet.keys import DigestMemo, common_key, digest_of, project_key, shard_key
from auditor.fleet.plan import SHARD_FILES, Shard, Unit, UnitKind, cut_shards, plan_units
from auditor.fleet.store import ResultStore
from auditor.fleet.work import FleetSettings, Outcome, Task, peak_rss_kib, warm
from auditor.ledger import Item
from auditor.options import AuditRequest


@dataclass
class FleetConfig:
    projects: list[str]
    stores: list[str]
    outdir: Path
    request: AuditRequest  # the audit's flags, typed; each project's own policy is merged in its worker
    workers: int | None = None  # None: the machine's cores (local) or the cluster's CPUs (Ray)
    ray: str | None = None  # None: local pool; "local", "auto" or a cluster address
    per_host: int = 4
    timeout: float | None = None  # per task, seconds
    fresh: bool = False  # ignore earlier results in the folder
    retry_failed: bool = False  # run again the units whose worker crashed on every attempt
    shard_files: int = SHARD_FILES


class Progress(Protocol):
    def planned(self, tasks: int, reused: int) -> None: ...

    def finished(self, outcome: Outcome) -> None: ...

    def note(self, message: str) -> None: ...


@dataclass
class FleetResult:
    exit_code: int
    index: dict[str, Any]
    index_path: Path
    html_path: Path


@dataclass
class _StoreState:
    unit: Unit
    key: str
    shards: list[Shard]
    parts: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    attempts: int = 1
    crashed: bool = False
    gaps: list[Item] = field(default_factory=list)  # what the store's walk listed instead of scanning (driver side)
    notes: list[str] = field(default_factory=list)


class _Pool(Protocol):
    workers: int
    pids: set[int]

    def run(self, tasks: list[Task], on_outcome: Callable[[Outcome], None]) -> None: ...


def _data_digests(memo: DigestMemo, config_file: str | None) -> list[str]:
    """Digests of the data every audit reads: the advisory index in use, the popularity lists, the policy file."""
    from auditor.advisories.db import embedded_fingerprint, updated_db_path
    from auditor.resources import data_file
    from auditor.typosquat.popular import HF_ORGS_FILE, TOP_PYPI_FILE

    files = [updated_db_path(), data_file(TOP_PYPI_FILE), data_file(HF_ORGS_FILE)]
    if config_file:
        files.append(Path(config_file))
    return [embedded_fingerprint(), *memo.digests(files)]


def _check_config(config: str | None) -> None:
    """A bad ``--config`` is the command line's error (exit 2 before anything runs), not every project's."""
    if config:
        from auditor.config import load_policy

        load_policy(None, Path(config))


def run_fleet(cfg: FleetConfig, progress: Progress) -> FleetResult:
    if cfg.request.env_path is not None:
        raise UsageError("--env audits one installed environment; mlaudit fleet audits project folders and files")
    units = plan_units(cfg.projects, cfg.stores)
    if not units:
        raise UsageError("no projects given (PATH..., --from-file LIST or --scan DIR)")
    _check_config(cfg.request.config)
    store = ResultStore(cfg.outdir)
    store.lock()
    try:
        return _run(cfg, units, store, progress)
    finally:
        store.unlock()


def _run(cfg: FleetConfig, units: list[Unit], store: ResultStore, progress: Progress) -> FleetResult:
    started = time.perf_counter()
    run_id = uuid.uuid4().hex[:12]
    cwd = os.getcwd()
    memo = DigestMemo(store.meta / "digests.sqlite")
    try:
        common = common_key(cfg.request.key_fields(), os.environ, _data_digests(memo, cfg.request.config))
        progress.note("hashing inputs")
        tasks, reused, stores, records = _plan(cfg, units, store, memo, common, cwd)
        hashed = {"files_read": memo.read_files, "bytes_read": memo.read_bytes}
    finally:
        memo.close()
    settings = FleetSettings(request=cfg.request, cwd=cwd, per_host=cfg.per_host)
    if tasks:
        progress.note("preparing shared data (advisory index, popularity indexes)")
        warm()
    progress.planned(len(tasks), len(reused))
    audited: list[str] = []
    retried: list[str] = []
    rss: dict[int, int] = defaultdict(int)
    host_peaks: dict[str, int] = defaultdict(int)

    def on_outcome(outcome: Outcome) -> None:
        task = outcome.task
        if outcome.pid:
            rss[outcome.pid] = max(rss[outcome.pid], outcome.peak_rss_kib)
        for host, peak in outcome.host_peaks.items():
            host_peaks[host] = max(host_peaks[host], peak)
        if outcome.attempts > 1 and task.uid not in retried:
            retried.append(task.uid)
        if task.uid not in audited:
            audited.append(task.uid)
        if task.kind is UnitKind.PROJECT:
            records[task.uid] = _save_project(store, task, outcome, run_id)
        else:
            finished = _shard_done(store, stores[task.uid], task, outcome, cfg.request, run_id)
            if finished is not None:
                records[task.uid] = finished
        progress.finished(outcome)

    pool = _make_pool(cfg, settings)
    pool_started = time.perf_counter()
    try:
        pool.run(tasks, on_outcome)
    finally:
        close = getattr(pool, "close", None)
        if close is not None:
            close()
    pool_seconds = time.perf_counter() - pool_started
    for state in stores.values():  # a store all of whose shards were already done (a killed earlier run)
        if state.unit.uid not in records and len(state.parts) == len(state.shards):
            records[state.unit.uid] = _finish_store(store, state, cfg.request, run_id)
    run = {
        "id": run_id, "executor": "ray" if cfg.ray else "local", "ray": cfg.ray, "workers": pool.workers,
        "per_host": cfg.per_host, "tasks": len(tasks), "audited": audited, "reused": reused, "retried": retried,
        "seconds": round(time.perf_counter() - started, 3), "pool_seconds": round(pool_seconds, 3),
        "units_per_second": round(len(audited) / pool_seconds, 3) if audited and pool_seconds > 0 else None,
        "peak_rss_kib": {"driver": peak_rss_kib(), "workers": {str(pid): kib for pid, kib in sorted(rss.items())}},
        # processes started (local pool) or seen reporting (Ray): more than "workers" means some were replaced
        "worker_processes": len(pool.pids),
        "host_peak_concurrency_per_worker": dict(host_peaks), "hashed": hashed,
    }
    ordered = [records[u.uid] for u in units if u.uid in records]
    index = aggregate.build_index(ordered, run)
    index_path = store.write_top("index.json", aggregate.render_index(index))
    from auditor.fleet.html import render_fleet

    html_path = store.write_top("fleet.html", render_fleet(index))
    return FleetResult(index["exit_code"], index, index_path, html_path)


def _make_pool(cfg: FleetConfig, settings: FleetSettings) -> _Pool:
    if cfg.ray:
        from auditor.advisories.db import ensure_embedded_db, updated_db_path
        from auditor.fleet.raypool import RayPool

        return RayPool(cfg.ray, cfg.workers, settings, timeout=cfg.timeout,
                       blobs=[ensure_embedded_db(), updated_db_path()])
    from auditor.fleet.localpool import LocalPool

    return LocalPool(cfg.workers or os.cpu_count() or 1, settings, timeout=cfg.timeout)


def _plan(cfg: FleetConfig, units: list[Unit], store: ResultStore, memo: DigestMemo, common: str,
          cwd: str) -> tuple[list[Task], list[str], dict[str, _StoreState], dict[str, dict[str, Any]]]:
    """Tasks still to run; units reused from the folder; stores in progress; records of finished units."""
    tasks: list[Task] = []
    reused: list[str] = []
    stores: dict[str, _StoreState] = {}
    records: dict[str, dict[str, Any]] = {}
    for unit in units:
        if unit.kind is UnitKind.PROJECT:
            key = project_key(unit.path, cwd, common, memo)
            rec = None if cfg.fresh else store.finished(unit.uid, key)
            if rec is not None and not (cfg.retry_failed and rec.get("crashed")):
                reused.append(unit.uid)
                records[unit.uid] = rec
            else:
                tasks.append(Task(UnitKind.PROJECT, unit.uid, key, path=unit.path))
            continue
        state = _plan_store(cfg, unit, memo, common, cwd)
        if state is None:
            records[unit.uid] = _missing_store(store, unit, common, cwd)
            continue
        rec = None if cfg.fresh else store.finished(unit.uid, state.key)
        if rec is not None and not (cfg.retry_failed and rec.get("crashed")):
            reused.append(unit.uid)
            records[unit.uid] = rec
            continue
        stores[unit.uid] = state
        for shard in state.shards:
            part = None if cfg.fresh else store.shard(unit.uid, shard.index, shard.key)
            if part is not None:
                state.parts[shard.index] = part
            else:
                tasks.append(Task(UnitKind.STORE, unit.uid, shard.key, path=unit.path, shard=shard.index,
                                  files=shard.files))
    return tasks, reused, stores, records


def _plan_store(cfg: FleetConfig, unit: Unit, memo: DigestMemo, common: str, cwd: str) -> _StoreState | None:
    from auditor.scan import scan_targets

    if not os.path.exists(unit.path):
        return None
    planned = scan_targets([Path(unit.path)])
    sized: list[tuple[str, int]] = []
    for p in planned.files:
        try:
            sized.append((str(p), p.stat().st_size))
        except OSError:
            sized.append((str(p), 0))
    shards = [Shard(s.store, s.index, s.files, shard_key(s.files, cwd, common, memo))
              for s in cut_shards(unit.uid, sized, max_files=cfg.shard_files)]
    gaps = [[g.outcome.value, g.file, g.reason] for g in planned.gaps]
    key = digest_of(["store", unit.path, cwd, common, [s.key for s in shards], gaps, planned.notes])
    return _StoreState(unit, key, shards, gaps=list(planned.gaps), notes=list(planned.notes))


def _missing_store(store: ResultStore, unit: Unit, common: str, cwd: str) -> dict[str, Any]:
    """``mlaudit scan`` of a path that does not exist is a usage error (exit 2); so is this store's."""
    from auditor.failure import error_exit
    from auditor.runconfig import missing_path

    code, message = error_exit(UsageError(missing_path(unit.path)))
    rec: dict[str, Any] = {"uid": unit.uid, "kind": unit.kind.value, "path": unit.path, "key": digest_of(["missing", unit.path, cwd,
                                                                                        common]),
           "exit_code": code, "complete": False, "error": message, "facts": {}, "run": None}
    return store.save(unit.uid, rec, None)


def _save_project(store: ResultStore, task: Task, outcome: Outcome, run_id: str) -> dict[str, Any]:
    facts = aggregate.facts_of(json.loads(outcome.payload)) if outcome.payload else {}
    rec: dict[str, Any] = {"uid": task.uid, "kind": UnitKind.PROJECT.value, "path": task.path, "key": task.key,
           "exit_code": outcome.exit_code, "complete": outcome.complete, "error": outcome.error, "facts": facts,
           "attempts": outcome.attempts, "crashed": outcome.crashed, "seconds": outcome.seconds,
           "pid": outcome.pid, "run": run_id}
    return store.save(task.uid, rec, outcome.payload)


def _shard_done(store: ResultStore, state: _StoreState, task: Task, outcome: Outcome, request: AuditRequest,
                run_id: str) -> dict[str, Any] | None:
    state.seconds += outcome.seconds
    state.attempts = max(state.attempts, outcome.attempts)
    if outcome.payload is None:
        state.error = state.error or f"part {task.shard}: {outcome.error}"
        state.crashed = state.crashed or outcome.crashed
        state.parts[task.shard] = ""
    else:
        store.save_shard(task.uid, task.shard, task.key, outcome.payload)
        state.parts[task.shard] = outcome.payload
    if len(state.parts) < len(state.shards):
        return None
    return _finish_store(store, state, request, run_id)


def _finish_store(store: ResultStore, state: _StoreState, request: AuditRequest, run_id: str) -> dict[str, Any]:
    """Join the shards in order into the report ``mlaudit scan DIR --format json`` would write."""
    from auditor.errors import EXIT_INCOMPLETE
    from auditor.outputs import get_renderer
    from auditor.runconfig import gate_scan, load_scan_policy
    from auditor.scan import add_gaps
    from auditor.scan.report import report_from_result

    unit = state.unit
    base: dict[str, Any] = {"uid": unit.uid, "kind": unit.kind.value, "path": unit.path, "key": state.key, "run": run_id,
            "attempts": state.attempts, "crashed": state.crashed, "seconds": round(state.seconds, 4),
            "shards": len(state.shards)}
    if state.error is not None:
        rec = dict(base, exit_code=EXIT_INCOMPLETE, complete=False, error=state.error, facts={})
        return store.save(unit.uid, rec, None)
    parts = [scancodec.decode(state.parts[s.index]) for s in state.shards]
    joined = scancodec.join(parts)
    add_gaps(joined, state.gaps, state.notes)
    report = report_from_result([Path(unit.path)], joined, state.seconds)
    gate_scan(report, load_scan_policy(request.config), fail_on=request.fail_on,
              require_complete=request.require_complete)
    text = get_renderer("json")(report)
    gate = report.gate()
    rec = dict(base, exit_code=gate.exit_code, complete=gate.complete, error=None,
               facts=aggregate.facts_of(json.loads(text)))
    return store.save(unit.uid, rec, text)

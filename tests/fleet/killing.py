"""Kill-and-resume, shared by the local-pool and the Ray suites: real ``mlaudit fleet`` processes, real SIGKILLs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fleet.conftest import comparable, load_index


def start_fleet(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "auditor", "fleet", *args, "-q"], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def records(out: Path) -> dict[str, dict[str, Any]]:
    folder = out / ".fleet" / "records"
    found: dict[str, dict[str, Any]] = {}
    for path in folder.glob("*.json") if folder.is_dir() else []:
        found[path.stem] = json.loads(path.read_text())
    return found


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def snapshot(out: Path) -> dict[str, tuple[bytes, int]]:
    """Each recorded unit's report bytes and modification time: a rerun must not rewrite them."""
    snap: dict[str, tuple[bytes, int]] = {}
    for uid, rec in records(out).items():
        report = out / rec["report"]
        snap[uid] = (report.read_bytes(), report.stat().st_mtime_ns)
    return snap


def kill_driver_then_resume(args: list[str], cwd: Path, out: Path, env: dict[str, str], total: int,
                            reference: dict[str, dict[str, Any]], *, after: int, timeout: float) -> None:
    """SIGKILL the driver once ``after`` units are recorded; the rerun audits exactly the others."""
    proc = start_fleet([*args, "-o", str(out)], cwd, env)
    try:
        wait_for(lambda: len(records(out)) >= after, timeout, f"{after} finished units")
        workers = children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # local workers notice their driver is gone and stop (Ray ends a dead driver's tasks)
    wait_for(lambda: not any(alive(w) for w in workers), 30, "the killed driver's workers to stop")
    first = snapshot(out)
    assert after <= len(first) < total, "the kill came too late to prove anything"
    rerun = subprocess.run([sys.executable, "-m", "auditor", "fleet", *args, "-o", str(out), "-q"], cwd=cwd, env=env,
                           capture_output=True, text=True, timeout=timeout, check=False)
    assert rerun.returncode in (0, 1, 3), rerun.stderr
    index = load_index(out)
    audited = set(index["run"]["audited"])
    assert audited.isdisjoint(first), "a unit finished before the kill was audited again"
    assert audited | set(first) == set(reference), "a unit was lost"
    assert set(index["run"]["reused"]) == set(first)
    assert snapshot(out).items() >= first.items()  # reports of the first run untouched (bytes and mtime)
    check_against(out, reference)


def kill_worker_mid_run(args: list[str], cwd: Path, out: Path, env: dict[str, str],
                        reference: dict[str, dict[str, Any]], find_worker: Callable[[int], int | None], *,
                        timeout: float) -> dict[str, Any]:
    """SIGKILL one worker process while the run is going; the run still ends with every unit's right answer."""
    proc = start_fleet([*args, "-o", str(out)], cwd, env)
    try:
        wait_for(lambda: len(records(out)) >= 3, timeout, "the run to be under way")
        victim: list[int] = []

        def found() -> bool:
            pid = find_worker(proc.pid)
            if pid is not None:
                victim.append(pid)
            return bool(victim)

        wait_for(found, 30, "a worker process")
        os.kill(victim[0], signal.SIGKILL)
        _, stderr = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode in (0, 1, 3), stderr
    index = load_index(out)
    assert sorted(index["run"]["audited"]) == sorted(reference)  # each unit once, none lost
    check_against(out, reference)
    return index


def check_against(out: Path, reference: dict[str, dict[str, Any]]) -> None:
    """Every unit's report equals the uninterrupted run's (``reference``: uid -> comparable report)."""
    recs = records(out)
    assert set(recs) == set(reference)
    for uid, expected in reference.items():
        assert recs[uid]["exit_code"] in (0, 1), recs[uid].get("error")
        assert comparable((out / recs[uid]["report"]).read_text()) == expected, uid


def reference_run(args: list[str], cwd: Path, out: Path, env: dict[str, str], timeout: float) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "auditor", "fleet", *args, "-o", str(out), "-q"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode in (0, 1), done.stderr
    return {uid: comparable((out / rec["report"]).read_text()) for uid, rec in records(out).items()}

"""A real local Ray cluster for the Ray suite and the benchmark: ``ray start --head --block`` on 127.0.0.1 with N
CPUs, stopped by its own process id (and its process group), never by name.

``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is Ray's switch for a one-machine cluster: node addresses are the loopback
address instead of the machine's interface address, so every connection stays on 127.0.0.1. On a loaded machine
Ray's agents can miss the raylet's start-up deadline; the head is started with a higher priority when allowed and
tried again once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
START_TIMEOUT = 150.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ray_env(base: dict[str, str] | None = None) -> dict[str, str]:
    return {**(base if base is not None else os.environ), **LOOPBACK_ENV}


@dataclass(frozen=True)
class Cluster:
    address: str
    pgid: int  # the head's process id (and process group)

    def task_workers(self) -> list[int]:
        """Worker processes of this cluster (descendants of the head we started) running a fleet task: Ray
        names a worker's process after the task it runs."""
        parents: dict[int, int] = {}
        named: list[int] = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(proc.name)] = int(stat[1])
                if b"_remote_task" in (proc / "cmdline").read_bytes().split(b"\0")[0]:
                    named.append(int(proc.name))
            except (OSError, IndexError, ValueError):
                continue
        return [pid for pid in named if self._descends(pid, parents)]

    def _descends(self, pid: int, parents: dict[int, int]) -> bool:
        seen = 0
        while pid > 1 and seen < 64:
            if pid == self.pgid:
                return True
            pid = parents.get(pid, 0)
            seen += 1
        return False


def _start(cpus: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    ray = Path(sys.executable).with_name("ray")
    cmd = [str(ray), "start", "--head", "--port", str(port), "--num-cpus", str(cpus), "--include-dashboard", "false",
           "--disable-usage-stats", "--block"]
    if os.geteuid() == 0:
        cmd = ["nice", "-n", "-10", *cmd]  # the agents must start within the raylet's deadline on a busy machine
    with log.open("wb") as handle:
        proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=ray_env(), start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        time.sleep(1)
        text = log.read_text(errors="replace")
        if "Ray runtime started" in text:
            return proc, f"127.0.0.1:{port}"
        if proc.poll() is not None:
            break
    stop(proc)
    raise RuntimeError(f"the Ray head did not start: {log.read_text(errors='replace')[-2000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the head we started, then SIGKILL to its process group (the Ray processes it started)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(10)


@contextmanager
def local_cluster(cpus: int, workdir: Path) -> Iterator[Cluster]:
    """Yield a running head with ``cpus`` CPUs; stop it afterwards."""
    last: Exception | None = None
    for attempt in range(2):
        try:
            proc, address = _start(cpus, workdir / f"ray-head-{attempt}.log")
        except RuntimeError as exc:
            last = exc
            continue
        try:
            yield Cluster(address, proc.pid)
        finally:
            stop(proc)
        return
    raise RuntimeError(str(last))

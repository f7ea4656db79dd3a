"""The Ray executor: the same tasks as the local pool, run as Ray tasks on a cluster (``--ray ADDRESS|auto``)
or on a throw-away local one (``--ray local``).

Ray's own mechanisms do the distributed work: each task is a ``@ray.remote`` function with ``max_retries=1`` (a
task whose worker dies is run once more by Ray, then reported as failed), read-only data shared by every task
travels once through the object store (the run's settings; the advisory index file, which a worker on a node
whose cache lacks it installs from there instead of building it), and the number of tasks in flight is bounded
with ``ray.wait`` (at most ``workers`` at once, which is also what bounds requests per host across the run).

Paths are the user's: the projects and model stores must be readable at the same paths on every node (a shared
file system); the results come back to the driver, which alone writes the output folder.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from auditor.errors import EXIT_INCOMPLETE, UsageError
from auditor.fleet.work import FleetSettings, Outcome, Task

INSTALL_HINT = "Ray is not installed: pip install 'mlaudit[ray]'"
# Passed to every worker: a Ray worker does not inherit the driver's environment.
NETWORK_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
               "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "MLAUDIT_CACHE_DIR")


def import_ray() -> Any:
    """The ``ray`` module, or a usage error (exit 2) that says how to install it."""
    try:
        import ray
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return ray


def worker_env(environ: Mapping[str, str]) -> dict[str, str]:
    from auditor.fleet.keys import relevant_env

    env = relevant_env(environ)
    env.update({k: environ[k] for k in NETWORK_ENV if k in environ})
    env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    return env


_WARM = False


def _install_blobs(blobs: list[Any]) -> None:
    """Put the driver's advisory index files into this node's cache when they are missing (first task only)."""
    import ray

    from auditor.advisories.db import advisories_dir
    from auditor.cache import atomic_write

    for name, ref in blobs:
        target = advisories_dir() / name
        if not target.is_file():
            atomic_write(target, ray.get(ref))


def _remote_task(task: Task, settings: FleetSettings, blobs: list[Any]) -> Outcome:
    global _WARM
    from auditor.fleet.work import run_task, warm

    if not _WARM:
        _install_blobs(blobs)
        warm()
        _WARM = True
    return run_task(task, settings)


class RayPool:
    def __init__(self, address: str, workers: int | None, settings: FleetSettings, *,
                 timeout: float | None = None, blobs: Iterable[Path] = ()) -> None:
        self.ray = import_ray()
        self.address = address
        self.settings = settings
        self.timeout = timeout
        self.blob_paths = list(blobs)
        env = worker_env(os.environ)
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        init: dict[str, Any] = {"runtime_env": {"env_vars": env}, "logging_level": "WARNING",
                                "log_to_driver": False}
        if address == "local":
            init.update(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False)
        else:
            init["address"] = address
        try:
            self.ray.init(**init)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UsageError(f"cannot connect to the Ray cluster at {address}: {exc}") from exc
        cpus = int(self.ray.cluster_resources().get("CPU", 1))
        self.workers = max(1, min(workers or cpus, cpus))
        self.pids: set[int] = set()

    def close(self) -> None:
        self.ray.shutdown()

    def run(self, tasks: Iterable[Task], on_outcome: Callable[[Outcome], None]) -> None:
        ray = self.ray
        remote = ray.remote(num_cpus=1, max_retries=1, retry_exceptions=False)(_remote_task)
        settings_ref = ray.put(self.settings)
        blobs = [(p.name, ray.put(p.read_bytes())) for p in self.blob_paths if p.is_file()]
        pending = list(tasks)
        pending.reverse()
        flying: dict[Any, tuple[Task, float, int]] = {}
        cancelled: dict[Task, int] = {}

        def submit(task: Task, attempt: int) -> None:
            flying[remote.remote(task, settings_ref, blobs)] = (task, time.monotonic(), attempt)

        while pending or flying:
            while pending and len(flying) < self.workers:
                task = pending.pop()
                submit(task, cancelled.get(task, 0) + 1)
            done, _ = ray.wait(list(flying), num_returns=1, timeout=1.0)
            for ref in done:
                task, _started, attempt = flying.pop(ref)
                try:
                    outcome: Outcome = ray.get(ref)
                except ray.exceptions.TaskCancelledError:
                    continue  # a timeout, handled below when it was cancelled
                except ray.exceptions.RayError as exc:
                    on_outcome(Outcome(task, EXIT_INCOMPLETE, attempts=attempt + 1, crashed=True,
                                       error=f"mlaudit: error: the Ray task failed on every attempt "
                                             f"({type(exc).__name__}: {str(exc).splitlines()[0][:300]}); "
                                             "the project was not audited"))
                    continue
                outcome.attempts = attempt
                self.pids.add(outcome.pid)
                on_outcome(outcome)
            if self.timeout is not None:
                self._expire(flying, cancelled, pending, on_outcome)

    def _expire(self, flying: dict[Any, tuple[Task, float, int]], cancelled: dict[Task, int], pending: list[Task],
                on_outcome: Callable[[Outcome], None]) -> None:
        """A task over its time is cancelled (Ray stops its worker), then tried once more, then reported."""
        assert self.timeout is not None
        now = time.monotonic()
        for ref, (task, started, attempt) in list(flying.items()):
            if now - started < self.timeout:
                continue
            self.ray.cancel(ref, force=True)
            del flying[ref]
            cancelled[task] = attempt
            if attempt < 2:
                pending.append(task)
            else:
                on_outcome(Outcome(task, EXIT_INCOMPLETE, attempts=attempt, crashed=True,
                                   error=f"mlaudit: error: the audit did not finish within {self.timeout:g} s "
                                         f"(on each of {attempt} attempts); the project was not audited"))

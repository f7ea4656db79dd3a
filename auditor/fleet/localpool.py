"""The local executor: N long-lived worker processes, one task at a time each, fed over a pipe.

Why not ``concurrent.futures.ProcessPoolExecutor``: when one of its workers dies, every pending future fails with
``BrokenProcessPool`` and nothing says which task killed it, so a crash would be charged to the innocent projects
that happened to run beside it. Here each worker has its own pipe and the driver knows what each one is running:
a worker that dies (a crash, the OOM killer, a SIGKILL) or overruns ``timeout`` costs exactly its own task one
attempt; the task is retried once in a fresh worker, then reported as failed, and the run goes on.

Workers are forked from the driver after it has warmed the shared read-only state (imports, popularity indexes,
advisory index file), so they start with it instead of building it each. A worker whose driver has gone (the
driver was killed) exits within a second instead of finishing work nobody will record.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from auditor.errors import EXIT_INCOMPLETE
from auditor.fleet.work import FleetSettings, Outcome, Task, run_task

MAX_ATTEMPTS = 2  # a task that takes its worker down is tried once more, then reported as failed
ORPHAN_POLL = 0.5


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(ORPHAN_POLL)
        if os.getppid() != parent:
            os._exit(1)


def _worker_main(conn: multiprocessing.connection.Connection, settings: FleetSettings, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle: it stops the workers
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="mlaudit-fleet-orphan").start()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        outcome = run_task(task, settings)
        try:
            conn.send(outcome)
        except (BrokenPipeError, OSError):
            return


@dataclass
class _Slot:
    process: BaseProcess | None = None
    conn: multiprocessing.connection.Connection | None = None
    task: Task | None = None
    started: float = 0.0


class LocalPool:
    def __init__(self, workers: int, settings: FleetSettings, *, timeout: float | None = None) -> None:
        self.workers = max(1, workers)
        self.settings = settings
        self.timeout = timeout
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        self.ctx: Any = multiprocessing.get_context(method)
        self.pids: set[int] = set()  # every worker started, for the report of memory per worker

    def _start(self, slot: _Slot) -> None:
        parent_conn, child_conn = self.ctx.Pipe(duplex=True)
        process = self.ctx.Process(target=_worker_main, args=(child_conn, self.settings, os.getpid()),
                                   name="mlaudit-fleet-worker", daemon=True)
        process.start()
        child_conn.close()
        slot.process, slot.conn = process, parent_conn
        if process.pid is not None:
            self.pids.add(process.pid)

    @staticmethod
    def _stop(slot: _Slot) -> None:
        if slot.process is not None and slot.process.is_alive():
            slot.process.kill()
        if slot.process is not None:
            slot.process.join(5)
        if slot.conn is not None:
            slot.conn.close()
        slot.process, slot.conn = None, None

    def run(self, tasks: Iterable[Task], on_outcome: Callable[[Outcome], None]) -> None:
        pending: deque[Task] = deque(tasks)
        attempts: dict[Task, int] = {}
        slots = [_Slot() for _ in range(min(self.workers, len(pending)) or 1)]
        try:
            while pending or any(s.task is not None for s in slots):
                for slot in slots:
                    if slot.task is None and pending:
                        if slot.process is None or not slot.process.is_alive():
                            self._stop(slot)
                            self._start(slot)
                        slot.task = pending.popleft()
                        slot.started = time.monotonic()
                        assert slot.conn is not None
                        slot.conn.send(slot.task)
                busy = [s for s in slots if s.task is not None]
                waitables: list[Any] = [s.conn for s in busy] + [s.process.sentinel for s in busy if s.process]
                multiprocessing.connection.wait(waitables, timeout=self._wait_time(busy))
                for slot in busy:
                    self._collect(slot, pending, attempts, on_outcome)
        finally:
            for slot in slots:
                if slot.conn is not None and slot.process is not None and slot.process.is_alive():
                    try:
                        slot.conn.send(None)
                    except OSError:
                        pass
            for slot in slots:
                if slot.process is not None:
                    slot.process.join(2)
                self._stop(slot)

    def _wait_time(self, busy: list[_Slot]) -> float:
        if self.timeout is None:
            return 1.0
        now = time.monotonic()
        return max(0.0, min([1.0, *[s.started + self.timeout - now for s in busy]]))

    def _collect(self, slot: _Slot, pending: deque[Task], attempts: dict[Task, int],
                 on_outcome: Callable[[Outcome], None]) -> None:
        task, conn, process = slot.task, slot.conn, slot.process
        assert task is not None and conn is not None and process is not None
        failure: str | None = None
        try:
            if conn.poll():
                outcome: Outcome = conn.recv()
                outcome.attempts = attempts.get(task, 0) + 1
                slot.task = None
                on_outcome(outcome)
                return
        except (EOFError, OSError):
            failure = "the worker process died"
        if failure is None:
            if process.is_alive():
                if self.timeout is None or time.monotonic() - slot.started < self.timeout:
                    return
                failure = f"the audit did not finish within {self.timeout:g} s; its worker was stopped"
            else:
                failure = _death(process)
        self._stop(slot)
        slot.task = None
        attempts[task] = attempts.get(task, 0) + 1
        if attempts[task] < MAX_ATTEMPTS:
            pending.appendleft(task)
            return
        on_outcome(Outcome(task, EXIT_INCOMPLETE, error=f"mlaudit: error: {failure} (on each of {attempts[task]} "
                           "attempts); the project was not audited", attempts=attempts[task], crashed=True))


def _death(process: BaseProcess) -> str:
    process.join(1)
    code = process.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker process died ({name})"
    return f"the worker process exited unexpectedly (status {code})"

"""Knowing, while uv runs, whether the hosts it must reach answer at all.

Why: uv retries a host that does not answer for every requirement that names it (each ``name @ URL`` line is its own
download, each with uv's retries); a repository whose requirements named one unreachable host took 439 s. mlaudit
asks each host the resolver will need once, itself, *alongside* the resolver run (a ``HEAD`` through the run's
HTTP client, so its timeout, retry policy and host state apply): a host that answers costs nothing extra (the probe
runs while uv works); a host that does not is marked down for the whole run after one failure, and the resolver run
waiting on it is stopped at that point instead of paying uv's own retries, once per line.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable

from auditor.errors import NetworkError
from auditor.net import HostState, host_of
from auditor.options import AuditContext

DOWNLOAD_SERVICE = "download host"  # the host of a ``name @ URL`` requirement
INDEX_SERVICE = "package index"
POLL_SECONDS = 0.02


class HostWatch:
    """Probes hosts in background threads; ``down`` names the watched hosts found down so far."""

    def __init__(self, ctx: AuditContext) -> None:
        self.ctx = ctx
        self._started: set[str] = set()
        self._lock = threading.Lock()

    def watch(self, urls: dict[str, str]) -> set[str]:
        """Start a probe for each ``url -> service`` whose host this run has not heard from; returns the hosts."""
        hosts: set[str] = set()
        for url, service in urls.items():
            host = host_of(url)
            hosts.add(host)
            with self._lock:
                if host in self._started or self.ctx.http.hosts.state(host) is not HostState.UNKNOWN:
                    continue
                self._started.add(host)
            threading.Thread(target=self._probe, args=(url, service), name=f"mlaudit-probe-{host}",
                             daemon=True).start()
        return hosts

    def _probe(self, url: str, service: str) -> None:
        try:
            self.ctx.http.probe(url, service=service)
        except NetworkError:
            pass  # the host book holds the verdict (down, with its reason)

    def down(self, hosts: set[str]) -> dict[str, tuple[str, str]]:
        """The ``hosts`` that are down: host -> (service that found it, its failure)."""
        return {h: v for h, v in self.ctx.http.hosts.down().items() if h in hosts}

    def run(self, cmd: list[str], env: dict[str, str], timeout: float,
            hosts: set[str]) -> tuple[subprocess.CompletedProcess[str] | None, dict[str, tuple[str, str]]]:
        """Run ``cmd`` until it ends, or until one of ``hosts`` is found down (then it is stopped: None and the down
        hosts). ``subprocess.TimeoutExpired`` after ``timeout`` seconds, as ``subprocess.run`` raises it."""
        return Running(cmd, env).wait(time.monotonic() + timeout, lambda: self.down(hosts) if hosts else {})


class Running:
    """A started child process whose output is read to its end in a thread (a full pipe would stall uv), so that
    the caller can do other work until it needs the answer (``wait``) or give up on it (``stop``)."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self.cmd = cmd
        self._began = time.monotonic()
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self._result: dict[str, str] = {}
        self._reader = threading.Thread(target=self._drain, name="mlaudit-uv-output", daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        out, err = self._proc.communicate()
        self._result["out"], self._result["err"] = out, err

    def wait(self, deadline: float, down: Callable[[], dict[str, tuple[str, str]]] = dict,
             ) -> tuple[subprocess.CompletedProcess[str] | None, dict[str, tuple[str, str]]]:
        """Its answer, or (None, the down hosts) as soon as ``down`` names one (it is stopped then);
        ``subprocess.TimeoutExpired`` (it is stopped) when the ``time.monotonic()`` ``deadline`` passes."""
        while self._reader.is_alive():
            hosts_down = down()
            if hosts_down:
                self.stop()
                return None, hosts_down
            if time.monotonic() > deadline:
                self.stop()
                raise subprocess.TimeoutExpired(self.cmd, max(0.0, deadline - self._began))
            self._reader.join(POLL_SECONDS)
        return subprocess.CompletedProcess(self.cmd, self._proc.returncode, self._result.get("out", ""),
                                           self._result.get("err", "")), {}

    def stop(self) -> None:
        """Kill it (if still running) and reap it; its pipes are closed by the reader."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._reader.join()


__all__ = ["DOWNLOAD_SERVICE", "INDEX_SERVICE", "HostWatch", "Running"]

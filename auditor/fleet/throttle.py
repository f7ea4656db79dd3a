"""A bound on concurrent requests per remote host inside one worker process.

Why: a fleet run is many audits at once; without a bound, N workers each running the provenance, hash and
confusion checks' thread pools could open dozens of connections to one package index. Each worker mounts this
adapter on the one ``requests`` session that all its audits share (so connections are also kept alive across
projects), and the number of workers is bounded, so the whole run holds at most ``workers x per_host``
requests in flight to any one host. What it does not cover is said in docs/scale.md (the Hub client and the
resolver subprocess keep their own, fixed bounds).
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

DEFAULT_PER_HOST = 4


class HostLimiter:
    """One semaphore per host (``host:port``), created on first use."""

    def __init__(self, per_host: int) -> None:
        if per_host < 1:
            raise ValueError("per_host must be at least 1")
        self.per_host = per_host
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self.peak: dict[str, int] = {}
        self._active: dict[str, int] = {}

    def slot(self, url: str) -> _Slot:
        parts = urlsplit(url)
        host = f"{parts.hostname or ''}:{parts.port or ''}"
        with self._lock:
            sem = self._slots.get(host)
            if sem is None:
                sem = self._slots[host] = threading.BoundedSemaphore(self.per_host)
        return _Slot(self, host, sem)

    def enter(self, host: str) -> None:
        with self._lock:
            self._active[host] = self._active.get(host, 0) + 1
            self.peak[host] = max(self.peak.get(host, 0), self._active[host])

    def leave(self, host: str) -> None:
        with self._lock:
            self._active[host] -= 1


class _Slot:
    def __init__(self, limiter: HostLimiter, host: str, sem: threading.BoundedSemaphore) -> None:
        self.limiter, self.host, self.sem = limiter, host, sem

    def __enter__(self) -> None:
        self.sem.acquire()
        self.limiter.enter(self.host)

    def __exit__(self, *exc: object) -> None:
        self.limiter.leave(self.host)
        self.sem.release()


class ThrottledAdapter(HTTPAdapter):
    """``requests`` transport adapter that holds a host slot while a request is sent and its headers read."""

    def __init__(self, limiter: HostLimiter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limiter = limiter

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        with self.limiter.slot(request.url or ""):
            return super().send(request, *args, **kwargs)


def throttled_session(limiter: HostLimiter) -> requests.Session:
    """A session whose every request goes through ``limiter`` (connection pool sized to match)."""
    session = requests.Session()
    adapter = ThrottledAdapter(limiter, pool_maxsize=max(10, limiter.per_host))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session

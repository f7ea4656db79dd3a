"""The one HTTP layer every online feature goes through.

Why one layer: CONVENTIONS.md promises that every request has a timeout, bounded retries with backoff for
429/5xx, a deadline for the whole run, and that a failure ends the run with exit 3 naming the service and the
host. Centralising that here means no check can forget it, and a network failure can never turn into an empty
(and therefore "clean") result.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from auditor import __version__
from auditor.errors import NetworkError
from auditor.textsafe import redact_url as redact_url  # the one redactor (re-exported for its users)

USER_AGENT = f"mlaudit/{__version__}"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_REDIRECTS = 5


@dataclass
class NetConfig:
    """Timeouts and retry policy; ``deadline`` bounds the whole run's network time (seconds)."""

    timeout: float = 15.0
    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    deadline: float = 600.0
    allow_cross_host_redirects: bool = False


def host_of(url: str) -> str:
    """The host (and port) of a URL, without credentials: safe to print."""
    parts = urlsplit(url)
    host = parts.hostname or parts.netloc or url
    return f"{host}:{parts.port}" if parts.port else host


@dataclass
class HttpClient:
    """A requests session with the project's network policy. Thread-safe enough for a pool of GETs/POSTs."""

    config: NetConfig = field(default_factory=NetConfig)
    session: requests.Session = field(default_factory=requests.Session)
    started: float = field(default_factory=time.monotonic)
    sleep: Any = time.sleep
    # Hosts that already failed in this run (after their retries): later requests fail at once instead of paying
    # the retries again -- a run that keeps going after a service failed (to write its report) must not hammer it.
    failed: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.session.headers["User-Agent"] = USER_AGENT

    def _remaining(self, service: str, url: str) -> float:
        left = self.config.deadline - (time.monotonic() - self.started)
        if left <= 0:
            raise NetworkError("run deadline exceeded", service=service, host=host_of(url))
        return left

    def request(
        self,
        method: str,
        url: str,
        *,
        service: str,
        ok_statuses: frozenset[int] = frozenset({200}),
        **kwargs: Any,
    ) -> requests.Response:
        """Send a request with retries; return a response whose status is in ``ok_statuses``.

        Anything else (after retries) raises ``NetworkError``. Redirects are followed by hand so that a
        redirect to another host is refused unless configured: an index or API that bounces us elsewhere is
        a fault to report, not a source to trust silently.
        """
        known = self.failed.get((service, host_of(url)))
        if known is not None:
            raise NetworkError(f"{known} (failed earlier in this run; not asked again)", service=service,
                               host=host_of(url))
        try:
            return self._request(method, url, service=service, ok_statuses=ok_statuses, **kwargs)
        except NetworkError as exc:
            text = str(exc)
            if "attempts)" in text or "TLS error" in text:  # the host is down, not one answer about one URL
                self.failed[(service, exc.host)] = text.split(": ", 1)[-1]
            raise

    def _request(self, method: str, url: str, *, service: str, ok_statuses: frozenset[int],
                 **kwargs: Any) -> requests.Response:
        attempt = 0
        current = url
        redirects = 0
        last_error = ""
        while True:
            timeout = min(self.config.timeout, self._remaining(service, current))
            try:
                resp = self.session.request(method, current, timeout=timeout, allow_redirects=False, **kwargs)
            except requests.exceptions.SSLError as exc:
                raise NetworkError(f"TLS error: {_short(exc)}", service=service, host=host_of(current)) from exc
            except requests.exceptions.Timeout as exc:
                last_error = f"timed out after {timeout:.0f}s"
                resp = None
                err: Exception | None = exc
            except requests.exceptions.RequestException as exc:
                last_error = f"connection failed: {_short(exc)}"
                resp = None
                err = exc
            else:
                err = None
            if resp is not None and resp.is_redirect and "location" in resp.headers:
                target = urljoin(current, resp.headers["location"])
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise NetworkError("too many redirects", service=service, host=host_of(url))
                if not self.config.allow_cross_host_redirects and host_of(target) != host_of(current):
                    raise NetworkError(
                        f"refused redirect to another host ({host_of(target)})",
                        service=service,
                        host=host_of(current),
                    )
                current = target
                if resp.status_code == 303:
                    method = "GET"
                continue
            if resp is not None and resp.status_code in ok_statuses:
                return resp
            if resp is not None:
                last_error = f"HTTP {resp.status_code}"
                if resp.status_code not in RETRY_STATUSES:
                    raise NetworkError(last_error, service=service, host=host_of(current))
            attempt += 1
            if attempt > self.config.retries:
                raise NetworkError(
                    f"{last_error} (after {attempt} attempts)", service=service, host=host_of(current)
                ) from err
            delay = min(self.config.max_backoff, self.config.backoff * (2 ** (attempt - 1)))
            if resp is not None and resp.status_code == 429:
                delay = max(delay, _retry_after(resp, self.config.max_backoff))
            delay = min(delay, max(0.0, self._remaining(service, current) - 0.01))
            self.sleep(delay)

    def get(self, url: str, *, service: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, service=service, **kwargs)

    def get_json(self, url: str, *, service: str, **kwargs: Any) -> Any:
        resp = self.get(url, service=service, **kwargs)
        return parse_json(resp, service=service)

    def post_json(self, url: str, payload: Any, *, service: str, **kwargs: Any) -> Any:
        resp = self.request("POST", url, service=service, json=payload, **kwargs)
        return parse_json(resp, service=service)


def parse_json(resp: requests.Response, *, service: str) -> Any:
    """Decode a JSON body, turning truncated or non-JSON answers into a ``NetworkError``."""
    try:
        return json.loads(resp.content)
    except (ValueError, UnicodeDecodeError) as exc:
        ctype = resp.headers.get("content-type", "?")
        raise NetworkError(
            f"invalid JSON in response (content-type {ctype}): {_short(exc)}",
            service=service,
            host=host_of(resp.url or ""),
        ) from exc


def _retry_after(resp: requests.Response, cap: float) -> float:
    value = resp.headers.get("retry-after", "")
    try:
        return min(cap, max(0.0, float(value)))
    except ValueError:
        return 0.0


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]

"""The one HTTP layer every online feature goes through: one retry policy, one record of each host's state.

Why one layer: CONVENTIONS.md promises that every request has a timeout, bounded retries with backoff for
429/5xx, a deadline for the whole run, and that a failure ends the run with exit 3 naming the service and the
host. Centralising that here means no check can forget it, and a network failure can never turn into an empty
(and therefore "clean") result.

Why host state: a host that does not answer must cost a run one failure, not one per requirement, package or
service that names it (a public ML repository once took 439 s because an unreachable host was retried for every
URL requirement). ``HostBook`` records, per host, whether it has answered in this run (``UP``), failed after its
retries (``DOWN``: every later request fails at once with ``HostDownError``) or not been asked yet. The first request
to a host nobody has heard from goes alone; concurrent requests to it wait for its outcome, so sixteen threads
asking a silent host pay one timeout, not sixteen.

The retry policy (``RetryPolicy``) serves every client, ``HttpClient`` and the Hub client alike (``call``): 429 and
5xx and broken connections are retried with exponential backoff; a timeout, a refused connection, an unknown name
or a TLS failure on a host that has not answered in this run is final at once (retrying a silent host multiplies
the wait, and the user's ``--timeout`` already said how long to wait).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin, urlsplit

from auditor import __version__
from auditor.errors import HostDownError, NetworkError
from auditor.textsafe import redact_url as redact_url  # the one redactor (re-exported for its users)

USER_AGENT = f"mlaudit/{__version__}"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_REDIRECTS = 5
ANY_STATUS = frozenset(range(100, 600))
# Requests in flight to one host at most (every pool of every check together), and the connections kept open
# for reuse per host: one bound, so a check's thread pool never opens more connections than the session keeps.
MAX_IN_FLIGHT = 16

T = TypeVar("T")

if TYPE_CHECKING:  # requests (with urllib3, ssl, http.client) is imported by the first request, not by an offline run
    import requests


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


class HostState(str, Enum):
    UNKNOWN = "unknown"  # not heard from in this run
    UP = "up"  # answered at least once (any HTTP status)
    DOWN = "down"  # failed after its retries: not asked again in this run


class Failure(str, Enum):
    """Why one attempt got no usable answer (what the retry policy decides on)."""

    TIMEOUT = "timeout"  # no answer within the timeout (connect or read)
    REFUSED = "refused"  # nothing listens there
    DNS = "dns"  # the name does not resolve
    TLS = "tls"  # the certificate or handshake failed
    CONNECTION = "connection"  # reset, dropped, unreadable: may pass
    STATUS = "status"  # a retryable HTTP status (429, 5xx): the host answered


class AttemptFailed(Exception):
    """One attempt of a remote operation failed in a way the retry policy decides about."""

    def __init__(self, failure: Failure, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message
        self.retry_after = retry_after


# failures that end the operation at once when the host has not answered in this run
_FINAL_WHILE_UNHEARD = frozenset({Failure.TIMEOUT, Failure.REFUSED, Failure.DNS, Failure.TLS})


@dataclass(frozen=True)
class RetryPolicy:
    """The one retry policy of every client (``NetConfig`` holds its numbers)."""

    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0

    @classmethod
    def of(cls, config: NetConfig) -> RetryPolicy:
        return cls(retries=max(0, config.retries), backoff=config.backoff, max_backoff=config.max_backoff)

    def retry(self, failed: AttemptFailed, attempts: int, host: HostState) -> bool:
        """Whether to try again after ``attempts`` failed attempts, the last one ``failed``."""
        if attempts > self.retries or failed.failure is Failure.TLS:
            return False
        return not (host is not HostState.UP and failed.failure in _FINAL_WHILE_UNHEARD)

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        wait: float = min(self.max_backoff, self.backoff * (2.0 ** (attempts - 1)))
        if retry_after is not None:
            wait = max(wait, min(self.max_backoff, retry_after))
        return wait


@dataclass
class HostRecord:
    """What this run knows of one host."""

    state: HostState = HostState.UNKNOWN
    reason: str = ""  # the failure that put it DOWN
    service: str = ""  # the service whose request found it DOWN
    probing: threading.Event | None = None  # set while the first request to an unheard host is in flight
    slots: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(MAX_IN_FLIGHT))


class HostBook:
    """The typed state of every host a run talks to (shared by all its clients and threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hosts: dict[str, HostRecord] = {}

    def _record(self, host: str) -> HostRecord:
        record = self._hosts.get(host)
        if record is None:
            record = self._hosts[host] = HostRecord()
        return record

    def state(self, host: str) -> HostState:
        with self._lock:
            return self._record(host).state

    def down(self) -> dict[str, tuple[str, str]]:
        """Hosts that are down: host -> (the service that found it, its failure)."""
        with self._lock:
            return {h: (r.service, r.reason) for h, r in self._hosts.items() if r.state is HostState.DOWN}

    def admit(self, host: str, service: str, wait: float) -> bool:
        """Let one request to ``host`` go; True: it is the first to a host not heard from (it must ``settle``).

        A down host raises ``HostDownError``. While the first request to an unheard host is in flight, others wait
        for its outcome (at most ``wait`` seconds, then they go anyway)."""
        deadline = time.monotonic() + wait
        while True:
            with self._lock:
                record = self._record(host)
                if record.state is HostState.DOWN:
                    raise HostDownError(f"{record.reason} (the host failed earlier in this run; not asked again)",
                                        service=service, host=host, reason=record.reason, first=False)
                if record.state is HostState.UP:
                    return False
                if record.probing is None:
                    record.probing = threading.Event()
                    return True
                event = record.probing
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            event.wait(left)

    def mark_up(self, host: str) -> None:
        with self._lock:
            record = self._record(host)
            if record.state is HostState.UNKNOWN:
                record.state = HostState.UP
            self._release(record)

    def mark_down(self, host: str, service: str, reason: str) -> None:
        """``host`` failed after its retries (here or in another tool, e.g. the resolver): down for the run."""
        with self._lock:
            record = self._record(host)
            if record.state is not HostState.DOWN:
                record.state, record.service, record.reason = HostState.DOWN, service, reason
            self._release(record)

    def release(self, host: str) -> None:
        """The first request ended without telling whether the host answers (e.g. the deadline): let the next go."""
        with self._lock:
            self._release(self._record(host))

    @staticmethod
    def _release(record: HostRecord) -> None:
        if record.probing is not None:
            record.probing.set()
            record.probing = None

    def slots(self, host: str) -> threading.BoundedSemaphore:
        with self._lock:
            return self._record(host).slots


def _session() -> requests.Session:
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=MAX_IN_FLIGHT, pool_maxsize=MAX_IN_FLIGHT)  # reuse, never discard
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


_SESSION_LOCK = threading.Lock()


class HttpClient:
    """A requests session with the project's network policy, shared by every thread of a run. The session (and the
    requests library) comes with the first request: a run that asks no host imports none of it."""

    def __init__(self, config: NetConfig | None = None, session: requests.Session | None = None, *,
                 started: float | None = None, sleep: Any = time.sleep, hosts: HostBook | None = None) -> None:
        self.config = config or NetConfig()
        self.given_session: requests.Session | None = session
        self.started = time.monotonic() if started is None else started
        self.sleep = sleep
        self.hosts = hosts or HostBook()

    @property
    def session(self) -> requests.Session:
        if self.given_session is None:
            with _SESSION_LOCK:
                if self.given_session is None:
                    self.given_session = _session()
        session = self.given_session
        session.headers["User-Agent"] = USER_AGENT
        return session

    @property
    def policy(self) -> RetryPolicy:
        return RetryPolicy.of(self.config)

    def _remaining(self, service: str, host: str) -> float:
        left = self.config.deadline - (time.monotonic() - self.started)
        if left <= 0:
            raise NetworkError("run deadline exceeded", service=service, host=host)
        return left

    def call(self, attempt: Callable[[float], T], *, service: str, host: str) -> T:
        """Run one remote operation under the run's policy; ``attempt(timeout)`` does one try.

        ``attempt`` raises ``AttemptFailed`` for what the policy may retry; anything else it raises ends the
        operation as it is (an answer about the request: a 404, a bad payload). A host that failed after its
        retries is marked down (``HostDownError``, here and for every later request to it)."""
        first = self.hosts.admit(host, service, self._remaining(service, host))
        settled = False
        policy = self.policy
        try:
            attempts = 0
            while True:
                timeout = min(self.config.timeout, self._remaining(service, host))
                try:
                    with self.hosts.slots(host):
                        result = attempt(timeout)
                except AttemptFailed as failed:
                    attempts += 1
                    if failed.failure is Failure.STATUS:
                        self.hosts.mark_up(host)  # it answered, if not with what we asked for
                    if not policy.retry(failed, attempts, self.hosts.state(host)):
                        reason = f"{failed.message} (after {attempts} attempt{'s' if attempts != 1 else ''})"
                        self.hosts.mark_down(host, service, reason)
                        settled = True
                        raise HostDownError(reason, service=service, host=host, reason=reason,
                                            first=True) from failed
                    wait = policy.delay(attempts, failed.retry_after)
                    self.sleep(min(wait, max(0.0, self._remaining(service, host) - 0.01)))
                    continue
                self.hosts.mark_up(host)
                settled = True
                return result
        finally:
            if first and not settled:
                self.hosts.release(host)

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
        host = host_of(url)

        def attempt(timeout: float) -> requests.Response:
            return self._send(method, url, timeout, service=service, ok_statuses=ok_statuses, **kwargs)

        return self.call(attempt, service=service, host=host)

    def _send(self, method: str, url: str, timeout: float, *, service: str, ok_statuses: frozenset[int],
              **kwargs: Any) -> requests.Response:
        """One attempt, redirects followed (a redirect is not a new attempt)."""
        import requests

        session = self.session
        current = url
        redirects = 0
        while True:
            try:
                resp = session.request(method, current, timeout=timeout, allow_redirects=False, **kwargs)
            except requests.exceptions.RequestException as exc:
                raise _classify(exc, timeout) from exc
            self.hosts.mark_up(host_of(current))
            if resp.status_code in ok_statuses:
                return resp
            if resp.is_redirect and "location" in resp.headers:
                target = urljoin(current, resp.headers["location"])
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise NetworkError("too many redirects", service=service, host=host_of(url))
                if not self.config.allow_cross_host_redirects and host_of(target) != host_of(current):
                    raise NetworkError(f"refused redirect to another host ({host_of(target)})", service=service,
                                       host=host_of(current))
                current = target
                if resp.status_code == 303:
                    method = "GET"
                continue
            if resp.status_code in RETRY_STATUSES:
                retry_after = _retry_after(resp) if resp.status_code == 429 else None
                raise AttemptFailed(Failure.STATUS, f"HTTP {resp.status_code}", retry_after)
            raise NetworkError(f"HTTP {resp.status_code}", service=service, host=host_of(current))

    def probe(self, url: str, *, service: str) -> None:
        """Whether ``url``'s host answers at all (any HTTP status, redirects not followed): a ``HEAD`` under the
        run's policy. A host that does not is marked down (``HostDownError``)."""
        self.request("HEAD", url, service=service, ok_statuses=ANY_STATUS)

    def get(self, url: str, *, service: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, service=service, **kwargs)

    def get_json(self, url: str, *, service: str, **kwargs: Any) -> Any:
        resp = self.get(url, service=service, **kwargs)
        return parse_json(resp, service=service)

    def post_json(self, url: str, payload: Any, *, service: str, **kwargs: Any) -> Any:
        resp = self.request("POST", url, service=service, json=payload, **kwargs)
        return parse_json(resp, service=service)


def _classify(exc: requests.exceptions.RequestException, timeout: float) -> AttemptFailed:
    """A transport exception as the policy's failure kind (the causes are read from the exception chain)."""
    import requests

    if isinstance(exc, requests.exceptions.SSLError):
        return AttemptFailed(Failure.TLS, f"TLS error: {_short(exc)}")
    if isinstance(exc, requests.exceptions.Timeout):
        return AttemptFailed(Failure.TIMEOUT, f"timed out after {timeout:.0f}s")
    failure = failure_of(exc)
    if failure is Failure.REFUSED:
        return AttemptFailed(failure, "connection failed: refused (nothing listens there)")
    if failure is Failure.DNS:
        return AttemptFailed(failure, "connection failed: the host name does not resolve")
    return AttemptFailed(failure, f"connection failed: {_short(exc)}")


def failure_of(exc: BaseException) -> Failure:
    """The failure kind of a connection error from any client (requests/urllib3, httpx, plain sockets)."""
    import socket

    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        cur = stack.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, ConnectionRefusedError):
            return Failure.REFUSED
        if isinstance(cur, socket.gaierror) or type(cur).__name__ == "NameResolutionError":
            return Failure.DNS
        if isinstance(cur, TimeoutError) or type(cur).__name__ in ("ConnectTimeout", "ReadTimeout",
                                                                   "ConnectTimeoutError", "ReadTimeoutError"):
            return Failure.TIMEOUT
        stack.extend([cur.__cause__, cur.__context__, *(a for a in cur.args if isinstance(a, BaseException))])
        reason = getattr(cur, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
    return Failure.CONNECTION


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


def _retry_after(resp: requests.Response) -> float:
    value = resp.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return 0.0


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]

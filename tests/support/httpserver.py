"""A small real HTTP server on 127.0.0.1 for tests: index, OSV API, integrity API, Hub fakes all use it.

Routes are plain functions ``(Request) -> Response``; a route may also sleep (timeouts), return garbage
(truncated JSON) or drop the connection (``Response(reset=True)``), which the fault-injection suite relies on.
Every request is recorded in ``server.log`` so tests can assert what was (and was not) asked.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    match: re.Match[str] | None = None

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False  # close the socket without answering

    @classmethod
    def json(cls, obj: Any, status: int = 200, **headers: str) -> Response:
        return cls(status=status, body=json.dumps(obj).encode(), headers={"Content-Type": "application/json", **headers})


Handler = Callable[[Request], Response]


class LoopbackServer:
    """``with LoopbackServer() as srv: srv.route("GET", r"/simple/(?P<name>[^/]+)/", fn); srv.url``."""

    def __init__(self, tls: tuple[str, str] | None = None) -> None:
        self.tls = tls  # (certfile, keyfile): serve HTTPS with that (e.g. self-signed) certificate
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.log: list[Request] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.insert(0, (method.upper(), re.compile(pattern + r"\Z"), handler))

    def static(self, path: str, body: bytes | str, content_type: str = "application/octet-stream", status: int = 200) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.route("GET", re.escape(path), lambda _r: Response(status, data, {"Content-Type": content_type}))

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{port}"

    def start(self) -> LoopbackServer:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                return None

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
                server.log.append(req)
                for method, pattern, handler in server.routes:
                    if method not in (self.command, "*"):
                        continue
                    m = pattern.match(parts.path)
                    if m:
                        req.match = m
                        resp = handler(req)
                        break
                else:
                    resp = Response(404, b"not found", {"Content-Type": "text/plain"})
                if resp.delay:
                    time.sleep(resp.delay)
                if resp.reset:
                    try:
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    except OSError:
                        pass
                    self.close_connection = True
                    self.connection.close()
                    return
                data = resp.body
                if not isinstance(data, (bytes, str)):
                    data = json.dumps(data)
                payload = data.encode() if isinstance(data, str) else data
                self.send_response(resp.status)
                headers = {"Content-Type": "application/octet-stream", **resp.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_HEAD = do_PUT = do_PATCH = do_DELETE = _serve

        self._httpd = _QuietServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def requests_to(self, prefix: str) -> list[Request]:
        return [r for r in self.log if r.path.startswith(prefix)]


class _QuietServer(ThreadingHTTPServer):
    """A client that gave up (timeouts, hang and reset faults) is expected here: no traceback for a broken pipe."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


@contextmanager
def loopback() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@dataclass
class SilentHost:
    """A loopback host that accepts connections and never answers; ``accepted`` counts the connections."""

    url: str
    accepted: int = 0


@contextmanager
def silent_host() -> Iterator[SilentHost]:
    """A loopback URL whose host accepts every connection and never answers (a hung or black-holed service): a
    client pays its full read timeout on each request. Connections are held open until the block ends."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(256)
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()
    host = SilentHost(f"http://127.0.0.1:{server.getsockname()[1]}")

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            held.append(conn)
            host.accepted += 1

    thread = threading.Thread(target=accept, name="silent-host", daemon=True)
    thread.start()
    try:
        yield host
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        server.close()

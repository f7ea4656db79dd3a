"""The catalogue of misbehaviours a remote service can show, as LoopbackServer handlers.

Each fault is a function ``(other_url) -> handler``; ``other_url`` is a second loopback origin used for
redirects to "another host" (localhost vs 127.0.0.1 count as different hosts).
"""

from __future__ import annotations

from collections.abc import Callable

from tests.support.httpserver import Handler, Request, Response


def _status(code: int) -> Callable[[str], Handler]:
    return lambda _other: (lambda _r: Response(code, b"fault", {"Content-Type": "text/plain"}))


def _hang(_other: str) -> Handler:
    return lambda _r: Response(200, b"{}", {"Content-Type": "application/json"}, delay=3.0)


def _reset(_other: str) -> Handler:
    return lambda _r: Response(reset=True)


def _truncated(_other: str) -> Handler:
    return lambda _r: Response(200, b'{"results": [{"vulns": [{"id": "PYSEC-', {"Content-Type": "application/json"})


def _wrong_type(_other: str) -> Handler:
    return lambda _r: Response(200, b"<html><body>maintenance</body></html>", {"Content-Type": "text/html"})


def _redirect_away(other: str) -> Handler:
    def handler(req: Request) -> Response:
        return Response(302, b"", {"Location": other + req.path})
    return handler


FAULTS: dict[str, Callable[[str], Handler]] = {
    "http-404": _status(404),
    "http-429": _status(429),
    "http-500": _status(500),
    "http-503": _status(503),
    "reset": _reset,
    "hang": _hang,
    "truncated-json": _truncated,
    "wrong-content-type": _wrong_type,
    "redirect-other-host": _redirect_away,
}

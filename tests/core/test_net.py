"""The shared HTTP layer against a real loopback server: retries, timeouts, resets, redirects, bad JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.errors import NetworkError
from auditor.net import HttpClient, NetConfig
from tests.support.httpserver import LoopbackServer, Request, Response, closed_port_url


def _client(**kw: float) -> HttpClient:
    cfg = NetConfig(timeout=kw.get("timeout", 2.0), retries=int(kw.get("retries", 2)), backoff=0.01, max_backoff=0.05)
    return HttpClient(cfg)


def test_retries_5xx_then_succeeds() -> None:
    calls: list[int] = []

    def flaky(_r: Request) -> Response:
        calls.append(1)
        return Response(503, b"busy") if len(calls) < 3 else Response.json({"ok": True})

    with LoopbackServer() as srv:
        srv.route("GET", "/x", flaky)
        assert _client().get_json(srv.url + "/x", service="test API") == {"ok": True}
    assert len(calls) == 3


def test_429_honours_retry_after_bound() -> None:
    calls: list[int] = []

    def limited(_r: Request) -> Response:
        calls.append(1)
        return Response(429, b"slow down", {"Retry-After": "0"}) if len(calls) == 1 else Response.json([1])

    with LoopbackServer() as srv:
        srv.route("GET", "/x", limited)
        assert _client().get_json(srv.url + "/x", service="test API") == [1]


def test_5xx_exhaustion_names_service_and_host() -> None:
    with LoopbackServer() as srv:
        srv.route("GET", "/x", lambda _r: Response(500, b"boom"))
        with pytest.raises(NetworkError) as info:
            _client(retries=1).get(srv.url + "/x", service="OSV API")
    assert "OSV API" in str(info.value) and "127.0.0.1" in str(info.value) and "HTTP 500" in str(info.value)


def test_404_is_not_retried() -> None:
    with LoopbackServer() as srv:
        with pytest.raises(NetworkError, match="HTTP 404"):
            _client().get(srv.url + "/missing", service="index")
        assert len(srv.log) == 1


def test_timeout_is_an_error_not_an_empty_answer() -> None:
    with LoopbackServer() as srv:
        srv.route("GET", "/slow", lambda _r: Response(200, b"{}", delay=1.0))
        with pytest.raises(NetworkError, match="timed out"):
            _client(timeout=0.2, retries=0).get(srv.url + "/slow", service="index")


def test_connection_refused_and_reset() -> None:
    with pytest.raises(NetworkError, match="connection failed"):
        _client(retries=0).get(closed_port_url() + "/", service="index")
    with LoopbackServer() as srv:
        srv.route("GET", "/reset", lambda _r: Response(reset=True))
        with pytest.raises(NetworkError):
            _client(retries=1).get(srv.url + "/reset", service="index")


def test_cross_host_redirect_refused_same_host_followed() -> None:
    with LoopbackServer() as srv:
        srv.route("GET", "/away", lambda _r: Response(302, b"", {"Location": "http://localhost:1/elsewhere"}))
        srv.route("GET", "/here", lambda _r: Response(302, b"", {"Location": "/final"}))
        srv.route("GET", "/final", lambda _r: Response.json({"final": 1}))
        assert _client().get_json(srv.url + "/here", service="index") == {"final": 1}
        with pytest.raises(NetworkError, match="refused redirect"):
            _client().get(srv.url + "/away", service="index")


def test_truncated_or_wrong_type_json() -> None:
    with LoopbackServer() as srv:
        srv.route("GET", "/trunc", lambda _r: Response(200, b'{"vulns": [', {"Content-Type": "application/json"}))
        srv.route("GET", "/html", lambda _r: Response(200, b"<html>hi</html>", {"Content-Type": "text/html"}))
        for path in ("/trunc", "/html"):
            with pytest.raises(NetworkError, match="invalid JSON"):
                _client().get_json(srv.url + path, service="OSV API")


def test_run_deadline() -> None:
    client = HttpClient(NetConfig(deadline=0.0))
    with pytest.raises(NetworkError, match="deadline"):
        client.get("http://127.0.0.1:9/", service="index")


def test_bad_tls_certificate_is_a_network_error(tmp_path: Path) -> None:
    from tests.support.tls import self_signed

    with LoopbackServer(tls=self_signed(tmp_path)) as srv:
        with pytest.raises(NetworkError, match="TLS"):
            _client(retries=0).get(srv.url + "/", service="index")

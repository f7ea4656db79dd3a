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


# -- host state: a host that does not answer costs a run one failure -------------------------------------------


def test_concurrent_requests_to_a_silent_host_pay_one_timeout() -> None:
    """Sixteen threads ask a host that accepts and never answers: the first request's timeout decides for all
    (one connection, one timeout), every request fails with the host named, later ones without asking."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from auditor.errors import HostDownError
    from auditor.net import HostState
    from tests.support.httpserver import silent_host

    client = _client(timeout=0.5, retries=3)
    with silent_host() as hung:
        start = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            outcomes = list(pool.map(lambda i: _outcome(client, f"{hung.url}/p/{i}/"), range(16)))
        elapsed = time.monotonic() - start
        accepted = hung.accepted
        later = _outcome(client, hung.url + "/again/")
    assert all(isinstance(o, HostDownError) for o in [*outcomes, later])
    assert elapsed < 1.4  # one 0.5 s timeout, not 4 attempts (2 s + back-off) nor 16 of them
    assert accepted == 1
    assert client.hosts.state(hung.url.split("//")[1]) is HostState.DOWN
    assert "timed out" in str(later) and "not asked again" in str(later)


def test_refusing_host_is_down_after_one_attempt() -> None:
    import time

    from auditor.errors import HostDownError

    client = HttpClient(NetConfig(timeout=2.0, retries=3, backoff=0.4, max_backoff=1.0))
    url = closed_port_url()
    start = time.monotonic()
    first, second = _outcome(client, url + "/a"), _outcome(client, url + "/b")
    assert isinstance(first, HostDownError) and first.first and "connection failed" in str(first)
    assert isinstance(second, HostDownError) and not second.first
    assert time.monotonic() - start < 0.35  # no back-off: a host that never answered and refuses is down


def test_a_host_that_answered_is_retried_after_a_timeout() -> None:
    """A timeout on a host that has answered in this run is retried (a slow answer, not a dead host)."""
    calls: list[int] = []

    def slow_once(_r: Request) -> Response:
        calls.append(1)
        answer = Response.json({"n": len(calls)})
        answer.delay = 0.6 if len(calls) == 2 else 0.0
        return answer

    with LoopbackServer() as srv:
        srv.route("GET", "/x", slow_once)
        client = _client(timeout=0.3, retries=2)
        assert client.get_json(srv.url + "/x", service="index") == {"n": 1}
        assert client.get_json(srv.url + "/x", service="index") == {"n": 3}
    assert len(calls) == 3


def test_5xx_after_retries_marks_the_host_down_for_the_run() -> None:
    from auditor.errors import HostDownError

    with LoopbackServer() as srv:
        srv.route("GET", "/.*", lambda _r: Response(503, b"down"))
        client = _client(retries=1)
        assert isinstance(_outcome(client, srv.url + "/a"), HostDownError)
        asked = len(srv.log)
        assert isinstance(_outcome(client, srv.url + "/b"), HostDownError)
        assert len(srv.log) == asked == 2  # the second request never reached the host


def test_probe_counts_any_answer() -> None:
    with LoopbackServer() as srv:
        client = _client()
        client.probe(srv.url + "/nothing-here", service="download host")  # a 404 is an answer
        from auditor.net import HostState

        assert client.hosts.state(srv.url.split("//")[1]) is HostState.UP


def _outcome(client: HttpClient, url: str) -> object:
    try:
        return client.get(url, service="package index")
    except NetworkError as exc:
        return exc

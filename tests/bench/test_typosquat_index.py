"""The typosquat bench's index-metadata fetcher over loopback: trimmed documents cached in the bench cache, a 404
recorded as gone, retries on 5xx, a name that never answers reported as not fetched (never genuine, never gone)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import _typosquat_index as ix
from tests.support.httpserver import LoopbackServer, Request, Response


def test_fetch_all_caches_trims_and_tells_gone_from_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLAUDIT_BENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(ix, "BACKOFF", 0.0)
    flaky = {"n": 0}

    def handler(req: Request) -> Response:
        assert req.match is not None
        name = req.match.group("name")
        if name == "flaky":
            flaky["n"] += 1
            if flaky["n"] < 3:
                return Response(503, b"busy")
        if name in ("good", "flaky"):
            return Response.json({"info": {"summary": "s", "project_urls": {"Source": "https://x.example/o/r"},
                                           "description": "long text that is dropped"},
                                  "releases": {"1.0": [{"upload_time_iso_8601": "2026-01-01T00:00:00Z",
                                                        "packagetype": "sdist", "yanked": False, "size": 1}]}})
        if name == "down":
            return Response(500, b"no")
        return Response(404, b"no")

    with LoopbackServer() as srv:
        srv.route("GET", r"/pypi/(?P<name>[^/]+)/json", handler)
        got = ix.fetch_all(f"{srv.url}/pypi/", ["good", "gone", "flaky", "down"])
        again = ix.fetch_all(f"{srv.url}/pypi/", ["good", "gone"])
        asked = len(srv.requests_to("/pypi/good/json"))
    assert got["good"].doc is not None and "description" not in got["good"].doc["info"]
    assert got["good"].doc["releases"]["1.0"] == [{"upload_time_iso_8601": "2026-01-01T00:00:00Z",
                                                   "packagetype": "sdist", "yanked": False}]
    assert got["gone"].gone and got["gone"].doc is None and got["gone"].error is None
    assert got["flaky"].doc is not None and flaky["n"] == 3
    assert got["down"].error == "HTTP 500" and not got["down"].gone
    assert asked == 1 and again["gone"].gone  # the second run reads the cache, 404s included
    cached = json.loads((tmp_path / "index-json" / "good.json").read_text())
    assert cached["fetched"] and not (tmp_path / "index-json" / "down.json").exists()

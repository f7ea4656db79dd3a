"""``--online`` against a fake OSV API on 127.0.0.1: batching, pagination, retries, timeouts, merging."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from auditor.advisories.freshness import note_stale_data
from auditor.advisories.osv_api import BATCH_SIZE, OsvApiClient
from auditor.checks.advisories import CHECK as ADVISORIES
from auditor.checks.malicious import CHECK as MALICIOUS
from auditor.domain import Package, Report
from auditor.errors import NetworkError
from auditor.net import HttpClient, NetConfig
from auditor.options import AuditContext, AuditOptions
from tests.support.httpserver import LoopbackServer, Request, Response


def record(rid: str, name: str, events: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    return {"id": rid, "summary": f"{rid} summary", "modified": "2026-11-01T00:00:00Z",
            "affected": [{"package": {"name": name, "ecosystem": "PyPI"},
                          "ranges": [{"type": "ECOSYSTEM", "events": events}]}], **extra}


class FakeOsv:
    """Answers querybatch from ``ids_for`` (name -> list of id pages) and vulns from ``records``."""

    def __init__(self, srv: LoopbackServer) -> None:
        self.pages: dict[str, list[list[str]]] = {}  # answers to (name, version) queries
        self.name_pages: dict[str, list[list[str]]] = {}  # answers to name-only queries
        self.queries: list[dict[str, Any]] = []
        self.records: dict[str, dict[str, Any]] = {}
        self.batch_sizes: list[int] = []
        self.fail_batch: list[Response] = []  # responses served (in order) before real answers
        self.lock = threading.Lock()
        srv.route("POST", "/v1/querybatch", self.querybatch)
        srv.route("GET", r"/v1/vulns/(?P<id>[^/]+)", self.vuln)

    def querybatch(self, req: Request) -> Response:
        with self.lock:
            if self.fail_batch:
                return self.fail_batch.pop(0)
        queries = req.json()["queries"]
        self.batch_sizes.append(len(queries))
        results = []
        self.queries.extend(queries)
        for q in queries:
            assert q["package"]["ecosystem"] == "PyPI"
            source = self.pages if "version" in q else self.name_pages
            pages = source.get(q["package"]["name"], [[]])
            index = int(q.get("page_token", "0"))
            result: dict[str, Any] = {"vulns": [{"id": i, "modified": "2026-11-01T00:00:00Z"} for i in pages[index]]}
            if index + 1 < len(pages):
                result["next_page_token"] = str(index + 1)
            results.append(result)
        return Response.json({"results": results})

    def vuln(self, req: Request) -> Response:
        assert req.match is not None
        rid = req.match["id"]
        if rid not in self.records:
            return Response.json({"code": 5, "message": "Bug not found"}, status=404)
        return Response.json(self.records[rid])


def fast_http(**kw: Any) -> HttpClient:
    return HttpClient(NetConfig(**{"retries": 2, "backoff": 0.01, "max_backoff": 0.05, "timeout": 5.0, **kw}))


def test_batching_and_pagination() -> None:
    with LoopbackServer() as srv:
        fake = FakeOsv(srv)
        fake.pages["paged"] = [["OSV-A"], ["OSV-B"], ["OSV-C"]]
        fake.pages["pkg-7"] = [["OSV-A"]]
        for rid in ("OSV-A", "OSV-B", "OSV-C"):
            fake.records[rid] = record(rid, "paged", [{"introduced": "0"}])
        packages = [(f"pkg-{i}", "1.0") for i in range(BATCH_SIZE + 500)] + [("Paged", "2.0")]
        answer = OsvApiClient(fast_http(), base=srv.url).query(packages)
        # 1,501 version queries + 1,501 name-only (malware) queries, sent concurrently in batches of <= 1,000
        assert sorted(fake.batch_sizes[:4]) == [2, BATCH_SIZE, BATCH_SIZE, BATCH_SIZE]
        assert all(size <= BATCH_SIZE for size in fake.batch_sizes)
        assert sum("version" not in q for q in fake.queries[:3002]) == 1501
        assert [r["id"] for r in answer[("paged", "2.0")]] == ["OSV-A", "OSV-B", "OSV-C"]
        assert [r["id"] for r in answer[("pkg-7", "1.0")]] == ["OSV-A"]
        vuln_gets = [r.path for r in srv.log if r.path.startswith("/v1/vulns/")]
        assert sorted(vuln_gets) == ["/v1/vulns/OSV-A", "/v1/vulns/OSV-B", "/v1/vulns/OSV-C"]  # fetched once each


def test_name_only_query_brings_malware_whatever_the_version() -> None:
    """Issue 5: a MAL- record of the name counts even when the audited version is not listed; the name-only
    answer's other ids (advisories of other versions) are never fetched."""
    with LoopbackServer() as srv:
        fake = FakeOsv(srv)
        fake.name_pages["sneaky"] = [["GHSA-oldv-oldv-oldv"], ["MAL-2026-9"]]  # paginated too
        fake.records["MAL-2026-9"] = dict(record("MAL-2026-9", "sneaky", []), affected=[
            {"package": {"name": "sneaky", "ecosystem": "PyPI"}, "versions": ["0.1"]}])
        answer = OsvApiClient(fast_http(), base=srv.url).query([("Sneaky", "9.9")])
        assert [r["id"] for r in answer[("sneaky", "9.9")]] == ["MAL-2026-9"]
        assert not srv.requests_to("/v1/vulns/GHSA")
        ctx = _ctx(online=True)  # through the check: sneaky 0.1 is in the report; the record lists 0.1 only
        ctx.report.packages["sneaky"].version = "0.2"
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MLAUDIT_OSV_API", srv.url)
            (finding,) = [f for f in MALICIOUS.run(ctx) if f.package == ("sneaky", "0.2")]
        assert finding.id == "MAL-2026-9" and finding.evidence["version_listed"] is False


def test_batches_are_concurrent() -> None:
    """Two batches must be in flight at once: each handler waits for the other at a barrier (a sequential client
    would time the barrier out and get a 500). The API has answered once before (the first request to a host the
    run has not heard from goes alone: ``net.HostBook``)."""
    barrier = threading.Barrier(2, timeout=5)

    def querybatch(req: Request) -> Response:
        queries = req.json()["queries"]
        if all(q["package"]["name"] == "first" for q in queries):  # the run's first question: the API answers
            return Response.json({"results": [{} for _ in queries]})
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return Response(500, b"not concurrent")
        return Response.json({"results": [{} for _ in req.json()["queries"]]})

    with LoopbackServer() as srv:
        srv.route("POST", "/v1/querybatch", querybatch)
        client = OsvApiClient(fast_http(retries=0), base=srv.url)
        client.query([("first", "1.0")])
        packages = [(f"p{i}", "1.0") for i in range(BATCH_SIZE // 2 + 1)]  # + as many name-only: 2 batches
        answer = client.query(packages)
    assert len(answer) == len(packages) and not any(answer.values())


def test_truncated_json_is_network_error() -> None:
    with LoopbackServer() as srv:
        srv.route("POST", "/v1/querybatch", lambda _r: Response(200, b'{"results": [{"vulns": [{"id": "GH'))
        with pytest.raises(NetworkError, match="invalid JSON"):
            OsvApiClient(fast_http(), base=srv.url).query([("x", "1")])
        srv.route("POST", "/v1/querybatch", lambda r: Response.json(
            {"results": [{"vulns": [{"id": "OSV-T"}]} for _ in r.json()["queries"]]}))
        srv.route("GET", "/v1/vulns/OSV-T", lambda _r: Response(200, b'{"id": "OSV-T", "affected": ['))
        with pytest.raises(NetworkError, match="invalid JSON") as info:
            OsvApiClient(fast_http(), base=srv.url).query([("x", "1")])
        assert info.value.host == srv.url.split("//", 1)[1]


def test_429_then_success() -> None:
    with LoopbackServer() as srv:
        fake = FakeOsv(srv)
        fake.pages["x"] = [["OSV-X"]]
        fake.records["OSV-X"] = record("OSV-X", "x", [{"introduced": "0"}])
        fake.fail_batch = [Response(429, b"slow down", {"Retry-After": "0"})]
        answer = OsvApiClient(fast_http(), base=srv.url).query([("x", "1")])
        assert [r["id"] for r in answer[("x", "1")]] == ["OSV-X"]
        assert len(srv.requests_to("/v1/querybatch")) == 2


def test_500_exhaustion_is_network_error() -> None:
    with LoopbackServer() as srv:
        fake = FakeOsv(srv)
        fake.fail_batch = [Response(500, b"down") for _ in range(5)]
        with pytest.raises(NetworkError, match="OSV API"):
            OsvApiClient(fast_http(), base=srv.url).query([("x", "1")])
        assert len(srv.requests_to("/v1/querybatch")) == 3


def test_timeout_is_network_error() -> None:
    with LoopbackServer() as srv:
        fake = FakeOsv(srv)
        fake.fail_batch = [Response(200, b"{}", delay=1.0)]
        with pytest.raises(NetworkError, match="timed out"):
            OsvApiClient(fast_http(timeout=0.2, retries=0), base=srv.url).query([("x", "1")])


@pytest.mark.parametrize("body", [{"results": []}, {"nope": 1}, {"results": [{"vulns": [{"no": "id"}]}]}])
def test_malformed_answers_are_network_errors(body: Any) -> None:
    with LoopbackServer() as srv:
        srv.route("POST", "/v1/querybatch", lambda _r: Response.json(body))
        with pytest.raises(NetworkError):
            OsvApiClient(fast_http(), base=srv.url).query([("x", "1")])


def test_missing_vuln_detail_is_network_error() -> None:
    with LoopbackServer() as srv:
        fake = FakeOsv(srv)
        fake.pages["x"] = [["OSV-GONE"]]
        with pytest.raises(NetworkError, match="HTTP 404"):
            OsvApiClient(fast_http(), base=srv.url).query([("x", "1")])


def _ctx(*, online: bool, offline: bool = False) -> AuditContext:
    report = Report()
    for name, version in (("jinja2", "2.10"), ("fresh-pkg", "1.0"), ("sneaky", "0.1")):
        report.add_package(Package(name=name, version=version, resolved=name != "sneaky"))
    return AuditContext(options=AuditOptions(online=online, offline=offline), report=report, http=fast_http())


def test_checks_merge_online_with_local(monkeypatch: pytest.MonkeyPatch) -> None:
    with LoopbackServer() as srv:
        fake = FakeOsv(srv)
        # the GHSA twin of a local PYSEC record: must merge into the same finding, not duplicate it
        fake.pages["jinja2"] = [["GHSA-462w-v97r-4m45"]]
        fake.records["GHSA-462w-v97r-4m45"] = record(
            "GHSA-462w-v97r-4m45", "jinja2", [{"introduced": "0"}, {"fixed": "2.10.1"}],
            aliases=["CVE-2019-10906"], database_specific={"severity": "HIGH"})
        fake.pages["fresh-pkg"] = [["GHSA-new1-new1-new1"]]
        fake.records["GHSA-new1-new1-new1"] = record("GHSA-new1-new1-new1", "fresh-pkg",
                                                     [{"introduced": "0"}, {"fixed": "1.1"}])
        fake.pages["sneaky"] = [["MAL-2026-1"]]
        fake.records["MAL-2026-1"] = record("MAL-2026-1", "sneaky", [{"introduced": "0"}])
        monkeypatch.setenv("MLAUDIT_OSV_API", srv.url)
        ctx = _ctx(online=True)
        mal = list(MALICIOUS.run(ctx))
        vulns = list(ADVISORIES.run(ctx))
        assert len(srv.requests_to("/v1/querybatch")) == 1  # one query serves both checks
    assert [(f.id, f.package) for f in mal] == [("MAL-2026-1", ("sneaky", "0.1"))]
    jinja = [f for f in vulns if f.package == ("jinja2", "2.10")]
    twins = [f for f in jinja if "GHSA-462w-v97r-4m45" in f.all_ids]
    assert len(twins) == 1 and twins[0].id.startswith("PYSEC-") and "CVE-2019-10906" in twins[0].aliases
    assert [f.id for f in vulns if f.package == ("fresh-pkg", "1.0")] == ["GHSA-new1-new1-new1"]
    names = [s.name for s in ctx.report.data_sources]
    assert names.count("advisories") == 1 and "advisories (online)" in names
    note_stale_data(ctx.report, None)  # what the pipeline does after the checks
    (stale,) = [w for w in ctx.report.warnings if "mlaudit db update" in w]
    assert "also asked the OSV API" in stale  # online: the old local data is not the whole story


def test_online_failure_keeps_local_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 23 (6): the API adds to the local results, never replaces them; its failure is one service item,
    and the second check does not ask again."""
    with LoopbackServer() as srv:
        srv.route("POST", "/v1/querybatch", lambda _r: Response(503, b"down"))
        monkeypatch.setenv("MLAUDIT_OSV_API", srv.url)
        ctx = _ctx(online=True)
        vulns = list(ADVISORIES.run(ctx))
        mal = list(MALICIOUS.run(ctx))
        asked = len(srv.requests_to("/v1/querybatch"))
    offline = _ctx(online=False)
    assert [f.id for f in vulns] == [f.id for f in ADVISORIES.run(offline)] and vulns
    assert [f.id for f in mal] == [f.id for f in MALICIOUS.run(offline)]
    assert asked == 3  # one request and its two retries, for both checks together
    (service,) = ctx.report.incomplete_reasons
    assert service.subject.startswith("OSV API (127.0.0.1:") and not ctx.report.complete


def test_offline_never_queries(monkeypatch: pytest.MonkeyPatch) -> None:
    with LoopbackServer() as srv:
        monkeypatch.setenv("MLAUDIT_OSV_API", srv.url)
        for ctx in (_ctx(online=False), _ctx(online=True, offline=True)):
            findings = list(ADVISORIES.run(ctx)) + list(MALICIOUS.run(ctx))
            assert any(f.package == ("jinja2", "2.10") for f in findings)
        assert srv.log == []


def test_unconfirmed_online_advisory_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API lists an id whose record (GIT ranges only, no versions) exact evaluation cannot confirm: no finding,
    but a warning naming it, never silence."""
    with LoopbackServer() as srv:
        fake = FakeOsv(srv)
        fake.pages["fresh-pkg"] = [["GHSA-gitonly-1"]]
        fake.records["GHSA-gitonly-1"] = {"id": "GHSA-gitonly-1", "affected": [
            {"package": {"name": "fresh-pkg", "ecosystem": "PyPI"},
             "ranges": [{"type": "GIT", "repo": "x", "events": [{"introduced": "abc"}]}]}]}
        monkeypatch.setenv("MLAUDIT_OSV_API", srv.url)
        ctx = _ctx(online=True)
        ctx.report.add_package(Package(name="no-version", version=""))
        findings = list(ADVISORIES.run(ctx))
    assert not [f for f in findings if f.package and f.package[0] == "fresh-pkg"]
    assert any("GHSA-gitonly-1" in w and "fresh-pkg 1.0" in w for w in ctx.report.warnings)
    assert any(r.subject == "no-version" for r in ctx.report.incomplete_reasons) and not ctx.report.complete

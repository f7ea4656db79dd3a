"""Dependency confusion across two loopback indexes (one PEP 691 JSON, one PEP 503 HTML)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from auditor.checks.confusion import CHECK, RULE, parse_listing
from auditor.domain import Package, Report, Severity
from auditor.net import HttpClient, NetConfig, redact_url
from auditor.options import AuditContext, AuditOptions
from auditor.policy import Policy
from tests.support.httpserver import LoopbackServer, Request, Response, closed_port_url


def json_index(projects: dict[str, list[str]]) -> LoopbackServer:
    """PEP 691 JSON pages; answers HTML-only clients with 406 to prove the check asks for JSON."""
    srv = LoopbackServer()

    def page(req: Request) -> Response:
        assert req.match is not None
        name = req.match.group("name")
        if name not in projects:
            return Response(404, b"not found")
        files = [{"filename": f"{name.replace('-', '_')}-{v}-py3-none-any.whl", "url": f"/f/{name}-{v}.whl",
                  "hashes": {}} for v in projects[name]]
        body = json.dumps({"meta": {"api-version": "1.0"}, "name": name, "files": files}).encode()
        return Response(200, body, {"Content-Type": "application/vnd.pypi.simple.v1+json"})

    srv.route("GET", r"/simple/(?P<name>[^/]+)/", page)
    return srv


def html_index(projects: dict[str, list[str]]) -> LoopbackServer:
    srv = LoopbackServer()

    def page(req: Request) -> Response:
        assert req.match is not None
        name = req.match.group("name")
        if name not in projects:
            return Response(404, b"not found")
        links = "".join(f'<a href="/files/{name}-{v}.tar.gz#sha256=00">{name}-{v}.tar.gz</a><br/>'
                        for v in projects[name])
        return Response(200, f"<!DOCTYPE html><html><body>{links}</body></html>", {"Content-Type": "text/html"})

    srv.route("GET", r"/simple/(?P<name>[^/]+)/", page)
    return srv


@pytest.fixture
def indexes() -> Iterator[tuple[LoopbackServer, LoopbackServer]]:
    private = json_index({"acme-auth": ["1.2.0", "1.3.0"], "acme-utils": ["0.4"], "shared-lib": ["2.0"]})
    public = html_index({"acme-auth": ["99.0.0"], "shared-lib": ["1.0"], "requests": ["2.32.3"],
                         "acme-leak": ["0.1"]})
    with private, public:
        yield private, public


def ctx_for(urls: list[str], names: dict[str, str], *, offline: bool = False, policy: Policy | None = None,
            from_properties: bool = True) -> AuditContext:
    report = Report()
    for name, version in names.items():
        report.add_package(Package(name=name, version=version, direct=True))
    options = AuditOptions(index_url=urls[0] if urls else None, extra_index_urls=list(urls[1:]), offline=offline,
                           policy=policy)
    ctx = AuditContext(options=options, report=report, http=HttpClient(NetConfig(timeout=5, retries=0)))
    if from_properties:
        ctx.index_urls = list(urls)
    return ctx


def test_name_on_both_indexes(indexes: tuple[LoopbackServer, LoopbackServer]) -> None:
    private, public = indexes
    urls = [f"{private.url}/simple/", f"{public.url}/simple/"]
    ctx = ctx_for(urls, {"acme-auth": "1.3.0", "acme-utils": "0.4", "shared-lib": "2.0", "requests": "2.32.3"})
    findings = {f.package[0]: f for f in CHECK.run(ctx) if f.package}
    assert set(findings) == {"acme-auth", "shared-lib"}
    auth = findings["acme-auth"]
    assert auth.kind == "dependency-confusion" and auth.id == RULE
    assert auth.severity == Severity.CRITICAL  # the public 99.0.0 beats the pinned private 1.3.0 under pip
    ev = auth.evidence
    assert ev["pip_winner"] == {"index": urls[1], "version": "99.0.0"}
    assert ev["uv_winner"]["index"] == urls[0] and "unsafe-best-match" in ev["uv_winner"]["strategy"]
    assert ev["pinned_on"] == urls[0]
    assert [i["versions"] for i in ev["indexes"]] == [["1.2.0", "1.3.0"], ["99.0.0"]]
    shared = findings["shared-lib"]
    assert shared.severity == Severity.HIGH  # present twice, but the pinned copy is the highest
    # the JSON index was asked for PEP 691 JSON
    assert any("vnd.pypi.simple.v1+json" in r.headers.get("Accept", "") for r in private.log)
    assert ctx.report.incomplete_reasons == ()


def test_internal_prefix_only_on_secondary_index(indexes: tuple[LoopbackServer, LoopbackServer]) -> None:
    private, public = indexes
    urls = [f"{private.url}/simple/", f"{public.url}/simple/"]
    ctx = ctx_for(urls, {"acme-leak": "0.1"}, policy=Policy(internal_prefixes=["acme"]))
    findings = list(CHECK.run(ctx))
    assert len(findings) == 1 and findings[0].evidence["internal_prefix"] is True
    assert "internal prefix" in findings[0].message


def test_reads_indexes_from_options_when_the_pipeline_recorded_none(
        indexes: tuple[LoopbackServer, LoopbackServer]) -> None:
    private, public = indexes
    urls = [f"{private.url}/simple", f"{public.url}/simple"]
    ctx = ctx_for(urls, {"acme-auth": "1.3.0"}, from_properties=False)
    assert [f.package for f in CHECK.run(ctx)] == [("acme-auth", "1.3.0")]


def test_single_index_does_nothing(indexes: tuple[LoopbackServer, LoopbackServer]) -> None:
    private, _public = indexes
    ctx = ctx_for([f"{private.url}/simple/"], {"acme-auth": "1.3.0"})
    assert list(CHECK.run(ctx)) == []
    assert private.log == []


def test_offline_is_recorded_as_not_checked() -> None:
    ctx = ctx_for(["http://127.0.0.1:9/simple/", "http://127.0.0.1:10/simple/"], {"x": "1"}, offline=True)
    assert list(CHECK.run(ctx)) == []
    assert any("not checked" in (r.reason or "") for r in ctx.report.incomplete_reasons)


def test_unreachable_index_is_incomplete_not_clean(indexes: tuple[LoopbackServer, LoopbackServer]) -> None:
    private, _public = indexes
    ctx = ctx_for([f"{private.url}/simple/", closed_port_url() + "/simple/"], {"acme-auth": "1.3.0"})
    assert list(CHECK.run(ctx)) == []
    assert any("lookup(s) failed" in (r.reason or "") for r in ctx.report.incomplete_reasons)


def test_parse_listing_and_redact() -> None:
    html = b'<a href="../../f/pkg-1.0.tar.gz#sha256=1">pkg-1.0.tar.gz</a><a href="x/pkg-2.0-py3-none-any.whl">w</a>'
    assert parse_listing(html, "text/html") == ["1.0", "2.0"]
    assert parse_listing(b'{"versions": ["3.0", "1.0"], "files": []}', "application/vnd.pypi.simple.v1+json") == [
        "1.0", "3.0"]
    assert redact_url("https://user:tok@host.invalid/simple/") == "https://***@host.invalid/simple/"

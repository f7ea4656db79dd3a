"""The audit check: findings for package names and model orgs, plus metadata signals from a fake JSON API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from auditor.checks.typosquat import CHECK, RULE_HF, RULE_PYPI, assess_name, hf_org_of
from auditor.domain import Location, ModelRef, Package, Report, Severity
from auditor.net import HttpClient, NetConfig
from auditor.options import AuditContext, AuditOptions
from auditor.policy import Policy
from auditor.typosquat import NameContext
from tests.support.httpserver import LoopbackServer, Request, Response


def make_ctx(names: list[str], *, models: list[ModelRef] | None = None, online: bool = False,
             index: str | None = None, policy: Policy | None = None) -> AuditContext:
    report = Report()
    for i, name in enumerate(names, start=1):
        report.add_package(Package(name=name, version="1.0", direct=True, location=Location("requirements.txt", i)))
    report.models.extend(models or [])
    options = AuditOptions(online=online, index_url=index, policy=policy)
    ctx = AuditContext(options=options, report=report, http=HttpClient(NetConfig(timeout=5, retries=0)))
    if index:
        ctx.index_urls = [index]
    return ctx


def test_typosquat_finding_shape() -> None:
    ctx = make_ctx(["reqeusts", "requests", "numpy"])
    findings = list(CHECK.run(ctx))
    assert len(findings) == 1
    f = findings[0]
    assert f.kind == "typosquat" and f.id == RULE_PYPI
    assert f.package == ("reqeusts", "1.0")
    assert f.location == Location("requirements.txt", 1)
    assert f.severity == Severity.HIGH
    assert f.message.startswith("'reqeusts' looks like 'requests' (transposition")
    assert f.fix == "did you mean 'requests'?"
    assert {"target", "score", "reasons", "target_rank"} <= set(f.evidence)
    assert f.evidence["target_rank"] == 7
    assert any(d.name == "popular PyPI projects" for d in ctx.report.data_sources)


def test_medium_severity_below_high_threshold() -> None:
    findings = list(CHECK.run(make_ctx(["pillov"])))
    assert findings and findings[0].severity == Severity.MEDIUM
    assert 0.5 <= findings[0].evidence["score"] < 0.8


def test_policy_allowlist_suppresses() -> None:
    ctx = make_ctx(["reqeusts"], policy=Policy(typosquat_allowlist={"reqeusts"}))
    assert list(CHECK.run(ctx)) == []


def test_model_org_lookalike() -> None:
    refs = [
        ModelRef("meta-Ilama/Llama-3.1-8B", revision="main", location=Location("train.py", 4)),
        ModelRef("meta-llama/Llama-3.1-8B", location=Location("train.py", 5)),
        ModelRef("gpt2"),
        ModelRef("mistral-ai/Mistral-7B-v0.1", kind="dataset"),
    ]
    findings = list(CHECK.run(make_ctx([], models=refs)))
    by_repo = {f.model[0]: f for f in findings if f.model}
    assert set(by_repo) == {"meta-Ilama/Llama-3.1-8B", "mistral-ai/Mistral-7B-v0.1"}
    f = by_repo["meta-Ilama/Llama-3.1-8B"]
    assert f.id == RULE_HF and f.kind == "typosquat" and f.model == ("meta-Ilama/Llama-3.1-8B", "main")
    assert f.evidence["target"] == "meta-llama" and f.location == Location("train.py", 4)
    assert f.fix == "did you mean 'meta-llama/Llama-3.1-8B'?"


def test_hf_org_of() -> None:
    assert hf_org_of("org/name") == "org"
    assert hf_org_of("gpt2") is None
    assert hf_org_of("a/b/c") is None


def _project(summary: str, versions: dict[str, int], urls: bool) -> dict[str, Any]:
    now = dt.datetime.now(dt.timezone.utc)
    return {
        "info": {"summary": summary, "home_page": "" if not urls else "https://example.invalid/",
                 "project_urls": None, "author": "someone"},
        "releases": {v: [{"upload_time_iso_8601": (now - dt.timedelta(days=age)).isoformat()}]
                     for v, age in versions.items()},
    }


def _json_api(srv: LoopbackServer, docs: dict[str, dict[str, Any]]) -> None:
    def api(req: Request) -> Response:
        assert req.match is not None
        doc = docs.get(req.match.group("name"))
        return Response.json(doc) if doc else Response(404, b"no")

    srv.route("GET", r"/pypi/(?P<name>[^/]+)/json", api)


TARGET_DOC = _project("Python HTTP for Humans.", {"2.31.0": 900, "2.32.3": 200}, True)


def test_metadata_of_a_fresh_copy_raises_the_score() -> None:
    offline = list(CHECK.run(make_ctx(["pillov"])))[0]
    with LoopbackServer() as srv:
        _json_api(srv, {"pillov": _project("Python Imaging Library (Fork)", {"99.0.0": 3}, False),
                        "pillow": _project("Python Imaging Library (Fork)", {"10.0.0": 900}, True)})
        ctx = make_ctx(["pillov"], online=True, index=f"{srv.url}/simple/")
        online = list(CHECK.run(ctx))[0]
    assert online.evidence["score"] > offline.evidence["score"] and online.severity == Severity.HIGH
    reasons = " | ".join(online.evidence["reasons"])
    assert "summary copied from the target" in reasons and "a single release" in reasons
    assert "day(s) ago" in reasons and "[index JSON API]" in reasons
    assert ctx.report.incomplete_reasons == ()


def test_metadata_of_a_long_lived_project_lowers_the_score() -> None:
    with LoopbackServer() as srv:
        _json_api(srv, {"pillov": _project("Tools for pill-shaped widgets", {f"1.{i}": 1500 - i for i in range(12)},
                                           True),
                        "pillow": _project("Python Imaging Library (Fork)", {"10.0.0": 900}, True)})
        ctx = make_ctx(["pillov"], online=True, index=f"{srv.url}/simple/")
        assert list(CHECK.run(ctx)) == []


def test_a_name_the_index_does_not_have_is_high() -> None:
    with LoopbackServer() as srv:
        _json_api(srv, {"requests": TARGET_DOC})  # the API works (it knows the target) but not the candidate
        ctx = make_ctx(["requestn"], online=True, index=f"{srv.url}/simple/")
        findings = list(CHECK.run(ctx))
    assert findings and findings[0].severity == Severity.HIGH
    assert any("index does not have this name" in r for r in findings[0].evidence["reasons"])
    assert ctx.report.incomplete_reasons == ()


def test_metadata_404_for_both_is_not_checked_not_clean() -> None:
    with LoopbackServer() as srv:
        srv.route("GET", r"/pypi/.*", lambda _r: Response(404, b"no"))
        ctx = make_ctx(["reqeusts"], online=True, index=f"{srv.url}/simple/")
        findings = list(CHECK.run(ctx))
    assert findings and findings[0].id == RULE_PYPI
    assert any("reqeusts" in r.subject for r in ctx.report.incomplete_reasons)


def test_metadata_server_error_is_not_checked() -> None:
    with LoopbackServer() as srv:
        srv.route("GET", r"/pypi/.*", lambda _r: Response(500, b"down"))
        ctx = make_ctx(["reqeusts"], online=True, index=f"{srv.url}/simple/")
        findings = list(CHECK.run(ctx))
    assert findings  # the name-only verdict stands
    assert any("reqeusts" in r.subject and "not checked" in (r.reason or "") for r in ctx.report.incomplete_reasons)


def test_metadata_never_fires_alone() -> None:
    with LoopbackServer() as srv:
        srv.route("GET", r"/pypi/(?P<name>[^/]+)/json",
                  lambda _r: Response.json(_project("x", {"999.0": 1}, False)))
        ctx = make_ctx(["zqxjv-internal-thing", "requests"], online=True, index=f"{srv.url}/simple/")
        assert list(CHECK.run(ctx)) == []
        assert srv.requests_to("/pypi/") == []


def test_callers_pass_what_they_know() -> None:
    ctx = make_ctx(["pyinstalers", "zqxjv-internal-thing"])
    assert list(CHECK.run(ctx)) == []  # name-only: a look-alike, below the flag
    ctx = make_ctx(["pyinstalers", "zqxjv-internal-thing"])
    missing = {"PyInstalers": NameContext(on_index=False, source="resolver"),
               "zqxjv-internal-thing": NameContext(on_index=False, source="resolver")}
    findings = CHECK.findings(ctx, missing)
    assert [f.package for f in findings] == [("pyinstalers", "1.0")]  # context never creates a look-alike
    assert findings[0].severity == Severity.HIGH
    assert any("[resolver]" in r for r in findings[0].evidence["reasons"])


def test_assess_name() -> None:
    assert not assess_name("pyinstalers").flagged
    r = assess_name("pyinstalers", NameContext(on_index=False))
    assert r.flagged and r.target == "pyinstaller"

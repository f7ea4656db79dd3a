"""The typosquat check inside an audit: the dependency graph and the index's project pages (PEP 691 JSON with PEP
700 upload times, served on loopback) as evidence, offline gaps stated (issue 23 row 12, issue 28)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from auditor.checks.typosquat import CHECK, popular_requirers
from auditor.domain import Edge, Location, Package, Report, Severity, package_node
from auditor.net import HttpClient, NetConfig
from auditor.options import AuditContext, AuditOptions
from auditor.pkgindex import project_page
from auditor.typosquat import NameContext, apply_context, pypi_detector
from auditor.typosquat.context import context_from_uploads, evidence, merge
from tests.support.httpserver import LoopbackServer, Request, Response

NOW = dt.datetime.now(dt.timezone.utc)


def audit(names: list[str], edges: list[tuple[str, str]] = (), *, index: str | None = None,  # type: ignore[assignment]
          offline: bool = False) -> AuditContext:
    report = Report()
    for i, name in enumerate(names, start=1):
        direct = not any(child == name for _, child in edges)
        report.add_package(Package(name=name, version="1.0", direct=direct,
                                   location=Location("requirements.txt", i) if direct else None))
    report.edges.extend(Edge(package_node(a), package_node(b), origin="resolver") for a, b in edges)
    ctx = AuditContext(options=AuditOptions(offline=offline, index_url=index), report=report,
                       http=HttpClient(NetConfig(timeout=5, retries=0)))
    if index:
        ctx.index_urls = [index]
    return ctx


def flagged(ctx: AuditContext) -> dict[str, Any]:
    return {f.package[0]: f for f in CHECK.run(ctx) if f.package}


def page(name: str, releases: dict[str, int]) -> dict[str, Any]:
    """A PEP 691 JSON project page: one wheel per version, uploaded ``age`` days ago."""
    files = [{"filename": f"{name.replace('-', '_')}-{v}-py3-none-any.whl",
              "url": f"/files/{name}-{v}.whl", "hashes": {"sha256": "0" * 64},
              "upload-time": (NOW - dt.timedelta(days=age)).isoformat().replace("+00:00", "Z")}
             for v, age in releases.items()]
    return {"meta": {"api-version": "1.1"}, "name": name, "files": files, "versions": list(releases)}


def serve_pages(srv: LoopbackServer, pages: dict[str, dict[str, Any]]) -> None:
    def handler(req: Request) -> Response:
        assert req.match is not None
        doc = pages.get(req.match.group("name"))
        if doc is None:
            return Response(404, b"no")
        return Response.json(doc, **{"Content-Type": "application/vnd.pypi.simple.v1+json"})

    srv.route("GET", r"/simple/(?P<name>[^/]+)/", handler)


# -- the dependency graph (offline too) --------------------------------------------------------------------------
def test_names_a_popular_package_requires_are_genuine_offline() -> None:
    # huggingface-hub -> httpx2 -> httpcore2 (issue 23 row 12: mlaudit's own dependencies were flagged)
    names = ["huggingface-hub", "httpx2", "httpcore2"]
    alone = flagged(audit(["httpx2", "httpcore2"], offline=True))
    assert set(alone) == {"httpx2", "httpcore2"}  # typed directly, nothing vouches for them: still look-alikes
    ctx = audit(names, [("huggingface-hub", "httpx2"), ("httpx2", "httpcore2")], offline=True)
    assert flagged(ctx) == {}


def test_a_popular_requirer_does_not_vouch_for_the_roots_own_typo() -> None:
    ctx = audit(["requests", "reqeusts"], offline=True)  # both direct: requests does not require reqeusts
    found = flagged(ctx)
    assert set(found) == {"reqeusts"} and found["reqeusts"].evidence["context"] == {"required_by_popular": []}


def test_popular_requirers_walk_the_graph_and_stop_at_the_root() -> None:
    report = Report()
    for name in ("openai", "httpx2", "httpcore2", "mything", "reqeusts"):
        report.add_package(Package(name=name, version="1.0"))
    report.edges += [Edge(package_node("openai"), package_node("httpx2")),
                     Edge(package_node("httpx2"), package_node("httpcore2")),
                     Edge("root", package_node("reqeusts")),
                     Edge(package_node("mything"), package_node("reqeusts"))]
    got = popular_requirers(report, pypi_detector().popular.rank_of)
    assert got[package_node("httpx2")] == ["openai"] and got[package_node("httpcore2")] == ["openai"]
    assert package_node("reqeusts") not in got  # the root and a non-popular package vouch for nothing


def test_offline_says_what_was_not_looked_up() -> None:
    ctx = audit(["reqeusts"], offline=True)
    f = flagged(ctx)["reqeusts"]
    assert any("--offline" in gap for gap in f.evidence["missing_facts"])
    assert any("judged without their index record" in w for w in ctx.report.warnings)


# -- the index's project pages (the default audit) ---------------------------------------------------------------
def test_a_long_lived_project_is_cleared_by_its_page() -> None:
    # ktransformers / retryz (issue 23 row 12): years of releases on the index
    with LoopbackServer() as srv:
        serve_pages(srv, {"ktransformers": page("ktransformers", {f"0.{i}": 900 - 30 * i for i in range(14)}),
                          "retryz": page("retryz", {f"0.1.{i}": 3300 - 10 * i for i in range(10)})})
        name_only = flagged(audit(["ktransformers", "retryz"], offline=True))
        ctx = audit(["ktransformers", "retryz"], index=f"{srv.url}/simple/")
        found = flagged(ctx)
    assert set(name_only) == {"ktransformers", "retryz"}
    assert found == {}
    assert ctx.report.incomplete_reasons == ()


def test_a_fresh_single_release_is_raised_and_the_page_is_shared() -> None:
    with LoopbackServer() as srv:
        serve_pages(srv, {"pyinstalers": page("pyinstalers", {"6.0.0": 2})})
        ctx = audit(["pyinstalers"], index=f"{srv.url}/simple/")
        found = flagged(ctx)
        f = found["pyinstalers"]
        assert f.severity == Severity.HIGH
        assert f.evidence["context"]["release_count"] == 1 and f.evidence["context"]["age_days"] <= 3
        # the loopback index has no JSON API: the facts it would give are missing, and the audit is not a gap
        assert any(g.startswith("project links, summary:") and "JSON API" in g for g in f.evidence["missing_facts"])
        assert ctx.report.incomplete_reasons == ()
        # the hash and provenance checks read the same page from the run's cache: no second request
        assert project_page(ctx, "pyinstalers", f"{srv.url}/simple/") is not None
        assert len(srv.requests_to("/simple/pyinstalers/")) == 1
    assert not flagged(audit(["pyinstalers"], offline=True))  # by name alone it stays below the flag


def test_an_unreachable_index_is_a_gap_not_a_verdict() -> None:
    ctx = audit(["reqeusts"], index="http://127.0.0.1:9/simple/")
    found = flagged(ctx)
    assert "reqeusts" in found  # the name-only verdict stands
    assert any("reqeusts" in (r.subject or "") for r in ctx.report.incomplete_reasons)


def test_only_candidates_are_looked_up() -> None:
    with LoopbackServer() as srv:
        serve_pages(srv, {})
        ctx = audit(["requests", "zqxjv-internal-thing", "numpy"], index=f"{srv.url}/simple/")
        assert flagged(ctx) == {}
        assert srv.requests_to("/simple/") == [] and srv.requests_to("/pypi/") == []


# -- the index JSON API (links, summary) in the default audit ----------------------------------------------------
def json_doc(name: str, summary: str, urls: dict[str, str], releases: dict[str, int]) -> dict[str, Any]:
    files = {v: [{"upload_time_iso_8601": (NOW - dt.timedelta(days=age)).isoformat(), "packagetype": "sdist",
                  "yanked": False}] for v, age in releases.items()}
    return {"info": {"name": name, "summary": summary, "home_page": None, "project_urls": urls}, "releases": files}


def serve_json(srv: LoopbackServer, docs: dict[str, dict[str, Any]]) -> None:
    def handler(req: Request) -> Response:
        assert req.match is not None
        doc = docs.get(req.match.group("name"))
        return Response(404, b"no") if doc is None else Response.json(doc)

    srv.route("GET", r"/pypi/(?P<name>[^/]+)/json", handler)


TARGET_URLS = {"Source": "https://code.example/pyinstaller/pyinstaller", "Homepage": "https://pyinstaller.example"}
TARGET_SUMMARY = "PyInstaller bundles a Python application and all its dependencies into a single package."


def test_copied_links_and_summary_are_read_in_a_default_audit() -> None:
    with LoopbackServer() as srv:
        serve_pages(srv, {"pyinstalers": page("pyinstalers", {"6.0.0": 2})})
        serve_json(srv, {"pyinstalers": json_doc("pyinstalers", TARGET_SUMMARY, TARGET_URLS, {"6.0.0": 2}),
                         "pyinstaller": json_doc("pyinstaller", TARGET_SUMMARY, TARGET_URLS, {"6.0.0": 900})})
        ctx = audit(["pyinstalers"], index=f"{srv.url}/simple/")  # no --online: the default audit
        f = flagged(ctx)["pyinstalers"]
        assert len(srv.requests_to("/pypi/pyinstalers/json")) == 1 and srv.requests_to("/pypi/pyinstaller/json")
    facts = f.evidence["context"]
    assert facts["links_to_target"] is True and facts["summary_matches_target"] is True
    assert facts["own_repository"] is False
    assert any("imitated project's repository" in r for r in f.evidence["reasons"])
    assert not any(g.startswith("project links") for g in f.evidence["missing_facts"])


def test_own_repository_and_releases_over_weeks_weigh_for_a_young_project() -> None:
    # a young project one letter from matplotlib (0.84 by name), three releases over 40 days, its own repository
    own = {"Source": "https://code.example/someone/matplotlid"}
    releases = {"0.1.0": 60, "0.2.0": 40, "0.3.0": 20}
    with LoopbackServer() as srv:  # an index without the JSON API: the page's facts alone
        serve_pages(srv, {"matplotlid": page("matplotlid", releases)})
        bare = audit(["matplotlid"], index=f"{srv.url}/simple/")
        found = flagged(bare)
    with LoopbackServer() as srv:
        serve_pages(srv, {"matplotlid": page("matplotlid", releases)})
        serve_json(srv, {"matplotlid": json_doc("matplotlid", "Viewer of my own", own, releases),
                         "matplotlib": json_doc("matplotlib", "Python plotting package", {
                             "Source": "https://code.example/matplotlib/matplotlib"}, {"3.0": 3000})})
        genuine = audit(["matplotlid"], index=f"{srv.url}/simple/")
        assert flagged(genuine) == {}
    facts = found["matplotlid"].evidence["context"]
    assert facts["release_days"] == 3 and facts["release_span_days"] == 40
    assert any("releases on 3 days" in r for r in found["matplotlid"].evidence["reasons"])
    assert genuine.report.incomplete_reasons == () and bare.report.incomplete_reasons == ()


def test_a_failing_json_api_is_a_warning_not_a_gap_by_default() -> None:
    with LoopbackServer() as srv:
        serve_pages(srv, {"pyinstalers": page("pyinstalers", {"6.0.0": 2})})
        srv.route("GET", r"/pypi/(?P<name>[^/]+)/json", lambda req: Response(500, b"down"))
        ctx = audit(["pyinstalers"], index=f"{srv.url}/simple/")
        f = flagged(ctx)["pyinstalers"]  # the page's facts still raise it
    assert ctx.report.incomplete_reasons == ()
    assert any("JSON API could not be read for 1 name(s)" in w and "pyinstalers" in w for w in ctx.report.warnings)
    assert any(g.startswith("project links, summary: not checked") for g in f.evidence["missing_facts"])
    assert f.evidence["context"]["release_count"] == 1


# -- the pure pieces ------------------------------------------------------------------------------------------------
def test_page_facts_without_upload_times_say_so() -> None:
    c = context_from_uploads([], 3, source="page")
    assert c.first_upload is None and c.release_count == 3
    assert any("no upload times" in g for g in c.missing)


def test_merge_answers_missing_facts() -> None:
    gap = NameContext(missing=("first upload, release count: not looked up (--offline)",))
    known = context_from_uploads([NOW], 1, source="page")
    both = merge(gap, known)
    assert both is not None and both.missing == () and both.release_count == 1 and both.source == "page"


def test_required_by_moves_even_a_strong_lookalike_below_the_flag() -> None:
    det = pypi_detector()
    base = det.check("httpcore2")
    assert base.flagged
    moved = apply_context(base, NameContext(required_by=("openai",), source="dependency graph"))
    assert not moved.flagged and any("required by the popular 'openai'" in r for r in moved.reasons)
    assert evidence(NameContext(required_by=("openai",)))["context"] == {"required_by_popular": ["openai"]}


# -- end to end: a lockfile's edges through the CLI ----------------------------------------------------------------
def _pkg(name: str, deps: list[str]) -> str:
    dep_lines = "".join(f'    {{ name = "{d}" }},\n' for d in deps)
    wheel = f"{name.replace('-', '_')}-1.0-py3-none-any.whl"
    return (f'[[package]]\nname = "{name}"\nversion = "1.0"\nsource = {{ registry = "http://127.0.0.1:9/simple" }}\n'
            + (f"dependencies = [\n{dep_lines}]\n" if deps else "")
            + f'wheels = [\n    {{ url = "http://127.0.0.1:9/files/{wheel}", hash = "sha256:{"1" * 64}" }},\n]\n\n')


def test_a_locked_graph_clears_genuine_dependencies_end_to_end(tmp_path: Any, capsys: Any) -> None:
    import json

    from auditor.cli import main

    lock = ('version = 1\nrevision = 2\nrequires-python = ">=3.10"\n\n'
            + _pkg("app", ["huggingface-hub", "pyinstalers"])
            .replace('source = { registry = "http://127.0.0.1:9/simple" }', 'source = { virtual = "." }')
            .split("wheels = [")[0] + "\n"
            + _pkg("huggingface-hub", ["httpx2"]) + _pkg("httpx2", ["httpcore2"]) + _pkg("httpcore2", [])
            + _pkg("pyinstalers", []))
    (tmp_path / "uv.lock").write_text(lock)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1.0"\n'
                                             'dependencies = ["huggingface-hub", "pyinstalers"]\n')
    main(["--offline", str(tmp_path / "uv.lock"), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert {"httpx2", "httpcore2", "pyinstalers"} <= {p["name"] for p in doc["packages"]}
    squats = {f["package"]["name"]: f for f in doc["findings"] if f["kind"] == "typosquat"}
    assert "httpx2" not in squats and "httpcore2" not in squats  # vouched for by huggingface-hub's tree
    assert any("judged without their index record" in w for w in doc["warnings"])  # pyinstalers, by name only


def test_the_projects_own_packages_are_not_names_to_squat() -> None:
    # a workspace member / local path is installed from disk (opentelemetry-python-contrib's own instrumentations)
    ctx = audit(["opentelemetry-instrumentation-openai-agents-v2", "reqeusts"], offline=True)
    ctx.report.packages["opentelemetry-instrumentation-openai-agents-v2"].origin = "workspace member"
    assert set(flagged(ctx)) == {"reqeusts"}

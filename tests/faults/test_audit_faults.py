"""Real audits (``auditor.cli.main``) against a faulty package index and a faulty OSV API.

Index: a project whose requirement needs resolving, ``--index-url`` pointing at the fault; uv does the HTTP.
OSV API: a fully pinned project (no resolver) audited ``--online`` with ``MLAUDIT_OSV_API`` pointing at the fault.
Every fault must end in exit 3 naming the service and host, or in a report that is ``complete: false`` and names
what was not checked; a control run against the healthy service shows the project itself audits fine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.net import host_of
from tests.faults.harness import ALL_FAULTS, assert_failed_loudly, run_cli, serve_fault
from tests.support.httpserver import LoopbackServer, Response
from tests.support.index import LocalIndex

pytestmark = pytest.mark.usefixtures("fast_retries")

COMMON = ["--format", "json", "--timeout", "0.5", "--python-version", "3.11", "--fail-on", "critical", "-q"]


# -- package index ---------------------------------------------------------------------------------------------

def local_index() -> LocalIndex:
    index = LocalIndex()
    index.add_wheel("alpha", "1.0", requires=["beta>=2"])
    index.add_wheel("beta", "2.1")
    return index


def healthy_index(srv: LoopbackServer) -> None:
    """The LocalIndex's own routes (PEP 503/691 pages, files, PEP 658 metadata) on ``srv``."""
    index = local_index()
    srv.route("GET", r"/simple/?", index._root_page)
    srv.route("GET", r"/simple/(?P<name>[^/]+)/?", index._project_page)
    srv.route("GET", r"/files/(?P<file>[^/]+)", index._file)


def index_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "requirements.txt").write_text("alpha>=1\n")
    return project


def test_index_control_resolves(tmp_path: Path) -> None:
    with LoopbackServer() as srv:
        healthy_index(srv)
        outcome = run_cli([str(index_project(tmp_path)), "--index-url", f"{srv.url}/simple", *COMMON])
    assert outcome.code == 0, outcome.err
    report = outcome.report
    assert report is not None and report["complete"] is True
    assert {p["name"]: p["version"] for p in report["packages"]} == {"alpha": "1.0", "beta": "2.1"}


# An index that is down stops the run naming the index host. An index that answers, but with 404s or pages uv
# cannot use, looks to the resolver like "no such project": the run still stops (exit 3), naming the index host
# and the requirement that could not be resolved.
DOWN = ("http-500", "http-503", "http-429", "reset", "hang", "bad-tls", "refused")
UNUSABLE = ("http-404", "truncated-json", "wrong-content-type")


@pytest.mark.parametrize("fault", [f for f in ALL_FAULTS if f != "redirect-other-host"])
def test_index_fault(fault: str, tmp_path: Path) -> None:
    project = index_project(tmp_path)
    with serve_fault(fault, healthy_index, tmp_path / "tls") as url:
        outcome = run_cli([str(project), "--index-url", f"{url}/simple", *COMMON])
    if fault in DOWN:
        assert_failed_loudly(outcome, "package index", host_of(url))
    else:
        assert fault in UNUSABLE
        assert outcome.code == 3, f"{fault}: exit {outcome.code}: {outcome.out[:500]} {outcome.err}"
        assert "alpha>=1" in outcome.err and host_of(url) in outcome.err, outcome.err
        assert "Traceback" not in outcome.err and "internal error" not in outcome.err, outcome.err


def test_index_redirect_to_another_host_is_followed_like_pip(tmp_path: Path) -> None:
    """Documented behaviour: resolution is uv's, and uv (like pip) follows an index's redirect; the audit then
    describes exactly what an install from that index would get (the same packages as the healthy index), so
    the clean result is a true one. mlaudit's own requests (OSV API, export, Hub) refuse cross-host redirects."""
    project = index_project(tmp_path)
    with serve_fault("redirect-other-host", healthy_index, tmp_path / "tls") as url:
        outcome = run_cli([str(project), "--index-url", f"{url}/simple", *COMMON])
    if outcome.code == 3:
        assert_failed_loudly(outcome, "package index", host_of(url))
        return
    report = outcome.report
    assert outcome.code == 0 and report is not None and report["complete"] is True, outcome.err
    assert {p["name"]: p["version"] for p in report["packages"]} == {"alpha": "1.0", "beta": "2.1"}


# -- OSV API ---------------------------------------------------------------------------------------------------

def healthy_osv(srv: LoopbackServer) -> None:
    srv.route("POST", r"/v1/querybatch",
              lambda req: Response.json({"results": [{} for _ in req.json()["queries"]]}))


def pinned_project(tmp_path: Path) -> Path:
    project = tmp_path / "pinned"
    project.mkdir()
    (project / "requirements.txt").write_text("fault-demo-pkg==1.0\n")
    return project


def test_osv_control_is_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pinned_index: str) -> None:
    with LoopbackServer() as srv:
        healthy_osv(srv)
        monkeypatch.setenv("MLAUDIT_OSV_API", srv.url)
        outcome = run_cli([str(pinned_project(tmp_path)), "--online", "--index-url", pinned_index, *COMMON])
        assert [r.path for r in srv.log] == ["/v1/querybatch"]
    assert outcome.code == 0, outcome.err
    assert outcome.report is not None and outcome.report["complete"] is True, outcome.report


@pytest.mark.parametrize("fault", ALL_FAULTS)
def test_osv_api_fault(fault: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pinned_index: str) -> None:
    project = pinned_project(tmp_path)
    with serve_fault(fault, healthy_osv, tmp_path / "tls") as url:
        monkeypatch.setenv("MLAUDIT_OSV_API", url)
        outcome = run_cli([str(project), "--online", "--index-url", pinned_index, *COMMON])
    assert_failed_loudly(outcome, "OSV API", host_of(url))

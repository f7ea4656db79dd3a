"""Real ``--online`` audits with the PEP 740 Integrity API (``MLAUDIT_INTEGRITY_URL``) showing each fault.

The index and the OSV API are healthy loopback services; only the integrity look-up misbehaves. A failed
look-up must never read as "not attested": exit 3 naming the integrity API and its host.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.net import host_of
from tests.faults.harness import ALL_FAULTS, assert_failed_loudly, run_cli, serve_fault
from tests.faults.test_audit_faults import COMMON, healthy_osv, pinned_project
from tests.support.httpserver import LoopbackServer, Response

pytest.importorskip("auditor.provenance.integrity")

pytestmark = pytest.mark.usefixtures("fast_retries")


def healthy_integrity(srv: LoopbackServer) -> None:
    """PEP 740: 404 means "this file has no provenance" (the healthy answer for an unattested file)."""
    srv.route("GET", r"/.*/provenance", lambda _r: Response.json({"message": "no provenance"}, 404))


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch, pinned_index: str) -> Iterator[str]:
    with LoopbackServer() as osv:
        healthy_osv(osv)
        monkeypatch.setenv("MLAUDIT_OSV_API", osv.url)
        yield pinned_index


def test_integrity_control(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, services: str) -> None:
    with LoopbackServer() as srv:
        healthy_integrity(srv)
        monkeypatch.setenv("MLAUDIT_INTEGRITY_URL", srv.url)
        outcome = run_cli([str(pinned_project(tmp_path)), "--online", "--index-url", services, *COMMON])
        assert any(r.path.endswith("/provenance") for r in srv.log), "the integrity API was never asked"
    assert outcome.code == 0, outcome.err
    report = outcome.report
    assert report is not None and report["complete"] is True
    assert any(f["kind"] == "missing-provenance" for f in report["findings"]), report["findings"]


# http-404 is the integrity API's healthy "no provenance" answer (the control above), not a fault.
@pytest.mark.parametrize("fault", [f for f in ALL_FAULTS if f != "http-404"])
def test_integrity_fault(fault: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, services: str) -> None:
    project = pinned_project(tmp_path)
    with serve_fault(fault, healthy_integrity, tmp_path / "tls") as url:
        monkeypatch.setenv("MLAUDIT_INTEGRITY_URL", url)
        outcome = run_cli([str(project), "--online", "--index-url", services, *COMMON])
    assert_failed_loudly(outcome, "integrity API", host_of(url))

"""End to end through ``mlaudit`` (in-process): hash mismatch and provenance in the JSON report and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.cli import main
from tests.provenance.conftest import PROJECT, SDIST, VERSION, Fixture, integrity_index, serve

OTHER_ONLINE = ["--disable-check", "advisories", "--disable-check", "malicious"]  # their services are not faked


def _audit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main([*args, "--format", "json", *OTHER_ONLINE])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def test_online_audit_reports_mismatch_and_attestation(prov_fixture: Fixture, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    idx = integrity_index()
    idx.add_file(PROJECT, SDIST, prov_fixture.data(SDIST), prov_fixture.data(SDIST + ".provenance"))
    idx.index.add_wheel("alpha", "1.0")
    reqs = tmp_path / "requirements.txt"
    reqs.write_text(f"alpha==1.0 --hash=sha256:{'0' * 64}\n{PROJECT}=={VERSION}\n")
    with serve(idx) as url:
        code, report = _audit(capsys, str(reqs), "--online", "--index-url", url)
    assert code == 1
    findings = {(f["kind"], f["package"]["name"]): f for f in report["findings"]}  # type: ignore[index, union-attr]
    assert findings[("hash-mismatch", "alpha")]["severity"] == "critical"
    assert findings[("hash-mismatch", "alpha")]["location"] == {"file": str(reqs), "line": 1}
    assert findings[("missing-provenance", "alpha")]["severity"] == "info"
    packages = {p["name"]: p for p in report["packages"]}  # type: ignore[index, union-attr]
    assert packages[PROJECT]["properties"]["slsa"] == "attested-build"
    assert packages[PROJECT]["properties"]["provenance-repository"] == "trailofbits/pypi-attestations"
    assert packages["alpha"]["properties"]["hashes-verified"] == "mismatch"


def test_online_audit_with_integrity_api_down_exits_3(prov_fixture: Fixture, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    idx = integrity_index()
    idx.add_file(PROJECT, SDIST, prov_fixture.data(SDIST), prov_fixture.data(SDIST + ".provenance"))
    idx.status = 500
    reqs = tmp_path / "requirements.txt"
    reqs.write_text(f"{PROJECT}=={VERSION}\n")
    with serve(idx) as url:
        code = main([str(reqs), "--online", "--index-url", url, "--timeout", "2", *OTHER_ONLINE])
    assert code == 3
    assert "integrity API (127.0.0.1:" in capsys.readouterr().err

"""The formats and ``mlaudit sbom`` through the real CLI entry point (the pipeline is replaced by the fixture
report, so these tests exercise argument handling, emit and exit codes, not resolution)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.xml import XmlValidator

import auditor.pipeline
from auditor.cli import main
from auditor.domain import Report
from auditor.options import AuditOptions
from tests.outputs.fixture import fixture_report


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    req = tmp_path / "requirements.txt"
    req.write_text("flask==2.0.1\n", encoding="utf-8")

    def fake_run_audit(options: AuditOptions, progress: object = None) -> Report:
        report = fixture_report()
        report.fail_on = options.fail_on  # what the pipeline does: the gate's inputs come from the options
        report.require_complete = options.require_complete
        return report

    monkeypatch.setattr(auditor.pipeline, "run_audit", fake_run_audit)
    return tmp_path


def test_sbom_command_writes_json_and_xml_and_does_not_gate(project: Path) -> None:
    out = project / "sbom.json"
    assert main(["sbom", str(project / "requirements.txt"), "-o", str(out), "--sbom-vex"]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6" and doc["vulnerabilities"]
    xml_out = project / "sbom.xml"
    assert main(["sbom", str(project / "requirements.txt"), "--format", "cyclonedx-xml", "-o", str(xml_out)]) == 0
    assert XmlValidator(SchemaVersion.V1_6).validate_str(xml_out.read_text(encoding="utf-8")) is None


def test_sbom_command_gates_only_when_asked(project: Path) -> None:
    req = str(project / "requirements.txt")
    assert main(["sbom", req, "-o", str(project / "a.json"), "--fail-on", "high"]) == 1
    assert main(["sbom", req, "-o", str(project / "b.json"), "--require-complete"]) == 3


@pytest.mark.parametrize("fmt", ["sarif", "html", "markdown", "cyclonedx", "cyclonedx-json", "cyclonedx-xml"])
def test_audit_formats_through_the_cli(project: Path, fmt: str) -> None:
    out = project / f"report.{fmt}"
    code = main([str(project / "requirements.txt"), "--format", fmt, "-o", str(out), "--fail-on", "critical"])
    assert code == 1  # the fixture has an active critical finding
    assert out.stat().st_size > 1000


def test_bad_policy_file_is_exit_2_naming_the_key(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "mlaudit.toml").write_text('fail-on = "high"\n[[ignore]]\nid = "X"\nexpires = "2025-02-30"\n'
                                          'reason = "r"\n', encoding="utf-8")
    assert main([str(project / "requirements.txt")]) == 2
    err = capsys.readouterr().err
    assert "mlaudit.toml:4" in err and "ignore[0].expires" in err


def test_policy_fail_on_applies_and_cli_overrides(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def medium_only(options: AuditOptions, progress: object = None) -> Report:
        report = fixture_report()
        report.findings = [f for f in report.findings if f.severity.value in ("medium", "low", "info")]
        report.fail_on = options.fail_on  # what the pipeline does: the gate's inputs come from the options
        report.require_complete = options.require_complete
        return report

    monkeypatch.setattr(auditor.pipeline, "run_audit", medium_only)
    req, out = str(project / "requirements.txt"), str(project / "r.sarif")
    (project / "mlaudit.toml").write_text('fail-on = "medium"\n', encoding="utf-8")
    assert main([req, "-f", "sarif", "-o", out]) == 1  # the policy's threshold
    (project / "mlaudit.toml").write_text('fail-on = "high"\n', encoding="utf-8")
    assert main([req, "-f", "sarif", "-o", out]) == 0
    assert main([req, "-f", "sarif", "-o", out, "--fail-on", "low"]) == 1  # the command line wins

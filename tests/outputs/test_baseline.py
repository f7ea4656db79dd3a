"""``--baseline REPORT.json`` (CONVENTIONS.md "Baseline"): every finding says whether it is new, the gate counts only
new ones, terminal and Markdown show new ones first, SARIF carries ``baselineState``, and a file that is not a
mlaudit JSON report is an input error (exit 2) naming the file. Runs the real CLI offline on the demo project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.domain import Severity
from auditor.kinds import FindingKind
from auditor.outputs import markdown, terminal
from auditor.outputs.sarif import sarif_dict
from tests.outputs.fixture import fixture_report

ROOT = Path(__file__).resolve().parents[2]
DEMO = ["--offline", "examples/demo", "--fail-on", "high"]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("baseline") / "base.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        assert main([*DEMO, "--format", "json", "-o", str(path), "-q"]) == 1
    return path


def _run(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str,
                                                                                                        str]:
    monkeypatch.chdir(ROOT)
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_unchanged_findings_pass_the_gate(baseline: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _run([*DEMO, "--baseline", str(baseline), "--format", "json"], capsys, monkeypatch)
    doc = json.loads(out)
    assert code == 0 and doc["summary"]["exit_code"] == 0
    assert doc["findings"] and all(f["new"] is False for f in doc["findings"])
    assert doc["summary"]["new"] == 0 and doc["summary"]["unchanged"] == doc["summary"]["findings"]
    assert doc["baseline"] == {"file": str(baseline)}
    assert doc["summary"]["exit_reason"] == "no new finding at or above high"


def test_a_finding_missing_from_the_baseline_is_new_and_fails(baseline: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    doc = json.loads(baseline.read_text())
    critical = next(f for f in doc["findings"] if f["severity"] == "critical" and "package" in f)
    low = [f for f in doc["findings"] if f["severity"] in ("low", "info")]
    doc["findings"] = [f for f in doc["findings"] if f is not critical and f not in low]
    older = tmp_path / "older.json"
    older.write_text(json.dumps(doc))
    code, out, _ = _run([*DEMO, "--baseline", str(older), "--format", "json"], capsys, monkeypatch)
    report = json.loads(out)
    new = [f for f in report["findings"] if f["new"]]
    key = (critical["kind"], critical["id"], critical["package"]["name"])
    assert key in {(f["kind"], f["id"], f.get("package", {}).get("name")) for f in new}
    assert code == 1 and report["summary"]["exit_code"] == 1
    assert report["summary"]["exit_reason"].endswith("new finding(s) at or above high")
    # only new ones count: the failing ones are exactly the new ones at or above high
    failing = [f for f in new if f["severity"] in ("critical", "high", "unknown") and "ignored" not in f]
    assert report["summary"]["exit_reason"].startswith(f"{len(failing)} new")
    # terminal: new first, marked; the header says how many are new
    code, out, _ = _run([*DEMO, "--baseline", str(older), "-v"], capsys, monkeypatch)
    assert code == 1 and f"{len(new)} new, " in " ".join(out.split())
    details = out.split("\n\n ", 1)[1]  # -v: the blocks after the roll-up, by severity, new first in each
    for block in details.split("\n\n "):
        subjects = [line for line in block.splitlines() if line.startswith("  ") and not line.startswith("   ")]
        marks = [line.startswith("  new ") for line in subjects]
        assert marks == sorted(marks, reverse=True), block


def test_the_version_is_not_part_of_the_key(baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    doc = json.loads(baseline.read_text())
    for finding in doc["findings"]:
        if "package" in finding:
            finding["package"]["version"] = "0.0.0-older"
            finding["package"]["name"] = finding["package"]["name"].upper().replace("-", "_")  # PEP 503 spelling
    bumped = tmp_path / "bumped.json"
    bumped.write_text(json.dumps(doc))
    code, out, _ = _run([*DEMO, "--baseline", str(bumped), "--format", "json"], capsys, monkeypatch)
    assert code == 0 and not any(f["new"] for f in json.loads(out)["findings"])


@pytest.mark.parametrize(("content", "why"), [
    ("{not json", "invalid JSON at line 1"),
    ('{"version": "2.1.0", "runs": []}', "no `tool.name: mlaudit`"),  # a SARIF file
    ('[1, 2]', "the top level is not an object"),
    ('{"tool": {"name": "mlaudit"}, "schema_version": "1.0", "findings": []}', "schema_version '1.0'"),
    ('{"tool": {"name": "mlaudit"}, "schema_version": "2.0"}', "no `findings` list"),
    ('{"tool": {"name": "mlaudit"}, "schema_version": "2.0", "findings": [{"kind": 1}]}', "findings[0]"),
])
def test_a_baseline_that_is_not_a_mlaudit_report_is_exit_2(content: str, why: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "garbage.json"
    bad.write_text(content)
    code, out, err = _run([*DEMO, "--baseline", str(bad)], capsys, monkeypatch)
    assert code == 2 and out == ""
    assert str(bad) in err and "not a mlaudit JSON report" in err and why in err and "Traceback" not in err


def test_a_missing_baseline_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = _run([*DEMO, "--baseline", str(tmp_path / "nope.json")], capsys, monkeypatch)
    assert code == 2 and "nope.json" in err and "baseline report not found" in err


def test_scan_takes_a_baseline_too(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    first = tmp_path / "scan.json"
    assert main(["scan", "examples/demo/checkpoint.pt", "--format", "json", "-o", str(first)]) == 1
    code = main(["scan", "examples/demo/checkpoint.pt", "--baseline", str(first), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["findings"] and all(f["new"] is False for f in doc["findings"])


def test_sarif_baseline_state_and_new_first_in_every_view() -> None:
    report = fixture_report()
    report.baseline = "base.json"
    for finding in report.findings:
        finding.new = finding.kind is FindingKind.VULNERABILITY and finding.severity is Severity.UNKNOWN
    sarif = sarif_dict(report)
    states = {r["ruleId"]: r["baselineState"] for r in sarif["runs"][0]["results"]}
    assert states["PYSEC-2099-1"] == "new" and states["PYSEC-2023-62"] == "unchanged"
    assert set(states.values()) == {"new", "unchanged"}
    assert sarif["runs"][0]["properties"]["exitCode"] == 1  # the unknown one is new and gates as high
    text = terminal.render(report)
    assert "FAILED (exit 1): 1 new finding(s) at or above high" in text
    rows = [line for line in text.splitlines() if line.startswith("  torch") or line.startswith("  werkzeug")]
    assert rows[0].startswith("  torch") and "1 new/1" in rows[0] and "1 old" in rows[1]
    md = markdown.render(report)
    assert "**New since the baseline:** 1 (❔ 1 unknown); 5 unchanged" in md
    assert md.index("| **torch** |") < md.index("| **werkzeug** |")
    assert "| **new** ❔ unknown | `PYSEC-2099-1`" in md
    # without a baseline nothing carries the mark
    plain = fixture_report()
    assert all("new" not in r for r in sarif_dict(plain)["runs"][0]["results"][0])

"""SARIF 2.1.0: valid against the OASIS schema (checked in under schemas/), located at the requirement line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from auditor.domain import Finding, Severity
from auditor.outputs import get_renderer
from auditor.outputs.sarif import render
from tests.outputs.conftest import check_golden
from tests.outputs.fixture import empty_report, fixture_report

SCHEMA = Path(__file__).resolve().parent / "schemas" / "sarif-schema-2.1.0.json"


def _validate(doc: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


@pytest.mark.parametrize("make", [fixture_report, empty_report])
def test_validates_against_sarif_2_1_0_schema(make: Any) -> None:
    _validate(json.loads(render(make())))


def test_schema_rejects_a_broken_log() -> None:
    """The schema check is real: a result without a message is refused."""
    doc = json.loads(render(fixture_report()))
    del doc["runs"][0]["results"][0]["message"]
    with pytest.raises(AssertionError):
        _validate(doc)


def test_golden() -> None:
    check_golden("report.sarif", get_renderer("sarif")(fixture_report()))


def _results() -> list[dict[str, Any]]:
    return json.loads(render(fixture_report()))["runs"][0]["results"]  # type: ignore[no-any-return]


def test_rule_per_id_and_message_repeats_the_id() -> None:
    doc = json.loads(render(fixture_report()))
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    rule_ids = [r["id"] for r in rules]
    assert len(rule_ids) == len(set(rule_ids)) == 6  # MLA-UNSAFE-PICKLE appears twice but is one rule
    for result in doc["runs"][0]["results"]:
        assert result["ruleId"] in result["message"]["text"]
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    pickle_rule = next(r for r in rules if r["id"] == "MLA-UNSAFE-PICKLE")
    assert pickle_rule["defaultConfiguration"]["level"] == "warning"  # the highest of its results (medium)


def test_transitive_finding_is_located_at_its_direct_requirement() -> None:
    werkzeug = next(r for r in _results() if r["ruleId"] == "PYSEC-2023-62")
    physical = werkzeug["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "requirements.txt"
    assert physical["region"]["startLine"] == 3  # flask's line: werkzeug came in through flask
    assert werkzeug["level"] == "error"


def test_fallbacks_for_findings_without_location() -> None:
    report = fixture_report()
    report.findings.append(Finding(kind="malicious", id="MAL-2024-1", severity=Severity.CRITICAL,
                                   message="malicious", package=("ghost", "1.0")))
    results = json.loads(render(report))["runs"][0]["results"]
    scanned = next(r for r in results if r["message"]["text"].startswith("MLA-UNSAFE-PICKLE: pickle in"))
    assert scanned["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("models/")
    ghost = results[-1]
    assert ghost["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "requirements.txt"
    assert "region" not in ghost["locations"][0]["physicalLocation"]


def test_ignored_findings_are_suppressed_with_the_reason() -> None:
    jinja = next(r for r in _results() if r["ruleId"] == "PYSEC-2021-66")
    assert jinja["suppressions"] == [{"kind": "external", "status": "accepted",
                                      "justification": "not reachable: templates are static"}]
    assert all("suppressions" not in r for r in _results() if r["ruleId"] != "PYSEC-2021-66")


def test_fingerprints_are_stable_and_distinct() -> None:
    first = [r["partialFingerprints"] for r in _results()]
    assert first == [r["partialFingerprints"] for r in _results()]
    assert len({json.dumps(f, sort_keys=True) for f in first}) == len(first)
    moved = fixture_report()
    for f in moved.findings:
        if f.location is not None:
            f.location = type(f.location)(f.location.file, (f.location.line or 0) + 10)
    assert [r["partialFingerprints"] for r in json.loads(render(moved))["runs"][0]["results"]] == first


def test_severity_levels_scores_and_unknown() -> None:
    doc = json.loads(render(fixture_report()))
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    results = {r["ruleId"]: r for r in doc["runs"][0]["results"]}
    # the CVSS base score that decided the severity is the rule's security-severity
    assert rules["PYSEC-2023-62"]["properties"]["security-severity"] == "7.5"
    assert results["PYSEC-2023-62"]["properties"]["severitySource"].startswith("CVSS:3.1/")
    # unknown: no invented number, its own severity name, and the level of what the gate counts it as
    unknown = rules["PYSEC-2099-1"]
    assert "security-severity" not in unknown["properties"] and unknown["properties"]["severity"] == "unknown"
    assert unknown["defaultConfiguration"]["level"] == "error" == results["PYSEC-2099-1"]["level"]
    assert results["PYSEC-2099-1"]["properties"]["severity"] == "unknown"
    report = fixture_report()
    report.unknown_severity = Severity.LOW
    lowered = {r["ruleId"]: r for r in json.loads(render(report))["runs"][0]["results"]}
    assert lowered["PYSEC-2099-1"]["level"] == "note"
    assert rules["MLA-TYPOSQUAT"]["properties"]["security-severity"] == "9.5"  # no CVSS: the level's band

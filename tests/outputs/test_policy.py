"""Policy files and their application: strict parsing (exit 2 naming the key), thresholds, ignores, expiry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from auditor.config import load_policy
from auditor.domain import Finding, Report, Severity
from auditor.errors import EXIT_USAGE, ConfigError
from auditor.policy import IgnoreRule, Policy, apply_policy

TODAY = dt.date(2026, 6, 1)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_pyproject_section_is_read(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", """
[project]
name = "demo"

[tool.mlaudit]
fail-on = "High"
disable = ["typosquat"]
typosquat-allowlist = ["Req_Eusts"]
hf-org-allowlist = ["Acme"]
internal-prefixes = ["acme-"]
require-attestation = true
require-safetensors = true
require-complete = true

[tool.mlaudit.checks]
dependency-confusion = false
models = true

[[tool.mlaudit.ignore]]
id = "PYSEC-2023-62"
reason = "not reachable"
expires = 2026-12-31
package = "Werkzeug"

[[tool.mlaudit.ignore]]
id = "GHSA-aaaa"
reason = "dev only"
expires = "2026-07-01"
""")
    policy = load_policy(tmp_path)
    assert policy.fail_on is Severity.HIGH
    assert policy.disabled_kinds == {"typosquat", "dependency-confusion"}
    assert policy.typosquat_allowlist == {"req-eusts"} and policy.hf_org_allowlist == {"acme"}
    assert policy.internal_prefixes == ["acme-"]
    assert policy.require_attestation and policy.require_safetensors and policy.require_complete
    assert policy.ignores == [
        IgnoreRule(id="PYSEC-2023-62", reason="not reachable", expires=dt.date(2026, 12, 31), package="werkzeug"),
        IgnoreRule(id="GHSA-aaaa", reason="dev only", expires=dt.date(2026, 7, 1)),
    ]
    assert policy.source == str(tmp_path / "pyproject.toml")


def test_mlaudit_toml_wins_and_uses_top_level_keys(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", '[tool.mlaudit]\nfail-on = "critical"\n')
    _write(tmp_path, "mlaudit.toml", 'fail-on = "medium"\n')
    assert load_policy(tmp_path).fail_on is Severity.MEDIUM
    explicit = _write(tmp_path, "ci-policy.toml", 'fail-on = "info"\n')
    assert load_policy(tmp_path, explicit).fail_on is Severity.INFO


def test_no_policy_is_the_default_policy(tmp_path: Path) -> None:
    assert load_policy(tmp_path) == Policy()
    assert load_policy(None) == Policy()
    _write(tmp_path, "pyproject.toml", "[project]\nname = 'x'\n")
    assert load_policy(tmp_path).fail_on is None


@pytest.mark.parametrize(("text", "key", "line"), [
    ('fial-on = "high"\n', "fial-on", 1),  # unknown key (with a suggestion)
    ('fail-on = 3\n', "fail-on", 1),  # wrong type
    ('fail-on = "severe"\n', "fail-on", 1),  # unknown severity
    ('disable = "typosquat"\n', "disable", 1),  # wrong type: a string, not a list
    ('require-safetensors = "yes"\n', "require-safetensors", 1),
    ('[checks]\ntyposquat = "off"\n', "checks.typosquat", 2),
    ('[[ignore]]\nid = "A"\nreason = "r"\n[[ignore]]\nid = "B"\nreason = "r"\nexpires = "2025-13-01"\n',
     "ignore[1].expires", 7),  # invalid date
    ('[[ignore]]\nid = "A"\nreason = "r"\nexpires = 2025\n', "ignore[0].expires", 4),  # wrong type of date
    ('[[ignore]]\nid = "A"\n', "ignore[0].reason", 1),  # ignore without a reason
    ('[[ignore]]\nid = "A"\nreason = "  "\n', "ignore[0].reason", 3),  # blank reason: its own line
    ('[[ignore]]\nreason = "r"\n', "ignore[0].id", 1),
    ('[[ignore]]\nid = "A"\nreason = "r"\nuntil = 2026-01-01\n', "ignore[0].until", 4),
    ('ignore = "A"\n', "ignore", 1),
])
def test_bad_config_names_file_key_and_line(tmp_path: Path, text: str, key: str, line: int) -> None:
    path = _write(tmp_path, "mlaudit.toml", text)
    with pytest.raises(ConfigError) as info:
        load_policy(tmp_path)
    err = info.value
    assert f"'{key}'" in str(err)
    assert err.file == str(path) and err.line == line
    assert err.exit_code == EXIT_USAGE


def test_bad_pyproject_key_is_named_with_its_section(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", '[tool.black]\nfail-on = 1\n\n[tool.mlaudit]\nfail-on = 1\n')
    with pytest.raises(ConfigError) as info:
        load_policy(tmp_path)
    assert "'tool.mlaudit.fail-on'" in str(info.value) and info.value.line == 5


def test_invalid_toml_and_missing_explicit_file(tmp_path: Path) -> None:
    _write(tmp_path, "mlaudit.toml", 'fail-on = \n')
    with pytest.raises(ConfigError) as info:
        load_policy(tmp_path)
    assert info.value.line == 1
    with pytest.raises(ConfigError, match="not found"):
        load_policy(tmp_path, tmp_path / "nope.toml")


def _report(*findings: Finding, fail_on: Severity = Severity.LOW) -> Report:
    report = Report(findings=list(findings))
    report.fail_on = fail_on
    return report


def _finding(fid: str = "PYSEC-1", severity: Severity = Severity.HIGH, package: str = "werkzeug",
             kind: str = "vulnerability", check: str = "advisories", aliases: list[str] | None = None) -> Finding:
    return Finding(kind=kind, id=fid, severity=severity, message=f"{fid} in {package}", package=(package, "1.0"),
                   check=check, aliases=aliases or [])


@pytest.mark.parametrize(("severity", "threshold", "fails"), [
    (Severity.HIGH, Severity.HIGH, True),  # at the threshold fails
    (Severity.MEDIUM, Severity.HIGH, False),  # just below passes
    (Severity.CRITICAL, Severity.HIGH, True),
    (Severity.INFO, Severity.INFO, True),
    (Severity.INFO, Severity.LOW, False),
    (Severity.LOW, Severity.LOW, True),
])
def test_threshold_edges(severity: Severity, threshold: Severity, fails: bool) -> None:
    report = _report(_finding(severity=severity), fail_on=threshold)
    apply_policy(report, Policy(), TODAY)
    assert bool(report.failing_findings()) is fails


def test_ignore_by_id_or_alias_and_package_scope() -> None:
    report = _report(_finding("PYSEC-1", aliases=["CVE-1"]), _finding("PYSEC-1", package="other"),
                     _finding("PYSEC-2"))
    apply_policy(report, Policy(ignores=[IgnoreRule(id="CVE-1", reason="accepted", package="Werkzeug")]), TODAY)
    assert [f.ignored for f in report.findings] == ["accepted", None, None]
    assert len(report.failing_findings()) == 2


def test_expired_ignore_stops_ignoring_and_says_so() -> None:
    report = _report(_finding("PYSEC-1"), _finding("PYSEC-1", package="other"))
    rules = [IgnoreRule(id="PYSEC-1", reason="was fine", expires=TODAY - dt.timedelta(days=1))]
    apply_policy(report, Policy(ignores=rules), TODAY)
    assert all(f.ignored is None for f in report.findings)
    assert len(report.failing_findings()) == 2
    assert len(report.warnings) == 1  # said once per rule, not once per finding
    assert "PYSEC-1" in report.warnings[0] and "expired" in report.warnings[0]


def test_ignore_expiring_today_still_applies() -> None:
    report = _report(_finding("PYSEC-1"))
    apply_policy(report, Policy(ignores=[IgnoreRule(id="PYSEC-1", reason="ok", expires=TODAY)]), TODAY)
    assert report.findings[0].ignored == "ok" and not report.warnings and not report.failing_findings()


def test_disable_by_kind_or_by_check_name() -> None:
    report = _report(_finding("A", kind="typosquat", check="typosquat"), _finding("B"), _finding("C", check="x"))
    apply_policy(report, Policy(disabled_kinds={"typosquat", "advisories"}), TODAY)
    assert [f.id for f in report.findings] == ["C"]


def test_require_safetensors_and_attestation_raise_notes() -> None:
    report = _report(
        _finding("MLA-MODEL-PICKLE-ONLY", Severity.LOW, kind="unsafe-model"),
        _finding("MLA-PICKLE-FORMAT", Severity.INFO, kind="pickle-model"),
        _finding("MLA-EVIL", Severity.CRITICAL, kind="unsafe-model"),
        _finding("MLA-PICKLE-TRAILING", Severity.INFO, kind="unsafe-model"),
        _finding("MLA-NOPROV", Severity.INFO, kind="missing-provenance"),
        fail_on=Severity.HIGH,
    )
    apply_policy(report, Policy(), TODAY)
    before = [Severity.LOW, Severity.INFO, Severity.CRITICAL, Severity.INFO, Severity.INFO]
    assert [f.severity for f in report.findings] == before
    apply_policy(report, Policy(require_safetensors=True, require_attestation=True), TODAY)
    # pickle-format notes and missing provenance are raised; other unsafe-model findings keep their own severity
    assert [f.severity for f in report.findings] == [Severity.HIGH, Severity.HIGH, Severity.CRITICAL, Severity.INFO,
                                                     Severity.HIGH]
    assert "require-safetensors" in report.findings[0].message
    assert len(report.failing_findings()) == 4


@pytest.mark.parametrize(("unknown_as", "threshold", "fails"), [
    (None, Severity.HIGH, True),  # fail closed: unknown counts as high
    (None, Severity.CRITICAL, False),
    (None, Severity.UNKNOWN, True),  # --fail-on unknown: at or above where unknown ranks (high)
    (Severity.MEDIUM, Severity.HIGH, False),  # unknown-severity = "medium"
    (Severity.MEDIUM, Severity.MEDIUM, True),
    (Severity.CRITICAL, Severity.CRITICAL, True),
    (Severity.INFO, Severity.LOW, False),
])
def test_unknown_severity_gates_as_high_unless_the_policy_says(unknown_as: Severity | None, threshold: Severity,
                                                               fails: bool) -> None:
    report = _report(_finding(severity=Severity.UNKNOWN), fail_on=threshold)
    apply_policy(report, Policy(unknown_severity=unknown_as), TODAY)
    assert bool(report.failing_findings()) is fails
    assert report.findings[0].severity is Severity.UNKNOWN  # the gate never rewrites the level itself


def test_fail_on_unknown_with_known_findings() -> None:
    """``--fail-on unknown`` is "fail at the level unknown counts as": high findings fail, medium ones do not."""
    report = _report(_finding("A", Severity.HIGH), _finding("B", Severity.MEDIUM), fail_on=Severity.UNKNOWN)
    apply_policy(report, Policy(), TODAY)
    assert [f.id for f in report.failing_findings()] == ["A"]


def test_unknown_severity_key(tmp_path: Path) -> None:
    _write(tmp_path, "mlaudit.toml", 'fail-on = "unknown"\nunknown-severity = "Moderate"\n')
    policy = load_policy(tmp_path)
    assert policy.fail_on is Severity.UNKNOWN and policy.unknown_severity is Severity.MEDIUM
    assert load_policy(None).unknown_severity is None


@pytest.mark.parametrize("value", ['"unknown"', '"severe"', "3"])
def test_unknown_severity_must_be_a_known_level(tmp_path: Path, value: str) -> None:
    path = _write(tmp_path, "mlaudit.toml", f'fail-on = "high"\nunknown-severity = {value}\n')
    with pytest.raises(ConfigError) as info:
        load_policy(tmp_path)
    assert "'unknown-severity'" in str(info.value) and "critical, high, medium, low, info" in str(info.value)
    assert (info.value.file, info.value.line, info.value.exit_code) == (str(path), 2, EXIT_USAGE)

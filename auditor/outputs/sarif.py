"""SARIF 2.1.0 for code scanning (GitHub, GitLab, IDEs).

Contract (CONVENTIONS.md): ``ruleId`` is the advisory id or the kind's rule id, the message repeats the id, and the
result sits at the input file/line of the requirement that brought the package in (for a transitive package, its
direct requirement; the pipeline stores that in ``Finding.location``). Findings without any location fall back to
the first input file so that code scanning still shows them. ``partialFingerprints`` hash what the finding is
about (id, kind, subject), not where, so an alert survives a requirements file being reordered.
Ignored findings are emitted with an ``external`` suppression carrying the policy's reason. With ``--baseline``
every result carries ``baselineState`` (``new`` / ``unchanged``, CONVENTIONS.md "Baseline"), and the run's
properties name the exit code and its reason (the same ``Report.gate`` as the CLI's).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from auditor import __version__
from auditor.domain import Finding, Location, RenderOptions, Report, Severity
from auditor.errors import EXIT_INCOMPLETE
from auditor.outputs.severity import cvss_score, severity_source

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning ranks security alerts by this numeric property (CVSS-like scale): the finding's own CVSS
# base score when one decided its severity, else a value inside the level's band. ``unknown`` gets none: code
# scanning then shows the alert by its ``level`` instead of inventing a number.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def level_of(severity: Severity, report: Report) -> str:
    """SARIF ``level``; ``unknown`` takes the level of what the gate counts it as (``error`` by default)."""
    return LEVEL[severity.gate_level(report.unknown_severity)]


def security_severity(finding: Finding, severity: Severity) -> str | None:
    score = cvss_score(finding)
    if score is not None and finding.severity is severity:
        return f"{score:.1f}"
    return SECURITY_SEVERITY.get(severity)


def render(report: Report, options: RenderOptions = RenderOptions()) -> str:  # noqa: B008 - frozen
    return json.dumps(sarif_dict(report), indent=2, ensure_ascii=False) + "\n"


def sarif_dict(report: Report) -> dict[str, Any]:
    gate = report.gate()
    rules: list[dict[str, Any]] = []
    rule_index: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    for finding in report.findings:
        if finding.id not in rule_index:
            rule_index[finding.id] = len(rules)
            rules.append(_rule(finding, report))
        results.append(_result(finding, rule_index[finding.id], report))
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "mlaudit", "version": __version__, "semanticVersion": __version__,
                            "rules": rules}},
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {
            "complete": gate.complete,
            "incompleteReasons": [{"kind": i.kind.value, "subject": i.subject, "reason": i.reason}
                                  for i in report.incomplete_reasons],
            "skipped": [s.to_json() for s in report.skipped],
            "data": {ds.name: ds.to_json() for ds in report.data_sources},
            "exitCode": gate.exit_code,
            "exitReason": gate.reason,
            **({"baseline": report.baseline} if report.baseline is not None else {}),
            **({"policy": report.policy.to_json()} if report.policy is not None else {}),
        },
    }
    invocation: dict[str, Any] = {}
    # a service that failed (exit 3) is a run that did not complete: said here, while every result of the local
    # checks stays above (a SARIF with fewer results would close existing code-scanning alerts on upload)
    failed = report.failed_services()
    invocation["executionSuccessful"] = gate.exit_code != EXIT_INCOMPLETE and not failed
    invocation["exitCode"] = gate.exit_code
    if report.generated_at:
        invocation["endTimeUtc"] = report.generated_at
    if failed:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": f"{i.subject}: {i.reason}"}} for i in failed]
    summary = report.policy.summary() if report.policy is not None else ""
    if summary:  # a code-scanning UI shows configuration notifications with the run
        level = "warning" if report.policy is not None and report.policy.from_project and report.policy.weakens \
            else "note"
        invocation["toolConfigurationNotifications"] = [
            {"descriptor": {"id": "mlaudit-policy"}, "level": level, "message": {"text": _limit(summary, 2000)}}]
    run["invocations"] = [invocation]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def rule_severity(report: Report, rule_id: str) -> Severity:
    """The highest severity among a rule's findings: a rule's default level must not understate any result."""
    levels = [f.severity for f in report.findings if f.id == rule_id]
    known = [s for s in levels if s.known]
    if known:
        return max(known, key=lambda s: s.rank)
    return Severity.UNKNOWN if levels else Severity.INFO


def _rule(finding: Finding, report: Report) -> dict[str, Any]:
    severity = rule_severity(report, finding.id)
    short = finding.summary or f"{finding.kind}: {finding.id}"
    rule: dict[str, Any] = {
        "id": finding.id,
        "name": _rule_name(finding),
        "shortDescription": {"text": _limit(short, 1000)},
        "fullDescription": {"text": _limit(finding.summary or finding.message, 4000)},
        "defaultConfiguration": {"level": level_of(severity, report)},
        "properties": {
            "tags": ["security", "supply-chain", finding.kind],
            "kind": finding.kind,
            "severity": severity.value,
        },
    }
    score = security_severity(finding, severity)
    if score is not None:
        rule["properties"]["security-severity"] = score
    if finding.aliases:
        rule["properties"]["aliases"] = list(finding.aliases)
    helps = []
    if finding.fix:
        helps.append(f"Fix: {finding.fix}")
    if finding.references:
        helps.extend(finding.references[:5])
    if helps:
        rule["help"] = {"text": _limit("\n".join(helps), 4000)}
    return rule


def _rule_name(finding: Finding) -> str:
    words = [w for w in finding.kind.replace("_", "-").split("-") if w]
    return "".join(w.capitalize() for w in words) or "Finding"




def _result(finding: Finding, index: int, report: Report) -> dict[str, Any]:
    subject = finding.subject
    text = f"{finding.id}: {finding.message}" if finding.id not in finding.message else finding.message
    if finding.paths and len(finding.paths[0]) > 2:
        text += " (via " + " -> ".join(finding.paths[0]) + ")"
    if finding.fix:
        text += f". Fix: {finding.fix}"
    result: dict[str, Any] = {
        "ruleId": finding.id,
        "ruleIndex": index,
        "level": level_of(finding.severity, report),
        "message": {"text": _limit(text, 8000)},
        "locations": [_location(finding, report)],
        "partialFingerprints": {"mlauditFinding/v1": _fingerprint(finding, subject)},
        "properties": {"kind": finding.kind, "severity": finding.severity.value, "subject": subject,
                       "aliases": list(finding.aliases), "paths": [list(p) for p in finding.paths]},
    }
    source = severity_source(finding)
    if source:
        result["properties"]["severitySource"] = source
    if finding.new is not None:  # --baseline: code scanning shows what the change introduced
        result["baselineState"] = "new" if finding.new else "unchanged"
    if finding.ignored is not None:
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": finding.ignored}]
    return result


def _location(finding: Finding, report: Report) -> dict[str, Any]:
    loc: Location | None = finding.location
    if loc is None and finding.path:
        loc = Location(finding.path.split("!", 1)[0])
    if loc is None and report.inputs:
        loc = Location(report.inputs[0])
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(loc.file if loc else "requirements.txt")}}
    if loc is not None and loc.line and loc.line > 0:
        physical["region"] = {"startLine": loc.line}
    out: dict[str, Any] = {"physicalLocation": physical}
    subject = finding.subject
    if subject:
        out["logicalLocations"] = [{"name": _limit(subject, 500), "kind": "module"}]
    return out


def _uri(path: str) -> str:
    """A relative URI when the file is under the working directory (what code scanning expects)."""
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            return p.as_uri()
    return quote(PurePosixPath(*p.parts).as_posix() if p.parts else path, safe="/:@!$&'()*+,;=-._~")


def _fingerprint(finding: Finding, subject: str) -> str:
    key = "\x1f".join([finding.kind, finding.id, subject])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _limit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

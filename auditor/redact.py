"""Secrets out of a finished report: every text that came from the user's inputs or environment goes through the
one redactor (``textsafe.redact_url``) before any output sees the report.

Why one pass at the end rather than at each stage: a URL reaches a report by many ways (a requirement line, a
lockfile's artifact URL, an index page's file link, a resolver's error message, a skipped item's reason, a
warning, an edge's requirement text) and each new stage would be one more place to forget. The pipeline and the
scan command call ``redact_report`` once on the report they return, so every output format (terminal, JSON,
SARIF, CycloneDX, Markdown, HTML) and every library caller gets the same redacted text. Advisory references are
public data and are left as they are (their query strings are bug-tracker ids, not secrets).
"""

from __future__ import annotations

from typing import Any

from auditor.domain import Report
from auditor.textsafe import redact_url


def redact_value(value: Any) -> Any:
    """Strings redacted, containers rebuilt (dict keys too), anything else unchanged."""
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_value(v) for v in value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    return value


def _opt(text: str | None) -> str | None:
    return redact_url(text) if text else text


def redact_report(report: Report) -> Report:
    """Redact ``report`` in place (and return it)."""
    report.inputs = [redact_url(i) for i in report.inputs]
    report.indexes = list(dict.fromkeys(redact_url(u) for u in report.indexes))
    report.warnings = list(dict.fromkeys(redact_url(w) for w in report.warnings))
    report.root_metadata = redact_value(report.root_metadata)
    report.profiles = redact_value(report.profiles)
    for source in report.data_sources:
        source.source = redact_url(source.source)
    for item in report.ledger:
        item.subject = redact_url(item.subject)
        item.requirement = _opt(item.requirement)
        item.reason = _opt(item.reason)
        item.file = _opt(item.file)
        item.not_checked = [redact_url(n) for n in item.not_checked]
    for edge in report.edges:
        edge.requirement = redact_url(edge.requirement)
        edge.marker = _opt(edge.marker)
    for package in report.packages.values():
        package.index_url = _opt(package.index_url)
        package.source = redact_url(package.source)
        package.metadata = redact_value(package.metadata)
        package.properties = redact_value(package.properties)
        for artifact in package.artifacts:
            artifact.url = _opt(artifact.url)
    for finding in report.findings:
        finding.message = redact_url(finding.message)
        finding.fix = _opt(finding.fix)
        if finding.evidence is not None:
            finding.evidence = finding.evidence.map_text(redact_url)
        finding.ignored = _opt(finding.ignored)
        if finding.path:
            finding.path = redact_url(finding.path)
    for model in report.models:
        model.local_path = _opt(model.local_path)
    return report


__all__ = ["redact_report", "redact_value"]

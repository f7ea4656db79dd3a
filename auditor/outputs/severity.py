"""How every output names a finding's severity and where it came from, in one place.

The advisories check states the provenance as the evidence's typed ``severity_basis`` (the CVSS vector and score,
the record's severity word, or "no severity in any record"); outputs only read it back. ``unknown`` is its
own level in every format, and the gate note says how the gate counted it, so a reader never sees an advisory with
no severity presented as ``medium`` or as harmless.
"""

from __future__ import annotations

from auditor.domain import Finding, Report, Severity
from auditor.evidence import SeverityBasis


def _basis(finding: Finding) -> SeverityBasis | None:
    return finding.evidence.severity_basis if finding.evidence is not None else None


def severity_source(finding: Finding) -> str | None:
    """The full provenance line of the finding's severity, when its check recorded one."""
    basis = _basis(finding)
    return basis.text if basis is not None and basis.text else None


def cvss_score(finding: Finding) -> float | None:
    """The CVSS base score that decided the severity, when one did."""
    basis = _basis(finding)
    return basis.cvss_score if basis is not None and basis.cvss_vector else None


def cvss_vector(finding: Finding) -> str | None:
    basis = _basis(finding)
    return basis.cvss_vector if basis is not None and basis.cvss_vector else None


def severity_basis(finding: Finding) -> str:
    """A few words for a one-line view: ``CVSS 9.8``, ``word MODERATE``, ``no severity in any record``."""
    basis = _basis(finding)
    if basis is None:
        return ""
    if basis.cvss_vector and basis.cvss_score is not None:
        return f"CVSS {basis.cvss_score:.1f}"
    if basis.word:
        return f"severity word {basis.word}"
    if basis.source == "none":
        return "no severity in any record"
    return ""


def gate_note(report: Report) -> str | None:
    """How the gate counted ``unknown`` findings, when there are any active ones (None otherwise)."""
    unknown = sum(1 for f in report.active_findings() if f.severity is Severity.UNKNOWN)
    if not unknown:
        return None
    level = Severity.UNKNOWN.gate_level(report.unknown_severity).value
    how = "fail closed" if report.unknown_severity is Severity.HIGH else "policy unknown-severity"
    return f"{unknown} finding(s) with no severity in any record count as {level} for the gate ({how})"

"""How every output names a finding's severity and where it came from, in one place.

The advisories check writes the provenance into the finding's evidence (``severity_source``: the CVSS vector and
score, the record's severity word, or "no severity in any record"); outputs only read it back. ``unknown`` is its
own level in every format, and the gate note says how the gate counted it, so a reader never sees an advisory with
no severity presented as ``medium`` or as harmless.
"""

from __future__ import annotations

from collections.abc import Mapping

from auditor.domain import Finding, Report, Severity


def _evidence(finding: Finding) -> Mapping[str, object]:
    return finding.evidence if isinstance(finding.evidence, Mapping) else {}


def severity_source(finding: Finding) -> str | None:
    """The full provenance line of the finding's severity, when its check recorded one."""
    text = _evidence(finding).get("severity_source")
    return text if isinstance(text, str) and text else None


def cvss_score(finding: Finding) -> float | None:
    """The CVSS base score that decided the severity, when one did."""
    cvss = _evidence(finding).get("cvss")
    score = cvss.get("score") if isinstance(cvss, Mapping) else None
    return float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else None


def cvss_vector(finding: Finding) -> str | None:
    cvss = _evidence(finding).get("cvss")
    vector = cvss.get("vector") if isinstance(cvss, Mapping) else None
    return vector if isinstance(vector, str) and vector else None


def severity_basis(finding: Finding) -> str:
    """A few words for a one-line view: ``CVSS 9.8``, ``word MODERATE``, ``no severity in any record``."""
    score = cvss_score(finding)
    if score is not None:
        return f"CVSS {score:.1f}"
    sev = _evidence(finding).get("severity")
    if isinstance(sev, Mapping):
        if isinstance(sev.get("word"), str):
            return f"severity word {sev['word']}"
        if sev.get("source") == "none":
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

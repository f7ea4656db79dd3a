"""Markdown for pull-request comments: a summary table, then findings grouped by severity.

Hosts render Markdown *with* inline HTML, so strangers' text is escaped for both: HTML-significant characters
become entities, Markdown punctuation is backslash-escaped, pipes cannot split table cells, and newlines cannot
start a new block. Ids stay in code spans (escaped with a fence longer than any backtick run they contain).
"""

from __future__ import annotations

import re
from collections import Counter

from auditor import __version__
from auditor.domain import Report, Severity
from auditor.outputs.severity import gate_note, severity_source

_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
MAX_FINDINGS_PER_SEVERITY = 200
ICON = {Severity.CRITICAL: "🟥", Severity.HIGH: "🟧", Severity.UNKNOWN: "❔", Severity.MEDIUM: "🟨",
        Severity.LOW: "🟦", Severity.INFO: "⬜"}


def esc(value: object, limit: int = 500) -> str:
    """Escape free text for Markdown with inline HTML; single line; bounded."""
    text = str(value)
    text = _INVISIBLE.sub("", text)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # a word joiner after "@" keeps hostile text from mentioning users or teams in a PR comment
    return re.sub(r"(^|\s)@", "\\1@\u2060", text)


def code(value: object, limit: int = 200) -> str:
    """A code span that cannot be broken out of, and with pipes that cannot split a table cell."""
    text = " ".join(_INVISIBLE.sub("", str(value)).split())[:limit]
    if not text:
        return ""
    text = text.replace("|", "\u2758")  # a pipe inside a code span still splits GFM table cells
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"




def render(report: Report) -> str:
    active = report.active_findings()
    counts = Counter(f.severity for f in active)
    failing = report.failing_findings()
    lines: list[str] = [f"## mlaudit: {esc(report.root_name)}" + (f" {esc(report.root_version)}"
                                                                 if report.root_version else ""), ""]
    if failing and report.fail_on is not None:
        lines.append(f"**❌ Failed:** {len(failing)} finding(s) at or above `{report.fail_on.value}`.")
    elif report.fail_on is not None:
        lines.append(f"**✅ Passed:** no active finding at or above `{report.fail_on.value}`.")
    note = gate_note(report)
    if note:
        lines.append("")
        lines.append(f"**❔ Unknown severity:** {esc(note)}.")
    if not report.complete:
        lines.append("")
        lines.append("**⚠️ Incomplete:** some inputs could not be checked.")
        lines.append(f"- {len(report.skipped)} item(s) not checked (listed below)")
    lines += ["", "| severity | findings |", "| --- | ---: |"]
    for severity in Severity:
        lines.append(f"| {ICON[severity]} {severity.value} | {counts[severity]} |")
    ignored = len(report.findings) - len(active)
    lines += [
        "",
        f"{len(report.packages)} packages, {len(report.models)} model/dataset references, "
        f"{ignored} finding(s) ignored by policy, {len(report.skipped)} skipped.",
    ]
    if report.data_sources:
        data = "; ".join(f"{esc(d.name)}: {esc(d.source)}" + (f" ({esc(d.date)})" if d.date else "")
                         + (" **stale**" if d.stale else "") for d in report.data_sources)
        lines.append(f"Data: {data}.")
    if report.policy is not None and report.policy.summary():
        lines.append(f"> **Policy:** {esc(report.policy.summary(), 1500)}")
    for warning in report.warnings:
        lines.append(f"> warning: {esc(warning)}")

    for severity in Severity:
        group = [f for f in active if f.severity is severity]
        if not group:
            continue
        lines += ["", f"### {ICON[severity]} {severity.value.capitalize()} ({len(group)})", "",
                  "| id | kind | subject | details | fix |", "| --- | --- | --- | --- | --- |"]
        for f in group[:MAX_FINDINGS_PER_SEVERITY]:
            details = esc(f.message, 300)
            if f.paths and len(f.paths[0]) > 2:
                details += "<br>via " + esc(" → ".join(f.paths[0]), 300)
            if f.location is not None:
                details += "<br>at " + code(str(f.location))
            source = severity_source(f)
            if source:
                details += "<br>severity: " + esc(source, 300)
            ids = code(f.id) + (" (" + ", ".join(code(a) for a in f.aliases[:3]) + ")" if f.aliases else "")
            lines.append(f"| {ids} | {esc(f.kind)} | {esc(f.subject)} | {details} | {esc(f.fix or '', 200)} |")
        if len(group) > MAX_FINDINGS_PER_SEVERITY:
            lines.append(f"\n… and {len(group) - MAX_FINDINGS_PER_SEVERITY} more (see the full report).")

    ignored_findings = [f for f in report.findings if f.ignored is not None]
    if ignored_findings:
        lines += ["", "<details><summary>Ignored by policy</summary>", ""]
        for f in ignored_findings:
            lines.append(f"- {code(f.id)} {esc(f.subject)}: {esc(f.ignored)}")
        lines += ["", "</details>"]
    if report.skipped:
        lines += ["", "<details><summary>Skipped</summary>", "", "| kind | file | line | item | reason |",
                  "| --- | --- | ---: | --- | --- |"]
        for s in report.skipped:
            lines.append(f"| {esc(s.kind.value)} | {esc(s.file or '')} | {s.line or ''} | "
                         f"{code(s.requirement or s.subject)} | {esc(s.reason or '')} |")
        lines += ["", "</details>"]
    lines += ["", f"<sub>mlaudit {esc(__version__)}</sub>", ""]
    return "\n".join(lines)

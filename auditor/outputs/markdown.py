"""Markdown for pull-request comments: the roll-up, details collapsed, never more than a comment can hold.

Layout: a header (verdict and exit reason, counts by severity, new vs unchanged with a baseline, completeness), the
vulnerable packages with the upgrade that clears them, then collapsed ``<details>`` sections: the other findings by
kind, every advisory by package, the gaps counted by reason, versions that differ between profiles, exclusions,
ignored findings, warnings. New findings come first in every list when a baseline was given.

Size: GitHub rejects a comment body over 65,536 characters (``MARKDOWN_LIMIT``). Rows are added in the order above
while they fit in ``MARKDOWN_LIMIT - COMMENT_RESERVE`` (the reserve leaves room for the marker line the GitHub
Action puts in front); every row that does not fit is counted in an explicit "N more in the full report" line.
Lengths are counted in UTF-16 code units, the most a host can count, so emoji cannot push a comment over.

Hosts render Markdown *with* inline HTML, so strangers' text is escaped for both: HTML-significant characters
become entities, Markdown punctuation is backslash-escaped, pipes cannot split table cells, and newlines cannot
start a new block. Ids stay in code spans (escaped with a fence longer than any backtick run they contain).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from auditor import __version__
from auditor.domain import Finding, RenderOptions, Report, Severity
from auditor.ledger import Item
from auditor.outputs import rollup
from auditor.outputs.rollup import Entry, KindGroup, PackageRow, Rollup
from auditor.outputs.severity import gate_note, severity_source

_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
MARKDOWN_LIMIT = 65_536  # a GitHub comment body
COMMENT_RESERVE = 256  # for the marker line the GitHub Action adds
ICON = {Severity.CRITICAL: "🟥", Severity.HIGH: "🟧", Severity.UNKNOWN: "❔", Severity.MEDIUM: "🟨",
        Severity.LOW: "🟦", Severity.INFO: "⬜"}
VERDICT_ICON = {0: "✅", 1: "❌"}
PARTIAL = " — first {n} shown, the rest in the full report"


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


def size(text: str) -> int:
    """Length in UTF-16 code units (what a host counting JavaScript-style sees; never less than code points)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Section:
    """A block of the comment: an opening, rows, a closing. ``label`` names what a row stands for in the "N more"
    line, ``weights`` how many of those each row stands for (default one); ``first`` sections get their rows before
    the others share what is left."""

    opening: list[str]
    rows: list[str]
    closing: list[str]
    label: str
    weights: list[int] | None = None
    first: bool = False
    shown: int = 0

    def frame(self) -> int:
        return sum(size(line) + 1 for line in [*self.opening, *self.closing]) + size(PARTIAL.format(n=10 ** 6))

    def lines(self) -> list[str]:
        """The section as shown: a collapsed one whose rows were cut says how many are shown in its summary."""
        opening = list(self.opening)
        if self.shown < len(self.rows):
            opening = [line.replace("</summary>", PARTIAL.format(n=self.shown) + "</summary>", 1)
                       for line in opening]
        return [*opening, *self.rows[: self.shown], *self.closing]

    def omitted(self) -> int:
        weights = self.weights or [1] * len(self.rows)
        return sum(weights[self.shown:])


def allocate(sections: list[Section], limit: int) -> None:
    """Decide how many rows of each section fit in ``limit``: every frame, then the ``first`` sections' rows in
    order, then an equal share of rows for every other section (the largest share that fits), then what is left in
    order. A section with no row shown is left out whole (its frame's room goes back to the others)."""
    used = sum(s.frame() for s in sections if s.rows)

    def take(section: Section, upto: int) -> None:
        nonlocal used
        while section.shown < min(upto, len(section.rows)):
            cost = size(section.rows[section.shown]) + 1
            if used + cost > limit:
                return
            used += cost
            section.shown += 1

    for section in sections:
        if section.first:
            take(section, len(section.rows))
    rest = [s for s in sections if not s.first and s.rows]
    sizes = [[size(row) + 1 for row in s.rows] for s in rest]
    low, high = 0, max((len(s.rows) for s in rest), default=0)
    while low < high:  # the largest equal share that fits
        mid = (low + high + 1) // 2
        if used + sum(sum(rows[:mid]) for rows in sizes) <= limit:
            low = mid
        else:
            high = mid - 1
    for section in rest:
        take(section, low)
    for section in rest:
        take(section, len(section.rows))


def render(report: Report, options: RenderOptions = RenderOptions()) -> str:  # noqa: B008 - frozen
    view = rollup.build(report)
    header = _header(report, view)
    sections = _sections(report, view)
    limit = MARKDOWN_LIMIT - COMMENT_RESERVE - 400  # 400: the "N more" line and the footer
    allocate(sections, limit - sum(size(line) + 1 for line in header))
    lines = list(header)
    for section in sections:
        if section.shown:
            lines += section.lines()
    omitted: Counter[str] = Counter()
    for section in sections:
        if section.omitted():
            omitted[section.label] += section.omitted()
    if omitted:
        what = ", ".join(f"{n:,} {label}" for label, n in omitted.items())
        lines += ["", f"**{sum(omitted.values()):,} more in the full report** ({what}): this comment stops at "
                      f"{MARKDOWN_LIMIT:,} characters; the JSON report (`--format json`) and the HTML report carry "
                      "everything."]
    lines += ["", f"<sub>mlaudit {esc(__version__)}</sub>", ""]
    return "\n".join(lines)


def _sections(report: Report, view: Rollup) -> list[Section]:
    """Every block after the header, in the order the comment shows them."""
    sections: list[Section] = []
    if view.packages:
        sections.append(_packages(view))
    for index, group in enumerate(view.groups):
        section = _group(group, view)
        if index == 0:
            section.opening[:0] = ["", f"### Other findings ({sum(len(g.findings) for g in view.groups)} in "
                                       f"{len(view.groups)} kinds)"]
        sections.append(section)
    if view.packages:
        sections.append(_advisories(view))
    if view.gaps:
        sections.append(Section(
            ["", f"<details><summary>Not checked: {len(report.skipped)} item(s), {len(view.gaps)} reason(s)"
                 "</summary>", "", "| items | kind | reason | for example |", "| ---: | --- | --- | --- |"],
            [f"| {len(g.items)} | {esc(g.kind.value)} | {esc(g.reason, 300)} | {_examples(g.items)} |"
             for g in view.gaps], ["", "</details>"], "items not checked", [len(g.items) for g in view.gaps],
            first=True))
    if view.conflicts:
        sections.append(Section(
            ["", f"<details><summary>Versions that differ between profiles ({len(view.conflicts)}): each version "
                 "is audited in its own profile</summary>", ""],
            [f"- **{esc(c.name, 120)}**: " + "; ".join(f"{code(v, 60)} ({esc(o, 200)})" for v, o in c.versions)
             for c in view.conflicts], ["", "</details>"], "names at several versions"))
    if report.excluded:
        sections.append(Section(
            ["", f"<details><summary>Excluded: {len(report.excluded)} item(s) that do not apply to the target"
                 "</summary>", "", "| kind | where | item | why it does not apply |", "| --- | --- | --- | --- |"],
            [f"| {esc(i.kind.value)} | {code(i.where)} | {code(i.requirement or i.subject)} | "
             f"{esc(i.reason or '', 300)} |" for i in report.excluded], ["", "</details>"], "excluded items"))
    if view.ignored:
        sections.append(Section(
            ["", f"<details><summary>Ignored by policy ({len(view.ignored)})</summary>", ""],
            [f"- {code(f.id)} {esc(f.subject, 200)}: {esc(f.ignored, 300)}" for f in view.ignored],
            ["", "</details>"], "ignored findings"))
    if view.warnings:
        sections.append(Section(["", f"<details><summary>Warnings ({len(view.warnings)})</summary>", ""],
                                [f"- {esc(w, 1000)}" for w in view.warnings], ["", "</details>"], "warnings"))
    return sections


def _header(report: Report, view: Rollup) -> list[str]:
    root = esc(report.root_name, 120) + (f" {esc(report.root_version, 60)}" if report.root_version else "")
    icon = VERDICT_ICON.get(view.exit_code, "⚠️")
    lines = [f"## mlaudit: {root}", "",
             f"**{icon} {view.verdict}** (exit {view.exit_code}): {esc(view.exit_reason, 300)}."]
    counts = " · ".join(f"{ICON[s]} {view.counts[s]} {s.value}" for s in Severity if view.counts[s]) or "none"
    lines += ["", f"**Findings:** {counts}" + (f" · {len(view.ignored)} ignored by policy" if view.ignored else "")]
    if view.new_counts is not None:
        new = sum(view.new_counts.values())
        new_counts = " · ".join(f"{ICON[s]} {view.new_counts[s]} {s.value}" for s in Severity
                                if view.new_counts[s]) or "none"
        lines += ["", f"**New since the baseline:** {new} ({new_counts}); {len(view.active) - new} unchanged "
                      f"(baseline {code(report.baseline or '', 200)})."]
    note = gate_note(report)
    if note:
        lines += ["", f"**❔ Unknown severity:** {esc(note)}."]
    if view.gate.complete:
        lines += ["", "**Complete:** every input item was audited or excluded."]
    else:
        kinds = Counter(item.kind.value for item in report.skipped)
        lines += ["", f"**⚠️ Incomplete:** {len(report.skipped)} item(s) not checked ("
                      + ", ".join(f"{n} {esc(k)}" for k, n in kinds.most_common()) + "); reasons below."]
    data = "; ".join(f"{esc(d.name)} " + (esc(d.date) if d.date else "undated") + (" **stale**" if d.stale else "")
                     for d in sorted(report.data_sources, key=lambda d: not d.stale))
    lines += ["", f"{len(report.packages)} packages, {len(report.models)} model/dataset references"
                  + (f". Data: {data}." if data else ".")]
    if report.policy is not None and report.policy.summary():
        lines += ["", f"> **Policy:** {esc(report.policy.summary(), 1500)}"]
    return lines


def _severity(severity: Severity) -> str:
    return f"{ICON[severity]} {severity.value}"


def _packages(view: Rollup) -> Section:
    baseline = view.new_counts is not None
    closing = [""]
    if any(not r.remediation.verified and r.remediation.to for r in view.packages):
        closing = ["", "<sub>not verified: from the advisory data, not re-resolved with the rest of the "
                       "profile.</sub>"]
    profiles = any(r.profiles for r in view.packages)
    return Section(["", f"### Vulnerable packages ({len(view.packages)}, {view.vulnerability_count} advisories)",
                    "", "| package | version | advisories | upgrade to | no release fixes |"
                    + (" profiles |" if profiles else ""),
                    "| --- | --- | --- | --- | --- |" + (" --- |" if profiles else "")],
                   [_package_row(r, baseline) + (f" {esc(', '.join(r.profiles), 200)} |" if profiles else "")
                    for r in view.packages], closing, "vulnerable packages", first=True)


def _package_row(row: PackageRow, baseline: bool) -> str:
    count = f"{len(row.findings)}"
    if baseline:
        count = f"**{row.new} new** of {len(row.findings)}" if row.new else f"{len(row.findings)} unchanged"
    remains = row.remediation.remains
    remains_txt = ", ".join(code(i, 60) for i in remains[:3]) + (f" +{len(remains) - 3}" if len(remains) > 3 else "")
    upgrade = "—" if row.remediation.to is None else (
        code(row.remediation.to, 60) + ("" if row.remediation.verified else " (not verified)"))
    return (f"| **{esc(row.name, 120)}** | {code(row.version, 60)} | {count} · {_severity(row.worst)} | {upgrade} | "
            f"{remains_txt} |")


PLACES_SHOWN = 5  # places listed in a row that stands for several (the JSON, SARIF and HTML list every one)


def _finding_row(finding: Finding, entry: Entry | None = None) -> str:
    """One table row; ``entry``: the finding stands for the same finding at several places (its row lists them)."""
    details = esc(finding.message, 240)
    if finding.summary and finding.summary.strip() not in finding.message:
        details += "<br>" + esc(finding.summary, 200)
    if finding.paths and len(finding.paths[0]) > 2:
        details += "<br>via " + esc(" → ".join(finding.paths[0]), 200)
    if entry is not None and entry.places > 1:
        details += f"<br>{entry.places} places"
        if entry.locations:  # the places beyond those shown (and any without a location) are counted, not listed
            shown = entry.locations[:PLACES_SHOWN]
            more = entry.places - len(shown)
            details += ": " + ", ".join(code(loc) for loc in shown) + (f" +{more} more" if more else "")
    elif finding.location is not None:
        details += "<br>at " + code(str(finding.location))
    source = severity_source(finding)
    if source:
        details += "<br>severity: " + esc(source, 200)
    new = "**new** " if finding.new else ""
    ids = code(finding.id) + (" (" + ", ".join(code(a) for a in finding.aliases[:3]) + ")" if finding.aliases
                              else "")
    return (f"| {new}{_severity(finding.severity)} | {ids} | {esc(finding.subject, 160)} | {details} | "
            f"{esc(finding.fix or '', 200)} |")


def _group(group: KindGroup, view: Rollup) -> Section:
    """One row per distinct finding (the terminal's "N places" rows): the same model loaded the same way from
    forty files is one row listing its places, not forty rows that read as duplicates and crowd the comment."""
    new = f", {group.new} new" if view.new_counts is not None else ""
    entries = group.entries
    distinct = f" in {len(entries)} distinct" if len(entries) < len(group.findings) else ""
    return Section(["", f"<details><summary>{ICON[group.worst]} {esc(group.kind.value)}: "
                    f"{len(group.findings)}{distinct}{new} (worst {group.worst.value})</summary>", "",
                    "| severity | id | subject | details | fix |", "| --- | --- | --- | --- | --- |"],
                   [_finding_row(e.finding, e) for e in entries], ["", "</details>"], "findings",
                   weights=[e.places for e in entries])


def _advisories(view: Rollup) -> Section:
    rows = [_finding_row(finding) for package in view.packages for finding in package.findings]
    return Section(["", f"<details><summary>Every advisory by package ({view.vulnerability_count})</summary>", "",
                    "| severity | id | subject | details | fix |", "| --- | --- | --- | --- | --- |"],
                   rows, ["", "</details>"], "advisories")


def _examples(items: list[Item]) -> str:
    shown = ", ".join(code(rollup.gap_subject(i), 120) for i in items[:3])
    return shown + (f" +{len(items) - 3}" if len(items) > 3 else "")

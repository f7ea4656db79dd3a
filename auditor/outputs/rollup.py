"""The roll-up every human-facing output shows first (CONVENTIONS.md "Output size"): one row per vulnerable package
with the upgrade that clears it, the other findings grouped by kind, the gaps counted by reason, the versions that
differ between profiles.

Why one module: the terminal, Markdown and HTML views must tell the same story in the same order; each only decides
how much of it fits. Nothing here decides a verdict: the gate is ``Report.gate`` and the remediation is the
remediation stage's (``Report.remediation``). Where that stage left no record for a package, the row falls back to
what the advisories' own ``fixed_versions`` say, marked as not verified (no re-resolution, no re-audit).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

from packaging.version import InvalidVersion, Version

from auditor.domain import (
    LOCKED_ALTERNATIVES,
    Finding,
    GateResult,
    Package,
    Remediation,
    Report,
    Severity,
    canonical_name,
)
from auditor.kinds import FindingKind, WarningTag
from auditor.ledger import GapKind, Item, ItemKind

# The resolver's marker for an sdist-only release reported beside a binary-only fallback
# (``auditor.resolve.fallback.SOURCE``; tests check that the two agree). Not a version any profile holds.
SDIST_ONLY_SOURCE = "sdist-only"
UNVERIFIED_REASON = "from the advisory data only; not re-resolved with the rest of the profile or re-audited"
# Kinds shown before the others whatever their counts: what a reader must act on today.
KIND_PRIORITY = {FindingKind.MALICIOUS: 0, FindingKind.HASH_MISMATCH: 1, FindingKind.SIGNATURE_INVALID: 1,
                 FindingKind.PROVENANCE_INVALID: 1, FindingKind.TYPOSQUAT: 2, FindingKind.DEPENDENCY_CONFUSION: 2,
                 FindingKind.UNCLAIMED_NAME: 2}


@dataclass
class PackageRow:
    """One vulnerable package version: its advisories and the upgrade that clears them."""

    package: Package | None
    name: str
    version: str
    findings: list[Finding]  # active vulnerability findings, new first, worst first
    remediation: Remediation
    from_advisories: bool  # True: the fallback from ``fixed_versions``, not the remediation stage's record

    @property
    def worst(self) -> Severity:
        return worst_severity(self.findings)

    @property
    def new(self) -> int:
        return sum(1 for f in self.findings if f.new)

    @property
    def profiles(self) -> list[str]:
        return list(dict.fromkeys(p for f in self.findings for p in f.profiles)) or \
            list(self.package.profiles if self.package else [])

    @property
    def upgrade(self) -> str:
        """``2.2.3``, ``2.2.3 (not verified)`` or ``—``: the words every output puts in the "upgrade to" column."""
        if self.remediation.to is None:
            return "—"
        return self.remediation.to + ("" if self.remediation.verified else " (not verified)")


@dataclass
class Entry:
    """Findings of one kind that say the same thing (same subject, rule, severity) at several places -- one row of
    a summary, so a model loaded the same way from five files reads as one line with "5 places", not five lines
    that look like duplicates. Every finding stays in the report (``-v``, JSON, SARIF: one per place)."""

    finding: Finding  # the first of them (new first, worst first)
    places: int = 1
    locations: list[str] = field(default_factory=list)  # each place's ``file:line``, in the findings' order


@dataclass
class KindGroup:
    kind: FindingKind
    findings: list[Finding]  # new first, worst first

    @property
    def worst(self) -> Severity:
        return worst_severity(self.findings)

    @cached_property
    def entries(self) -> list[Entry]:
        """The findings as summary rows, in the findings' order; same subject, rule, severity and newness collapse.
        Computed once: the terminal's line planner asks for it at every step it grows the screen."""
        rows: dict[tuple[str, str, Severity, bool], Entry] = {}
        for finding in self.findings:
            key = (finding.subject, finding.id, finding.severity, bool(finding.new))
            where = [str(finding.location)] if finding.location is not None else []
            if key in rows:
                rows[key].places += 1
                rows[key].locations += where
            else:
                rows[key] = Entry(finding, locations=where)
        return list(rows.values())

    @property
    def new(self) -> int:
        return sum(1 for f in self.findings if f.new)


@dataclass
class GapGroup:
    """Skipped items of one kind whose reasons say the same thing (names and versions aside)."""

    kind: ItemKind
    reason: str
    items: list[Item] = field(default_factory=list)


@dataclass
class Conflict:
    """A name the report holds at several versions, each with how it came in (``Report.version_origin``)."""

    name: str
    versions: list[tuple[str, str]]  # (version, origin)


@dataclass
class Rollup:
    gate: GateResult  # the verdict (``Report.gate``): every human view's header and completeness line
    exit_code: int
    exit_reason: str
    counts: Counter[Severity]
    new_counts: Counter[Severity] | None  # with a baseline
    active: list[Finding]
    ignored: list[Finding]
    packages: list[PackageRow]
    groups: list[KindGroup]
    gaps: list[GapGroup]
    conflicts: list[Conflict]
    warnings: list[str]  # warnings other than the version conflicts (those are ``conflicts``)

    @property
    def verdict(self) -> str:
        """``FAILED``, ``PASSED`` or ``COULD NOT COMPLETE``: the first word of every output's header."""
        return {0: "PASSED", 1: "FAILED"}.get(self.exit_code, "COULD NOT COMPLETE")

    @property
    def vulnerability_count(self) -> int:
        return sum(len(r.findings) for r in self.packages)


def worst_severity(findings: list[Finding]) -> Severity:
    """The highest severity (``unknown`` ranks as high, a known level wins a tie)."""
    if not findings:
        return Severity.INFO
    return max((f.severity for f in findings), key=lambda s: (s.rank, s.known))


def finding_order(finding: Finding) -> tuple[int, int, str, str]:
    """New findings first (with a baseline), then worst first, then by subject and id."""
    return (0 if finding.new is not False else 1, -finding.severity.rank, finding.subject, finding.id)


def build(report: Report) -> Rollup:
    gate = report.gate()
    active = sorted(report.active_findings(), key=finding_order)
    counts = Counter(f.severity for f in active)
    new_counts = Counter(f.severity for f in active if f.new) if report.baseline is not None else None
    vulns = [f for f in active if f.kind is FindingKind.VULNERABILITY and f.package is not None]
    others = [f for f in active if not (f.kind is FindingKind.VULNERABILITY and f.package is not None)]
    # accounting's conflicting-pins warnings are shown as the grouped "versions differ" section instead
    warnings = [w for w in report.warnings if not WarningTag.CONFLICTING_PINS.tags(w)]
    return Rollup(
        gate=gate, exit_code=gate.exit_code, exit_reason=gate.reason, counts=counts, new_counts=new_counts, active=active,
        ignored=[f for f in report.findings if f.ignored is not None], packages=package_rows(report, vulns),
        groups=kind_groups(others), gaps=gap_groups(report.skipped), conflicts=conflicts(report),
        warnings=warnings,
    )


def package_rows(report: Report, vulns: list[Finding]) -> list[PackageRow]:
    by_package: dict[tuple[str, str], list[Finding]] = {}
    for finding in vulns:
        assert finding.package is not None
        by_package.setdefault((canonical_name(finding.package[0]), finding.package[1]), []).append(finding)
    records = {(canonical_name(r.package[0]), r.package[1]): r for r in report.remediation}
    rows = []
    for (name, version), findings in by_package.items():
        record = records.get((name, version))
        rows.append(PackageRow(
            package=report.package_for(name, version), name=name, version=version,
            findings=sorted(findings, key=finding_order),
            remediation=record or advisory_remediation(name, version, findings),
            from_advisories=record is None))
    rows.sort(key=lambda r: (0 if r.new else 1, -r.worst.rank, -len(r.findings), r.name, r.version))
    return rows


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def advisory_remediation(name: str, version: str, findings: list[Finding]) -> Remediation:
    """What the advisory data alone says, when the remediation stage left no record.

    The advisories check names the package-wide upgrade in each finding's evidence (``upgrade``: the smallest fixed
    version that no record of the package affects); when all findings agree on one, it clears them all. Otherwise
    (no release clears every advisory) each advisory's smallest fixed version above the current one counts, the
    highest of those is the upgrade, and an advisory with none stays in ``remains``.

    Not verified: it does not know whether that version resolves with the rest of the profile (the remediation
    stage re-resolves and re-audits; this is its stand-in).
    """
    profiles = list(dict.fromkeys(p for f in findings for p in f.profiles))
    upgrades = {f.evidence.upgrade if f.evidence is not None else None for f in findings}
    if len(upgrades) == 1 and isinstance(agreed := next(iter(upgrades)), str):
        return Remediation(package=(name, version), to=agreed, clears=[f.id for f in findings], remains=[],
                           profiles=profiles, verified=False, reason=UNVERIFIED_REASON)
    current = _version(version)
    target: Version | None = None
    clears: list[str] = []
    remains: list[str] = []
    for finding in findings:
        fixes = sorted(v for v in (_version(x) for x in finding.fixed_versions)
                       if v is not None and (current is None or v > current))
        if not fixes:
            remains.append(finding.id)
            continue
        clears.append(finding.id)
        target = fixes[0] if target is None else max(target, fixes[0])
    return Remediation(package=(name, version), to=str(target) if target is not None else None, clears=clears,
                       remains=remains, profiles=profiles, verified=False, reason=UNVERIFIED_REASON)


def remediation_records(report: Report) -> list[Remediation]:
    """The remediation of every vulnerable package version: the stage's record, else the advisory fallback."""
    rows = package_rows(report, [f for f in report.active_findings()
                                 if f.kind is FindingKind.VULNERABILITY and f.package is not None])
    seen = {(r.name, r.version) for r in rows}
    extra = [r for r in report.remediation if (canonical_name(r.package[0]), r.package[1]) not in seen]
    return [r.remediation for r in rows] + extra


def kind_groups(findings: list[Finding]) -> list[KindGroup]:
    by_kind: dict[FindingKind, list[Finding]] = {}
    for finding in findings:
        by_kind.setdefault(finding.kind, []).append(finding)
    groups = [KindGroup(kind, sorted(items, key=finding_order)) for kind, items in by_kind.items()]
    groups.sort(key=lambda g: (0 if g.new else 1, KIND_PRIORITY.get(g.kind, 9), -g.worst.rank, -len(g.findings),
                               g.kind.value))
    return groups


_PARENS = re.compile(r"\([^()]*\)")
_VERSIONISH = re.compile(r"\b\d+(?:\.\d+)+[\w.+!-]*")
_SPACES = re.compile(r"\s+")


def reason_class(item: Item) -> str:
    """The reason with what is particular to the item taken out (its name, line, version, parenthesised details),
    so that 300 "hashes not verified" lines count as one reason and two different reasons stay two."""
    text = item.reason or "no reason recorded"
    for token in sorted({t for t in (item.requirement, item.subject, item.package, item.file, item.version) if t},
                        key=len, reverse=True):
        if len(token) >= 2:
            text = text.replace(token, "…")
    while True:  # innermost first, until no parenthesised detail is left
        shorter = _PARENS.sub("\x01", text)
        if shorter == text:
            break
        text = shorter
    text = re.sub("\x01+", "(…)", text)
    text = _VERSIONISH.sub("…", text)
    return _SPACES.sub(" ", text).strip()


RUNTIME_REASON = "reference computed at run time (an option, an argument, a caller's value): what it loads is not audited"


def gap_groups(items: tuple[Item, ...] | list[Item]) -> list[GapGroup]:
    groups: dict[tuple[ItemKind, str], GapGroup] = {}
    for item in items:
        # run-time references say why in words of their own place (an option, a caller, a loop); they are one
        # reason to a reader, so they are one group (the terminal names their files)
        reason = RUNTIME_REASON if item.gap is GapKind.RUNTIME_REFERENCE else reason_class(item)
        key = (item.kind, reason)
        group = groups.get(key)
        if group is None:
            group = groups[key] = GapGroup(kind=item.kind, reason=key[1])
        group.items.append(item)
    for group in groups.values():  # a group of one says its own reason, word for word
        if len(group.items) == 1:
            group.reason = group.items[0].reason or group.reason
    return sorted(groups.values(), key=lambda g: (-len(g.items), g.kind.value, g.reason))


def conflicts(report: Report) -> list[Conflict]:
    by_name: dict[str, list[Package]] = {}
    for package in report.packages.values():
        if package.source != SDIST_ONLY_SOURCE:
            by_name.setdefault(package.name, []).append(package)
    # versions one lock holds as alternatives (CPU/CUDA builds, conflicting extras) are no conflict between inputs
    return [Conflict(name, [(p.version, report.version_origin(p)) for p in versions])
            for name, versions in sorted(by_name.items())
            if len(versions) > 1 and not all(LOCKED_ALTERNATIVES in p.properties for p in versions)]


def severity_counts(counts: Counter[Severity]) -> str:
    """``1 critical, 3 high, 1 unknown`` (levels with findings only; ``none`` when there are none)."""
    return ", ".join(f"{counts[s]} {s.value}" for s in Severity if counts[s]) or "none"


def gap_subject(item: Item) -> str:
    """How one skipped item is named in a one-line view: its place and requirement, or its subject."""
    what = item.requirement or item.subject
    return f"{item.where} {what}" if item.where and what != item.file else (item.where or what)

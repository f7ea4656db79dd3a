"""Profiles into one report, and the one reconciliation that closes the completeness ledger.

Why one place: ``complete: true`` promises that every input item ended audited, skipped with a reason, or excluded.
Sources register items as they read them; the resolver and the checks record the gaps they meet. Whether an item
that nobody complained about was really audited is decided here, once, from facts: a requirement line is audited
when its package is in its profile's resolution and the checks ran; a locked entry when its exact version is in the
report; a lock section when every entry in it was; an input file when its profile was resolved. Anything else is
skipped with the reason, and ``Ledger.settle`` catches what even this misses.

``assemble`` puts every profile's packages into the report keyed by (name, version) -- a name pinned differently by
two profiles is audited at each version, with a ``conflicting-pins`` warning naming how each came in -- and translates
each profile's edges to the version-qualified nodes of such names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PkgRequirement

from auditor.domain import ROOT_NODE, Edge, Finding, Package, Report, canonical_name
from auditor.kinds import FindingKind
from auditor.ledger import Item, ItemKind, Outcome
from auditor.resolve.base import Resolution
from auditor.resolve.fallback import SOURCE as FALLBACK_SOURCE
from auditor.resolve.uvdriver import REJECTED_PIN
from auditor.sources.locked import ALTERNATIVES
from auditor.sources.project import Profile

PROFILE_ITEMS = (ItemKind.INPUT_FILE, ItemKind.REQUIREMENT, ItemKind.LOCKED_PACKAGE, ItemKind.LOCK_SECTION)


@dataclass
class ProfileRun:
    """One profile and what became of it: its resolution, or why it has none."""

    profile: Profile
    resolution: Resolution | None = None
    failure: str | None = None  # the service failure that stopped this profile (file named)
    names: set[str] = field(default_factory=set)  # PEP 503 names in its resolution


def assemble(report: Report, runs: list[ProfileRun]) -> None:
    """Every profile's packages and edges into ``report`` (rules in the module docstring)."""
    several = len(runs) > 1
    for run in runs:
        if run.resolution is None:
            continue
        for package in run.resolution.packages:
            package.name = canonical_name(package.name)
            if several:
                package.profiles = [run.profile.name]
            run.names.add(package.name)
            report.add_package(package)
    multi = _multi_version_names(report)
    seen: set[tuple[str, str, str, str, str | None]] = {
        (e.parent, e.child, e.origin, e.requirement, e.marker) for e in report.edges}
    for run in runs:
        if run.resolution is None:
            continue
        primary: dict[str, Package] = {}
        for package in run.resolution.packages:
            found = report.package_for(package.name, package.version)
            if found is not None:
                primary.setdefault(package.name, found)
        for edge in run.resolution.edges:
            parent, child = _node(edge.parent, primary, multi), _node(edge.child, primary, multi)
            key = (parent, child, edge.origin, edge.requirement, edge.marker)
            if key in seen:
                continue
            seen.add(key)
            report.edges.append(Edge(parent, child, requirement=edge.requirement, marker=edge.marker,
                                     origin=edge.origin))
    conflicts = [w for w in (_conflict_warning(report, name, runs)
                             for name in sorted(_multi_version_names(report, pinned_only=True))) if w]
    report.warnings.extend(conflicts[:MAX_CONFLICT_WARNINGS])
    if len(conflicts) > MAX_CONFLICT_WARNINGS:  # a repository of 15 profiles held 84 names at several versions
        rest = [w.split(" ", 2)[1] for w in conflicts[MAX_CONFLICT_WARNINGS:]]
        shown = ", ".join(rest[:30]) + (" ..." if len(rest) > 30 else "")
        report.warnings.append(f"conflicting-pins: {len(rest)} more names are held at different versions by different "
                               f"profiles ({shown}); each version is audited in its own profile (packages[].profiles "
                               "in the JSON report)")
    report.profiles = [{"name": r.profile.name, "files": list(r.profile.files),
                        "packages": len(r.resolution.packages) if r.resolution else 0,
                        "status": "failed" if r.failure else "audited"} for r in runs]


def _multi_version_names(report: Report, *, pinned_only: bool = False) -> set[str]:
    """Names the report holds at several versions (``pinned_only``: counting only versions some input pinned or a
    resolution chose, not the sdist-only release reported beside a binary-only fallback)."""
    counts: dict[str, int] = {}
    for package in report.packages.values():
        if pinned_only and package.source == FALLBACK_SOURCE:
            continue
        counts[package.name] = counts.get(package.name, 0) + 1
    return {name for name, n in counts.items() if n > 1}


def _node(node: str, primary: dict[str, Package], multi: set[str]) -> str:
    if not node.startswith("pypi:"):
        return node
    name = canonical_name(node[len("pypi:"):])
    if name in multi and name in primary:
        return primary[name].node_id
    return node


def _conflict_warning(report: Report, name: str, runs: list[ProfileRun]) -> str | None:
    """Several versions of one name across profiles: "pinned" only for versions an input pinned (a lock entry, an
    ``==`` line), "resolved" for versions a resolver chose; each names its profile. Versions one lock holds as
    alternatives (``locked.ALTERNATIVES``: conflicting extras, CPU/CUDA builds) are no conflict: no warning."""
    versions = [p for p in report.packages.values() if p.name == name and p.source != FALLBACK_SOURCE]
    profiles = {p.node_id: _profiles_of(p, runs) for p in versions}
    if all(ALTERNATIVES in p.properties for p in versions) and len(set().union(*profiles.values())) <= 1:
        return None
    if any(REJECTED_PIN in p.properties for p in versions) and len(set().union(*profiles.values())) <= 1:
        return None  # one profile: the pin the resolver could not keep is explained by its skipped line
    pinned = {p.node_id: _pinned_by_input(report, p) for p in versions}
    short = {r.profile.files[0]: r.profile.name for r in runs if r.profile.files and "[" not in r.profile.name}
    parts = []
    for package in versions:
        where = ", ".join(profiles[package.node_id]) or package.source
        loc = package.location  # named as the profile is (a path inside the project), not as the file was opened
        at = (f"{short[loc.file]}:{loc.line}" if loc.file in short and loc.line else str(loc)) if loc else ""
        how = f"pinned at {at}" if pinned[package.node_id] and at else (
            "locked" if pinned[package.node_id] else "resolved")
        parts.append(f"{package.version} in {where} ({how})")
    verb = "is pinned" if all(pinned.values()) else "is pinned or resolved differently" if any(
        pinned.values()) else "is resolved differently"
    return f"conflicting-pins: {name} {verb} by profile: {'; '.join(parts)}; each version is audited in its own profile"


def _profiles_of(package: Package, runs: list[ProfileRun]) -> list[str]:
    if package.profiles:
        return list(package.profiles)
    return [r.profile.name for r in runs if r.resolution is not None and any(
        p is package or (p.name == package.name and p.version == package.version) for p in r.resolution.packages)]


def _pinned_by_input(report: Report, package: Package) -> bool:
    """Whether an input pinned this version: a lock's or pinned file's entry, or a direct ``==`` requirement; a
    version a resolver chose for a range is not a pin."""
    if package.source not in RESOLVED_SOURCES:
        return True
    if not package.direct:
        return False
    for edge in report.edges:
        if edge.parent == ROOT_NODE and edge.child == package.node_id:
            try:
                spec = PkgRequirement(edge.requirement).specifier
            except InvalidRequirement:
                continue
            if any(s.operator in ("==", "===") and s.contains(package.version, prereleases=True) for s in spec):
                return True
    return False


MAX_CONFLICT_WARNINGS = 10
# Where a version comes from when a resolver chose it (not an input's pin).
RESOLVED_SOURCES = frozenset({"resolver", "sdist-static-metadata"})
VARIANT_KINDS = frozenset({FindingKind.VULNERABILITY, FindingKind.MALICIOUS})


def merge_build_variants(report: Report) -> None:
    """One finding per release, not per local build label: an advisory on torch 2.10.0 that matches both
    ``2.10.0`` and ``2.10.0+cu128`` (the same release, two builds) becomes one finding naming both variants (and
    every profile). Only kinds decided by name and release (advisories, malicious records); a hash or provenance
    finding is about one build's files and stays per variant."""
    groups: dict[tuple[str, str, str, str, str], list[Finding]] = {}
    for finding in report.findings:
        if finding.kind not in VARIANT_KINDS or finding.package is None:
            continue
        name, version = finding.package
        key = (finding.kind.value, finding.id, name, _public(version), finding.severity.value)
        groups.setdefault(key, []).append(finding)
    dropped: set[int] = set()
    for group in groups.values():
        versions = list(dict.fromkeys(f.package[1] for f in group if f.package))
        if len(versions) < 2:
            continue
        keep = min(group, key=lambda f: ("+" in (f.package or ("", ""))[1], group.index(f)))
        others = [v for v in versions if keep.package and v != keep.package[1]]
        keep.message += f" (also {', '.join(others)}: the same release, another build)"
        if keep.evidence is not None:
            keep.evidence = keep.evidence.with_variants(versions)
        for other in group:
            if other is keep:
                continue
            dropped.add(id(other))
            keep.profiles = list(dict.fromkeys([*keep.profiles, *other.profiles]))
            keep.paths = [*keep.paths, *(p for p in other.paths if p not in keep.paths)]
    if dropped:
        report.findings = [f for f in report.findings if id(f) not in dropped]


def _public(version: str) -> str:
    return version.split("+", 1)[0]


def reconcile(report: Report, runs: list[ProfileRun], *, checks_failed: list[str], hub_failed: str | None) -> None:
    """Give every item still pending the outcome the facts say (rules in the module docstring)."""
    by_profile = {run.profile.name: run for run in runs}
    not_run = f"not every check ran ({', '.join(checks_failed)} failed)" if checks_failed else None
    ledger = report.ledger
    for item in ledger:
        if item.outcome is not Outcome.PENDING:
            continue
        if item.kind is ItemKind.MODEL_REFERENCE:
            if hub_failed:
                ledger.skip(item, hub_failed, ["revision", "files", "license", "base models"])
            else:
                ledger.audited(item)
            continue
        if item.kind not in PROFILE_ITEMS:
            continue
        run = by_profile.get(item.profile or "")
        if run is not None and run.failure:
            ledger.skip(item, f"not audited: {run.failure}", _not_checked(item))
        elif item.kind is ItemKind.LOCK_SECTION:
            continue  # below, once its packages have their outcomes
        elif not_run and item.kind is not ItemKind.INPUT_FILE:
            ledger.skip(item, not_run, _not_checked(item))
        elif item.kind is ItemKind.INPUT_FILE:
            ledger.audited(item)
        elif _in_report(report, item, run):
            ledger.audited(item)
        else:
            where = f"the resolution of {run.profile.name}" if run is not None else "the report"
            ledger.skip(item, f"{item.package or item.subject} is not in {where}", _not_checked(item))
    for item in ledger:
        if item.outcome is Outcome.PENDING and item.kind is ItemKind.LOCK_SECTION:
            _section(ledger_items=list(ledger), section=item, report=report)


def _in_report(report: Report, item: Item, run: ProfileRun | None) -> bool:
    if not item.package:
        return False
    if item.kind is ItemKind.LOCKED_PACKAGE and item.version:
        return report.package_for(item.package, item.version) is not None
    if run is not None:
        return item.package in run.names
    return any(p.name == item.package for p in report.packages.values())


def _section(*, ledger_items: list[Item], section: Item, report: Report) -> None:
    members = [i for i in ledger_items if i.kind is ItemKind.LOCKED_PACKAGE and i.file == section.file
               and i.profile == section.profile]
    missing = [i for i in members if i.outcome is not Outcome.AUDITED and i.outcome is not Outcome.EXCLUDED]
    if not missing:
        report.ledger.audited(section)
        return
    names = ", ".join(i.subject for i in missing[:5]) + (" ..." if len(missing) > 5 else "")
    report.ledger.skip(section, f"read only in part: {len(missing)} of {len(members)} locked packages not audited "
                                f"({names})", [i.subject for i in missing])


def _not_checked(item: Item) -> list[str]:
    if item.kind is ItemKind.INPUT_FILE:
        return [f"every requirement in {item.subject}"]
    return [f"{item.package or item.subject} and its dependencies"]


__all__ = ["ProfileRun", "assemble", "merge_build_variants", "reconcile"]

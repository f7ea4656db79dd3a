"""Shared rules for already-resolved inputs (pinned requirements files and lockfiles).

Everything locked is audited -- all extras, groups and platforms -- because a lockfile is what gets installed
somewhere. The one exception is a package locked at several versions under disjoint markers (universal locks:
``numpy==1.24.4 ; python_version < "3.9"`` and ``numpy==2.0.2 ; python_version >= "3.9"``): the version whose
marker holds for the audit's target (``--python-version``/``--platform``, default this interpreter) is audited and
the others are excluded for the target (listed in the ledger and named in the package's properties). Several
versions that all apply (a uv lock's conflicting extras) are all audited (``conflicts_are_skipped=False``); in a
requirements file they are a conflict pip refuses: the first is audited and the others become skipped entries.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.domain import LOCKED_ALTERNATIVES, Excluded, Package, Skipped
from auditor.ledger import Item, ItemKind
from auditor.sources.markers import marker_holds, marker_holds_for_some_extra

OTHER_VERSIONS = "mlaudit:other-locked-versions"
ALTERNATIVES = LOCKED_ALTERNATIVES  # see auditor.domain


@dataclass
class Candidate:
    """One locked version of a package and the marker under which it applies (None: always)."""

    package: Package
    marker: str | None = None
    raw: str = ""


def choose_versions(candidates: list[Candidate], env: dict[str, str], *, conflicts_are_skipped: bool = True,
                    item_kind: ItemKind = ItemKind.LOCKED_PACKAGE) -> tuple[list[Package], list[Item]]:
    """The versions to audit (rule in the module docstring), in input order; the others as ledger outcomes of
    ``item_kind`` at their input line."""
    by_name: dict[str, list[Candidate]] = {}
    for cand in candidates:
        by_name.setdefault(cand.package.name, []).append(cand)
    chosen: list[Package] = []
    skipped: list[Item] = []
    for name, group in by_name.items():
        versions: dict[str, Candidate] = {}
        lines: dict[str, list[Candidate]] = {}  # every input line of a version: they share its outcome
        for cand in group:  # the same version twice: one package, hashes merged
            lines.setdefault(cand.package.version, []).append(cand)
            first = versions.get(cand.package.version)
            if first is None:
                versions[cand.package.version] = cand
            else:
                for h in cand.package.hashes:
                    if h not in first.package.hashes:
                        first.package.hashes.append(h)
                first.package.direct = first.package.direct or cand.package.direct
        distinct = list(versions.values())
        if len(distinct) == 1:
            chosen.append(distinct[0].package)
            continue
        # a version applies to the target when any of its lines does (``x==1.0 ; sys_platform == 'win32'`` and a
        # plain ``x==1.0`` install 1.0 here)
        applying = [c for c in distinct if any(marker_holds(o.marker, env) for o in lines[c.package.version])]
        if not applying:  # e.g. only under one extra each (uv's conflicting extras): those that hold for one
            applying = [c for c in distinct
                        if any(marker_holds_for_some_extra(o.marker, env) for o in lines[c.package.version])] \
                or distinct[:1]
        pick = applying[0]
        also: list[Package] = []
        for other in applying[1:]:
            if not conflicts_are_skipped:
                also.append(other.package)
                continue
            for line in lines[other.package.version]:
                loc = line.package.location
                skipped.append(Skipped(
                    reason=f"conflicting pin: {name}=={other.package.version} conflicts with {name}=="
                           f"{pick.package.version} at {pick.package.location}; only {pick.package.version} is "
                           "audited",
                    file=loc.file if loc else None, line=loc.line if loc else None,
                    requirement=line.raw or f"{name}=={other.package.version}",
                    not_checked=[f"{name} {other.package.version}"], kind=item_kind,
                    subject=f"{name}=={other.package.version}"))
        excluded = [c for c in distinct if c not in applying]
        for other in excluded:
            for line in lines[other.package.version]:
                loc = line.package.location
                skipped.append(Excluded(
                    reason=f"locked for another target ({line.marker}); {pick.package.version} is the version for "
                           "this target", file=loc.file if loc else None, line=loc.line if loc else None,
                    requirement=line.raw or f"{name}=={other.package.version}", kind=item_kind,
                    subject=f"{name}=={other.package.version}"))
        if excluded:
            pick.package.properties[OTHER_VERSIONS] = ", ".join(
                f"{c.package.version}" + (f" ({c.marker})" if c.marker else "") for c in excluded)
        pick.package.direct = pick.package.direct or any(c.package.direct for c in distinct)
        chosen.append(pick.package)
        chosen.extend(also)
        if also:
            every = [pick.package, *also]
            for package in every:
                package.properties[ALTERNATIVES] = ", ".join(
                    p.version + (f" ({p.location})" if p.location else "") for p in every if p is not package)
    return chosen, skipped

"""The pipeline's remediation stage: one ``Remediation`` per package version with findings an upgrade can clear.

Two depths, both honest about which one ran (``verified`` in the JSON):

- **Planning** (every audit, cheap, offline-capable): the target version comes from the advisory data alone --
  the records' ``fixed`` releases -- and is marked ``verified: false``.
- **Verification** (``mlaudit fix``, or ``--verify-fixes`` on an audit): the candidates are the releases the index
  lists (installable: not yanked, with a wheel unless ``--allow-build``), the local label of an ML build
  (``+cu121``) is kept where the index has it, and every profile is re-resolved with its upgrades and re-audited
  (``auditor.remediation.verify``). Only then is an upgrade ``verified: true``.

A malicious package gets a record with no ``to`` (action ``remove``): no release of it is safe. A package whose
advisories no release fixes gets one too (action ``none``), so a reader sees what an upgrade cannot clear.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from auditor.advisories.match import parse_version
from auditor.advisories.runtime import OSV_ONLINE, store_for
from auditor.domain import Finding, Package, Remediation, Requirement, canonical_name
from auditor.errors import IncompleteError
from auditor.kinds import FindingKind
from auditor.options import AuditContext, CacheSlot
from auditor.remediation.model import Key, ProfilePlan, RemediationPlan, Upgrade
from auditor.remediation.reresolve import ProfileSpec
from auditor.remediation.targets import (
    choose_target,
    fixed_events,
    live_vulnerability_records,
    local_label,
    problems_of,
    public_version,
    some_ids,
)

if TYPE_CHECKING:
    from auditor.accounting import ProfileRun
    from auditor.pkgindex import ProjectPage

NOT_REQUESTED = ("not verified: planned from the advisory data only (`mlaudit fix --dry-run` or `--verify-fixes` "
                 "re-resolves and re-audits it)")
OFFLINE = "offline: planned from the advisory data only, not re-resolved or re-audited"
ACTION_UPGRADE = "upgrade"
ACTION_REMOVE = "remove"
ACTION_NONE = "none"
REMEDIATION_PLAN: CacheSlot[RemediationPlan] = CacheSlot("remediation plan")  # what ``mlaudit fix`` applies


def remediate(ctx: AuditContext, runs: Sequence[ProfileRun]) -> RemediationPlan:
    """Plan (and, when asked, verify) upgrades; fills ``ctx.report.remediation`` and returns the plan."""
    report = ctx.report
    by_key = _findings_by_package(report.active_findings())
    plan = RemediationPlan(profiles=[_profile_plan(run, ctx) for run in runs])
    if not by_key:
        report.remediation = []
        return plan
    verify = ctx.options.verify_fixes and not ctx.options.offline
    store = store_for(ctx)
    names = sorted({name for name, _ in by_key})
    records = store.vulnerabilities_many(names)
    for (name, _version), extra in (ctx.caches.get(OSV_ONLINE) or {}).items():  # --online: the API's records too
        if name in names:
            records[name] = [*records.get(name, []), *extra]
    pages: dict[str, ProjectPage | None] = {}
    if verify:
        pages, unlisted = _index_pages(ctx, [k for k, fs in by_key.items() if not _malicious(fs)])
    out: list[Remediation] = []
    profiles_of = _profiles_of(runs)
    for key, findings in sorted(by_key.items()):
        name, version = key
        profiles = profiles_of.get(key, []) if len(runs) > 1 else []
        if _malicious(findings):
            ids = sorted({f.id for f in findings})
            out.append(Remediation(package=key, to=None, remains=ids, profiles=profiles, action=ACTION_REMOVE,
                                   reason="malicious package: remove it (or replace it with the package it "
                                          "imitates); no release of it is safe"))
            continue
        vulns = [f for f in findings if f.kind is FindingKind.VULNERABILITY]
        live = live_vulnerability_records(records.get(name, []))
        page = pages.get(name)
        candidates = _installable(page, ctx.options.allow_build) if page is not None else fixed_events(name, live)
        target = choose_target(name, version, problems_of((f.id, f.aliases) for f in vulns), live, candidates)
        if target.to is None:
            out.append(Remediation(package=key, to=None, remains=target.remains, profiles=profiles,
                                   action=ACTION_NONE, reason=target.note))
            continue
        upgrade = Upgrade(name, version, target.to, target.clears, target.remains, profiles_of.get(key, []))
        if target.note:
            upgrade.notes.append(target.note)
        _keep_local_label(upgrade, page if verify else None)
        plan.upgrades[key] = upgrade
        if verify and name in unlisted:  # its index did not answer: planned from the data, not verified
            plan.unverified[key] = unlisted[name]
            continue
        for profile in plan.profiles:
            if profile.name in upgrade.profiles:
                profile.upgrades.append(upgrade)
    if verify and plan.upgrades:
        _verify(ctx, plan, runs)
    for upgrade in plan.upgrades.values():
        out.append(_record(upgrade, plan, ctx, verify, profiles=upgrade.profiles if len(runs) > 1 else []))
    out.sort(key=lambda r: (r.package[0], parse_version(r.package[1]) or _ZERO, r.package[1]))
    report.remediation = out
    return plan


def _record(upgrade: Upgrade, plan: RemediationPlan, ctx: AuditContext, verify: bool,
            profiles: list[str]) -> Remediation:
    notes = list(upgrade.notes)
    if upgrade.key in plan.rejected and upgrade.key not in plan.unverified:
        why = plan.rejected[upgrade.key]
        return Remediation(package=upgrade.key, to=None, clears=[], remains=[*upgrade.clears, *upgrade.remains],
                           profiles=profiles, action=ACTION_NONE,
                           reason=f"{upgrade.to} would clear {some_ids(upgrade.clears)} but {why}")
    verified = verify and plan.verified and plan.failure is None and upgrade.key not in plan.unverified
    if not verified:
        notes.insert(0, OFFLINE if ctx.options.offline else (
            plan.unverified.get(upgrade.key) or plan.failure or NOT_REQUESTED))
    return Remediation(package=upgrade.key, to=upgrade.to, clears=list(upgrade.clears),
                       remains=list(upgrade.remains), profiles=profiles, verified=verified,
                       action=ACTION_UPGRADE, reason="; ".join(notes) or None)


_ZERO = parse_version("0")


def _malicious(findings: Sequence[Finding]) -> bool:
    return any(f.kind is FindingKind.MALICIOUS for f in findings)


def _findings_by_package(findings: Sequence[Finding]) -> dict[Key, list[Finding]]:
    out: dict[Key, list[Finding]] = {}
    for f in findings:
        if f.package is None or f.kind not in (FindingKind.VULNERABILITY, FindingKind.MALICIOUS):
            continue
        out.setdefault((canonical_name(f.package[0]), f.package[1]), []).append(f)
    return out


def _profiles_of(runs: Sequence[ProfileRun]) -> dict[Key, list[str]]:
    out: dict[Key, list[str]] = {}
    for run in runs:
        if run.resolution is None:
            continue
        for p in run.resolution.packages:
            names = out.setdefault((canonical_name(p.name), p.version), [])
            if run.profile.name not in names:
                names.append(run.profile.name)
    return out


def _index_pages(ctx: AuditContext, keys: list[Key]) -> tuple[dict[str, ProjectPage | None], dict[str, str]]:
    """The index's listing of each package (which releases exist and can be installed), asked concurrently; a
    package whose index does not answer is planned from the data and left unverified (the reason per name),
    without holding back the others."""
    from concurrent.futures import ThreadPoolExecutor

    from auditor.pkgindex import find_page

    packages: list[Package] = []
    for name, version in keys:
        package = ctx.report.package_for(name, version) or Package(name=name, version=version)
        if all(p.name != package.name for p in packages):
            packages.append(package)
    if not packages:
        return {}, {}
    ctx.progress(f"listing releases of {len(packages)} packages to plan upgrades")

    def one(package: Package) -> tuple[ProjectPage | None, str | None]:
        try:
            return find_page(ctx, package), None
        except IncompleteError as exc:
            return None, f"not verified: the package index could not be asked for its releases ({exc})"

    with ThreadPoolExecutor(max_workers=min(8, len(packages))) as pool:
        answers = list(pool.map(one, packages))
    pages = {p.name: page for p, (page, _) in zip(packages, answers, strict=True)}
    failed = {p.name: why for p, (_, why) in zip(packages, answers, strict=True) if why}
    return pages, failed


def _installable(page: ProjectPage, allow_build: bool) -> list[str]:
    """Versions the index lists that an installer would take: not yanked, and with a wheel unless building is
    allowed (the audit never builds)."""
    out: list[str] = []
    for version in page.versions():
        files = [f for f in page.files_of(version) if not f.yanked]
        if files and (allow_build or any(f.kind == "wheel" for f in files)):
            out.append(version)
    return out


def _keep_local_label(upgrade: Upgrade, page: ProjectPage | None) -> None:
    """``2.1.0+cu121`` -> ``2.2.0+cu121`` when the index lists that build; said in the notes either way."""
    label = local_label(upgrade.version)
    if not label:
        return
    wanted = f"{upgrade.to}+{label}"
    if page is None:
        upgrade.to = wanted
        upgrade.notes.append(f"the local label +{label} was kept without asking the index whether it has {wanted}")
        return
    target = public_version(wanted)
    if any(public_version(v) == public_version(upgrade.to) and local_label(v) == label for v in page.versions()) \
            or target is None:
        upgrade.to = wanted
        return
    upgrade.notes.append(f"the index has no {wanted}; the public release {upgrade.to} is planned instead")


def _profile_plan(run: ProfileRun, ctx: AuditContext) -> ProfilePlan:
    source = run.profile.source
    return ProfilePlan(name=run.profile.name, files=list(run.profile.files), kinds=list(source.kinds),
                       source=source, spec=_spec(run, ctx))


def profile_requirements(run: ProfileRun, ctx: AuditContext) -> list[Requirement]:
    """The requirements behind the lines of the profile's ``ProfileSpec`` (none for a lock's bare names)."""
    from auditor.sources.direct import unresolvable_reason

    source = run.profile.source
    if source.resolved:
        return []
    return [r for r in source.requirements if not r.constraint and not r.url
            and unresolvable_reason(r, allow_build=ctx.options.allow_build) is None]


def profile_constraints(run: ProfileRun) -> list[Requirement]:
    source = run.profile.source
    return [*source.constraints, *[r for r in source.requirements if r.constraint]]


def _pins(run: ProfileRun) -> dict[str, str]:
    if run.resolution is None:
        return {}
    return {canonical_name(p.name): p.version for p in run.resolution.packages
            if p.version and p.resolved}


def _spec(run: ProfileRun, ctx: AuditContext) -> ProfileSpec | None:
    """What the profile re-resolves from: a lock's every package by name (its pins as preferences), a hand-written
    profile's own requirement lines and constraints."""
    from auditor.resolve.target import indexes_for
    from auditor.resolve.uvdriver import requirement_line

    if run.resolution is None or run.failure:
        return None
    pins = _pins(run)
    source = run.profile.source
    indexes = indexes_for(source, ctx.options)
    requires = _requires(run)
    if source.resolved:
        return ProfileSpec(sorted(pins), [], pins, indexes, requires)
    reqs = profile_requirements(run, ctx)
    constraints = [requirement_line(c) for c in profile_constraints(run)]
    return ProfileSpec([requirement_line(r) for r in reqs], constraints, pins, indexes, requires)


def _requires(run: ProfileRun) -> dict[str, list[str]]:
    """Each package's dependencies by name, from the profile's edges (for metadata-only stand-ins)."""
    out: dict[str, list[str]] = {}
    if run.resolution is None:
        return out
    for edge in run.resolution.edges:
        parent, child = _node_name(edge.parent), _node_name(edge.child)
        if parent and child and child not in out.setdefault(parent, []):
            out[parent].append(child)
    return out


def _node_name(node: str) -> str | None:
    if not node.startswith("pypi:"):
        return None
    return canonical_name(node[len("pypi:"):].split("@", 1)[0])


def _verify(ctx: AuditContext, plan: RemediationPlan, runs: Sequence[ProfileRun]) -> None:
    from auditor.remediation.verify import verify_plan
    from auditor.tools import uv_binary

    uv = uv_binary()
    if uv is None:
        plan.failure = "not verified: the uv binary is not available"
        return
    requirements = {run.profile.name: [*profile_requirements(run, ctx), *profile_constraints(run)] for run in runs}
    for profile in plan.profiles:
        if profile.spec is None:
            for upgrade in profile.upgrades:
                plan.unverified.setdefault(upgrade.key, f"not verified: {profile.name} was not resolved, so the "
                                                        "upgrade could not be checked there")
    verify_plan(plan, uv, ctx.options, store_for(ctx), requirements, ctx.progress)

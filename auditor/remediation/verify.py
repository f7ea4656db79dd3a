"""Verification of planned upgrades: re-resolve each profile with them, re-audit what moved, keep what fits.

Batch first: one re-resolution per profile with every upgrade of that profile. Only when that fails is the set
bisected (halves, then quarters, ...) so that the upgrades that fit are kept and each one that does not is named
with uv's own reason -- ``k`` conflicting upgrades among ``n`` cost about ``k log n`` runs, not ``n``.

Re-audit: every package whose version the re-resolution changed or added is checked against the advisory and
malicious-package data; an id it has that the audited version did not is an introduced finding, and the upgrade
that caused it is rejected like a conflict. (Typosquat, provenance and the other checks do not change with a
version bump of a known name and are not re-run here; ``mlaudit fix`` re-audits the edited files in full.)

Profiles stay consistent: an upgrade rejected in one profile is rejected in all (a CUDA and a CPU profile that
pin the same torch get the same answer), and a profile that had accepted it is re-checked without it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from auditor.advisories.db import AdvisoryStore
from auditor.advisories.findings import malicious_findings, vulnerability_findings
from auditor.advisories.record import OsvRecord
from auditor.domain import Requirement, canonical_name
from auditor.options import AuditOptions
from auditor.remediation.model import Key, ProfilePlan, RemediationPlan, Upgrade
from auditor.remediation.reresolve import Outcome, ProfileSpec, reresolve
from auditor.remediation.specifiers import admits, widen
from auditor.resolve.messages import NO_WHEEL, find_culprits
from auditor.resolve.uvdriver import requirement_line

MAX_CONSISTENCY_ROUNDS = 3
_NO_WHEELS = re.compile(r"all of:(?P<names>.*?) have no usable wheels")
_NAME_TOKEN = re.compile(r"(?:^|\s)([A-Za-z0-9][A-Za-z0-9._-]*)(?=[<>=!~]|\s|$)")

Resolver = Callable[[ProfileSpec, dict[str, str], dict[str, str]], Outcome]


class VerificationFailed(Exception):
    """The resolver or index failed: nothing can be said about the upgrades."""


def widened_lines(requirements: Sequence[Requirement], group: Sequence[Upgrade]) -> dict[str, str]:
    """Requirement and constraint lines the fix rewrites for ``group`` (old line -> new line): a pin moved, a
    blocking bound widened."""
    out: dict[str, str] = {}
    wanted = {u.name: u.to for u in group}
    for req in requirements:
        if req.name not in wanted or req.url:
            continue
        to = wanted[req.name]
        if admits(req.specifier, to):
            continue
        new = widen(req.specifier, to)
        if new is not None:
            out[requirement_line(req)] = requirement_line(replace(req, specifier=new))
    return out


def introduced(store: AdvisoryStore, before: dict[str, str], after: dict[str, str],
               group: Sequence[Upgrade]) -> list[str]:
    """``name version: ids`` for every changed or added package that has an advisory/malicious id its audited
    version did not have, and for an upgrade that did not land on its version."""
    changed = {n: v for n, v in after.items() if before.get(n) != v}
    problems: list[str] = []
    for upgrade in group:
        got = after.get(upgrade.name)
        if got is None or not _same(got, upgrade.to):
            problems.append(f"{upgrade.name} resolved to {got or 'nothing'}, not {upgrade.to}")
    if not changed:
        return problems
    vulns = store.vulnerabilities_many(changed)
    mal = store.malicious_many(changed)
    for name, version in sorted(changed.items()):
        records = [*vulns.get(name, []), *mal.get(name, [])]
        if not records:
            continue
        now = _ids(name, version, records)
        old = _ids(name, before[name], records) if name in before else set()
        new = sorted(now - old)
        if new:
            problems.append(f"{name} {version} has {', '.join(new[:5])}" + (" ..." if len(new) > 5 else ""))
    return problems


def _ids(name: str, version: str, records: Sequence[OsvRecord]) -> set[str]:
    found = [*vulnerability_findings(name, version, records), *malicious_findings(name, version, records)]
    return {f.id for f in found}


def _same(a: str, b: str) -> bool:
    from auditor.advisories.match import parse_version

    pa, pb = parse_version(a), parse_version(b)
    return a == b if pa is None or pb is None else pa == pb


class ProfileVerifier:
    """Batch-then-bisect for one profile (rules in the module docstring)."""

    def __init__(self, profile: ProfilePlan, resolver: Resolver, store: AdvisoryStore,
                 requirements: Sequence[Requirement]) -> None:
        assert profile.spec is not None
        self.profile = profile
        self.spec = profile.spec
        self.resolver = resolver
        self.store = store
        self.requirements = requirements
        self.accepted: list[Upgrade] = []
        self.rejected: dict[Key, str] = {}
        self.unverified: dict[Key, str] = {}  # not the upgrade's fault: the profile cannot be re-resolved
        self.pins: dict[str, str] | None = None
        self.via: dict[str, list[str]] = {}
        self.runs = 0

    def probe(self, group: Sequence[Upgrade]) -> str | None:
        """None when ``group`` resolves and introduces nothing (pins kept); else why not."""
        upgrades = {u.name: u.to for u in group}
        lines = widened_lines(self.requirements, group)
        while True:
            self.runs += 1
            outcome = self.resolver(self.spec, upgrades, lines)
            if not (outcome.conflict and self._stand_in(outcome.conflict, upgrades)):
                break
        if outcome.failure:
            raise VerificationFailed(outcome.failure)
        if outcome.conflict:
            return f"does not resolve with the rest of {self.profile.name}: {outcome.conflict}"
        problems = introduced(self.store, self.spec.pins, outcome.pins, group)
        if problems:
            return f"in {self.profile.name} the upgraded set brings new findings: {'; '.join(problems)}"
        self.pins, self.via = outcome.pins, outcome.via
        return None

    def _stand_in(self, conflict: str, upgrades: dict[str, str]) -> bool:
        """Pins uv names as having no usable wheel, at the version the profile has them, get a metadata-only stand-in
        (the audit resolved them the same way); True when one was added, so the run is worth repeating."""
        named = {c.name: c.version for c in find_culprits(conflict) if c.kind == NO_WHEEL}
        for clause in _NO_WHEELS.finditer(conflict):  # "all of: a<=1 a>=2,<3 a>=4 have no usable wheels"
            for token in _NAME_TOKEN.finditer(clause["names"]):
                named.setdefault(canonical_name(token[1]), None)
        added = False
        for name, version in named.items():
            pinned = self.spec.pins.get(name)
            if (pinned and name not in upgrades and name not in self.spec.placeholders
                    and version in (None, pinned)):
                self.spec.placeholders[name] = pinned
                added = True
        return added

    def settle(self, candidates: Sequence[Upgrade]) -> None:
        """Accept what fits together with what is already accepted; bisect only on failure."""
        if not candidates:
            if self.pins is None:
                self.pins = dict(self.spec.pins)
            return
        reason = self.probe([*self.accepted, *candidates])
        if reason is None:
            self.accepted.extend(candidates)
            return
        if not self.accepted and len(candidates) > 1 and self.runs == 1:
            # is it the profile itself that no longer resolves? then no upgrade is to blame
            base = self.probe([])
            if base is not None:
                for u in candidates:
                    self.unverified[u.key] = (f"not verified: {self.profile.name} does not re-resolve binary-only as "
                                              f"it stands, so the upgrade could not be checked: {base}")
                return
        if len(candidates) == 1:
            self.rejected[candidates[0].key] = reason
            return
        mid = len(candidates) // 2
        self.settle(candidates[:mid])
        self.settle(candidates[mid:])


def verify_plan(plan: RemediationPlan, uv: str, options: AuditOptions, store: AdvisoryStore,
                requirements: Mapping[str, Sequence[Requirement]], progress: Callable[[str], None]) -> None:
    """Verify ``plan`` in place: ``accepted``/``pins_after`` per profile, ``rejected`` with reasons, ``verified``.
    A profile whose resolver or index fails leaves its upgrades ``unverified`` (in every profile, like a
    rejection) without stopping the others."""

    def resolver(spec: ProfileSpec, upgrades: dict[str, str], lines: dict[str, str]) -> Outcome:
        return reresolve(uv, spec, upgrades, options, lines)

    def blocked(key: Key) -> bool:
        return key in plan.rejected or key in plan.unverified

    pending = [p for p in plan.profiles if p.spec is not None and p.upgrades]
    for _ in range(MAX_CONSISTENCY_ROUNDS):
        changed = False
        for profile in pending:
            live = [u for u in profile.upgrades if not blocked(u.key)]
            if profile.pins_after is not None and [u.key for u in profile.accepted] == [u.key for u in live]:
                continue
            progress(f"verifying upgrades: {profile.name}")
            verifier = ProfileVerifier(profile, resolver, store, requirements.get(profile.name, []))
            try:
                verifier.settle(live)
            except VerificationFailed as exc:
                for u in live:
                    plan.unverified.setdefault(u.key, f"not verified: re-resolving {profile.name} failed ({exc})")
                profile.accepted, profile.pins_after = [], None
                changed = changed or bool(live)
                continue
            profile.accepted = verifier.accepted
            profile.pins_after, profile.via_after = verifier.pins, verifier.via
            for target, found in ((plan.rejected, verifier.rejected), (plan.unverified, verifier.unverified)):
                for key, reason in found.items():
                    if not blocked(key):
                        target[key] = reason
                        changed = True
        if not changed:
            break
    for profile in pending:  # still inconsistent after the bounded rounds: verified as no set, so none
        if any(blocked(u.key) for u in profile.accepted):
            for u in profile.accepted:
                plan.unverified.setdefault(u.key, f"not verified: could not be verified consistently across "
                                                  f"profiles ({profile.name})")
            profile.accepted, profile.pins_after = [], None
    plan.verified = True

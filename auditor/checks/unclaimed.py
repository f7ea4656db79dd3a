"""Check ``unclaimed-name``: a requirement names a project the package index does not have.

Why it is a finding and not only a skipped line: anyone can register that name tomorrow, and the next ``pip
install`` fetches whatever they upload -- the classic dependency-confusion and removed-typosquat hole (``pstuil``
for ``psutil``). The name has already been through every name check (it stays in the report as a package without a
version, so the malicious and typosquat checks see it); this check adds the finding of its own: high, critical when
the name also looks like a popular project's or was published as malware before (a MAL- record: removed malware
names are re-registered by the same campaigns).
"""

from __future__ import annotations

from collections.abc import Iterable

from auditor.advisories.runtime import store_for
from auditor.checks.typosquat import assess_name
from auditor.domain import Finding, Package, Severity, canonical_name
from auditor.errors import IncompleteError
from auditor.evidence import Details
from auditor.kinds import FindingKind, Rule
from auditor.options import AuditContext
from auditor.policy import Policy
from auditor.typosquat import NameContext


def is_unclaimed(package: Package) -> bool:
    return package.unclaimed


class UnclaimedCheck:
    name = "unclaimed-name"

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        names = [p for p in ctx.report.packages.values() if is_unclaimed(p)]
        if not names:
            return []
        policy = ctx.options.policy or Policy()
        # a removed name that was published as malware is the likeliest to be claimed again by the same people
        try:
            malware = store_for(ctx).malicious_many(p.name for p in names)
        except IncompleteError:  # no usable malicious-package data: the malicious check reports that gap
            malware = {}
        findings: list[Finding] = []
        for package in names:
            look = assess_name(package.name, NameContext(on_index=False, source="resolver"),
                               allowlist=policy.typosquat_allowlist)
            lookalike = look.target if look.flagged and look.target else None
            known = sorted(r.id for r in malware.get(canonical_name(package.name), []) if not r.withdrawn)
            via = ", ".join(package.required_by)
            how = f"required by {via}" if via else "named by the input"
            message = (f"'{package.name}' is not on the package index ({how}): anyone can register it, and the next "
                       "install would fetch whatever they upload")
            if known:
                message += f"; it was published as malware before ({', '.join(known)}), likely removed for that"
            if lookalike:
                message += f"; it also looks like the popular '{lookalike}'"
            findings.append(Finding(
                kind=FindingKind.UNCLAIMED_NAME, id=Rule.UNCLAIMED_NAME,
                severity=Severity.CRITICAL if lookalike or known else Severity.HIGH, message=message,
                package=(package.name, package.version), location=package.location, check=self.name,
                evidence=Details.of({"on_index": False, "required_by": via, "looks_like": lookalike,
                          "typosquat_score": look.score, "known_malicious": known}),
                fix=(f"did you mean '{lookalike}'? " if lookalike else "")
                + "remove the requirement, or publish/reserve the name on your index (internal packages: serve "
                  "them from an index you control and pin it)",
            ))
        return findings


CHECK = UnclaimedCheck()

__all__ = ["CHECK", "UnclaimedCheck", "is_unclaimed"]

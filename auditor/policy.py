"""Policy: what fails the gate and what is knowingly accepted.

The policy decides; outputs only show its decisions. An ignore needs a reason and may expire; an expired ignore
stops ignoring and says so, so that accepted risk is re-reviewed instead of forgotten.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from auditor.domain import Finding, PolicyNote, Report, Severity, canonical_name
from auditor.kinds import FindingKind, Rule


@dataclass
class IgnoreRule:
    id: str
    reason: str
    expires: dt.date | None = None
    package: str | None = None  # limit the ignore to one package (PEP 503 name)

    def matches(self, finding: Finding) -> bool:
        if self.id not in finding.all_ids:
            return False
        if self.package is not None:
            return finding.package is not None and canonical_name(finding.package[0]) == canonical_name(self.package)
        return True


@dataclass
class Policy:
    fail_on: Severity | None = None  # None: keep the CLI/default threshold
    unknown_severity: Severity | None = None  # how an advisory without any severity gates; None: high (fail closed)
    ignores: list[IgnoreRule] = field(default_factory=list)
    disabled_kinds: set[str] = field(default_factory=set)
    typosquat_allowlist: set[str] = field(default_factory=set)
    hf_org_allowlist: set[str] = field(default_factory=set)
    internal_prefixes: list[str] = field(default_factory=list)
    require_attestation: bool = False
    require_safetensors: bool = False
    require_complete: bool = False
    require_hashes: bool = False
    exclude: list[str] = field(default_factory=list)  # .gitignore-style paths left out of the project walk
    stale_after_days: int | None = None  # age (days) at which local advisory data warns; None: the default (30)
    source: str | None = None  # the file the policy came from
    origin: str | None = None  # "audited-project" (found in the audited tree) or "caller" (--config)
    declared_disabled: set[str] = field(default_factory=set)  # what the file itself disables (not --disable-check)
    not_applied: list[str] = field(default_factory=list)  # project policy files a --config (or mlaudit.toml) displaced

    @property
    def from_project(self) -> bool:
        """Written by whoever wrote the audited project: it may not switch the audit off silently."""
        return self.origin == "audited-project"


# Finding kinds that ``require-safetensors`` / ``require-attestation`` turn from notes into gate failures.
# Pickle-format notes only: other ``unsafe-model`` findings (trailing bytes, malformed files) keep their own severity.
SAFETENSORS_KINDS: frozenset[str] = frozenset({FindingKind.PICKLE_MODEL})
SAFETENSORS_IDS: frozenset[str] = frozenset({Rule.MODEL_PICKLE_ONLY})
ATTESTATION_KINDS: frozenset[str] = frozenset({FindingKind.MISSING_PROVENANCE})
REQUIRED_SEVERITY = Severity.HIGH


def policy_note(policy: Policy, caller_disabled: Iterable[str] = ()) -> PolicyNote:
    """What every output says about the policy: its file and origin, and what it turns off or accepts."""
    return PolicyNote(
        file=policy.source, origin=policy.origin if policy.source else None,
        disables=sorted(policy.declared_disabled),
        ignores=[{"id": r.id, "package": r.package, "reason": r.reason,
                  "expires": r.expires.isoformat() if r.expires else None} for r in policy.ignores],
        excludes=list(policy.exclude),
        allowlists={k: v for k, v in (("typosquat", sorted(policy.typosquat_allowlist)),
                                      ("hf-org", sorted(policy.hf_org_allowlist))) if v},
        fail_on=policy.fail_on.value if policy.fail_on else None,
        unknown_severity=policy.unknown_severity.value if policy.unknown_severity else None,
        disabled_by_caller=sorted(set(caller_disabled) - policy.declared_disabled),
        not_applied=list(policy.not_applied))


def apply_policy(report: Report, policy: Policy, today: dt.date | None = None, *,
                 disabled: Iterable[str] | None = None) -> None:
    """Drop disabled kinds, raise required-but-missing notes, mark ignored findings, warn on expired ignores, and
    set the level an ``unknown`` severity gates as (``unknown-severity``; fail closed at ``high`` by default).

    ``disabled`` (default: the policy's ``disabled_kinds``; an audit passes the merged set of its options, the
    policy's and ``--disable-check``'s) matches a finding's kind or the name of the check that produced it, so
    users can write either ``disable = ["vulnerability"]`` or ``disable = ["advisories"]``. The policy is read,
    never changed.
    """
    today = today or dt.date.today()
    if policy.unknown_severity is not None:
        report.unknown_severity = policy.unknown_severity
    off = set(policy.disabled_kinds if disabled is None else disabled)
    if off:
        report.findings = [f for f in report.findings if f.kind not in off and (not f.check or f.check not in off)]
    raised: list[tuple[frozenset[str], frozenset[str], str]] = []
    if policy.require_safetensors:
        raised.append((SAFETENSORS_KINDS, SAFETENSORS_IDS, "require-safetensors"))
    if policy.require_attestation:
        raised.append((ATTESTATION_KINDS, frozenset(), "require-attestation"))
    for kinds, ids, setting in raised:
        for finding in report.findings:
            wanted = finding.kind in kinds or finding.id in ids
            if wanted and not finding.severity.at_least(REQUIRED_SEVERITY):
                finding.message += f" (raised from {finding.severity.value} to {REQUIRED_SEVERITY.value} by {setting})"
                finding.severity = REQUIRED_SEVERITY
    warned: set[str] = set()
    for finding in report.findings:
        for rule in policy.ignores:
            if not rule.matches(finding):
                continue
            if rule.expires is not None and rule.expires < today:
                if rule.id not in warned:
                    report.warnings.append(
                        f"ignore for {rule.id} expired on {rule.expires.isoformat()} ({rule.reason}): no longer ignored"
                    )
                    warned.add(rule.id)
                continue
            finding.ignored = rule.reason
            break

"""What the remediation stage hands to ``mlaudit fix``: the upgrades, each profile's verified resolution, and why
an upgrade was left out. ``Report.remediation`` (the JSON contract) is derived from it."""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.remediation.reresolve import ProfileSpec
from auditor.sources.base import SourceResult

Key = tuple[str, str]  # (PEP 503 name, version as audited)


@dataclass
class Upgrade:
    """One planned upgrade: ``to`` is the version to install (its local label kept where the index has it)."""

    name: str
    version: str
    to: str
    clears: list[str] = field(default_factory=list)
    remains: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # planning remarks that travel into the reason

    @property
    def key(self) -> Key:
        return (self.name, self.version)


@dataclass
class ProfilePlan:
    """One profile as the fix needs it: its inputs, what it resolves from, and the verified outcome."""

    name: str
    files: list[str]
    kinds: list[str]
    source: SourceResult
    spec: ProfileSpec | None = None  # None: the profile was not resolved (nothing to verify against)
    upgrades: list[Upgrade] = field(default_factory=list)  # planned upgrades of packages in this profile
    accepted: list[Upgrade] = field(default_factory=list)  # those that re-resolved and re-audited together
    pins_after: dict[str, str] | None = None  # the resolution with ``accepted`` applied
    via_after: dict[str, list[str]] = field(default_factory=dict)  # who requires each pin of ``pins_after``


@dataclass
class RemediationPlan:
    upgrades: dict[Key, Upgrade] = field(default_factory=dict)
    rejected: dict[Key, str] = field(default_factory=dict)  # upgrade -> why it does not fit
    unverified: dict[Key, str] = field(default_factory=dict)  # upgrade -> why it could not be checked
    profiles: list[ProfilePlan] = field(default_factory=list)
    verified: bool = False  # verification ran (re-resolve + re-audit)
    failure: str | None = None  # verification could not run (index, resolver): nothing was verified

    def accepted(self) -> list[Upgrade]:
        """Upgrades verified in every profile that holds them."""
        if not self.verified or self.failure:
            return []
        return [u for k, u in self.upgrades.items() if k not in self.rejected and k not in self.unverified]

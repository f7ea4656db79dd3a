"""What Hub resolution learned, shared with the ``models`` check.

Kept apart from ``hub`` so that the check (loaded on every audit) does not import huggingface_hub, which costs
about half a second of start-up even when a project references no models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.domain import ModelRef
from auditor.options import AuditContext, CacheSlot

Key = tuple[str, str, "str | None"]


@dataclass
class HubState:
    """What resolution learned beyond ``ModelRef`` fields, keyed by (repo_id, kind, revision as written)."""

    status: dict[Key, str] = field(default_factory=dict)  # resolved | cached | not-found | gated | no-revision | ...
    auto_map: dict[Key, list[str]] = field(default_factory=dict)  # config.json auto_map classes (custom code)
    partial_files: set[Key] = field(default_factory=set)  # file list from the local cache only
    hash_mismatches: list[tuple[ModelRef, str, str, str]] = field(default_factory=list)  # ref, path, want, got


HUB_STATE: CacheSlot[HubState] = CacheSlot("hub state")  # what each repo resolved to, for the models check


def state_of(ctx: AuditContext) -> HubState:
    return ctx.caches.setdefault(HUB_STATE, HubState)


def key_of(ref: ModelRef) -> Key:
    return (ref.repo_id, ref.kind, ref.revision)


__all__ = ["Key", "HubState", "key_of", "state_of"]

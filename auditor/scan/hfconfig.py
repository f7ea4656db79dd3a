"""Hugging Face configs that make a load run code from *another* repository.

``config.json`` / ``tokenizer_config.json`` ``auto_map`` values (and ``custom_pipelines`` implementations) of the
form ``other-org/repo--modeling.Model`` tell transformers (with ``trust_remote_code``) to download
``modeling.py`` from ``other-org/repo`` and run it. The model's own repository may be reviewed and pinned; that
code is neither. ``remote_code_refs`` is public so that the models stage can add the referenced repository to the
model graph (resolved and audited like any other reference).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from auditor.domain import Severity
from auditor.kinds import ScanRule
from auditor.scan.state import ScanState

_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")
_MAX_ENTRIES = 200


@dataclass(frozen=True)
class RemoteCodeRef:
    """One ``repo--module.Class`` reference of a config."""

    repo_id: str
    revision: str | None  # ``repo@rev--...`` when given; None means the referenced repo's default branch
    reference: str  # ``module.Class`` inside that repository
    key: str  # where it was found: ``auto_map.AutoModel``, ``custom_pipelines.task.impl``

    @property
    def spec(self) -> str:
        rev = f"@{self.revision}" if self.revision else ""
        return f"{self.repo_id}{rev}--{self.reference}"


def _parse(value: str, key: str) -> RemoteCodeRef | None:
    if "--" not in value:
        return None
    repo, _, reference = value.partition("--")
    repo = repo.strip()
    revision = None
    if "@" in repo:
        repo, _, revision = repo.partition("@")
    if not _REPO.fullmatch(repo) or not reference:
        return None
    return RemoteCodeRef(repo, revision or None, reference.strip(), key)


def remote_code_refs(config: Any) -> list[RemoteCodeRef]:
    """Cross-repository code references of a parsed ``config.json``/``tokenizer_config.json`` (empty for others)."""
    if not isinstance(config, dict):
        return []
    out: list[RemoteCodeRef] = []
    auto_map = config.get("auto_map")
    if isinstance(auto_map, dict):
        for name, value in list(auto_map.items())[:_MAX_ENTRIES]:
            for entry in value if isinstance(value, list) else [value]:
                if isinstance(entry, str):
                    ref = _parse(entry, f"auto_map.{name}")
                    if ref is not None:
                        out.append(ref)
    pipelines = config.get("custom_pipelines")
    if isinstance(pipelines, dict):
        for task, spec in list(pipelines.items())[:_MAX_ENTRIES]:
            impl = spec.get("impl") if isinstance(spec, dict) else None
            if isinstance(impl, str):
                ref = _parse(impl, f"custom_pipelines.{task}.impl")
                if ref is not None:
                    out.append(ref)
    return out


def check_remote_code(config: Any, state: ScanState, fmt: str) -> int:
    refs = remote_code_refs(config)
    by_repo: dict[tuple[str, str | None], list[RemoteCodeRef]] = {}
    for ref in refs:
        by_repo.setdefault((ref.repo_id, ref.revision), []).append(ref)
    for (repo, revision), group in by_repo.items():
        pinned = f" at revision {revision}" if revision else " at whatever its default branch holds at load time"
        state.add(ScanRule.REMOTE_CODE, Severity.HIGH,
                  f"{group[0].key} loads code from another repository, {repo}{pinned} "
                  f"({', '.join(sorted({r.reference for r in group})[:4])}): with trust_remote_code that code runs "
                  "on load, and it is not part of this model", {"format": fmt, "repo": repo, "revision": revision,
                                                                "callable": group[0].spec,
                                                                "references": [r.spec for r in group][:20],
                                                                "keys": [r.key for r in group][:20]},
                  fix=f"Review {repo}'s code and pin it (repo@commit), or load without trust_remote_code.")
    return len(by_repo)

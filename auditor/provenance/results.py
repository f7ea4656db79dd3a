"""Where ``mlaudit repro`` keeps its rebuild results, and reading one back (what every audit asks, per package).

Apart from ``repro`` (the builder, its imports and patterns) so that an audit reads stored results without loading
the builder, and skips the look-ups altogether when no rebuild was ever stored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditor.cache import cache_dir


def results_dir() -> Path:
    return cache_dir() / "repro"


def result_path(name: str, version: str) -> Path:
    from packaging.utils import canonicalize_name as canonical_name  # (and packaging.tags): only with results

    return results_dir() / canonical_name(name) / f"{version}.json"


def load_result(name: str, version: str, digests: set[str]) -> dict[str, Any] | None:
    """A stored rebuild of ``name==version`` whose published wheel is one of ``digests`` (any, when the audit
    knows no digest for the package); None when there is none or it no longer applies."""
    path = result_path(name, version)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    wheel = data.get("wheel") or {}
    sha = wheel.get("sha256") if isinstance(wheel, dict) else None
    if digests and sha not in digests:
        return None
    return data


__all__ = ["load_result", "result_path", "results_dir"]

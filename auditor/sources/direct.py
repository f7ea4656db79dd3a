"""Direct references (``-e``, URLs, VCS, local paths): which of them can be audited without building anything.

Owned by sources because it is a property of what the user wrote; the resolver and the already-resolved path both
ask it, so that an offline run and an online run give the same skipped item for the same line.
"""

from __future__ import annotations

from auditor.domain import Requirement

BUILD_HINT = "would need building: rerun with --allow-build"


def unresolvable_reason(req: Requirement, *, allow_build: bool) -> str | None:
    """Why ``req`` cannot be resolved without fetching and building a source tree, or None when it can."""
    if req.editable:
        return "editable requirement: a local source tree, not resolved without building"
    if req.url and not allow_build:
        path = req.url.split("#", 1)[0].split("?", 1)[0]
        if not path.endswith(".whl"):
            return f"direct reference to a source archive or VCS ({req.url.split('://', 1)[0]}): {BUILD_HINT}"
    return None


__all__ = ["BUILD_HINT", "unresolvable_reason"]

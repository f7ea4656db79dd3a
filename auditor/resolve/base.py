"""The contract of a resolver: requirements in, exact pins and edges out, without running audited code.

Resolvers use wheels and their metadata only, unless the user opted in with ``--allow-build``. A requirement that
cannot be resolved on its own (no wheel, unreachable URL, conflict) becomes a ``Skipped`` entry so that the rest of
the graph is still audited; only a failure of the index or the resolver itself raises ``ResolutionError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.domain import Edge, Package
from auditor.ledger import Item


@dataclass
class Resolution:
    packages: list[Package] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)  # parent/child are graph node ids (model.package_node)
    skipped: list[Item] = field(default_factory=list)
    resolver: str = ""
    warnings: list[str] = field(default_factory=list)

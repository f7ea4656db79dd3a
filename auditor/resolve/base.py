"""The contract of a resolver: requirements in, exact pins and edges out, without running audited code.

Resolvers use wheels and their metadata only, unless the user opted in with ``--allow-build``. A requirement that
cannot be resolved on its own (no wheel, unreachable URL, conflict) becomes a ``Skipped`` entry so that the rest of
the graph is still audited; only a failure of the index or the resolver itself raises ``ResolutionError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.domain import Edge, Package
from auditor.ledger import Item

# Names other stages read off a resolution; defined here, the contract, so that reading them does not import the
# resolvers (uv driver, sdist reader, index pages) on runs that resolve nothing (issue 25, start-up).
REJECTED_PIN = "mlaudit:rejected-pin"  # package property: a pin the resolver could not keep (another version won)
FALLBACK_SOURCE = "sdist-only"  # Package.source of a pin chosen by the sdist-only fallback (resolve/fallback.py)


@dataclass
class Resolution:
    packages: list[Package] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)  # parent/child are graph node ids (model.package_node)
    skipped: list[Item] = field(default_factory=list)
    resolver: str = ""
    warnings: list[str] = field(default_factory=list)

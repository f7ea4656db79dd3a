"""Where a distribution came from: index digests, PEP 740 attestations, rebuild comparisons.

Split into small modules with one job each: ``pages`` reads an index's simple API (digests, provenance links,
core-metadata links), ``integrity`` fetches provenance objects, ``verify`` checks them with ``pypi-attestations``
against a digest, ``source`` compares a Trusted Publisher with the project's declared repository, ``summary``
turns the results into SLSA-style levels, and ``repro`` rebuilds a wheel from its sdist (opt-in only).
"""

from __future__ import annotations

# Keys written into ``Package.properties``. The CycloneDX writer already prefixes every property name with
# ``mlaudit:``, so the keys themselves stay bare (``hashes-pinned`` appears as ``mlaudit:hashes-pinned``).
PROP_PREFIX = ""


def prop(key: str) -> str:
    """The ``Package.properties`` key for ``key`` (one place to change the naming scheme)."""
    return f"{PROP_PREFIX}{key}"

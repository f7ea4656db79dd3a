"""Registry of the checks every audit runs, in order.

Each module named here exposes ``CHECK``, an object with ``name`` and ``run(ctx) -> Iterable[Finding]``.
Add a check by adding its module here; ``--disable-check NAME`` turns one off by its ``name``.
"""

from __future__ import annotations

import importlib

from auditor.checks.base import Check

CHECK_MODULES: list[str] = [
    "auditor.checks.typosquat",
    "auditor.checks.unclaimed",
    "auditor.checks.confusion",
    "auditor.checks.malicious",
    "auditor.checks.advisories",
    "auditor.checks.modelfiles",
    "auditor.checks.hubmodels",
    "auditor.checks.signing",
    "auditor.checks.hashes",
    "auditor.checks.provenance",
]


def load_checks() -> list[Check]:
    checks: list[Check] = []
    for module_name in CHECK_MODULES:
        module = importlib.import_module(module_name)
        checks.append(module.CHECK)
    return checks

"""Registry of the checks every audit runs, in order.

Each module named here exposes ``CHECK``, an object with ``name`` and ``run(ctx) -> Iterable[Finding]``.
Add a check by adding its module here; ``--disable-check NAME`` (or the policy's ``disable = [...]``) turns one
off by its ``name``, or drops the findings of one kind (``auditor.kinds.FindingKind``). ``disable_names`` is the
registry both are validated against, so a typo is an error instead of a gate that silently checks everything; the
names are ``auditor.kinds.CheckName`` (the policy language), and every registered check's ``name`` is one of them.
"""

from __future__ import annotations

import importlib

from auditor.checks.base import Check
from auditor.kinds import disable_names, unknown_disable_names

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


__all__ = ["CHECK_MODULES", "Check", "disable_names", "load_checks", "unknown_disable_names"]

"""Registry of the checks every audit runs, in order.

Each module named here exposes ``CHECK``, an object with ``name`` and ``run(ctx) -> Iterable[Finding]``.
Add a check by adding its module here; ``--disable-check NAME`` (or the policy's ``disable = [...]``) turns one
off by its ``name``, or drops the findings of one kind (``auditor.kinds.FindingKind``). ``disable_names`` is the
registry both are validated against, so a typo is an error instead of a gate that silently checks everything.
"""

from __future__ import annotations

import importlib

from auditor.checks.base import Check
from auditor.kinds import KIND_VALUES

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


def disable_names() -> list[str]:
    """Every name ``--disable-check`` and ``disable = [...]`` accept: check names and finding kinds."""
    return sorted({check.name for check in load_checks()} | KIND_VALUES)


def unknown_disable_names(names: set[str] | list[str]) -> list[str]:
    """The names in ``names`` that are neither a check nor a finding kind (sorted)."""
    known = set(disable_names())
    return sorted(n for n in set(names) if n not in known)

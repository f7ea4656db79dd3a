"""Licence categories for models and datasets (``data/model_licenses.tsv``) and the compatibility rule.

The rule (documented in ``data/README.md``): when the project is used commercially -- ``model-use =
"commercial"`` in the policy, or, without that key, the project declares an open-source licence (which permits
commercial use of the project itself) -- a model or dataset in the graph whose licence is ``non-commercial`` or
``research-only`` forbids that use. ``model-use = "non-commercial"``/``"research"`` turns the rule off.
Unknown or missing project licences give no verdict (never a guess).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from auditor.resources import data_file

LICENSE_FILE = "model_licenses.tsv"
FORBIDDING = frozenset({"non-commercial", "research-only"})
OPEN_SOURCE = frozenset({"permissive", "copyleft"})


@dataclass(frozen=True)
class LicenseInfo:
    id: str
    category: str
    commercial: str
    note: str


@functools.lru_cache(maxsize=1)
def license_table() -> dict[str, LicenseInfo]:
    table: dict[str, LicenseInfo] = {}
    for line in data_file(LICENSE_FILE).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = (line.split("\t") + ["", "", "", ""])[:4]
        table[parts[0].strip().lower()] = LicenseInfo(parts[0].strip().lower(), parts[1].strip(), parts[2].strip(),
                                                       parts[3].strip())
    return table


def lookup(license_id: str | None) -> LicenseInfo | None:
    if not license_id:
        return None
    return license_table().get(license_id.strip().lower())


def project_use(declared_use: str | None, project_license: str | None) -> str | None:
    """"commercial", "non-commercial", "research" or None (no verdict possible)."""
    if declared_use:
        return declared_use
    if not project_license:
        return None
    for token in re.split(r"[\s()]+|\bOR\b|\bAND\b|\bWITH\b", project_license):
        info = lookup(token) if token else None
        if info is not None and info.category in OPEN_SOURCE:
            return "commercial"
    return None


def forbids(license_id: str | None, use: str | None) -> LicenseInfo | None:
    """The licence's entry when it forbids ``use``; None when compatible or unknown."""
    info = lookup(license_id)
    if info is None or use != "commercial":
        return None
    return info if info.category in FORBIDDING else None

"""SLSA-style levels per package: what a release gate can say about how each distribution was built.

``attested-build``: verified PEP 740 provenance from a Trusted Publisher (a hosted build produced these bytes);
``reproducible``: ``mlaudit repro`` rebuilt the wheel from its sdist with identical content; ``neither``: checked,
and neither holds; ``not-checked``: provenance was not looked at (offline, or not ``--online``).
The levels go into ``Package.properties["slsa"]`` and ``report.provenance_summary`` so the JSON,
CycloneDX and HTML outputs show them without knowing how they were computed.
"""

from __future__ import annotations

from typing import Any

from auditor.domain import Package, Report
from auditor.provenance import prop
from auditor.provenance.results import load_result, results_dir

ATTESTED_BUILD = "attested-build"
REPRODUCIBLE = "reproducible"
NEITHER = "neither"
NOT_CHECKED = "not-checked"
LEVELS = (ATTESTED_BUILD, REPRODUCIBLE, NEITHER, NOT_CHECKED)
REPRODUCIBLE_RESULTS = frozenset({"identical", "identical-content"})


def level_of(package: Package) -> str:
    props = package.properties
    if props.get(prop("provenance")) == "attested":
        return ATTESTED_BUILD
    if props.get(prop("repro")) in REPRODUCIBLE_RESULTS:
        return REPRODUCIBLE
    if props.get(prop("provenance"), "not-checked") == "not-checked" and prop("repro") not in props:
        return NOT_CHECKED
    return NEITHER


def attach_repro_results(report: Report) -> None:
    """Mark packages that ``mlaudit repro`` rebuilt earlier (results kept in the cache) with ``repro``."""
    if not results_dir().is_dir():
        return  # no rebuild was ever stored: no package has a result (one check instead of one read per package)
    for package in report.packages.values():
        digests = {h.split(":", 1)[1].lower() for h in package.hashes if h.lower().startswith("sha256:")}
        digests |= {a.hashes["sha256"].lower() for a in package.artifacts if "sha256" in a.hashes}
        stored = load_result(package.name, package.version, digests)
        if stored is not None and isinstance(stored.get("result"), str):
            package.properties[prop("repro")] = stored["result"]


def summarise(report: Report, *, checked: bool, reason: str = "") -> dict[str, Any]:
    """Set each package's ``slsa`` property and ``report.provenance_summary``; return the latter."""
    attach_repro_results(report)
    counts = dict.fromkeys(LEVELS, 0)
    per_package: dict[str, str] = {}
    for package in report.packages.values():
        level = level_of(package)
        package.properties[prop("slsa")] = level
        counts[level] += 1
        per_package[package.name] = level
    summary: dict[str, Any] = {"checked": checked, "levels": counts, "packages": per_package}
    statuses: dict[str, int] = {}
    for package in report.packages.values():
        status = package.properties.get(prop("provenance"), "not-checked")
        statuses[status] = statuses.get(status, 0) + 1
    summary["provenance"] = statuses
    if reason:
        summary["reason"] = reason
    report.provenance_summary = summary
    return summary

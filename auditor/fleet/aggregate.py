"""The fleet view: per-unit facts taken from each report, and ``index.json`` built from the records.

Facts are extracted once, when a unit finishes, and kept in its record, so building the index never rereads the
reports: which advisories and malicious names affect which projects, which projects use which model, and the
projects worst first (highest active finding severity, then exit code, then number of findings).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from auditor import __version__
from auditor.domain import Severity
from auditor.errors import EXIT_CLEAN, EXIT_INCOMPLETE, EXIT_POLICY

INDEX_SCHEMA = "mlaudit-fleet/1"
MAX_REASONS = 5


def severity_rank(value: str | None) -> int:
    """Rank of a severity word; a level this version does not know (a newer data set) ranks as high, since a
    view that sorts the unknown last would hide it."""
    if not value:
        return -1
    try:
        return Severity(value).rank
    except ValueError:
        return Severity.HIGH.rank


def facts_of(report: Mapping[str, Any]) -> dict[str, Any]:
    """What the fleet view needs from one JSON report (the renderer's contract, CONVENTIONS.md)."""
    summary = report.get("summary") or {}
    active = [f for f in report.get("findings") or [] if f.get("ignored") is None]
    worst = max((f.get("severity") for f in active), key=severity_rank, default=None)
    advisories: list[dict[str, Any]] = []
    malicious: list[dict[str, Any]] = []
    for f in active:
        pkg = f.get("package") or {}
        if f.get("kind") == "vulnerability":
            advisories.append({"id": f.get("id"), "aliases": list(f.get("aliases") or []),
                               "severity": f.get("severity"), "package": pkg.get("name"),
                               "version": pkg.get("version")})
        elif f.get("kind") == "malicious":
            malicious.append({"id": f.get("id"), "package": pkg.get("name"), "version": pkg.get("version")})
    models = [{"repo_id": m.get("repo_id"), "kind": m.get("kind") or "model", "revision": m.get("revision")}
              for m in report.get("models") or []]
    return {
        "findings": int(summary.get("findings") or 0),
        "by_kind": dict(summary.get("by_kind") or {}),
        "by_severity": dict(summary.get("by_severity") or {}),
        "packages": int(summary.get("packages") or 0),
        "models": len(models),
        "failed": bool(summary.get("failed")),
        "worst": worst,
        "incomplete_reasons": [r.get("reason") for r in (report.get("incomplete_reasons") or [])[:MAX_REASONS]],
        "incomplete_count": len(report.get("incomplete_reasons") or []),
        "advisories": advisories,
        "malicious": malicious,
        "model_refs": models,
    }


def fleet_exit_code(codes: Iterable[int]) -> int:
    """3 if any unit could not complete (its own exit 3, an input error, a crash), else 1 if any failed the gate,
    else 0."""
    worst = EXIT_CLEAN
    for code in codes:
        if code not in (EXIT_CLEAN, EXIT_POLICY):
            return EXIT_INCOMPLETE
        worst = max(worst, code)
    return worst


def _order(rec: Mapping[str, Any]) -> tuple[int, int, int, str]:
    facts = rec.get("facts") or {}
    return (-severity_rank(facts.get("worst")), -int(rec.get("exit_code") or 0), -int(facts.get("findings") or 0),
            str(rec.get("path")))


def build_index(records: list[dict[str, Any]], run: Mapping[str, Any]) -> dict[str, Any]:
    """``index.json``: the units (worst first), the aggregates, and what this run did."""
    units = sorted(records, key=_order)
    by_exit: dict[str, int] = defaultdict(int)
    by_severity: dict[str, int] = defaultdict(int)
    advisories: dict[str, dict[str, Any]] = {}
    malicious: dict[str, dict[str, Any]] = {}
    models: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in units:
        uid = rec["uid"]
        by_exit[str(rec["exit_code"])] += 1
        facts = rec.get("facts") or {}
        for sev, n in (facts.get("by_severity") or {}).items():
            by_severity[sev] += int(n)
        for adv in facts.get("advisories") or []:
            entry = advisories.setdefault(adv["id"], {"id": adv["id"], "aliases": [], "severity": adv["severity"],
                                                      "packages": [], "projects": []})
            if severity_rank(adv["severity"]) > severity_rank(entry["severity"]):
                entry["severity"] = adv["severity"]
            _add(entry["aliases"], *adv.get("aliases") or [])
            _add(entry["packages"], f"{adv['package']} {adv['version']}")
            _add_last(entry["projects"], uid)
        for mal in facts.get("malicious") or []:
            entry = malicious.setdefault(mal["package"], {"name": mal["package"], "ids": [], "versions": [],
                                                          "projects": []})
            _add(entry["ids"], mal["id"])
            _add(entry["versions"], mal["version"])
            _add_last(entry["projects"], uid)
        for ref in facts.get("model_refs") or []:
            entry = models.setdefault((ref["repo_id"], ref["kind"]), {"repo_id": ref["repo_id"], "kind": ref["kind"],
                                                                      "revisions": [], "projects": []})
            _add(entry["revisions"], ref["revision"] or "(default branch)")
            _add_last(entry["projects"], uid)
    codes = [int(r["exit_code"]) for r in records]
    return {
        "schema": INDEX_SCHEMA,
        "tool": {"name": "mlaudit", "version": __version__},
        "generated_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "exit_code": fleet_exit_code(codes),
        "summary": {
            "units": len(records),
            "projects": sum(1 for r in records if r["kind"] == "project"),
            "stores": sum(1 for r in records if r["kind"] == "store"),
            "complete": sum(1 for r in records if r.get("complete")),
            "failed_gate": sum(1 for r in records if r["exit_code"] == EXIT_POLICY),
            "not_completed": sum(1 for r in records if r["exit_code"] not in (EXIT_CLEAN, EXIT_POLICY)),
            "crashed": sum(1 for r in records if r.get("crashed")),
            "by_exit_code": dict(sorted(by_exit.items())),
            "findings_by_severity": dict(sorted(by_severity.items(), key=lambda kv: -severity_rank(kv[0]))),
        },
        "run": dict(run),
        "units": [_unit_row(r) for r in units],
        "advisories": sorted(advisories.values(),
                             key=lambda a: (-len(a["projects"]), -severity_rank(a["severity"]), a["id"])),
        "malicious": sorted(malicious.values(), key=lambda m: (-len(m["projects"]), m["name"])),
        "models": sorted(models.values(), key=lambda m: (-len(m["projects"]), m["repo_id"], m["kind"])),
    }


def _unit_row(rec: Mapping[str, Any]) -> dict[str, Any]:
    facts = rec.get("facts") or {}
    return {
        "uid": rec["uid"], "kind": rec["kind"], "path": rec["path"], "exit_code": rec["exit_code"],
        "complete": bool(rec.get("complete")), "report": rec.get("report"), "error": rec.get("error"),
        "worst": facts.get("worst"), "findings": facts.get("findings", 0),
        "by_kind": facts.get("by_kind", {}), "by_severity": facts.get("by_severity", {}),
        "packages": facts.get("packages", 0), "models": facts.get("models", 0),
        "incomplete_reasons": facts.get("incomplete_reasons", []), "incomplete_count": facts.get("incomplete_count", 0),
        "attempts": rec.get("attempts", 1), "crashed": bool(rec.get("crashed")), "key": rec.get("key"),
        "run": rec.get("run"), "seconds": rec.get("seconds"),
    }


def _add_last(items: list[str], uid: str) -> None:
    """Units are visited one after the other, so a unit already listed is the last one (O(1) at fleet scale)."""
    if not items or items[-1] != uid:
        items.append(uid)


def _add(items: list[Any], *values: Any) -> None:
    for value in values:
        if value not in items:
            items.append(value)


def render_index(index: Mapping[str, Any]) -> str:
    return json.dumps(index, indent=2, ensure_ascii=False) + "\n"

"""``--baseline REPORT.json``: which findings a change introduced (CONVENTIONS.md "Baseline").

Why: a pull-request gate must fail on what the PR brings in, not on every advisory the project already had, while
the report still shows the whole picture. A finding is identified by ``(kind, id, package name | model repo_id |
path)`` (``Finding.baseline_key``), without the version, so bumping a package that stays affected by the same
advisory does not turn it into a new finding. ``apply_baseline`` marks every finding ``new`` True or False; the gate
(``Report.failing_findings``) then counts only the new ones.

A baseline must be a mlaudit JSON report of the same schema major version; anything else (not JSON, another tool's
report, a SARIF file, a report of an incompatible schema) is an input error naming the file (exit 2), never an empty
baseline that would silently pass or fail every finding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.domain import SCHEMA_VERSION, Report, canonical_name
from auditor.errors import InputError

BaselineKey = tuple[str, str, str]


@dataclass(frozen=True)
class Baseline:
    """The findings of an earlier report, as baseline keys."""

    file: str
    keys: frozenset[BaselineKey]


def load_baseline(path: str | Path) -> Baseline:
    """Read a mlaudit JSON report; any other content is an ``InputError`` (exit 2) that names the file."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("baseline report not found", file=name) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"baseline report could not be read: {exc}", file=name) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not a mlaudit JSON report (baseline): invalid JSON at line {exc.lineno}: {exc.msg}",
                         file=name, line=exc.lineno) from None
    return Baseline(file=name, keys=frozenset(_keys(doc, name)))


def _keys(doc: Any, name: str) -> list[BaselineKey]:
    def bad(why: str) -> InputError:
        return InputError(f"not a mlaudit JSON report (baseline): {why}; write one with "
                          "`mlaudit ... --format json -o REPORT.json`", file=name)

    if not isinstance(doc, dict):
        raise bad("the top level is not an object")
    tool = doc.get("tool")
    if not isinstance(tool, dict) or tool.get("name") != "mlaudit":
        raise bad("no `tool.name: mlaudit`")
    version = doc.get("schema_version")
    if not isinstance(version, str) or version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise bad(f"schema_version {version!r} is not compatible with {SCHEMA_VERSION}")
    findings = doc.get("findings")
    if not isinstance(findings, list):
        raise bad("no `findings` list")
    keys: list[BaselineKey] = []
    for index, entry in enumerate(findings):
        key = _key(entry)
        if key is None:
            raise bad(f"findings[{index}] has no kind, id and subject")
        keys.append(key)
    return keys


def _key(entry: Any) -> BaselineKey | None:
    """The baseline key of one JSON finding (the same fields ``Finding.baseline_key`` reads)."""
    if not isinstance(entry, dict):
        return None
    kind, ident = entry.get("kind"), entry.get("id")
    if not isinstance(kind, str) or not isinstance(ident, str):
        return None
    package, model, path = entry.get("package"), entry.get("model"), entry.get("path")
    if isinstance(package, dict) and isinstance(package.get("name"), str):
        return (kind, ident, canonical_name(package["name"]))
    if isinstance(model, dict) and isinstance(model.get("repo_id"), str):
        return (kind, ident, model["repo_id"])
    return (kind, ident, path if isinstance(path, str) else "")


def apply_baseline(report: Report, baseline: Baseline) -> None:
    """Mark every finding new or not (ignored ones too: the report shows them with the same mark)."""
    report.baseline = baseline.file
    for finding in report.findings:
        finding.new = finding.baseline_key not in baseline.keys

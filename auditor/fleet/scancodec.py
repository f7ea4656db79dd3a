"""A shard's ``ScanResult`` as JSON: what a worker sends back, what the output folder keeps for resuming, and what
the driver joins (in shard order) into the store's one report. JSON, never pickle: the folder is read back on
every rerun, and nothing mlaudit reads may run code when it is read.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from auditor.domain import Finding, Location, Severity, Skipped
from auditor.evidence import Details, Evidence
from auditor.kinds import FindingKind
from auditor.ledger import Item, ItemKind, Outcome
from auditor.scan import ScanResult
from auditor.scan.state import FormatNote

_FINDING_FIELDS = [f.name for f in dataclasses.fields(Finding)]


def _plain(value: Any) -> Any:
    if isinstance(value, (FindingKind, Severity)):
        return value.value
    if isinstance(value, Location):
        return {"file": value.file, "line": value.line}
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Evidence):
        return value.to_json()
    return value


def encode(result: ScanResult) -> str:
    data = {
        "findings": [{name: _plain(getattr(f, name)) for name in _FINDING_FIELDS} for f in result.findings],
        "skipped": [{"kind": s.kind.value, "subject": s.subject, "file": s.file, "line": s.line,
                     "requirement": s.requirement, "reason": s.reason, "not_checked": list(s.not_checked)}
                    for s in result.skipped],
        "audited": [a.subject for a in result.audited],
        "formats": [{"path": n.path, "format": n.format, "verdict": n.verdict} for n in result.formats],
        "files_scanned": result.files_scanned,
        "bytes_scanned": result.bytes_scanned,
    }
    return json.dumps(data, ensure_ascii=False, default=str)


def _finding(raw: dict[str, Any]) -> Finding:
    values = {name: raw[name] for name in _FINDING_FIELDS if name in raw}
    values["kind"] = FindingKind(values["kind"])
    values["severity"] = Severity(values["severity"])
    for name in ("package", "model"):
        if values.get(name) is not None:
            values[name] = tuple(values[name])
    if values.get("location") is not None:
        values["location"] = Location(**values["location"])
    if values.get("evidence") is not None:  # the scanner's evidence: its facts (``Details``)
        values["evidence"] = Details.of(values["evidence"])
    return Finding(**values)


def decode(text: str) -> ScanResult:
    data = json.loads(text)
    return ScanResult(
        findings=[_finding(f) for f in data["findings"]],
        skipped=[Skipped(s["reason"] or "", s["file"], s["line"], s["requirement"], s["not_checked"],
                         kind=ItemKind(s["kind"]), subject=s["subject"]) for s in data["skipped"]],
        audited=[Item(kind=ItemKind.MODEL_FILE, subject=path, file=path, outcome=Outcome.AUDITED)
                 for path in data["audited"]],
        files_scanned=int(data["files_scanned"]),
        bytes_scanned=int(data["bytes_scanned"]),
        formats=[FormatNote(n["path"], n["format"], n["verdict"]) for n in data["formats"]],
    )


def join(parts: list[ScanResult]) -> ScanResult:
    """Shards in order are the store: concatenating keeps ``scan_paths``' order of files, findings and notes."""
    out = ScanResult()
    for part in parts:
        out.findings.extend(part.findings)
        out.skipped.extend(part.skipped)
        out.audited.extend(part.audited)
        out.formats.extend(part.formats)
        out.files_scanned += part.files_scanned
        out.bytes_scanned += part.bytes_scanned
    return out

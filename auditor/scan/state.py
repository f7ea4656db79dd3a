"""The running state of one scan: where we are (``archive.zip!member``), the limits, and what was found.

Format readers never build ``Finding`` objects by hand: they call ``ScanState.add`` with a rule id, so that every
finding of the scanner has the same kind, check name, path convention and evidence shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from auditor.domain import Finding, Severity, Skipped
from auditor.evidence import Details
from auditor.kinds import FindingKind
from auditor.ledger import ItemKind
from auditor.scan.limits import DEFAULT_LIMITS, Limits
from auditor.scan.placeholders import Placeholder

CHECK_NAME = "modelscan"
KIND_UNSAFE = FindingKind.UNSAFE_MODEL
KIND_PICKLE_FORMAT = FindingKind.PICKLE_MODEL
MAX_OBJECT_IMPORTS = 64

_FIXES = {
    "critical": "Do not load this file. Delete it, or obtain the model from a trusted source in a safe format "
                "(safetensors/GGUF/ONNX without custom ops).",
    "high": "Do not load this file until its origin and contents are verified; prefer a safetensors copy.",
    "medium": "Review what the file needs to load; prefer a safe format (safetensors).",
}


@dataclass
class FormatNote:
    """What a file turned out to be (for the report's ``properties.model_scan``)."""

    path: str
    format: str
    verdict: str = "ok"  # ok | findings | unreadable


@dataclass
class Collector:
    """Shared sinks of one ``scan_file`` call (every nested state appends here)."""

    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    formats: list[FormatNote] = field(default_factory=list)
    bytes_read: int = 0
    # Imports of the file's pickles that are not plain data (containers, scalars, records): what makes a pickle a
    # model (tensors, arrays, estimators) or worse. Empty for a pickle of plain data. Bounded.
    object_imports: set[str] = field(default_factory=set)
    # The file stands in for absent content (a Git LFS pointer, ...): it was not scanned (``placeholders``).
    placeholder: Placeholder | None = None

    def note_object_import(self, qualname: str) -> None:
        if len(self.object_imports) < MAX_OBJECT_IMPORTS:
            self.object_imports.add(qualname)

    def merge(self, other: Collector) -> None:
        """Take over what a scratch collector (a speculative reading of the same file) found."""
        self.findings.extend(other.findings)
        self.skipped.extend(other.skipped)
        self.bytes_read += other.bytes_read
        for name in other.object_imports:
            self.note_object_import(name)


@dataclass
class ScanState:
    path: str  # display path of the object being read
    collector: Collector
    limits: Limits = DEFAULT_LIMITS
    depth: int = 0
    real_dir: Path | None = None  # directory of the file on disk (ONNX external data resolution)

    def child(self, member: str) -> ScanState:
        return ScanState(path=f"{self.path}!{member}", collector=self.collector, limits=self.limits,
                         depth=self.depth + 1, real_dir=None)

    def add(self, rule: str, severity: Severity, message: str, evidence: Mapping[str, object], *,
            kind: FindingKind | str = KIND_UNSAFE, fix: str | None = None) -> Finding:
        finding = Finding(kind=FindingKind(kind), id=rule, severity=severity, message=message, path=self.path,
                          evidence=Details.of(evidence), fix=fix if fix is not None else _FIXES.get(severity.value),
                          check=CHECK_NAME)
        self.collector.findings.append(finding)
        return finding

    def note_format(self, fmt: str) -> None:
        self.collector.formats.append(FormatNote(self.path, fmt))

    def gap(self, reason: str) -> None:
        """A part of this object was not checked (a limit, unreadable content): a skipped item, once per path, so
        the report is incomplete and names why."""
        if not any(s.file == self.path and s.reason == reason for s in self.collector.skipped):
            self.skip(reason)

    def skip(self, reason: str) -> None:
        self.collector.skipped.append(Skipped(reason=reason, file=self.path, not_checked=["model file scan"],
                                              kind=ItemKind.MODEL_FILE))

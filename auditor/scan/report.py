"""The report of a model scan (``mlaudit scan``, and ``mlaudit fleet --scan`` joining its workers' parts): a
finished ``ScanResult`` as a ``Report`` every output renders, with an ``info`` note per file verified safe."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from auditor.domain import Finding, Report, Severity
from auditor.evidence import Details
from auditor.kinds import FindingKind, Rule
from auditor.redact import redact_report
from auditor.scan import ScanResult


def build_report(paths: list[Path]) -> Report:
    from auditor.scan import scan_paths

    started = time.perf_counter()
    result = scan_paths(paths)
    return report_from_result(paths, result, time.perf_counter() - started)


def report_from_result(paths: list[Path], result: ScanResult, seconds: float) -> Report:
    """The scan report of ``paths`` from a finished ``ScanResult`` (one ``scan_paths`` call, or the parts of one
    that ``mlaudit fleet --scan`` ran in several workers and joined in order)."""
    report = Report(generated_at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat())
    report.inputs = [str(p) for p in paths]
    report.root_name = "model scan"
    report.findings = sorted(result.findings + safe_format_notes(result),
                             key=lambda f: (-f.severity.rank, f.path or "", f.id))
    report.ledger.extend(result.audited)
    report.ledger.extend(result.skipped)
    report.ledger.extend(result.excluded)
    report.warnings.extend(n for n in result.notes if n not in report.warnings)
    report.model_scan = [{"path": n.path, "format": n.format, "verdict": n.verdict} for n in result.formats]
    report.files_scanned = result.files_scanned
    report.bytes_scanned = result.bytes_scanned
    report.timings["check:modelscan"] = round(seconds, 3)
    report.ledger.settle()
    return redact_report(report)


SAFE_FORMATS = {"safetensors": "safetensors (header validated; tensors are data, nothing runs on load)",
                "gguf": "GGUF (header, metadata and chat template inspected)",
                "onnx": "ONNX (no external data outside the directory, standard operator domains)",
                "npy": "NumPy array without object dtype (no pickle)",
                "npz": "NumPy archive without object arrays (no pickle)",
                "keras-h5": "Keras H5 without Lambda layers or custom objects",
                "keras-v3": "Keras 3 archive without Lambda layers or custom objects",
                "tf-savedmodel": "TensorFlow graph without file/Python/network ops"}


def safe_format_notes(result: ScanResult) -> list[Finding]:
    """One ``info`` note per scanned file in a format that runs no code on load and had no finding, so a scan
    report says what was verified safe rather than staying silent."""
    flagged = {(f.path or "").split("!", 1)[0] for f in result.findings}
    notes: list[Finding] = []
    for note in result.formats:
        if "!" in note.path or note.path in flagged or note.format not in SAFE_FORMATS:
            continue
        notes.append(Finding(kind=FindingKind.MODEL_FORMAT, id=Rule.SAFE_FORMAT, severity=Severity.INFO,
                             message=f"safe format: {SAFE_FORMATS[note.format]}", path=note.path,
                             evidence=Details.of({"format": note.format}), check="modelscan"))
    return notes


__all__ = ["SAFE_FORMATS", "build_report", "report_from_result", "safe_format_notes"]

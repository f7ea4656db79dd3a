"""``mlaudit scan PATH...``: scan model files (files, directories, Hugging Face snapshot/cache directories) for
code that runs on load, without loading them. Same report shape and exit codes as the audit: 0 clean, 1 a finding
at/above ``--fail-on`` (default low), 2 usage error (missing path), 3 incomplete when completeness is required.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.baseline import apply_baseline
from auditor.commands.common import (
    SEVERITY_CHOICES,
    add_baseline_arg,
    add_output_args,
    emit,
    load_baseline_arg,
    missing_path,
    progress_display,
)
from auditor.domain import Finding, Report, Severity
from auditor.errors import UsageError
from auditor.kinds import FindingKind, Rule
from auditor.redact import redact_report
from auditor.scan import ScanResult

if TYPE_CHECKING:
    from auditor.policy import Policy

NAME = "scan"
HELP = "scan model files (pickle/PyTorch/NumPy/joblib/Keras/TF/ONNX/GGUF/safetensors/archives) without loading them"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="model files or directories (HF snapshots/caches)")
    parser.add_argument("--fail-on", choices=SEVERITY_CHOICES, default=None,
                        help="exit 1 when a finding at or above this severity is not ignored (default: low)")
    parser.add_argument("--require-complete", action="store_true",
                        help="exit 3 when anything could not be scanned")
    parser.add_argument("--config", help="policy file (ignores, require-safetensors, fail-on)")
    add_baseline_arg(parser)
    add_output_args(parser)


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
                             evidence={"format": note.format}, check="modelscan"))
    return notes


def run(args: argparse.Namespace) -> int:
    from auditor.pipeline import exit_code_for

    paths = [Path(p) for p in args.paths]
    for p in paths:
        if not p.exists():
            raise UsageError(missing_path(p))
    policy = load_scan_policy(args)
    baseline = load_baseline_arg(args)
    with progress_display(args) as progress:
        progress(f"scanning {len(paths)} path(s)")
        report = build_report(paths)
    apply_gate(report, args, policy)
    if baseline is not None:
        apply_baseline(report, baseline)
    emit(report, args)
    return exit_code_for(report)


def load_scan_policy(args: argparse.Namespace) -> Policy | None:
    """The policy of ``--config`` (a scan has no project to find one in); a bad file is an input error."""
    if not args.config:
        return None
    from auditor.config import load_policy

    return load_policy(None, Path(args.config))


def apply_gate(report: Report, args: argparse.Namespace, policy: Policy | None) -> None:
    """Policy ignores, ``--fail-on`` (else the policy's, else low) and ``--require-complete`` on a scan report."""
    from auditor.policy import apply_policy, policy_note

    if policy is not None:
        apply_policy(report, policy)
        report.policy = policy_note(policy)
    report.fail_on = Severity(args.fail_on) if args.fail_on else (
        policy.fail_on if policy is not None and policy.fail_on else Severity.LOW)
    if args.require_complete or (policy is not None and policy.require_complete):
        report.require_complete = True

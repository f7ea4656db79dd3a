"""``mlaudit scan PATH...``: scan model files (files, directories, Hugging Face snapshot/cache directories) for
code that runs on load, without loading them. Same report shape and exit codes as the audit: 0 clean, 1 a finding
at/above ``--fail-on`` (default low), 2 usage error (missing path), 3 incomplete when completeness is required.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from auditor.baseline import apply_baseline
from auditor.commands.common import (
    SEVERITY_CHOICES,
    add_baseline_arg,
    add_output_args,
    emit,
    load_baseline_arg,
    progress_display,
)
from auditor.domain import Severity
from auditor.errors import UsageError
from auditor.runconfig import gate_scan, load_scan_policy, missing_path
from auditor.scan.report import build_report

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


def run(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths]
    for p in paths:
        if not p.exists():
            raise UsageError(missing_path(p))
    policy = load_scan_policy(args.config)
    baseline = load_baseline_arg(args)
    with progress_display(args) as progress:
        progress(f"scanning {len(paths)} path(s)")
        report = build_report(paths)
    gate_scan(report, policy, fail_on=Severity(args.fail_on) if args.fail_on else None,
              require_complete=bool(args.require_complete))
    if baseline is not None:
        apply_baseline(report, baseline)
    emit(report, args)
    return report.gate().exit_code

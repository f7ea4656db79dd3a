"""``mlaudit sbom``: write a CycloneDX 1.6 SBOM (packages, models, datasets, the full dependency graph).

An SBOM is an artefact, not a gate: the command exits 0 even when the audit has findings, unless ``--fail-on`` is
given explicitly (then it gates like the audit) or completeness is required (``--require-complete`` or the
policy's ``require-complete``: exit 3 when anything could not be checked).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from auditor.commands.common import add_input_args, emit, options_from_args, print_service_failures, progress_display
from auditor.domain import Severity

NAME = "sbom"
HELP = "write a CycloneDX 1.6 SBOM (JSON or XML) with ML-BOM components and the dependency graph"
SBOM_FORMATS = ["cyclonedx-json", "cyclonedx-xml"]


def configure(parser: argparse.ArgumentParser) -> None:
    add_input_args(parser)
    parser.add_argument("--format", "-f", dest="format", default="cyclonedx-json", choices=SBOM_FORMATS,
                        help="SBOM encoding (default: cyclonedx-json)")
    parser.add_argument("-o", "--output", help="write the SBOM to this file instead of stdout")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    parser.add_argument("-v", "--verbose", action="store_true", help="more detail on errors")


def run(args: argparse.Namespace) -> int:
    from auditor.pipeline import run_audit

    # An SBOM gates on findings only when --fail-on is given (a policy's fail-on alone does not fail a build that
    # asked for an inventory); completeness and failed services gate as everywhere: the report's one gate decides.
    options = replace(options_from_args(args), fail_on=Severity(args.fail_on) if args.fail_on else None)
    with progress_display(args) as progress:
        report = run_audit(options, progress)
    emit(report, args)
    print_service_failures(report)
    return report.gate().exit_code

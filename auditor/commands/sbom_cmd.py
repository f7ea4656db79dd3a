"""``mlaudit sbom``: write a CycloneDX 1.6 SBOM (packages, models, datasets, the full dependency graph).

An SBOM is an artefact, not a gate: the command exits 0 even when the audit has findings, unless ``--fail-on`` is
given explicitly (then it gates like the audit) or completeness is required (``--require-complete`` or the
policy's ``require-complete``: exit 3 when anything could not be checked).
"""

from __future__ import annotations

import argparse

from auditor.commands.common import add_input_args, emit, options_from_args, print_service_failures, progress_display
from auditor.errors import EXIT_CLEAN, EXIT_INCOMPLETE

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
    from auditor.pipeline import exit_code_for, run_audit

    options = options_from_args(args)
    with progress_display(args) as progress:
        report = run_audit(options, progress)
    emit(report, args)
    if print_service_failures(report):
        return EXIT_INCOMPLETE
    if args.fail_on:
        return exit_code_for(report)
    required = options.require_complete or report.require_complete
    if required and not report.complete:
        return EXIT_INCOMPLETE
    return EXIT_CLEAN

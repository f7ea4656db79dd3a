"""``mlaudit fix PATH...``: apply the verified upgrades to the inputs and print the unified diff.

The audit runs with verification (every planned upgrade re-resolved with the rest of its profile and re-audited),
the fix is worked out and re-audited in a scratch copy (``auditor.remediation.fixer``), and only then are the
files written -- all of them in one atomic step, or none. ``--dry-run`` prints the diff and writes nothing.

The diff goes to stdout (``mlaudit fix --dry-run . | git apply`` works); what was upgraded, what remains and why,
and commands for lockfiles mlaudit does not regenerate go to stderr.

Exit codes (CONVENTIONS "Remediation"): 0 every fixable finding fixed (no vulnerability or malicious finding
left); 1 findings remain (no release fixes them, an upgrade does not resolve, a lockfile needs its own tool); 2
input error; 3 the fix could not be verified (index down, a tool failed, the re-audit found something new): the
files are left exactly as they were.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

from auditor.commands.common import add_input_args, options_from_args, print_service_failures, progress_display
from auditor.errors import EXIT_CLEAN, EXIT_INCOMPLETE, EXIT_POLICY, UsageError
from auditor.remediation.targets import some_ids
from auditor.textsafe import clean

NAME = "fix"
SKIPPED_CHECKS = frozenset({"models", "modelscan", "model-signing", "provenance", "hashes", "unclaimed-name",
                            "dependency-confusion"})
HELP = "apply verified upgrades to requirements files, pyproject.toml and lockfiles (prints a unified diff)"


def configure(parser: argparse.ArgumentParser) -> None:
    add_input_args(parser)
    parser.add_argument("--dry-run", action="store_true", help="print the diff, change nothing")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    parser.add_argument("-v", "--verbose", action="store_true", help="more detail on errors")


def run(args: argparse.Namespace) -> int:
    from auditor.options import RunCaches
    from auditor.pipeline import run_audit
    from auditor.remediation.edits import WriteError, display_path, unified_diff, write_all
    from auditor.remediation.fixer import build_fix
    from auditor.remediation.stage import REMEDIATION_PLAN

    if args.env is not None:
        raise UsageError("mlaudit fix edits input files; an installed environment (--env) has none (upgrade it "
                         "with pip, or fix the requirements it was installed from)")
    options = options_from_args(args)
    if options.offline:
        raise UsageError("mlaudit fix verifies every upgrade against the package index, which --offline forbids; "
                         "`mlaudit --offline --format json` shows the upgrades planned from the advisory data")
    # a fix changes packages only: checks of models, provenance and names are not what it acts on (the audit
    # runs them), and a model reference must not send it to the Hub
    options = replace(options, verify_fixes=True, disabled_checks=options.disabled_checks | SKIPPED_CHECKS)
    os.environ["HF_HUB_OFFLINE"] = "1"
    caches = RunCaches()
    with progress_display(args) as progress:
        report = run_audit(options, progress, caches=caches)
        if print_service_failures(report):
            _say("the audit did not complete, so no fix was verified; no file was changed")
            return EXIT_INCOMPLETE
        plan = caches.get(REMEDIATION_PLAN)
        if plan is None:  # pragma: no cover - the pipeline always plans
            _say("no remediation plan was made; no file was changed")
            return EXIT_INCOMPLETE
        outcome = build_fix(report, plan, options, lambda again: run_audit(again), progress)
    if outcome.error:
        _say(f"error: could not verify the fix: {clean(outcome.error, 4000)}")
        _say("no file was changed")
        _summary(outcome.remaining, outcome.commands, outcome.notes)
        return EXIT_INCOMPLETE
    diff = unified_diff(outcome.changes)
    if diff:
        sys.stdout.write(diff)
        sys.stdout.flush()
    for upgrade in outcome.applied:
        _say(f"upgraded {upgrade.name} {upgrade.version} -> {upgrade.to} (clears {some_ids(upgrade.clears)})")
    for line in outcome.moves:
        _say(f"collateral: {clean(line, 2000)}")
    _summary(outcome.remaining, outcome.commands, outcome.notes)
    if outcome.changes and not args.dry_run:
        try:
            write_all(outcome.changes)
        except WriteError as exc:
            _say(f"error: {clean(str(exc), 2000)}")
            return EXIT_INCOMPLETE
        _say("wrote " + ", ".join(display_path(c.path) for c in outcome.changes))
    elif outcome.changes:
        _say("dry run: no file was changed")
    elif not outcome.applied:
        _say("nothing to change")
    return EXIT_POLICY if outcome.findings_left or outcome.remaining else EXIT_CLEAN


def _summary(remaining: list[str], commands: list[str], notes: list[str]) -> None:
    for line in notes:
        _say(f"note: {clean(line, 1000)}")
    for line in remaining:
        _say(f"remains: {clean(line, 1000)}")
    for line in commands:
        _say(f"run: {clean(line, 1000)}")


def _say(text: str) -> None:
    print(f"mlaudit fix: {text}", file=sys.stderr)

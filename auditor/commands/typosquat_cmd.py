"""``mlaudit typosquat NAME... [--hf]``: quick look-alike check of names, without auditing a project.

Exit codes follow the audit's gate contract: 0 when no name is flagged, 1 when at least one is (so it can guard a
``pip install`` in CI), 2 for unusable input (no names, an empty name, a name longer than 200 characters).
"""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from auditor.errors import EXIT_CLEAN, EXIT_POLICY, UsageError
from auditor.textsafe import clean
from auditor.typosquat import TyposquatResult, hf_detector, pypi_detector
from auditor.typosquat.detector import MAX_NAME_LENGTH

NAME = "typosquat"
HELP = "check names for typosquats of popular PyPI projects (or, with --hf, look-alike Hugging Face orgs)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="+", metavar="NAME", help="package names (or HF orgs with --hf)")
    parser.add_argument("--hf", action="store_true", help="treat the names as Hugging Face organisations")
    parser.add_argument("--format", "-f", choices=["terminal", "json"], default="terminal")
    parser.add_argument("--allow", action="append", default=[], metavar="NAME",
                        help="treat NAME as genuine (repeatable; adds to the policy allowlist)")
    parser.add_argument("--config", help="policy file whose typosquat/HF allowlists apply")


def _validate(names: list[str]) -> None:
    for i, name in enumerate(names, start=1):
        if not name.strip():
            raise UsageError(f"name #{i} is empty")
        if len(name) > MAX_NAME_LENGTH:
            raise UsageError(f"name #{i} is {len(name)} characters long (limit {MAX_NAME_LENGTH})")


def _allowlists(args: argparse.Namespace) -> tuple[set[str], set[str]]:
    pypi: set[str] = set(args.allow)
    hf: set[str] = set(args.allow)
    if args.config:
        from pathlib import Path

        from auditor.config import load_policy

        policy = load_policy(None, Path(args.config))
        if policy is not None:
            pypi |= set(policy.typosquat_allowlist)
            hf |= set(policy.hf_org_allowlist)
    return pypi, hf


def check_names(names: list[str], *, hf: bool = False, allow: set[str] | None = None) -> list[TyposquatResult]:
    detector = hf_detector(allow or ()) if hf else pypi_detector(allow or ())
    return [detector.check(n) for n in names]


def render_table(results: list[TyposquatResult], hf: bool) -> Table:
    table = Table(title="Hugging Face org look-alikes" if hf else "Typosquat check", show_lines=False)
    table.add_column("name")
    table.add_column("verdict")
    table.add_column("looks like")
    table.add_column("score", justify="right")
    table.add_column("why")
    for r in results:
        verdict = "[bold red]FLAGGED[/]" if r.flagged else "[green]ok[/]"
        table.add_row(escape(clean(r.name)), verdict, escape(clean(r.target or "")) if r.flagged else "",
                      f"{r.score:.2f}", escape(clean("; ".join(r.reasons))))
    return table


def run(args: argparse.Namespace) -> int:
    names = list(args.names)
    _validate(names)
    pypi_allow, hf_allow = _allowlists(args)
    results = check_names(names, hf=args.hf, allow=hf_allow if args.hf else pypi_allow)
    if args.format == "json":
        sys.stdout.write(json.dumps([r.to_json() for r in results], indent=2, ensure_ascii=False) + "\n")
    else:
        Console(highlight=False).print(render_table(results, args.hf))
    return EXIT_POLICY if any(r.flagged for r in results) else EXIT_CLEAN

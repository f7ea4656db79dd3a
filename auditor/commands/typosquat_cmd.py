"""``mlaudit typosquat NAME... [--hf] [--online]``: quick look-alike check of names, without auditing a project.

Name-only and offline by default (the shipped popularity list and fitted score). ``--online`` also asks the
configured index's JSON API about each look-alike candidate (first upload, releases, project links; a name the
index does not have while it knows the target) and moves the score with those facts (auditor/typosquat/context.py).

Exit codes follow the audit's gate contract: 0 when no name is flagged, 1 when at least one is (so it can guard a
``pip install`` in CI), 2 for unusable input (no names, an empty name, a name longer than 200 characters), 3 when
``--online`` could not reach the index.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from auditor.commands.common import positive_float
from auditor.errors import EXIT_CLEAN, EXIT_POLICY, UsageError
from auditor.net import HttpClient, NetConfig
from auditor.textsafe import clean
from auditor.tools import environment_index_urls
from auditor.typosquat import TyposquatResult, apply_context, hf_detector, pypi_detector
from auditor.typosquat.context import CONTEXT_FLOOR
from auditor.typosquat.detector import MAX_NAME_LENGTH
from auditor.typosquat.metadata import collect, json_api_base

NAME = "typosquat"
HELP = "check names for typosquats of popular PyPI projects (or, with --hf, look-alike Hugging Face orgs)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="+", metavar="NAME", help="package names (or HF orgs with --hf)")
    parser.add_argument("--hf", action="store_true", help="treat the names as Hugging Face organisations")
    parser.add_argument("--format", "-f", choices=["terminal", "json"], default="terminal")
    parser.add_argument("--allow", action="append", default=[], metavar="NAME",
                        help="treat NAME as genuine (repeatable; adds to the policy allowlist)")
    parser.add_argument("--config", help="policy file whose typosquat/HF allowlists apply")
    parser.add_argument("--online", action="store_true",
                        help="also ask the index's JSON API about each look-alike (age, releases, links, existence)")
    parser.add_argument("--index-url", help="index whose JSON API --online asks (default: UV_INDEX_URL, "
                                            "PIP_INDEX_URL, else the resolver's default index)")
    parser.add_argument("--timeout", type=positive_float, default=15.0, help="per-request timeout in seconds (--online)")


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


def _index_url(args: argparse.Namespace) -> str:
    explicit = args.index_url or next(iter(environment_index_urls()), None)
    if explicit:
        return str(explicit)
    from auditor.pkgindex import default_index_url

    return default_index_url()


def with_index_context(results: list[TyposquatResult], index_url: str, timeout: float) -> list[TyposquatResult]:
    """Each look-alike's score moved by the index's facts about it; a failed request raises ``NetworkError``."""
    http = HttpClient(NetConfig(timeout=timeout))
    base = json_api_base(index_url)
    out: list[TyposquatResult] = []
    for r in results:
        if r.candidate is None or r.score < CONTEXT_FLOOR:
            out.append(r)
            continue
        lookup = collect(http, base, r.name.strip(), r.candidate)
        if lookup.error is not None:
            raise lookup.error
        if lookup.context is None:
            out.append(replace(r, reasons=[*r.reasons, lookup.note or "index metadata not checked"]))
            continue
        out.append(apply_context(r, lookup.context))
    return out


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
    if args.online and args.hf:
        raise UsageError("--online asks a package index; it does not apply to Hugging Face orgs (--hf)")
    if args.online:
        results = with_index_context(results, _index_url(args), args.timeout)
    if args.format == "json":
        sys.stdout.write(json.dumps([r.to_json() for r in results], indent=2, ensure_ascii=False) + "\n")
    else:
        Console(highlight=False).print(render_table(results, args.hf))
    return EXIT_POLICY if any(r.flagged for r in results) else EXIT_CLEAN

"""``mlaudit db update|status``: manage the advisory database used by offline audits.

``update`` fetches OSV's PyPI export (``--url``, ``MLAUDIT_OSV_URL`` or ``--from FILE.zip``) and swaps it in only
when valid; any failure exits 3 and keeps the previous database. ``status`` says which database an audit would use.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from auditor.errors import EXIT_CLEAN, MlauditError
from auditor.net import HttpClient, NetConfig
from auditor.textsafe import clean

NAME = "db"
HELP = "update or inspect the advisory database (OSV) used by audits"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="db_command", required=True, metavar="{update,status}")
    upd = sub.add_parser("update", help="download OSV's PyPI export and index it (keeps the old DB on failure)")
    src = upd.add_mutually_exclusive_group()
    src.add_argument("--url", help="export zip URL (default: $MLAUDIT_OSV_URL or OSV's PyPI all.zip)")
    src.add_argument("--from", dest="from_file", metavar="FILE.zip",
                     help="index an export zip downloaded elsewhere (the file --url would fetch; for machines "
                          "without access to it): advisories and malicious-package records alike")
    upd.add_argument("--timeout", type=float, default=60.0, help="per-request timeout in seconds (default 60)")
    upd.add_argument("--retries", type=int, default=3, help="retries for 429/5xx and dropped connections (default 3)")
    status = sub.add_parser("status", help="show the database in use: source, snapshot date, record counts")
    status.add_argument("--format", "-f", choices=["terminal", "json"], default="terminal")


def status_info(stale_after_days: int | None = None) -> dict[str, Any]:
    from auditor.advisories.db import open_store
    from auditor.advisories.freshness import STALE_DAYS, age_days, is_stale
    from auditor.checks.typosquat import POPULARITY_DATE
    from auditor.domain import DataSource

    after = STALE_DAYS if stale_after_days is None else stale_after_days
    store = open_store()
    adv = store.advisory_source()
    mal = store.malicious_source()
    facts = store.malicious_facts()
    popular = DataSource(name="popular PyPI projects", source="top_pypi.tsv (shipped)", date=POPULARITY_DATE)
    return {
        "database": "updated" if store.updated else "embedded",
        "path": str(store.vulns_db.path),
        "source": adv.source,
        "date": adv.date,
        "age_days": store.age_days(),
        "stale": is_stale(adv.date, after),
        "stale_after_days": after,
        "records": store.vulns_db.count("records"),
        "vulnerabilities": store.vulns_db.count("vulnerabilities"),
        "withdrawn": store.vulns_db.count("withdrawn"),
        "packages": store.vulns_db.count("packages"),
        "built_at": store.vulns_db.meta.get("built_at"),
        "malicious": {"path": str(store.mal_db.path), "paths": [str(db.path) for db in store.mal_dbs],
                      "source": mal.source, "date": mal.date, "age_days": age_days(mal.date),
                      "stale": is_stale(mal.date, after), "records": mal.records, "packages": facts.names,
                      "published_first": facts.published_first, "published_last": facts.published_last},
        "popular_names": {"date": popular.date, "age_days": age_days(popular.date)},
        "warnings": [w for w in [*store.warnings, store.stale_warning(stale_after_days=after, extra=[popular])]
                     if w],
    }


def _age(age: int | None, stale: bool) -> str:
    if age is None:
        return "  (age unknown: treated as stale)"
    return f"  ({age} days old{', stale' if stale else ''})"


def _print_status(info: dict[str, Any]) -> None:
    mal = info["malicious"]
    lines = [
        f"database:        {info['database']} ({clean(info['path'])})",
        f"source:          {clean(str(info['source']))}",
        f"snapshot date:   {info['date']}{_age(info['age_days'], info['stale'])}",
        f"advisories:      {info['vulnerabilities']} records",
        f"malicious:       {mal['records']} records for {mal['packages']} package names, published "
        f"{mal['published_first']} .. {mal['published_last']}; {clean(str(mal['source']))}",
        f"malicious date:  {mal['date']}{_age(mal['age_days'], mal['stale'])}",
        f"popular names:   {info['popular_names']['date']}{_age(info['popular_names']['age_days'], False)}",
        f"index:           {info['records']} records ({info['withdrawn']} withdrawn, kept out of findings), "
        f"{info['packages']} package names, built {info['built_at']}",
    ]
    for warning in info["warnings"]:
        lines.append(f"warning: {clean(warning)}")
    sys.stdout.write("\n".join(lines) + "\n")


def run(args: argparse.Namespace) -> int:
    try:
        if args.db_command == "update":
            from auditor.advisories.update import update_db

            http = HttpClient(NetConfig(timeout=args.timeout, retries=max(0, args.retries)))
            result = update_db(http, url=args.url, from_file=args.from_file)
            c = result.counts
            sys.stdout.write(f"indexed {c.records} OSV records ({c.vulnerabilities} advisories, {c.malicious} "
                             f"malicious for {c.malicious_packages} package names, {c.withdrawn} withdrawn; "
                             f"{c.packages} packages) from "
                             f"{clean(result.source)}, snapshot date {c.newest_modified[:10] or 'unknown'}\n"
                             f"-> {clean(str(result.path))}\n")
            return EXIT_CLEAN
        from auditor.config import load_policy

        info = status_info(load_policy(Path.cwd()).stale_after_days)  # the policy an audit here would use
        if args.format == "json":
            sys.stdout.write(json.dumps(info, indent=2) + "\n")
        else:
            _print_status(info)
        return EXIT_CLEAN
    except MlauditError as exc:
        sys.stderr.write(f"mlaudit db {args.db_command}: error: {clean(str(exc), 4000)}\n")
        return exc.exit_code

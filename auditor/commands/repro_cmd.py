"""``mlaudit repro NAME==VERSION | WHEEL``: rebuild a wheel from its sdist and compare (opt-in: RUNS BUILD CODE).

Exit codes: 0 the rebuild is ``identical`` or ``identical-content``; 1 it ``differs`` or the release is wheel-only
(``not-reproducible-from-source``); 2 bad arguments or a project/version the index does not have; 3 the build or a
download failed (never reported as reproducible).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from rich.console import Console
from rich.markup import escape

from auditor.cache import atomic_write
from auditor.distfiles import best_wheel
from auditor.domain import Report, canonical_name
from auditor.errors import EXIT_CLEAN, EXIT_INCOMPLETE, EXIT_POLICY, IncompleteError, InputError, UsageError
from auditor.net import HttpClient, NetConfig
from auditor.options import AuditContext, AuditOptions
from auditor.pkgindex import SERVICE, IndexFile, default_index_url, project_page
from auditor.provenance.repro import BUILD_FAILED, ReproResult, reproduce, save_result
from auditor.provenance.summary import REPRODUCIBLE_RESULTS
from auditor.textsafe import clean

NAME = "repro"
HELP = "rebuild a wheel from its sdist in an isolated venv and compare (runs the project's build code)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="NAME==VERSION | WHEEL",
                        help="a release on the index, or a local wheel file whose sdist is fetched from the index")
    parser.add_argument("--index-url", help="index to download from and to install build requirements from "
                                            "(default: PIP_INDEX_URL/UV_INDEX_URL, else the resolver's default)")
    parser.add_argument("--format", "-f", choices=["terminal", "json"], default="terminal")
    parser.add_argument("-o", "--output", help="write the result to this file")
    parser.add_argument("--source-date-epoch", type=int,
                        help="SOURCE_DATE_EPOCH for the build (default: the newest timestamp in the published wheel)")
    parser.add_argument("--exclude-newer", metavar="TIME",
                        help="install build requirements as of this RFC 3339 time (default: the wheel's upload time "
                             "when the index gives it, PEP 700)")
    parser.add_argument("--timeout", type=float, default=15.0, help="per-request network timeout in seconds")
    parser.add_argument("--build-timeout", type=float, default=600.0, help="limit for each build step in seconds")
    parser.add_argument("--keep", metavar="DIR", help="build in DIR and keep it (default: a temporary directory)")


def _index_url(args: argparse.Namespace) -> str:
    return str(args.index_url or os.environ.get("UV_INDEX_URL") or os.environ.get("PIP_INDEX_URL")
               or default_index_url())


def _parse_target(target: str) -> tuple[str, str, Path | None]:
    path = Path(target)
    if target.endswith(".whl"):
        if not path.is_file():
            raise UsageError(f"no such wheel file: {target}")
        try:
            name, version, _, _ = parse_wheel_filename(path.name)
        except InvalidWheelFilename as exc:
            raise UsageError(f"not a wheel filename: {path.name} ({exc})") from exc
        return canonical_name(name), str(version), path
    try:
        req = Requirement(target)
    except InvalidRequirement as exc:
        raise UsageError(f"expected NAME==VERSION or a .whl file, got {target!r}") from exc
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
        raise UsageError(f"pin an exact version: {req.name}==VERSION")
    return canonical_name(req.name), specs[0].version, None


def _download(ctx: AuditContext, entry: IndexFile) -> bytes:
    data = ctx.http.get(entry.url, service=SERVICE).content
    if entry.sha256 and hashlib.sha256(data).hexdigest() != entry.sha256:
        raise IncompleteError(f"{entry.filename}: downloaded bytes do not match the sha256 the index publishes")
    return data


def run_repro(args: argparse.Namespace) -> ReproResult:
    name, version, local = _parse_target(args.target)
    index_url = _index_url(args)
    net = NetConfig(timeout=args.timeout)
    ctx = AuditContext(options=AuditOptions(index_url=index_url, net=net, online=True), report=Report(),
                       http=HttpClient(net))
    page = project_page(ctx, name, index_url)
    files = page.files_of(version) if page is not None else []
    if not files and local is None:
        raise InputError(f"{name}=={version} is not on the index")
    sdists = sorted((f for f in files if f.kind == "sdist"), key=lambda f: not f.filename.endswith(".tar.gz"))
    upload_time: str | None = None
    if local is not None:
        wheel = (local.name, local.read_bytes())
        upload_time = next((f.upload_time for f in files if f.filename == local.name), None)
    else:
        wheels = [f for f in files if f.kind == "wheel"]
        if not wheels:
            raise InputError(f"{name}=={version} has no wheel on the index: nothing to compare")
        pure = [w for w in wheels if w.filename.endswith("-none-any.whl")]
        chosen = pure[0] if pure else best_wheel(wheels, lambda f: f.filename)
        wheel = (chosen.filename, _download(ctx, chosen))
        upload_time = chosen.upload_time
    sdist = (sdists[0].filename, _download(ctx, sdists[0])) if sdists else None
    keep = Path(args.keep) if args.keep else None
    return reproduce(name, version, wheel, sdist, index_url, epoch=args.source_date_epoch,
                     timeout=args.build_timeout, keep=keep, exclude_newer=args.exclude_newer or upload_time)


def run(args: argparse.Namespace) -> int:
    result = run_repro(args)
    if result.result != BUILD_FAILED:
        save_result(result)  # later audits show the package as reproducible (or not) in the SLSA-style summary
    if args.format == "json" or args.output:
        text = json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n"
        if args.output:
            atomic_write(Path(args.output), text.encode("utf-8"), output=True)
        else:
            sys.stdout.write(text)
    if args.format == "terminal":
        _print(result, Console(highlight=False, soft_wrap=False))
    if result.result == BUILD_FAILED:
        return EXIT_INCOMPLETE
    return EXIT_CLEAN if result.result in REPRODUCIBLE_RESULTS else EXIT_POLICY


def _print(result: ReproResult, console: Console) -> None:
    colour = "green" if result.result in REPRODUCIBLE_RESULTS else "red"
    console.print(f"{escape(clean(result.name))}=={escape(clean(result.version))}: "
                  f"[bold {colour}]{result.result}[/] (SLSA-style: {result.slsa})")
    console.print(f"  wheel: {escape(clean(result.wheel or '-'))}  generator: {escape(clean(result.generator or '?'))}")
    if result.sdist:
        console.print(f"  sdist: {escape(clean(result.sdist))}  SOURCE_DATE_EPOCH={result.source_date_epoch}")
    if result.reason:
        console.print(f"  {escape(clean(result.reason))}")
    comp = result.comparison
    if comp is not None and comp.result == "differs":
        for label, names in (("only in published", comp.only_original), ("only in rebuilt", comp.only_rebuilt),
                             ("changed", comp.changed)):
            for item in names:
                console.print(f"  {label}: {escape(clean(item))}")
        for diff in comp.diffs.values():
            console.print(escape(clean(diff, 20000)), markup=True)
    elif comp is not None and comp.metadata_only:
        console.print(f"  {len(comp.metadata_only)} file(s) differ only in zip metadata (timestamps, permissions)")
    if result.log_tail:
        console.print(escape(clean(result.log_tail[-2000:], 4000)))

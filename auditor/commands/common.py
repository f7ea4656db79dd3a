"""Options and output handling shared by the audit and its subcommands, so every command speaks the same flags."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from auditor.baseline import Baseline, load_baseline
from auditor.cache import atomic_write
from auditor.domain import RenderOptions, Report, Severity
from auditor.errors import UsageError
from auditor.net import NetConfig
from auditor.options import AuditOptions, AuditRequest, ProgressFn
from auditor.outputs import FORMATS, get_renderer
from auditor.runconfig import options_for

SEVERITY_CHOICES = [s.value for s in Severity]


def positive_float(text: str) -> float:
    """argparse type: a number greater than 0 (seconds for timeouts and deadlines)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text!r}")
    return value


def _retries(text: str) -> int:
    if not text.isdigit() or int(text) > 10:
        raise argparse.ArgumentTypeError(f"an integer from 0 to 10, not {text!r}")
    return int(text)


def _net_config(args: argparse.Namespace) -> NetConfig:
    """Only what the user set overrides NetConfig's own defaults (the single source of them)."""
    net = NetConfig(timeout=args.timeout)
    if getattr(args, "retries", None) is not None:
        net.retries = args.retries
    if getattr(args, "deadline", None) is not None:
        net.deadline = args.deadline
    return net


def add_input_args(parser: argparse.ArgumentParser) -> None:
    """Flags that say what to audit and for which target environment."""
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="requirements file, pyproject.toml, lockfile or project directory (default: cwd)")
    parser.add_argument("--env", nargs="?", const="", default=None, metavar="VENV",
                        help="audit an installed environment (a venv/prefix; no value: this interpreter)")
    parser.add_argument("--python-version", help="target Python version for resolution, e.g. 3.11")
    parser.add_argument("--platform", help="target platform, e.g. x86_64-manylinux_2_28, win_amd64, macosx_14_0_arm64")
    parser.add_argument("--index-url", help="package index (PEP 503/691 simple API) to resolve against")
    parser.add_argument("--extra-index-url", action="append", default=[], help="additional index (repeatable)")
    parser.add_argument("--allow-build", action="store_true",
                        help="allow building sdists during resolution (RUNS their build code; off by default)")
    parser.add_argument("--extra", action="append", default=[], help="pyproject optional-dependency group")
    parser.add_argument("--group", action="append", default=[], help="PEP 735 dependency group / Poetry group")
    parser.add_argument("--profile", action="append", default=[], metavar="NAME",
                        help="audit only this dependency profile (a requirements file, lockfile or lock section as "
                             "named in the report; repeatable); 'all' also makes every pyproject extra and group a "
                             "profile (default: every profile found, each audited on its own)")
    parser.add_argument("--exclude-newer", help="ignore releases uploaded after this RFC 3339 time")
    parser.add_argument("--resolver", choices=["auto", "uv", "pip"], default="auto", help=argparse.SUPPRESS)
    net = parser.add_mutually_exclusive_group()
    net.add_argument("--offline", action="store_true",
                     help="no network: locked/pinned inputs and local data only")
    net.add_argument("--online", action="store_true",
                     help="also query online services (OSV API, provenance, index metadata)")
    parser.add_argument("--timeout", type=positive_float, default=15.0,
                        help="per-request network timeout in seconds (default 15)")
    parser.add_argument("--retries", type=_retries, default=None,
                        help="retries of a request that failed with 429/5xx or a connection error (default 3)")
    parser.add_argument("--deadline", type=positive_float, default=None,
                        help="bound on the whole run's network time in seconds (default 600)")
    parser.add_argument("--config", help="policy file (default: mlaudit.toml or [tool.mlaudit] in pyproject.toml)")
    parser.add_argument("--fail-on", choices=SEVERITY_CHOICES, default=None,
                        help="exit 1 when a finding at or above this severity is not ignored (default: low); "
                             "an advisory with no severity ('unknown') counts as high unless the policy sets "
                             "unknown-severity")
    parser.add_argument("--require-complete", action="store_true",
                        help="exit 3 when anything could not be resolved or checked")
    parser.add_argument("--fetch-models", action="store_true",
                        help="download referenced model weights (pickle-family/keras) into the cache and scan them")
    parser.add_argument("--disable-check", action="append", default=[], metavar="NAME",
                        help="turn off a check, or drop the findings of one kind, by name (repeatable); the same "
                             "names as the policy's `disable`")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="leave a path out of model-reference discovery and model-file scans (.gitignore "
                             "syntax relative to the project, e.g. 'tests/**'; repeatable; listed as excluded)")
    parser.add_argument("--sbom-vex", action="store_true", help="include findings as vulnerabilities in the SBOM")


def add_baseline_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baseline", metavar="REPORT.json",
                        help="an earlier mlaudit JSON report: findings in it are marked unchanged, the others new, "
                             "and --fail-on counts only new ones (a PR gate on what the change introduced)")


def load_baseline_arg(args: argparse.Namespace) -> Baseline | None:
    """The ``--baseline`` report, read before the audit runs so that a wrong file is exit 2 at once."""
    path = getattr(args, "baseline", None)
    return load_baseline(path) if path else None


def add_output_args(parser: argparse.ArgumentParser, default: str = "terminal") -> None:
    parser.add_argument("--format", "-f", dest="format", default=default, choices=sorted(FORMATS),
                        help=f"output format (default: {default})")
    parser.add_argument("-o", "--output", help="write the report to this file instead of stdout")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="list every finding with its id and summary, every gap and warning in full (terminal); "
                             "tracebacks on internal errors")


def request_from_args(args: argparse.Namespace) -> AuditRequest:
    """The audit's flags (``add_input_args``), typed; ``--disable-check`` names are validated here (exit 2)."""
    from auditor.kinds import disable_names, unknown_disable_names

    disable = tuple(getattr(args, "disable_check", []) or [])
    unknown = unknown_disable_names(list(disable))
    if unknown:
        raise UsageError(f"--disable-check: unknown check or finding kind {', '.join(map(repr, unknown))} "
                         f"(valid: {', '.join(disable_names())})")
    return AuditRequest(
        env_path=args.env,
        python_version=args.python_version,
        platform=args.platform,
        index_url=args.index_url,
        extra_index_urls=tuple(args.extra_index_url),
        offline=args.offline,
        online=args.online,
        allow_build=args.allow_build,
        extras=tuple(args.extra),
        groups=tuple(args.group),
        profiles=tuple(getattr(args, "profile", []) or []),
        exclude_newer=args.exclude_newer,
        resolver=args.resolver,
        net=_net_config(args),
        config=getattr(args, "config", None),
        fail_on=Severity(args.fail_on) if args.fail_on else None,
        require_complete=bool(args.require_complete),
        fetch_models=bool(args.fetch_models),
        disable=disable,
        exclude=tuple(getattr(args, "exclude", []) or []),
        sbom_vex=bool(getattr(args, "sbom_vex", False)),
        baseline=load_baseline_arg(args),
        verify_fixes=bool(getattr(args, "verify_fixes", False)),
    )


def options_from_args(args: argparse.Namespace) -> AuditOptions:
    """Build AuditOptions (``runconfig.options_for``); the policy file is read here so that a bad config is a usage
    error (exit 2)."""
    return options_for(request_from_args(args), list(getattr(args, "paths", []) or []))


def is_interactive(args: argparse.Namespace) -> bool:
    if getattr(args, "quiet", False) or os.environ.get("CI"):
        return False
    if getattr(args, "format", "terminal") != "terminal" and not getattr(args, "output", None):
        return False
    return sys.stderr.isatty()


@contextmanager
def progress_display(args: argparse.Namespace) -> Iterator[ProgressFn]:
    """A rich spinner on stderr for interactive terminals; silent in CI, with -q, or for machine formats."""
    if not is_interactive(args):
        yield lambda _msg: None
        return
    from rich.console import Console  # only for a terminal: a CI run or a machine format never imports rich

    console = Console(stderr=True)
    with console.status("starting", spinner="dots") as status:
        def update(message: str) -> None:
            status.update(message)
        yield update


def check_output(args: argparse.Namespace) -> None:
    """``-o`` naming a folder is a usage error before anything runs (exit 2), not a failure after a long audit."""
    output = getattr(args, "output", None)
    if isinstance(output, str) and output and os.path.isdir(output):
        raise UsageError(f"-o {output}: is a folder; give a file name to write the report to")


def emit(report: Report, args: argparse.Namespace) -> None:
    """Render the report in the requested format to ``-o FILE`` or stdout. A regular file is replaced atomically;
    a device, FIFO or ``/dev/stdout`` is written straight through; a link's target is written, the link kept
    (``cache.atomic_write``)."""
    fmt = getattr(args, "format", "terminal")
    options = RenderOptions(sbom_vex=bool(getattr(args, "sbom_vex", False)), verbose=bool(getattr(args, "verbose", False)))
    output = getattr(args, "output", None)
    verbose = bool(getattr(args, "verbose", False))
    if fmt == "terminal":
        from rich.console import Console

        from auditor.outputs.terminal import print_report, render

        if not output:
            print_report(report, Console(highlight=False, soft_wrap=False), verbose=verbose)
            return
        text = render(report, verbose=verbose)
    else:
        text = get_renderer(fmt)(report, options)
    if output:
        atomic_write(Path(output), text.encode("utf-8"), output=True)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def print_service_failures(report: Report) -> bool:
    """Name every service that failed during the run on stderr (the report itself was still written); True when
    there was one (exit 3)."""
    from auditor.pipeline import service_failures
    from auditor.textsafe import clean

    failures = service_failures(report)
    for failure in failures:
        print(f"mlaudit: error: {clean(failure, 4000)}", file=sys.stderr)
    return bool(failures)

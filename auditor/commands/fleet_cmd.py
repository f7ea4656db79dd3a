"""``mlaudit fleet PATH... [--from-file LIST] [--scan DIR...] -o OUTDIR``: audit many projects and model stores in
one run, in a local pool of worker processes or as Ray tasks (``--ray``), resumable in the same OUTDIR.

Each project's report is the JSON of ``mlaudit PATH --format json`` (same options, same exit code); each model
store's that of ``mlaudit scan DIR --format json``. The exit code is the worst over the units: 3 if any could not
complete (its own exit 3, an input error, a crash), else 1 if any failed the gate, else 0; 2 for the fleet's own
usage errors (no units, a bad option, a bad ``--config``, ``--ray`` without Ray installed).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from auditor.commands.common import add_input_args, is_interactive, positive_float, request_from_args

if TYPE_CHECKING:
    from auditor.fleet.runner import FleetResult, Progress
    from auditor.fleet.work import Outcome

NAME = "fleet"
HELP = "audit many projects and model stores in one run (local worker pool or Ray), resumable"


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a whole number of at least 1, not {text!r}")
    return int(text)


def configure(parser: argparse.ArgumentParser) -> None:
    add_input_args(parser)  # PATH... and every audit option, passed to each project
    parser.add_argument("--from-file", metavar="LIST", action="append", default=[],
                        help="file with one project path per line (# comments); repeatable")
    parser.add_argument("--scan", nargs="+", default=[], metavar="DIR",
                        help="model stores to scan (as `mlaudit scan DIR`), their files split across workers")
    parser.add_argument("-o", "--output-dir", default="mlaudit-fleet", metavar="OUTDIR",
                        help="folder for the reports, index.json and fleet.html; a rerun resumes (default "
                             "mlaudit-fleet)")
    parser.add_argument("--workers", type=_count, default=None,
                        help="worker processes (default: the cores; with --ray: the cluster's CPUs)")
    parser.add_argument("--ray", metavar="ADDRESS",
                        help="run as Ray tasks: a cluster address, 'auto' (RAY_ADDRESS or the local cluster), or "
                             "'local' (a throw-away cluster on this machine); needs pip install 'mlaudit[ray]'")
    parser.add_argument("--per-host", type=_count, default=4,
                        help="concurrent requests to one host per worker (default 4; the run holds at most "
                             "workers x this)")
    parser.add_argument("--project-timeout", dest="project_timeout", type=positive_float, default=None,
                        metavar="SECONDS",
                        help="stop a project's audit (or a store part's scan) after this long; tried once more, "
                             "then reported as failed")
    parser.add_argument("--shard-files", type=_count, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--fresh", action="store_true", help="ignore earlier results in OUTDIR: audit everything")
    parser.add_argument("--retry-failed", action="store_true",
                        help="audit again the units whose worker died on every attempt in an earlier run")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    parser.add_argument("-v", "--verbose", action="store_true", help="more detail on errors")


class _Display:
    """A rich progress bar on an interactive terminal; one line per 10% otherwise (nothing with -q)."""

    def __init__(self, console: Console, interactive: bool, quiet: bool) -> None:
        self.console, self.interactive, self.quiet = console, interactive, quiet
        self.bar: object | None = None
        self.total = 0
        self.done = 0
        self.failed = 0
        self._task: object | None = None

    def note(self, message: str) -> None:
        if self.interactive and not self.quiet:
            self.console.print(f"[dim]{message}[/dim]")

    def planned(self, tasks: int, reused: int) -> None:
        self.total = tasks
        if self.quiet:
            return
        self.console.print(f"{tasks} task(s) to run; {reused} unit(s) reused from earlier runs", highlight=False)
        if self.interactive and tasks:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TimeRemainingColumn(), console=self.console, transient=True)
            bar.start()
            self._task = bar.add_task("auditing", total=tasks)
            self.bar = bar

    def finished(self, outcome: Outcome) -> None:
        self.done += 1
        if outcome.exit_code not in (0, 1):
            self.failed += 1
        if self.bar is not None:
            from rich.progress import Progress

            assert isinstance(self.bar, Progress)
            self.bar.update(self._task, advance=1, description=f"auditing ({self.failed} not completed)")  # type: ignore[arg-type]
        elif not self.quiet and self.total and (self.done * 10 // self.total) != ((self.done - 1) * 10 // self.total):
            self.console.print(f"{self.done}/{self.total} done", highlight=False)

    def stop(self) -> None:
        if self.bar is not None:
            from rich.progress import Progress

            assert isinstance(self.bar, Progress)
            self.bar.stop()
            self.bar = None


@contextmanager
def _display(args: argparse.Namespace) -> Iterator[_Display]:
    display = _Display(Console(stderr=True, highlight=False), is_interactive(args), args.quiet)
    try:
        yield display
    finally:
        display.stop()


def _summary(result: FleetResult, console: Console) -> None:
    from auditor.textsafe import clean

    index = result.index
    s = index["summary"]
    run = index["run"]
    console.print(f"mlaudit fleet: {s['units']} unit(s): {s['failed_gate']} failed the gate, {s['not_completed']} "
                  f"not completed, {s['units'] - s['complete']} incomplete report(s); this run audited "
                  f"{len(run['audited'])}, reused {len(run['reused'])}"
                  + (f", retried {len(run['retried'])}" if run["retried"] else ""), highlight=False)
    for unit in index["units"][:10]:
        if unit["exit_code"] == 0 and not unit["findings"]:
            break
        worst = unit["worst"] or "-"
        detail = clean(unit["error"], 300) if unit["error"] else f"{unit['findings']} finding(s), worst {worst}"
        console.print(f"  exit {unit['exit_code']}  {clean(unit['path'], 200)}: {detail}", highlight=False,
                      markup=False)
    console.print(f"index: {result.index_path}\nreport: {result.html_path}", highlight=False, markup=False)


def run(args: argparse.Namespace) -> int:
    from auditor.fleet.plan import SHARD_FILES, read_list
    from auditor.fleet.runner import FleetConfig, run_fleet

    if args.ray:
        from auditor.fleet.raypool import import_ray

        import_ray()  # exit 2 now, saying how to install it, rather than after planning
    projects = list(args.paths)
    for listing in args.from_file:
        projects.extend(read_list(listing))
    cfg = FleetConfig(projects=projects, stores=list(args.scan), outdir=Path(args.output_dir),
                      request=request_from_args(args), workers=args.workers, ray=args.ray, per_host=args.per_host,
                      timeout=args.project_timeout, fresh=args.fresh, retry_failed=args.retry_failed,
                      shard_files=args.shard_files or SHARD_FILES)
    progress: Progress
    with _display(args) as progress:
        result = run_fleet(cfg, progress)
    _summary(result, Console(highlight=False, soft_wrap=True))
    return result.exit_code



"""Command-line edge: parse arguments, run a command, turn exceptions into exit codes.

This is the only place that knows about exit codes (0 clean, 1 policy failed, 2 usage/input error,
3 could not complete) and the only place that prints errors; everything below raises ``MlauditError``.
``main(argv)`` is callable in-process so tests need no subprocess.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

from auditor import __version__
from auditor.commands import COMMAND_MODULES
from auditor.commands.common import (
    add_baseline_arg,
    add_input_args,
    add_output_args,
    check_output,
    emit,
    options_from_args,
    print_service_failures,
    progress_display,
)
from auditor.errors import EXIT_USAGE, MlauditError
from auditor.failure import error_exit
from auditor.textsafe import secret_scope


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so ``main`` stays in control of output and exit codes."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _ArgError(f"{self.prog}: {message}")


class _ArgError(Exception):
    pass


def command_name(module_name: str) -> str:
    """``auditor.commands.verify_model_cmd`` -> ``verify-model``: known without importing the module."""
    return module_name.rsplit(".", 1)[-1].removesuffix("_cmd").replace("_", "-")


def _commands() -> dict[str, ModuleType]:
    modules: dict[str, ModuleType] = {}
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        modules[module.NAME] = module
    return modules


def _command(word: str) -> ModuleType | None:
    """Import only the subcommand that was asked for: every command's imports cost start-up time of every run."""
    for name in COMMAND_MODULES:
        if command_name(name) == word:
            return importlib.import_module(name)
    return None


def build_audit_parser(commands: dict[str, ModuleType]) -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:<14} {mod.HELP}" for name, mod in sorted(commands.items()))
    parser = _Parser(
        prog="mlaudit",
        description="Audit a Python/ML project's dependencies and models without running any of their code.",
        epilog=f"subcommands (mlaudit NAME --help):\n{listing}\n\n"
               "exit codes: 0 clean, 1 findings at/above --fail-on, 2 usage or input error, 3 could not complete",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mlaudit {__version__}")
    add_input_args(parser)
    add_baseline_arg(parser)
    add_output_args(parser)
    parser.add_argument("--verify-fixes", action="store_true",
                        help="re-resolve and re-audit the planned upgrades (the report's remediation says "
                             "verified: true); by default they are planned from the advisory data only")
    return parser


def run_audit_command(args: argparse.Namespace) -> int:
    from auditor.pipeline import run_audit

    options = options_from_args(args)
    with progress_display(args) as progress:
        report = run_audit(options, progress)
    emit(report, args)  # written even when a service failed: the report says what was not checked
    print_service_failures(report)
    return report.gate().exit_code


def main(argv: Sequence[str] | None = None) -> int:
    with secret_scope():  # error messages too show ${VAR}, never the value a run expanded
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args_list or "--verbose" in args_list
    try:
        module = _command(args_list[0]) if args_list else None
        if module is not None:
            sub = _Parser(prog=f"mlaudit {module.NAME}", description=module.HELP)
            module.configure(sub)
            args = sub.parse_args(args_list[1:])
            check_output(args)
            return int(module.run(args))
        if "-h" in args_list or "--help" in args_list:
            build_audit_parser(_commands()).parse_args(args_list)
        parser = build_audit_parser({})
        args = parser.parse_args(args_list)
        check_output(args)
        return run_audit_command(args)
    except SystemExit as exc:  # --help / --version
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_USAGE)
    except _ArgError as exc:
        print(f"{exc}\nrun 'mlaudit --help' for usage", file=sys.stderr)
        return EXIT_USAGE
    except (KeyboardInterrupt, Exception) as exc:
        if verbose and not isinstance(exc, (MlauditError, KeyboardInterrupt)):
            traceback.print_exc()
        code, message = error_exit(exc)
        print(message, file=sys.stderr)
        return code


def console_main() -> None:
    _tune_gc()
    _exit(main())


def _exit(code: int) -> None:
    """End the console script without the interpreter's teardown, once everything a normal exit does for the user
    is done: the ``atexit`` functions run, stdout and stderr are flushed, then the process ends with ``code``.

    Why: tearing down a finished audit frees every object it built one by one (advisory records, the typosquat
    index, the report): ~20 ms, 8 % of an offline re-audit of a 201-package lock, for memory the kernel reclaims
    at once (mypy ends the same way). Only at the process edge, and only when it is safe: with another thread
    still alive, a stream that cannot be flushed (a closed pipe), or a profiler or tracer attached (``python -m
    cProfile``, coverage: they write their results after the script returns), the ordinary ``sys.exit`` path runs
    instead, with its own waiting and error reporting."""
    import atexit
    import os
    import threading

    if threading.active_count() > 1 or sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code)


def _tune_gc() -> None:
    """The console script is one short run: what exists when it starts (modules, classes, compiled patterns) lives
    until it ends, and an audit then builds large acyclic data (advisory records, the typosquat index, the report).
    With the interpreter's default (a collection every 700 new objects, each full one walking the whole heap) the
    collector cost an offline re-audit of a 201-package lock ~8% of its CPU and found next to nothing. So: freeze
    what start-up built (never walked again) and collect every 20,000 new objects; cycles are still collected
    (issue 25). Only here, at the process edge: a library caller's interpreter is its own."""
    import gc

    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


if __name__ == "__main__":
    console_main()

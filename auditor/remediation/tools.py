"""Regenerating lockfiles through their own tool, in a scratch copy: a ``uv pip compile`` / ``pip-compile`` output
from its header command, a ``uv.lock`` with ``uv lock --upgrade-package``.

Why the file's own command: a compiled requirements file is the output of that command on its ``.in`` files;
editing the output by hand would drift from what the next ``pip-compile`` writes. The command is run as the
header says (its sources, extras, hashes, annotation style), with the upgrades as ``--upgrade-package NAME==VER``
so that everything else stays at the file's pins (uv reads the existing output as preferences), binary-only, and
with the original header text kept (``--custom-compile-command`` and the file's own header lines).

``uv lock`` runs only where it reads the project statically: a project with ``dynamic`` metadata would be built
(its build backend run) to read it, which mlaudit does not do unless ``--allow-build`` -- the exact command is
given instead.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from auditor.options import AuditOptions
from auditor.remediation.reresolve import REASON_LIMIT, Outcome, classify
from auditor.resolve import messages
from auditor.resolve.output import parse_annotated
from auditor.resolve.target import Indexes, uv_environment

# pip-compile options uv does not accept (or that would change more than the fix): dropped from a header command.
_DROP_FLAGS = frozenset({"--emit-trusted-host", "--reuse-hashes", "--rebuild", "--emit-options", "--dry-run",
                         "-U", "--upgrade", "-v", "--verbose", "-q", "--quiet", "--no-header"})
_DROP_WITH_VALUE = frozenset({"--max-rounds", "--newline", "--config", "--cache-dir", "--pip-args", "-P",
                              "--upgrade-package", "--custom-compile-command", "--output-file", "-o"})
# uv pip compile options that take a value (so that the value is not read as a source file).
_WITH_VALUE = frozenset({"-c", "--constraint", "--constraints", "--override", "--overrides", "--extra", "-i",
                         "--index-url", "--extra-index-url", "-f", "--find-links", "--python-version",
                         "--python-platform", "-p", "--python", "--annotation-style", "--resolution",
                         "--prerelease", "--exclude-newer", "--no-emit-package", "--unsafe-package",
                         "--only-binary", "--no-binary", "--index-strategy", "--keyring-provider",
                         "--build-constraints", "-b", "--group", "--torch-backend", "--link-mode",
                         "--config-setting", "-C", "--no-build-isolation-package", "--refresh-package",
                         "--default-index", "--index", "--format", "--emit-package", "--extra-build-dependencies",
                         *_DROP_WITH_VALUE})
_SOURCE_VALUE = frozenset({"-c", "--constraint", "--constraints", "--override", "--overrides",
                           "--build-constraints", "-b"})


class ToolError(Exception):
    """The tool could not be run as the file asks (an unknown command, a missing source): nothing verified."""


class UnknownCommand(ToolError):
    """A header command that is not a pip-compile of any spelling mlaudit re-runs (a build system wrapping it)."""


@dataclass
class HeaderCommand:
    """A compiled requirements file's header command, read for re-running it."""

    text: str  # as written in the header
    args: list[str]  # uv pip compile arguments, without the output file
    output: str | None  # the output file as the command named it (relative to where it ran)
    sources: list[str] = field(default_factory=list)  # input files it reads (positional and -c/--override)
    dropped: list[str] = field(default_factory=list)  # pip-compile options uv does not take


def rerunnable(text: str) -> bool:
    """Whether a header command is one this module re-runs (not e.g. ``bazel run //build:requirements.update``,
    which wraps pip-compile in a build system)."""
    if text.split()[:2] == ["uv", "export"]:
        return True
    try:
        parse_header_command(text)
    except UnknownCommand:
        return False
    except ToolError:  # a pip-compile command that cannot be read: re-runnable in kind, refused with its reason later
        return True
    return True


def parse_header_command(text: str) -> HeaderCommand:
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise ToolError(f"the header command cannot be read ({exc}): {text}") from None
    if tokens[:3] == ["uv", "pip", "compile"]:
        rest = tokens[3:]
    elif tokens and Path(tokens[0]).name == "pip-compile":
        rest = tokens[1:]
    elif len(tokens) > 3 and tokens[1:4] == ["-m", "piptools", "compile"]:
        rest = tokens[4:]
    else:
        raise UnknownCommand(f"the header names a command mlaudit does not know how to re-run: {text}")
    args: list[str] = []
    sources: list[str] = []
    dropped: list[str] = []
    output: str | None = None
    i = 0
    while i < len(rest):
        token = rest[i]
        flag, eq, value = token.partition("=")
        takes_value = flag in _WITH_VALUE and flag.startswith("-")
        if takes_value and not eq:
            value = rest[i + 1] if i + 1 < len(rest) else ""
            i += 1
        i += 1
        if flag in ("-o", "--output-file"):
            output = value
            continue
        if flag in _DROP_FLAGS or flag in _DROP_WITH_VALUE:
            dropped.append(token if not takes_value or eq else f"{flag} {value}")
            continue
        if takes_value:
            args += [flag, value]
            if flag in _SOURCE_VALUE:
                sources.append(value)
            continue
        if token.startswith("-"):
            args.append(token)
            continue
        args.append(token)
        sources.append(token)
    if output is None and sources and not sources[0].endswith(".txt"):
        output = str(Path(sources[0]).with_suffix(".txt"))  # pip-compile's default output beside its source
    return HeaderCommand(text, args, output, sources, dropped)


def where_it_ran(lock: Path, command: HeaderCommand, top: Path) -> Path:
    """The directory the header command ran in: where its output path names this file (the file's own directory
    when it names none), searched upwards as far as ``top``."""
    here = lock.parent
    if command.output:
        for folder in (here, *here.parents):
            if (folder / command.output).resolve() == lock.resolve():
                return folder
            if folder == top:
                break
    return here


@dataclass
class Regenerated:
    text: str | None = None  # the new file content (header kept), when it succeeded
    pins: dict[str, str] = field(default_factory=dict)
    outcome: Outcome = field(default_factory=Outcome)


def regenerate(uv: str, command: HeaderCommand, cwd: Path, output: Path, original: str,
               upgrades: dict[str, str], options: AuditOptions, indexes: Indexes) -> Regenerated:
    """Run the header command in ``cwd`` (a scratch copy) with ``upgrades``; ``output`` holds ``original`` before
    the run (preferences) and the result after it."""
    from auditor.remediation.edits import read, write
    from auditor.remediation.reqtext import header_block

    write(output, original)
    cmd = [uv, "pip", "compile", *command.args, "--quiet", "--output-file", str(output),
           "--custom-compile-command", command.text]
    if not options.allow_build and not any(a in ("--only-binary", "--no-build") for a in command.args):
        cmd += ["--only-binary", ":all:"]
    if options.python_version and "--python-version" not in command.args:
        cmd += ["--python-version", options.python_version]
    if not any(a in ("-i", "--index-url", "--default-index", "--no-index") for a in command.args):
        if indexes.index_url:
            cmd += ["--index-url", indexes.index_url]
        for url in indexes.extra_index_urls:
            cmd += ["--extra-index-url", url]
    for name, version in sorted(upgrades.items()):
        cmd += ["--upgrade-package", f"{name}=={version}"]
    outcome = run_tool(cmd, cwd, options)
    if not outcome.ok:
        return Regenerated(outcome=outcome)
    new = read(output)
    body = new[len(header_block(new)):]
    text = header_block(original) + body
    return Regenerated(text=text, pins={p.name: p.version for p in parse_annotated(text) if p.version})


def uv_lock(uv: str, project: Path, upgrades: dict[str, str], options: AuditOptions, indexes: Indexes) -> Outcome:
    """``uv lock --upgrade-package NAME==VER ...`` in ``project`` (a scratch copy)."""
    cmd = [uv, "lock", "--quiet"]
    if not options.allow_build:
        cmd.append("--no-build")
    if indexes.index_url:
        cmd += ["--default-index", indexes.index_url]
    for url in indexes.extra_index_urls:
        cmd += ["--index", url]
    if options.python_version:
        cmd += ["--python", options.python_version]
    for name, version in sorted(upgrades.items()):
        cmd += ["--upgrade-package", f"{name}=={version}"]
    return run_tool(cmd, project, options)


def run_tool(cmd: Sequence[str], cwd: Path, options: AuditOptions) -> Outcome:
    """Run a uv command in ``cwd`` with the resolver's environment; a failure as a conflict or a failure."""
    try:
        proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, env=uv_environment(options),
                              timeout=max(5.0, options.net.deadline), check=False)
    except subprocess.TimeoutExpired as exc:
        return Outcome(failure=f"{Path(cmd[0]).name} timed out after {exc.timeout:.0f}s")
    except OSError as exc:
        return Outcome(failure=f"could not run {cmd[0]}: {exc}")
    if proc.returncode == 0:
        return Outcome()
    return classify(proc.stderr)


def shown(cmd: Sequence[str]) -> str:
    """A command as the user would type it."""
    return " ".join(shlex.quote(c) for c in cmd)


def bounded(text: str) -> str:
    return messages.clean(text, REASON_LIMIT)


__all__ = ["HeaderCommand", "Regenerated", "ToolError", "UnknownCommand", "bounded", "parse_header_command",
           "regenerate", "rerunnable", "run_tool", "shown", "uv_lock", "where_it_ran"]

"""One re-resolution of a profile with some upgrades applied, by uv, the way the audit resolved it.

Why preferences and not fresh pins: the question is "does this upgrade still resolve with the *rest* of the
profile", so everything else should stay where the audit found it unless the upgrade forces it to move. uv reads
an existing output file as preferences (like ``pip-compile``), and ``--upgrade-package NAME==VERSION`` pins the
upgrade exactly. Binary-only, the audit's indexes, target Python and platform: nothing is built, nothing runs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from auditor.options import AuditOptions
from auditor.resolve.output import parse_annotated
from auditor.resolve.placeholder import write_placeholder
from auditor.resolve.target import Indexes, target_python, uv_environment, uv_platform

REASON_LIMIT = 400  # characters of uv's conflict text kept in a remediation's reason


@dataclass
class Outcome:
    """``pins`` when it resolved; else ``conflict`` (uv found no solution: the upgrade does not fit) or
    ``failure`` (the resolver or index failed: nothing was learned about the upgrade)."""

    pins: dict[str, str] = field(default_factory=dict)
    via: dict[str, list[str]] = field(default_factory=dict)  # who requires each pin (names, or "-r FILE")
    conflict: str | None = None
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.conflict is None and self.failure is None


@dataclass
class ProfileSpec:
    """What one profile resolves from: requirement lines (PEP 508), constraint lines, the pins it has now."""

    requirements: list[str]
    constraints: list[str]
    pins: dict[str, str]
    indexes: Indexes
    requires: dict[str, list[str]] = field(default_factory=dict)  # each pin's dependencies (names), from its edges
    # pins with no usable wheel, stood in for by a metadata-only wheel (``resolve.placeholder``) so that the rest
    # re-resolves binary-only around them (added as uv names them)
    placeholders: dict[str, str] = field(default_factory=dict)


def uv_target_args(options: AuditOptions) -> list[str]:
    """Target interpreter and platform flags, as the audit's resolution used them."""
    args = ["--python-version", target_python(options)]
    if options.python_version is None and options.platform is None:
        args += ["--python", sys.executable]
    if options.platform:
        args += ["--python-platform", uv_platform(options.platform)]
    return args


def uv_index_args(indexes: Indexes) -> list[str]:
    args: list[str] = []
    if indexes.no_index:
        args.append("--no-index")
    if indexes.index_url:
        args += ["--index-url", indexes.index_url]
    for url in indexes.extra_index_urls:
        args += ["--extra-index-url", url]
    if indexes.extra_index_urls:
        args += ["--index-strategy", "unsafe-best-match"]
    for url in indexes.find_links:
        args += ["--find-links", url]
    return args


def reresolve(uv: str, spec: ProfileSpec, upgrades: Mapping[str, str], options: AuditOptions,
              replace: Mapping[str, str] | None = None) -> Outcome:
    """Resolve ``spec`` with ``upgrades`` (name -> exact version) pinned; ``replace`` swaps requirement or
    constraint lines (old text -> new text) for the widened ones the fix would write."""
    folder = Path(tempfile.mkdtemp(prefix="mlaudit-fix-"))
    swap = dict(replace or {})
    try:
        lines = [swap.get(line, line) for line in spec.requirements]
        constraints = [swap.get(line, line) for line in spec.constraints]
        (folder / "requirements.in").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        (folder / "pins.txt").write_text("".join(f"{n}=={v}\n" for n, v in sorted(spec.pins.items())),
                                         encoding="utf-8")
        cmd = [uv, "pip", "compile", "--no-config", "--quiet", "--no-header",
               *uv_target_args(options), *uv_index_args(spec.indexes)]
        if not options.allow_build:
            cmd += ["--only-binary", ":all:"]
        if spec.placeholders:
            for name, version in spec.placeholders.items():
                write_placeholder(folder / "placeholders", name, version, spec.requires.get(name, []))
            cmd += ["--find-links", str(folder / "placeholders")]
        if options.exclude_newer:
            cmd += ["--exclude-newer", options.exclude_newer]
        if constraints:
            (folder / "constraints.txt").write_text("".join(c + "\n" for c in constraints), encoding="utf-8")
            cmd += ["--constraint", str(folder / "constraints.txt")]
        for name, version in sorted(upgrades.items()):
            cmd += ["--upgrade-package", f"{name}=={version}"]
        cmd += [str(folder / "requirements.in"), "--output-file", str(folder / "pins.txt")]
        return run_compile(cmd, folder / "pins.txt", options)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_compile(cmd: Sequence[str], output: Path, options: AuditOptions, cwd: Path | None = None) -> Outcome:
    """Run a ``uv pip compile`` command; pins from ``output`` when it succeeded."""
    try:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, env=uv_environment(options), cwd=cwd,
                              timeout=max(5.0, options.net.deadline), check=False)
    except subprocess.TimeoutExpired as exc:
        return Outcome(failure=f"the resolver timed out after {exc.timeout:.0f}s")
    except OSError as exc:
        return Outcome(failure=f"the resolver could not run: {exc}")
    if proc.returncode == 0:
        text = output.read_text(encoding="utf-8") if output.is_file() else proc.stdout
        pins = [p for p in parse_annotated(text) if p.version]
        return Outcome(pins={p.name: p.version for p in pins}, via={p.name: list(p.via) for p in pins})
    return classify(proc.stderr)


def classify(stderr: str) -> Outcome:
    """uv's failure as a conflict (no solution: the upgrade does not fit) or a failure (index, network, input)."""
    from auditor.resolve import messages  # its ~20 patterns only when a re-resolution failed, not at every start

    text = messages.clean(stderr, REASON_LIMIT)
    if "No solution found" in stderr or "unsatisfiable" in stderr:
        return Outcome(conflict=text)
    return Outcome(failure=text or "the resolver failed without a message")

"""``mlaudit fix``: the verified upgrades written into the inputs, each the way its format is maintained.

- a hand-written requirements file: the pin moves (``==``), a bound that excludes the fix is widened minimally;
  comments, markers, extras and options stay; hashes of a hashed line are replaced by the index's hashes of the
  new version (every wheel and sdist it lists, like ``pip-compile --generate-hashes``);
- a lock-style requirements file (hashes or ``# via``, no header): the verified resolution's moved pins are
  rewritten and its new dependencies inserted, hashed and annotated like the rest of the file;
- a ``uv pip compile`` / ``pip-compile`` output: regenerated through uv with the file's own header command and
  ``--upgrade-package NAME==VER`` (``auditor.remediation.tools``);
- ``pyproject.toml``: a constraint that blocks the fix is widened; with a ``uv.lock`` the project is re-locked
  with ``uv lock --upgrade-package``;
- poetry.lock, pdm.lock, Pipfile.lock, pylock.toml: their tools are not run (they cannot be held to wheels only);
  the exact command is printed.

Everything happens in a scratch copy first (``auditor.remediation.edits``), which is then re-audited as a whole
(resolution included): a fix that introduces a finding, or that did not take, is not written -- nothing is (exit
3). An upgrade that does not resolve in its file stays out of the fix with uv's reason (bisected like the audit's
verification), and so do its findings (exit 1).
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from auditor.domain import Report, canonical_name
from auditor.errors import MlauditError
from auditor.kinds import FindingKind
from auditor.options import AuditContext, AuditOptions, ProgressFn, no_progress
from auditor.remediation.edits import FileChange, Scratch, read, write
from auditor.remediation.model import Key, ProfilePlan, RemediationPlan, Upgrade
from auditor.remediation.reqtext import (
    EditError,
    HashLookup,
    edit_pins,
    entries,
    header_command,
    insert_pins,
    split_lines,
)
from auditor.remediation.targets import some_ids
from auditor.remediation.tools import (
    ToolError,
    bounded,
    parse_header_command,
    regenerate,
    rerunnable,
    run_tool,
    uv_lock,
    where_it_ran,
)
from auditor.resolve.target import Indexes

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

Reaudit = Callable[[AuditOptions], Report]
T = TypeVar("T")
REAUDIT_CHECKS = frozenset({"advisories", "malicious", "typosquat"})
_GATE_KINDS = (FindingKind.VULNERABILITY, FindingKind.MALICIOUS)
_COMPARED_KINDS = (FindingKind.VULNERABILITY, FindingKind.MALICIOUS, FindingKind.TYPOSQUAT)
_UV_PROJECT_FILES = ("pyproject.toml", "uv.lock", "uv.toml", ".python-version")


@dataclass
class FixOutcome:
    changes: list[FileChange] = field(default_factory=list)
    applied: list[Upgrade] = field(default_factory=list)  # written into every profile that holds them
    remaining: list[str] = field(default_factory=list)  # "name version: ids -- why", for the user
    commands: list[str] = field(default_factory=list)  # what to run with tools mlaudit does not run
    notes: list[str] = field(default_factory=list)
    moves: list[str] = field(default_factory=list)  # per changed file: pins that moved besides the upgrades (what a reviewer checks)
    error: str | None = None  # the fix could not be verified: nothing may be written
    findings_left: int = 0  # vulnerability/malicious findings after the fix (0: every one cleared)


def build_fix(report: Report, plan: RemediationPlan, options: AuditOptions, reaudit: Reaudit,
              progress: ProgressFn = no_progress) -> FixOutcome:
    """Work out the fix in a scratch copy and re-audit it (rules in the module docstring); nothing is written."""
    out = FixOutcome()
    _list_unfixable(report, out)
    if plan.failure:
        out.error = plan.failure
        return out
    if plan.upgrades and not plan.verified:
        out.error = "the upgrades were not verified (re-resolution did not run)"
        return out
    scratch = Scratch(Path(f) for f in report.inputs if Path(f).is_file())
    try:
        fix = _Fix(report, plan, options, scratch, out, progress)
        try:
            for profile in plan.profiles:
                fix.profile(profile)
        except (EditError, ToolError, MlauditError) as exc:
            out.error = str(exc)
            return out
        fix.finish_coverage()
        out.changes = scratch.changes()
        out.moves = [line for change in out.changes if (line := _moves(change, fix.applied_names()))]
        if not out.changes:
            out.findings_left = _left(report)
            return out
        progress("re-auditing the fixed inputs")
        _reaudit(report, options, scratch, reaudit, fix, out)
        return out
    finally:
        scratch.close()


def _list_unfixable(report: Report, out: FixOutcome) -> None:
    for r in report.remediation:
        name, version = r.package
        if r.to is None:
            out.remaining.append(f"{name} {version}: {some_ids(r.remains) or 'no id'} -- {r.reason or 'no fix'}")
        elif r.remains:
            out.remaining.append(f"{name} {version}: {some_ids(r.remains)} -- not cleared by {r.to}"
                                 + (f" ({r.reason})" if r.reason else ""))


def _left(report: Report) -> int:
    return sum(1 for f in report.active_findings() if f.kind in _GATE_KINDS)


def _keys(report: Report) -> set[tuple[str, str, str]]:
    return {(f.kind.value, f.package[0], f.id) for f in report.active_findings()
            if f.package is not None and f.kind in _COMPARED_KINDS}


def _reaudit(report: Report, options: AuditOptions, scratch: Scratch, reaudit: Reaudit, fix: _Fix,
             out: FixOutcome) -> None:
    from auditor.checks import load_checks
    from auditor.ledger import ItemKind, Outcome

    paths = [str(scratch.path(Path(p))) for p in options.paths] or [str(scratch.path(Path.cwd()))]
    checks = {c.name for c in load_checks()}
    # the copy holds exactly the audited profiles' files, so ``--profile NAME`` (named as the original paths were)
    # is not repeated; ``all`` still turns extras and groups into profiles
    again = replace(options, paths=paths, project_dir=None, verify_fixes=False, fetch_models=False,
                    disabled_checks=(checks - REAUDIT_CHECKS) | options.disabled_checks, require_complete=False,
                    profiles=[p for p in options.profiles if p == "all"])
    try:
        after = reaudit(again)
    except MlauditError as exc:
        out.error = f"the fixed inputs could not be re-audited: {exc}"
        return
    failures = [f"{i.subject}: {i.reason}" for i in after.ledger
                if i.kind is ItemKind.SERVICE and i.outcome is Outcome.SKIPPED]
    if failures:
        out.error = f"the fixed inputs could not be re-audited: {'; '.join(failures)[:600]}"
        return
    new = sorted(_keys(after) - _keys(report))
    if new:
        out.error = "the fix would introduce findings: " + "; ".join(f"{n}: {i} ({k})" for k, n, i in new[:10])
        return
    for upgrade in out.applied:
        if after.package_for(upgrade.name, upgrade.version) is not None:
            out.error = (f"after the edit {upgrade.name} is still at {upgrade.version} in the re-audit: the fix did "
                         "not take effect")
            return
    out.findings_left = _left(after)


@dataclass
class _Fix:
    report: Report
    plan: RemediationPlan
    options: AuditOptions
    scratch: Scratch
    out: FixOutcome
    progress: ProgressFn
    covered: dict[Key, set[str]] = field(default_factory=dict)  # upgrade -> profiles whose inputs carry it
    relocked: dict[Path, list[Upgrade]] = field(default_factory=dict)  # uv.lock -> upgrades it was re-locked with
    blocked_locks: dict[Path, str] = field(default_factory=dict)  # uv.lock -> why mlaudit does not re-lock it
    lock_pins: dict[Path, dict[str, str]] = field(default_factory=dict)  # uv.lock -> upgrades for the user's command
    uncovered: dict[Key, str] = field(default_factory=dict)  # upgrade -> why an input does not carry it

    # -- dispatch ----------------------------------------------------------------------------------------------
    def profile(self, profile: ProfilePlan) -> None:
        ups = [u for u in profile.accepted if u.key not in self.plan.rejected]
        if not ups:
            return
        from auditor.sources import detect

        kind = profile.kinds[0] if profile.kinds else detect.REQUIREMENTS
        main = Path(profile.files[0]) if profile.files else None
        if main is None:
            self._not_applied(profile, ups, "the profile has no input file to edit")
            return
        self.progress(f"fixing {profile.name}")
        if kind == detect.REQUIREMENTS:
            text = read(main)
            command = header_command(text)
            if command is not None and not rerunnable(command):
                self.out.notes.append(f"{main}: its header command ({command}) is not one mlaudit can re-run "
                                      "(uv pip compile / pip-compile); the pins were edited in place instead")
                command = None
            if command is not None and command.split()[:2] == ["uv", "export"]:
                self._uv_export(profile, main, text, command, ups)
            elif command is not None:
                self._regenerate(profile, main, text, command, ups)
            elif profile.source.is_lock:
                self._lock_lines(profile, main, ups)
            else:
                self._hand_written(profile, ups)
        elif kind == detect.PYPROJECT:
            self._pyproject(profile, main, ups)
        elif kind == detect.UV_LOCK:
            self._uv_project(profile, main, ups)
        else:
            self._other_tool(profile, kind, main, ups)

    def _unbuildable(self, profile: ProfilePlan, ups: Sequence[Upgrade], package: str, command: str) -> None:
        self._not_applied(profile, ups, _needs_build_text(package))
        if command not in self.out.commands:
            self.out.commands.append(command)

    def _lock_blocked(self, profile: ProfilePlan, lock: Path, ups: Sequence[Upgrade], why: str) -> None:
        """mlaudit does not re-lock ``lock``: the upgrades stay out, one ``uv lock`` command gathers them all."""
        self.blocked_locks[lock] = why
        self._not_applied(profile, ups, why)
        pins = self.lock_pins.setdefault(lock, {})
        for u in ups:
            pins[u.name] = u.to

    def _cover(self, profile: ProfilePlan, ups: Sequence[Upgrade]) -> None:
        for u in ups:
            self.covered.setdefault(u.key, set()).add(profile.name)

    def _not_applied(self, profile: ProfilePlan, ups: Sequence[Upgrade], why: str) -> None:
        for u in ups:
            self.uncovered.setdefault(u.key, f"{why} ({profile.name})")

    def applied_names(self) -> set[str]:
        return {u.name for u in self.out.applied}

    def finish_coverage(self) -> None:
        relocks = [_in_dir(lock.parent, "uv lock " + " ".join(f"--upgrade-package {n}=={v}"
                                                             for n, v in sorted(pins.items())))
                   for lock, pins in self.lock_pins.items()]
        self.out.commands[0:0] = relocks  # before the exports that read the re-locked project
        for key, upgrade in self.plan.upgrades.items():
            if key in self.plan.rejected:
                continue
            holders = set(upgrade.profiles)
            done = self.covered.get(key, set())
            if holders and holders <= done:
                self.out.applied.append(upgrade)
                continue
            why = self.plan.unverified.get(key) or self.uncovered.get(key, "not written into any input")
            ids = some_ids(upgrade.clears)
            self.out.remaining.append(f"{upgrade.name} {upgrade.version}: {ids} -- upgrade to {upgrade.to} not "
                                      f"applied: {why}")

    # -- requirements files ------------------------------------------------------------------------------------
    def _hashes(self, profile: ProfilePlan) -> HashLookup:
        return IndexHashes(self.options, profile.spec.indexes if profile.spec else Indexes())

    def _hand_written(self, profile: ProfilePlan, ups: Sequence[Upgrade]) -> None:
        from auditor.sources import detect

        targets = {u.name: u.to for u in ups}
        named: set[str] = set()
        for file, kind in zip(profile.files, profile.kinds or [], strict=False):
            if kind != detect.REQUIREMENTS:
                continue
            copy = self.scratch.copy(Path(file))
            text = read(copy)
            named |= {e.name for e in entries(split_lines(text)) if e.name in targets}
            new, _ = edit_pins(text, targets, self._hashes(profile))
            write(copy, new)
        self._cover(profile, [u for u in ups if u.name in named])
        for u in ups:
            if u.name not in named:
                self._not_applied(profile, [u], f"a transitive dependency no input pins, so the resolver picks its "
                                                f"version; `{u.name}>={u.to}` in a constraints file would force it")

    def _lock_lines(self, profile: ProfilePlan, main: Path, ups: Sequence[Upgrade]) -> None:
        before = profile.spec.pins if profile.spec else {}
        after = profile.pins_after or {}
        copy = self.scratch.copy(main)
        text = read(copy)
        present = {e.name for e in entries(split_lines(text))}
        hashed = any(e.hashed for e in entries(split_lines(text)))
        moved = {n: v for n, v in after.items() if n in before and before[n] != v}
        added = {n: v for n, v in after.items() if n not in before and n not in present}
        new, _ = edit_pins(text, moved, self._hashes(profile), only_exact=True)
        new = insert_pins(new, added, self._hashes(profile), hashed=hashed, via=profile.via_after)
        write(copy, new)
        self._cover(profile, [u for u in ups if u.name in present or u.name in added])
        self._not_applied(profile, [u for u in ups if u.name not in present and u.name not in added],
                          f"{main} does not list it")

    def _regenerate(self, profile: ProfilePlan, main: Path, original: str, header: str,
                    ups: Sequence[Upgrade]) -> None:
        from auditor.sources.project import find_project_root
        from auditor.sources.requirements import read_requirements

        command = parse_header_command(header)
        if command.dropped:
            self.out.notes.append(f"{main}: options of its header command uv does not take were left out: "
                                  f"{', '.join(command.dropped)}")
        cwd = where_it_ran(main, command, Path(find_project_root(str(main))))
        for source in command.sources:
            path = cwd / source
            if not path.is_file():
                raise ToolError(f"{main}: its header command reads {source}, which is not in {cwd}; regenerate it "
                                f"yourself: {header} " + " ".join(f"--upgrade-package {u.name}=={u.to}" for u in ups))
            self.scratch.copy(path)
            if path.name not in ("pyproject.toml", "setup.cfg", "setup.py"):
                for include in read_requirements(str(path)).files:
                    self.scratch.copy(Path(include))
            elif path.name == "setup.py" or _dynamic(path):
                self._not_applied(profile, ups, f"its header command reads {source}, whose metadata only its build "
                                                "backend can compute (mlaudit does not run it)")
                self.out.commands.append(_in_dir(cwd, f"{header} " + " ".join(
                    f"--upgrade-package {u.name}=={u.to}" for u in ups)))
                return
        uv = _uv()
        indexes = profile.spec.indexes if profile.spec else Indexes()
        pins = profile.spec.pins if profile.spec else {}
        output = self.scratch.copy(main)
        workdir = self.scratch.path(cwd)
        workdir.mkdir(parents=True, exist_ok=True)

        def attempt(group: list[Upgrade]) -> tuple[str | None, str | None]:
            result = regenerate(uv, command, workdir, output, original, {u.name: u.to for u in group},
                                self.options, indexes)
            if result.outcome.failure:
                raise ToolError(f"{main}: its header command failed: {result.outcome.failure}")
            if result.outcome.conflict:
                needs_build(result.outcome.conflict, group, pins)
                return f"does not resolve in {main}: {result.outcome.conflict}", None
            wrong = [f"{u.name} resolved to {result.pins.get(u.name)}" for u in group
                     if not _same(result.pins.get(u.name), u.to)]
            return ("; ".join(wrong), None) if wrong else (None, result.text)

        try:
            accepted, rejected, text = settle(list(ups), attempt)
        except NeedsBuild as exc:
            write(output, original)
            self._unbuildable(profile, ups, str(exc), _in_dir(cwd, f"{header} " + " ".join(
                f"--upgrade-package {u.name}=={u.to}" for u in ups)))
            return
        write(output, text if text is not None else original)
        self._cover(profile, accepted)
        for u in ups:
            if u.key in rejected:
                self.uncovered[u.key] = rejected[u.key]

    # -- pyproject / uv ----------------------------------------------------------------------------------------
    def _pyproject(self, profile: ProfilePlan, main: Path, ups: Sequence[Upgrade]) -> None:
        from auditor.remediation.pyedit import widen_pyproject

        copy = self.scratch.copy(main)
        new, admitted = widen_pyproject(read(copy), {u.name: u.to for u in ups})
        write(copy, new)
        self._cover(profile, [u for u in ups if u.name in admitted])
        self._not_applied(profile, [u for u in ups if u.name not in admitted],
                          "a transitive dependency pyproject.toml does not constrain: the resolver picks its "
                          "version (a lock, e.g. uv.lock, would hold the fix)")

    def _uv_project(self, profile: ProfilePlan, lock: Path, ups: Sequence[Upgrade]) -> None:
        from auditor.remediation.pyedit import declares_dynamic, widen_pyproject, workspace_members

        folder = lock.parent
        pyproject = folder / "pyproject.toml"
        key = lock.resolve()
        if key in self.blocked_locks:
            self._lock_blocked(profile, key, ups, self.blocked_locks[key])
            return
        if not pyproject.is_file():
            raise ToolError(f"{lock}: no pyproject.toml beside it, so it cannot be re-locked")
        original_py = read(pyproject)
        members = [m / "pyproject.toml" for pattern in workspace_members(original_py)
                   for m in sorted(folder.glob(pattern)) if (m / "pyproject.toml").is_file()]
        if not self.options.allow_build and any(declares_dynamic(read(p)) for p in [pyproject, *members]):
            self._lock_blocked(profile, key, ups, "the project's metadata is dynamic: `uv lock` would run its build "
                                                  "backend, which mlaudit does not do (or rerun with --allow-build)")
            return
        for name in _UV_PROJECT_FILES:
            if (folder / name).is_file():
                self.scratch.copy(folder / name)
        for member in members:
            self.scratch.copy(member)
        original_lock = read(lock)
        scr_py, scr_lock, workdir = self.scratch.path(pyproject), self.scratch.path(lock), self.scratch.path(folder)
        uv = _uv()
        indexes = Indexes(self.options.index_url, list(self.options.extra_index_urls))

        def attempt(group: list[Upgrade]) -> tuple[str | None, tuple[str, str] | None]:
            widened, _ = widen_pyproject(original_py, {u.name: u.to for u in group})
            write(scr_py, widened)
            write(scr_lock, original_lock)
            outcome = uv_lock(uv, workdir, {u.name: u.to for u in group}, self.options, indexes)
            if outcome.failure:
                raise ToolError(f"{lock}: `uv lock` failed: {outcome.failure}")
            if outcome.conflict:
                needs_build(outcome.conflict, group, pins)
                return f"does not resolve in {lock}: {outcome.conflict}", None
            locked = _uv_lock_versions(read(scr_lock))
            wrong = [f"{u.name} locked at {', '.join(sorted(locked.get(u.name, set()))) or 'nothing'}"
                     for u in group if not any(_same(v, u.to) for v in locked.get(u.name, set()))]
            return ("; ".join(wrong), None) if wrong else (None, (widened, read(scr_lock)))

        pins = profile.spec.pins if profile.spec else {}
        try:
            accepted, rejected, texts = settle(list(ups), attempt)
        except NeedsBuild as exc:
            write(scr_py, original_py)
            write(scr_lock, original_lock)
            self._lock_blocked(profile, key, ups, _needs_build_text(str(exc)))
            return
        write(scr_py, texts[0] if texts else original_py)
        write(scr_lock, texts[1] if texts else original_lock)
        self.relocked[lock.resolve()] = accepted
        self._cover(profile, accepted)
        for u in ups:
            if u.key in rejected:
                self.uncovered[u.key] = rejected[u.key]

    def _uv_export(self, profile: ProfilePlan, main: Path, original: str, header: str,
                   ups: Sequence[Upgrade]) -> None:
        """A ``uv export`` of a uv project: the project is re-locked (once, with the lock's own profile when that
        is audited too) and the file exported again from the new lock with its header command."""
        from auditor.remediation.reqtext import header_block
        from auditor.resolve.output import parse_annotated
        from auditor.sources.project import find_project_root

        main = main.resolve()
        top = Path(find_project_root(str(main)))
        folder = next((d for d in (main.parent, *main.parent.parents) if (d / "uv.lock").is_file()
                       and (d == top or top in d.parents)), None)
        if folder is None:
            raise ToolError(f"{main}: its header says `{header}`, but there is no uv.lock to export from")
        lock = (folder / "uv.lock").resolve()
        done = self.relocked.get(lock)
        if done is None or not {u.key for u in ups} <= {u.key for u in done}:
            self._uv_project(profile, folder / "uv.lock", ups)
        if lock in self.blocked_locks:
            self.out.commands.append(_in_dir(folder, header) + "   # after the uv lock above")
            return
        accepted = self.relocked.get(lock, [])
        if not any(u.key in {a.key for a in accepted} for u in ups):
            return
        try:
            args = shlex.split(header)[2:]
        except ValueError as exc:
            raise ToolError(f"{main}: the header command cannot be read ({exc})") from None
        args = [a for a in args if a not in ("-q", "--quiet", "--frozen", "--locked")]
        output = self.scratch.copy(main)
        outcome = run_tool([_uv(), "export", *args, "--frozen", "--quiet", "--output-file", str(output)],
                          self.scratch.path(folder), self.options)
        if not outcome.ok:
            raise ToolError(f"{main}: `{header}` failed on the re-locked project: {outcome.failure or outcome.conflict}")
        new = read(output)
        text = header_block(original) + new[len(header_block(new)):]
        write(output, text)
        pins = {p.name: p.version for p in parse_annotated(text) if p.version}
        landed = [u for u in ups if _same(pins.get(u.name), u.to)]
        self._cover(profile, landed)
        self._not_applied(profile, [u for u in ups if u not in landed], f"the re-locked {lock} does not hold it")

    # -- other lockfiles ---------------------------------------------------------------------------------------
    def _other_tool(self, profile: ProfilePlan, kind: str, main: Path, ups: Sequence[Upgrade]) -> None:
        names = " ".join(u.name for u in ups)
        wanted = ", ".join(f"{u.name}=={u.to}" for u in ups)
        tool = {
            "poetry.lock": ("poetry", f"poetry update --lock {names}"),
            "pdm.lock": ("pdm", f"pdm update --no-sync {names}"),
            "Pipfile.lock": ("pipenv", f"pipenv update {names}"),
            "Pipfile": ("pipenv", f"pipenv update {names}"),
        }.get(kind)
        if tool is None:
            why = f"{kind} inputs are not edited by mlaudit fix; upgrade to {wanted} with the tool that wrote it"
            self._not_applied(profile, ups, why)
            return
        self._not_applied(profile, ups, f"{tool[0]} is not run by mlaudit fix (it cannot be held to wheels only, "
                                        f"so it may build and run sdists); reach {wanted} with the command shown")
        self.out.commands.append(_in_dir(main.parent, tool[1]) + f"   # to reach {wanted}")


class NeedsBuild(Exception):
    """The tool could only proceed by building a package from source (it has no wheel): mlaudit does not."""


def needs_build(conflict: str, group: Sequence[Upgrade], pins: dict[str, str]) -> None:
    """Raise ``NeedsBuild`` when uv's failure is a package without wheels that the fix does not touch: no
    upgrade is to blame, the tool cannot run binary-only on this project (a conflict would be bisected instead)."""
    from auditor.resolve.messages import NO_WHEEL, find_culprits

    touched = {u.name for u in group}
    culprits = [c for c in find_culprits(conflict) if c.kind == NO_WHEEL and c.name not in touched]
    if culprits:
        best = next((c for c in culprits if pins.get(c.name) == c.version), culprits[0])
        raise NeedsBuild(f"{best.name} {pins.get(best.name) or best.version or ''}".strip())


def settle(items: list[Upgrade], attempt: Callable[[list[Upgrade]], tuple[str | None, T | None]]
           ) -> tuple[list[Upgrade], dict[Key, str], T | None]:
    """The upgrades that ``attempt`` accepts together, bisecting on failure; returns them, the rejected ones with
    reasons, and the result of the last successful attempt (which is for exactly the accepted set)."""
    accepted: list[Upgrade] = []
    rejected: dict[Key, str] = {}
    result: T | None = None

    def go(group: list[Upgrade]) -> None:
        nonlocal result
        if not group:
            return
        reason, value = attempt([*accepted, *group])
        if reason is None:
            accepted.extend(group)
            result = value
            return
        if len(group) == 1:
            rejected[group[0].key] = bounded(reason)
            return
        mid = len(group) // 2
        go(group[:mid])
        go(group[mid:])

    go(items)
    return accepted, rejected, result


class IndexHashes:
    """Hashes of every file the index lists for a version (wheels and sdists), like ``pip-compile
    --generate-hashes``: a hash-checking install of the new pin works on any platform the old one did."""

    def __init__(self, options: AuditOptions, indexes: Indexes) -> None:
        from auditor.net import HttpClient

        self.ctx = AuditContext(options=options, report=Report(), http=HttpClient(options.net))
        self.urls = indexes.all_urls()

    def __call__(self, name: str, version: str) -> list[str]:
        from auditor.pkgindex import default_index_url, project_page

        for url in self.urls or [default_index_url()]:
            page = project_page(self.ctx, name, url)
            files = [f for f in page.files_of(version) if f.kind in ("wheel", "sdist")] if page else []
            if not files:
                continue
            missing = [f.filename for f in files if not f.sha256]
            if missing:
                raise EditError(f"{name} {version}: the index gives no sha256 for {', '.join(missing[:3])}")
            return sorted({f"sha256:{f.sha256}" for f in files})
        return []


def _uv() -> str:
    from auditor.tools import uv_binary

    uv = uv_binary()
    if uv is None:
        raise ToolError("the uv binary is not available")
    return uv


def _same(a: str | None, b: str) -> bool:
    from auditor.advisories.match import parse_version

    if a is None:
        return False
    pa, pb = parse_version(a), parse_version(b)
    return a == b if pa is None or pb is None else pa == pb


def _dynamic(path: Path) -> bool:
    from auditor.remediation.pyedit import declares_dynamic

    return path.name == "pyproject.toml" and declares_dynamic(read(path))


def _needs_build_text(package: str) -> str:
    return (f"regenerating it needs {package} built from source (it has no usable wheel), which mlaudit does not "
            "do; the command shown does it (and runs that build), or rerun with --allow-build")


def _in_dir(folder: Path, command: str) -> str:
    return f"cd {shlex.quote(str(folder.resolve()))} && {command}"


def _moves(change: FileChange, upgraded: set[str]) -> str | None:
    """``FILE: also moved a 1 -> 2, ...; added b 1, ...; removed c 3``: what changed besides the upgrades."""
    from auditor.resolve.output import parse_annotated

    def pins(text: str) -> dict[str, str]:
        if change.path.name == "uv.lock":
            return {n: ", ".join(sorted(v)) for n, v in _uv_lock_versions(text).items()}
        if change.path.name == "pyproject.toml":
            return {}
        return {p.name: p.version for p in parse_annotated(text) if p.version}

    before, after = pins(change.before), pins(change.after)
    moved = [f"{n} {before[n]} -> {v}" for n, v in sorted(after.items())
             if n in before and before[n] != v and n not in upgraded]
    added = [f"{n} {v}" for n, v in sorted(after.items()) if n not in before]
    removed = [f"{n} {v}" for n, v in sorted(before.items()) if n not in after]
    parts = [f"{label} {len(items)}: {', '.join(items[:8])}" + (" ..." if len(items) > 8 else "")
             for label, items in (("also moved", moved), ("added", added), ("removed", removed)) if items]
    return f"{change.path}: {'; '.join(parts)}" if parts else None


def _uv_lock_versions(text: str) -> dict[str, set[str]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}
    out: dict[str, set[str]] = {}
    for entry in data.get("package", []):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("version"), str):
            out.setdefault(canonical_name(entry["name"]), set()).add(entry["version"])
    return out

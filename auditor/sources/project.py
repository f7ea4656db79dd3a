"""The project model: a code root and one or more dependency profiles, audited separately in one report.

Why profiles: real ML repositories keep alternative dependency sets side by side -- ``requirements/cuda.txt`` and
``requirements/rocm.txt``, ``requirements-dev.txt``, pyproject extras, a Pipfile.lock ``develop`` category. Merged
into one set they conflict (``torch==2.1.0+cu118`` and ``torch==2.1.0+rocm5.6``) and whichever pin came first won
silently. Each is instead a *profile*: resolved on its own, its packages audited at their own versions, its failures
(an unreachable ``--extra-index-url``) its own.

- A directory is a project: its code root is the directory, its profiles what ``detect.discover`` finds there.
- A file given on the command line is one profile (a lockfile with several sections, several); its code root is the
  project it belongs to (the nearest directory upwards with ``pyproject.toml``, ``setup.py``, ``setup.cfg`` or
  ``.git``), so model references in the code are still found.
- ``--profile NAME`` (repeatable) audits only the named profiles, ``--profile all`` also turns every pyproject extra
  and dependency group into a profile of its own. Default: every profile found; pyproject extras and groups not
  selected with ``--extra``/``--group`` are listed as excluded (so a reader sees they exist).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from auditor.domain import Excluded, Skipped
from auditor.errors import InputError
from auditor.ledger import ItemKind, Outcome
from auditor.options import AuditOptions
from auditor.sources import detect
from auditor.sources.base import SourceResult

ALL = "all"
PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")


@dataclass
class Profile:
    """One dependency set of the project, audited on its own."""

    name: str  # a path relative to the project ("requirements/cuda.txt"), "[section]" for a lock's sections
    source: SourceResult
    files: list[str] = field(default_factory=list)


@dataclass
class Project:
    code_root: str | None
    profiles: list[Profile] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # every input file read, in order
    identity: SourceResult = field(default_factory=SourceResult)  # the project's name/version/metadata, warnings
    # profiles, sections and requirement-like files found but not audited (excluded, or skipped: unreadable)
    excluded: list[Excluded | Skipped] = field(default_factory=list)

    def merged(self) -> SourceResult:
        """All profiles as one result (library callers that want one flat set; the pipeline never merges)."""
        out = SourceResult()
        for profile in self.profiles:
            out.merge(profile.source)
        out.resolved = bool(self.profiles) and all(p.source.resolved for p in self.profiles)
        out.root_name = out.root_name or self.identity.root_name
        out.root_version = out.root_version or self.identity.root_version
        for key, value in self.identity.root_metadata.items():
            out.root_metadata.setdefault(key, value)
        return out


def find_project_root(path: str) -> str:
    """The project a file belongs to: the nearest directory upwards that holds a project marker, else the file's
    own directory."""
    start = Path(path).resolve()
    here = start if start.is_dir() else start.parent
    for candidate in (here, *here.parents):
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return str(candidate)
    return str(here)


def load_project(paths: list[str], options: AuditOptions) -> Project:
    """Read every input into profiles (rules in the module docstring)."""
    from auditor.projectwalk import PathFilter
    from auditor.sources import load_file

    project = Project(code_root=options.project_dir)
    seen: set[str] = set()
    found: list[tuple[str, str, bool]] = []  # (file, profile name, found below the directory given)
    every = ALL in options.profiles
    for path in paths or [os.curdir]:
        if Path(path).is_dir():
            discovery = detect.discover_project(path, test_data=every, exclude=PathFilter.of(options.exclude))
            for file in discovery.files:
                found.append((file, _relative(file, path), file in discovery.nested))
            project.excluded.extend(discovery.excluded)
            if not discovery.files:
                if not discovery.code_files:
                    raise InputError(detect.NOTHING_FOUND, file=path)
                # Code without dependency inputs (a research repository): its model references are still audited;
                # the missing dependency account is a named gap, never a clean result.
                project.excluded.append(Skipped(
                    reason=f"{detect.NOTHING_FOUND}: only the code's model references were audited", file=path,
                    kind=ItemKind.INPUT_FILE, subject=path, not_checked=["the project's Python dependencies"]))
            meta = detect.project_file(path)
            if meta:
                _identity(meta, project.identity)
        elif not Path(path).exists():
            raise InputError("no such file or directory", file=path)
        else:
            found.append((path, _relative(path, options.project_dir) if options.project_dir else path, False))
    for file, name, nested in found:
        real = os.path.realpath(file)
        if real in seen:  # the same file named twice (or found by two directories) is one profile
            continue
        seen.add(real)
        try:
            result = load_file(file, options)
        except InputError as exc:
            if not nested:
                raise
            # A file deep in the tree (an example's, a vendored tool's) that cannot be read does not stop the
            # audit of the project: it is a gap, named.
            project.excluded.append(Skipped(reason=f"could not be read: {exc}", file=file, kind=ItemKind.INPUT_FILE,
                                            subject=name, not_checked=[f"every requirement in {name}"]))
            continue
        _add_profiles(project, name, result)
        if detect.kind_of(file) in (detect.PYPROJECT, detect.SETUP_CFG, detect.SETUP_PY):
            _pyproject_alternatives(project, file, name, options)
    _dynamic_read_elsewhere(project)
    _select(project, options.profiles)
    if not project.profiles and not project.excluded:
        raise InputError("nothing to audit: no dependency profile was found", file=paths[0] if paths else None)
    for profile in project.profiles:
        for file in profile.source.files:
            if file not in project.files:
                project.files.append(file)
    return project


def _relative(file: str, directory: str) -> str:
    """``file`` as a path inside ``directory`` (the profile's name), or as given when it lies elsewhere."""
    try:
        rel = os.path.relpath(os.path.abspath(file), os.path.abspath(directory))
    except ValueError:  # another drive on Windows
        return file
    return file if rel.startswith("..") else rel


def _add_profiles(project: Project, name: str, result: SourceResult) -> None:
    sections = result.sections
    result.sections = []
    project.profiles.append(Profile(name=name, source=result, files=list(result.files)))
    for section, sub in sections:
        project.profiles.append(Profile(name=f"{name} [{section}]", source=sub, files=list(sub.files)))


def _pyproject_alternatives(project: Project, file: str, name: str, options: AuditOptions) -> None:
    """pyproject extras and dependency groups not selected with ``--extra``/``--group``: with ``--profile all`` each
    becomes a profile of its own (the project's dependencies plus that extra/group, as ``pip install .[extra]`` /
    ``uv sync --group`` would install them); otherwise each is listed as excluded, so that none is lost silently."""
    from auditor.domain import canonical_name
    from auditor.sources.pyproject import ALL as EVERY
    from auditor.sources.pyproject import extras_and_groups, load_pyproject
    from auditor.sources.setupfiles import is_setup_file, load_setup, setup_extras

    extras: list[str]
    groups: list[str]
    if is_setup_file(file):
        extras, groups, load = setup_extras(file), [], load_setup
    else:
        (extras, groups), load = extras_and_groups(file), load_pyproject
    chosen_extras = {canonical_name(e) for e in options.extras}
    chosen_groups = {canonical_name(g) for g in options.groups}
    every = ALL in options.profiles
    for kind, names, chosen in (("extra", extras, chosen_extras), ("group", groups, chosen_groups)):
        if chosen & EVERY:
            continue
        for section in names:
            if canonical_name(section) in chosen:
                continue
            label = f"{name} [{kind} {section}]"
            if not every:
                project.excluded.append(Excluded(
                    reason=f"optional dependencies not selected (--{kind} {section}, or --profile all)", file=file,
                    kind=ItemKind.INPUT_FILE, subject=label))
                continue
            sub = load(file, replace(options, extras=[section] if kind == "extra" else [],
                                     groups=[section] if kind == "group" else []))
            project.profiles.append(Profile(name=label, source=sub, files=[file]))


def _dynamic_read_elsewhere(project: Project) -> None:
    """``dynamic = ["dependencies"]`` in a pyproject whose ``setup.cfg``/``setup.py`` beside it is a profile: the
    dependencies setuptools computes are read there (statically), so the pyproject's "dynamic, not read" gap is
    closed by that profile -- listed as excluded, naming it."""
    setup_profiles = {str(Path(f).parent): p.name for p in project.profiles for f in p.files[:1]
                      if Path(f).name in (detect.SETUP_CFG, detect.SETUP_PY)}
    for profile in project.profiles:
        if not profile.files or Path(profile.files[0]).name != detect.PYPROJECT:
            continue
        other = setup_profiles.get(str(Path(profile.files[0]).parent))
        if other is None:
            continue
        for i, item in enumerate(profile.source.skipped):
            if item.requirement == 'dynamic = ["dependencies"]' and item.outcome is Outcome.SKIPPED:
                profile.source.skipped[i] = Excluded(
                    reason=f"[project] dependencies are dynamic: setuptools reads them from {other}, audited as its "
                           "own profile", file=item.file, line=item.line, requirement=item.requirement,
                    kind=item.kind)


def _select(project: Project, wanted: list[str]) -> None:
    """Keep the profiles ``--profile`` names (none or ``all``: every one); the others are listed as excluded."""
    if not wanted or ALL in wanted:
        return
    names = [p.name for p in project.profiles]
    unknown = [w for w in wanted if w not in names and not any(_matches(w, p) for p in project.profiles)]
    if unknown:
        raise InputError(f"--profile {', '.join(unknown)}: no such profile (available: {', '.join(names)}, all)")
    kept: list[Profile] = []
    for profile in project.profiles:
        if profile.name in wanted or any(_matches(w, profile) for w in wanted):
            kept.append(profile)
            continue
        project.excluded.append(Excluded(reason="profile not selected (--profile)", file=profile.files[0] if
                                         profile.files else None, kind=ItemKind.INPUT_FILE, subject=profile.name))
    project.profiles = kept


def _matches(wanted: str, profile: Profile) -> bool:
    """``--profile requirements/cuda.txt`` also matches the file given as ``./requirements/cuda.txt``."""
    return any(os.path.normpath(wanted) == os.path.normpath(f) for f in profile.files[:1]) and "[" not in profile.name


def _identity(pyproject: str, into: SourceResult) -> None:
    from auditor.sources.pyproject import project_identity

    name, version, metadata = project_identity(pyproject)
    into.root_name = into.root_name or name
    into.root_version = into.root_version or version
    for key, value in metadata.items():
        into.root_metadata.setdefault(key, value)


__all__ = ["ALL", "Profile", "Project", "find_project_root", "load_project"]

"""Conservation of the completeness ledger, as a property over generated inputs.

For any requirements file or lockfile: every input item the audit takes in ends in exactly one final outcome, and
*which* outcome is what CONVENTIONS ("Inputs", "Completeness") and the lock rule (``auditor/sources/locked.py``)
say for that line -- computed here from the generated line alone (its kind, name, version and whether its marker
holds for the target), not read back from the ledger:

- a requirements file is a lock only with the lock tool's header and every line an exact pin or a direct reference;
- outside a lock, offline with an empty resolver cache, nothing can be resolved: every line is skipped, except a line
  whose marker excludes the target (excluded, listed); a local path that does not exist is skipped either way;
- in a lock, pins are audited as given (their markers do not matter: a lock is installed somewhere), VCS and missing
  local paths are skipped; one name at several versions audits exactly one of them, the others are skipped
  (conflicting pins that apply to the target) or excluded (locked for another target);
- a Pipfile.lock entry is audited at its version unless it is a git entry (skipped), and a section holding one is
  read only in part (skipped).

An item "audited" must have its package in the report, no item may be left to the ledger's end-of-run backstop
(``settle`` turning a forgotten item into a skip), every input line has exactly one item, and ``complete`` is what
the expected outcomes imply. The audit runs for real (``run_audit``, offline). A small variant runs by default;
``-m fuzz`` runs many.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.checks import unknown_disable_names
from auditor.domain import Report, canonical_name
from auditor.ledger import UNSETTLED_REASON, Item, ItemKind, Outcome
from auditor.net import NetConfig
from auditor.options import AuditOptions
from auditor.pipeline import run_audit

NAMES = ["alpha", "beta", "gamma", "six", "idna", "Jinja2", "req_x"]
# (marker text, whether it holds for the target: CPython 3.11 on x86_64 Linux)
MARKERS = [("", True), (' ; python_version >= "3.0"', True), (' ; python_version >= "3.13"', False),
           (" ; sys_platform == 'win32'", False)]
DISABLED = {"typosquat", "dependency-confusion", "provenance"}  # name checks that would ask an index
AUDITED, SKIPPED, EXCLUDED = Outcome.AUDITED, Outcome.SKIPPED, Outcome.EXCLUDED
ANY = frozenset({AUDITED, SKIPPED, EXCLUDED})


@dataclass(frozen=True)
class Line:
    """One generated requirement line and what it says, independently of how mlaudit reads it."""

    file: str  # "requirements.txt" or "other.txt"
    number: int
    kind: str  # pin, range, bare, url, local, vcs
    name: str  # PEP 503
    version: str | None  # what a pin or a wheel URL names
    applies: bool  # its marker holds for the target (or it has none)
    text: str


@dataclass(frozen=True)
class RequirementsCase:
    main: str
    included: str
    lines: tuple[Line, ...]
    lock: bool  # the lock tool's header, and only exact pins and direct references


def _requirement_line(draw: st.DrawFn, locked: bool) -> tuple[str, str, str, str | None, bool]:
    """One line; ``locked`` draws only what a lock holds (pins mostly, and direct references) from fewer names, so
    that one name at several versions under several markers is common."""
    name = draw(st.sampled_from(NAMES[:3] if locked else NAMES))
    kinds = ["pin", "pin", "pin", "url", "local", "vcs"] if locked else ["pin", "range", "bare", "url", "local", "vcs"]
    kind = draw(st.sampled_from(kinds))
    version: str | None = None
    if kind == "pin":
        version = draw(st.sampled_from(["1.0", "2.1", "0.3"]))
        body = f"{name}=={version}"
    elif kind == "range":
        body = f"{name}>=1,<3"
    elif kind == "bare":
        body = name
    elif kind == "url":
        version = "1.0"
        body = f"{name.lower()} @ https://127.0.0.1:9/files/{name.lower()}-1.0-py3-none-any.whl"
    elif kind == "local":
        body = f"./missing/{name.lower()}-1.0-py3-none-any.whl"
    else:
        body = f"git+https://127.0.0.1:9/org/{name.lower()}.git#egg={name.lower()}"
    marker, applies = draw(st.sampled_from(MARKERS))
    return body + marker, kind, canonical_name(name), version, applies


@st.composite
def requirements_files(draw: st.DrawFn) -> RequirementsCase:
    locked = draw(st.booleans())  # drawn as a lock (a few of these still are not: no pin at all)
    main = [_requirement_line(draw, locked) for _ in range(draw(st.integers(0, 6)))]
    included = [_requirement_line(draw, locked) for _ in range(draw(st.integers(0, 3)))]
    header = locked or draw(st.booleans())
    if not main and not included:
        main = [("six==1.16.0", "pin", "six", "1.16.0", True)]
    prefix = ["# This file was autogenerated by uv via the following command:"] if header else []
    prefix += ["# a comment", ""][:draw(st.integers(0, 2))]
    lines = [Line("requirements.txt", len(prefix) + i + 1, kind, name, version, applies, text)
             for i, (text, kind, name, version, applies) in enumerate(main)]
    lines += [Line("other.txt", i + 1, kind, name, version, applies, text)
              for i, (text, kind, name, version, applies) in enumerate(included)]
    lock = header and any(ln.kind == "pin" for ln in lines) \
        and all(ln.kind in ("pin", "url", "local", "vcs") for ln in lines)
    main_text = "\n".join([*prefix, *(t for t, *_ in main), "-r other.txt"]) + "\n"
    return RequirementsCase(main_text, "\n".join(t for t, *_ in included) + "\n", tuple(lines), lock)


def expected_requirements(case: RequirementsCase) -> dict[Line, frozenset[Outcome]]:
    """The outcome each line must end with (a set only where the rules leave a choice: which of several conflicting
    versions is the one audited, and a wheel URL against a pin under markers that exclude the target)."""
    want: dict[Line, frozenset[Outcome]] = {}
    groups: dict[str, list[Line]] = {}
    for ln in case.lines:
        if ln.kind == "local":
            want[ln] = frozenset({SKIPPED})  # the file is not there
        elif not case.lock:
            want[ln] = frozenset({EXCLUDED if not ln.applies else SKIPPED})
        elif ln.kind == "vcs":
            want[ln] = frozenset({SKIPPED})  # would need building
        else:
            groups.setdefault(ln.name, []).append(ln)
    for group in groups.values():
        versions = list(dict.fromkeys(ln.version for ln in group))
        if len(versions) == 1:
            want.update((ln, frozenset({AUDITED})) for ln in group)
            continue
        if any(ln.kind == "url" for ln in group) and not all(ln.applies for ln in group):
            want.update((ln, ANY) for ln in group)  # checked by the one-version rule only
            continue
        applying = {v for v in versions if any(ln.applies for ln in group if ln.version == v)}
        for ln in group:
            if applying and ln.version not in applying:
                want[ln] = frozenset({EXCLUDED})
            elif applying:
                want[ln] = frozenset({AUDITED, SKIPPED})  # one applying version audited, the others conflicts
            else:
                want[ln] = frozenset({AUDITED, EXCLUDED})  # none applies: one is audited, the others excluded
    return want


def _audit(path: Path) -> Report:
    assert not unknown_disable_names(DISABLED)
    options = AuditOptions(paths=[str(path)], offline=True, python_version="3.11", platform="x86_64-manylinux_2_28",
                           project_dir=str(path.parent), net=NetConfig(timeout=1.0, retries=0, deadline=30.0),
                           disabled_checks=set(DISABLED))
    report = run_audit(options)
    assert not [i.subject for i in report.ledger if i.reason and UNSETTLED_REASON in i.reason], \
        "an item was left for the end-of-run backstop: no stage recorded its outcome"
    assert all(i.reason for i in report.ledger if i.outcome in (SKIPPED, EXCLUDED))
    return report


def _one_version_per_name(lines: list[Line], got: dict[Line, Outcome], report: Report) -> None:
    """Lines of one name that ended audited name one version, and that version is a package of the report."""
    packages = {(canonical_name(p.name), p.version) for p in report.packages.values()}
    by_name: dict[str, set[str | None]] = {}
    for ln in lines:
        if got[ln] is AUDITED and ln.kind in ("pin", "url"):
            by_name.setdefault(ln.name, set()).add(ln.version)
            assert (ln.name, ln.version) in packages, f"{ln.text!r} is audited but {ln.name} {ln.version} is not"
    assert all(len(v) == 1 for v in by_name.values()), by_name
    names_kept = {ln.name for ln in lines if ln.kind in ("pin", "url")}
    assert names_kept <= set(by_name), f"no version audited for {names_kept - set(by_name)}"


def _check_requirements(case: RequirementsCase) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "requirements.txt").write_text(case.main)
        (root / "other.txt").write_text(case.included)
        report = _audit(root / "requirements.txt")
    items: dict[tuple[str, int], list[Item]] = {}
    for item in report.ledger:
        if item.kind is ItemKind.REQUIREMENT:
            assert item.file and item.line, item
            items.setdefault((Path(item.file).name, item.line), []).append(item)
    assert set(items) == {(ln.file, ln.number) for ln in case.lines}  # every line, none invented
    assert all(len(v) == 1 for v in items.values()), "one line, one item"
    got = {ln: items[(ln.file, ln.number)][0].outcome for ln in case.lines}
    want = expected_requirements(case)
    wrong = {ln.text: (got[ln].value, sorted(o.value for o in want[ln])) for ln in case.lines if got[ln] not in want[ln]}
    assert not wrong, (case.lock, wrong)
    if case.lock:
        _one_version_per_name([ln for ln in case.lines if ln.kind in ("pin", "url")], got, report)
    else:
        assert AUDITED not in got.values()  # offline with an empty resolver cache nothing was resolved
    files = [i for i in report.ledger if i.kind is ItemKind.INPUT_FILE]
    assert sorted(Path(i.file or "").name for i in files) == ["other.txt", "requirements.txt"]
    assert all(i.outcome is AUDITED for i in files)
    # complete: no line can end skipped (where the rules leave a choice, the line's own outcome decides)
    expected_complete = all((want[ln] if len(want[ln]) == 1 else {got[ln]}) <= {AUDITED, EXCLUDED}
                            for ln in case.lines)
    assert report.complete is expected_complete


@dataclass(frozen=True)
class PipfileEntry:
    section: str
    name: str
    version: str | None  # None: a git entry, locked without a version


@st.composite
def pipfile_locks(draw: st.DrawFn) -> tuple[str, tuple[PipfileEntry, ...]]:
    categories = draw(st.lists(st.sampled_from(["default", "develop", "docs"]), min_size=1, max_size=3, unique=True))
    data: dict[str, object] = {"_meta": {"pipfile-spec": 6, "sources": []}}
    entries: list[PipfileEntry] = []
    for category in categories:
        names = draw(st.lists(st.sampled_from([n.lower() for n in NAMES]), max_size=5, unique=True))
        section: dict[str, object] = {}
        for name in names:
            version = draw(st.sampled_from(["1.0", "2.1"]))
            entry: dict[str, object] = {"version": "==" + version}
            if draw(st.booleans()):
                entry["markers"] = draw(st.sampled_from(["python_version >= '3.0'", "sys_platform == 'win32'"]))
            if draw(st.integers(0, 5)) == 0:
                entry, version = {"git": "https://127.0.0.1:9/x.git"}, None
            section[name] = entry
            entries.append(PipfileEntry(category, canonical_name(name), version))
        data[category] = section
    return json.dumps(data, indent=4), tuple(entries)


def _entry_lines(text: str) -> dict[tuple[str, str], int]:
    """(section, name) -> the line of its key in the ``indent=4`` JSON."""
    where: dict[tuple[str, str], int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith('    "') and not line.startswith('        '):
            section = line.strip().split('"')[1]
        elif line.startswith('        "') and line.rstrip().endswith("{"):
            where[(section, canonical_name(line.strip().split('"')[1]))] = number
    return where


def _check_pipfile_lock(case: tuple[str, tuple[PipfileEntry, ...]]) -> None:
    text, entries = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "Pipfile.lock"
        path.write_text(text)
        report = _audit(path)
    lines = _entry_lines(text)
    items: dict[int, list[Item]] = {}
    for item in report.ledger:
        if item.kind is ItemKind.LOCKED_PACKAGE:
            assert item.line, item
            items.setdefault(item.line, []).append(item)
    assert set(items) == {lines[(e.section, e.name)] for e in entries}  # every entry, none invented
    packages = {(canonical_name(p.name), p.version) for p in report.packages.values()}
    for e in entries:
        [item] = items[lines[(e.section, e.name)]]
        assert item.outcome is (SKIPPED if e.version is None else AUDITED), (e, item)
        assert e.version is None or (e.name, e.version) in packages
    sections = Counter(i.outcome for i in report.ledger if i.kind is ItemKind.LOCK_SECTION)
    partial = {e.section for e in entries if e.version is None}
    assert sections == Counter({SKIPPED: len(partial)}) + Counter(
        {AUDITED: len({*_sections(text)} - partial)}), sections
    assert report.complete is (not partial)


def _sections(text: str) -> list[str]:
    return [k for k in json.loads(text) if k != "_meta"]


@st.composite
def setup_files(draw: st.DrawFn) -> tuple[str, str, list[bool], int]:
    """(file name, text, per requirement line whether its marker applies to the target, whole declarations that are
    sections: computed or not installed). One requirement per line, so each is its own ledger item."""
    kinds = ["pin", "range", "bare"]
    lines = []
    applies: list[bool] = []
    for _ in range(draw(st.integers(1, 5))):
        name = draw(st.sampled_from(NAMES))
        kind = draw(st.sampled_from(kinds))
        body = f"{name}==1.0" if kind == "pin" else f"{name}>=1,<3" if kind == "range" else name
        marker, holds = draw(st.sampled_from(MARKERS))
        lines.append(body + marker)
        applies.append(holds)
    tests = draw(st.booleans())
    if draw(st.booleans()):
        deps = "\n".join(f"    {line}" for line in lines)
        text = "[metadata]\nname = gen\n\n[options]\ninstall_requires =\n" + deps + "\n"
        text += "tests_require =\n    pytest\n" if tests else ""
        return "setup.cfg", text, applies, int(tests)
    computed = draw(st.booleans())
    items = "".join(f"        {line!r},\n" for line in lines)
    text = ("from setuptools import setup\n\nsetup(\n    name='gen',\n    install_requires=[\n" + items + "    ],\n"
            + ("    tests_require=['pytest'],\n" if tests else "")
            + ("    extras_require=build_extras(),\n" if computed else "") + ")\n")
    return "setup.py", text, applies, int(tests) + int(computed)


def _check_setup(case: tuple[str, str, list[bool], int]) -> None:
    """Each install_requires line is one requirement item on its own line: a marker that excludes the target
    makes it excluded; any other line is a direct requirement that offline, with an empty resolver cache, cannot
    be resolved (skipped). The non-installed and computed declarations are sections, never requirement items."""
    name, text, applies, sections = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text)
        report = _audit(path)
    first = 6  # the first requirement's line in either template
    reqs = sorted((i for i in report.ledger if i.kind is ItemKind.REQUIREMENT), key=lambda i: i.line or 0)
    assert [i.line for i in reqs] == list(range(first, first + len(applies))), [(i.line, i.subject) for i in reqs]
    assert [i.outcome for i in reqs] == [SKIPPED if holds else EXCLUDED for holds in applies], \
        [(i.subject, i.outcome.value, i.reason) for i in reqs]
    assert len([i for i in report.ledger if i.kind is ItemKind.LOCK_SECTION]) == sections
    [input_file] = [i for i in report.ledger if i.kind is ItemKind.INPUT_FILE]
    assert input_file.outcome is AUDITED and Path(input_file.file or "").name == name
    # complete exactly when no line is left unresolved (the sections are listed, not gaps: tests_require is not
    # installed, an unselected computed extras_require is not part of the target)
    assert report.complete is (not any(applies)), report.incomplete_reasons


SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow], "derandomize": True}


@settings(max_examples=8, **SETTINGS)  # type: ignore[arg-type]
@given(requirements_files())
def test_requirements_items_are_conserved(case: RequirementsCase) -> None:
    _check_requirements(case)


@settings(max_examples=6, **SETTINGS)  # type: ignore[arg-type]
@given(pipfile_locks())
def test_lockfile_items_are_conserved(case: tuple[str, tuple[PipfileEntry, ...]]) -> None:
    _check_pipfile_lock(case)


@settings(max_examples=6, **SETTINGS)  # type: ignore[arg-type]
@given(setup_files())
def test_setup_file_items_are_conserved(case: tuple[str, str, list[bool], int]) -> None:
    _check_setup(case)


@pytest.mark.fuzz
@settings(max_examples=150, **{**SETTINGS, "derandomize": False})  # type: ignore[arg-type]
@given(setup_files())
def test_setup_file_items_are_conserved_fuzz(case: tuple[str, str, int, int]) -> None:
    _check_setup(case)


@pytest.mark.fuzz
@settings(max_examples=150, **{**SETTINGS, "derandomize": False})  # type: ignore[arg-type]
@given(requirements_files())
def test_requirements_items_are_conserved_fuzz(case: RequirementsCase) -> None:
    _check_requirements(case)


@pytest.mark.fuzz
@settings(max_examples=150, **{**SETTINGS, "derandomize": False})  # type: ignore[arg-type]
@given(pipfile_locks())
def test_lockfile_items_are_conserved_fuzz(case: tuple[str, tuple[PipfileEntry, ...]]) -> None:
    _check_pipfile_lock(case)

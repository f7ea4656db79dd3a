"""Walk conservation, as a property over generated trees (issue 26): every file placed anywhere in a tree — in
hidden folders, folders a project audit leaves out by default, behind links (to folders inside, outside, to an
ancestor: loops), in folders that cannot be read, as a FIFO/socket/device link/broken link, inside an archive — is
reported as scanned, skipped or excluded, by ``mlaudit scan DIR`` and by a project audit's model walk.

As root the permission bits of an unreadable folder do not apply, so the property also runs (fewer examples) as
``nobody`` in a subprocess. A small variant runs by default; ``-m fuzz`` runs many.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.domain import Report
from auditor.ledger import Outcome
from auditor.net import NetConfig
from auditor.options import AuditOptions
from auditor.pipeline import run_audit
from auditor.scan.report import build_report

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03."
SAFETENSORS = b"\x02\x00\x00\x00\x00\x00\x00\x00{}"

DIR_NAMES = ["models", "sub", ".hidden", ".git", "node_modules", "venv", ".venv", ".cache", "__pycache__",
             "pkg.egg-info", "site-packages", "envdir"]
FILE_NAMES = ["weights.pkl", "model.pt", "pytorch_model.bin", "clf.joblib", "ckpt.pth", "w.safetensors",
              "bundle.zip"]
SPECIALS = ["fifo", "socket", "device-link", "broken-link", "self-link", "file-link"]
LINKS = ["to-ancestor", "to-other", "to-outside", "to-same-twice"]


@dataclass
class Tree:
    """What was placed: real paths of regular files, special entries, archives (path -> members)."""

    files: list[Path] = field(default_factory=list)
    specials: list[Path] = field(default_factory=list)
    archives: dict[Path, list[str]] = field(default_factory=dict)
    sockets: list[socket.socket] = field(default_factory=list)
    locked: list[Path] = field(default_factory=list)


Placement = tuple[tuple[str, ...], str, str]


@st.composite
def placements(draw: st.DrawFn) -> tuple[list[Placement], list[int], bool]:
    dirs = st.lists(st.sampled_from(DIR_NAMES), max_size=3).map(tuple)
    kinds = st.one_of(st.tuples(st.just("file"), st.sampled_from(FILE_NAMES)),
                      st.tuples(st.just("special"), st.sampled_from(SPECIALS)),
                      st.tuples(st.just("link"), st.sampled_from(LINKS)))
    items = draw(st.lists(st.tuples(dirs, kinds).map(lambda t: (t[0], t[1][0], t[1][1])), min_size=1, max_size=10))
    locked = draw(st.lists(st.integers(0, 20), max_size=2))
    marker = draw(st.booleans())  # "envdir" holds a pyvenv.cfg (an environment recognised by content)
    return items, locked, marker


def build(root: Path, outside: Path, spec: tuple[list[Placement], list[int], bool]) -> Tree:
    items, locked, marker = spec
    tree = Tree()
    root.mkdir()
    (root / "requirements.txt").write_text("")
    outside.mkdir()
    (outside / "far.pkl").write_bytes(PAYLOAD)
    made: list[Path] = [root]
    for n, (parts, kind, name) in enumerate(items):
        folder = root.joinpath(*parts)
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(1, len(parts) + 1):
            if root.joinpath(*parts[:i]) not in made:
                made.append(root.joinpath(*parts[:i]))
        path = folder / f"{n}-{name}"
        if kind == "file":
            if name.endswith(".safetensors"):
                path.write_bytes(SAFETENSORS)
            elif name.endswith(".zip"):
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w") as zf:
                    zf.writestr("inner/data.pkl", PAYLOAD)
                path.write_bytes(buf.getvalue())
                tree.archives[path] = ["inner/data.pkl"]
            else:
                path.write_bytes(PAYLOAD)
            tree.files.append(path)
        elif kind == "special":
            if name == "fifo":
                os.mkfifo(path)
            elif name == "socket":
                sock = socket.socket(socket.AF_UNIX)
                sock.bind(str(root.parent / f"s{n}"))  # AF_UNIX paths are short: bound near the root, linked in
                tree.sockets.append(sock)
                path.symlink_to(root.parent / f"s{n}")
            elif name == "device-link":
                path.symlink_to("/dev/null")
            elif name == "broken-link":
                path.symlink_to(folder / "missing.pkl")
            elif name == "self-link":
                path.symlink_to(path.name)
            else:  # a link to a regular file: the file itself is what must be scanned
                target = folder / f"{n}-target.pkl"
                target.write_bytes(PAYLOAD)
                tree.files.append(target)
                path.symlink_to(target.name)
                continue
            tree.specials.append(path)
        else:
            if name == "to-ancestor":
                path.symlink_to(root, target_is_directory=True)
            elif name == "to-outside":
                path.symlink_to(outside, target_is_directory=True)
                tree.files.append(path / "far.pkl")  # placed where the tree reaches it
            elif name == "to-same-twice":
                path.symlink_to(folder, target_is_directory=True)
                (folder / f"{n}-again").symlink_to(folder, target_is_directory=True)
            else:
                path.symlink_to(made[n % len(made)], target_is_directory=True)
    if marker and (root / "envdir").is_dir():
        (root / "envdir" / "pyvenv.cfg").write_text("home = /usr\n")
    for index in locked:
        folder = made[index % len(made)]
        if folder != root and folder not in tree.locked:
            tree.locked.append(folder)
    return tree


@contextmanager
def placed(spec: tuple[list[Placement], list[int], bool]) -> Iterator[tuple[Path, Tree]]:
    base = Path(tempfile.mkdtemp(prefix="mlaudit-walk-"))
    tree = build(base / "tree", base / "outside", spec)
    for folder in tree.locked:
        folder.chmod(0)
    try:
        yield base / "tree", tree
    finally:
        for sock in tree.sockets:
            sock.close()
        for folder in tree.locked:
            folder.chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


def _parent_key(path: str) -> tuple[str, str]:
    return os.path.realpath(os.path.dirname(path.rstrip("/"))), os.path.basename(path.rstrip("/"))


def accounted(report: Report, root: Path) -> tuple[set[str], set[str], set[tuple[str, str]], set[str]]:
    """(real paths of files scanned, real paths of folders listed, (real parent, name) of entries listed,
    archive members scanned as ``real path!member``)."""
    scanned: set[str] = set()
    folders: set[str] = set()
    entries: set[tuple[str, str]] = set()
    for item in report.ledger:
        if not item.file:
            continue
        if item.outcome is Outcome.AUDITED:
            scanned.add(os.path.realpath(item.file))
        elif item.outcome in (Outcome.SKIPPED, Outcome.EXCLUDED):
            if item.file.endswith("/"):
                folders.add(os.path.realpath(item.file.rstrip("/")))
            entries.add(_parent_key(item.file))
            if os.path.isfile(item.file):  # a file that was looked at and could not be read: it is accounted
                scanned.add(os.path.realpath(item.file))
    members: set[str] = set()
    for note in report.model_scan:
        outer, _, member = note["path"].partition("!")
        scanned.add(os.path.realpath(outer))
        if member:
            members.add(f"{os.path.realpath(outer)}!{member}")
    return scanned, folders, entries, members


def under_listed_folder(path: Path, folders: set[str], root: Path) -> bool:
    """A folder on the way to ``path`` (as the tree reaches it, or as it really is) was listed instead."""
    real = Path(os.path.realpath(path.parent))
    return any(os.path.realpath(folder) in folders for folder in [*path.parents, real, *real.parents])


def check(report: Report, root: Path, tree: Tree) -> None:
    scanned, folders, entries, members = accounted(report, root)
    for path in tree.files:
        if not path.exists() and not path.is_symlink():
            continue
        assert (os.path.realpath(path) in scanned or _parent_key(str(path)) in entries
                or under_listed_folder(path, folders, root)), f"{path} is neither scanned, skipped nor excluded"
    for path in tree.specials:
        assert _parent_key(str(path)) in entries or under_listed_folder(path, folders, root), \
            f"{path} (special) not listed"
    for path, inner in tree.archives.items():
        if os.path.realpath(path) in scanned:
            for member in inner:
                assert f"{os.path.realpath(path)}!{member}" in members or any(
                    item.file and item.file.startswith(f"{path}!") for item in report.skipped), \
                    f"{path}!{member} not scanned"


def _scan(root: Path, tree: Tree) -> None:
    check(build_report([root]), root, tree)


def _project(root: Path, tree: Tree) -> None:
    options = AuditOptions(paths=[str(root)], offline=True, project_dir=str(root), python_version="3.11",
                           net=NetConfig(timeout=2, retries=0))
    report = run_audit(options)
    # the model walk: only names a model loader reads are candidates in a project audit
    tree.files = [f for f in tree.files if f.suffix in (".pkl", ".pt", ".bin", ".joblib", ".pth", ".safetensors",
                                                         ".zip")]
    check(report, root, tree)


def conserve(spec: tuple[list[Placement], list[int], bool]) -> None:
    for run in (_scan, _project):
        with placed(spec) as (root, tree):
            run(root, tree)


SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow], "database": None}


@settings(max_examples=int(os.environ.get("MLAUDIT_WALK_EXAMPLES", "12")), derandomize=True,
          **SETTINGS)  # type: ignore[arg-type]
@given(placements())
def test_every_placed_file_is_scanned_skipped_or_excluded(spec: tuple[list[Placement], list[int], bool]) -> None:
    conserve(spec)


@pytest.mark.fuzz
@settings(max_examples=200, derandomize=False, **SETTINGS)  # type: ignore[arg-type]
@given(placements())
def test_every_placed_file_is_scanned_skipped_or_excluded_fuzz(
        spec: tuple[list[Placement], list[int], bool]) -> None:
    conserve(spec)


@pytest.mark.slow
def test_conservation_as_an_ordinary_user(tmp_path: Path) -> None:
    """The property again where ``chmod 000`` means something: without the permission-bypassing capabilities when the suite runs as root."""
    if os.geteuid() != 0:
        pytest.skip("not root: the in-process property already runs with permission bits in force")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv is not installed: cannot drop privileges for permission bits")
    work = Path(tempfile.mkdtemp(prefix="mlaudit-walk-user-"))
    work.chmod(0o777)
    try:
        env = {**os.environ, "HOME": str(work), "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1",
               "MLAUDIT_WALK_EXAMPLES": "8"}
        proc = subprocess.run(
            # uid 0 without the capabilities that bypass permission bits (the install stays readable)
            [setpriv, "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m", "pytest", "-q",
             "-p", "no:cacheprovider", "--basetemp", str(work / "bt"),
             f"{Path(__file__)}::test_every_placed_file_is_scanned_skipped_or_excluded"],
            cwd=work, env=env, capture_output=True, text=True, timeout=600, check=False)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_the_checker_catches_a_dropped_file(tmp_path: Path) -> None:
    """The property is not vacuous: a report that lost a file fails the check."""
    spec: tuple[list[Placement], list[int], bool] = ([(("models",), "file", "weights.pkl")], [], False)
    with placed(spec) as (root, tree):
        report = build_report([root])
        for item in list(report.ledger):
            item.file = None  # pretend the walk dropped everything
        report.model_scan = []
        with pytest.raises(AssertionError, match="neither scanned"):
            check(report, root, tree)
        assert stat.S_ISDIR(os.stat(root).st_mode)

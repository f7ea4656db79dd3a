"""One rule for every walk (issue 26): whatever a walk finds ends scanned, or listed as skipped or excluded with
its reason — in ``mlaudit scan DIR`` and in a project audit's model/config walk.

The payload is a hand-written protocol-2 pickle (``os.system`` by REDUCE): raw opcode bytes, never loaded.
Unreadable entries need a user the permission bits apply to: as root the test runs mlaudit as ``nobody`` through
``setpriv`` in a subprocess (and skips, saying why, only where that cannot be done).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03."


@dataclass
class Run:
    code: int
    report: dict[str, Any]
    err: str


def cli(*argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([*argv, "--format", "json", "-q"])
    return Run(code, json.loads(out.getvalue()) if out.getvalue().strip() else {}, err.getvalue())


def scan(path: Path) -> Run:
    return cli("scan", str(path))


def audit(project: Path) -> Run:
    return cli(str(project), "--offline", "--python-version", "3.11")


def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "requirements.txt").write_text("")
    return root


def flagged(report: dict[str, Any]) -> set[str]:
    return {f["path"] for f in report["findings"] if f["id"] == "MLA-PICKLE-EXEC"}


def listed(report: dict[str, Any], section: str) -> dict[str, str]:
    return {item["file"]: item["reason"] for item in report[section]}


# Folders a project audit leaves out by default, some only recognised by what they hold.
DEFAULT_EXCLUDED = [".git", ".cache", "node_modules", "venv", ".venv", "__pycache__", ".tox", "site-packages",
                    "pkg.egg-info", ".ipynb_checkpoints"]
MARKED_ENVS = [("py311", "pyvenv.cfg"), ("miniconda-prefix", "conda-meta")]


def _place(root: Path, folder: str, marker: str | None = None) -> Path:
    target = root / folder / "sub"
    target.mkdir(parents=True)
    if marker == "pyvenv.cfg":
        (root / folder / marker).write_text("home = /usr/bin\n")
    elif marker:
        (root / folder / marker).mkdir()
    (target / "weights.pkl").write_bytes(PAYLOAD)
    return target / "weights.pkl"


@pytest.mark.parametrize("folder", DEFAULT_EXCLUDED)
def test_a_payload_in_a_default_excluded_folder_is_scanned_by_an_explicit_scan(tmp_path: Path, folder: str) -> None:
    store = tmp_path / "store"
    payload = _place(store, folder)
    run = scan(store)
    assert run.code == 1 and str(payload) in flagged(run.report), run.report["findings"]


@pytest.mark.parametrize(("folder", "marker"), [(f, None) for f in DEFAULT_EXCLUDED] + MARKED_ENVS)
def test_a_project_audit_lists_the_folders_it_leaves_out(tmp_path: Path, folder: str, marker: str | None) -> None:
    root = project(tmp_path)
    _place(root, folder, marker)
    run = audit(root)
    excluded = listed(run.report, "excluded")
    assert f"{root / folder}/" in excluded, excluded
    assert "left out of a project audit by default" in excluded[f"{root / folder}/"]
    # the scan of that folder, as the reason suggests, finds the payload
    if marker is not None:
        assert flagged(scan(root / folder).report)


def test_a_symlinked_model_directory_is_followed_and_said(tmp_path: Path) -> None:
    root = project(tmp_path)
    bigdisk = tmp_path / "bigdisk" / "llama"
    bigdisk.mkdir(parents=True)
    (bigdisk / "consolidated.00.pth").write_bytes(PAYLOAD)
    (root / "models").mkdir()
    (root / "models" / "llama").symlink_to(Path("..") / ".." / "bigdisk" / "llama", target_is_directory=True)
    shown = str(root / "models" / "llama" / "consolidated.00.pth")
    for run in (scan(root), scan(root / "models"), audit(root)):
        assert shown in flagged(run.report), run.report["findings"]
        assert any("outside" in w and "followed" in w and "llama" in w for w in run.report["warnings"])


def test_link_loops_end_and_are_listed(tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / "a" / "b").mkdir(parents=True)
    (store / "a" / "b" / "m.pkl").write_bytes(PAYLOAD)
    (store / "a" / "b" / "up").symlink_to("../..", target_is_directory=True)  # back to the root
    (store / "a" / "again").symlink_to("b", target_is_directory=True)  # a second way into a/b
    (store / "self").symlink_to("self")  # a link to itself
    (store / "dangling.pkl").symlink_to("missing.pkl")
    run = scan(store)
    assert flagged(run.report) == {str(store / "a" / "b" / "m.pkl")}  # once, under its first path
    excluded, skipped = listed(run.report, "excluded"), listed(run.report, "skipped")
    assert "the same folder as the root" in excluded[f"{store}/a/b/up/"]
    assert "the same folder as a/b" in excluded[f"{store}/a/again/"]
    assert "link loop" in skipped[str(store / "self")]
    assert "broken link" in skipped[str(store / "dangling.pkl")]
    assert run.report["complete"] is False


@pytest.fixture
def special_files(tmp_path: Path) -> Iterator[tuple[Path, list[Path]]]:
    root = project(tmp_path)
    models = root / "models"
    models.mkdir()
    os.mkfifo(models / "weights.pkl")
    os.mkfifo(models / "stream")  # a name no stage would pick: still listed
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(models / "serve.sock"))
    (models / "zeros.bin").symlink_to("/dev/zero")
    (models / "pipe-link.pt").symlink_to("weights.pkl")
    try:
        yield root, [models / n for n in ("weights.pkl", "stream", "serve.sock", "zeros.bin", "pipe-link.pt")]
    finally:
        sock.close()


def test_fifos_sockets_and_device_links_are_skipped_items(special_files: tuple[Path, list[Path]]) -> None:
    root, specials = special_files
    for run in (scan(root), scan(root / "models"), audit(root)):
        skipped = listed(run.report, "skipped")
        for path in specials:
            assert "not a regular file" in skipped.get(str(path), ""), (path, skipped)
        assert run.report["complete"] is False
    assert "character device" in listed(scan(root).report, "skipped")[str(specials[3])]
    assert "FIFO" in listed(scan(root).report, "skipped")[str(specials[0])]


# -- unreadable entries: permission bits apply to an ordinary user only -----------------------------------------
DROP_DAC = "-dac_override,-dac_read_search"


def _as_user(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "auditor", *argv]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and setpriv is not installed: cannot drop privileges for permission bits")
        # stay uid 0 but without the capabilities that bypass permission bits: the interpreter and its packages
        # stay readable wherever they are installed (an install under /root is closed to ``nobody``)
        command = [setpriv, f"--bounding-set={DROP_DAC}", *command]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder an unprivileged user can enter (pytest's own tmp is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="mlaudit-perm-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for p in [path, *path.rglob("*")]:
            if not p.is_symlink():
                p.chmod(0o755)
        shutil.rmtree(path, ignore_errors=True)


def test_unreadable_folders_and_files_are_skipped_items(shared_tmp: Path) -> None:
    store = shared_tmp / "store"
    folders = [shared_tmp / rel for rel in ("store/locked", "store/deep/er/vault", "store/.hidden-locked")]
    for folder in folders:
        folder.mkdir(parents=True)
        (folder / "evil.pkl").write_bytes(PAYLOAD)
    (store / "ok.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    secret = store / "secret.pkl"
    secret.write_bytes(PAYLOAD)
    nolist = store / "listed-not-entered"  # readable names, no search permission
    nolist.mkdir()
    (nolist / "w.pt").write_bytes(PAYLOAD)
    (store / "requirements.txt").write_text("")
    cache = shared_tmp / "cache"
    cache.mkdir()
    for p in [shared_tmp, *shared_tmp.rglob("*")]:
        p.chmod(0o777 if p.is_dir() else 0o644)
    for folder in folders:
        folder.chmod(0)
    secret.chmod(0)
    nolist.chmod(0o444)
    env = {**os.environ, "MLAUDIT_CACHE_DIR": str(cache), "HOME": str(shared_tmp), "PYTHONPATH": str(ROOT)}
    for argv in (["scan", str(store)], [str(store), "--offline", "--python-version", "3.11"]):
        proc = _as_user([*argv, "--format", "json", "-q", "--require-complete"], shared_tmp, env)
        assert proc.returncode == 3 and proc.stdout.startswith("{"), (argv, proc.stdout[-500:], proc.stderr)
        report = json.loads(proc.stdout)
        skipped = listed(report, "skipped")
        for folder in folders:
            assert "Permission denied" in skipped.get(f"{folder}/", ""), skipped
        assert str(secret) in skipped, skipped
        assert any(k.startswith(str(nolist)) for k in skipped), skipped
        assert report["complete"] is False


def test_a_fleet_store_scan_keeps_the_walk_s_gaps(tmp_path: Path) -> None:
    store = tmp_path / "store"
    payload = _place(store, ".git")
    os.mkfifo(store / "weights.pkl")
    out = tmp_path / "out"
    code = main(["fleet", "--scan", str(store), "-o", str(out), "--workers", "1", "-q"])
    index = json.loads((out / "index.json").read_text())
    [unit] = index["units"]
    report = json.loads((out / unit["report"]).read_text())
    assert str(payload) in flagged(report)
    assert "not a regular file" in listed(report, "skipped")[str(store / "weights.pkl")]
    assert code == 1 and report["complete"] is False

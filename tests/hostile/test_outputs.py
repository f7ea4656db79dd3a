"""``-o`` targets (issue 26): a regular file is replaced atomically; a link's target is written and the link kept;
devices, FIFOs and ``/dev/stdout`` are written straight through, never replaced; a folder is exit 2 with a clear
message, before any work. For every command that writes a report (audit, ``scan``, ``sbom``).

Devices are the test's own nodes (``mknod`` of the null device, as root) — never the system's ``/dev/null``.
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import threading
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from auditor.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAFETENSORS = b"\x02\x00\x00\x00\x00\x00\x00\x00{}"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "requirements.txt").write_text("")
    model = tmp_path / "model.safetensors"
    model.write_bytes(SAFETENSORS)
    return project, model


def commands(inputs: tuple[Path, Path]) -> dict[str, list[str]]:
    project, model = inputs
    return {
        "audit": [str(project), "--offline", "--format", "json", "-q"],
        "scan": ["scan", str(model), "--format", "json", "-q"],
        "sbom": ["sbom", str(project), "--offline", "-q"],
    }


COMMANDS = ["audit", "scan", "sbom"]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_regular_file_is_written_atomically_keeping_its_mode(inputs: tuple[Path, Path], tmp_path: Path,
                                                              command: str) -> None:
    out = tmp_path / "reports" / "report.json"
    out.parent.mkdir()
    out.write_text("old")
    out.chmod(0o640)
    code, _, err = cli(*commands(inputs)[command], "-o", str(out))
    assert code == 0, err
    assert json.loads(out.read_text()) and stat.S_IMODE(out.stat().st_mode) == 0o640
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.json"]  # no temporary file left behind


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("shape", ["relative", "absolute", "chain", "dangling"])
def test_a_link_keeps_being_a_link(inputs: tuple[Path, Path], tmp_path: Path, command: str, shape: str) -> None:
    real = tmp_path / "store" / "latest.json"
    real.parent.mkdir()
    if shape != "dangling":
        real.write_text("old")
    link = tmp_path / "out.json"
    if shape == "chain":
        (tmp_path / "middle.json").symlink_to(real)
        link.symlink_to("middle.json")
    else:
        link.symlink_to(real if shape == "absolute" else Path("store") / "latest.json")
    code, _, err = cli(*commands(inputs)[command], "-o", str(link))
    assert code == 0, err
    assert link.is_symlink() and json.loads(real.read_text())


@pytest.mark.parametrize("command", COMMANDS)
def test_a_fifo_is_written_through(inputs: tuple[Path, Path], tmp_path: Path, command: str) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as fh:
            received.append(fh.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    code, _, err = cli(*commands(inputs)[command], "-o", str(fifo))
    if thread.is_alive():  # the old code renamed a file over the FIFO: release the reader
        with open(fifo, "wb"):
            pass
    thread.join(10)
    assert code == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a regular file"
    assert received and json.loads(received[0])


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a device node needs root (mknod)")
@pytest.mark.parametrize("command", COMMANDS)
def test_a_device_node_is_written_through_not_replaced(inputs: tuple[Path, Path], tmp_path: Path,
                                                       command: str) -> None:
    node = tmp_path / "null"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the null device, as the test's own node
    link = tmp_path / "to-null"
    link.symlink_to(node)
    for target in (node, link):
        code, _, err = cli(*commands(inputs)[command], "-o", str(target))
        assert code == 0, err
        assert stat.S_ISCHR(os.stat(node).st_mode) and link.is_symlink()


@pytest.mark.parametrize("target", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"])
def test_standard_output_by_name(inputs: tuple[Path, Path], target: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "auditor", *commands(inputs)["scan"], "-o", target], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["inputs"] == [str(inputs[1])]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_folder_is_a_usage_error(inputs: tuple[Path, Path], tmp_path: Path, command: str) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    for target in (folder, tmp_path / "dirlink"):
        if target != folder:
            target.symlink_to(folder, target_is_directory=True)
        code, out, err = cli(*commands(inputs)[command], "-o", str(target))
        assert code == 2 and "is a folder" in err and str(target) in err and "internal error" not in err, err
        assert list(folder.iterdir()) == []

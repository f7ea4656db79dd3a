"""Kill-and-rerun: a ``db update`` or a cache write killed with SIGKILL at the worst moment never leaves a cache
that breaks, or silently changes, the next run.

Real processes (``python -m auditor``), real kills, real files: the next run must work and use the database that
was in place before the killed one started.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.faults.harness import run_cli
from tests.support.httpserver import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]


def osv_record(rid: str, name: str, modified: str = "2030-01-01") -> dict[str, object]:
    return {"id": rid, "modified": f"{modified}T00:00:00Z", "summary": f"{rid} for {name}",
            "affected": [{"package": {"name": name, "ecosystem": "PyPI"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.0"}]}]}]}


def export_zip(records: list[dict[str, object]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return buf.getvalue()


PREVIOUS = export_zip([osv_record("PYSEC-2030-1", "kill-demo")])  # the "previous" good update
# A second export that must never become visible: many records, so indexing takes long enough to be killed.
NEXT = export_zip([osv_record("PYSEC-2031-1", "kill-demo")]
                  + [osv_record(f"PYSEC-2031-{n}", f"filler-{n}") for n in range(2, 20000)])


@contextmanager
def stalling_server(body: bytes, sent: threading.Event) -> Iterator[str]:
    """An HTTP server that announces ``len(body)`` bytes, sends half, sets ``sent`` and then stalls."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {len(body)}\r\n"
                        "\r\n").encode()
                try:
                    conn.sendall(head + body[: len(body) // 2])
                except OSError:
                    continue
                sent.set()
                stop.wait(30)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/PyPI/all.zip"
    finally:
        stop.set()
        listener.close()


def spawn(*argv: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "auditor", *argv], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def has_file(folder: Path, wanted: Callable[[str], bool]) -> bool:
    """A non-empty file whose name matches ``wanted`` exists in ``folder`` (tolerates files vanishing mid-scan)."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return False
    for entry in entries:
        try:
            if wanted(entry.name) and entry.stat().st_size > 0:
                return True
        except FileNotFoundError:
            continue
    return False


def kill_when(proc: subprocess.Popen[bytes], condition: Callable[[], bool], what: str, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert proc.poll() is None, f"the process ended (exit {proc.returncode}) before {what}: " \
                                    f"{proc.stderr.read().decode()[-500:] if proc.stderr else ''}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.002)
    proc.kill()
    proc.wait(10)
    assert proc.returncode == -9


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache whose updated database holds PYSEC-2030-1 (installed by a real, healthy update)."""
    path = tmp_path / "cache"
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(path))
    with LoopbackServer() as srv:
        srv.static("/PyPI/all.zip", PREVIOUS, "application/zip")
        outcome = run_cli(["db", "update", "--url", f"{srv.url}/PyPI/all.zip", "--timeout", "5"])
    assert outcome.code == 0, outcome.err
    return path


def status() -> dict[str, object]:
    outcome = run_cli(["db", "status", "--format", "json"])
    assert outcome.code == 0, outcome.err
    info = json.loads(outcome.out)
    assert isinstance(info, dict)
    return info


def audit_ids(tmp_path: Path) -> list[str]:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "requirements.txt").write_text("kill-demo==1.0\n")
    outcome = run_cli([str(project), "--offline", "-f", "json", "-q", "--fail-on", "critical"])
    assert outcome.code in (0, 1), outcome.err
    report = outcome.report
    assert report is not None
    return sorted(f["id"] for f in report["findings"] if f["kind"] == "vulnerability")


def assert_previous_db_in_use(tmp_path: Path) -> None:
    info = status()
    assert info["database"] == "updated" and info["records"] == 1 and info["date"] == "2030-01-01", info
    assert audit_ids(tmp_path) == ["PYSEC-2030-1"]


def test_update_killed_mid_download(cache: Path, tmp_path: Path) -> None:
    sent = threading.Event()
    with stalling_server(NEXT, sent) as url:
        proc = spawn("db", "update", "--url", url, "--timeout", "30")
        kill_when(proc, sent.is_set, "half the export was sent")
    assert_previous_db_in_use(tmp_path)
    _rerun_update_works(cache)


def test_update_killed_while_indexing(cache: Path, tmp_path: Path) -> None:
    folder = cache / "advisories"
    with LoopbackServer() as srv:
        srv.static("/PyPI/all.zip", NEXT, "application/zip")
        proc = spawn("db", "update", "--url", f"{srv.url}/PyPI/all.zip", "--timeout", "30")
        # the staging index (and the temporary file it is built in) exist for the whole indexing phase
        kill_when(proc, lambda: has_file(folder, lambda name: "osv-staging" in name), "indexing started")
    assert_previous_db_in_use(tmp_path)
    _rerun_update_works(cache)


def _rerun_update_works(cache: Path) -> None:
    """After the kill, the next ``db update`` is not blocked by the dead one (lock, temp files) and succeeds."""
    with LoopbackServer() as srv:
        srv.static("/PyPI/all.zip", export_zip([osv_record("PYSEC-2032-1", "kill-demo", "2032-02-02")]), "application/zip")
        outcome = run_cli(["db", "update", "--url", f"{srv.url}/PyPI/all.zip", "--timeout", "5"])
    assert outcome.code == 0, outcome.err
    assert status()["date"] == "2032-02-02"  # the new export's date: it was installed
    leftovers = [p.name for p in (cache / "advisories").iterdir() if p.name.startswith(".")]
    assert leftovers == [], f"temporary files of the killed update were never cleaned up: {leftovers}"


def test_embedded_index_build_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The advisory index is a cache file built on first use; killing that first run mid-write must not leave a
    file the next run trusts. The next run rebuilds it and audits normally."""
    cache = tmp_path / "fresh-cache"
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(cache))
    folder = cache / "advisories"
    proc = spawn("db", "status", "--format", "json")
    kill_when(proc, lambda: has_file(folder, lambda name: name.endswith(".tmp")), "the index write started")
    assert not [p for p in folder.iterdir() if p.suffix == ".sqlite"], "a half-built index has its final name"
    info = status()
    assert info["database"] == "embedded" and int(info["records"]) > 1000  # type: ignore[call-overload]
    project = tmp_path / "project"
    project.mkdir()
    (project / "requirements.txt").write_text("urllib3==1.24.1\n")  # old pin with well-known advisories
    outcome = run_cli([str(project), "--offline", "-f", "json", "-q", "--fail-on", "critical"])
    report = outcome.report
    assert report is not None, outcome.err
    assert any(f["kind"] == "vulnerability" and f["package"]["name"] == "urllib3" for f in report["findings"])

"""``mlaudit db update`` killed (SIGKILL) in a real subprocess, mid-download and mid-index: the previous database
stays in use, byte for byte, and the next update cleans the leftovers and succeeds."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from auditor.advisories.db import ensure_embedded_db, open_store, updated_db_path
from auditor.advisories.findings import vulnerability_findings
from tests.support.httpserver import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and flock are POSIX")


def osv(rid: str, name: str, fixed: str) -> dict[str, Any]:
    return {"id": rid, "modified": "2026-11-20T10:00:00Z", "summary": f"{rid} summary",
            "affected": [{"package": {"name": name, "ecosystem": "PyPI"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]}


def export_zip(records: list[dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return buf.getvalue()


@pytest.fixture
def cache(tmp_path: Path, session_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    embedded = ensure_embedded_db()
    (tmp_path / "advisories").mkdir()
    shutil.copy(embedded, tmp_path / "advisories" / embedded.name)
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(tmp_path))
    old = tmp_path / "old.zip"
    old.write_bytes(export_zip([osv("PYSEC-OLD-1", "demo-pkg", "2.0")]))
    assert _run(["db", "update", "--from", str(old)], tmp_path).returncode == 0
    return tmp_path


def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLAUDIT_", "HTTP_PROXY", "HTTPS_PROXY"))}
    env.update({"MLAUDIT_CACHE_DIR": str(cache), "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT)})
    return env


def _run(argv: list[str], cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *argv], env=_env(cache), capture_output=True, text=True,
                          timeout=120, check=False)


def _kill_when(argv: list[str], cache: Path, ready: Callable[[], bool], timeout: float = 60.0) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "auditor", *argv], env=_env(cache), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"update ended (exit {proc.returncode}) before the kill point: {err.decode()[-500:]}")
            if time.monotonic() > deadline:
                pytest.fail("the kill point was never reached")
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert proc.returncode == -signal.SIGKILL


def _leftovers(cache: Path, marker: str) -> list[Path]:
    return [p for p in (cache / "advisories").iterdir() if marker in p.name]


def _assert_old_db_in_use(cache: Path, before: bytes) -> None:
    assert updated_db_path().read_bytes() == before
    store = open_store()
    (finding,) = vulnerability_findings("demo-pkg", "1.0", store.vulnerabilities("demo-pkg"))
    assert finding.id == "PYSEC-OLD-1"
    status = _run(["db", "status", "--format", "json"], cache)
    assert status.returncode == 0 and json.loads(status.stdout)["vulnerabilities"] == 1


@contextmanager
def stalling_server(body: bytes, sent: int) -> Iterator[tuple[str, threading.Event]]:
    """A raw loopback HTTP server that announces the whole body, sends ``sent`` bytes, then stalls until released
    (the client is mid-download for as long as the test wants)."""
    release = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:sent])
            release.wait(60)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/PyPI/all.zip", release
    finally:
        release.set()
        listener.close()
        thread.join(5)


NEW = [osv("PYSEC-NEW-1", "demo-pkg", "3.0")]


def test_killed_mid_download_keeps_old_db(cache: Path) -> None:
    before = updated_db_path().read_bytes()
    body = export_zip(NEW * 1) + b"\0" * 200_000
    with stalling_server(body, 100_000) as (url, _release):
        def downloading() -> bool:
            return any(p.stat().st_size > 0 for p in _leftovers(cache, "download"))

        _kill_when(["db", "update", "--url", url, "--timeout", "30"], cache, downloading)
    assert _leftovers(cache, "download")  # the killed process could not clean up ...
    _assert_old_db_in_use(cache, before)
    good = cache / "new.zip"
    good.write_bytes(export_zip(NEW))
    assert _run(["db", "update", "--from", str(good)], cache).returncode == 0
    assert not _leftovers(cache, ".osv-")  # ... the next update does
    (finding,) = vulnerability_findings("demo-pkg", "1.0", open_store().vulnerabilities("demo-pkg"))
    assert finding.id == "PYSEC-NEW-1"


def test_killed_mid_index_keeps_old_db(cache: Path) -> None:
    before = updated_db_path().read_bytes()
    many = [osv(f"PYSEC-BULK-{i}", f"bulk-{i % 5000}", "1.0") for i in range(15_000)]
    with LoopbackServer() as srv:
        srv.static("/PyPI/all.zip", export_zip(many), "application/zip")

        def indexing() -> bool:
            return bool(_leftovers(cache, "staging"))

        _kill_when(["db", "update", "--url", f"{srv.url}/PyPI/all.zip"], cache, indexing)
    _assert_old_db_in_use(cache, before)
    assert _run(["db", "update", "--from", str(cache / "old.zip")], cache).returncode == 0
    assert not _leftovers(cache, ".osv-")


def test_concurrent_update_is_refused(cache: Path) -> None:
    body = export_zip(NEW) + b"\0" * 50_000
    with stalling_server(body, 10_000) as (url, release):
        proc = subprocess.Popen([sys.executable, "-m", "auditor", "db", "update", "--url", url, "--timeout", "30"],
                                env=_env(cache), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not _leftovers(cache, "download"):
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.005)
            second = _run(["db", "update", "--from", str(cache / "old.zip")], cache)
            assert second.returncode == 3 and "another `mlaudit db update` is running" in second.stderr
        finally:
            proc.kill()
            proc.wait(30)
            release.set()

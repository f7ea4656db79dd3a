"""``mlaudit db update --url`` against every fault: exit 3 naming the export's host, and the database in use
afterwards is exactly the one from before (an offline audit still uses it)."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from auditor.advisories.db import ensure_embedded_db
from auditor.net import host_of
from tests.faults.harness import ALL_FAULTS, Outcome, assert_failed_loudly, run_cli, serve_fault
from tests.support.httpserver import LoopbackServer

EXPORT_PATH = "/PyPI/all.zip"


def export_zip() -> bytes:
    """A valid export whose single record would show up in ``db status`` if it were ever installed."""
    record = {"id": "PYSEC-2099-77", "modified": "2099-01-01T00:00:00Z", "summary": "only in the faulty export",
              "affected": [{"package": {"name": "fault-demo", "ecosystem": "PyPI"},
                            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("PYSEC-2099-77.json", json.dumps(record))
    return buf.getvalue()


def healthy_export(srv: LoopbackServer) -> None:
    srv.static(EXPORT_PATH, export_zip(), "application/zip")


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of our own holding a copy of the session's embedded index (nothing is rebuilt)."""
    embedded = ensure_embedded_db()
    cache = tmp_path / "cache"
    (cache / "advisories").mkdir(parents=True)
    shutil.copy(embedded, cache / "advisories" / embedded.name)
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(cache))
    return cache


def status() -> dict[str, object]:
    outcome = run_cli(["db", "status", "--format", "json"])
    assert outcome.code == 0, outcome.err
    info = json.loads(outcome.out)
    assert isinstance(info, dict)
    return info


def update(url: str) -> Outcome:
    return run_cli(["db", "update", "--url", f"{url}{EXPORT_PATH}", "--timeout", "0.5", "--retries", "0"])


@pytest.mark.parametrize("fault", ALL_FAULTS)
def test_db_update_fault_keeps_the_previous_database(fault: str, private_cache: Path, tmp_path: Path) -> None:
    before = status()
    with serve_fault(fault, healthy_export, tmp_path / "tls") as url:
        outcome = update(url)
    # NetworkErrors say "OSV export (host)"; a body that is not a zip is reported with the export's URL.
    assert_failed_loudly(outcome, ("OSV export", f"{url}{EXPORT_PATH}"), host_of(url))
    after = status()
    assert after == before
    assert after["database"] == "embedded"
    leftovers = [p.name for p in (private_cache / "advisories").iterdir()
                 if p.name.startswith(".") or p.suffix == ".tmp" or p.name.startswith("osv")]
    assert leftovers == [], f"a failed update left files behind: {leftovers}"


def test_the_same_export_served_healthily_is_installed(private_cache: Path, tmp_path: Path) -> None:
    """Control: the export the faults hide is valid, so the failures above are the faults' doing."""
    with LoopbackServer() as srv:
        healthy_export(srv)
        outcome = update(srv.url)
    assert outcome.code == 0, outcome.err
    info = status()
    assert info["database"] == "updated" and info["records"] == 1 and info["date"] == "2099-01-01"

"""``mlaudit db update`` against an export zip served on 127.0.0.1: a good zip is swapped in; a truncated zip,
a 500 or a dropped connection keep the previous database and exit 3."""

from __future__ import annotations

import argparse
import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from auditor.advisories.db import ensure_embedded_db, open_store, updated_db_path
from auditor.advisories.findings import malicious_findings, vulnerability_findings
from auditor.commands import db_cmd
from tests.support.httpserver import LoopbackServer, Response


def osv(rid: str, name: str, events: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    return {"id": rid, "modified": "2026-11-20T10:00:00Z", "summary": f"{rid} summary",
            "affected": [{"package": {"name": name, "ecosystem": "PyPI"},
                          "ranges": [{"type": "ECOSYSTEM", "events": events}]}], **extra}


def export_zip(records: list[dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return buf.getvalue()


GOOD = [
    osv("PYSEC-2099-1", "demo-pkg", [{"introduced": "0"}, {"fixed": "2.0"}], aliases=["GHSA-demo-demo-demo"]),
    osv("GHSA-demo-demo-demo", "demo-pkg", [{"introduced": "0"}, {"fixed": "2.0"}], aliases=["PYSEC-2099-1"],
        database_specific={"severity": "HIGH"}),
    osv("MAL-2099-5", "evil-pkg-mlaudit-test", [{"introduced": "0"}]),
]


@pytest.fixture
def cache(tmp_path: Path, session_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache holding a copy of the session's embedded index (so nothing rebuilds it)."""
    embedded = ensure_embedded_db()
    (tmp_path / "advisories").mkdir()
    shutil.copy(embedded, tmp_path / "advisories" / embedded.name)
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(tmp_path))
    return tmp_path


def run_db(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    db_cmd.configure(parser)
    return db_cmd.run(parser.parse_args(list(argv)))


def test_good_zip_is_swapped_in(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with LoopbackServer() as srv:
        srv.static("/PyPI/all.zip", export_zip(GOOD), "application/zip")
        assert run_db("update", "--url", f"{srv.url}/PyPI/all.zip") == 0
    out = capsys.readouterr().out
    assert "indexed 3 OSV records (2 advisories, 1 malicious" in out and "snapshot date 2026-11-20" in out
    assert updated_db_path().is_file()
    store = open_store()
    assert store.updated and store.mal_db is store.vulns_db
    (finding,) = vulnerability_findings("demo-pkg", "1.0", store.vulnerabilities("demo-pkg"))
    assert finding.id == "PYSEC-2099-1" and finding.aliases == ["GHSA-demo-demo-demo"]
    assert finding.fix == "upgrade to 2.0"
    assert malicious_findings("evil-pkg-mlaudit-test", "3.0", store.malicious("evil-pkg-mlaudit-test"))
    source = store.advisory_source()
    assert source.date == "2026-11-20" and source.records == 2 and source.source.endswith("/PyPI/all.zip")
    capsys.readouterr()
    assert run_db("status", "--format", "json") == 0
    info = json.loads(capsys.readouterr().out)
    # the export's MAL- record is read beside the shipped ones (9,207 MAL- + 38 aliasing PYSEC records)
    assert info["database"] == "updated" and info["vulnerabilities"] == 2
    assert info["malicious"]["records"] == 1 + 9207 + 38 and len(info["malicious"]["paths"]) == 2


def test_export_without_mal_keeps_embedded_malicious(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    path.write_bytes(export_zip(GOOD[:2]))
    assert run_db("update", "--from", str(path)) == 0
    store = open_store()
    assert store.updated and store.mal_db is not store.vulns_db
    assert store.malicious("equests")  # from the shipped MAL data


def _install_good(cache: Path) -> bytes:
    path = cache / "good.zip"
    path.write_bytes(export_zip(GOOD))
    assert run_db("update", "--from", str(path)) == 0
    return updated_db_path().read_bytes()


@pytest.mark.parametrize("fault", ["truncated", "500", "reset", "not-json", "empty-zip", "other-ecosystem"])
def test_failed_update_keeps_old_db(cache: Path, fault: str, capsys: pytest.CaptureFixture[str]) -> None:
    before = _install_good(cache)
    good = export_zip(GOOD)
    with LoopbackServer() as srv:
        if fault == "truncated":
            srv.static("/all.zip", good[: len(good) // 2], "application/zip")
        elif fault == "500":
            srv.route("GET", "/all.zip", lambda _r: Response(500, b"boom"))
        elif fault == "reset":
            srv.route("GET", "/all.zip", lambda _r: Response(reset=True))
        elif fault == "not-json":
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as archive:
                archive.writestr("A.json", json.dumps(GOOD[0]))
                archive.writestr("B.json", "{not json")
            srv.static("/all.zip", buf.getvalue())
        elif fault == "other-ecosystem":
            npm = osv("GHSA-npmx-npmx-npmx", "left-pad", [{"introduced": "0"}])
            npm["affected"][0]["package"]["ecosystem"] = "npm"
            srv.static("/all.zip", export_zip([npm]))
        else:
            srv.static("/all.zip", export_zip([]))
        capsys.readouterr()
        code = run_db("update", "--url", f"{srv.url}/all.zip", "--retries", "1", "--timeout", "5")
    assert code == 3
    assert "error" in capsys.readouterr().err
    assert updated_db_path().read_bytes() == before
    assert not [p for p in updated_db_path().parent.iterdir() if p.name.startswith(".")]  # no temp files left


def test_env_url_and_missing_file(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with LoopbackServer() as srv:
        srv.static("/x.zip", export_zip(GOOD))
        monkeypatch.setenv("MLAUDIT_OSV_URL", f"{srv.url}/x.zip")
        assert run_db("update") == 0
        assert [r.path for r in srv.log] == ["/x.zip"]
    assert run_db("update", "--from", str(cache / "nope.zip")) == 2


def test_status_embedded(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_db("status") == 0
    out = capsys.readouterr().out
    assert "embedded" in out and "snapshot date:   2026-07-23  (" in out and "days old, stale)" in out
    assert "mlaudit db update" in out and "7042 records" in out


def test_cli_exit_code_and_freshness(cache: Path) -> None:
    from datetime import datetime, timezone

    from auditor.cli import main
    from tests.support.httpserver import closed_port_url

    assert main(["db", "update", "--url", f"{closed_port_url()}/all.zip", "--retries", "0"]) == 3
    assert not updated_db_path().exists()
    today = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = cache / "fresh.zip"
    path.write_bytes(export_zip([dict(GOOD[0], modified=today)]))
    assert main(["db", "update", "--from", str(path)]) == 0
    store = open_store()
    assert store.advisory_source().stale is False
    # advisories fresh, malicious packages still the shipped 2025-06-04 records: the warning names that date only
    warning = store.stale_warning()
    assert warning is not None and f"advisories {today[:10]} (0 days)" in warning
    assert "malicious packages 2025-06-04" in warning
    path.write_bytes(export_zip([dict(GOOD[0], modified=today), dict(GOOD[2], modified=today)]))
    assert main(["db", "update", "--from", str(path)]) == 0
    store = open_store()
    assert store.malicious_source().date == today[:10] and store.stale_warning() is None


def test_damaged_indexes_are_recovered(cache: Path) -> None:
    embedded = ensure_embedded_db()
    embedded.write_bytes(b"not a database")
    store = open_store()  # rebuilt
    assert store.vulnerabilities("jinja2") and not store.updated
    updated_db_path().write_bytes(b"garbage")
    store = open_store()
    assert not store.updated and any("unreadable" in w for w in store.warnings)


def test_checks_join_malware_advisory_to_mal_record(cache: Path, tmp_path: Path) -> None:
    """Through the registered checks on an updated DB: the GHSA named by a MAL- record's aliases is not a second
    (vulnerability) finding; the MAL finding lists it."""
    from auditor.checks.advisories import CHECK as ADVISORIES
    from auditor.checks.malicious import CHECK as MALICIOUS
    from auditor.domain import Package, Report
    from auditor.net import HttpClient
    from auditor.options import AuditContext, AuditOptions

    records = [osv("MAL-2099-7", "evil-pkg-mlaudit-test", [{"introduced": "0"}], aliases=["GHSA-evil-evil-evil"]),
               osv("GHSA-evil-evil-evil", "evil-pkg-mlaudit-test", [{"introduced": "0"}]),
               osv("PYSEC-2099-1", "demo-pkg", [{"introduced": "0"}, {"fixed": "2.0"}])]
    path = tmp_path / "export.zip"
    path.write_bytes(export_zip(records))
    assert run_db("update", "--from", str(path)) == 0
    report = Report()
    report.add_package(Package(name="evil-pkg-mlaudit-test", version="1.0"))
    report.add_package(Package(name="demo-pkg", version="1.0"))
    ctx = AuditContext(options=AuditOptions(offline=True), report=report, http=HttpClient())
    found = [(f.kind, f.id, f.aliases) for f in [*MALICIOUS.run(ctx), *ADVISORIES.run(ctx)]]
    assert found == [("malicious", "MAL-2099-7", ["GHSA-evil-evil-evil"]), ("vulnerability", "PYSEC-2099-1", [])]

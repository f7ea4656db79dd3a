"""Issue 29: the shipped malicious-package records reach 2025-06-04 (9,207 MAL- records; 2,698 published
2024-06-06 .. 2025-06-04 were added), and the data's age is actionable.

Names used below come from the added records (published after the previous data's 2024-05-31 end), so every test
here fails on the previous shipped file.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditor.advisories.db import ensure_embedded_db, open_store
from auditor.cli import main
from auditor.tools import uv_binary
from tests.advisories.test_end_to_end import JINJA2_2_10, by_kind, pins, run_json
from tests.support.index import LocalIndex

ADDED = {  # name -> (MAL id, a listed version), from the records published 2024-06-06 .. 2025-06-04
    "requestn": ("MAL-2024-1547", "8.0"),
    "sintaxisoyyo": ("MAL-2024-6014", "0.8"),
    "grpc-google-bigtable-v2": ("MAL-2025-4665", "0.11.99"),
    "proto-google-cloud-dlp-v2beta1": ("MAL-2025-4666", "0.15.99"),
}
NAME_CHECKS = {"advisories", "malicious", "unclaimed-name"}


def _only(checks: set[str]) -> list[str]:
    from auditor.checks import load_checks

    return [a for c in load_checks() if c.name not in checks for a in ("--disable-check", c.name)]


def test_added_records_are_reported_malicious_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "".join(f"{name}=={version}\n" for name, (_mal, version) in ADDED.items())
    code, report = run_json(capsys, ["--offline", str(pins(tmp_path, text)), *_only(NAME_CHECKS)])
    assert code == 1
    found = {f["package"]["name"]: f for f in by_kind(report, "malicious")}
    assert {name: f["id"] for name, f in found.items()} == {name: mal for name, (mal, _v) in ADDED.items()}
    for name, finding in found.items():
        assert finding["severity"] == "critical" and finding["evidence"]["version_listed"] is True, name
        assert finding["evidence"]["published"] >= "2024-06-06"
    source = report["data"]["malicious packages"]
    assert (source["records"], source["date"]) == (9207 + 38, "2025-06-04")


@pytest.fixture(scope="module")
def index_url() -> Iterator[str]:
    """A loopback index serving a harmless wheel under an added malicious name (built here; nothing of the
    original package), and nothing for ``sintaxisoyyo``: removed from the index, as malware is."""
    index = LocalIndex()
    index.add_wheel("grpc-google-bigtable-v2", "0.11.99")
    index.add_wheel("six", "1.16.0")
    with index.serve() as url:
        yield url


def test_added_records_reach_a_resolved_audit_and_unclaimed_names(tmp_path: Path, index_url: str,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    if uv_binary() is None:
        pytest.skip("uv binary not available")
    req = tmp_path / "requirements.txt"
    req.write_text("six\ngrpc-google-bigtable-v2\nsintaxisoyyo\n")
    code, report = run_json(capsys, [str(req), "--index-url", index_url, "--python-version", "3.11",
                                     *_only(NAME_CHECKS)])
    assert code == 1
    mal = {f["package"]["name"]: f for f in by_kind(report, "malicious")}
    assert mal["grpc-google-bigtable-v2"]["id"] == "MAL-2025-4665"
    assert mal["grpc-google-bigtable-v2"]["package"]["version"] == "0.11.99"
    assert mal["grpc-google-bigtable-v2"]["severity"] == "critical"
    assert mal["sintaxisoyyo"]["id"] == "MAL-2024-6014"  # no version: the name itself is known malware
    (unclaimed,) = by_kind(report, "unclaimed-name")
    assert unclaimed["package"]["name"] == "sintaxisoyyo" and unclaimed["severity"] == "critical"
    assert unclaimed["evidence"]["known_malicious"] == ["MAL-2024-6014"]
    assert "MAL-2024-6014" in unclaimed["message"] and "published as malware" in unclaimed["message"]


def test_db_status_counts_the_records_with_their_dates(capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import date, datetime, timezone

    capsys.readouterr()
    assert main(["db", "status", "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    mal = info["malicious"]
    assert (mal["records"], mal["packages"]) == (9207 + 38, 9245)  # 38 PYSEC records alias a MAL- id
    assert (mal["published_first"], mal["published_last"], mal["date"]) == ("2022-05-31", "2025-06-04", "2025-06-04")
    age = (datetime.now(timezone.utc).date() - date(2025, 6, 4)).days
    assert mal["age_days"] == age and mal["stale"] is True
    assert info["popular_names"]["date"] == "2026-04-01"
    assert main(["db", "status"]) == 0
    out = capsys.readouterr().out
    assert "malicious:       9245 records for 9245 package names, published 2022-05-31 .. 2025-06-04" in out
    assert f"malicious date:  2025-06-04  ({age} days old, stale)" in out
    assert "--from all.zip" in out  # the offline way to refresh is said where the age is


def test_stale_after_days_policy_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    req = pins(tmp_path, "six==1.16.0\n")
    policy = tmp_path / "mlaudit.toml"
    policy.write_text("stale-after-days = 36500\n")
    code, report = run_json(capsys, ["--offline", str(req), *_only(NAME_CHECKS)])
    assert code == 0 and not [w for w in report["warnings"] if "mlaudit db update" in w]
    assert report["data"]["advisories"]["stale"] is False and report["data"]["malicious packages"]["stale"] is False
    policy.write_text("stale-after-days = 200\n")  # advisories (2026-07-23) fresh enough; malware data is not
    code, report = run_json(capsys, ["--offline", str(req), *_only(NAME_CHECKS)])
    assert report["data"]["malicious packages"]["stale"] is True
    assert any("malicious packages 2025-06-04" in w and "(now 200)" in w for w in report["warnings"])
    policy.write_text('stale-after-days = "a month"\n')
    capsys.readouterr()
    assert main(["--offline", str(req), "--format", "json", "-q"]) == 2
    assert "stale-after-days" in capsys.readouterr().err


def _zip(records: list[dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return buf.getvalue()


@pytest.fixture
def private_cache(tmp_path: Path, session_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    (cache / "advisories").mkdir(parents=True)
    embedded = ensure_embedded_db()
    shutil.copy(embedded, cache / "advisories" / embedded.name)
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(cache))
    return cache


def test_db_update_from_a_file_brings_advisories_and_malicious_records(tmp_path: Path, private_cache: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """``db update --from`` (the offline way): a file with both kinds; then a file of MAL- records only, which must
    not leave audits without advisories."""
    vuln = {"id": "GHSA-fake-fake-fake", "modified": "2026-12-01T00:00:00Z", "summary": "fresh problem",
            "affected": [{"package": {"name": "six", "ecosystem": "PyPI"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.17.0"}]}]}]}
    mal = {"id": "MAL-2026-9999", "modified": "2026-12-01T00:00:00Z", "published": "2026-12-01T00:00:00Z",
           "summary": "Malicious code in fresh-evil-name (PyPI)",
           "affected": [{"package": {"name": "fresh-evil-name", "ecosystem": "PyPI"}, "versions": ["1.0"]}]}
    export = tmp_path / "all.zip"
    export.write_bytes(_zip([vuln, mal]))
    assert main(["db", "update", "--from", str(export)]) == 0
    req = pins(tmp_path, "six==1.16.0\nfresh-evil-name==1.0\nrequestn==8.0\n")
    _code, report = run_json(capsys, ["--offline", str(req), *_only(NAME_CHECKS)])
    assert [f["id"] for f in by_kind(report, "vulnerability")] == ["GHSA-fake-fake-fake"]
    # the export's MAL- record and the shipped ones (an export older than the release must not hide them)
    assert {f["id"] for f in by_kind(report, "malicious")} == {"MAL-2026-9999", "MAL-2024-1547"}

    export.write_bytes(_zip([mal]))  # malicious records only
    assert main(["db", "update", "--from", str(export)]) == 0
    store = open_store()
    assert store.updated is False and store.mal_db.meta["kind"] == "updated"  # advisories: the shipped snapshot
    req = pins(tmp_path, "Jinja2==2.10\nfresh-evil-name==1.0\n")
    _code, report = run_json(capsys, ["--offline", str(req), *_only(NAME_CHECKS)])
    assert {f["id"] for f in by_kind(report, "vulnerability")} == JINJA2_2_10
    assert [f["id"] for f in by_kind(report, "malicious")] == ["MAL-2026-9999"]

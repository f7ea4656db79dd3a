"""Shared pieces of the remediation tests: OSV records written into a small advisory database the tests own, and
a run of ``mlaudit`` through ``auditor.cli.main``."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from auditor.advisories.db import build_index, ensure_embedded_db, updated_db_path
from auditor.cli import main
from auditor.resources import data_file


def osv(record_id: str, name: str, events: Sequence[dict[str, str]], *, aliases: Sequence[str] = (),
        severity: str | None = "HIGH") -> dict[str, Any]:
    """One OSV record for PyPI package ``name`` with one ECOSYSTEM range."""
    record: dict[str, Any] = {
        "id": record_id, "aliases": list(aliases), "modified": "2026-01-01T00:00:00Z",
        "published": "2026-01-01T00:00:00Z", "summary": f"{record_id} in {name}",
        "affected": [{"package": {"ecosystem": "PyPI", "name": name},
                      "ranges": [{"type": "ECOSYSTEM", "events": list(events)}]}],
    }
    if severity:
        record["database_specific"] = {"severity": severity}
    return record


def install_db(cache: Path, records: Sequence[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """A private cache whose updated advisory database holds exactly ``records`` (the shipped malicious data
    stays beside it; the session's embedded index is copied, not rebuilt)."""
    embedded = ensure_embedded_db()
    (cache / "advisories").mkdir(parents=True, exist_ok=True)
    shutil.copy(embedded, cache / "advisories" / embedded.name)
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(cache))
    build_index(updated_db_path(), list(records), {"kind": "updated", "source": "remediation tests",
                                                   "date": "2026-06-01"})


def run_cli(capsys: pytest.CaptureFixture[str], argv: Sequence[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def audit_json(capsys: pytest.CaptureFixture[str], argv: Sequence[str]) -> tuple[int, dict[str, Any]]:
    """The JSON report of an audit, checked against the published schema (``remediation`` included)."""
    code, out, err = run_cli(capsys, [*argv, "--format", "json", "-q"])
    assert out, err
    report = json.loads(out)
    schema = json.loads(data_file("report.schema.json").read_text())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in jsonschema.Draft202012Validator(schema).iter_errors(report)]
    assert errors == []
    return code, report

"""Issue 23 (1): advisory events that are not PEP 440 versions never widen a range.

``last_affected: "2.6.0-NA"`` skipped left ``introduced: "0"`` open, so the newest torch "had" nine advisories. These
tests read every such event of the shipped snapshot, check that each one is interpreted, and audit the newest
release of popular ML packages against the whole snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.version import InvalidVersion, Version

from auditor.advisories.db import AdvisoryDB, AdvisoryStore, build_index, embedded_sources, iter_jsonl_gz, open_store
from auditor.advisories.findings import vulnerability_findings
from auditor.advisories.match import affected_entries, read_event_value
from auditor.advisories.runtime import ADVISORY_STORE
from auditor.checks.advisories import CHECK as ADVISORIES
from auditor.domain import Package, Report
from auditor.net import HttpClient, NetConfig
from auditor.options import AuditContext, AuditOptions


@pytest.fixture(scope="module")
def store() -> AdvisoryStore:
    return open_store()


def _is_pep440(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def shipped_odd_events() -> Iterator[tuple[str, str, str, str]]:
    """(record id, package, event kind, value) of every ECOSYSTEM event in the shipped data that is not PEP 440."""
    advisories, malicious, _meta = embedded_sources()
    for path in (advisories, malicious):
        for record in iter_jsonl_gz(path):
            for entry in record.get("affected") or []:
                for rng in entry.get("ranges") or []:
                    if rng.get("type") != "ECOSYSTEM":
                        continue
                    for event in rng.get("events") or []:
                        for kind, value in event.items():
                            if (kind, value) != ("introduced", "0") and not _is_pep440(value) and "*" not in value:
                                yield record["id"], entry["package"]["name"], kind, value


def test_every_odd_event_in_the_shipped_data_is_interpreted() -> None:
    odd = list(shipped_odd_events())
    assert len(odd) >= 30  # 35 in the 2026-07-23 snapshot: torch, apache-airflow, gdal, ollama, neutron, ...
    readings = {value: read_event_value(value) for _rid, _name, _kind, value in odd}
    unread = {value: how for value, (version, how) in readings.items() if version is None}
    assert not unread, f"event values with no version reading: {unread}"
    assert all(how for _version, how in readings.values())  # every reading says how it was made
    # the readings the issue names, and the kinds of strings the snapshot holds
    assert str(readings["2.6.0-NA"][0]) == "2.6.0" and str(readings["2.6.0-cu124"][0]) == "2.6.0"
    assert str(readings["7.2.0-12.1"][0]) == "7.2.0.post12"  # neutron: a packaging revision after 7.2.0
    assert str(readings["2024-09-25"][0]) == "2024.9.25"  # a date
    # a suffix is never misread as a pre-release marker (``2.6.0-cu124`` is not ``2.6.0-c`` = 2.6.0rc0)
    spelled = ("alpha", "beta", "rc", "dev")
    assert [v for v, (ver, _how) in readings.items() if ver and ver.is_prerelease and not any(
        s in v for s in spelled)] == []


def test_newest_torch_has_no_advisory_and_an_old_torch_still_does(store: AdvisoryStore) -> None:
    records = store.vulnerabilities("torch")
    assert vulnerability_findings("torch", "2.15.0", records) == []
    old = {f.id: f for f in vulnerability_findings("torch", "2.5.0", records)}
    # PYSEC-2025-189: last_affected "2.6.0-cu124"; PYSEC-2025-192: last_affected "2.6.0-NA"
    for rid, value in (("PYSEC-2025-189", "2.6.0-cu124"), ("PYSEC-2025-192", "2.6.0-NA")):
        found = next(f for f in old.values() if rid in f.all_ids)
        readings = found.evidence["version_readings"]
        assert {"record": rid, "event": "last_affected", "value": value, "read_as": "2.6.0"}.items() <= \
            readings[0].items()
        assert "longest PEP 440 prefix" in readings[0]["how"]
    # the end of the range counts: 2.6.0 (and its local builds) affected, 2.6.1 not
    assert any("PYSEC-2025-192" in f.all_ids for f in vulnerability_findings("torch", "2.6.0+cu124", records))
    assert not any("PYSEC-2025-192" in f.all_ids for f in vulnerability_findings("torch", "2.6.1", records))


# Thirty packages every ML project depends on, and three with odd events of their own.
POPULAR_ML = ["torch", "transformers", "numpy", "tensorflow", "scikit-learn", "pandas", "scipy", "keras", "jax",
              "pillow", "opencv-python", "huggingface-hub", "datasets", "tokenizers", "safetensors", "accelerate",
              "onnx", "onnxruntime", "xgboost", "lightgbm", "mlflow", "ray", "langchain", "vllm", "gradio",
              "matplotlib", "torchvision", "protobuf", "jinja2", "aiohttp", "apache-airflow", "gdal", "ollama"]


def _versions_named(records: list[dict[str, Any]], name: str) -> list[Version]:
    found: list[Version] = []
    for record in records:
        for entry in affected_entries(record, name):
            for rng in entry.get("ranges") or []:
                for event in rng.get("events") or []:
                    found.extend(v for value in event.values() if (v := read_event_value(str(value))[0]))
            found.extend(v for value in entry.get("versions") or [] if (v := read_event_value(value)[0]))
    return found


def _open_as_written(record: dict[str, Any], name: str) -> bool:
    """The record itself says no release is fixed: a range with no closing event at all."""
    for entry in affected_entries(record, name):
        for rng in entry.get("ranges") or []:
            kinds = {k for event in rng.get("events") or [] for k in event}
            if rng.get("type") == "ECOSYSTEM" and not kinds & {"fixed", "last_affected", "limit"}:
                return True
    return False


@pytest.mark.parametrize("name", POPULAR_ML)
def test_newest_release_of_popular_ml_packages_gets_no_advisory_that_does_not_apply(store: AdvisoryStore,
                                                                                   name: str) -> None:
    """A release above every version any record of the package names: only an advisory whose own range never closes
    may apply to it."""
    records = store.vulnerabilities(name)
    top = max(_versions_named(records, name), default=Version("1"))
    newest = f"{top.release[0] + 1}.0.0"
    found = vulnerability_findings(name, newest, records)
    wrong = [f.id for f in found if not any(_open_as_written(r, name) for r in records if r.get("id") in f.all_ids)]
    assert wrong == [], f"{name} {newest}: {wrong}"


def test_a_range_without_a_readable_end_is_named_not_reported(tmp_path: Path) -> None:
    """``fixed: "trunk"`` holds no version: the range is not evaluated (it would flag every later release) and the
    report says which advisory could not be checked."""
    record = {"id": "PYSEC-TEST-1", "affected": [{"package": {"name": "demo", "ecosystem": "PyPI"}, "ranges": [
        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "trunk"}]}]}]}
    build_index(tmp_path / "x.sqlite", [record], {"kind": "updated", "source": "test", "date": "2026-12-01"})
    db = AdvisoryDB.open(tmp_path / "x.sqlite")
    report = Report()
    report.add_package(Package(name="demo", version="1.0"))
    ctx = AuditContext(options=AuditOptions(), report=report, http=HttpClient(NetConfig()))
    ctx.caches.put(ADVISORY_STORE, AdvisoryStore(db, db))
    assert list(ADVISORIES.run(ctx)) == []
    assert any("PYSEC-TEST-1" in w and "fixed 'trunk'" in w and "not evaluated" in w for w in report.warnings)

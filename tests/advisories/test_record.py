"""OSV records leave the advisories package typed (``OsvRecord``): the store and the OSV API answer with them, and
the fields other stages read are attributes whose bad types read as absent, never as an exception."""

from __future__ import annotations

from auditor.advisories.db import ensure_embedded_db, open_store
from auditor.advisories.record import OsvRecord


def test_fields_are_typed_and_hostile_types_read_as_absent() -> None:
    record = OsvRecord({"id": "PYSEC-1", "aliases": ["CVE-1", 7, " "], "withdrawn": "", "published": 3,
                        "summary": "  s  ", "references": [{"url": "https://example.invalid/a"}, "x", {"url": 5}]})
    assert record.id == "PYSEC-1" and record.aliases == ("CVE-1",) and record.ids == {"PYSEC-1", "CVE-1"}
    assert record.withdrawn is None and record.published is None and record.summary == "s"
    assert record.references == ("https://example.invalid/a",)
    assert OsvRecord({"withdrawn": "2024-01-01T00:00:00Z"}).withdrawn == "2024-01-01T00:00:00Z"
    assert OsvRecord({"id": ["not", "text"]}).id == ""
    assert record["id"] == "PYSEC-1" and record.get("missing") is None and "aliases" in record


def test_the_store_answers_with_typed_records() -> None:
    ensure_embedded_db()
    records = open_store().vulnerabilities_many(["jinja2"])["jinja2"]
    assert records and all(isinstance(r, OsvRecord) for r in records)
    assert all(r.id.startswith("PYSEC-") for r in records)

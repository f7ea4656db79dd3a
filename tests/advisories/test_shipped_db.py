"""The embedded database against real advisories and the shared, independently computed expected findings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from auditor.advisories.db import (
    AdvisoryStore,
    embedded_sources,
    ensure_embedded_db,
    iter_jsonl_gz,
    open_store,
    record_names,
)
from auditor.advisories.findings import malicious_findings, vulnerability_findings
from auditor.advisories.match import affected_candidates, affected_entries, compiled_entries, record_affects
from auditor.advisories.record import OsvRecord
from tests.support.fixtures import EVAL_INPUTS


@pytest.fixture
def store() -> AdvisoryStore:
    return open_store()


def _ids(store: AdvisoryStore, name: str, version: str) -> dict[str, list[str]]:
    return {f.id: f.aliases for f in vulnerability_findings(name, version, store.vulnerabilities(name))}


def test_jinja2_2_10(store: AdvisoryStore) -> None:
    found = _ids(store, "Jinja2", "2.10")
    match = [fid for fid, aliases in found.items() if "GHSA-462w-v97r-4m45" in aliases]
    assert match and match[0].startswith("PYSEC-")
    assert "CVE-2019-10906" in found[match[0]]


def test_pyyaml_5_3_1(store: AdvisoryStore) -> None:
    found = _ids(store, "PyYAML", "5.3.1")
    assert any("CVE-2020-14343" in aliases for aliases in found.values())
    assert not _ids(store, "pyyaml", "6.0.1")


def test_lookup_returns_only_that_name(store: AdvisoryStore) -> None:
    records = store.vulnerabilities("jinja2")
    assert records
    for record in records:
        names = {a["package"]["name"].lower() for a in record["affected"]}
        assert "jinja2" in names


def test_known_malicious_name(store: AdvisoryStore) -> None:
    (finding,) = malicious_findings("equests", "0.0.1", store.malicious("equests"))
    assert finding.id.startswith("MAL-") and finding.kind == "malicious"
    assert store.malicious("requests") == []


def test_known_malicious_helper() -> None:
    from auditor.advisories.db import known_malicious

    found = known_malicious(["Equests", "requests", "tucan_x"])
    assert found == {"equests": ["MAL-2022-7433"], "tucan-x": ["MAL-2023-1421"]}


def test_embedded_index_is_reused_and_fingerprinted(store: AdvisoryStore) -> None:
    path = ensure_embedded_db()
    assert path.name.startswith("embedded-") and path == store.vulns_db.path
    assert ensure_embedded_db() == path
    # 7,080 records in the advisory file; 38 alias a MAL- id and are indexed as malicious-package records beside
    # the 9,207 MAL- records (issue 29: published up to 2025-06-04)
    assert store.advisory_source().records == 7042 and store.vulns_db.count("malicious") == 9207 + 38
    assert store.advisory_source().date == "2026-07-23"
    facts = store.malicious_facts()
    assert (facts.records, facts.names) == (9207 + 38, 9245)
    assert (facts.published_first, facts.published_last, facts.date) == ("2022-05-31", "2025-06-04", "2025-06-04")
    assert store.advisory_source().stale  # more than 30 days old on any day these tests can run
    warning = store.stale_warning()
    assert warning is not None and "mlaudit db update" in warning


@pytest.mark.parametrize("name", ["small", "medium", "large"])
def test_expected_findings_exactly(store: AdvisoryStore, name: str) -> None:
    expected = json.loads((EVAL_INPUTS / f"{name}.expected.json").read_text())
    packages = expected["packages"]
    records = store.vulnerabilities_many(p["name"] for p in packages)
    got = {(p["name"], p["version"], f.id)
           for p in packages for f in vulnerability_findings(p["name"], p["version"], records[p["name"]])}
    want = {(f["package"], f["version"], f["id"]) for f in expected["findings"]}
    assert got == want
    withdrawn = {(w["package"], w["version"], w["id"]) for w in expected["withdrawn_advisories_that_would_match"]}
    assert not got & withdrawn
    by_key = {(p["name"], p["version"], f.id): f
              for p in packages for f in vulnerability_findings(p["name"], p["version"], records[p["name"]])}
    for f in expected["findings"]:
        mine = by_key[(f["package"], f["version"], f["id"])]
        assert set(f["aliases"]) <= set(mine.aliases)
        assert set(mine.fixed_versions) == set(f["fixed_versions"])
        assert set(mine.evidence["matched_by"]) == set(f["matched_by"])


def test_checks_on_large_input() -> None:
    """The registered checks, fed a report (some packages audited from their pin only), agree with the truth."""
    from auditor.checks import CHECK_MODULES
    from auditor.checks.advisories import CHECK as ADVISORIES
    from auditor.checks.malicious import CHECK as MALICIOUS
    from auditor.domain import Package, Report
    from auditor.net import HttpClient
    from auditor.options import AuditContext, AuditOptions

    assert {"auditor.checks.malicious", "auditor.checks.advisories"} <= set(CHECK_MODULES)
    expected = json.loads((EVAL_INPUTS / "large.expected.json").read_text())
    report = Report()
    for i, p in enumerate(expected["packages"]):
        report.add_package(Package(name=p["name"], version=p["version"], direct=p["direct"], resolved=i % 2 == 0))
    messages: list[str] = []
    ctx = AuditContext(options=AuditOptions(offline=True), report=report, http=HttpClient(),
                       progress=messages.append)
    findings = list(MALICIOUS.run(ctx)) + list(ADVISORIES.run(ctx))
    got = {(f.package[0], f.package[1], f.id) for f in findings if f.package and f.kind == "vulnerability"}
    assert got == {(f["package"], f["version"], f["id"]) for f in expected["findings"]}
    assert not [f for f in findings if f.kind == "malicious"]
    assert all(f.check == "advisories" and f.fix for f in findings)
    assert messages  # progress text was reported
    (source,) = [s for s in report.data_sources if s.name == "advisories"]
    assert (source.date, source.records, source.stale) == ("2026-07-23", 7042, True)
    assert not any("mlaudit db update" in w for w in report.warnings)  # the pipeline adds it once, after the checks


def test_unwritable_cache_dir_still_audits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache dir that cannot be created (here: below a regular file) gives a temporary index and a warning,
    not a crash and not a silently empty database."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(blocker / "cache"))
    store = open_store()
    assert not store.updated and any("temporary index" in w for w in store.warnings)
    assert _ids(store, "jinja2", "2.10")


@pytest.mark.parametrize(("days", "stale"), [(0, False), (30, False), (31, True), (400, True)])
def test_stale_boundary_is_30_days(tmp_path: Path, days: int, stale: bool) -> None:
    import datetime as dt

    from auditor.advisories.db import AdvisoryDB, build_index

    date = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).date().isoformat()
    path = tmp_path / "x.sqlite"
    build_index(path, [{"id": "PYSEC-1", "affected": [{"package": {"name": "a", "ecosystem": "PyPI"}}]},
                       {"id": "MAL-1", "modified": f"{date}T00:00:00Z",
                        "affected": [{"package": {"name": "b", "ecosystem": "PyPI"}}]}],
                {"kind": "updated", "source": "test", "date": date})
    db = AdvisoryDB.open(path)
    store = AdvisoryStore(db, db)
    assert store.advisory_source().stale is stale and store.advisory_source().date == date
    assert store.malicious_source().stale is stale and store.malicious_source().date == date
    assert (store.stale_warning() is not None) is stale


def test_withdrawn_mal_record_is_not_malicious() -> None:
    mal = {"id": "MAL-2024-77", "withdrawn": "2024-05-01T00:00:00Z",
           "affected": [{"package": {"name": "demo", "ecosystem": "PyPI"}, "versions": ["1.0"]}]}
    assert malicious_findings("demo", "1.0", [mal]) == []


def test_new_shipped_data_is_reindexed_on_first_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A release with new advisory data (or a new index layout) gets a new fingerprint: the first audit builds a new
    index from it and removes the stale one, so nobody keeps matching against the previous snapshot."""
    import gzip

    from auditor.advisories import db

    folder = tmp_path / "data"
    folder.mkdir()
    advisories, malicious, meta = folder / "pypa-osv.jsonl.gz", folder / "mal.jsonl.gz", folder / "db-meta.json"

    def ship(record_id: str, date: str) -> None:
        record = {"id": record_id, "affected": [{"package": {"name": "demo", "ecosystem": "PyPI"},
                                                 "versions": ["1.0"]}]}
        advisories.write_bytes(gzip.compress(json.dumps(record).encode() + b"\n"))
        malicious.write_bytes(gzip.compress(b""))
        meta.write_text(json.dumps({"commit_date": f"{date}T00:00:00+00:00", "commit": "c" * 40,
                                    "licence": "CC-BY-4.0"}))

    monkeypatch.setattr(db, "embedded_sources", lambda: (advisories, malicious, meta))
    cache = tmp_path / "cache"
    ship("PYSEC-OLD-1", "2024-10-10")
    old = db.ensure_embedded_db(cache)
    ship("PYSEC-NEW-1", "2026-07-23")
    new = db.ensure_embedded_db(cache)
    assert new != old and not old.exists() and [p.name for p in cache.glob("embedded-*.sqlite")] == [new.name]
    opened = db.AdvisoryDB.open(new)
    assert [r["id"] for r in opened.lookup("demo", malicious=False)] == ["PYSEC-NEW-1"]
    assert opened.meta["date"] == "2026-07-23"
    assert db.ensure_embedded_db(cache) == new  # and reused from then on


def test_updated_db_from_another_version_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An updated database written by an mlaudit with another index layout is not read half-right: the shipped
    snapshot is used and the warning says what happened and what to run."""
    import sqlite3

    from auditor.advisories.db import build_index, updated_db_path

    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    build_index(updated_db_path(), [{"id": "GHSA-x", "affected": []}], {"kind": "updated", "source": "t"})
    with sqlite3.connect(updated_db_path()) as conn:
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
    store = open_store()
    assert not store.updated
    (warning,) = store.warnings
    assert "built by another mlaudit version" in warning and "mlaudit db update" in warning


def test_an_updated_db_of_the_previous_layout_is_still_read_the_same(tmp_path: Path) -> None:
    """Schema 3 kept a ``versions`` list beside its stored keys; schema 4 keeps the keys only. An index of either
    layout answers the same (the keys are what is matched), so an updated database from before is not refused."""
    import json
    import sqlite3

    from auditor.advisories.db import SCHEMA, AdvisoryDB, build_index
    from auditor.advisories.match import LISTED_FIELD, stored_listing_keys

    record = {"id": "PYSEC-L", "affected": [{"package": {"name": "demo", "ecosystem": "PyPI"},
                                             "versions": ["1.0", "1.1.0", "2.0rc1"]}]}
    new, old = tmp_path / "new.sqlite", tmp_path / "old.sqlite"
    for path in (new, old):
        build_index(path, [record], {"kind": "updated", "source": "t"})
    with sqlite3.connect(old) as conn:  # what schema 3 wrote: the list and its keys
        entry = {**record["affected"][0], LISTED_FIELD: stored_listing_keys(record["affected"][0]["versions"])}
        conn.execute("UPDATE records SET body = ? WHERE id = 'PYSEC-L'", (json.dumps({**record, "affected": [entry]}),))
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema'")
    assert SCHEMA == "4"
    answers = []
    for path in (new, old):
        (got,) = AdvisoryDB.open(path).lookup("demo", malicious=False)
        answers.append([record_affects(got, "demo", v) for v in ("1.0", "1.0.0", "1.1", "1.2", "2.0rc1", "2.0")])
    assert answers[0] == answers[1] == [True, True, True, False, True, False]


def test_an_index_from_before_the_malicious_dates_were_kept_still_reports_them(tmp_path: Path) -> None:
    """An updated database written by an earlier mlaudit has no MAL- date range in its meta: audits use its older
    keys (no query); ``db status`` reads the range from its records once."""
    import sqlite3

    from auditor.advisories.db import AdvisoryDB, build_index

    path = tmp_path / "old.sqlite"
    build_index(path, [{"id": "MAL-1", "published": "2024-01-02T00:00:00Z", "modified": "2024-03-04T00:00:00Z",
                        "affected": [{"package": {"name": "bad-one", "ecosystem": "PyPI"}}]},
                       {"id": "MAL-2", "published": "2024-02-03T00:00:00Z", "modified": "2024-02-05T00:00:00Z",
                        "affected": [{"package": {"name": "bad-two", "ecosystem": "PyPI"}}]}],
                {"kind": "updated", "source": "old"})
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM meta WHERE key IN ('malicious_packages', 'mal_published_first', "
                     "'mal_published_last', 'newest_mal_modified')")
    db = AdvisoryDB.open(path)
    store = AdvisoryStore(db, db)
    assert store.malicious_source().date == "2024-03-04" and store.malicious_source().records == 2
    facts = store.malicious_facts()
    assert (facts.records, facts.names, facts.published_first, facts.published_last) == (
        2, 2, "2024-01-02", "2024-02-03")


_NAMES = ("tensorflow", "django", "pillow", "jinja2", "torch", "transformers", "mlflow")


@pytest.fixture(scope="module")
def shipped() -> dict[str, dict[str, object]]:
    """The shipped records as written (the index keeps a ``versions`` list as its listing keys only), by id."""
    wanted = set(_NAMES)
    return {str(r["id"]): r for r in iter_jsonl_gz(embedded_sources()[0]) if record_names(r) & wanted}


def _listed(raw: dict[str, object], name: str) -> set[str]:
    return {v for e in affected_entries(raw, name) for v in e.get("versions") or [] if isinstance(v, str)}


def test_affected_candidates_agrees_with_record_affects_on_shipped_records(
        store: AdvisoryStore, shipped: dict[str, dict[str, object]]) -> None:
    """Every record of packages with many advisories, against every version its data names (fixed events and listed
    versions) plus spellings around them: the batch answer equals the pair-by-pair one."""
    for name in _NAMES[:6]:
        records = store.vulnerabilities(name)
        assert records, name
        candidates: set[str] = set()
        for record in records:
            for entry in compiled_entries(record, name):
                for rng in entry.ranges:
                    candidates.update(rng.fixed)
            candidates |= _listed(shipped[record.id], name)
        ordered = sorted(candidates | {c + ".post1" for c in candidates} | {c + "+cpu" for c in candidates})
        for record in records:
            expected = {c for c in ordered if record_affects(record, name, c)}
            assert affected_candidates(record, name, ordered) == expected, (name, record.get("id"))


def test_listing_keys_stored_in_the_index_match_as_computed_ones(store: AdvisoryStore,
                                                                  shipped: dict[str, dict[str, object]]) -> None:
    """Records read from the index carry their ``versions`` as stored listing keys only (the list itself is not
    stored); matching with them gives the same answers as the shipped record as written, whose keys are computed
    from its list (``OsvRecord`` without the index's trust)."""
    checked = 0
    for name in ("tensorflow", "django", "pillow", "jinja2", "torch", "mlflow"):
        for record in store.vulnerabilities(name):
            assert isinstance(record, OsvRecord) and record.indexed
            plain = OsvRecord(shipped[record.id])
            listed = _listed(shipped[record.id], name)
            assert not any("versions" in e for e in affected_entries(record, name)), record.id  # keys only
            if listed:
                assert any(e.framed is not None for e in compiled_entries(record, name)), record.id
            for version in sorted(listed)[:40]:
                for spelled in (version, version + ".0", version + "+cpu", version + ".post7"):
                    assert record_affects(record, name, spelled) == record_affects(plain, name, spelled), spelled
                    checked += 1
    assert checked > 1000


def test_shipped_digests_are_remembered_by_stat_and_redone_when_a_file_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded index's fingerprint hashes the shipped files once per stat: a later process reads the digests
    from the cache folder (the same fingerprint, no hashing); a file replaced (new stat) is hashed again."""
    from auditor.advisories import db

    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    shipped_copy = tmp_path / "meta.json"
    shipped_copy.write_text('{"commit": "a"}')
    sources = (*db.embedded_sources()[:2], shipped_copy)
    monkeypatch.setattr(db, "embedded_sources", lambda: sources)
    hashed: list[Path] = []
    real = db.sha256_file

    def counting(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(db, "sha256_file", counting)
    monkeypatch.setattr(db, "_FP_CACHE", {})
    first = db.embedded_fingerprint()
    assert len(hashed) == 3
    monkeypatch.setattr(db, "_FP_CACHE", {})  # a new process: only the cache folder remembers
    assert db.embedded_fingerprint() == first and len(hashed) == 3
    before = shipped_copy.stat()
    shipped_copy.write_text('{"commit": "b"}')  # same size, new content and stat (a tick apart at least)
    os.utime(shipped_copy, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    monkeypatch.setattr(db, "_FP_CACHE", {})
    changed = db.embedded_fingerprint()
    assert hashed[3:] == [shipped_copy] and changed != first
    monkeypatch.setattr(db, "_FP_CACHE", {})
    monkeypatch.setattr(db, "sha256_file", real)
    assert db.embedded_fingerprint() == changed


def test_lookups_keep_the_records_in_sql_id_order(store: AdvisoryStore) -> None:
    """Records are ordered by id in Python (no ORDER BY copying every body through a temporary B-tree): the same
    order SQLite's ``ORDER BY r.id`` gives, for names with many records and ids of every prefix."""
    names = ["django", "tensorflow", "pillow", "jinja2", "urllib3", "requests"]
    got = store.vulnerabilities_many(names)
    conn = store.vulns_db.conn
    for name in names:
        expected = [row[0] for row in conn.execute(
            "SELECT r.id FROM names n JOIN records r ON r.id = n.id WHERE n.name = ? AND r.malicious = 0 "
            "ORDER BY r.id", (name,))]
        assert [r.id for r in got[name]] == expected and len(expected) > 3, name

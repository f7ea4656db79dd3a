"""An independent table of hand-written OSV records and the versions each must (and must not) match.

Each case is written from the OSV schema's evaluation rule, not from the implementation: events sorted by version
("0" lowest), introduced/fixed/last_affected/limit, several ranges, ``versions`` lists OR ranges, GIT ignored,
withdrawn excluded, PEP 503 names, pre-releases, local versions matched as their public version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from auditor.advisories.db import AdvisoryDB, build_index
from auditor.advisories.match import (
    LISTED_FIELD,
    SCORE_FIELD,
    affected_candidates,
    compiled_entries,
    match_record,
    range_affects,
    record_affects,
    record_severity,
    sort_versions,
    stored_listing_keys,
)
from auditor.advisories.record import OsvRecord
from auditor.domain import Severity


def rec(*ranges: list[dict[str, str]], versions: list[str] | None = None, name: str = "demo",
        ecosystem: str = "PyPI", rtype: str = "ECOSYSTEM", **extra: Any) -> dict[str, Any]:
    affected: dict[str, Any] = {"package": {"name": name, "ecosystem": ecosystem}}
    if ranges:
        affected["ranges"] = [{"type": rtype, "events": events} for events in ranges]
    if versions is not None:
        affected["versions"] = versions
    return {"id": "TEST-1", "affected": [affected], **extra}


INTRO, F, L, LIM = "introduced", "fixed", "last_affected", "limit"


def ev(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{k: v} for k, v in pairs]


CASES: list[tuple[str, dict[str, Any], list[str], list[str]]] = [
    # (label, record, affected versions, unaffected versions)
    ("introduced 0, fixed", rec(ev((INTRO, "0"), (F, "2.0"))), ["0.1", "1.9.9", "2.0rc1"], ["2.0", "2.0.1", "3"]),
    ("introduced mid, fixed", rec(ev((INTRO, "1.2"), (F, "1.5"))), ["1.2", "1.4.99"], ["1.1", "1.2rc1", "1.5", "2"]),
    ("open-ended", rec(ev((INTRO, "1.0"),)), ["1.0", "99.0"], ["0.9"]),
    ("unsorted events", rec(ev((F, "2.0"), (INTRO, "1.0"), (F, "1.1"), (INTRO, "1.5"))),
     ["1.0", "1.0.5", "1.5", "1.9"], ["0.5", "1.1", "1.4", "2.0", "2.1"]),
    ("multiple intervals in one range", rec(ev((INTRO, "0"), (F, "1.0"), (INTRO, "2.0"), (F, "2.3"))),
     ["0.9", "2.0", "2.2"], ["1.0", "1.5", "2.3"]),
    ("several ranges", rec(ev((INTRO, "1.0"), (F, "1.1")), ev((INTRO, "3.0"), (F, "3.1"))),
     ["1.0", "3.0.5"], ["1.1", "2.0", "3.1"]),
    ("last_affected", rec(ev((INTRO, "0"), (L, "1.11.0"))), ["1.10", "1.11.0"], ["1.11.1", "1.12"]),
    ("limit bounds the range", rec(ev((INTRO, "1.0"), (LIM, "2.0"))), ["1.0", "1.9"], ["0.9", "2.0", "5.0"]),
    ("limit star", rec(ev((INTRO, "1.0"), (LIM, "*"))), ["1.0", "50"], ["0.5"]),
    ("pre-release fixed bound", rec(ev((INTRO, "0"), (F, "0.9.3.dev6"))),
     ["0.9.2", "0.9.3.dev5"], ["0.9.3.dev6", "0.9.3", "0.9.3rc1"]),
    ("pre-release introduced bound", rec(ev((INTRO, "2.0.0a1"), (F, "2.0.1"))),
     ["2.0.0a1", "2.0.0rc1", "2.0.0"], ["1.9", "2.0.0a0", "2.0.1"]),
    ("versions list only", rec(versions=["1.0", "1.2"]), ["1.0", "1.0.0", "1.2"], ["1.1", "1.3"]),
    ("versions outside own range still affected", rec(ev((INTRO, "0"), (F, "23.9.0")), versions=["23.9.0"]),
     ["23.8", "23.9.0"], ["23.9.1"]),
    ("invalid versions in data never crash", rec(ev((INTRO, "0"), (F, "2019-09-12")), versions=["0.2.0-n653", "1.0"]),
     ["0.2.0-n653", "1.0", "5.0"], []),
    ("invalid introduced skipped", rec(ev((INTRO, "not a version"), (F, "2.0"))), [], ["1.0", "3.0"]),
    ("GIT ranges ignored", rec(ev((INTRO, "abc123"), (F, "def456")), rtype="GIT"), [], ["0.1", "1.0"]),
    ("withdrawn excluded", rec(ev((INTRO, "0"),), withdrawn="2023-01-01T00:00:00Z"), [], ["1.0"]),
    ("other ecosystem ignored", rec(ev((INTRO, "0"),), ecosystem="npm"), [], ["1.0"]),
    ("local version matched as public", rec(ev((INTRO, "0"), (L, "1.0"))), ["1.0+cpu", "0.9+cu118"], ["1.0.1+cpu"]),
    ("local version vs fixed", rec(ev((INTRO, "0"), (F, "2.1"))), ["2.0+cu121"], ["2.1+cu121"]),
    ("same version introduced and fixed", rec(ev((INTRO, "1.0"), (F, "1.0"))), [], ["1.0", "0.9", "1.1"]),
    ("invalid candidate only string-equal", rec(ev((INTRO, "0"),), versions=["weird-1"]), ["weird-1"], ["weird-2"]),
    ("empty record", {"id": "X", "affected": []}, [], ["1.0"]),
    # "0" sorts before every version, including pre-releases of 0 (Version("0") would not)
    ("introduced 0 covers 0a1 and 0.dev0", rec(ev((INTRO, "0"), (F, "0.1"))), ["0a1", "0.dev0", "0", "0.0.9"],
     ["0.1", "1"]),
    ("introduced 0 after a fixed in file order", rec(ev((F, "1.0"), (INTRO, "0"))), ["0rc1", "0.9"], ["1.0"]),
    ("several limits: below any one", rec(ev((INTRO, "1.0"), (LIM, "1.5"), (LIM, "3.0"))),
     ["1.0", "2.9"], ["0.9", "3.0"]),
    ("limit with fixed", rec(ev((INTRO, "0"), (F, "2.0"), (LIM, "1.5"))), ["1.4"], ["1.5", "1.9", "2.0"]),
    ("limit containing a star is infinity", rec(ev((INTRO, "1.0"), (LIM, "2.*"))), ["1.0", "99"], ["0.1"]),
    # issue 23 (1): a closing event that is not PEP 440 never widens a range
    ("unreadable limit: range not evaluated", rec(ev((INTRO, "1.0"), (LIM, "n/a"))), [], ["0.9", "1.0", "7"]),
    ("unreadable fixed: range not evaluated", rec(ev((INTRO, "0"), (F, "trunk"))), [], ["0.1", "9"]),
    ("last_affected X-NA read as X", rec(ev((INTRO, "0"), (L, "2.6.0-NA"))), ["2.5.0", "2.6.0", "2.6.0+cu124"],
     ["2.6.1", "2.7.0rc1", "2.15.0"]),
    ("last_affected X-cu124 read as X, not as a release candidate", rec(ev((INTRO, "0"), (L, "2.6.0-cu124"))),
     ["2.6.0"], ["2.6.1", "2.15.0"]),
    ("fixed with a packaging revision read as a post-release", rec(ev((INTRO, "0"), (F, "7.2.0-12.1"))),
     ["7.2.0", "7.2.0.post11"], ["7.2.0.post12", "7.2.1"]),
    ("a date read as its release segment", rec(ev((INTRO, "0"), (L, "2024-09-25"))), ["2024.9.25", "1.0"],
     ["2024.9.26", "2025.1"]),
    ("last_affected then reintroduced", rec(ev((INTRO, "0"), (L, "1.0"), (INTRO, "2.0"), (L, "2.1"))),
     ["1.0", "2.0", "2.1"], ["1.0.1", "1.9", "2.1.1"]),
    ("introduced and last_affected at one version", rec(ev((L, "1.0"), (INTRO, "1.0"))), ["1.0"], ["0.9", "1.0.1"]),
    ("post and dev releases order", rec(ev((INTRO, "1.0.post1"), (F, "1.1.dev0"))),
     ["1.0.post1", "1.0.1", "1.0.9"], ["1.0", "1.1.dev0", "1.1"]),
    ("epochs", rec(ev((INTRO, "1!0.1"),)), ["1!0.1", "1!2"], ["9.9", "2024.1"]),
    ("versions list compares PEP 440-equal", rec(versions=["1.0.0", "2.0.0rc1", "3.0+cpu"]),
     ["1.0", "1.0.0", "2.0.0c1", "2.0rc1", "3.0", "3.0+cpu"], ["1.0.1", "2.0.0"]),
    ("SEMVER ranges not evaluated", rec(ev((INTRO, "0"),), rtype="SEMVER"), [], ["1.0"]),
    ("database_specific ignored for matching",
     rec(ev((INTRO, "0"), (F, "2.0")), database_specific={"last_known_affected_version_range": "<= 9.0"}),
     ["1.0"], ["2.0", "5.0"]),
]


@pytest.mark.parametrize(("label", "record", "hits", "misses"), CASES, ids=[c[0] for c in CASES])
def test_table(label: str, record: dict[str, Any], hits: list[str], misses: list[str]) -> None:
    for version in hits:
        assert match_record(record, "demo", version) is not None, f"{label}: {version} should be affected"
    for version in misses:
        assert match_record(record, "demo", version) is None, f"{label}: {version} should not be affected"


@pytest.mark.parametrize(("label", "record", "hits", "misses"), CASES, ids=[c[0] for c in CASES])
def test_affected_candidates_is_record_affects_for_many(label: str, record: dict[str, Any], hits: list[str],
                                                        misses: list[str]) -> None:
    """The batch form (remediation asks every record about every candidate at once) answers as one pair at a time."""
    versions = [*hits, *misses]
    assert affected_candidates(record, "Demo", versions) == set(hits), label
    assert affected_candidates(record, "demo", versions) == {v for v in versions if record_affects(record, "demo", v)}
    assert affected_candidates(record, "demo", []) == frozenset()


def test_names_are_pep503_normalised() -> None:
    record = rec(ev((INTRO, "0"),), name="Zope.Interface_Extra")
    assert match_record(record, "zope-interface-extra", "1.0") is not None
    assert match_record(record, "Zope_Interface.extra", "1.0") is not None
    assert match_record(record, "zope-interface", "1.0") is None


def test_matched_by_and_fixed_versions() -> None:
    record = rec(ev((INTRO, "0"), (F, "1.1")), ev((INTRO, "2.0"), (F, "2.2"), (F, "2.1")), versions=["1.0"])
    both = match_record(record, "demo", "1.0")
    assert both is not None
    assert both.matched_by == ("range", "versions")
    assert both.fixed_versions == ("1.1", "2.1", "2.2")
    range_only = match_record(record, "demo", "2.0")
    assert range_only is not None and range_only.matched_by == ("range",)
    assert range_only.ranges and range_only.ranges[0]["events"][0] == {"introduced": "2.0"}


def test_range_affects_direct() -> None:
    assert range_affects([{"fixed": "2"}, {"introduced": "0"}], Version("1"))
    assert not range_affects([], Version("1"))


def test_sort_versions_puts_invalid_last() -> None:
    assert sort_versions(["1.10", "bad", "1.2", "1.2rc1"]) == ["1.2rc1", "1.2", "1.10", "bad"]


@pytest.mark.parametrize(("severity", "spec", "expected", "source"), [
    ([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}], None, Severity.CRITICAL, "cvss"),
    ([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N"}], None, Severity.LOW, "cvss"),
    ([{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}], None,
     Severity.CRITICAL, "cvss"),
    ([{"type": "CVSS_V3", "score": "garbage"}], {"severity": "MODERATE"}, Severity.MEDIUM, "record"),
    ([], {"severity": "HIGH"}, Severity.HIGH, "record"),
    ([{"type": "CVSS_V3", "score": "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}], {"severity": "LOW"}, Severity.CRITICAL,
     "cvss"),
    ([{"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:P/I:P/A:P"}], {"severity": "moderate"}, Severity.MEDIUM,
     "record"),
    ([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"}], None, Severity.INFO, "cvss"),
    ([], None, Severity.UNKNOWN, "none"),  # never a guessed default
    ([], {"severity": "UNKNOWN"}, Severity.UNKNOWN, "none"),
    ([], {"severity": "whatever"}, Severity.UNKNOWN, "none"),
    ([{"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:C/I:C/A:C"}], None, Severity.UNKNOWN, "none"),  # v2 not used
    # v3.1 (7.8, high) and v4 (5.4, medium) of one advisory disagree: the higher counts
    ([{"type": "CVSS_V4", "score": "CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"},
      {"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"}], None, Severity.HIGH, "cvss"),
])
def test_severity(severity: list[dict[str, str]], spec: dict[str, str] | None, expected: Severity,
                  source: str) -> None:
    record: dict[str, Any] = {"id": "X", "severity": severity, "affected": []}
    if spec is not None:
        record["database_specific"] = spec
    info = record_severity(record)
    assert (info.severity, info.source) == (expected, source)


def test_several_affected_entries_for_one_package() -> None:
    """The schema allows several ``affected`` entries per package (e.g. split by ``ecosystem_specific``): any of
    them matching is enough; an entry of another package (or a PyPI name differing after PEP 503) never is."""
    record = {"id": "X-2", "affected": [
        {"package": {"name": "demo", "ecosystem": "PyPI"}, "ecosystem_specific": {"imports": ["demo.a"]},
         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "1.1"}]}]},
        {"package": {"name": "Demo", "ecosystem": "PyPI"}, "versions": ["2.0"]},
        {"package": {"name": "demo-extra", "ecosystem": "PyPI"},
         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]},
    ]}
    hits = {v: match_record(record, "demo", v) for v in ("1.0", "2.0", "1.5", "3.0")}
    assert hits["1.0"] is not None and hits["1.0"].matched_by == ("range",)
    assert hits["2.0"] is not None and hits["2.0"].matched_by == ("versions",)
    assert hits["1.5"] is None and hits["3.0"] is None
    assert match_record(record, "demo-extra", "9") is not None


def test_severity_source_says_where_it_came_from() -> None:
    both = {"id": "X-1", "affected": [], "severity": [
        {"type": "CVSS_V4", "score": "CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"},
        {"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"}]}
    info = record_severity(both)
    assert (info.score, info.vector) == (7.8, "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H")
    assert info.describe() == ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H: base score 7.8 (high), from X-1 "
                               "(the highest of its vectors; also "
                               "CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N: 5.4)")
    word = record_severity({"id": "GHSA-1", "affected": [], "database_specific": {"severity": "MODERATE"}})
    assert word.describe() == "severity 'MODERATE' in GHSA-1 (database_specific.severity): medium"
    none = record_severity({"id": "PYSEC-1", "affected": [],
                            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:X"}]})
    assert none.severity is Severity.UNKNOWN
    assert none.describe() == "no severity in any record (present but not usable: PYSEC-1: unscorable CVSS:3.1/AV:X)"


@pytest.mark.parametrize(("a", "b", "equal"), [
    ("1.0", "1.0.0", True), ("1.0+cpu", "1", True), ("01.0", "1", True), ("1.0RC1", "1.0rc1", True),
    ("1.0-1", "1.0.post1", True), ("v1.0", "1.0", True), ("2019.01.01", "2019.1.1", True), ("0.0", "0", True),
    ("1!1.0", "1.0", False), ("1.0a1", "1.0", False), ("1.0.dev0", "1.0", False), ("1.10", "1.1", False),
])
def test_versions_list_matches_pep440_equal_spellings(a: str, b: str, equal: bool) -> None:
    record = {"id": "X-3", "affected": [{"package": {"name": "demo", "ecosystem": "PyPI"}, "versions": [a]}]}
    hit = match_record(record, "demo", b)
    assert (hit is not None and hit.matched_by == ("versions",)) is equal


def _read_back(tmp_path: Path, record: dict[str, Any]) -> OsvRecord:
    """``record`` as the advisory index hands it back to a check: built into an index, then looked up."""
    build_index(tmp_path / "x.sqlite", [record], {"kind": "updated", "source": "test"})
    db = AdvisoryDB.open(tmp_path / "x.sqlite")
    try:
        (indexed,) = db.lookup("demo", malicious=False)
    finally:
        db.conn.close()
    return indexed


def test_versions_lists_read_back_from_the_index_match_as_written(tmp_path: Path) -> None:
    """The index stores each ``versions`` list as listing keys (matched by substring); spellings that are PEP 440
    equal, local labels, invalid strings and strings with spaces still match exactly as the list itself does."""
    listed = ["1.0.0", "2.0.0rc1", "3.0+cpu", "v4.1", "01.2", "weird-1", "1!0.5", "5.0.post1", "6"]
    record = {"id": "PYSEC-X", "affected": [{"package": {"name": "Demo", "ecosystem": "PyPI"}, "versions": listed},
                                            {"package": {"name": "Demo", "ecosystem": "PyPI"}, "versions": ["has space"]}]}
    indexed = _read_back(tmp_path, record)
    # the list with a space in a key cannot be framed: that entry is matched on its list, the other on stored keys
    assert indexed.indexed and [e.framed is not None for e in compiled_entries(indexed, "demo")] == [True, False]
    listed.append("has space")
    queries = [*listed, "1", "1.0", "2.0rc1", "2.0.0c1", "3.0", "3", "4.1", "1.2", "weird", "has", "space", "1!0.5.0",
               "0.5", "5.0.post1+x", "5.0", "6.0.0", "6.0.1", "1 2.0.0rc1", "weird-1 ", "", "0"]
    for q in queries:
        assert record_affects(indexed, "demo", q) == record_affects(record, "demo", q), q
    assert {q for q in queries if record_affects(indexed, "demo", q)} >= set(listed)


def test_stored_listing_keys_are_trusted_only_from_the_index() -> None:
    """A record from anywhere but the index (the OSV API, a test) is matched on its ``versions`` list: keys in the
    index's own field are ignored, whoever wrote them."""
    entry = {"package": {"name": "demo", "ecosystem": "PyPI"}, "versions": ["1.0"], LISTED_FIELD: " 9.9 "}
    record = {"id": "X", "affected": [entry]}
    assert record_affects(record, "demo", "1.0") and not record_affects(record, "demo", "9.9")
    assert record_affects(OsvRecord(record, indexed=True), "demo", "9.9")  # the index path reads the stored keys
    assert stored_listing_keys(["1.0.0", "2.0+cpu", "2.1"]) == " 1 2 2.1 "
    assert stored_listing_keys(["a b"]) is None and stored_listing_keys("1.0") is None and stored_listing_keys([]) == ""


def test_cvss_scores_stored_in_the_index_are_the_calculators(tmp_path: Path) -> None:
    """The index stores each CVSS block's base score (``null`` when unscorable); a record read back scores the same
    as the calculator, and a record from elsewhere never has a stored score believed."""
    v31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
    record = {"id": "PYSEC-S", "severity": [{"type": "CVSS_V3", "score": v31}, {"type": "CVSS_V4", "score": "bogus"},
                                            {"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:P/I:P/A:P"},
                                            {"type": "CVSS_V3", "score": v31, SCORE_FIELD: 0.1}],
              "affected": [{"package": {"name": "demo", "ecosystem": "PyPI"}, "versions": ["1.0"],
                            "severity": [{"type": "CVSS_V4", "score": v4}]}]}
    indexed = _read_back(tmp_path, record)
    stored = [b.get(SCORE_FIELD, "absent") for b in indexed["severity"]]  # type: ignore[union-attr]
    assert stored == [9.8, None, "absent", 9.8]  # the input's own "stored" score is replaced by the calculator's
    assert record_severity(indexed, "demo") == record_severity(record, "demo")
    assert record_severity(indexed, "demo").score == 9.8  # the v3.1 vector (v4's is 9.3): the highest counts
    entry_block = indexed["affected"][0]["severity"][0]  # type: ignore[index]
    assert entry_block[SCORE_FIELD] == 9.3  # blocks inside ``affected`` entries are scored too
    forged = {"id": "X", "severity": [{"type": "CVSS_V3", "score": v31, SCORE_FIELD: 0.1}]}
    assert record_severity(forged).score == 9.8  # not from the index: the calculator decides
    assert record_severity(OsvRecord(forged, indexed=True)).score == 0.1  # the index path reads the stored score

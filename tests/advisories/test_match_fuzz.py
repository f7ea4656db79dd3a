"""Property tests: arbitrary (often invalid) OSV data never crashes the parser, index or matcher, and range
evaluation agrees with an independent formulation ("the nearest bound at or below V decides").

The ``fuzz``-marked tests run with ``MLAUDIT_FUZZ_EXAMPLES`` examples (CI: 500); the small agreement test runs in
the default suite.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import InvalidVersion, Version

from auditor.advisories.db import AdvisoryDB, build_index, slim_record
from auditor.advisories.findings import best_upgrade, malicious_findings, vulnerability_findings
from auditor.advisories.match import (
    Candidates,
    affected_candidates,
    match_record,
    range_affects,
    read_event_value,
    record_affects,
    record_severity,
)
from auditor.advisories.record import OsvRecord
from auditor.advisories.update import ExportError, iter_export

FUZZ_EXAMPLES = int(os.environ.get("MLAUDIT_FUZZ_EXAMPLES", "10000"))

POOL = ["0", "0a1", "0.dev0", "0.1", "1.0", "1.0rc1", "1.0.post1", "1.0+cpu", "1.1", "1.10", "2.0.dev3", "2.0",
        "1!0.5", "3", "not-a-version", "2019-09-12", "", "*"]
KINDS = ["introduced", "fixed", "last_affected", "limit"]

event_st = st.builds(lambda k, v: {k: v}, st.sampled_from(KINDS), st.one_of(st.sampled_from(POOL), st.text(max_size=8)))
text_st = st.one_of(st.sampled_from(POOL), st.text(max_size=12))
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8))
json_any = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                           st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                        max_leaves=12)


def _record(events: list[dict[str, Any]], versions: list[Any], junk: Any, rid: str = "F-1") -> dict[str, Any]:
    return {"id": rid, "aliases": junk, "severity": junk, "database_specific": junk, "withdrawn": None,
            "affected": [
                {"package": {"name": "demo", "ecosystem": "PyPI"}, "versions": versions, "severity": junk,
                 "ranges": [{"type": "ECOSYSTEM", "events": events}, {"type": "GIT", "events": [{"introduced": "a"}]},
                            junk]},
                {"package": junk, "ranges": junk, "versions": junk},
                junk,
            ]}


@pytest.mark.fuzz
@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(events=st.lists(st.one_of(event_st, json_any), max_size=6), versions=st.lists(st.one_of(text_st, json_any),
       max_size=4), candidate=text_st, junk=json_any)
def test_matcher_never_crashes(events: list[Any], versions: list[Any], candidate: str, junk: Any) -> None:
    record = _record(events, versions, junk)
    match_record(record, "demo", candidate)
    record_severity(record, "demo")
    findings = vulnerability_findings("demo", candidate, [record])
    assert all(f.kind == "vulnerability" and f.package == ("demo", candidate) for f in findings)
    best_upgrade("demo", candidate, [record])
    malicious_findings("demo", candidate, [dict(record, id="MAL-1")])


@pytest.mark.fuzz
@settings(max_examples=max(1, FUZZ_EXAMPLES // 20), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(records=st.lists(st.one_of(json_any, st.builds(_record, st.lists(event_st, max_size=4),
                                                      st.lists(text_st, max_size=3), json_any,
                                                      st.one_of(st.text(max_size=6), json_any))), max_size=6))
def test_index_never_crashes(tmp_path: Path, records: list[Any]) -> None:
    """The index builder takes whatever the export held (non-dicts skipped) and lookups return what was indexed."""
    target = tmp_path / "fuzz.sqlite"
    target.unlink(missing_ok=True)
    build_index(target, [r for r in records if isinstance(r, dict)], {"kind": "updated", "source": "fuzz"})
    db = AdvisoryDB.open(target)
    try:
        for name in ("demo", ""):
            for rec in db.lookup(name, malicious=False) + db.lookup(name, malicious=True):
                vulnerability_findings("demo", "1.0", [rec])
    finally:
        db.conn.close()


@pytest.mark.fuzz
@settings(max_examples=max(1, FUZZ_EXAMPLES // 20), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(members=st.lists(st.one_of(st.binary(max_size=64), json_any.map(lambda o: json.dumps(o).encode())),
                        max_size=4), cut=st.integers(min_value=0, max_value=400))
def test_export_reader_fails_cleanly(tmp_path: Path, members: list[bytes], cut: int) -> None:
    """A zip of arbitrary members, possibly truncated: every record is an OSV dict, or ``ExportError`` is raised."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for i, body in enumerate(members):
            archive.writestr(f"m{i}.json", body)
    data = buf.getvalue()
    path = tmp_path / "export.zip"
    path.write_bytes(data[: len(data) - cut] if cut < len(data) else data[:cut])
    try:
        for record in iter_export(path, "fuzz"):
            assert isinstance(record, dict) and isinstance(record["id"], str) and record["id"]
    except ExportError:
        pass


def _bound(value: str) -> tuple[int, Version] | None:
    """How the schema orders an event value; a non-PEP 440 value as ``read_event_value`` reads it (that reading
    has its own table in test_match.py and the shipped-data check in test_event_readings.py)."""
    if value == "0":
        return (0, Version("0"))
    read = read_event_value(value)[0]
    return None if read is None else (1, read)


def reference(events: list[dict[str, str]], version: Version) -> bool:
    """Independent formulation: V must be below at least one limit (none = no bound; "*" = infinity); then, of
    the bounds V has passed (introduced/fixed at or below V, last_affected strictly below V; "0" below all),
    the greatest decides, an introduced losing a tie with a closing bound; affected iff it is an introduced."""
    # issue 23 (1): a closing event with no version in it leaves the range's end unknown: nothing is affected
    # (non-PEP 440 values with a version in them are read as that version by ``_bound``)
    if any(kind != "introduced" and _bound(value) is None and not (kind == "limit" and "*" in value)
           for event in events for kind, value in event.items()):
        return False
    limits = [value for event in events for kind, value in event.items() if kind == "limit"]
    parsed_limits = []
    for value in limits:
        if "*" in value:
            parsed_limits.append(None)
        elif (b := _bound(value)) is not None:
            parsed_limits.append(b[1])
    if parsed_limits and not any(lim is None or version < lim for lim in parsed_limits):
        return False
    here = (1, version)
    passed: list[tuple[tuple[int, Version], int]] = []
    for event in events:
        ((kind, value),) = event.items()
        bound = _bound(value)
        if bound is None or kind == "limit":
            continue
        if kind != "introduced" and value == "0":
            bound = (1, Version("0"))
        if kind == "introduced" and bound <= here:
            passed.append((bound, 0))
        elif kind == "fixed" and bound <= here:
            passed.append((bound, 1))
        elif kind == "last_affected" and bound < here:
            passed.append((bound, 1))
    return bool(passed) and max(passed)[1] == 0


VALID = [v for v in POOL if v and v not in ("not-a-version", "2019-09-12", "*")]
ordered_st = st.lists(st.builds(lambda k, v: {k: v}, st.sampled_from(KINDS), st.sampled_from(VALID + ["*"])),
                      max_size=6)
candidate_st = st.sampled_from([v for v in VALID if "+" not in v] + ["0.5", "1.05", "9", "0rc1"])


@settings(max_examples=300, deadline=None)
@given(events=ordered_st, candidate=candidate_st)
def test_range_agrees_with_reference(events: list[dict[str, str]], candidate: str) -> None:
    assert range_affects(events, Version(candidate)) == reference(events, Version(candidate))


@pytest.mark.fuzz
@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(events=ordered_st, candidate=candidate_st)
def test_range_agrees_with_reference_fuzz(events: list[dict[str, str]], candidate: str) -> None:
    assert range_affects(events, Version(candidate)) == reference(events, Version(candidate))


version_piece = st.one_of(st.sampled_from(["0", "00", "01", "1", "10", "2019", ".", "-", "_", "a", "b", "rc", "c",
                                           "post", "dev", "+", "!", "v", "alpha", "pre", "r", "cpu", "1!"]),
                          st.integers(min_value=0, max_value=30).map(str))
version_text = st.lists(version_piece, min_size=1, max_size=8).map("".join)


@settings(max_examples=2000, deadline=None)
@given(version_text, version_text)
def test_equality_key_agrees_with_pep440_equality(a: str, b: str) -> None:
    """The ``versions``-list shortcut: two strings share an equality key exactly when their public PEP 440
    versions are equal, and only invalid versions have none."""
    from auditor.advisories.match import equality_key

    def public(text: str) -> Version | None:
        try:
            return Version(Version(text).public)
        except InvalidVersion:
            return None

    pa, pb = public(a), public(b)
    ka, kb = equality_key(a), equality_key(b)
    assert (ka is None) == (pa is None) and (kb is None) == (pb is None)
    if pa is not None and pb is not None:
        assert (ka == kb) == (pa == pb), (a, b, ka, kb)


@settings(max_examples=150, deadline=None)
@given(events=st.lists(event_st, max_size=6), versions=st.lists(text_st, max_size=4),
       candidates=st.lists(text_st, max_size=8))
def test_batch_matcher_agrees_with_pair_by_pair(events: list[dict[str, Any]], versions: list[Any],
                                                candidates: list[str]) -> None:
    """``affected_candidates`` (one sorted pass per range, remediation's path) gives exactly the candidates that
    ``record_affects`` (one walk per version) gives, on arbitrary events, lists and candidate spellings -- also for
    a record read back from the index, whose ``versions`` are stored as listing keys."""
    record = _record(events, versions, None)
    expected = {c for c in candidates if record_affects(record, "demo", c)}
    assert affected_candidates(record, "demo", candidates) == expected
    indexed = OsvRecord(slim_record(record), indexed=True)
    assert {c for c in candidates if record_affects(indexed, "demo", c)} == expected
    assert affected_candidates(indexed, "demo", Candidates.of(candidates)) == expected

"""Property tests: arbitrary (often invalid) OSV data never crashes the matcher, and range evaluation agrees with
an independent formulation ("the nearest bound at or below V decides")."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from auditor.advisories.findings import vulnerability_findings
from auditor.advisories.match import match_record, range_affects

POOL = ["0", "0.1", "1.0", "1.0rc1", "1.0.post1", "1.1", "1.10", "2.0.dev3", "2.0", "3", "not-a-version", "2019-09-12"]
KINDS = ["introduced", "fixed", "last_affected", "limit"]

events_st = st.lists(st.builds(lambda k, v: {k: v}, st.sampled_from(KINDS), st.sampled_from(POOL)), max_size=6)
text_st = st.one_of(st.sampled_from(POOL + ["1.0+cpu", ""]), st.text(max_size=12))


@pytest.mark.fuzz
@settings(max_examples=3000, deadline=None)
@given(events=events_st, versions=st.lists(text_st, max_size=4), candidate=text_st,
       junk=st.sampled_from([None, 5, "x", [1], {"a": 1}]))
def test_never_crashes(events: list[dict[str, str]], versions: list[str], candidate: str, junk: Any) -> None:
    record = {"id": "F-1", "affected": [
        {"package": {"name": "demo", "ecosystem": "PyPI"}, "versions": versions,
         "ranges": [{"type": "ECOSYSTEM", "events": events}, {"type": "GIT", "events": [{"introduced": "abc"}]}]},
        {"package": junk, "ranges": junk, "versions": junk},
        junk,
    ]}
    match_record(record, "demo", candidate)
    vulnerability_findings("demo", candidate, [record])


def reference(events: list[dict[str, str]], version: Version) -> bool:
    """Independent formulation for introduced/fixed/last_affected (no limit): take the bounds that V has passed
    (introduced/fixed at or below V, last_affected strictly below V); V is affected iff the greatest of them (an
    introduced loses a tie with a closing bound) is an introduced."""
    passed: list[tuple[Version, int]] = []
    for event in events:
        ((kind, value),) = event.items()
        try:
            bound = Version(value)
        except ValueError:
            continue
        if kind == "introduced" and bound <= version:
            passed.append((bound, 0))
        elif kind == "fixed" and bound <= version:
            passed.append((bound, 1))
        elif kind == "last_affected" and bound < version:
            passed.append((bound, 1))
    return bool(passed) and max(passed)[1] == 0


valid = [v for v in POOL if v not in ("not-a-version", "2019-09-12")]
ordered_st = st.lists(st.builds(lambda k, v: {k: v}, st.sampled_from(KINDS[:3]), st.sampled_from(valid)),
                      max_size=6)


@settings(max_examples=300, deadline=None)
@given(events=ordered_st, candidate=st.sampled_from(valid + ["0.5", "1.05", "9"]))
def test_range_agrees_with_reference(events: list[dict[str, str]], candidate: str) -> None:
    assert range_affects(events, Version(candidate)) == reference(events, Version(candidate))

"""``apply_context``: facts about a candidate's own record move a look-alike's score, and nothing else."""

from __future__ import annotations

import datetime as dt

import pytest

from auditor.typosquat import HIGH_THRESHOLD, NameContext, TyposquatResult, apply_context, pypi_detector
from auditor.typosquat.context import CONTEXT_FLOOR, MISSING_NAME_FLOOR, signals

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


def lookalike(score: float) -> TyposquatResult:
    return TyposquatResult("requestz-x", score >= 0.5, "requests" if score >= 0.5 else None, score, ["edit1: x"],
                           "edit1", 7, "requests", 1_000_000_000)


def test_not_on_the_index_raises_a_lookalike_to_high() -> None:
    for base in (MISSING_NAME_FLOOR, 0.3, 0.45, 0.7):
        r = apply_context(lookalike(base), NameContext(on_index=False, source="resolver"), now=NOW)
        assert r.flagged and r.score >= HIGH_THRESHOLD and r.target == "requests"
        assert any("index does not have this name" in reason and "[resolver]" in reason for reason in r.reasons)


def test_a_fresh_single_release_without_links_raises_to_high() -> None:
    ctx = NameContext(on_index=True, first_upload=NOW - dt.timedelta(days=3), release_count=1,
                      has_project_urls=False)
    r = apply_context(lookalike(0.3), ctx, now=NOW)
    assert r.score >= HIGH_THRESHOLD and r.flagged
    assert any("first uploaded 3 day(s) ago" in reason for reason in r.reasons)


def test_a_long_lived_project_lowers_it() -> None:
    ctx = NameContext(on_index=True, first_upload=NOW - dt.timedelta(days=5 * 365), release_count=40,
                      has_project_urls=True)
    r = apply_context(lookalike(0.7), ctx, now=NOW)
    assert not r.flagged and r.target is None and r.score < 0.5
    assert any("long-lived project" in reason for reason in r.reasons)


def test_far_fewer_downloads_and_a_copied_summary_count() -> None:
    ctx = NameContext(downloads=12, summary_matches_target=True)
    found = [reason for _, reason in signals(ctx, target_downloads=1_000_000, now=NOW)]
    assert any("12 downloads" in f for f in found) and any("summary copied" in f for f in found)


def test_context_never_creates_a_lookalike() -> None:
    unrelated = TyposquatResult("zqxjv", False, reasons=["no popular name nearby"])
    assert apply_context(unrelated, NameContext(on_index=False), now=NOW) is unrelated
    weak = lookalike(CONTEXT_FLOOR / 2)
    assert apply_context(weak, NameContext(on_index=False), now=NOW) is weak
    faint = lookalike(MISSING_NAME_FLOOR / 2)  # an unclaimed name is its own finding; a faint resemblance stays faint
    assert apply_context(faint, NameContext(on_index=False), now=NOW) is faint
    young = NameContext(on_index=True, first_upload=NOW - dt.timedelta(days=2), release_count=1)
    assert apply_context(faint, young, now=NOW).score > faint.score  # the index's record weighs from CONTEXT_FLOOR


@pytest.mark.parametrize("ctx", [None, NameContext(), NameContext(on_index=True, source="x")])
def test_empty_or_neutral_context_changes_nothing(ctx: NameContext | None) -> None:
    base = lookalike(0.4)
    assert apply_context(base, ctx, now=NOW) == base


def test_apply_context_does_not_change_its_input() -> None:
    base = lookalike(0.3)
    before = (base.score, list(base.reasons))
    apply_context(base, NameContext(on_index=False), now=NOW)
    assert (base.score, base.reasons) == before


def test_detector_check_takes_a_context() -> None:
    det = pypi_detector()
    name_only = det.check("pyinstalers")
    assert name_only.candidate == "pyinstaller" and not name_only.flagged
    missing = det.check("pyinstalers", context=NameContext(on_index=False))
    assert missing.flagged and missing.target == "pyinstaller" and missing.score >= HIGH_THRESHOLD
    allowed = pypi_detector(["pyinstalers"]).check("pyinstalers", context=NameContext(on_index=False))
    assert not allowed.flagged

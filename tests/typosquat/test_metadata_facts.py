"""The facts an audit derives from an index JSON document (``context_from_json``): own or copied repository links,
copied summaries, releases over time or in one burst, uploads after the audit day ignored (issue 28)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from auditor.typosquat.context import NameContext, signals
from auditor.typosquat.metadata import context_from_json, repositories, summaries_match

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


def doc(summary: str = "", urls: dict[str, str] | None = None, ages: dict[str, int] | None = None,
        home: str | None = None) -> dict[str, Any]:
    releases = {v: [{"upload_time_iso_8601": (NOW - dt.timedelta(days=a)).isoformat(), "packagetype": "bdist_wheel",
                     "yanked": False}] for v, a in (ages or {"1.0": 3}).items()}
    return {"info": {"summary": summary, "project_urls": urls, "home_page": home}, "releases": releases}


TARGET = doc("Python HTTP for Humans.", {"Source": "https://code.example/psf/requests"}, {"2.0": 4000})


def test_links_to_the_targets_repository_and_none_of_its_own_are_copied_metadata() -> None:
    squat = doc("Python HTTP for Humans.", {"Source": "https://code.example/psf/requests"})
    c = context_from_json(squat, TARGET, name="reqeusts", target="requests", until=NOW)
    assert c.links_to_target is True and c.own_repository is False and c.summary_matches_target is True
    reasons = [r for _, r in signals(c, now=NOW)]
    assert any("imitated project's repository" in r for r in reasons) and any("summary copied" in r for r in reasons)


def test_a_fork_or_port_that_links_its_upstream_beside_its_own_repository_is_not_copied() -> None:
    port = doc("Rust port of requests", {"Source": "https://code.example/me/requests-rs",
                                         "Upstream": "https://code.example/psf/requests"})
    c = context_from_json(port, TARGET, name="requests-rs", target="requests", until=NOW)
    assert c.own_repository is True and c.links_to_target is False
    assert any("of its own name" in r for _, r in signals(c, now=NOW))


def test_a_repository_named_like_the_target_under_another_owner_is_not_the_targets() -> None:
    fork = doc("Plugins for my fork", {"Core": "https://code.example/someone/requests"})
    assert context_from_json(fork, TARGET, name="requests-plugins", target="requests").links_to_target is False
    # without the target's document only the name can say it: a repository named like the target, not the package
    assert context_from_json(fork, None, name="requests-plugins", target="requests").links_to_target is True


def test_a_separator_variant_does_not_pass_the_targets_repository_off_as_its_own() -> None:
    squat = doc("", {"Source": "https://code.example/psf/requests"})
    c = context_from_json(squat, TARGET, name="re-quests", target="requests")
    assert c.own_repository is False and c.links_to_target is True and c.has_summary is False


def test_summary_copied_with_one_word_changed_matches_and_short_or_different_ones_do_not() -> None:
    assert summaries_match("python http for humans and robots", "python http for humans and bots")
    assert not summaries_match("python http for humans", "python http for humans and robots too")
    assert not summaries_match("a client", "a client")  # too short to mean anything
    assert not summaries_match("", "python http for humans")


def test_releases_over_weeks_weigh_as_genuine_and_a_burst_on_one_day_as_a_squat() -> None:
    spread = context_from_json(doc(ages={"0.1": 60, "0.2": 40, "0.3": 10}), name="x")
    assert (spread.release_count, spread.release_days, spread.release_span_days) == (3, 3, 50)
    assert any("releases on 3 days" in r for _, r in signals(spread, now=NOW))
    burst = context_from_json(doc(ages={"99.9": 2, "99.99": 2, "100.0": 2}), name="x")
    assert burst.release_days == 1 and any("all uploaded on one day" in r for _, r in signals(burst, now=NOW))


def test_uploads_after_the_audit_day_do_not_count() -> None:
    later = doc(ages={"0.1": 30, "0.2": -5})  # 0.2 is uploaded five days after NOW
    c = context_from_json(later, name="x", until=NOW)
    assert c.release_count == 1 and c.release_days == 1 and c.has_wheels is True and c.all_yanked is False


def test_repository_links_are_read_from_project_urls_and_the_home_page() -> None:
    d = doc(urls={"Docs": "https://docs.example/", "Issues": "https://code.example/o/r/issues"},
            home="https://code.example/o/r2.git")
    assert repositories(d) == {("code.example", "o/r"), ("code.example", "o/r2")}
    assert NameContext(own_repository=True).is_empty() is False

"""The typosquat bench's records for the audit-time evaluation: a squat's report gives its versions and their
times, the metadata assumptions give copied or absent links/summary, and a genuine name's real document is read as
an audit on the set's day would read it (later uploads ignored)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from auditor.typosquat.context import NameContext
from bench import _typosquat_context as c

RECORD: dict[str, object] = {
    "published": "2025-03-02T10:00:00Z",
    "affected": [{"package": {"name": "reqeusts"}, "versions": ["1.0"]}],
    "database_specific": {"malicious-packages-origins": [
        {"modified_time": "2025-03-01T08:00:00Z", "versions": ["1.0"]},
        {"modified_time": "2025-03-01T09:00:00Z", "import_time": "2025-03-01T09:30:00Z", "versions": ["1.1", "1.0"]},
    ]},
}
TARGET: dict[str, Any] = {"info": {"summary": "Python HTTP for Humans.", "home_page": "",
                                   "project_urls": {"Source": "https://code.example/psf/requests"}},
                          "releases": {"2.0": [{"upload_time_iso_8601": "2015-01-01T00:00:00Z"}]}}


def squat() -> c.Positive:
    times = c.origin_times(RECORD)
    return c.Positive("reqeusts", "requests", "transposition", "2025-03-02", 2, "MAL-1", times)


def test_origin_times_keep_each_versions_earliest_sighting() -> None:
    assert c.origin_times(RECORD) == {"1.0": "2025-03-01T08:00:00Z", "1.1": "2025-03-01T09:00:00Z"}
    assert c.origin_times({"database_specific": {}}) == {}


def test_a_squats_record_under_each_metadata_assumption() -> None:
    docs: dict[str, dict[str, object] | None] = {"requests": TARGET}
    copied, now = c.positive_context(squat(), random.Random(1), "live", "copied", "requests", docs)
    assert dt.timedelta(0) <= now - dt.datetime(2025, 3, 1, 8, tzinfo=dt.timezone.utc) <= dt.timedelta(days=30)
    assert (copied.release_count, copied.release_days, copied.required_by) == (2, 1, ())
    assert copied.links_to_target is True and copied.summary_matches_target is True
    absent, _ = c.positive_context(squat(), random.Random(1), "live", "absent", "requests", docs)
    assert absent.has_project_urls is False and absent.has_summary is False and absent.links_to_target is False
    unknown, _ = c.positive_context(squat(), random.Random(1), "unknown", "absent", "requests", docs)
    assert unknown.first_upload is None and unknown.release_days is None and unknown.release_count == 2


def test_a_genuine_names_real_document_read_on_the_sets_day() -> None:
    day = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    doc = {"info": {"summary": "My own HTTP thing", "project_urls": {"Source": "https://code.example/me/reqeusts"}},
           "releases": {"0.1": [{"upload_time_iso_8601": "2026-10-01T00:00:00Z", "packagetype": "bdist_wheel"}],
                        "0.2": [{"upload_time_iso_8601": "2026-12-03T00:00:00Z", "packagetype": "bdist_wheel"}]}}
    neg = c.Negative("reqeusts", "young", "2026-10", NameContext(required_by=()), day)
    ctx = c.negative_context(neg, "requests", {"reqeusts": doc, "requests": TARGET})
    assert ctx.release_count == 1 and ctx.own_repository is True and ctx.links_to_target is False
    assert ctx.summary_matches_target is False and ctx.required_by == ()

"""What is known about a candidate name beyond its spelling, and how it moves a look-alike's score.

The name-only score says how much a name *looks* like an imitation. Inside an audit, or with ``--online``, the
candidate's own record is often at hand, and it separates the two kinds of look-alike far better than spelling:

- not on the index at all: a removed project (most removed look-alikes were malware) or a name anyone can claim
  tomorrow, so the next ``pip install`` fetches whatever they upload;
- first uploaded days ago, a single release, no project links, far fewer downloads than the target, a summary
  copied from the target: the profile of a squat;
- years of history with many releases: the profile of a genuine project that happens to sit near a popular one.

Each fact adds a fixed amount to the score's log-odds (``SIGNALS``, documented in data/README.md). These weights
are set by hand, not fitted: the labelled sets hold names only, no records. Context weighs only readings already
at least ``CONTEXT_FLOOR`` likely; it never turns an unrelated name into a look-alike.

``apply_context`` is a pure function of a detector result and a ``NameContext``, so any stage that knows something
(the resolver: "the index does not have this name"; the metadata fetcher: upload dates) can pass it in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields, replace

from auditor.typosquat.result import FLAG_THRESHOLD, TyposquatResult
from auditor.typosquat.scoring import logit, sigmoid

CONTEXT_FLOOR = 0.2

# log-odds added by each signal (a factor e**x on the odds)
NOT_ON_INDEX = 4.0
NEW_30_DAYS = 2.0
NEW_180_DAYS = 1.0
SINGLE_RELEASE = 1.0
NO_PROJECT_URLS = 0.7
FAR_FEWER_DOWNLOADS = 0.7  # fewer than 1/1000 of the target's
SUMMARY_COPIED = 1.5
LONG_LIVED = -2.5  # first upload >= 2 years ago and >= 10 releases
ESTABLISHED = -1.2  # first upload >= 1 year ago and >= 5 releases


@dataclass(frozen=True)
class NameContext:
    """Facts about the candidate itself; ``None`` everywhere means "not known" (never "clean")."""

    on_index: bool | None = None  # False: the index does not have the name (removed, or free to claim)
    first_upload: dt.datetime | None = None  # earliest file upload (timezone-aware)
    release_count: int | None = None
    has_project_urls: bool | None = None  # a homepage or any project URL
    downloads: int | None = None  # the candidate's downloads over the popularity list's window (30 days)
    summary_matches_target: bool | None = None  # its summary is the target's, word for word
    source: str = ""  # where the facts came from, for the reasons ("index JSON API", "resolver")

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self) if f.name != "source")


def signals(context: NameContext, *, target_downloads: int | None = None,
            now: dt.datetime | None = None) -> list[tuple[float, str]]:
    """(log-odds change, reason) for each fact the context holds."""
    now = now or dt.datetime.now(dt.timezone.utc)
    out: list[tuple[float, str]] = []
    if context.on_index is False:
        out.append((NOT_ON_INDEX, "context: the index does not have this name (removed, or anyone can claim it "
                                  "and the next install fetches their upload)"))
    age: int | None = None
    if context.first_upload is not None:
        first = context.first_upload if context.first_upload.tzinfo else context.first_upload.replace(
            tzinfo=dt.timezone.utc)
        age = max(0, (now - first).days)
        if age < 30:
            out.append((NEW_30_DAYS, f"context: first uploaded {age} day(s) ago"))
        elif age < 180:
            out.append((NEW_180_DAYS, f"context: first uploaded {age} days ago"))
    if context.release_count == 1:
        out.append((SINGLE_RELEASE, "context: a single release"))
    if context.has_project_urls is False:
        out.append((NO_PROJECT_URLS, "context: no homepage or project links"))
    if context.downloads is not None and target_downloads and context.downloads * 1000 < target_downloads:
        out.append((FAR_FEWER_DOWNLOADS, f"context: {context.downloads} downloads against the target's "
                                         f"{target_downloads}"))
    if context.summary_matches_target:
        out.append((SUMMARY_COPIED, "context: summary copied from the target"))
    releases = context.release_count or 0
    if age is not None and age >= 730 and releases >= 10:
        out.append((LONG_LIVED, f"context: a long-lived project ({age // 365} years, {releases} releases)"))
    elif age is not None and age >= 365 and releases >= 5:
        out.append((ESTABLISHED, f"context: an established project ({age // 365} year(s), {releases} releases)"))
    return out


def apply_context(result: TyposquatResult, context: NameContext | None, *,
                  now: dt.datetime | None = None) -> TyposquatResult:
    """``result`` with its score moved by what ``context`` knows (a new object; ``result`` is not changed).

    Only a reading at or above ``CONTEXT_FLOOR`` moves; an allowlisted or listed name never does.
    """
    if context is None or context.is_empty() or result.candidate is None or result.score < CONTEXT_FLOOR:
        return result
    found = signals(context, target_downloads=result.target_downloads, now=now)
    if not found:
        return result
    score = round(sigmoid(logit(result.score) + sum(delta for delta, _ in found)), 3)
    flagged = score >= FLAG_THRESHOLD
    source = f" [{context.source}]" if context.source else ""
    reasons = [*result.reasons, *(reason + source for _, reason in found)]
    return replace(result, score=score, flagged=flagged, target=result.candidate if flagged else None,
                   reasons=reasons)

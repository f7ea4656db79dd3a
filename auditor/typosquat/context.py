"""What is known about a candidate name beyond its spelling, and how it moves a look-alike's score.

The name-only score says how much a name *looks* like an imitation. Inside an audit, or with ``--online``, the
candidate's own record is often at hand, and it separates the two kinds of look-alike far better than spelling:

- not on the index at all: a removed project (most removed look-alikes were malware) or a name anyone can claim
  tomorrow, so the next ``pip install`` fetches whatever they upload;
- first uploaded days ago, a single release (or all its releases on one day), no project links or links to the
  imitated project's repository, no summary or the target's summary, far fewer downloads than the target: the
  profile of a squat;
- releases spread over weeks, a repository of its own name among its links, years of history with many releases:
  the profile of a genuine project that happens to sit near a popular one.

- required by a popular project in the audited dependency graph: that project's maintainers chose the name (the
  graph knows this offline too); a squat is installed because someone typed it, not because ``huggingface-hub``
  depends on it.

Each fact adds a fixed amount to the score's log-odds (documented in data/README.md). The facts a squat shows in
its record (no links, no summary, the target's links) are weighed by their log-likelihood ratio measured on dev data
(``bench/_typosquat_metafit.py``: squats' own published metadata against genuine names' index records); the rest,
and the genuine evidence an attacker can add in a minute (a repository of its own name), are set by hand.
``bench/typosquat.py`` measures the whole on held-out squats and genuine names. Context weighs only readings at
least ``CONTEXT_FLOOR`` likely by name (the floor is chosen there on one part of the sets and measured on the
other); it never turns an unrelated name into a look-alike. Facts that could not be had are listed (``missing``) so
a name judged on its spelling alone says so.

``apply_context`` is a pure function of a detector result and a ``NameContext``, so any stage that knows something
(the resolver: "the index does not have this name"; the metadata fetcher: upload dates) can pass it in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields, replace

from auditor.typosquat.result import FLAG_THRESHOLD, TyposquatResult
from auditor.typosquat.scoring import logit, sigmoid

CONTEXT_FLOOR = 0.02
# A name the index does not have is a finding of its own (``unclaimed-name``); it reads as a look-alike of a
# popular name only from this name score up (below it, "+4 not on the index" would make faint resemblances of
# internal names "critical look-alikes").
MISSING_NAME_FLOOR = 0.2

# log-odds added by each signal (a factor e**x on the odds)
NOT_ON_INDEX = 4.0
NEW_30_DAYS = 2.0
NEW_180_DAYS = 1.0
SINGLE_RELEASE = 1.0
# The facts a squat shows in its record are weighed by what squats' own published files showed (measured on dev
# data by ``bench/_typosquat_metafit.py``: dev-positive squats from a public corpus of malicious files against
# unranked dev-negative names with their index records; each campaign counted once, the log-likelihood ratio
# rounded down). Before, they were set by hand (0.7 / 0.5 / 2.0): no squat's record was at hand.
NO_PROJECT_URLS = 1.8  # no homepage or project link: 81% of squat campaigns, 13% of genuine unranked names
FAR_FEWER_DOWNLOADS = 0.7  # fewer than 1/1000 of the target's
SUMMARY_COPIED = 1.5  # its summary is the target's (word for word, or all but a word); by hand: the dev negatives
# were selected for a summary of their own, so their rate of this fact is not measurable there
LINKS_COPIED = 2.7  # its project links point at the imitated project's repository (9% of campaigns, 0.6% genuine)
NO_SUMMARY = 2.0  # 48% of squat campaigns, 6% of random unranked names (the near-popular ones were selected for one)
# genuine evidence a squat does not carry without effort (set from what each fact means, never fitted on the
# evaluation sets; see bench/results/typosquat.md)
OWN_REPOSITORY = -1.5  # a project link to a repository named like the package (not the target's)
RELEASES_OVER_TIME = -1.5  # releases on >= 3 distinct days spanning >= 14 days
SPREAD_DAYS = 3
SPREAD_SPAN = 14
LONG_LIVED = -3.5  # first upload >= 2 years ago and >= 10 releases
ESTABLISHED = -1.5  # first upload >= 1 year ago and >= 5 releases
REQUIRED_BY_POPULAR = -6.0  # a popular project in the audited graph depends on it


@dataclass(frozen=True)
class NameContext:
    """Facts about the candidate itself; ``None`` everywhere means "not known" (never "clean")."""

    on_index: bool | None = None  # False: the index does not have the name (removed, or free to claim)
    first_upload: dt.datetime | None = None  # earliest file upload (timezone-aware)
    release_count: int | None = None
    has_project_urls: bool | None = None  # a homepage or any project URL
    downloads: int | None = None  # the candidate's downloads over the popularity list's window (30 days)
    summary_matches_target: bool | None = None  # its summary is the target's (word for word or all but a word)
    has_summary: bool | None = None
    release_days: int | None = None  # distinct days with an upload
    release_span_days: int | None = None  # days from the first upload to the last
    has_wheels: bool | None = None  # evidence only (not scored: nothing says whether a squat ships wheels)
    own_repository: bool | None = None  # a project link to a repository named like the package itself
    # copied links: a project link to the imitated project's repository and none to a repository of its own
    links_to_target: bool | None = None
    all_yanked: bool | None = None  # every file of every release yanked (evidence only)
    # popular projects in the audited graph that require it; () = the graph was read and none does
    required_by: tuple[str, ...] | None = None
    source: str = ""  # where the facts came from, for the reasons ("index JSON API", "resolver")
    missing: tuple[str, ...] = ()  # facts that could not be had, each with why ("first upload: offline")

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self) if f.name not in _NOT_FACTS)


_NOT_FACTS = frozenset({"source", "missing"})


def signals(context: NameContext, *, target_downloads: int | None = None,
            now: dt.datetime | None = None) -> list[tuple[float, str]]:
    """(log-odds change, reason) for each fact the context holds."""
    now = now or dt.datetime.now(dt.timezone.utc)
    out: list[tuple[float, str]] = []
    if context.required_by:
        shown = ", ".join(f"'{n}'" for n in context.required_by[:3])
        more = f" and {len(context.required_by) - 3} more" if len(context.required_by) > 3 else ""
        out.append((REQUIRED_BY_POPULAR, f"context: required by the popular {shown}{more} in this dependency "
                                         "graph (their maintainers chose this name)"))
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
    elif context.release_days == 1 and (context.release_count or 0) > 1:
        out.append((SINGLE_RELEASE, f"context: {context.release_count} releases, all uploaded on one day"))
    if context.has_project_urls is False:
        out.append((NO_PROJECT_URLS, "context: no homepage or project links"))
    if context.downloads is not None and target_downloads and context.downloads * 1000 < target_downloads:
        out.append((FAR_FEWER_DOWNLOADS, f"context: {context.downloads} downloads against the target's "
                                         f"{target_downloads}"))
    if context.summary_matches_target:
        out.append((SUMMARY_COPIED, "context: summary copied from the target"))
    elif context.has_summary is False:
        out.append((NO_SUMMARY, "context: no summary"))
    if context.links_to_target:
        out.append((LINKS_COPIED, "context: project links point at the imitated project's repository"))
    elif context.own_repository:
        out.append((OWN_REPOSITORY, "context: links a repository of its own name"))
    if (context.release_days or 0) >= SPREAD_DAYS and (context.release_span_days or 0) >= SPREAD_SPAN:
        out.append((RELEASES_OVER_TIME, f"context: releases on {context.release_days} days over "
                                        f"{context.release_span_days} days"))
    releases = context.release_count or 0
    if age is not None and age >= 730 and releases >= 10:
        out.append((LONG_LIVED, f"context: a long-lived project ({age // 365} years, {releases} releases)"))
    elif age is not None and age >= 365 and releases >= 5:
        out.append((ESTABLISHED, f"context: an established project ({age // 365} year(s), {releases} releases)"))
    return out


def apply_context(result: TyposquatResult, context: NameContext | None, *,
                  now: dt.datetime | None = None, floor: float = CONTEXT_FLOOR) -> TyposquatResult:
    """``result`` with its score moved by what ``context`` knows (a new object; ``result`` is not changed).

    Only a reading at or above ``floor`` moves; an allowlisted or listed name never does.
    """
    if context is not None and context.on_index is False:
        floor = max(floor, MISSING_NAME_FLOOR)
    if context is None or context.is_empty() or result.candidate is None or result.score < floor:
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


def context_from_uploads(upload_times: list[dt.datetime], release_count: int | None, *, source: str,
                         missing: tuple[str, ...] = (), has_wheels: bool | None = None) -> NameContext:
    """The facts an index's project page gives (PEP 700 upload times, the versions it lists).

    No upload time at all (a PEP 503 HTML page, an index without PEP 700) leaves ``first_upload`` unknown and
    says so in ``missing``; the release count still stands.
    """
    stamps = [t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc) for t in upload_times]
    gaps = missing if stamps else (*missing, "first upload: the index page gives no upload times")
    release_days, release_span_days = upload_spread(stamps)
    return NameContext(on_index=True, first_upload=min(stamps) if stamps else None,
                       release_count=release_count or None, release_days=release_days,
                       release_span_days=release_span_days, has_wheels=has_wheels if stamps else None,
                       source=source, missing=gaps)


def upload_spread(stamps: list[dt.datetime]) -> tuple[int | None, int | None]:
    """(distinct UTC days with an upload, days from the first upload to the last) of timezone-aware upload times;
    (None, None) without any. One definition for the index page and the JSON API, since "all releases on one day"
    and "releases spread over weeks" are scored from it."""
    if not stamps:
        return None, None
    days = {t.astimezone(dt.timezone.utc).date() for t in stamps}
    return len(days), (max(stamps) - min(stamps)).days


def merge(base: NameContext | None, extra: NameContext | None) -> NameContext | None:
    """``base`` with every fact ``extra`` knows laid over it (sources and missing facts joined)."""
    if base is None or extra is None:
        return extra if base is None else base
    overrides = {f.name: getattr(extra, f.name) for f in fields(extra)
                 if f.name not in _NOT_FACTS and getattr(extra, f.name) is not None}
    source = ", ".join(dict.fromkeys(s for s in (base.source, extra.source) if s))
    known = {f.name for f in fields(extra) if f.name not in _NOT_FACTS and getattr(extra, f.name) is not None}
    gaps = tuple(dict.fromkeys(g for g in (*base.missing, *extra.missing) if not _answered(g, known)))
    return replace(base, **overrides, source=source, missing=gaps)


_FACT_WORDS = {"first upload": "first_upload", "release count": "release_count", "project links": "has_project_urls",
               "summary": "has_summary"}


def _answered(gap: str, known: set[str]) -> bool:
    """A missing-fact note that a later source answered (``first upload: ...`` once the upload time is known)."""
    head = gap.split(":", 1)[0]
    facts = [_FACT_WORDS[w.strip()] for w in head.split(",") if w.strip() in _FACT_WORDS]
    return bool(facts) and all(f in known for f in facts)


def evidence(context: NameContext | None, *, now: dt.datetime | None = None) -> dict[str, object]:
    """The facts a verdict used, for a finding's evidence (JSON-ready); ``missing_facts`` is always present."""
    if context is None:
        return {"context": {}, "missing_facts": ["no facts beyond the name"]}
    now = now or dt.datetime.now(dt.timezone.utc)
    facts: dict[str, object] = {}
    if context.on_index is not None:
        facts["on_index"] = context.on_index
    if context.first_upload is not None:
        first = context.first_upload if context.first_upload.tzinfo else context.first_upload.replace(
            tzinfo=dt.timezone.utc)
        facts["first_upload"] = first.isoformat()
        facts["age_days"] = max(0, (now - first).days)
    for name in ("release_count", "release_days", "release_span_days", "has_wheels", "has_project_urls",
                 "own_repository", "links_to_target", "has_summary", "summary_matches_target", "all_yanked",
                 "downloads"):
        value = getattr(context, name)
        if value is not None:
            facts[name] = value
    if context.required_by is not None:
        facts["required_by_popular"] = list(context.required_by)
    if context.source:
        facts["source"] = context.source
    return {"context": facts, "missing_facts": list(context.missing)}

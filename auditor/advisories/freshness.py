"""The run's one stale-data warning: how old each local dataset is, and both ways to refresh it.

Why one warning for all sources and not one per check: a user sees the data's age once, with every date side by
side (advisories, malicious packages, popular names are refreshed differently and age differently), and the way to
refresh is said once. Why it names ``--from``: ``mlaudit db update`` downloads OSV's export, which fails on a machine
without access to it; the same file downloaded elsewhere indexes the same way. The age that warns is the policy's
``stale-after-days`` (default ``STALE_DAYS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from auditor.domain import DataSource, Report

STALE_DAYS = 30
ADVISORIES = "advisories"
MALICIOUS = "malicious packages"
ONLINE = "advisories (online)"
POPULAR = "popular PyPI projects"
REFRESHED_BY_UPDATE = (ADVISORIES, MALICIOUS)  # what `mlaudit db update` refreshes, and what the age warns about
_LABELS = {ADVISORIES: "advisories", MALICIOUS: "malicious packages", POPULAR: "popular names"}


def age_days(when: str | None, today: date | None = None) -> int | None:
    """Days from an ISO date (or timestamp) to today; None when there is no readable date."""
    if not when:
        return None
    try:
        then = datetime.fromisoformat(when[:10]).date()
    except ValueError:
        return None
    return ((today or datetime.now(timezone.utc).date()) - then).days


def is_stale(when: str | None, stale_after_days: int, today: date | None = None) -> bool:
    """Older than ``stale_after_days``, or of unknown date (treated as stale: nothing says it is fresh)."""
    age = age_days(when, today)
    return age is None or age > stale_after_days


def _dated(label: str, source: DataSource, today: date | None, note: str = "") -> str:
    age = age_days(source.date, today)
    if age is None:
        return f"{label} of unknown date{f' ({note})' if note else ''}"
    return f"{label} {source.date} ({age} days{f'; {note}' if note else ''})"



def stale_data_warning(sources: Sequence[DataSource], *, stale_after_days: int = STALE_DAYS,
                       today: date | None = None) -> str | None:
    """One warning naming each source's date, when the advisory or malicious-package data is older than
    ``stale_after_days`` (None otherwise). Popular names are named with their date but never trigger it: ``db
    update`` does not refresh them, they come with mlaudit releases."""
    from auditor.advisories.update import export_url  # update imports the index module, which imports this one

    by_name = {s.name: s for s in sources}
    local = [by_name[name] for name in REFRESHED_BY_UPDATE if name in by_name]
    if not any(is_stale(s.date, stale_after_days, today) for s in local):
        return None
    parts = [_dated(_LABELS[s.name], s, today) for s in local]
    if POPULAR in by_name:
        parts.append(_dated(_LABELS[POPULAR], by_name[POPULAR], today, "new with each mlaudit release"))
    text = f"Local data is old: {', '.join(parts)}."
    if ONLINE in by_name:
        text += " This run also asked the OSV API: newer records are included."
    else:
        text += " Newer records are not reported."
    url = export_url()
    file_name = PurePosixPath(urlsplit(url).path).name or "all.zip"
    # the terminal shows a warning's first 500 characters: with the default URL this fits with room to spare
    text += (f" Refresh: `mlaudit db update` (downloads {url}); without access to it, download that file elsewhere "
             f"and run `mlaudit db update --from {file_name}`")
    text += "." if ONLINE in by_name else "; or audit with --online."
    return f"{text} Policy key `stale-after-days` (now {stale_after_days}) sets when this warns."


def note_stale_data(report: Report, stale_after_days: int | None) -> None:
    """Mark the report's local advisory sources stale by the policy's age and add the one warning (once)."""
    after = STALE_DAYS if stale_after_days is None else stale_after_days
    report.data_sources[:] = [replace(s, stale=is_stale(s.date, after)) if s.name in REFRESHED_BY_UPDATE else s
                              for s in report.data_sources]
    warning = stale_data_warning(report.data_sources, stale_after_days=after)
    if warning and warning not in report.warnings:
        report.warnings.append(warning)

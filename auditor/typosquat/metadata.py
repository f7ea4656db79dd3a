"""Suspicious-package signals from the index's JSON API (``/pypi/<name>/json``), used only to *raise* an existing
typosquat score: a brand-new, single-release project with no links whose summary is the target's is far more
likely an attack than an old namesake. They never flag a name on their own.

A 404 or a failed request means "not checked", never "clean": the caller records it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from packaging.version import InvalidVersion, Version

from auditor.cache import atomic_write, cache_dir
from auditor.errors import NetworkError
from auditor.net import HttpClient

SERVICE = "package index JSON API"
CACHE_TTL = 24 * 3600.0
NEW_PROJECT_DAYS = 30
MAX_BOOST = 0.3


@dataclass
class MetadataSignals:
    name: str
    checked: bool
    reasons: list[str] = field(default_factory=list)
    boost: float = 0.0
    note: str | None = None  # why it was not checked


def json_api_base(index_url: str) -> str:
    """``https://host/simple/`` -> ``https://host/pypi/``: the JSON API lives beside the simple API."""
    parts = urlsplit(index_url)
    path = re.sub(r"/simple/?$", "", parts.path.rstrip("/") + "/") .rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, path + "/pypi/", "", ""))


def fetch_project(http: HttpClient, base: str, name: str, *, now: float | None = None) -> dict[str, Any] | None:
    """The project's JSON document (cached for a day), or None when the index does not know the name (404).

    Network failures raise ``NetworkError``; the caller decides that means "not checked".
    """
    url = f"{base}{quote(name)}/json"
    key = hashlib.sha256(url.encode()).hexdigest()[:32]
    path = cache_dir() / "index-json" / f"{key}.json"
    now = time.time() if now is None else now
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if now - float(cached["fetched"]) < CACHE_TTL:
            hit: Any = cached["doc"]
            return hit if isinstance(hit, dict) else None
    except (OSError, ValueError, KeyError, TypeError):
        pass
    resp = http.get(url, service=SERVICE, ok_statuses=frozenset({200, 404}), headers={"Accept": "application/json"})
    doc: dict[str, Any] | None = None
    if resp.status_code == 200:
        try:
            loaded = json.loads(resp.content)
        except ValueError as exc:
            raise NetworkError(f"invalid JSON for {name}", service=SERVICE, host=urlsplit(url).netloc) from exc
        doc = loaded if isinstance(loaded, dict) else None
    atomic_write(path, json.dumps({"fetched": now, "doc": doc}).encode())
    return doc


def _upload_times(doc: dict[str, Any]) -> list[dt.datetime]:
    out: list[dt.datetime] = []
    releases = doc.get("releases")
    if not isinstance(releases, dict):
        return out
    for files in releases.values():
        for f in files if isinstance(files, list) else []:
            stamp = f.get("upload_time_iso_8601") or f.get("upload_time") if isinstance(f, dict) else None
            if isinstance(stamp, str):
                try:
                    parsed = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
                except ValueError:
                    continue
                out.append(parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc))
    return out


def _versions(doc: dict[str, Any]) -> list[Version]:
    releases = doc.get("releases")
    out: list[Version] = []
    for v in releases if isinstance(releases, dict) else {}:
        try:
            out.append(Version(v))
        except InvalidVersion:
            continue
    return sorted(out)


def _summary(doc: dict[str, Any]) -> str:
    info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
    text = info.get("summary") if isinstance(info, dict) else None
    return re.sub(r"\W+", " ", text).strip().lower() if isinstance(text, str) else ""


def signals(doc: dict[str, Any], target_doc: dict[str, Any] | None, *, today: dt.datetime | None = None) -> list[
        tuple[float, str]]:
    """(boost, reason) for each suspicious property of a project document."""
    today = today or dt.datetime.now(dt.timezone.utc)
    out: list[tuple[float, str]] = []
    times = _upload_times(doc)
    if times:
        age = (today - min(times)).days
        if age < NEW_PROJECT_DAYS:
            out.append((0.1, f"metadata: project first uploaded {age} day(s) ago"))
    releases = doc.get("releases")
    if isinstance(releases, dict) and len(releases) == 1:
        out.append((0.05, "metadata: single release"))
    info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
    urls = info.get("project_urls") if isinstance(info, dict) else None
    if isinstance(info, dict) and not info.get("home_page") and not (isinstance(urls, dict) and any(urls.values())):
        out.append((0.05, "metadata: no homepage or repository link"))
    if isinstance(info, dict):
        people = {str(info.get(k) or "").strip().lower() for k in ("author", "maintainer", "author_email",
                                                                     "maintainer_email")} - {""}
        if len(people) <= 1:
            out.append((0.03, "metadata: at most one author/maintainer named"))
    mine, theirs = _summary(doc), _summary(target_doc or {})
    if mine and theirs and len(theirs) >= 10 and mine == theirs:
        out.append((0.15, "metadata: summary copied from the target"))
    versions = _versions(doc)
    if versions and (versions[0].major >= 10 or any(b.major - a.major >= 10 for a, b in zip(versions, versions[1:], strict=False))):
        out.append((0.1, f"metadata: huge version jump (up to {versions[-1]})"))
    return out


def collect(http: HttpClient, base: str, name: str, target: str | None) -> MetadataSignals:
    """Fetch ``name`` (and its target, for the summary comparison) and turn the documents into a score boost."""
    try:
        doc = fetch_project(http, base, name)
        target_doc = fetch_project(http, base, target) if target else None
    except NetworkError as exc:
        return MetadataSignals(name, checked=False, note=f"index metadata not checked: {exc}")
    if doc is None:
        return MetadataSignals(name, checked=False, note="index metadata not checked: the JSON API does not know it")
    found = signals(doc, target_doc)
    boost = min(MAX_BOOST, sum(b for b, _ in found))
    return MetadataSignals(name, checked=True, reasons=[r for _, r in found], boost=boost)

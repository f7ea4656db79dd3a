"""Facts about a candidate from the index's JSON API (``/pypi/<name>/json``), as a ``NameContext``.

A 404 for the candidate while the same API knows the target means the index does not have the name (removed, or
free to claim): ``on_index=False``. A 404 for both, or a failed request, means "not checked", never "clean": the
caller records it (an index without this API, e.g. a private mirror, answers 404 for everything).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from auditor.cache import atomic_write, cache_dir
from auditor.errors import NetworkError
from auditor.net import HttpClient
from auditor.typosquat.context import NameContext

SERVICE = "package index JSON API"
CACHE_TTL = 24 * 3600.0
SOURCE = "index JSON API"


@dataclass(frozen=True)
class ContextLookup:
    """What the JSON API said about one candidate: a context, or why there is none."""

    name: str
    context: NameContext | None
    note: str | None = None  # set when not checked
    error: NetworkError | None = None  # set when not checked because a request failed


def json_api_base(index_url: str) -> str:
    """``https://host/simple/`` -> ``https://host/pypi/``: the JSON API lives beside the simple API."""
    parts = urlsplit(index_url)
    path = re.sub(r"/simple/?$", "", parts.path.rstrip("/") + "/").rstrip("/")
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
            stamp = (f.get("upload_time_iso_8601") or f.get("upload_time")) if isinstance(f, dict) else None
            if isinstance(stamp, str):
                try:
                    parsed = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
                except ValueError:
                    continue
                out.append(parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc))
    return out


def _info(doc: dict[str, Any]) -> dict[str, Any]:
    info = doc.get("info")
    return info if isinstance(info, dict) else {}


def _summary(doc: dict[str, Any]) -> str:
    text = _info(doc).get("summary")
    return re.sub(r"\W+", " ", text).strip().lower() if isinstance(text, str) else ""


def context_from_json(doc: dict[str, Any], target_doc: dict[str, Any] | None = None) -> NameContext:
    """The candidate's facts from its JSON document (and the target's, for the summary comparison)."""
    times = _upload_times(doc)
    releases = doc.get("releases")
    info = _info(doc)
    urls = info.get("project_urls")
    has_urls = bool(info.get("home_page")) or (isinstance(urls, dict) and any(urls.values()))
    mine, theirs = _summary(doc), _summary(target_doc or {})
    return NameContext(
        on_index=True,
        first_upload=min(times) if times else None,
        release_count=len(releases) if isinstance(releases, dict) else None,
        has_project_urls=has_urls if info else None,
        summary_matches_target=(mine == theirs) if mine and len(theirs) >= 10 else None,
        source=SOURCE,
    )


def collect(http: HttpClient, base: str, name: str, target: str | None) -> ContextLookup:
    """Fetch ``name`` (and its target) and turn the answers into a ``NameContext``."""
    try:
        doc = fetch_project(http, base, name)
        target_doc = fetch_project(http, base, target) if target else None
    except NetworkError as exc:
        return ContextLookup(name, None, note=f"index metadata not checked: {exc}", error=exc)
    if doc is None:
        if target_doc is not None:
            return ContextLookup(name, NameContext(on_index=False, source=SOURCE))
        return ContextLookup(name, None, note="index metadata not checked: the JSON API knows neither the name nor "
                                              "its look-alike target")
    return ContextLookup(name, context_from_json(doc, target_doc))

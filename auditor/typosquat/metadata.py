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
from auditor.domain import canonical_name
from auditor.errors import NetworkError
from auditor.net import HttpClient
from auditor.typosquat.context import NameContext, upload_spread

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


def _files(doc: dict[str, Any], until: dt.datetime | None) -> dict[str, list[tuple[dt.datetime, dict[str, Any]]]]:
    """Version -> (upload time, file) for every file uploaded by ``until`` (``None``: all)."""
    out: dict[str, list[tuple[dt.datetime, dict[str, Any]]]] = {}
    releases = doc.get("releases")
    if not isinstance(releases, dict):
        return out
    for version, files in releases.items():
        for f in files if isinstance(files, list) else []:
            stamp = (f.get("upload_time_iso_8601") or f.get("upload_time")) if isinstance(f, dict) else None
            if not isinstance(stamp, str):
                continue
            try:
                parsed = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            except ValueError:
                continue
            parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
            if until is None or parsed <= until:
                out.setdefault(str(version), []).append((parsed, f))
    return out


def _info(doc: dict[str, Any]) -> dict[str, Any]:
    info = doc.get("info")
    return info if isinstance(info, dict) else {}


def _summary(doc: dict[str, Any]) -> str:
    text = _info(doc).get("summary")
    return re.sub(r"\W+", " ", text).strip().lower() if isinstance(text, str) else ""


def summaries_match(mine: str, theirs: str) -> bool:
    """The same summary, word for word or all but one word (a copied summary with the name swapped in)."""
    if not mine or len(theirs) < 10:
        return False
    if mine == theirs:
        return True
    a, b = mine.split(), theirs.split()
    if len(b) < 4 or abs(len(a) - len(b)) > 1:
        return False
    common = len(set(a) & set(b))
    return common >= max(len(set(a)), len(set(b))) - 1


_REPO_PATH = re.compile(r"^/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?(?:[#?/].*)?$")
_NAME_NOISE = re.compile(r"^(python-?|py-?)|(-?python|-?py)$")


def _links(doc: dict[str, Any]) -> list[str]:
    info = _info(doc)
    urls = info.get("project_urls")
    out = [str(info["home_page"])] if isinstance(info.get("home_page"), str) and info.get("home_page") else []
    if isinstance(urls, dict):
        out += [str(u) for u in urls.values() if isinstance(u, str) and u]
    return out


def repositories(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """(host, owner/repo) of every project link shaped like a code repository (``https://host/owner/repo``)."""
    out: set[tuple[str, str]] = set()
    for link in _links(doc):
        parts = urlsplit(link.strip())
        match = _REPO_PATH.match(parts.path or "")
        if parts.scheme in ("http", "https") and parts.netloc and match:
            out.add((parts.netloc.lower().removeprefix("www."), f"{match[1]}/{match[2]}".lower()))
    return out


def _bare(name: str) -> str:
    flat = canonical_name(name)
    return _NAME_NOISE.sub("", flat).replace("-", "") or flat.replace("-", "")


def context_from_json(doc: dict[str, Any], target_doc: dict[str, Any] | None = None, *, name: str | None = None,
                      target: str | None = None, until: dt.datetime | None = None) -> NameContext:
    """The candidate's facts from its JSON document (and the target's, for the summary and link comparisons).

    ``name``/``target``: the candidate's and the imitated project's names (a repository named like the target
    and not like the candidate reads as the target's: copied links, even without the target's document).
    ``until``: only uploads up to that time count (the bench replays an audit on an earlier day).
    """
    files = _files(doc, until)
    times = [t for fs in files.values() for t, _f in fs]
    info = _info(doc)
    has_urls = bool(_links(doc))
    mine, theirs = _summary(doc), _summary(target_doc or {})
    repos = repositories(doc)
    target_repos = repositories(target_doc or {})
    # a repository named like the package that is not the target's (a separator or "py" variant of the target's
    # name would otherwise read the target's own repository as the candidate's)
    own = bool(name) and any(_bare(r.split("/")[1]) == _bare(name or "") for h, r in repos - target_repos)
    if target_doc is not None:  # the target's own repositories, exactly (a fork named like it is not the target's)
        to_target = bool(repos & target_repos)
    else:  # only the target's name: a repository named like the target and not like the candidate
        to_target = bool(target) and any(_bare(r.split("/")[1]) == _bare(target or "") != _bare(name or "")
                                         for _h, r in repos)
    # a derivative (a port, a fork, a plugin) links its upstream beside its own repository; copied metadata
    # links the target's repository and no repository of its own
    copied = to_target and not own
    release_days, release_span_days = upload_spread(times)
    all_files = [f for fs in files.values() for _t, f in fs]
    return NameContext(
        on_index=True,
        first_upload=min(times) if times else None,
        release_count=len(files) if times else (len(doc["releases"]) if isinstance(doc.get("releases"), dict)
                                                 and until is None else None),
        release_days=release_days,
        release_span_days=release_span_days,
        has_wheels=any(f.get("packagetype") == "bdist_wheel" for f in all_files) if all_files else None,
        all_yanked=all(bool(f.get("yanked")) for f in all_files) if all_files else None,
        has_project_urls=has_urls if info else None,
        own_repository=own if info else None,
        links_to_target=copied if info and (target_doc is not None or target) else None,
        has_summary=bool(mine) if info else None,
        summary_matches_target=summaries_match(mine, theirs) if mine and target_doc is not None else None,
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
    return ContextLookup(name, context_from_json(doc, target_doc, name=name, target=target))

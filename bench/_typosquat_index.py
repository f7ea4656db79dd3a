"""Real index metadata for the audit-time typosquat evaluation (a helper of ``bench/typosquat.py``).

The genuine names of the evaluation (young names near popular ones, lockfile names) and the popular names they
resemble are looked up once in the index's per-project JSON API, whose base URL the user passes
(``--index-json <URL>``, the folder that holds ``<name>/json``); nothing here names a registry. Answers are cached
on disk in the bench cache (``MLAUDIT_BENCH_CACHE``/``index-json``, never the checkout), trimmed to what an audit
reads (summary, links, author, every release's files: upload time, kind, yanked), so a re-run reads the same
snapshot; the fetch date of each answer is kept and the run prints the span. A 404 is cached too: the name is gone
from the index (removed since the list was made, often a take-down), which makes it no genuine name.

Bounded: ``WORKERS`` requests at a time, ``TIMEOUT`` seconds each, ``RETRIES`` tries with back-off on errors and
429/5xx; a name that still fails is reported as not fetched (never as genuine or gone).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench import _common as common

WORKERS = 8
TIMEOUT = 20.0
RETRIES = 4
BACKOFF = 1.5  # seconds before the second try; doubled each time
USER_AGENT = "mlaudit-bench (typosquat evaluation; one look-up per name, cached)"


@dataclass(frozen=True)
class IndexAnswer:
    """One name's answer: ``doc`` (trimmed JSON) when 200, ``gone`` on 404, ``error`` when it could not be had."""

    name: str
    doc: dict[str, Any] | None
    gone: bool
    fetched: str  # ISO date of the answer
    error: str | None = None


def cache_folder() -> Path:
    path = common.bench_cache() / "index-json"
    path.mkdir(parents=True, exist_ok=True)
    return path


def trim(doc: dict[str, Any]) -> dict[str, Any]:
    """What an audit reads of a project's JSON document (the rest is dropped before caching)."""
    info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
    keep_info = {k: info.get(k) for k in ("name", "summary", "home_page", "project_urls", "author", "author_email",
                                          "version", "yanked")}
    releases: dict[str, list[dict[str, Any]]] = {}
    raw = doc.get("releases") if isinstance(doc.get("releases"), dict) else {}
    for version, files in raw.items():
        releases[version] = [{"upload_time_iso_8601": f.get("upload_time_iso_8601") or f.get("upload_time"),
                              "packagetype": f.get("packagetype"), "yanked": bool(f.get("yanked"))}
                             for f in (files if isinstance(files, list) else []) if isinstance(f, dict)]
    return {"info": keep_info, "releases": releases}


def _get(url: str) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:  # noqa: S310 - the user's index URL
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), b""


def fetch_one(base: str, name: str) -> IndexAnswer:
    path = cache_folder() / f"{name}.json"
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        return IndexAnswer(name, cached["doc"], bool(cached["gone"]), str(cached["fetched"]))
    except (OSError, ValueError, KeyError):
        pass
    url = base.rstrip("/") + "/" + quote(name) + "/json"
    error = "not tried"
    for attempt in range(RETRIES):
        try:
            status, body = _get(url)
        except (OSError, urllib.error.URLError) as exc:
            status, body, error = 0, b"", f"{type(exc).__name__}: {exc}"
        if status in (200, 404):
            doc = trim(json.loads(body)) if status == 200 else None
            today = dt.datetime.now(dt.timezone.utc).date().isoformat()
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"doc": doc, "gone": status == 404, "fetched": today}), encoding="utf-8")
            tmp.replace(path)
            return IndexAnswer(name, doc, status == 404, today)
        if status:
            error = f"HTTP {status}"
        time.sleep(BACKOFF * 2**attempt)
    return IndexAnswer(name, None, False, "", error=error)


def fetch_all(base: str, names: Iterable[str]) -> dict[str, IndexAnswer]:
    """Every name's answer (cache first), ``WORKERS`` at a time."""
    todo = sorted(set(names))
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return {a.name: a for a in pool.map(lambda n: fetch_one(base, n), todo)}


def main() -> int:  # pragma: no cover - a manual pre-fill: python -m bench._typosquat_index URL NAME...
    import sys

    answers = fetch_all(sys.argv[1], sys.argv[2:])
    print(sum(a.doc is not None for a in answers.values()), "found,", sum(a.gone for a in answers.values()), "gone,",
          sum(a.error is not None for a in answers.values()), "failed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

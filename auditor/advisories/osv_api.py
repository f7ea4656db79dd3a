"""``--online``: ask the OSV API which advisories affect the audited versions, then fetch each advisory.

Why both calls: ``/v1/querybatch`` answers only ids (and paginates per query with ``next_page_token``); the full
records (ranges, aliases, severity) come from ``/v1/vulns/{id}``. Ids are fetched once per run, concurrently, and
every failure is a ``NetworkError`` (exit 3): an API that did not answer must never look like "no advisories".
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from auditor.domain import canonical_name
from auditor.errors import NetworkError
from auditor.net import HttpClient, host_of

DEFAULT_API = "https://api.osv.dev"
SERVICE = "OSV API"
BATCH_SIZE = 1000
WORKERS = 8
MAX_PAGES = 100

PackageVersion = tuple[str, str]
Key = tuple[str, str | None]  # (name, version); version None: every advisory of the name


def api_base() -> str:
    return (os.environ.get("MLAUDIT_OSV_API") or DEFAULT_API).rstrip("/")


class OsvApiClient:
    """One client per run: holds the per-run cache of fetched records."""

    def __init__(self, http: HttpClient, base: str | None = None, workers: int = WORKERS) -> None:
        self.http = http
        self.base = (base or api_base()).rstrip("/")
        self.workers = workers
        self._records: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _bad(self, what: str) -> NetworkError:
        return NetworkError(f"unexpected answer: {what}", service=SERVICE, host=host_of(self.base))

    def _batch(self, queries: list[dict[str, Any]]) -> list[Mapping[str, Any]]:
        answer = self.http.post_json(f"{self.base}/v1/querybatch", {"queries": queries}, service=SERVICE)
        results = answer.get("results") if isinstance(answer, Mapping) else None
        if not isinstance(results, list) or len(results) != len(queries):
            got = len(results) if isinstance(results, list) else "no"
            raise self._bad(f"{got} results for {len(queries)} queries")
        out: list[Mapping[str, Any]] = []
        for item in results:
            if not isinstance(item, Mapping):
                raise self._bad("a result is not an object")
            out.append(item)
        return out

    @staticmethod
    def _query(key: Key, token: str | None) -> dict[str, Any]:
        query: dict[str, Any] = {"package": {"name": key[0], "ecosystem": "PyPI"}}
        if key[1] is not None:
            query["version"] = key[1]
        if token:
            query["page_token"] = token
        return query

    def _batches(self, batches: list[list[dict[str, Any]]]) -> list[list[Mapping[str, Any]]]:
        """Several ``querybatch`` calls at once (a large graph is several batches); any failure raises."""
        if len(batches) <= 1:
            return [self._batch(b) for b in batches]
        from concurrent.futures import ThreadPoolExecutor  # a thread pool for network work only

        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(batches)))) as pool:
            return list(pool.map(self._batch, batches))

    def query_ids(self, packages: Sequence[Key]) -> dict[Key, list[str]]:
        """Advisory ids per (PEP 503 name, version) — version ``None`` asks for every advisory of the name —
        following ``next_page_token`` until exhausted."""
        keys: list[Key] = [(canonical_name(n), v) for n, v in packages]
        found: dict[Key, list[str]] = {k: [] for k in keys}
        pending: list[tuple[Key, str | None]] = [(k, None) for k in dict.fromkeys(keys)]
        rounds = 0
        while pending:
            rounds += 1
            if rounds > MAX_PAGES:
                raise self._bad(f"more than {MAX_PAGES} pages of results")
            next_pending: list[tuple[Key, str | None]] = []
            chunks = [pending[start:start + BATCH_SIZE] for start in range(0, len(pending), BATCH_SIZE)]
            answers = self._batches([[self._query(key, token) for key, token in chunk] for chunk in chunks])
            for chunk, results in zip(chunks, answers, strict=True):
                for (key, _token), result in zip(chunk, results, strict=True):
                    vulns = result.get("vulns") or []
                    if not isinstance(vulns, list):
                        raise self._bad("'vulns' is not a list")
                    for vuln in vulns:
                        vid = vuln.get("id") if isinstance(vuln, Mapping) else None
                        if not isinstance(vid, str) or not vid:
                            raise self._bad("a vulnerability without an id")
                        if vid not in found[key]:
                            found[key].append(vid)
                    token = result.get("next_page_token")
                    if isinstance(token, str) and token:
                        next_pending.append((key, token))
            pending = next_pending
        return found

    def vuln(self, vuln_id: str) -> dict[str, Any]:
        with self._lock:
            cached = self._records.get(vuln_id)
        if cached is not None:
            return cached
        record = self.http.get_json(f"{self.base}/v1/vulns/{quote(vuln_id, safe='')}", service=SERVICE)
        if not isinstance(record, dict) or record.get("id") != vuln_id:
            raise self._bad(f"record for {vuln_id} has id {record.get('id') if isinstance(record, dict) else None!r}")
        with self._lock:
            self._records[vuln_id] = record
        return record

    def fetch(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        from concurrent.futures import ThreadPoolExecutor  # a thread pool for network work only

        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(unique)))) as pool:
            records = list(pool.map(self.vuln, unique))
        return dict(zip(unique, records, strict=True))

    def query(self, packages: Sequence[PackageVersion]) -> dict[PackageVersion, list[dict[str, Any]]]:
        """Full OSV records per (name, version): the advisories of that version, plus every ``MAL-`` record of the
        name whatever its version (issue 5: a name once used for malware is suspicious), asked in the same
        batches as name-only queries of which only the ``MAL-`` ids are fetched."""
        keys: list[PackageVersion] = [(canonical_name(n), v) for n, v in packages]
        names = list(dict.fromkeys(name for name, _ in keys))
        ids = self.query_ids([*keys, *[(name, None) for name in names]])
        malware = {name: [i for i in ids[(name, None)] if i.startswith("MAL-")] for name in names}
        per_key = {key: list(dict.fromkeys([*ids[key], *malware[key[0]]])) for key in keys}
        records = self.fetch([i for found in per_key.values() for i in found])
        return {key: [records[i] for i in found] for key, found in per_key.items()}

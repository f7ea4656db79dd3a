"""Fetching PEP 740 provenance objects: the simple API's ``provenance`` link, else the Integrity API.

Why both: PEP 740 lets an index link provenance from the project page (JSON key / ``data-provenance``), and PyPI
also serves it at ``/integrity/{project}/{version}/{filename}/provenance``. When the page carries the key, its
answer (a URL or null) is authoritative; otherwise the Integrity API on the index host is asked, where 404 means
"no provenance". Anything else (timeouts, 5xx, broken JSON) is a ``NetworkError``: a failed look-up must never read
as "not attested".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from auditor.domain import canonical_name
from auditor.options import AuditContext
from auditor.pkgindex import IndexFile

SERVICE = "integrity API"
ENV_OVERRIDE = "MLAUDIT_INTEGRITY_URL"
ACCEPT = "application/vnd.pypi.integrity.v1+json, application/json;q=0.9"


def integrity_base(index_url: str) -> str:
    """The Integrity API root for an index: ``$MLAUDIT_INTEGRITY_URL``, else the index URL with its trailing
    ``/simple`` segment replaced by ``/integrity`` (``https://host/simple`` -> ``https://host/integrity``)."""
    override = os.environ.get(ENV_OVERRIDE)
    if override:
        return override.rstrip("/")
    parts = urlsplit(index_url)
    path = parts.path.rstrip("/")
    path = path[: -len("/simple")] if path.endswith("/simple") else ""
    return urlunsplit((parts.scheme, parts.netloc, f"{path}/integrity", "", ""))


def integrity_url(base: str, project: str, version: str, filename: str) -> str:
    parts = (canonical_name(project), version, filename)
    return base + "".join(f"/{quote(p, safe='')}" for p in parts) + "/provenance"


@dataclass
class Fetched:
    """The provenance of one file: ``data`` None means the index says there is none."""

    filename: str
    data: bytes | None
    url: str | None
    via: str  # "simple-api" | "integrity-api"


def fetch_provenance(ctx: AuditContext, index_url: str, project: str, version: str, entry: IndexFile) -> Fetched:
    if entry.provenance_listed:
        if entry.provenance_url is None:
            return Fetched(entry.filename, None, None, "simple-api")
        return _get(ctx, entry.provenance_url, entry.filename, "simple-api")
    url = integrity_url(integrity_base(index_url), project, version, entry.filename)
    return _get(ctx, url, entry.filename, "integrity-api")


def _get(ctx: AuditContext, url: str, filename: str, via: str) -> Fetched:
    resp = ctx.http.get(url, service=SERVICE, headers={"Accept": ACCEPT}, ok_statuses=frozenset({200, 404}))
    if resp.status_code == 404:
        return Fetched(filename, None, url, via)
    return Fetched(filename, resp.content, url, via)

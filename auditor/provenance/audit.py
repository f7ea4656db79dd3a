"""Provenance of one resolved package: fetch, verify, compare with the declared source, look for regressions.

Why per package (and not per file of the release): a release can have hundreds of wheels; the ones that matter
are those an install would pick. We verify the files the resolver chose (``Package.artifacts``), else the best
wheel for this interpreter plus the sdist, at most ``MAX_FILES`` per package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from packaging.version import InvalidVersion, Version

from auditor.distfiles import best_wheel
from auditor.domain import Package
from auditor.errors import NetworkError
from auditor.net import host_of
from auditor.options import AuditContext
from auditor.pkgindex import SERVICE as INDEX_SERVICE
from auditor.pkgindex import IndexFile, ProjectPage
from auditor.provenance.integrity import SERVICE, Fetched, fetch_provenance
from auditor.provenance.source import declared_urls_from_core_metadata, declared_urls_from_metadata, source_match
from auditor.provenance.verify import MalformedProvenance, PublisherInfo, Verification, verify_provenance

MAX_FILES = 3
MAX_METADATA_BYTES = 1_000_000
MAX_SDIST_BYTES = 16 * 1024 * 1024

ATTESTED = "attested"
MISSING = "missing"
PARTIAL = "partial"
INVALID = "invalid"
NOT_FOUND = "not-on-index"


@dataclass
class PackageProvenance:
    name: str
    version: str
    status: str
    files: list[Verification] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    publishers: list[PublisherInfo] = field(default_factory=list)
    source_match: str = "unknown"
    declared_urls: list[str] = field(default_factory=list)
    regression_from: str | None = None  # an earlier version that had provenance while this one has none
    via: str = ""
    urls: list[str] = field(default_factory=list)  # where the provenance objects were fetched

    @property
    def invalid(self) -> list[Verification]:
        return [v for v in self.files if not v.ok]

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "files": [v.to_json() for v in self.files],
                "missing_files": list(self.missing_files), "publishers": [p.to_json() for p in self.publishers],
                "source_match": self.source_match, "regression_from": self.regression_from, "via": self.via,
                "urls": list(self.urls)}


def chosen_files(package: Package, files: list[IndexFile]) -> list[IndexFile]:
    """The files an install would use: the resolver's choice, else best wheel for this interpreter + sdist."""
    wanted = {a.filename for a in package.artifacts}
    picked = [f for f in files if f.filename in wanted]
    if picked:
        return picked[:MAX_FILES]
    wheels = [f for f in files if f.kind == "wheel"]
    sdists = [f for f in files if f.kind == "sdist"]
    out: list[IndexFile] = []
    if wheels:
        out.append(best_wheel(wheels, lambda f: f.filename))
    if sdists:
        out.append(sdists[0])
    return out or files[:1]


def audit_package(ctx: AuditContext, package: Package, page: ProjectPage | None) -> PackageProvenance:
    """Fetch and verify provenance for ``package``'s chosen files; NetworkError when a look-up fails."""
    result = PackageProvenance(package.name, package.version, NOT_FOUND)
    if page is None:
        return result
    files = [f for f in chosen_files(package, page.files_of(package.version)) if f.sha256]
    if not files:
        return result
    for entry in files:
        fetched = fetch_provenance(ctx, page.index_url, package.name, package.version, entry)
        result.via = fetched.via
        if fetched.data is None:
            result.missing_files.append(entry.filename)
            continue
        if fetched.url:
            result.urls.append(fetched.url)
        result.files.append(_verify(fetched, entry))
    for verification in result.files:
        for pub in verification.publishers:
            if pub not in result.publishers:
                result.publishers.append(pub)
    if result.invalid:
        result.status = INVALID
    elif result.files and result.missing_files:
        result.status = PARTIAL
    elif result.files:
        result.status = ATTESTED
    else:
        result.status = MISSING
    if result.status in (ATTESTED, PARTIAL):
        result.declared_urls = declared_urls(ctx, package, page)
        result.source_match = source_match(result.publishers, result.declared_urls)
    if result.status == MISSING:
        result.regression_from = earlier_attested(ctx, package, page)
    return result


def _verify(fetched: Fetched, entry: IndexFile) -> Verification:
    assert fetched.data is not None and entry.sha256 is not None
    try:
        return verify_provenance(fetched.data, entry.filename, entry.sha256)
    except MalformedProvenance as exc:
        raise NetworkError(str(exc), service=SERVICE, host=host_of(fetched.url or "")) from exc


def declared_urls(ctx: AuditContext, package: Package, page: ProjectPage) -> list[str]:
    """The project's declared URLs: from ``Package.metadata``, else the PEP 658 metadata of a wheel, else the
    ``PKG-INFO`` read (never built or extracted) from the sdist."""
    urls = declared_urls_from_metadata(package.metadata)
    if urls:
        return urls
    files = page.files_of(package.version)
    for entry in files:
        if entry.kind == "wheel" and entry.core_metadata:
            resp = ctx.http.get(entry.url + ".metadata", service=INDEX_SERVICE, ok_statuses=frozenset({200, 404}))
            if resp.status_code == 200 and len(resp.content) <= MAX_METADATA_BYTES:
                return declared_urls_from_core_metadata(resp.content.decode("utf-8", "replace"))
            break
    if any(f.kind == "wheel" for f in files):
        return []  # wheels without PEP 658 metadata: not worth downloading a (possibly huge) wheel for this
    for entry in files:
        if entry.kind == "sdist" and entry.sha256:
            return _sdist_declared_urls(ctx, entry)
    return []


def _sdist_declared_urls(ctx: AuditContext, entry: IndexFile) -> list[str]:
    import hashlib
    import tarfile
    import zipfile

    from auditor.resolve.sdist import read_members

    resp = ctx.http.get(entry.url, service=INDEX_SERVICE, ok_statuses=frozenset({200, 404}))
    if resp.status_code != 200:  # listed but not served: the declared repository stays unknown, nothing else lost
        return []
    data = resp.content
    if len(data) > MAX_SDIST_BYTES or hashlib.sha256(data).hexdigest() != entry.sha256:
        return []
    try:
        pkg_info = read_members(data, entry.filename).get("PKG-INFO")
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError):
        return []
    return declared_urls_from_core_metadata(pkg_info.decode("utf-8", "replace")) if pkg_info else []


def earlier_attested(ctx: AuditContext, package: Package, page: ProjectPage) -> str | None:
    """The latest earlier release if it had provenance (this one has none): a publishing-path regression."""
    try:
        current = Version(package.version)
    except InvalidVersion:
        return None
    earlier = [v for v in page.versions() if Version(v) < current]
    stable = [v for v in earlier if not Version(v).is_prerelease]
    candidates = stable or earlier
    if not candidates:
        return None
    previous = candidates[-1]
    files = page.files_of(previous)
    if any(f.provenance_listed for f in files):
        return previous if any(f.provenance_url for f in files) else None
    for entry in sorted(files, key=lambda f: f.kind != "sdist")[:2]:
        if fetch_provenance(ctx, page.index_url, package.name, previous, entry).data is not None:
            return previous
    return None

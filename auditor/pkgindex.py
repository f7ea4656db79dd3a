"""The one package-index client: a project's page on an index (PEP 503 HTML or PEP 691 JSON), read once per run.

Why our own reader: the hash and provenance checks need, per file, the published sha256, the PEP 740
``provenance`` link (JSON key ``provenance`` / HTML attribute ``data-provenance``) and whether PEP 658 core
metadata is available; the dependency-confusion check needs the versions an index lists (PEP 700 ``versions``
too); the resolver's sdist fallbacks need the sdists. None of it is kept by the resolver. Every one of them reads
pages here, through the run's one HTTP client (``ctx.http``: its retry policy, host state and connection pool),
and pages are cached per run in ``ctx.caches`` so that the checks share one request per project and index.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from packaging.version import InvalidVersion, Version

from auditor.domain import Package, canonical_name
from auditor.errors import NetworkError
from auditor.net import MAX_IN_FLIGHT, host_of, parse_json
from auditor.options import AuditContext, CacheSlot
from auditor.tools import environment_index_urls, uv_binary

SERVICE = "package index"
SIMPLE_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
_LOCK = threading.Lock()
_DEFAULT_LOCK = threading.Lock()


@dataclass
class IndexFile:
    """One file of a project as the index lists it."""

    filename: str
    url: str
    sha256: str | None
    version: str | None
    kind: str  # "wheel" | "sdist" | "other"
    provenance_url: str | None = None
    provenance_listed: bool = False  # the page carries the PEP 740 key for this file (null or a URL)
    core_metadata: bool = False
    yanked: bool = False
    project: str | None = None  # PEP 503 name parsed from the filename
    upload_time: str | None = None  # PEP 700 ``upload-time`` (ISO 8601), when the index gives it


@dataclass
class ProjectPage:
    name: str
    index_url: str
    files: list[IndexFile] = field(default_factory=list)
    listed_versions: list[str] = field(default_factory=list)  # PEP 700 ``versions`` (a JSON page's own list)
    _by_version: dict[Version | str, list[IndexFile]] | None = field(default=None, init=False, repr=False,
                                                                     compare=False)

    def files_of(self, version: str) -> list[IndexFile]:
        """Files of ``version`` whose filename names this project (a file of another project listed on this page
        is never taken as this project's: installers refuse such files too)."""
        by_version = self._by_version
        if by_version is None:  # one pass over the page, not one per version asked (pages list thousands of files)
            by_version = {}
            for f in self.files:
                if f.version is not None and f.project == self.name:
                    by_version.setdefault(_parsed(f.version) or f.version, []).append(f)
            self._by_version = by_version
        return list(by_version.get(_parsed(version) or version, ()))

    def all_versions(self) -> list[str]:
        """Every version the page names: its files' and its PEP 700 ``versions`` list, oldest first (versions that
        do not parse last)."""
        named = {*self.versions(), *self.listed_versions}
        return sorted(named, key=lambda v: (_parsed(v) is None, _parsed(v) or Version("0"), v))

    def versions(self) -> list[str]:
        """Distinct versions, oldest first (unparseable versions are left out)."""
        seen: dict[Version, str] = {}
        for f in self.files:
            if f.version is None or f.project != self.name:
                continue
            try:
                seen.setdefault(Version(f.version), f.version)
            except InvalidVersion:
                continue
        return [seen[v] for v in sorted(seen)]


PROJECT_PAGES: CacheSlot[dict[tuple[str, str], ProjectPage | None]] = CacheSlot("index pages")  # name, index
DEFAULT_INDEX: CacheSlot[str] = CacheSlot("default index")  # the resolver's default index, asked once


def _parsed(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


# legacy distributions pip no longer installs from, but an index still lists (their versions count as listed)
_LEGACY_FILE = re.compile(r"^(?P<name>[A-Za-z0-9._]+?)-(?P<version>\d[^-]*?)(?:-py\d[^-]*)?"
                          r"(?:\.tar\.bz2|\.tar\.xz|\.tgz|\.egg)$")


def file_version(filename: str) -> tuple[str | None, str, str | None]:
    """``(version, kind, PEP 503 project name)`` parsed from a distribution filename."""
    # imported here: ``packaging.utils`` brings ``packaging.tags`` (platform, logging, subprocess), which a run that
    # reads no index page does not need
    from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
            return str(version), "wheel", canonical_name(name)
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return str(version), "sdist", canonical_name(name)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None, "other", None
    legacy = _LEGACY_FILE.match(filename)
    if legacy and _parsed(legacy["version"]) is not None:
        return legacy["version"], "other", canonical_name(legacy["name"])
    return None, "other", None


def index_urls_for(ctx: AuditContext, package: Package | None = None) -> list[str]:
    """Where a package may live, in order: its own index, the configured ones (primary, then extras); only when
    nothing is configured, pip/uv's variables (as pip and uv read them: an explicit index overrides them), else
    uv's default index (asked once per run)."""
    per_profile = ctx.indexes_for(package) if package is not None else None
    if per_profile is not None:  # the package's own profiles' indexes only; None there is the default index
        own = [package.index_url] if package is not None and package.index_url else []
        return list(dict.fromkeys([*own, *(u if u else _default(ctx) for u in per_profile)]))
    configured = [package.index_url if package else None, ctx.options.index_url, *ctx.index_urls,
                  *ctx.options.extra_index_urls]
    urls = list(dict.fromkeys(u for u in configured if u))
    if not urls:
        urls = environment_index_urls()
    return urls or [_default(ctx)]


def _default(ctx: AuditContext) -> str:
    """The index used when none is configured: pip/uv's variables, else uv's default (asked once per run)."""
    env = environment_index_urls()
    if env:
        return env[0]
    with _DEFAULT_LOCK:  # asked once per run, not once per thread that needs it first
        cached = ctx.caches.get(DEFAULT_INDEX)
        if cached is None:
            cached = ctx.caches.put(DEFAULT_INDEX, default_index_url())
    return cached


def default_index_url() -> str:
    """uv's own default index, asked from uv offline (never written down in our code)."""
    uv = uv_binary()
    if uv is not None:
        import subprocess  # only to ask uv its default index

        proc = subprocess.run([uv, "pip", "compile", "--no-config", "--offline", "--quiet", "--no-header",
                               "--emit-index-url", "-"], input="", capture_output=True, text=True, timeout=60,
                              check=False)
        for line in proc.stdout.splitlines():
            if line.startswith("--index-url "):
                return line.split(None, 1)[1].strip()
    raise NetworkError("no index configured and the resolver's default index is unknown", service=SERVICE,
                       host="default index")


def project_page(ctx: AuditContext, name: str, index_url: str) -> ProjectPage | None:
    """The project's page on ``index_url`` (None: the index does not know the project). Cached per run."""
    key = (canonical_name(name), index_url.rstrip("/"))
    with _LOCK:
        cache = ctx.caches.setdefault(PROJECT_PAGES, dict)
        if key in cache:
            return cache[key]
    if index_url.startswith("file:"):
        local = _local_page(key[0], index_url)
        with _LOCK:
            cache[key] = local
        return local
    url = urljoin(index_url.rstrip("/") + "/", f"{key[0]}/")
    resp = ctx.http.get(url, service=SERVICE, headers={"Accept": SIMPLE_ACCEPT}, ok_statuses=frozenset({200, 404}))
    page: ProjectPage | None = None
    if resp.status_code == 200:
        ctype = resp.headers.get("content-type", "")
        base = resp.url or url
        if "json" in ctype:
            data = parse_json(resp, service=SERVICE)
            page = ProjectPage(key[0], index_url, parse_json_page(data, base), listed_versions(data))
        else:
            page = ProjectPage(key[0], index_url, parse_html_page(resp.text, base))
    with _LOCK:
        cache[key] = page
    return page


MAX_LOCAL_PAGE = 16 * 1024 * 1024


def _local_page(name: str, index_url: str) -> ProjectPage | None:
    """A ``file://`` index (pip accepts one): the project's ``<name>/index.html`` as pip reads it, else the files in
    ``<name>/`` (their digests unknown: a pin compared with them stays unverified, never a mismatch)."""
    from urllib.request import url2pathname

    folder = Path(url2pathname(urlsplit(index_url).path)) / name
    if not folder.is_dir():
        return None
    listing = folder / "index.html"
    if listing.is_file() and listing.stat().st_size <= MAX_LOCAL_PAGE:
        base = listing.as_uri()
        files = parse_html_page(listing.read_text(errors="replace"), base, local=True)
        return ProjectPage(name, index_url, files)
    files = []
    for path in sorted(folder.iterdir()):
        version, kind, project = file_version(path.name)
        if path.is_file() and kind != "other":
            files.append(IndexFile(filename=path.name, url=path.as_uri(), sha256=None, version=version, kind=kind,
                                   project=project))
    return ProjectPage(name, index_url, files)


def _join(base: str, ref: object) -> str | None:
    """``ref`` resolved against ``base`` when it is an http(s) URL; None for anything else (a hostile page can
    list ``javascript:`` or malformed URLs; they are never fetched)."""
    if not isinstance(ref, str) or not ref:
        return None
    try:
        url = urljoin(base, ref)
        scheme = urlsplit(url).scheme
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def parse_json_page(data: Any, base: str) -> list[IndexFile]:
    """PEP 691 files, with the PEP 740 ``provenance`` key and PEP 714/658 ``core-metadata`` key."""
    if not isinstance(data, dict):
        raise NetworkError("project page is not a JSON object", service=SERVICE, host=host_of(base))
    out: list[IndexFile] = []
    files = data.get("files")
    for entry in files if isinstance(files, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str):
            continue
        url = _join(base, entry.get("url"))
        if url is None or not entry["filename"]:
            continue
        filename = entry["filename"]
        version, kind, project = file_version(filename)
        hashes = entry.get("hashes") if isinstance(entry.get("hashes"), dict) else {}
        sha = hashes.get("sha256") if hashes else None
        prov = entry.get("provenance")
        meta = entry.get("core-metadata", entry.get("dist-info-metadata"))
        out.append(IndexFile(
            filename=filename, url=url, sha256=sha.lower() if isinstance(sha, str) and sha else None,
            version=version, kind=kind, provenance_url=_join(base, prov),
            provenance_listed="provenance" in entry, core_metadata=bool(meta), yanked=bool(entry.get("yanked")),
            project=project, upload_time=upload if isinstance(upload := entry.get("upload-time"), str) else None,
        ))
    return out


def listed_versions(data: Any) -> list[str]:
    """A PEP 691 page's PEP 700 ``versions`` list (strings only; a hostile page can put anything there)."""
    versions = data.get("versions") if isinstance(data, dict) else None
    return [v for v in versions if isinstance(v, str) and v][:100_000] if isinstance(versions, list) else []


def _join_local(base: str, ref: object) -> str | None:
    if not isinstance(ref, str) or not ref:
        return None
    try:
        return urljoin(base, ref)
    except ValueError:
        return None


def _anchors(text: str) -> list[tuple[dict[str, str | None], str]]:
    """Every ``<a>`` of an HTML page: its attributes and its text. The HTML parser is imported here, when a page
    is HTML: most runs read none (the JSON API is asked first; offline, no page at all), issue 25 start-up."""
    from html.parser import HTMLParser

    class AnchorParser(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.anchors: list[tuple[dict[str, str | None], str]] = []
            self._current: dict[str, str | None] | None = None
            self._text: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "a":
                self._current = dict(attrs)
                self._text = []

        def handle_data(self, data: str) -> None:
            if self._current is not None:
                self._text.append(data)

        def handle_endtag(self, tag: str) -> None:
            if tag == "a" and self._current is not None:
                self.anchors.append((self._current, "".join(self._text).strip()))
                self._current = None

    parser = AnchorParser()
    parser.feed(text)
    return parser.anchors


def parse_html_page(text: str, base: str, *, local: bool = False) -> list[IndexFile]:
    """PEP 503 anchors; ``#sha256=`` fragments, ``data-provenance`` (PEP 740), ``data-core-metadata``. ``local``:
    a ``file://`` index's page, whose links are files beside it (never fetched: only their names and digests)."""
    out: list[IndexFile] = []
    for attrs, label in _anchors(text):
        full = _join(base, attrs.get("href")) if not local else _join_local(base, attrs.get("href"))
        if full is None:
            continue
        parts = urlsplit(full)
        filename = unquote(parts.path.rsplit("/", 1)[-1]) or label  # the file the link fetches, as pip names it
        frag = parts.fragment
        sha = frag.split("=", 1)[1].lower() if frag.startswith("sha256=") else None
        version, kind, project = file_version(filename)
        prov = attrs.get("data-provenance")
        meta = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        out.append(IndexFile(
            filename=filename, url=full.split("#", 1)[0], sha256=sha, version=version, kind=kind,
            provenance_url=_join(base, prov), provenance_listed="data-provenance" in attrs,
            core_metadata=meta is not None and meta != "false", yanked="data-yanked" in attrs, project=project,
        ))
    return out


MAX_WORKERS = MAX_IN_FLIGHT  # page fetches in flight (the HTTP client bounds each host to the same)


def find_page(ctx: AuditContext, package: Package, failures: list[NetworkError] | None = None) -> ProjectPage | None:
    """The first page among the package's candidate indexes that lists files of its version. With ``failures``,
    an index that cannot be reached is noted there and the next one is asked; without, the failure propagates."""
    fallback: ProjectPage | None = None
    for url in index_urls_for(ctx, package):
        try:
            page = project_page(ctx, package.name, url)
        except NetworkError as exc:
            if failures is None:
                raise
            failures.append(exc)
            continue
        if page is not None and page.files_of(package.version):
            return page
        fallback = fallback or page
    return fallback


def fetch_pages(ctx: AuditContext, packages: list[Package],
                failures: dict[str, list[NetworkError]] | None = None) -> dict[str, ProjectPage | None]:
    """Project pages for ``packages``, fetched concurrently. A network failure propagates (exit 3), unless
    ``failures`` is given: then each package's unreachable indexes are noted there by name (``find_page``)."""
    from concurrent.futures import ThreadPoolExecutor

    if not packages:
        return {}

    def one(package: Package) -> ProjectPage | None:
        if failures is None:
            return find_page(ctx, package)
        noted: list[NetworkError] = []
        page = find_page(ctx, package, noted)
        if noted:
            failures[package.name] = noted
        return page

    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(packages))) as pool:
        pages = list(pool.map(one, packages))
    return {p.name: page for p, page in zip(packages, pages, strict=True)}

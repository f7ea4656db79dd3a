"""Check: dependency confusion between package indexes.

When an audit uses more than one index, the same name on two of them is a race the installer decides: pip merges
all indexes and takes the highest version anywhere (so a public upload of ``internal-lib 99.0`` beats the private
``1.2``, the 2022 ``torchtriton`` incident); uv's default ``first-index`` strategy takes the first index that has
the name at all (``unsafe-best-match`` restores pip's behaviour). Each name is looked up on every index's simple
API (PEP 691 JSON, falling back to PEP 503 HTML) through the shared HTTP client.

Findings: kind ``dependency-confusion``, id ``MLA-DEPENDENCY-CONFUSION``; high, critical when an index other than
the one holding the pinned version offers a higher version (pip would install that one).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from auditor.domain import Finding, Package, Severity, canonical_name
from auditor.errors import NetworkError
from auditor.evidence import Details
from auditor.kinds import FindingKind, Rule
from auditor.ledger import ItemKind
from auditor.net import HttpClient, redact_url
from auditor.options import AuditContext
from auditor.policy import Policy

RULE = Rule.DEPENDENCY_CONFUSION
SERVICE = "package index (simple API)"
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
WORKERS = 8


@dataclass
class IndexListing:
    index: str
    present: bool
    versions: list[str] = field(default_factory=list)

    @property
    def highest(self) -> Version | None:
        parsed = [_version(v) for v in self.versions]
        good = [v for v in parsed if v is not None]
        return max(good) if good else None


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.files: list[str] = []
        self._in_a = False
        self._href = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._in_a = True
            self._href = dict(attrs).get("href") or ""

    def handle_data(self, data: str) -> None:
        if self._in_a and data.strip():
            self.files.append(data.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._in_a:
            name = unquote(urlsplit(self._href).path.rsplit("/", 1)[-1])
            if name:
                self.files.append(name)
            self._in_a = False


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def version_of_file(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        m = re.match(r"^[A-Za-z0-9._]+?-(\d[^-]*?)(\.tar\.gz|\.zip|\.tar\.bz2|\.egg)$", filename)
        return m.group(1) if m else None


def parse_listing(body: bytes, content_type: str) -> list[str]:
    """Versions named by a project page: PEP 691 JSON (``versions`` or file names) or PEP 503 HTML anchors."""
    versions: list[str] = []
    if "json" in content_type:
        import json

        try:
            doc: Any = json.loads(body)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            listed = doc.get("versions")
            if isinstance(listed, list):
                versions.extend(str(v) for v in listed)
            for f in doc.get("files") or []:
                if isinstance(f, dict) and isinstance(f.get("filename"), str):
                    v = version_of_file(f["filename"])
                    if v:
                        versions.append(v)
            return sorted(set(versions), key=lambda v: (_version(v) is None, _version(v) or Version("0")))
    parser = _Anchors()
    parser.feed(body.decode("utf-8", "replace"))
    for fname in parser.files:
        v = version_of_file(fname)
        if v:
            versions.append(v)
    return sorted(set(versions), key=lambda v: (_version(v) is None, _version(v) or Version("0")))


def lookup(http: HttpClient, index: str, name: str) -> IndexListing:
    url = index.rstrip("/") + "/" + canonical_name(name) + "/"
    resp = http.get(url, service=SERVICE, ok_statuses=frozenset({200, 404}), headers={"Accept": ACCEPT})
    if resp.status_code == 404:
        return IndexListing(index, present=False)
    return IndexListing(index, present=True, versions=parse_listing(resp.content, resp.headers.get("content-type", "")))


def configured_indexes(ctx: AuditContext) -> list[str]:
    """The effective index list the pipeline recorded (with any credentials: lookups need them), else the options."""
    urls = [u for u in ctx.index_urls if u.strip()]
    if not urls:
        urls = [u for u in [ctx.options.index_url, *ctx.options.extra_index_urls] if u]
    return list(dict.fromkeys(u.strip() for u in urls))


def assess(name: str, pinned: str | None, listings: list[IndexListing], internal: bool) -> Finding | None:
    """Decide one name from its per-index listings (in configured order)."""
    present = [lst for lst in listings if lst.present]
    if len(present) < 2 and not (internal and present and present[0] is not listings[0]):
        return None
    best = max(present, key=lambda lst: lst.highest or Version("0"))
    uv_winner = present[0]
    holder = next((lst for lst in present if pinned and pinned in lst.versions), None)
    severity = Severity.HIGH
    if holder is not None and best is not holder and (best.highest or Version("0")) > (
            _version(pinned or "") or Version("0")):
        severity = Severity.CRITICAL
    where = ", ".join(f"{redact_url(lst.index)} ({lst.highest or 'no versions'})" for lst in present)
    if len(present) >= 2:
        message = f"'{name}' exists on {len(present)} indexes: {where}; pip installs the highest version anywhere"
    else:
        message = f"'{name}' matches an internal prefix but exists only on {redact_url(present[0].index)}, not the primary index"
    evidence = {
        "indexes": [{"url": redact_url(lst.index), "present": lst.present, "versions": lst.versions[-20:],
                     "highest": str(lst.highest) if lst.highest else None} for lst in listings],
        "pinned_version": pinned,
        "pinned_on": redact_url(holder.index) if holder else None,
        "pip_winner": {"index": redact_url(best.index), "version": str(best.highest) if best.highest else None},
        "uv_winner": {"index": redact_url(uv_winner.index),
                      "version": str(uv_winner.highest) if uv_winner.highest else None,
                      "strategy": "first-index (uv default); with --index-strategy unsafe-best-match uv picks like pip"},
        "internal_prefix": internal,
    }
    return Finding(
        kind=FindingKind.DEPENDENCY_CONFUSION,
        id=RULE,
        severity=severity,
        message=message,
        package=(name, pinned or ""),
        evidence=Details.of(evidence),
        fix="pin the package to one index (uv: [[tool.uv.index]] explicit = true + tool.uv.sources; pip: one "
            "--index-url serving both, e.g. a proxy that blocks the public name) and keep --hash pins",
        check="dependency-confusion",
    )


def _applies(ctx: AuditContext, package: Package, index: str) -> bool:
    own = ctx.indexes_for(package)
    return own is None or index in own or (index == ctx.options.index_url and None in own)


class ConfusionCheck:
    name = "dependency-confusion"

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        indexes = configured_indexes(ctx)
        if len(indexes) < 2:
            if ctx.options.extra_index_urls and not ctx.options.index_url and len(indexes) == 1:
                ctx.incomplete(ItemKind.CHECK, "dependency confusion",
                               "not checked: only an extra index is configured and the implicit default index is "
                               "unknown to mlaudit; pass --index-url explicitly")
            return []
        if ctx.options.offline:
            ctx.incomplete(ItemKind.CHECK, "dependency confusion",
                           f"not checked: offline with {len(indexes)} package indexes")
            return []
        policy = ctx.options.policy or Policy()
        prefixes = [canonical_name(p).rstrip("-") for p in policy.internal_prefixes if p.strip()]
        packages = list(ctx.report.packages.values())
        # A name is looked up only on the indexes of the profiles it comes from: one requirements file's
        # --extra-index-url never receives another file's names.
        jobs = [(pkg.name, idx) for pkg in packages for idx in indexes if _applies(ctx, pkg, idx)]
        results: dict[tuple[str, str], IndexListing] = {}
        errors: list[str] = []

        def one(job: tuple[str, str]) -> tuple[tuple[str, str], IndexListing | None, str | None]:
            try:
                return job, lookup(ctx.http, job[1], job[0]), None
            except NetworkError as exc:
                return job, None, str(exc)

        with ThreadPoolExecutor(max_workers=min(WORKERS, max(1, len(jobs)))) as pool:
            for job, listing, err in pool.map(one, jobs):
                if listing is not None:
                    results[job] = listing
                elif err:
                    errors.append(f"{job[0]} on {redact_url(job[1])}: {err}")
        if errors:
            ctx.incomplete(ItemKind.CHECK, "dependency confusion",
                           f"{len(errors)} index lookup(s) failed (first: {errors[0]})")
        findings: list[Finding] = []
        for pkg in packages:
            wanted = [idx for idx in indexes if _applies(ctx, pkg, idx)]
            listings = [results[(pkg.name, idx)] for idx in wanted if (pkg.name, idx) in results]
            if len(listings) != len(wanted):
                continue  # incomplete: recorded above, never reported as clean or as a finding on partial data
            name = canonical_name(pkg.name)
            internal = any(name == p or name.startswith(p + "-") for p in prefixes)
            finding = assess(pkg.name, pkg.version or None, listings, internal)
            if finding is not None:
                finding.location = pkg.location
                findings.append(finding)
        return findings


CHECK = ConfusionCheck()

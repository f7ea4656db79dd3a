"""Check: dependency confusion between package indexes.

When an audit uses more than one index, the same name on two of them is a race the installer decides: pip merges
all indexes and takes the highest version anywhere (so a public upload of ``internal-lib 99.0`` beats the private
``1.2``, the 2022 ``torchtriton`` incident); uv's default ``first-index`` strategy takes the first index that has
the name at all (``unsafe-best-match`` restores pip's behaviour). Each name is looked up on every index's simple
API (PEP 691 JSON, falling back to PEP 503 HTML) through the run's one index client (``pkgindex``: pages
shared with the hash and provenance checks, the run's retry policy and host state).

Findings: kind ``dependency-confusion``, id ``MLA-DEPENDENCY-CONFUSION``; high, critical when an index other than
the one holding the pinned version offers a higher version (pip would install that one).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from packaging.version import InvalidVersion, Version

from auditor.domain import Finding, Package, Severity, canonical_name
from auditor.errors import NetworkError
from auditor.evidence import Details
from auditor.kinds import FindingKind, Rule
from auditor.ledger import ItemKind
from auditor.net import redact_url
from auditor.options import AuditContext
from auditor.pkgindex import (
    MAX_WORKERS,
    ProjectPage,
    listed_versions,
    parse_html_page,
    parse_json_page,
    project_page,
)
from auditor.policy import Policy

RULE = Rule.DEPENDENCY_CONFUSION
WORKERS = MAX_WORKERS


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


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def parse_listing(body: bytes, content_type: str, base: str = "https://index.invalid/simple/project/") -> list[str]:
    """Versions a project page names (PEP 691 JSON with its PEP 700 ``versions``, or PEP 503 HTML anchors), read by
    the one index-page reader (``pkgindex``); ``base`` resolves relative links."""
    if "json" in content_type:
        try:
            data: object = json.loads(body)
        except ValueError:
            return []
        if not isinstance(data, dict):
            return []
        page = ProjectPage("", base, [replace(f, project="") for f in parse_json_page(data, base)],
                           listed_versions(data))
    else:
        files = parse_html_page(body.decode("utf-8", "replace"), base)
        page = ProjectPage("", base, [replace(f, project="") for f in files])
    return page.all_versions()


def lookup(ctx: AuditContext, index: str, name: str) -> IndexListing:
    """The name's listing on ``index``: its page from the run's index client (one request per project and index,
    shared with the hash, provenance and fallback look-ups)."""
    page = project_page(ctx, name, index)
    if page is None:
        return IndexListing(index, present=False)
    return IndexListing(index, present=True, versions=page.all_versions())


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
                return job, lookup(ctx, job[1], job[0]), None
            except NetworkError as exc:
                return job, None, str(exc)

        from concurrent.futures import ThreadPoolExecutor  # a thread pool for network work only

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

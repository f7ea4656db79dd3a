"""Pinned hashes against the digests the index publishes.

Why: a requirements file with ``--hash`` or a lockfile promises "exactly these bytes". If none of the files the
index publishes for that version has a pinned digest, either the lock was made against another (possibly
attacker-controlled) index or the release was replaced: both are critical (CONVENTIONS.md: hash mismatches are
critical). Packages without pinned hashes are marked in their properties so the SBOM shows it; they only become
findings when the policy asks for hashes (``require_hashes``).

Published digests come from the resolver (uv's pylock output for the chosen version, filtered to the target) or
from the project's page on the index (every file of the version), asked whenever the index is reachable -- for a
lockfile re-audit too, where no resolver ran: pinned hashes are always compared unless ``--offline``. Offline, a
pin whose hashes could not be compared makes the report incomplete (kind ``hashes``, "hashes not verified")
instead of passing as clean. With ``--online`` the pages of every package are read (their files are recorded).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from auditor.domain import Artifact, Finding, Package, Severity
from auditor.errors import HostDownError, NetworkError
from auditor.evidence import Details
from auditor.kinds import FindingKind
from auditor.ledger import ItemKind
from auditor.options import AuditContext
from auditor.pkgindex import ProjectPage, fetch_pages
from auditor.provenance import prop

# Sources whose ``Package.hashes`` are the index's digests (written by the resolver), not user pins.
RESOLVER_SOURCES = frozenset({"resolver", "sdist-static-metadata", "environment"})


def _sha256_values(values: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for value in values:
        algo, sep, digest = str(value).partition(":")
        if not sep:
            algo, sep, digest = str(value).partition("=")
        if sep and algo.strip().lower() == "sha256" and digest.strip():
            out.add(digest.strip().lower())
    return out


def pinned_hashes(package: Package) -> tuple[set[str], list[str]]:
    """``(sha256 digests the user pinned, every pinned hash as written)`` for ``package``.

    The resolver records a requirement's ``--hash`` values in ``metadata["pinned_hashes"]`` because its own
    ``hashes`` are the index digests; for inputs that are already resolved (requirements, lockfiles), the
    package's ``hashes`` and its artifacts' hashes are what the input pinned.
    """
    explicit = package.metadata.get("pinned_hashes")
    if isinstance(explicit, list):
        raw = [str(v) for v in explicit]
    elif package.source in RESOLVER_SOURCES:
        raw = []
    else:
        raw = list(package.hashes)
        raw += [f"{algo}:{value}" for a in package.artifacts for algo, value in a.hashes.items()]
    raw = list(dict.fromkeys(raw))
    return _sha256_values(raw), raw


@dataclass
class Published:
    digests: dict[str, str] = field(default_factory=dict)  # sha256 -> filename
    complete: bool = False  # every file of the version (index page) vs the resolver's target-filtered list
    origin: str = ""


def published_from_resolver(package: Package) -> Published | None:
    if package.source not in RESOLVER_SOURCES:
        return None
    digests = {a.hashes["sha256"].lower(): a.filename for a in package.artifacts if a.url and "sha256" in a.hashes}
    return Published(digests, complete=False, origin="resolver") if digests else None


def published_from_page(package: Package, page: ProjectPage | None) -> Published | None:
    if page is None:
        return None
    files = page.files_of(package.version)
    digests = {f.sha256: f.filename for f in files if f.sha256}
    return Published(digests, complete=True, origin="index page") if digests else None


def record_index_artifacts(package: Package, page: ProjectPage | None) -> None:
    """Keep the index's digests on the package: add its files when none are known, mark known ones verified."""
    if page is None:
        return
    files = page.files_of(package.version)
    if not package.artifacts:
        package.artifacts = [Artifact(filename=f.filename, url=f.url, hashes={"sha256": f.sha256} if f.sha256 else {},
                                      kind=f.kind if f.kind != "other" else "sdist") for f in files]
        return
    by_name = {f.filename: f for f in files}
    for art in package.artifacts:
        listed = by_name.get(art.filename)
        if listed is not None and listed.sha256 and "sha256" in art.hashes:
            art.verified = art.hashes["sha256"].lower() == listed.sha256


class HashesCheck:
    name = "hashes"

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        packages = list(ctx.report.packages.values())
        pages: dict[str, ProjectPage | None] = {}
        # An index that cannot be reached costs the comparisons it was needed for -- named per package, and the
        # index as a failed service -- never the audit of the packages themselves.
        failures: dict[str, list[NetworkError]] = {}
        if ctx.options.online and not ctx.options.offline:
            pages = fetch_pages(ctx, packages, failures)
        elif not ctx.options.offline:  # only what needs the index: pins no resolver run has digests for
            pages = fetch_pages(ctx, [p for p in packages if pinned_hashes(p)[1] and p.version
                                      and published_from_resolver(p) is None], failures)
        _record_unreachable(ctx, failures)
        findings: list[Finding] = []
        stats = {"pinned": 0, "unpinned": 0, "match": 0, "mismatch": 0, "not-checked": 0}
        require = ctx.options.policy is not None and ctx.options.policy.require_hashes
        for package in packages:
            page = pages.get(package.name)
            pinned, raw = pinned_hashes(package)
            published = published_from_page(package, page) or published_from_resolver(package)
            record_index_artifacts(package, page)
            if not raw:
                stats["unpinned"] += 1
                package.properties[prop("hashes-pinned")] = "false"
                if require:
                    findings.append(_unpinned(package))
                continue
            stats["pinned"] += 1
            package.properties[prop("hashes-pinned")] = "true"
            unreachable = failures.get(package.name, [])
            if published is None or not pinned:
                package.properties[prop("hashes-verified")] = "not-checked"
                stats["not-checked"] += 1
                ctx.incomplete(ItemKind.HASHES, f"{package.name}=={package.version}", _not_verified(ctx, package,
                                                                                                 pinned, page,
                                                                                                 unreachable))
                continue
            unknown = sorted(pinned - published.digests.keys())
            matched = sorted(pinned & published.digests.keys())
            bad = bool(unknown) if published.complete else not matched
            if bad and unreachable:  # the unmatched pin may be a file of the index that could not be asked
                package.properties[prop("hashes-verified")] = "not-checked"
                stats["not-checked"] += 1
                ctx.incomplete(ItemKind.HASHES, f"{package.name}=={package.version}",
                               _not_verified(ctx, package, pinned, page, unreachable))
                continue
            package.properties[prop("hashes-verified")] = "mismatch" if bad else "match"
            stats["mismatch" if bad else "match"] += 1
            if bad:
                findings.append(_mismatch(package, unknown, matched, published))
        ctx.report.hash_summary = {
            **stats, "index_pages": bool(pages),
            "note": "offline: pinned hashes were not compared with the index" if ctx.options.offline else "",
        }
        return findings


def _record_unreachable(ctx: AuditContext, failures: dict[str, list[NetworkError]]) -> None:
    """Each index that could not be reached, once, as a failed service (exit 3), with how many packages' pinned
    hashes it left uncompared."""
    by_index: dict[str, tuple[NetworkError, int]] = {}
    for errors in failures.values():
        for exc in errors:
            key = str(getattr(exc, "host", "")) or str(exc)
            first, count = by_index.get(key, (exc, 0))
            by_index[key] = (first, count + 1)
    for key, (exc, count) in by_index.items():
        what = f"pinned hashes of {count} package(s) were not compared with this index"
        reason = f"{what}: {exc} (the packages themselves were audited)"
        if isinstance(exc, HostDownError):  # one entry for the host, whoever else needed it
            ctx.report.ledger.record_host_failure(f"{exc.service} ({key})", exc.host, reason, what)
        else:
            ctx.incomplete(ItemKind.SERVICE, f"{exc.service} ({key})", reason)


def _not_verified(ctx: AuditContext, package: Package, pinned: set[str], page: ProjectPage | None,
                  unreachable: list[NetworkError] | None = None) -> str:
    """Why a pin's hashes were not compared (the reason of its ``hashes`` gap)."""
    if ctx.options.offline:
        return "hashes not verified: offline, the pinned hashes were not compared with the index"
    if not pinned:
        return "hashes not verified: no sha256 among the pinned hashes (only sha256 is published by the index)"
    if unreachable:
        hosts = ", ".join(dict.fromkeys(str(getattr(e, "host", "")) or str(e) for e in unreachable))
        return f"hashes not verified: the index that may list this version could not be reached ({hosts})"
    if page is None:
        return "hashes not verified: the index has no page for this project"
    return f"hashes not verified: the index lists no file of version {package.version}"


def _mismatch(package: Package, unknown: list[str], matched: list[str], published: Published) -> Finding:
    where = "the index publishes" if published.complete else "the resolver chose for the target"
    shown = ", ".join(f"sha256:{h[:16]}…" for h in unknown[:3]) + (" …" if len(unknown) > 3 else "")
    if published.complete:
        message = (f"{package.name}=={package.version}: pinned hash(es) {shown} match no file {where} for this "
                   "version")
    else:
        message = f"{package.name}=={package.version}: none of the pinned hashes matches a file {where}"
    return Finding(
        kind=FindingKind.HASH_MISMATCH, id="hash-mismatch", severity=Severity.CRITICAL, message=message,
        package=(package.name, package.version), location=package.location, check="hashes",
        evidence=Details.of({"unmatched": [f"sha256:{h}" for h in unknown], "matched": [f"sha256:{h}" for h in matched],
                  "published": {f"sha256:{h}": name for h, name in sorted(published.digests.items())},
                  "published_from": published.origin}),
        fix="re-create the pins against the trusted index (pip-compile --generate-hashes / uv lock) and find out "
            "where the pinned file came from before installing",
    )


def _unpinned(package: Package) -> Finding:
    return Finding(
        kind=FindingKind.UNPINNED_HASHES, id="unpinned-hashes", severity=Severity.HIGH,
        message=f"{package.name}=={package.version} is not pinned by hash (policy requires hashes)",
        package=(package.name, package.version), location=package.location, check="hashes",
        fix="lock with hashes (pip-compile --generate-hashes, uv pip compile --generate-hashes, uv lock)",
    )


CHECK = HashesCheck()

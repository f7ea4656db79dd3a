"""PEP 740 provenance for every resolved package (``--online`` only).

Findings: ``provenance-invalid`` (critical: the index serves an attestation that does not verify for the digest
installers accept), ``missing-provenance`` (info; id ``provenance-regression`` at low when an earlier release was
attested and this one is not; ``require-attestation`` in the policy raises both), ``publisher-mismatch`` (low:
attested, but from a repository the project does not declare). Without ``--online`` nothing is fetched; packages
are marked ``provenance=not-checked`` and the summary says why (with ``require-attestation`` the report is also
marked incomplete, since the gate asked for something that was not checked).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from auditor.domain import Finding, Package, Severity
from auditor.evidence import Details
from auditor.kinds import FindingKind
from auditor.ledger import ItemKind
from auditor.options import AuditContext
from auditor.pkgindex import MAX_WORKERS, ProjectPage, fetch_pages
from auditor.provenance import prop
from auditor.provenance.summary import summarise

if TYPE_CHECKING:
    from auditor.provenance.audit import PackageProvenance

# ``auditor.provenance.audit`` (attestation fetching and verification) is imported by the online path only: an
# offline audit marks every package not-checked and needs none of it

NOT_ONLINE = "provenance not checked: it needs --online (PEP 740 attestations are fetched from the index)"


class ProvenanceCheck:
    name = "provenance"

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        report = ctx.report
        if ctx.options.offline or not ctx.options.online:
            for package in report.packages.values():
                package.properties.setdefault(prop("provenance"), "not-checked")
            summarise(report, checked=False, reason=NOT_ONLINE)
            if ctx.options.policy is not None and ctx.options.policy.require_attestation:
                ctx.incomplete(ItemKind.CHECK, "provenance", NOT_ONLINE + " (the policy sets require-attestation)")
            return []
        packages = list(report.packages.values())
        pages = fetch_pages(ctx, packages)
        ctx.progress(f"checking provenance of {len(packages)} packages")
        results = audit_all(ctx, packages, pages)
        findings: list[Finding] = []
        details: dict[str, object] = {}
        for package, result in zip(packages, results, strict=True):
            _record(package, result)
            details[package.name] = result.to_json()
            findings.extend(_findings(package, result))
        summarise(report, checked=True)
        if report.provenance_summary is not None:
            report.provenance_summary["details"] = details
        return findings


def audit_all(ctx: AuditContext, packages: list[Package], pages: dict[str, ProjectPage | None]
               ) -> list[PackageProvenance]:
    if not packages:
        return []
    from concurrent.futures import ThreadPoolExecutor  # a thread pool for network work only

    from auditor.provenance.audit import audit_package

    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(packages))) as pool:
        return list(pool.map(lambda p: audit_package(ctx, p, pages.get(p.name)), packages))


def _record(package: Package, result: PackageProvenance) -> None:
    from auditor.provenance.audit import ATTESTED, PARTIAL

    props = package.properties
    props[prop("provenance")] = result.status
    if result.publishers:
        first = result.publishers[0]
        props[prop("provenance-publisher")] = first.kind
        if first.repository or first.identity:
            props[prop("provenance-repository")] = first.repository or first.identity or ""
        if first.workflow:
            props[prop("provenance-workflow")] = first.workflow
        if first.environment:
            props[prop("provenance-environment")] = first.environment
    claims = next((v.claims for v in result.files if v.ok and v.claims), {})
    if claims.get("source_repository_ref"):
        props[prop("provenance-ref")] = claims["source_repository_ref"]
    if claims.get("source_repository_digest"):
        props[prop("provenance-commit")] = claims["source_repository_digest"]
    if claims.get("source_repository_uri"):  # for SBOM externalReferences (vcs) next to the attestation URL
        props[prop("provenance-source-repository")] = claims["source_repository_uri"]
    if result.urls:
        props[prop("provenance-url")] = result.urls[0]
    if result.status in (ATTESTED, PARTIAL):
        props[prop("provenance-source-match")] = result.source_match
    if result.regression_from:
        props[prop("provenance-regression")] = result.regression_from
    if result.files or result.missing_files:
        props[prop("provenance-files")] = " ".join([v.filename for v in result.files] + result.missing_files)


def _findings(package: Package, result: PackageProvenance) -> list[Finding]:
    from auditor.provenance.audit import ATTESTED, INVALID, MISSING, PARTIAL

    ident = (package.name, package.version)
    label = f"{package.name}=={package.version}"
    out: list[Finding] = []
    if result.status == INVALID:
        for bad in result.invalid:
            out.append(Finding(
                kind=FindingKind.PROVENANCE_INVALID, id="provenance-invalid", severity=Severity.CRITICAL,
                message=f"{label}: provenance for {bad.filename} does not verify: {bad.error}",
                package=ident, location=package.location, check="provenance", evidence=Details.of(bad.to_json()),
                fix="do not install this file; compare it with the project's release and report it to the index",
            ))
        return out
    if result.status in (MISSING, PARTIAL):
        missing = ", ".join(result.missing_files)
        if result.regression_from:
            out.append(Finding(
                kind=FindingKind.MISSING_PROVENANCE, id="provenance-regression", severity=Severity.LOW,
                message=f"{label}: no provenance for {missing}, although {result.regression_from} was attested "
                        "(the release did not come through the project's trusted publishing path)",
                package=ident, location=package.location, check="provenance",
                evidence=Details.of({"missing_files": result.missing_files, "earlier_attested": result.regression_from}),
                fix="check with the project how this release was published before upgrading to it",
            ))
        else:
            partial = " (other files of the release are attested)" if result.status == PARTIAL else ""
            out.append(Finding(
                kind=FindingKind.MISSING_PROVENANCE, id="missing-provenance", severity=Severity.INFO,
                message=f"{label}: no PEP 740 provenance for {missing}{partial}",
                package=ident, location=package.location, check="provenance",
                evidence=Details.of({"missing_files": result.missing_files, "via": result.via}),
            ))
    if result.status in (ATTESTED, PARTIAL) and result.source_match == "false":
        publishers = ", ".join(p.label() for p in result.publishers)
        out.append(Finding(
            kind=FindingKind.PUBLISHER_MISMATCH, id="publisher-mismatch", severity=Severity.LOW,
            message=f"{label}: attested by {publishers}, which is not a repository the project declares",
            package=ident, location=package.location, check="provenance",
            evidence=Details.of({"publishers": [p.to_json() for p in result.publishers], "declared": result.declared_urls}),
            fix="confirm the publishing repository belongs to the project (renamed or moved repositories also "
                "show up here)",
        ))
    return out


__all__ = ["CHECK", "ProvenanceCheck"]

CHECK = ProvenanceCheck()

"""Check ``advisories``: every package (resolved or audited from its pin) against the OSV advisory index, plus the
OSV API with ``--online``. One finding per advisory (aliases merged) with fixed versions and the smallest upgrade
that clears every advisory of the package."""

from __future__ import annotations

from collections.abc import Iterable

from auditor.advisories.findings import vulnerability_findings
from auditor.advisories.runtime import online_records, store_for
from auditor.model import Finding, canonical_name
from auditor.options import AuditContext


class AdvisoriesCheck:
    name = "advisories"

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        store = store_for(ctx)
        packages = [p for p in ctx.report.packages.values() if p.version]
        ctx.progress(f"matching {len(packages)} packages against advisories")
        local = store.vulnerabilities_many(p.name for p in packages)
        online = online_records(ctx)
        findings: list[Finding] = []
        for pkg in packages:
            name = canonical_name(pkg.name)
            records = [*local.get(name, []), *online.get((name, pkg.version), [])]
            if records:
                findings.extend(vulnerability_findings(name, pkg.version, records))
        return findings


CHECK = AdvisoriesCheck()

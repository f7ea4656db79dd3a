"""Check ``malicious``: a package whose name appears in an OpenSSF MAL- record is reported (critical) whatever its
version — a name once used for malware is suspicious even when this release is not listed (issue 5 §2); the
evidence says whether this exact version is listed."""

from __future__ import annotations

from collections.abc import Iterable

from auditor.advisories.findings import malicious_findings
from auditor.advisories.match import is_malicious_record
from auditor.advisories.runtime import online_records, store_for
from auditor.model import Finding, canonical_name
from auditor.options import AuditContext


class MaliciousCheck:
    name = "malicious"

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        store = store_for(ctx)
        packages = list(ctx.report.packages.values())
        ctx.progress(f"checking {len(packages)} names against known-malicious packages")
        local = store.malicious_many(p.name for p in packages)
        online = online_records(ctx)
        findings: list[Finding] = []
        for pkg in packages:
            name = canonical_name(pkg.name)
            remote = [r for r in online.get((name, pkg.version), []) if is_malicious_record(r)]
            records = [*local.get(name, []), *remote]
            if records:
                findings.extend(malicious_findings(name, pkg.version, records))
        return findings


CHECK = MaliciousCheck()

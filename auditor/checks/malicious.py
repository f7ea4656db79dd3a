"""Check ``malicious``: a package whose name appears in an OpenSSF MAL- record is reported (critical) whatever its
version — a name once used for malware is suspicious even when this release is not listed (issue 5 §2); the
evidence says whether this exact version is listed."""

from __future__ import annotations

from collections.abc import Iterable

from auditor.advisories.findings import malicious_findings
from auditor.advisories.match import is_malicious_record
from auditor.advisories.record import OsvRecord
from auditor.advisories.runtime import online_records, store_for
from auditor.domain import Finding, canonical_name
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
        advisories: dict[str, list[OsvRecord]] = {}
        suspects = [canonical_name(p.name) for p in packages
                    if local.get(canonical_name(p.name)) or any(map(is_malicious_record, online.get(
                        (canonical_name(p.name), p.version), [])))]
        if suspects:  # advisories aliased by a MAL- record join its finding (e.g. a GitHub malware advisory)
            advisories = store.vulnerabilities_many(suspects)
        for pkg in packages:
            name = canonical_name(pkg.name)
            records = [*local.get(name, []), *advisories.get(name, []), *online.get((name, pkg.version), [])]
            if any(map(is_malicious_record, records)):
                findings.extend(malicious_findings(name, pkg.version, records))
        return findings


CHECK = MaliciousCheck()

"""Check ``advisories``: every package (resolved or audited from its pin) against the OSV advisory index, plus the
OSV API with ``--online``. One finding per advisory (aliases merged) with fixed versions and the smallest upgrade
that clears every advisory of the package."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from auditor.advisories.findings import malware_ids, vulnerability_findings
from auditor.advisories.runtime import online_records, store_for
from auditor.domain import Finding, canonical_name
from auditor.ledger import ItemKind
from auditor.options import AuditContext


class AdvisoriesCheck:
    name = "advisories"

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        store = store_for(ctx)
        packages = [p for p in ctx.report.packages.values() if p.version]
        # a name the index does not have has no releases, so no advisories (its own finding: unclaimed-name)
        unversioned = sorted(p.name for p in ctx.report.packages.values()
                             if not p.version and p.properties.get("mlaudit:unclaimed") != "true")
        if unversioned:
            for name in unversioned:
                ctx.incomplete(ItemKind.PACKAGE, name, "advisories not checked: the package has no version")
        ctx.progress(f"matching {len(packages)} packages against advisories")
        local = store.vulnerabilities_many(p.name for p in packages)
        # MAL- records too: an advisory aliased by one belongs to the ``malicious`` finding, not here
        malware = store.malicious_many(p.name for p in packages)
        online = online_records(ctx)
        findings: list[Finding] = []
        for pkg in packages:
            name = canonical_name(pkg.name)
            remote = online.get((name, pkg.version), [])
            records = [*local.get(name, []), *malware.get(name, []), *remote]
            if not records:
                continue
            found = vulnerability_findings(name, pkg.version, records)
            findings.extend(found)
            _note_unconfirmed(ctx, name, pkg.version, remote, found, malware_ids(records))
        return findings


def _note_unconfirmed(ctx: AuditContext, name: str, version: str, remote: list[dict[str, Any]],
                      found: list[Finding], malware: set[str]) -> None:
    """The OSV API listed an advisory that exact evaluation of its own record does not confirm (e.g. only GIT
    ranges): say so instead of dropping it silently."""
    reported = {i for f in found for i in f.all_ids} | malware  # MAL-linked: the malicious check reports it
    for record in remote:
        rid = str(record.get("id", ""))
        if rid and rid not in reported and not record.get("withdrawn"):
            ctx.report.warnings.append(
                f"OSV API listed {rid} for {name} {version}, but the record's own ranges/versions do not include "
                "this version; not reported (check it by hand)")


CHECK = AdvisoriesCheck()

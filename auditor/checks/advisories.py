"""Check ``advisories``: every package (resolved or audited from its pin) against the OSV advisory index, plus the
OSV API with ``--online``. One finding per advisory (aliases merged) with fixed versions and the smallest upgrade
that clears every advisory of the package."""

from __future__ import annotations

from collections.abc import Iterable

from auditor.advisories.findings import malware_ids, vulnerability_findings
from auditor.advisories.match import unreadable_events
from auditor.advisories.record import OsvRecord
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
                             if not p.version and not p.unclaimed)
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
            _note_unreadable(ctx, name, pkg.version, records, found)
        return findings


def _note_unreadable(ctx: AuditContext, name: str, version: str, records: list[OsvRecord],
                     found: list[Finding]) -> None:
    """A range whose end holds no version at all (``fixed: "trunk"``) is not evaluated (reading it as open would
    flag every later release); when that leaves the record unmatched, the report says so instead of nothing."""
    reported = {i for f in found for i in f.all_ids}
    for record in records:
        rid = record.id
        if rid in reported:
            continue
        unreadable = unreadable_events(record, name)
        if unreadable:
            events = ", ".join(f"{r.kind} {r.value[:60]!r}" for r in unreadable)  # record text: bounded
            warning = (f"{rid} for {name}: {events} is not a version, so its range was not evaluated against "
                       f"{version} (check it by hand)")
            if warning not in ctx.report.warnings:
                ctx.report.warnings.append(warning)


def _note_unconfirmed(ctx: AuditContext, name: str, version: str, remote: list[OsvRecord],
                      found: list[Finding], malware: set[str]) -> None:
    """The OSV API listed an advisory that exact evaluation of its own record does not confirm (e.g. only GIT
    ranges): say so instead of dropping it silently."""
    reported = {i for f in found for i in f.all_ids} | malware  # MAL-linked: the malicious check reports it
    for record in remote:
        rid = record.id
        if rid and rid not in reported and not record.withdrawn:
            ctx.report.warnings.append(
                f"OSV API listed {rid} for {name} {version}, but the record's own ranges/versions do not include "
                "this version; not reported (check it by hand)")


CHECK = AdvisoriesCheck()

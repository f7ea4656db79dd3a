"""What the ``malicious``, ``advisories`` and ``unclaimed-name`` checks share within one run: the open store and its
data-source entries (registered once), and the online OSV answers (queried once, for both advisory checks). The
data's age becomes the run's one warning after the checks (``freshness.note_stale_data``)."""

from __future__ import annotations

from datetime import datetime, timezone

from auditor.advisories.db import AdvisoryStore, open_store
from auditor.advisories.osv_api import OsvApiClient, PackageVersion
from auditor.advisories.record import OsvRecord, records_of
from auditor.domain import DataSource
from auditor.errors import NetworkError
from auditor.ledger import ItemKind
from auditor.options import AuditContext, CacheSlot

ADVISORY_STORE: CacheSlot[AdvisoryStore] = CacheSlot("advisory store")  # opened once per run
OSV_ONLINE: CacheSlot[dict[PackageVersion, list[OsvRecord]]] = CacheSlot("OSV API answers")  # --online


def _add_source(ctx: AuditContext, source: DataSource) -> None:
    if not any(s.name == source.name for s in ctx.report.data_sources):
        ctx.report.data_sources.append(source)


def store_for(ctx: AuditContext) -> AdvisoryStore:
    """Open the store once per run and record which data the report relied on."""
    store = ctx.caches.get(ADVISORY_STORE)
    if store is not None:
        return store
    ctx.progress("opening the advisory database")
    store = open_store()
    ctx.caches.put(ADVISORY_STORE, store)
    _add_source(ctx, store.advisory_source())
    _add_source(ctx, store.malicious_source())
    for warning in store.warnings:  # the data's age is one warning of the whole run (``freshness``)
        if warning not in ctx.report.warnings:
            ctx.report.warnings.append(warning)
    return store


def online_enabled(ctx: AuditContext) -> bool:
    return bool(ctx.options.online) and not ctx.options.offline


def online_records(ctx: AuditContext) -> dict[PackageVersion, list[OsvRecord]]:
    """OSV API answers for every package of the report (empty when not ``--online``, or when the API failed: the
    failure is then a ``service`` item of the report, recorded once for both checks)."""
    if not online_enabled(ctx):
        return {}
    cached = ctx.caches.get(OSV_ONLINE)
    if cached is not None:
        return cached
    packages = [(p.name, p.version) for p in ctx.report.packages.values() if p.version]
    ctx.progress(f"querying the OSV API for {len(packages)} packages")
    client = OsvApiClient(ctx.http)
    try:
        answer = {key: records_of(found) for key, found in client.query(packages).items()}
    except NetworkError as exc:
        # the API adds to the local results, it never replaces them: every local vulnerability and malicious
        # finding stays, and the report is incomplete naming the service (exit 3)
        ctx.caches.put(OSV_ONLINE, {})
        ctx.incomplete(ItemKind.SERVICE, f"{exc.service} ({exc.host})",
                       f"advisories were not checked online: {exc}; the findings from the local advisory "
                       "database are reported, advisories only the OSV API knows are missing (hint: rerun "
                       "without --online to use the local database only)")
        return {}
    ctx.caches.put(OSV_ONLINE, answer)
    ids = {r.id for records in answer.values() for r in records}
    today = datetime.now(timezone.utc).date().isoformat()  # live answers: as fresh as the query
    _add_source(ctx, DataSource(name="advisories (online)", source=f"OSV API {client.base}", date=today,
                                records=len(ids)))
    return answer

"""The audit pipeline: sources (profiles) -> resolve (per profile) -> models -> graph -> checks -> policy.

One function, ``run_audit``, so that the CLI, the ``graph``/``sbom`` commands and library callers all get the
same report from the same inputs. Each stage records what it could not do in the report's ledger instead of failing
silently; the ledger is closed in one place (``auditor.accounting.reconcile``). Input errors raise ``InputError``
(exit 2); a service that fails is recorded and the report is still produced (exit 3 at the CLI).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from auditor.accounting import ProfileRun, assemble, merge_build_variants, reconcile
from auditor.advisories.freshness import note_stale_data
from auditor.baseline import apply_baseline
from auditor.checks import load_checks
from auditor.domain import ROOT_NODE, Edge, Finding, ModelRef, Report, Severity, Skipped
from auditor.errors import HostDownError, IncompleteError, NetworkError
from auditor.graph import attach_paths
from auditor.kinds import FindingKind
from auditor.ledger import GapKind, ItemKind
from auditor.net import HttpClient, redact_url
from auditor.options import AuditContext, AuditOptions, ProgressFn, RunCaches, no_progress, project_filter
from auditor.policy import Policy, apply_policy, policy_note
from auditor.redact import redact_report
from auditor.sources.project import Profile, Project
from auditor.textsafe import secret_scope

if TYPE_CHECKING:
    from auditor.models.refs import ModelScan
    from auditor.resolve.base import Resolution

T = TypeVar("T")

KIND_ORDER = {FindingKind.MALICIOUS: 0, FindingKind.HASH_MISMATCH: 1, FindingKind.PROVENANCE_INVALID: 1,
              FindingKind.SIGNATURE_INVALID: 1}


def run_audit(options: AuditOptions, progress: ProgressFn = no_progress, *, caches: RunCaches | None = None,
              http: HttpClient | None = None) -> Report:
    """``_audit`` in a scope of its own for the environment values its inputs expand (``textsafe.secret_scope``):
    the report shows ``${VAR}``, never the value, and one run's values never rewrite another's report."""
    with secret_scope():
        return _audit(options, progress, caches=caches, http=http)


def _audit(options: AuditOptions, progress: ProgressFn = no_progress, *, caches: RunCaches | None = None,
           http: HttpClient | None = None) -> Report:
    """Audit the project described by ``options`` and return the finished, policy-applied report.

    A service that fails (the package index for one profile, the Hub, the OSV API) does not lose the report: the
    failure is recorded as a ``service`` item (exit 3 at the CLI, with a hint) and the other stages still run.
    ``caches`` and ``http`` let a caller that runs many audits in one process (``mlaudit fleet``) hand each run
    what may be shared between them (index pages, a connection pool bounded per host); by default a run shares
    nothing.
    """
    report = Report(generated_at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat())
    ctx = AuditContext(options=options, report=report, http=http or HttpClient(options.net), progress=progress,
                       caches=caches or RunCaches())
    policy = options.policy or Policy()
    report.policy = policy_note(policy, options.disabled_checks)
    _project_disables(report, policy)

    started = time.perf_counter()
    progress("reading inputs")
    project = _load_project(options)
    report.inputs = list(project.files)
    identity = project.merged()
    report.root_name = identity.root_name or _default_root_name(options)
    report.root_version = identity.root_version
    if identity.root_metadata:
        report.root_metadata = dict(identity.root_metadata)
    for warning in [*project.identity.warnings, *identity.warnings]:
        if warning not in report.warnings:
            report.warnings.append(warning)
    for profile in project.profiles:
        for item in [*profile.source.items, *profile.source.skipped]:
            item.profile = item.profile or profile.name
        report.ledger.extend(profile.source.items)
        report.ledger.extend(profile.source.skipped)
    report.ledger.extend(project.excluded)
    indexes = [u for u in [options.index_url or identity.index_url, *options.extra_index_urls,
                           *identity.extra_index_urls] if u]
    ctx.index_urls = list(dict.fromkeys(indexes))
    ctx.profile_indexes = _profile_indexes(project, options)
    report.indexes = list(dict.fromkeys(redact_url(u) for u in indexes))
    report.target = {
        "python_version": options.python_version or "current interpreter",
        "platform": options.platform or "current platform",
    }
    _lap(report, "sources", started)

    started = time.perf_counter()
    resolving = not options.offline and any(not profile.source.resolved for profile in project.profiles)
    if resolving:  # the model-reference scan and the checks' loading overlap the resolver's wait on the index
        from auditor.resolve import load_resolver

        load_resolver()  # before the thread: the two would share the interpreter lock and delay uv's start
        with _in_background(lambda: _scan_models(options, project.code_root), options) as scanned:
            progress("resolving dependencies")
            outcomes = [_resolve_only(profile, options, ctx, several=len(project.profiles) > 1)
                        for profile in project.profiles]
        scan = scanned()
    else:
        progress("finding model references")
        scan = _scan_models(options, project.code_root)
        progress("resolving dependencies")
        outcomes = [_resolve_only(profile, options, ctx, several=len(project.profiles) > 1)
                    for profile in project.profiles]
    refs, ref_gaps = _found_models(identity.models, ctx, scan)
    hub_failed = _probe_hub(refs, ctx) if refs and _asks_hub(options) else None
    runs = [_record_profile(profile, outcome, ctx) for profile, outcome in zip(project.profiles, outcomes,
                                                                                strict=True)]
    assemble(report, runs)
    _lap(report, "resolve", started)

    started = time.perf_counter()
    hub_failed = _collect_models(refs, ref_gaps, ctx, hub_failed)
    _lap(report, "models", started)

    checks_failed: list[str] = []
    for check in load_checks():
        if check.name in options.disabled_checks:
            continue
        started = time.perf_counter()
        progress(f"checking: {check.name}")
        try:
            report.findings.extend(check.run(ctx))
        except IncompleteError as exc:
            checks_failed.append(check.name)
            _service_failed(report, exc, f"the {check.name} check did not complete")
        _lap(report, f"check:{check.name}", started)

    _hosts_down(report, ctx.http)
    note_stale_data(report, policy.stale_after_days)
    attach_paths(report)  # the graph once, after every check (checks add nodes, e.g. hub-resolved base models)
    _name_profiles(report, len(runs))
    merge_build_variants(report)
    reconcile(report, runs, checks_failed=checks_failed, hub_failed=hub_failed)
    report.ledger.settle()
    report.findings.sort(key=_finding_order)
    apply_policy(report, policy, disabled=options.disabled_checks)
    _remediate(ctx, runs)
    if options.baseline is not None:
        apply_baseline(report, options.baseline)
    report.fail_on = options.fail_on
    report.require_complete = options.require_complete  # merged with the policy once (runconfig.options_for)
    return redact_report(report)  # one pass: no output repeats a credential, a query value or an env secret


def _project_disables(report: Report, policy: Policy) -> None:
    """A check the audited project's own policy turns off is a gap, not a choice of the caller's: a skipped
    ``check`` item per name (the report is incomplete; ``--require-complete`` fails), so a project cannot switch
    off its own audit silently. A caller who accepts the project's policy passes it with ``--config``."""
    if not policy.from_project:
        return
    for name in sorted(policy.declared_disabled):
        report.ledger.record_skipped(
            ItemKind.CHECK, name, f"the check or finding kind '{name}' is disabled by the audited project's own "
            f"policy ({policy.source}); pass that file with --config to accept it as your own",
            file=policy.source, not_checked=[name])


def _remediate(ctx: AuditContext, runs: list[ProfileRun]) -> None:
    """Plan upgrades for what the policy left active (verified only when asked: it re-resolves); the plan is kept
    in ``ctx.caches`` for ``mlaudit fix``."""
    from auditor.remediation.stage import REMEDIATION_PLAN, remediate

    started = time.perf_counter()
    ctx.progress("planning upgrades")
    ctx.caches.put(REMEDIATION_PLAN, remediate(ctx, runs))
    _lap(ctx.report, "remediation", started)


def _load_project(options: AuditOptions) -> Project:
    from auditor.sources import load_environment
    from auditor.sources.project import Profile, load_project

    if options.env_path is not None:
        src = load_environment(options.env_path or None)
        return Project(code_root=None, profiles=[Profile(name="environment", source=src, files=list(src.files))],
                       files=list(src.files))
    return load_project(options.paths, options)


@contextmanager
def _in_background(job: Callable[[], T], options: AuditOptions) -> Iterator[Callable[[], T]]:
    """Run ``job``, then load what the checks will need anyway (their modules, the name indexes, the advisory
    database, built on a first run), in one thread while the block runs -- the resolver, a child process that mostly
    waits on the index -- so that this CPU time overlaps the resolver's network time instead of following it. The
    thread is joined when the block ends; the value returned is a getter for ``job``'s result (its exception is
    raised there, in this thread). The warm-up only fills process-wide caches: a step that fails is done again, and
    reported, by the check that needs it. The report is never touched from the thread."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = job()
        except BaseException as exc:  # noqa: BLE001 -- handed to the caller's thread by the getter
            outcome["error"] = exc
        _warm_up(options)

    thread = threading.Thread(target=work, name="mlaudit-background", daemon=True)
    thread.start()

    def result() -> T:
        if "error" in outcome:
            raise outcome["error"]
        return cast(T, outcome["value"])

    try:
        yield result
    finally:
        thread.join()


def _warm_up(options: AuditOptions) -> None:
    steps: list[Callable[[], object]] = [load_checks]
    if "typosquat" not in options.disabled_checks:
        from auditor.typosquat import hf_detector, pypi_detector

        steps += [pypi_detector, hf_detector]
    if not {"advisories", "malicious"} <= options.disabled_checks:
        from auditor.advisories.db import ensure_embedded_db

        steps.append(ensure_embedded_db)
    for step in steps:
        try:
            step()
        except Exception:  # noqa: BLE001 -- done again by the check that needs it, which reports any failure
            continue


def _resolve_only(profile: Profile, options: AuditOptions, ctx: AuditContext, *,
                  several: bool) -> Resolution | IncompleteError:
    """One profile's resolution, or the failure that stopped it (recorded by ``_record_profile``)."""
    from auditor.resolve import resolve

    if several:
        ctx.progress(f"resolving dependencies: {profile.name}")
    try:
        return resolve(profile.source, options, ctx)
    except IncompleteError as exc:
        return exc


def _record_profile(profile: Profile, outcome: Resolution | IncompleteError, ctx: AuditContext) -> ProfileRun:
    """What one profile's resolution adds to the report; a failing index stops this profile only, recorded with
    its file named."""
    if isinstance(outcome, IncompleteError):
        where = ", ".join(profile.files[:1]) or profile.name
        failure = _service_failed(ctx.report, outcome, f"profile {profile.name} ({where}) was not resolved")
        return ProfileRun(profile=profile, failure=failure)
    resolution = outcome
    for item in resolution.skipped:
        item.profile = item.profile or profile.name
    ctx.report.ledger.extend(resolution.skipped)
    for warning in resolution.warnings:
        if warning not in ctx.report.warnings:
            ctx.report.warnings.append(warning)
    if resolution.resolver:
        ctx.report.resolver = resolution.resolver
    return ProfileRun(profile=profile, resolution=resolution)


def _service_failed(report: Report, exc: IncompleteError, what: str) -> str:
    """Record a failed service as a ``service`` item (the CLI prints it and exits 3); return the reason.

    A host that is down gets one item however many stages needed it: a later stage that failed on the same host
    is added to that item's ``not_checked`` (the report names the host once)."""
    service = getattr(exc, "service", None)
    host = getattr(exc, "host", None)
    subject = f"{service} ({host})" if service and host else "resolver"
    hint = _HINTS.get(str(service), "")
    reason = f"{what}: {exc}" + (f" (hint: {hint})" if hint else "")
    if isinstance(exc, HostDownError):
        return report.ledger.record_host_failure(subject, exc.host, reason, what).reason or reason
    report.ledger.record_skipped(ItemKind.SERVICE, subject, reason, host=host)
    return reason


def _hosts_down(report: Report, http: HttpClient) -> None:
    """Every host found down in the run (the resolver's download hosts, a check that noted its failure per package)
    is a failed service, named once, even where no stage raised its failure."""
    for host, (service, reason) in sorted(http.hosts.down().items()):
        subject = f"{service} ({host})"
        report.ledger.record_host_failure(subject, host, f"{subject} did not answer: {reason}; it was not asked "
                                                          "again in this run", f"every later request to {host}")


_HINTS = {
    "package index": "check the index URL and the network, or rerun with --offline to audit from locks and the "
                     "resolver cache",
    "Hugging Face Hub": "set HF_HUB_OFFLINE=1 (or --offline) to check models against the local Hugging Face cache",
    "Hugging Face Hub client": "the Hub is not down: the client library answered outside its API; install a "
                               "huggingface_hub version mlaudit declares, and report it if it persists",
    "OSV API": "rerun without --online to use the local advisory database",
}


def _scan_models(options: AuditOptions, code_root: str | None) -> ModelScan | None:
    """Model/dataset references in the project's code (local work, reading files only; the report is not touched
    here: ``_found_models`` records what was found)."""
    root = Path(code_root) if code_root else (Path(options.project_dir) if options.project_dir else None)
    if root is None or not root.is_dir():
        return None
    from auditor.models.refs import scan_project

    return scan_project(root, path_filter=project_filter(options))


def _found_models(declared: list[ModelRef], ctx: AuditContext,
                  scan: ModelScan | None) -> tuple[list[ModelRef], list[Skipped]]:
    """The references declared by the inputs and found by the scan, and what the scan recorded."""
    refs = list(declared)
    if scan is None:
        return refs, []
    ctx.report.remote_code_sites.extend(scan.sites)
    ctx.report.ledger.extend(scan.excluded)  # folders left out by default, paths the user excluded: listed
    ctx.report.warnings.extend(n for n in scan.notes if n not in ctx.report.warnings)  # links out of the tree
    found, skipped = scan.refs, scan.skipped
    seen = {(r.repo_id, r.kind, r.revision) for r in refs}
    for ref in found:
        if (ref.repo_id, ref.kind, ref.revision) not in seen:
            refs.append(ref)
            seen.add((ref.repo_id, ref.kind, ref.revision))
    return refs, skipped


def _asks_hub(options: AuditOptions) -> bool:
    """Only the ``models`` check needs the Hub's answers: with it disabled (``--disable-check models`` or the
    policy's ``disable``), references are still found and listed, and the Hub is never contacted."""
    disabled = options.disabled_checks | (options.policy.disabled_kinds if options.policy else set())
    return "models" not in disabled


def _probe_hub(refs: list[ModelRef], ctx: AuditContext) -> str | None:
    """Models are referenced and the Hub is to be asked: one cheap request now, before a long resolution, so a
    Hub that is down is known early (and its references are reported as not checked, not retried one by one)."""
    from auditor.models.hub import SERVICE, endpoint, hub_offline

    if hub_offline(ctx) or not any(r.via is None for r in refs):
        return None
    url = f"{endpoint()}/api/models/{refs[0].repo_id}"
    try:
        ctx.http.request("GET", url, service=SERVICE, ok_statuses=frozenset({200, 401, 403, 404}))
    except NetworkError as exc:
        return _service_failed(ctx.report, exc, "model references were not checked on the Hub")
    return None


def _collect_models(refs: list[ModelRef], skipped: list[Skipped], ctx: AuditContext,
                    hub_failed: str | None) -> str | None:
    """Register every reference (the ledger's model-reference items) and, unless offline, resolve them on the Hub.
    Returns why the Hub could not be asked, if it could not."""
    report = ctx.report
    report.models.extend(refs)
    if any(ref.origin == "manifest" for ref in report.models):
        skipped = _declared_stand_in(skipped, report)
    for ref in refs:
        for loc in [ref.location, *ref.more_locations]:  # every place that references it is an item
            report.ledger.add(ItemKind.MODEL_REFERENCE, ref.repo_id, file=loc.file if loc else None,
                              line=loc.line if loc else None,
                              requirement=f"{ref.repo_id}@{ref.revision}" if ref.revision else ref.repo_id)
    report.ledger.extend(skipped)
    if not report.models or hub_failed or not _asks_hub(ctx.options):
        return hub_failed
    from auditor.models.hub import resolve_models

    ctx.progress("resolving models")
    try:
        edges: list[Edge] = resolve_models(report.models, ctx)
    except IncompleteError as exc:
        return _service_failed(report, exc, "model references were not checked on the Hub")
    report.edges.extend(edges)
    return None


def _profile_indexes(project: Project, options: AuditOptions) -> dict[str, list[str | None]]:
    """Each profile's indexes as its resolver sees them (``resolve.target.indexes_for``): the pages, hashes and
    confusion look-ups of a package go to its own profiles' indexes only."""
    from auditor.resolve.target import indexes_for

    out: dict[str, list[str | None]] = {}
    for profile in project.profiles:
        found = indexes_for(profile.source, options)
        out[profile.name] = [] if found.no_index else [found.index_url, *found.extra_index_urls]
    return out


def _name_profiles(report: Report, count: int) -> None:
    """With several profiles, each finding names the profile(s) its package belongs to."""
    if count < 2:
        return
    for finding in report.findings:
        if finding.package is not None and not finding.profiles:
            package = report.package_for(*finding.package)
            if package is not None:
                finding.profiles = list(package.profiles)


def _declared_stand_in(skipped: list[Skipped], report: Report) -> list[Skipped]:
    """With a ``models = [...]`` manifest the user has declared what the code loads at run time: references only
    known at run time become warnings instead of making the report incomplete (the manifest is audited instead)."""
    kept: list[Skipped] = []
    for item in skipped:
        if item.gap is GapKind.RUNTIME_REFERENCE:
            where = f"{item.file}:{item.line}: " if item.file and item.line else ""
            report.warnings.append(f"{where}{item.reason} (the declared models list stands in for it)")
        else:
            kept.append(item)
    return kept


def _default_root_name(options: AuditOptions) -> str:
    if options.project_dir:
        name = Path(options.project_dir).resolve().name
        if name:
            return name
    return "project"


def _finding_order(finding: Finding) -> tuple[int, int, str, str]:
    pkg = finding.package[0] if finding.package else (finding.model[0] if finding.model else finding.path or "")
    return (KIND_ORDER.get(finding.kind, 5), -finding.severity.rank, pkg, finding.id)


def _lap(report: Report, stage: str, started: float) -> None:
    report.timings[stage] = round(time.perf_counter() - started, 4)


def exit_code_for(report: Report) -> int:
    """0 clean, 1 a finding at/above the threshold is not ignored (with a baseline: a new one), 3 a service failed
    or the report is incomplete when completeness is required: ``Report.gate``, the one gate every output shows."""
    return report.gate().exit_code


def service_failures(report: Report) -> list[str]:
    """``service (host): reason`` of every service that failed during the run (exit 3, report still written)."""
    return [f"{i.subject}: {i.reason}" for i in report.failed_services()]


__all__ = ["run_audit", "exit_code_for", "service_failures", "ROOT_NODE", "Severity"]

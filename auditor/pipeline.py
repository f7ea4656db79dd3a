"""The audit pipeline: sources -> resolve -> models -> graph -> checks -> policy.

One function, ``run_audit``, so that the CLI, the ``graph``/``sbom`` commands and library callers all get the
same report from the same inputs. Each stage records what it could not do in the report (``skipped`` /
``incomplete_reasons``) instead of failing silently; stages that cannot continue raise ``MlauditError``.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from auditor.checks import load_checks
from auditor.domain import ROOT_NODE, Edge, Finding, ModelRef, Report, Severity, Skipped
from auditor.graph import attach_paths, build_graph
from auditor.net import HttpClient, redact_url
from auditor.options import AuditContext, AuditOptions, ProgressFn, _no_progress
from auditor.policy import Policy, apply_policy
from auditor.sources.base import SourceResult

KIND_ORDER = {"malicious": 0, "hash-mismatch": 1, "provenance-invalid": 1, "signature-invalid": 1}


def run_audit(options: AuditOptions, progress: ProgressFn = _no_progress) -> Report:
    """Audit the project described by ``options`` and return the finished, policy-applied report."""
    report = Report(generated_at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat())
    ctx = AuditContext(options=options, report=report, http=HttpClient(options.net), progress=progress)
    policy = options.policy or Policy()

    started = time.perf_counter()
    progress("reading inputs")
    src = _load_sources(options)
    report.inputs = list(src.files)
    report.root_name = src.root_name or _default_root_name(options)
    report.root_version = src.root_version
    if src.root_metadata:
        report.root_metadata = dict(src.root_metadata)
    report.ledger.extend(src.skipped)
    report.warnings.extend(src.warnings)
    indexes = [u for u in [options.index_url or src.index_url, *options.extra_index_urls, *src.extra_index_urls] if u]
    ctx.index_urls = list(dict.fromkeys(indexes))
    report.indexes = list(dict.fromkeys(redact_url(u) for u in indexes))
    report.target = {
        "python_version": options.python_version or "current interpreter",
        "platform": options.platform or "current platform",
    }
    _lap(report, "sources", started)

    started = time.perf_counter()
    progress("resolving dependencies")
    from auditor.resolve import resolve

    resolution = resolve(src, options, ctx)
    for package in resolution.packages:
        report.add_package(package)
    report.edges.extend(resolution.edges)
    report.ledger.extend(resolution.skipped)
    report.warnings.extend(resolution.warnings)
    if resolution.resolver:
        report.resolver = resolution.resolver
    _lap(report, "resolve", started)

    started = time.perf_counter()
    _collect_models(options, src.models, ctx)
    _lap(report, "models", started)

    ctx.graph = build_graph(report)
    for check in load_checks():
        if check.name in options.disabled_checks:
            continue
        started = time.perf_counter()
        progress(f"checking: {check.name}")
        report.findings.extend(check.run(ctx))
        _lap(report, f"check:{check.name}", started)
        ctx.graph = build_graph(report)  # checks may add nodes (e.g. hub-resolved base models)

    attach_paths(report, ctx.graph)
    report.ledger.settle()
    report.findings.sort(key=_finding_order)
    apply_policy(report, policy)
    report.fail_on = options.fail_on
    if options.require_complete or policy.require_complete:
        report.require_complete = True
    return report


def _load_sources(options: AuditOptions) -> SourceResult:
    from auditor.sources import load_environment, load_inputs

    if options.env_path is not None:
        return load_environment(options.env_path or None)
    return load_inputs(options.paths, options)


def _collect_models(options: AuditOptions, declared: list[ModelRef], ctx: AuditContext) -> None:
    """Find model/dataset references in the project and, unless offline, resolve them on the Hub."""
    report = ctx.report
    report.models.extend(declared)
    project_dir = Path(options.project_dir) if options.project_dir else None
    if project_dir is None or not project_dir.is_dir():
        return
    from auditor.models.refs import scan_project

    ctx.progress("finding model references")
    scan = scan_project(project_dir, options.exclude)
    refs, skipped = scan.refs, scan.skipped
    report.remote_code_sites.extend(scan.sites)
    report.ledger.extend(scan.excluded)
    seen = {(r.repo_id, r.kind, r.revision) for r in report.models}
    for ref in refs:
        if (ref.repo_id, ref.kind, ref.revision) not in seen:
            report.models.append(ref)
            seen.add((ref.repo_id, ref.kind, ref.revision))
    if any(ref.origin == "manifest" for ref in report.models):
        skipped = _declared_stand_in(skipped, report)
    report.ledger.extend(skipped)
    if not report.models:
        return
    from auditor.models.hub import resolve_models

    ctx.progress("resolving models")
    edges: list[Edge] = resolve_models(report.models, ctx)
    report.edges.extend(edges)


def _declared_stand_in(skipped: list[Skipped], report: Report) -> list[Skipped]:
    """With a ``models = [...]`` manifest the user has declared what the code loads at run time: references only
    known at run time become warnings instead of making the report incomplete (the manifest is audited instead)."""
    from auditor.models.pyrefs import RUNTIME_REFERENCE

    kept: list[Skipped] = []
    for item in skipped:
        if item.reason and RUNTIME_REFERENCE in item.reason:
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
    """0 clean, 1 a finding at/above the threshold is not ignored, 3 incomplete when completeness is required."""
    from auditor.errors import EXIT_CLEAN, EXIT_INCOMPLETE, EXIT_POLICY

    if report.require_complete and not report.complete:
        return EXIT_INCOMPLETE
    if report.failing_findings():
        return EXIT_POLICY
    return EXIT_CLEAN


__all__ = ["run_audit", "exit_code_for", "ROOT_NODE", "Severity"]

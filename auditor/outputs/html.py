"""The HTML risk report: one self-contained, offline file (inline CSS and JS, no CDN).

Safety model: every value from the audited world (names, summaries, model cards, file names) reaches the page only
through jinja2 autoescaping, as element text or quoted attribute values. The page's script carries no data at all
(it reads the table rows and their ``data-*`` attributes), so there is no JSON-in-``<script>`` to break out of.

Risk overview: counts, never a score. A capped weighted score read "≥ 100" on every real project and told none
apart; the overview instead counts active findings by severity and by what can be done about them (an upgrade
clears it, no release does, not a version issue), new ones apart when a baseline was given, and the vulnerable
packages with the upgrade that clears them (``auditor.outputs.rollup``, the same roll-up as the terminal's).

Dependency graph: an inline SVG laid out by ``auditor.outputs.graphsvg`` (layered by depth, barycenter ordering),
one picture of the paths from the project to every flagged package or model with the rest collapsed, and the whole
graph, collapsed, with the same paths highlighted. No network, no script needed to see it.

Advisories: each finding shows its summary once, the advisory's full text in a collapsed ``<details>`` (never cut),
its references as links (only ``http(s)`` URLs become links, with ``rel="noopener noreferrer"``; anything else
stays text), and where its severity came from.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from typing import Any

import jinja2
import markupsafe

from auditor import __version__
from auditor.domain import Finding, RenderOptions, Report, Severity, canonical_name, model_node
from auditor.graph import build_graph
from auditor.kinds import FindingKind
from auditor.outputs import rollup
from auditor.outputs.graphsvg import Flag, pictures
from auditor.outputs.rollup import Rollup
from auditor.outputs.severity import gate_note, severity_source
from auditor.resources import templates_dir

_LINKABLE = re.compile(r"https?://[^\s<>\"'`\\^{}|]+", re.IGNORECASE)
# What the graph highlights, strongest first: a node with findings of several kinds takes the first.
FLAG_KINDS: list[tuple[str, frozenset[FindingKind]]] = [
    ("malicious", frozenset({FindingKind.MALICIOUS})),
    ("unclaimed", frozenset({FindingKind.UNCLAIMED_NAME, FindingKind.DEPENDENCY_CONFUSION})),
    ("typosquat", frozenset({FindingKind.TYPOSQUAT})),
    ("vulnerable", frozenset({FindingKind.VULNERABILITY})),
    ("model", frozenset({FindingKind.UNSAFE_MODEL, FindingKind.TRUST_REMOTE_CODE, FindingKind.SIGNATURE_INVALID})),
]

_ENV: jinja2.Environment | None = None
# Control and bidi-override characters: invisible, and able to make a hostile name read as a trusted one.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def _finalize(value: object) -> object:
    """Applied to every ``{{ }}`` value before autoescaping."""
    if isinstance(value, markupsafe.Markup):  # already-rendered template output (recursive loops)
        return value
    return _INVISIBLE.sub("", value) if isinstance(value, str) else value


def _environment() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir())),
            autoescape=True,  # always, whatever the template's file name
            finalize=_finalize,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _ENV


def render(report: Report, options: RenderOptions = RenderOptions()) -> str:  # noqa: B008 - frozen
    return _environment().get_template("report.html.j2").render(**context(report))


def context(report: Report) -> dict[str, Any]:
    """Everything the template shows, precomputed so the template stays logic-free."""
    view = rollup.build(report)
    active = view.active
    graph = build_graph(report)
    focus, full = pictures(graph, graph_flags(report, graph))
    return {
        "version": __version__,
        "title": f"mlaudit report: {report.root_name}" + (f" {report.root_version}" if report.root_version else ""),
        "report": report,
        "view": view,
        "generated_at": report.generated_at or "",
        "overview": overview(view),
        "severities": [{"name": s.value, "count": view.counts[s]} for s in Severity],
        "kinds": sorted(Counter(f.kind for f in active).items()),
        "all_kinds": sorted({f.kind for f in report.findings}),
        "findings": [_finding_row(f) for f in sorted(report.findings, key=_row_order)],
        "gate_note": gate_note(report),
        "active_count": len(active),
        "ignored_count": len(report.findings) - len(active),
        "failing_count": view.gate.failing,
        "fail_on": report.fail_on.value if report.fail_on else None,
        "complete": view.gate.complete,
        "package_count": len(report.packages),
        "models": [_model_row(m, report) for m in report.models],
        "focus": focus,
        "full": full,
        "excluded_groups": rollup.gap_groups(report.excluded),
        "packages": sorted(report.packages.values(), key=lambda p: p.name),
        "data_ages": {ds.name: _age_days(ds.date, report.generated_at) for ds in report.data_sources},
    }


def _row_order(finding: Finding) -> tuple[int, int, int]:
    """Active before ignored, new before unchanged, worst first (the table's default order)."""
    return (finding.ignored is not None, finding.new is False, -finding.severity.rank)


def overview(view: Rollup) -> dict[str, Any]:
    """Active findings by severity and by what can be done: an upgrade clears it (verified or from the advisories'
    fixed versions), no release does, or it is not a version issue (another kind of finding)."""
    clears = {(row.name, row.version, i) for row in view.packages for i in row.remediation.clears}
    verified = {(row.name, row.version) for row in view.packages if row.remediation.verified}
    columns = ["upgrade clears it", "no release fixes it", "not a version issue"]
    rows = []
    for severity in Severity:
        counts = dict.fromkeys(columns, 0)
        for finding in view.active:
            if finding.severity is not severity:
                continue
            if finding.kind is FindingKind.VULNERABILITY and finding.package is not None:
                key = (canonical_name(finding.package[0]), finding.package[1])
                counts[columns[0] if (*key, finding.id) in clears else columns[1]] += 1
            else:
                counts[columns[2]] += 1
        rows.append({"severity": severity.value, "total": view.counts[severity], "counts": counts,
                     "new": view.new_counts[severity] if view.new_counts is not None else None})
    fixable = [r for r in view.packages if r.remediation.to]
    return {
        "columns": columns,
        "rows": rows,
        "packages": len(view.packages),
        "fixable_packages": len(fixable),
        "verified_packages": len([r for r in fixable if (r.name, r.version) in verified]),
        "unfixed_advisories": sum(len(r.remediation.remains) for r in view.packages),
        "new": sum(view.new_counts.values()) if view.new_counts is not None else None,
    }


def graph_flags(report: Report, graph: Any) -> dict[str, Flag]:
    """The graph node of every package or model with a finding the picture highlights, and how."""
    nodes: dict[str, list[Finding]] = {}
    kinds = {ref.repo_id: ref.kind for ref in report.models}
    for finding in report.active_findings():
        node = None
        if finding.package is not None:
            package = report.package_for(finding.package[0], finding.package[1])
            node = package.node_id if package is not None else None
        elif finding.model is not None:
            node = model_node(finding.model[0], kinds.get(finding.model[0], "model"))
        if node is not None and node in graph:
            nodes.setdefault(node, []).append(finding)
    flags: dict[str, Flag] = {}
    for node, findings in nodes.items():
        for name, members in FLAG_KINDS:
            hits = [f for f in findings if f.kind in members]
            if hits:
                flags[node] = Flag(name, rollup.worst_severity(hits).value)
                break
    return flags


def _age_days(date: str | None, now: str | None) -> int | None:
    """Days between a data snapshot and the run, for the freshness line (None when either is unknown)."""
    if not date or not now:
        return None
    try:
        then = dt.date.fromisoformat(date[:10])
        run = dt.datetime.fromisoformat(now.replace("Z", "+00:00")).date()
    except ValueError:
        return None
    return (run - then).days




def _finding_row(finding: Finding) -> dict[str, Any]:
    evidence = ""
    facts = finding.evidence.to_json() if finding.evidence is not None else {}
    if facts:
        evidence = json.dumps(facts, indent=2, ensure_ascii=False, sort_keys=True)
    subject = finding.subject
    text = " ".join([finding.id, *finding.aliases, finding.kind, subject, finding.message, finding.fix or ""])
    summary = finding.summary if finding.summary and finding.summary not in finding.message else None
    details = finding.details if finding.details and finding.details.strip() not in (
        finding.summary or "", finding.message) else None
    return {
        "f": finding,
        "subject": subject,
        "rank": finding.severity.rank,
        "summary": summary,
        "details": details,
        "references": [{"url": url, "link": bool(_LINKABLE.fullmatch(url))} for url in finding.references],
        "severity_source": severity_source(finding),
        "paths": [" → ".join(p) for p in finding.paths],
        "location": str(finding.location) if finding.location else "",
        "evidence": evidence[:4000],
        "search": text.lower()[:3000],
    }


def _model_row(ref: Any, report: Report) -> dict[str, Any]:
    findings = [f for f in report.findings if f.model is not None and f.model[0] == ref.repo_id]
    card = ref.card if isinstance(ref.card, dict) else {}
    task = card.get("pipeline_tag") or card.get("task") or ""
    return {
        "m": ref,
        "location": str(ref.location) if ref.location else "",
        "task": str(task),
        "findings": findings,
    }

"""The HTML risk report: one self-contained, offline file (inline CSS and JS, no CDN).

Safety model: every value from the audited world (names, summaries, model cards, file names) reaches the page only
through jinja2 autoescaping, as element text or quoted attribute values. The page's script carries no data at all
(it reads the table rows and their ``data-*`` attributes), so there is no JSON-in-``<script>`` to break out of.

Risk score (0-100, shown in the summary): the sum of per-finding weights over active (not ignored) findings,
critical 40, high 20, medium 8, low 2, info 0 (``unknown`` weighs what the gate counts it as: high unless the
policy says otherwise), capped at 100. It is a triage hint for humans, never the gate: the gate is ``--fail-on``.
An incomplete audit shows the score as a lower bound ("≥ N").

Advisories: each finding shows its summary once, the advisory's full text in a collapsed ``<details>`` (never cut),
its references as links (only ``http(s)`` URLs become links, with ``rel="noopener noreferrer"``; anything else
stays text), and where its severity came from.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import jinja2
import markupsafe

from auditor import __version__
from auditor.domain import ROOT_NODE, Finding, Report, Severity
from auditor.graph import build_graph
from auditor.outputs.severity import gate_note, severity_source
from auditor.resources import templates_dir

SEVERITY_WEIGHT = {Severity.CRITICAL: 40, Severity.HIGH: 20, Severity.MEDIUM: 8, Severity.LOW: 2, Severity.INFO: 0}
_LINKABLE = re.compile(r"https?://[^\s<>\"'`\\^{}|]+", re.IGNORECASE)
MAX_TREE_DEPTH = 50
MAX_TREE_NODES = 5000

_ENV: jinja2.Environment | None = None
# Control and bidi-override characters: invisible, and able to make a hostile name read as a trusted one.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def _finalize(value: object) -> object:
    """Applied to every ``{{ }}`` value before autoescaping."""
    if isinstance(value, markupsafe.Markup):  # already-rendered template output (recursive loops)
        return value
    return _INVISIBLE.sub("", value) if isinstance(value, str) else value


def risk_score(report: Report) -> int:
    """See module docstring: weighted sum of active findings, capped at 100."""
    return min(100, sum(SEVERITY_WEIGHT[f.severity.gate_level(report.unknown_severity)]
                        for f in report.active_findings()))


def risk_label(score: int) -> str:
    if score == 0:
        return "none"
    if score < 20:
        return "low"
    if score < 50:
        return "moderate"
    if score < 80:
        return "high"
    return "critical"


@dataclass
class TreeNode:
    label: str
    kind: str
    marker: str | None = None
    repeat: bool = False  # already shown above: not expanded again
    findings: int = 0
    children: list[TreeNode] = field(default_factory=list)


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


def render(report: Report) -> str:
    return _environment().get_template("report.html.j2").render(**context(report))


def context(report: Report) -> dict[str, Any]:
    """Everything the template shows, precomputed so the template stays logic-free."""
    active = report.active_findings()
    by_severity = Counter(f.severity for f in active)
    score = risk_score(report)
    failing = report.failing_findings()
    graph = build_graph(report)
    finding_counts: Counter[str] = Counter()
    for f in report.active_findings():
        finding_counts[_finding_label(f)] += 1
    return {
        "version": __version__,
        "title": f"mlaudit report: {report.root_name}" + (f" {report.root_version}" if report.root_version else ""),
        "report": report,
        "generated_at": report.generated_at or "",
        "score": score,
        "score_label": risk_label(score),
        "score_prefix": "" if report.complete else "≥ ",
        "severities": [{"name": s.value, "count": by_severity[s]} for s in Severity],
        "kinds": sorted(Counter(f.kind for f in active).items()),
        "all_kinds": sorted({f.kind for f in report.findings}),
        "findings": [_finding_row(f) for f in sorted(report.findings, key=lambda f: -f.severity.rank)],
        "gate_note": gate_note(report),
        "unknown_weight": SEVERITY_WEIGHT[Severity.UNKNOWN.gate_level(report.unknown_severity)],
        "active_count": len(active),
        "ignored_count": len(report.findings) - len(active),
        "failing_count": len(failing),
        "fail_on": report.fail_on.value if report.fail_on else None,
        "complete": report.complete,
        "package_count": len(report.packages),
        "models": [_model_row(m, report) for m in report.models],
        "tree": _tree(graph, finding_counts),
        "packages": sorted(report.packages.values(), key=lambda p: p.name),
        "data_ages": {ds.name: _age_days(ds.date, report.generated_at) for ds in report.data_sources},
    }


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




def _finding_label(finding: Finding) -> str:
    if finding.package is not None:
        return f"{finding.package[0]} {finding.package[1]}"
    if finding.model is not None:
        return finding.model[0]
    return finding.path or ""


def _finding_row(finding: Finding) -> dict[str, Any]:
    evidence = ""
    if finding.evidence not in (None, "", {}, []):
        evidence = (finding.evidence if isinstance(finding.evidence, str)
                    else json.dumps(finding.evidence, indent=2, ensure_ascii=False, default=str, sort_keys=True))
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


def _tree(graph: Any, finding_counts: Counter[str]) -> TreeNode:
    """Depth-first tree from the root; a node seen before is listed once more as a reference, not expanded."""
    root = TreeNode(label=str(graph.nodes[ROOT_NODE].get("label", "project")), kind="root")
    shown: set[str] = {ROOT_NODE}
    budget = [MAX_TREE_NODES]

    def label_of(node: str) -> str:
        return str(graph.nodes[node].get("label", node))

    def add(parent: TreeNode, node: str, depth: int) -> None:
        for child in sorted(graph.successors(node), key=label_of):
            if budget[0] <= 0:
                return
            budget[0] -= 1
            label = label_of(child)
            kind = str(graph.nodes[child].get("kind", "package"))
            key = label if kind == "package" else label.split("@", 1)[0]
            item = TreeNode(label=label, kind=kind, marker=graph.edges[node, child].get("marker"),
                            findings=finding_counts.get(key, 0))
            parent.children.append(item)
            if child in shown or depth >= MAX_TREE_DEPTH:
                item.repeat = True
                continue
            shown.add(child)
            add(item, child, depth + 1)

    add(root, ROOT_NODE, 0)
    return root

"""The human view: findings grouped by severity, what was skipped, and a verdict line that never lies.

Every string from the audited world goes through ``textsafe.clean`` and rich's markup escaping, so a hostile
package summary cannot inject terminal escapes or rich markup.
"""

from __future__ import annotations

import io
from collections import Counter

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from auditor.domain import Finding, Report, Severity
from auditor.ledger import Item, ItemKind
from auditor.models.pyrefs import RUNTIME_REFERENCE
from auditor.outputs.severity import gate_note, severity_basis
from auditor.textsafe import clean

MESSAGE_LIMIT = 200
MAX_EXCLUDED_SHOWN = 10
MAX_RUNTIME_FILES = 5  # files named in the run-time model reference group

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.UNKNOWN: "bold magenta",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def _s(value: object, limit: int = 300) -> str:
    return escape(clean(value, limit))




def print_report(report: Report, console: Console) -> None:
    console.print(Text("mlaudit", style="bold"), Text(f"— {len(report.packages)} packages, "
                                                       f"{len(report.models)} model references"))
    if report.inputs:
        console.print(f"inputs: {_s(', '.join(report.inputs))}")
    for ds in report.data_sources:
        when = f" ({_s(ds.date)})" if ds.date else ""
        console.print(f"data: {_s(ds.name)}: {_s(ds.source)}{when}" + (" [yellow]stale[/]" if ds.stale else ""))
    policy = report.policy.summary() if report.policy is not None else ""
    if policy:
        loud = report.policy is not None and report.policy.from_project and report.policy.weakens
        console.print(("[yellow]policy:[/] " if loud else "policy: ") + _s(policy, 800))
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {_s(warning, 500)}")

    active = report.active_findings()
    for severity in Severity:
        group = [f for f in active if f.severity is severity]
        if group:
            console.print()
            console.print(Text(f" {severity.value.upper()} ({len(group)}) ", style=SEVERITY_STYLE[severity]))
            for finding in group:
                _print_finding(finding, console)
    if active:
        console.print()

    ignored = [f for f in report.findings if f.ignored is not None]
    if ignored:
        console.print(f"[dim]{len(ignored)} finding(s) ignored by policy:[/]")
        for f in ignored:
            console.print(f"[dim]  {_s(f.id)} {_s(f.subject)}: {_s(f.ignored)}[/]")

    if report.skipped:
        console.print(f"[yellow]not checked ({len(report.skipped)}):[/]")
        runtime = [i for i in report.skipped if _is_runtime_reference(i)]
        for item in report.skipped:
            if runtime and _is_runtime_reference(item):
                continue
            what = f" {item.requirement}" if item.requirement else ("" if item.file else f" {item.subject}")
            where = f"{item.where}" if item.where else f"{item.kind.value}"
            console.print(f"  {_s(where)}{_s(what)}: {_s(item.reason or '', 500)}")
        if runtime:
            _print_runtime_group(runtime, console)
    if report.excluded:
        console.print(f"[dim]excluded ({len(report.excluded)}):[/]")
        for item in report.excluded[:MAX_EXCLUDED_SHOWN]:
            what = item.requirement or item.subject
            shown = f" {_s(what)}" if what != item.file else ""  # a folder or file: its path once
            console.print(f"[dim]  {_s(item.where or item.kind.value)}{shown}: {_s(item.reason or '', 200)}[/]")
        if len(report.excluded) > MAX_EXCLUDED_SHOWN:
            console.print(f"[dim]  ... {len(report.excluded) - MAX_EXCLUDED_SHOWN} more (all listed in JSON/HTML)[/]")

    console.print(_verdict(report))


def _is_runtime_reference(item: Item) -> bool:
    return item.kind is ItemKind.MODEL_REFERENCE and RUNTIME_REFERENCE in (item.reason or "")


def _print_runtime_group(items: list[Item], console: Console) -> None:
    """Model references chosen at run time, as one group: how many, and in which files most. Each one is a gap
    (the report stays incomplete); the full list, with lines and expressions, is in the JSON and HTML reports."""
    by_file = Counter(item.file or "?" for item in items)
    top = ", ".join(f"{_s(name)} ({count})" for name, count in by_file.most_common(MAX_RUNTIME_FILES))
    more = f", and {len(by_file) - MAX_RUNTIME_FILES} more files" if len(by_file) > MAX_RUNTIME_FILES else ""
    console.print(f"  {len(items)} model/dataset references chosen at run time (not audited) in {len(by_file)} "
                  f"file(s): {top}{more}")
    console.print("  [dim]each is listed with its line in the JSON/HTML report; declare the models that run in "
                  "mlaudit.toml `models = [...]` to audit them, or --exclude paths that are not shipped[/]")


def _headline_message(finding: Finding) -> str:
    """The message without a leading repeat of the id, cut to its first sentence when it is long."""
    message = finding.message.strip()
    if message.startswith(f"{finding.id}:"):
        message = message[len(finding.id) + 1:].strip()
    if len(message) > MESSAGE_LIMIT:
        cut = message.find(". ", 60, MESSAGE_LIMIT)
        message = message[: cut + 1] if cut > 0 else message[:MESSAGE_LIMIT].rstrip() + "…"
    return message


def _print_finding(finding: Finding, console: Console) -> None:
    """One finding as a short block: what and where on the first line, then why, how it got here and the fix.

    A list reads at any terminal width; a four-column table folded every cell into slivers at 80 columns.
    """
    aliases = f" [dim]({_s(', '.join(finding.aliases[:4]))})[/]" if finding.aliases else ""
    basis = severity_basis(finding)
    basis_txt = f"  [dim]\\[{_s(basis)}][/]" if basis else ""
    console.print(f"  [bold]{_s(finding.subject)}[/]  {_s(finding.kind)} {_s(finding.id)}{aliases}{basis_txt}")
    console.print(f"      {_s(_headline_message(finding), MESSAGE_LIMIT + 10)}")
    if finding.paths and len(finding.paths[0]) > 2:
        console.print("      [dim]via " + _s(" → ".join(finding.paths[0]), 400) + "[/]")
    if finding.location is not None:
        console.print(f"      [dim]at {_s(str(finding.location))}[/]")
    if finding.fix:
        console.print(f"      [green]fix:[/] {_s(finding.fix)}")


def _verdict(report: Report) -> Text:
    active = report.active_findings()
    failing = report.failing_findings()
    counts = Counter(f.severity for f in active)
    summary = ", ".join(f"{counts[s]} {s.value}" for s in Severity if counts[s])
    complete = report.complete
    if failing:
        threshold = report.fail_on.value if report.fail_on else "?"
        text = Text(f"FAILED: {len(failing)} finding(s) at or above {threshold} ({summary})", style="bold red")
    elif active:
        text = Text(f"{len(active)} finding(s) below the failure threshold ({summary})", style="yellow")
    else:
        text = Text("No findings in what was checked.", style="green")
    note = gate_note(report)
    if note and active:
        text.append(f"  ({note})", style="magenta")
    if not complete:
        text.append("  INCOMPLETE: some inputs could not be checked (see above).", style="bold yellow")
    return text


def render(report: Report) -> str:
    """Plain-text rendering (no colour codes), for ``-o FILE`` and tests."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, color_system=None, force_terminal=False, highlight=False)
    print_report(report, console)
    return buffer.getvalue()

"""The human view: one screen that says what to do (CONVENTIONS.md "Output size"), and ``-v`` for everything.

The default view is the roll-up (``auditor.outputs.rollup``): a header with the verdict, the exit reason, the counts
by severity and the completeness account; one row per vulnerable package with the upgrade that clears it and what
no release clears; the other findings grouped by kind (top rows, "+N more"); the gaps counted by reason. It is laid
out against a line budget (``SCREEN_LINES``), and every line is cut to the console width instead of wrapping, so it
fits one screen for any project. ``-v`` adds every finding with its id, summary, path and fix, every gap, exclusion
and warning in full; the JSON report always carries everything.

Every string from the audited world goes through ``textsafe.clean`` (and is never parsed as rich markup), so a
hostile package summary cannot inject terminal escapes or markup.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.text import Text

from auditor.domain import Finding, RenderOptions, Report, Severity
from auditor.ledger import GapKind, Item
from auditor.outputs import rollup
from auditor.outputs.rollup import KindGroup, PackageRow, Rollup
from auditor.outputs.severity import gate_note, severity_basis
from auditor.textsafe import clean

SCREEN_LINES = 60  # the default view never exceeds this many lines
RENDER_WIDTH = 100  # -o FILE and tests
MESSAGE_LIMIT = 200
MAX_RUNTIME_FILES = 5  # files named in the run-time model reference group
MAX_WARNINGS = 2  # warnings shown in the default view (each on one line)

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.UNKNOWN: "bold magenta",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
VERDICT_STYLE = {0: "bold green", 1: "bold red"}


def _c(value: object, limit: int = 300) -> str:
    """Clean audited text for the terminal (no escapes, no control characters, bounded)."""
    return clean(value, limit)


def _line(*parts: str | tuple[str, str]) -> Text:
    """A line from plain strings and (text, style) pairs; never parsed as markup."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for part in parts:
        if isinstance(part, tuple):
            text.append(part[0], style=part[1])
        else:
            text.append(part)
    return text


def _wrapped(*parts: str | tuple[str, str]) -> Text:
    """A header line that wraps rather than losing its end (the verdict, the data dates, a warning)."""
    text = _line(*parts)
    text.no_wrap = False
    text.overflow = "fold"
    return text


def _height(lines: list[Text], width: int) -> int:
    """How many screen lines ``lines`` take at ``width`` (wrapping header lines count every row they take)."""
    console = Console(width=width, file=io.StringIO(), color_system=None)
    return sum(1 if line.no_wrap else max(1, len(line.wrap(console, width))) for line in lines)


def _cell(value: str, width: int) -> str:
    value = " ".join(value.split())
    if len(value) > width:
        return value[: max(0, width - 1)] + "…"
    return value.ljust(width)


@dataclass
class Plan:
    """How many rows of each section the default view shows; grown until the screen is full."""

    package_rows: int = 0
    groups: int = 0
    group_rows: list[int] = field(default_factory=list)
    gap_rows: int = 0


def summary_lines(report: Report, view: Rollup, width: int, budget: int | None) -> list[Text]:
    """The roll-up as lines, as many rows as fit ``budget`` (None: every row, for ``-v``)."""
    plan = Plan(package_rows=len(view.packages), groups=len(view.groups),
                group_rows=[len(g.findings) for g in view.groups], gap_rows=len(view.gaps))
    if budget is None:
        return _lines(report, view, plan, width, every=True)
    plan = Plan(package_rows=min(len(view.packages), 3), groups=min(len(view.groups), 3),
                group_rows=[0 for _ in view.groups], gap_rows=min(len(view.gaps), 2))
    lines = _lines(report, view, plan, width)
    while _height(lines, width) > budget and _shrink(plan):  # a long header: give up rows, never the header
        lines = _lines(report, view, plan, width)
    while True:
        grown = _grow(plan, view)
        if grown is None:
            return lines
        candidate = _lines(report, view, grown, width)
        if _height(candidate, width) > budget:
            return lines
        plan, lines = grown, candidate


def _grow(plan: Plan, view: Rollup) -> Plan | None:
    """The next plan with one more line, in the order a reader needs them: the worst packages, a line per kind of
    the other findings, the main reasons for gaps, a top row per kind, more packages, then the rest."""
    def package_rows(limit: int) -> Plan | None:
        if plan.package_rows < min(len(view.packages), limit):
            return Plan(plan.package_rows + 1, plan.groups, list(plan.group_rows), plan.gap_rows)
        return None

    def groups() -> Plan | None:
        if plan.groups < len(view.groups):
            return Plan(plan.package_rows, plan.groups + 1, list(plan.group_rows), plan.gap_rows)
        return None

    def gap_rows(limit: int) -> Plan | None:
        if plan.gap_rows < min(len(view.gaps), limit):
            return Plan(plan.package_rows, plan.groups, list(plan.group_rows), plan.gap_rows + 1)
        return None

    def group_rows(limit: int) -> Plan | None:
        for index in range(plan.groups):
            if plan.group_rows[index] < min(len(view.groups[index].findings), limit):
                rows = list(plan.group_rows)
                rows[index] += 1
                return Plan(plan.package_rows, plan.groups, rows, plan.gap_rows)
        return None

    steps: list[Callable[[], Plan | None]] = [
        lambda: package_rows(8), groups, lambda: gap_rows(3), lambda: group_rows(1), lambda: package_rows(15),
        lambda: group_rows(3), lambda: gap_rows(6), lambda: package_rows(len(view.packages)),
        lambda: group_rows(10 ** 9), lambda: gap_rows(len(view.gaps))]
    for step in steps:
        grown = step()
        if grown is not None:
            return grown
    return None


def _shrink(plan: Plan) -> bool:
    if plan.package_rows > 1:
        plan.package_rows -= 1
    elif plan.groups > 1:
        plan.groups -= 1
    elif plan.gap_rows > 1:
        plan.gap_rows -= 1
    else:
        return False
    return True


def _lines(report: Report, view: Rollup, plan: Plan, width: int, every: bool = False) -> list[Text]:
    lines = _header(report, view, every)
    if view.packages:
        lines.append(Text())
        lines += _package_section(view, plan.package_rows, width)
    if view.groups:
        lines.append(Text())
        lines += _group_section(view, plan)
    tail = _conflict_lines(view, every) + _gap_lines(report, view, plan.gap_rows) + _excluded_lines(report, every)
    if view.ignored:
        tail.append(_line(("Ignored by policy: ", "bold"), f"{len(view.ignored)} finding(s)"
                          + ("" if every else " (-v lists them with the reasons)")))
    if tail:
        lines.append(Text())
        lines += tail
    if not every:
        lines.append(_line(("mlaudit -v lists every finding with its id and summary; "
                            "--format json or html carries everything.", "dim")))
    return lines


def _header(report: Report, view: Rollup, every: bool) -> list[Text]:
    root = report.root_name + (f" {report.root_version}" if report.root_version else "")
    inputs = ", ".join(report.inputs)
    lines = [_line(("mlaudit", "bold"), f" · {_c(root, 80)} · {len(report.packages)} packages · "
                   f"{len(report.models)} model/dataset references" + (f" · inputs: {_c(inputs, 400)}"
                                                                       if inputs else ""))]
    verdict = _wrapped((f"{view.verdict} (exit {view.exit_code})", VERDICT_STYLE.get(view.exit_code, "bold yellow")),
                       f": {_c(view.exit_reason, 200)}")
    lines.append(verdict)
    counts = _wrapped(("findings: ", "bold"))
    _append_counts(counts, view.counts)
    if view.new_counts is not None:
        new = sum(view.new_counts.values())
        counts.append(f" · {new} new, {len(view.active) - new} unchanged since the baseline {_c(report.baseline, 200)}")
    if view.ignored:
        counts.append(f" · {len(view.ignored)} ignored by policy")
    lines.append(counts)
    note = gate_note(report)
    if note:
        lines.append(_wrapped(("unknown severity: ", "magenta"), _c(note, 300)))
    if view.gate.complete:
        lines.append(_line(("COMPLETE", "green"), ": every input item was audited or excluded (listed)"))
    else:
        kinds = Counter(item.kind.value for item in report.skipped)
        top = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
        lines.append(_wrapped(("INCOMPLETE", "bold yellow"), f": {len(report.skipped)} item(s) not checked ({top}); "
                              "reasons under Not checked"))
    if report.data_sources:
        parts = []
        for ds in sorted(report.data_sources, key=lambda d: not d.stale):  # what is out of date first
            parts.append(_c(ds.name, 60) + (f" {_c(ds.date, 20)}" if ds.date else "") + (" (stale)" if ds.stale
                                                                                        else ""))
        lines.append(_wrapped(("data: ", "dim"), ", ".join(parts)))
    policy = report.policy.summary() if report.policy is not None else ""
    if policy:  # the audited project's own policy is never applied silently (issue 26)
        loud = report.policy is not None and report.policy.from_project and report.policy.weakens
        lines.append(_wrapped(("policy: ", "bold yellow" if loud else "dim"), _c(policy, 800 if every else 300)))
    shown = view.warnings if every else view.warnings[:MAX_WARNINGS]
    for warning in shown:
        lines.append(_wrapped(("warning: ", "yellow"), _c(warning, 2000 if every else 500)))
    if len(view.warnings) > len(shown):
        lines.append(_line((f"  +{len(view.warnings) - len(shown)} more warning(s) (-v)", "dim")))
    return lines


def _append_counts(text: Text, counts: Counter[Severity]) -> None:
    shown = [s for s in Severity if counts[s]]
    if not shown:
        text.append("none")
    for index, severity in enumerate(shown):
        text.append(("" if index == 0 else " · ") + f"{counts[severity]} ")
        text.append(severity.value, style=SEVERITY_STYLE[severity])


def _package_section(view: Rollup, rows: int, width: int) -> list[Text]:
    advisories = view.vulnerability_count
    new = sum(r.new for r in view.packages)
    title = f"Vulnerable packages: {len(view.packages)} ({advisories} advisories" + (
        f", {new} new)" if view.new_counts is not None else ")")
    lines = [_line((title, "bold"))]
    shown = view.packages[:rows]
    name_w = min(28, max([7, *[len(r.name) for r in shown]]))
    version_w = min(18, max([7, *[len(r.version) for r in shown]]))
    adv_w = min(20, max([10, *[len(_advisory_count(r, view.new_counts is not None)) for r in shown]]))
    up_w = min(26, max([10, *[len(r.upgrade) for r in shown]]))
    fixed = 2 + name_w + 1 + version_w + 1 + adv_w + 1 + up_w + 1
    remains_w = max(12, min(30, width - fixed - 10))
    has_profiles = any(r.profiles for r in view.packages)
    lines.append(_line(("  " + _cell("package", name_w) + " " + _cell("version", version_w) + " "
                        + _cell("advisories", adv_w) + " " + _cell("upgrade to", up_w) + " "
                        + _cell("no release fixes", remains_w) + (" profiles" if has_profiles else ""), "dim")))
    for row in shown:
        lines.append(_package_line(row, name_w, version_w, adv_w, up_w, remains_w, view.new_counts is not None))
    if len(view.packages) > len(shown):
        rest = view.packages[len(shown):]
        lines.append(_line((f"  +{len(rest)} more package(s) with {sum(len(r.findings) for r in rest)} "
                            "advisories (-v)", "dim")))
    if any(not r.remediation.verified and r.remediation.to for r in shown):
        lines.append(_line(("  not verified: from the advisory data, not re-resolved with the rest of the "
                            "profile", "dim")))
    return lines


def _advisory_count(row: PackageRow, baseline: bool) -> str:
    """``3 high``; with a baseline ``1 new/3 high`` or ``3 old high``."""
    count = f"{len(row.findings)} "
    if baseline:
        count = f"{row.new} new/{len(row.findings)} " if row.new else f"{len(row.findings)} old "
    return count + row.worst.value


def _package_line(row: PackageRow, name_w: int, version_w: int, adv_w: int, up_w: int, remains_w: int,
                  baseline: bool) -> Text:
    worst = row.worst
    count = _advisory_count(row, baseline)[: -len(worst.value)]
    adv = _cell(count + worst.value, adv_w)
    remains = row.remediation.remains
    remains_txt = "" if not remains else (remains[0] + (f" +{len(remains) - 1}" if len(remains) > 1 else ""))
    if remains and len(remains) == len(row.findings) and len(remains) > 1:
        remains_txt = f"all {len(remains)}"
    text = _line("  ", (_cell(_c(row.name, 200), name_w), "bold"), " ", _cell(_c(row.version, 100), version_w), " ")
    text.append(adv[: len(count)], style="")
    text.append(adv[len(count):], style=SEVERITY_STYLE[worst])
    text.append(" ")
    text.append(_cell(_c(row.upgrade, 100), up_w), style="green" if row.remediation.to else "")
    text.append(" " + _cell(_c(remains_txt, 100), remains_w))
    if row.profiles:
        text.append(" " + _c(", ".join(row.profiles), 300), style="dim")
    return text


def _group_section(view: Rollup, plan: Plan) -> list[Text]:
    total = sum(len(g.findings) for g in view.groups)
    lines = [_line((f"Other findings: {total} in {len(view.groups)} kind(s)", "bold"))]
    for index, group in enumerate(view.groups[: plan.groups]):
        lines += _group_lines(group, plan.group_rows[index], view.new_counts is not None)
    if len(view.groups) > plan.groups:
        rest = view.groups[plan.groups:]
        names = ", ".join(f"{g.kind.value} {len(g.findings)}" for g in rest)
        lines.append(_line((f"  +{len(rest)} more kind(s): {names} (-v)", "dim")))
    return lines


def _group_lines(group: KindGroup, rows: int, baseline: bool) -> list[Text]:
    worst = group.worst
    new = f", {group.new} new" if baseline else ""
    head = _line("  ", (group.kind.value, "bold"), f" {len(group.findings)}{new} · worst ",
                 (worst.value, SEVERITY_STYLE[worst]))
    if rows < len(group.findings):
        shown = group.findings[:rows] if rows else group.findings[:3]
        subjects = ", ".join(_c(f.subject, 40) for f in shown)
        rest = len(group.findings) - len(shown)
        head.append(f" · {subjects}" + (f", +{rest} more" if rest else "") if not rows else f" · +{rest} more")
    lines = [head]
    for finding in group.findings[:rows]:
        mark = ("new ", "bold") if finding.new else ""
        lines.append(_line("    ", mark, (_c(finding.subject, 80), "bold"), f"  {_c(finding.id, 60)}  ",
                           (finding.severity.value, SEVERITY_STYLE[finding.severity]),
                           f"  {_c(_headline_message(finding), MESSAGE_LIMIT)}"))
    return lines


def _conflict_lines(view: Rollup, every: bool) -> list[Text]:
    if not view.conflicts:
        return []
    head = _line(("Versions that differ between profiles: ", "bold"),
                 f"{len(view.conflicts)} name(s), each version audited in its own profile")
    if every:
        return [head, *[_line(f"  {_c(c.name, 100)}: " + "; ".join(f"{_c(v, 60)} ({_c(o, 200)})"
                                                                   for v, o in c.versions))
                        for c in view.conflicts]]
    names = ", ".join(f"{_c(c.name, 60)} {'/'.join(_c(v, 40) for v, _ in c.versions)}" for c in view.conflicts)
    return [head, _line(f"  {names}")]


def _gap_lines(report: Report, view: Rollup, rows: int) -> list[Text]:
    if not view.gaps:
        return []
    lines = [_line(("Not checked: ", "bold yellow"), f"{len(report.skipped)} item(s), {len(view.gaps)} reason(s)")]
    for group in view.gaps[:rows]:
        if all(_is_runtime_reference(item) for item in group.items):
            lines.append(_wrapped(f"  {_runtime_summary(group.items)}"))
            continue
        example = "" if len(group.items) > 1 else f" — {rollup.gap_subject(group.items[0])}"
        lines.append(_line(f"  {len(group.items)} {group.kind.value}: {_c(group.reason, 300)}{_c(example, 200)}"))
    if len(view.gaps) > rows:
        rest = view.gaps[rows:]
        lines.append(_line((f"  +{len(rest)} more reason(s) for {sum(len(g.items) for g in rest)} item(s) (-v)",
                            "dim")))
    return lines


def _excluded_lines(report: Report, every: bool) -> list[Text]:
    if not report.excluded:
        return []
    groups = rollup.gap_groups(report.excluded)
    top = "; ".join(f"{len(g.items)} × {_c(g.reason, 120)}" for g in groups[:2])
    more = f"; +{len(groups) - 2} more reason(s)" if len(groups) > 2 else ""
    return [_line(("Excluded (does not apply to the target): ", "dim"), f"{len(report.excluded)} — {top}{more}")]


def print_report(report: Report, console: Console, *, verbose: bool = False) -> None:
    """The roll-up (one screen); with ``verbose`` every row of it, then every finding and gap in full."""
    view = rollup.build(report)
    for line in summary_lines(report, view, console.width, None if verbose else SCREEN_LINES):
        if verbose:  # everything, whole
            line.no_wrap, line.overflow = False, "fold"
        console.print(line, no_wrap=bool(line.no_wrap), overflow=line.overflow or "fold", crop=True)
    if verbose:
        _print_details(report, view, console)


def _print_details(report: Report, view: Rollup, console: Console) -> None:
    """Everything: every finding (new first, by severity) with id, summary, path and fix; every gap; every
    exclusion; every ignored finding with its reason."""
    for severity in Severity:
        group = [f for f in view.active if f.severity is severity]
        if group:
            console.print()
            console.print(Text(f" {severity.value.upper()} ({len(group)}) ", style=SEVERITY_STYLE[severity]))
            for finding in group:
                _print_finding(finding, console)
    if view.ignored:
        console.print()
        console.print(Text(f"{len(view.ignored)} finding(s) ignored by policy:", style="dim"))
        for f in view.ignored:
            console.print(Text(f"  {_c(f.id)} {_c(f.subject)}: {_c(f.ignored)}", style="dim"))
    if report.skipped:
        console.print()
        console.print(Text(f"not checked ({len(report.skipped)}):", style="yellow"))
        runtime = [i for i in report.skipped if _is_runtime_reference(i)]
        for item in report.skipped:
            if runtime and _is_runtime_reference(item):
                continue
            what = f" {item.requirement}" if item.requirement else ("" if item.file else f" {item.subject}")
            where = f"{item.where}" if item.where else f"{item.kind.value}"
            console.print(Text(f"  {_c(where)}{_c(what)}: {_c(item.reason or '', 500)}"))
        if runtime:
            _print_runtime_group(runtime, console)
    if report.excluded:
        console.print(Text(f"excluded ({len(report.excluded)}):", style="dim"))
        for item in report.excluded:
            console.print(Text(f"  {_c(item.where or item.kind.value)} {_c(item.requirement or item.subject)}: "
                               f"{_c(item.reason or '', 200)}", style="dim"))
    console.print(_line((f"{view.verdict} (exit {view.exit_code})", VERDICT_STYLE.get(view.exit_code, "bold yellow")),
                        f": {_c(view.exit_reason, 200)}"))


def _is_runtime_reference(item: Item) -> bool:
    return item.gap is GapKind.RUNTIME_REFERENCE


def _print_runtime_group(items: list[Item], console: Console) -> None:
    """Model references chosen at run time, as one group: how many, and in which files most. Each one is a gap
    (the report stays incomplete); the full list, with lines and expressions, is in the JSON and HTML reports."""
    console.print(Text(f"  {_runtime_summary(items)}"))
    console.print(Text("  each is listed with its line in the JSON/HTML report; declare the models that run in "
                       "mlaudit.toml `models = [...]` to audit them, or --exclude paths that are not shipped",
                       style="dim"))


def _runtime_summary(items: list[Item]) -> str:
    by_file = Counter(item.file or "?" for item in items)
    top = ", ".join(f"{_c(name)} ({count})" for name, count in by_file.most_common(MAX_RUNTIME_FILES))
    more = f", and {len(by_file) - MAX_RUNTIME_FILES} more files" if len(by_file) > MAX_RUNTIME_FILES else ""
    return (f"{len(items)} model/dataset references chosen at run time (not audited) in {len(by_file)} file(s): "
            f"{top}{more}")


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
    """One finding as a short block: what and where on the first line, then why, how it got here and the fix."""
    head = Text("  ")
    if finding.new:
        head.append("new ", style="bold")
    head.append(_c(finding.subject), style="bold")
    head.append(f"  {_c(finding.kind)} {_c(finding.id)}")
    if finding.aliases:
        head.append(f" ({_c(', '.join(finding.aliases[:4]))})", style="dim")
    basis = severity_basis(finding)
    if basis:
        head.append(f"  [{_c(basis)}]", style="dim")
    console.print(head)
    console.print(Text(f"      {_c(_headline_message(finding), MESSAGE_LIMIT + 10)}"))
    if finding.summary and finding.summary.strip() not in finding.message:
        console.print(Text(f"      {_c(finding.summary, 300)}", style="dim"))
    if finding.paths and len(finding.paths[0]) > 2:
        console.print(Text("      via " + _c(" → ".join(finding.paths[0]), 400), style="dim"))
    if finding.location is not None:
        console.print(Text(f"      at {_c(str(finding.location))}", style="dim"))
    if finding.fix:
        fix = Text("      ")
        fix.append("fix:", style="green")
        fix.append(f" {_c(finding.fix)}")
        console.print(fix)


def render(report: Report, options: RenderOptions = RenderOptions(), *,  # noqa: B008 - frozen
           verbose: bool = False) -> str:
    """Plain-text rendering (no colour codes) at ``RENDER_WIDTH`` columns, for ``-o FILE`` and tests."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=RENDER_WIDTH, color_system=None, force_terminal=False, highlight=False)
    print_report(report, console, verbose=verbose or options.verbose)
    return buffer.getvalue()

"""SBOM + HTML rendering speed on the large eval graph, beside ``cyclonedx-py requirements`` on the same input.

    python bench/sbom.py [--shared ../shared] [--workdir DIR] [--runs 20] [--no-anchor] [--quick] [--json OUT]

What a user runs: ``mlaudit sbom eval/inputs/large.resolved.txt --offline -o FILE`` as a whole process (the
console script; interpreter start, every offline check and the SBOM), interleaved with the anchor,
``cyclonedx-py requirements`` (CycloneDX's own Python SBOM tool, pinned, in its own venv) on the same file, with and
without its own schema validation. cyclonedx-py reads pins only (no edges: a flat list), so it is a floor, not a
peer; the ratio is shown only when both wrote the same (name, version) components in this run. If the anchor
cannot be installed or run, the script says so; nothing is substituted for it.

The renderers alone: the report the pipeline builds for the file (``--offline``, in this process), then CycloneDX
1.6 JSON, CycloneDX 1.6 XML and the HTML report timed in this warm process (median and max over ``--runs``).
Budget: SBOM + HTML rendering under 300 ms for this graph (the verdict is in the row's note; exit 0 means the script
ran). ``report_from_resolved`` (a plain reading of the file's pins and ``# via`` lines) is kept for the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.domain import ROOT_NODE, Edge, Package, Report, canonical_name, package_node  # noqa: E402
from bench import _common as common  # noqa: E402

BUDGET_MS = 300.0
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def report_from_resolved(path: Path) -> Report:
    """Pins become packages; ``# via X`` makes X -> pin, ``# via -r file`` makes the pin direct."""
    report = Report(inputs=[path.name], root_name=path.stem, generated_at="2026-11-23T00:00:00+00:00")
    current: str | None = None
    via_block = False
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        match = PIN.match(line)
        if match:
            current = canonical_name(match.group(1))
            report.add_package(Package(name=current, version=match.group(2), source="requirements"))
            via_block = False
            continue
        if current is None or not line.startswith("#"):
            continue
        text = line.lstrip("#").strip()
        if text.startswith("via"):
            via_block = True
            text = text[3:].strip()
            if not text:
                continue
        elif not via_block:
            continue
        if text.startswith("-r "):
            package = report.packages[current]
            package.direct = True
            report.edges.append(Edge(ROOT_NODE, package_node(current), f"{current}=={package.version}",
                                     origin="via-annotation"))
        elif text and not text.startswith("("):
            report.edges.append(Edge(package_node(text.split()[0]), package_node(current), current,
                                     origin="via-annotation"))
    return report


def _time(func: object, report: Report, runs: int) -> tuple[float, float, int]:
    samples = []
    size = 0
    for _ in range(runs):
        start = time.perf_counter()
        out = func(report)  # type: ignore[operator]
        samples.append((time.perf_counter() - start) * 1000)
        size = len(out)
    return statistics.median(samples), max(samples), size


def pipeline_report(resolved: Path) -> Report:
    """The report ``mlaudit --offline`` builds for the file (sources, every offline check), in this process."""
    from auditor.options import AuditOptions
    from auditor.pipeline import run_audit

    return run_audit(AuditOptions(paths=[str(resolved)], offline=True))


def components(doc: dict[str, object]) -> set[tuple[str, str]]:
    """(name, version) of the library components of a CycloneDX document (models and the root left out)."""
    items = doc.get("components", [])
    return {(canonical_name(str(c.get("name"))), str(c.get("version"))) for c in items  # type: ignore[union-attr]
            if isinstance(c, dict) and c.get("type") == "library"}


def dependency_edges(doc: dict[str, object]) -> int:
    deps = doc.get("dependencies", [])
    return sum(len(d.get("dependsOn", [])) for d in deps if isinstance(d, dict))  # type: ignore[union-attr]


def anchor_command(workdir: Path, resolved: Path, validate: bool) -> list[str]:
    exe = common.anchor_venv("cyclonedx-bom") / "cyclonedx-py"
    return [str(exe), "requirements", "--of", "JSON", "--sv", "1.6", *([] if validate else ["--no-validate"]),
            "-o", str(workdir / ("anchor.cdx.json" if validate else "anchor-nv.cdx.json")), str(resolved)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(common.SHARED))
    parser.add_argument("--workdir", default=str(common.bench_cache() / "sbom"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-anchor", action="store_true")
    parser.add_argument("--quick", action="store_true", help="5 runs instead of --runs")
    parser.add_argument("--json", dest="json_out", metavar="OUT", help="also write the results as JSON (bench/run.py)")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs = 5
    resolved = Path(args.shared) / "eval" / "inputs" / "large.resolved.txt"
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    env = common.process_env(MLAUDIT_CACHE_DIR=str(workdir / "mlaudit-cache"))
    common.precompile()

    from auditor.outputs.cyclonedx import render_json, render_xml
    from auditor.outputs.html import render as render_html

    os.environ["MLAUDIT_CACHE_DIR"] = env["MLAUDIT_CACHE_DIR"]
    report = pipeline_report(resolved)  # also builds the advisory index of the cache (the CLI runs below reuse it)
    render_json(report)  # warm imports and template compilation once
    render_html(report)
    json_ms = _time(render_json, report, args.runs)
    xml_ms = _time(render_xml, report, args.runs)
    html_ms = _time(render_html, report, args.runs)
    doc = json.loads(render_json(report))
    edges = dependency_edges(doc)
    process_runs = max(3, args.runs // 4)
    own_file = workdir / "mlaudit-sbom.cdx.json"
    mlaudit = common.installed_mlaudit_cmd()  # its own venv, like the anchor's (built untimed)
    commands: dict[str, Callable[[], common.Measured]] = {
        "mlaudit sbom": lambda: common.run_measured([*mlaudit, "sbom", str(resolved), "--offline", "-q",
                                                     "-o", str(own_file)], env=env)}
    result: dict[str, object] = {"name": "sbom", "quick": args.quick,
                                 "anchors": {"cyclonedx-bom": common.PINS["cyclonedx-bom"]}, "notes": [
                                     "cyclonedx-py reads pins only (a flat list, no edges); the ratio compares "
                                     "`mlaudit sbom` (which also runs every offline check) with it only when both "
                                     "wrote the same (name, version) components", common.INSTALLED_NOTE]}
    notes: list[str] = result["notes"]  # type: ignore[assignment]
    if not args.no_anchor:
        try:
            common.anchor_venv("cyclonedx-bom")  # installed now (untimed), or the anchor is reported unavailable
            commands["cyclonedx-py --no-validate"] = (
                lambda: common.run_measured(anchor_command(workdir, resolved, False), timeout=300))
            commands["cyclonedx-py (validating)"] = (
                lambda: common.run_measured(anchor_command(workdir, resolved, True), timeout=300))
        except common.AnchorUnavailable as exc:
            notes.append(f"could not install cyclonedx-bom: {exc}")
    samples = common.interleaved(commands, process_runs)
    failed = {name: ms[-1] for name, ms in samples.items() if any(m.returncode != 0 for m in ms)}
    for name, m in failed.items():
        notes.append(f"{name} failed (exit {m.returncode}): {m.stderr.strip()[-300:]}")
    if "mlaudit sbom" in failed:
        raise RuntimeError(f"mlaudit sbom failed: {failed['mlaudit sbom'].stderr[-500:]}")
    own_doc = json.loads(own_file.read_text(encoding="utf-8"))
    own = components(own_doc)
    case = f"SBOM+HTML of {resolved.name} ({len(report.packages)} pkgs)"
    sbom_case = f"CycloneDX JSON of {resolved.name}, whole process"
    warm_total = json_ms[0] + html_ms[0]
    # the budget verdict is a figure of the row, not the script's exit status (which says the script ran)
    rows = [common.row(case, "mlaudit renderers (in-process, warm)", warm_total, unit="ms", runs=args.runs,
                       rss_mb=round(common.self_rss_mb(), 1), detection=f"{edges} dependency edges",
                       note=f"report from the pipeline (--offline); CycloneDX JSON + HTML only; budget "
                            f"{BUDGET_MS:.0f} ms: {'OK' if warm_total < BUDGET_MS else 'OVER'}")]
    wall, cpu, rss = common.medians(samples["mlaudit sbom"])
    anchor_doc: dict[str, object] | None = None
    if "cyclonedx-py --no-validate" in samples and "cyclonedx-py --no-validate" not in failed:
        anchor_doc = json.loads((workdir / "anchor-nv.cdx.json").read_text(encoding="utf-8"))
    theirs = components(anchor_doc) if anchor_doc is not None else set()
    same = (f"both wrote the same {len(own)} (name, version) components of {resolved.name} in this run"
            if anchor_doc is not None and own == theirs else None)
    base = common.medians(samples["cyclonedx-py --no-validate"])[0] if anchor_doc is not None else None
    rows.append(common.row(sbom_case, "mlaudit sbom --offline", wall * 1000, unit="ms", runs=process_runs,
                           cpu=cpu, rss_mb=round(rss, 1), baseline="cyclonedx-py --no-validate",
                           ratio=common.ratio(wall, base), same_work=same,
                           detection=f"{len(own)} components, {dependency_edges(own_doc)} edges",
                           note=None if same or anchor_doc is None else
                           f"not comparable: component sets differ ({len(own)} vs {len(theirs)}; only mlaudit: "
                           f"{sorted(own - theirs)[:3]}, only cyclonedx-py: {sorted(theirs - own)[:3]})"))
    for name in ("cyclonedx-py --no-validate", "cyclonedx-py (validating)"):
        if name in samples and name not in failed:
            a_wall, a_cpu, a_rss = common.medians(samples[name])
            rows.append(common.row(sbom_case, name, a_wall * 1000, unit="ms", runs=process_runs, cpu=a_cpu,
                                   rss_mb=round(a_rss, 1),
                                   detection=(f"{len(theirs)} components, {dependency_edges(anchor_doc)} edges"
                                              if name.endswith("--no-validate") and anchor_doc else None)))
    result["rows"] = rows
    common.write_json(args.json_out, result)

    print(f"input: {resolved.name}: {len(report.packages)} packages, {len(report.edges)} edges")
    print(f"mlaudit cyclonedx-json  median {json_ms[0]:7.1f} ms  max {json_ms[1]:7.1f} ms  "
          f"({json_ms[2] // 1024} KiB, {len(doc['components'])} components, {edges} dependency edges)")
    print(f"mlaudit cyclonedx-xml   median {xml_ms[0]:7.1f} ms  max {xml_ms[1]:7.1f} ms  ({xml_ms[2] // 1024} KiB)")
    print(f"mlaudit html            median {html_ms[0]:7.1f} ms  max {html_ms[1]:7.1f} ms  ({html_ms[2] // 1024} KiB)")
    print(f"renderers (warm, in-process) {warm_total:7.1f} ms, budget {BUDGET_MS:.0f} ms: "
          f"{'OK' if warm_total < BUDGET_MS else 'OVER BUDGET'}")
    for r in rows[1:]:
        shown = f"{r['ratio']:.2f}x {r['baseline']}" if r.get("ratio") else "-"
        print(f"{r['tool']:<30} median {r['median']:8.1f} ms, CPU {r.get('cpu', 0) * 1000:7.1f} ms  ratio {shown}")
    for note in notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

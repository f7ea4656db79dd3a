"""Run every benchmark script in ``bench/`` and print one table: mlaudit beside each anchor, measured in this run.

    python bench/run.py [--quick] [--only NAME[,NAME...]] [--out-dir bench/results] [--timeout SECONDS]

Each script (``bench/<name>.py``; ``_``-prefixed helpers and this file excluded) is imported in a fresh Python
process and its ``main(argv)`` called with ``--json OUT`` (and ``--quick`` when given and the script accepts it),
so one script's memory or crash does not touch the others and each child's peak RSS is its own. The scripts install
their anchors (pip-audit, uv, cyclonedx-py, GuardDog, picklescan, modelscan, fickling...) pinned, in their own
venvs (``bench/_common.py``), and read the shared ``eval/`` inputs. Needs the package registry (never run in CI).

Writes ``bench/results/latest.json`` (every script's JSON, exit status, wall time and output) and
``bench/results/latest.md`` (the table, the anchors' versions and each script's printed report).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import SHARED, run_measured  # noqa: E402

BENCH = ROOT / "bench"
ORDER = ["resolve", "deadhost", "advisories", "typosquat", "models", "modelrefs", "provenance", "sources", "sbom"]
CHILD = "import sys; sys.path.insert(0, sys.argv[1]); import importlib; " \
        "m = importlib.import_module('bench.' + sys.argv[2]); sys.exit(m.main(sys.argv[3:]))"
COLUMNS = ["benchmark", "case", "tool", "median", "CPU (median)", "runs", "vs baseline", "peak RSS MB", "detection",
           "note"]


def _scrub(value: Any) -> Any:
    """Results are committed: no absolute machine paths in them (checkout, shared data, temp dir, home)."""
    if isinstance(value, str):
        for path, label in ((str(SHARED), "../shared"), (str(ROOT), "."),
                            (tempfile.gettempdir(), "$TMPDIR"), (str(Path.home()), "~")):
            value = value.replace(path, label)
        return value
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    return value


def discover() -> list[str]:
    names = [p.stem for p in BENCH.glob("*.py") if not p.stem.startswith("_") and p.stem != "run"]
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def script_args(name: str, quick: bool, json_out: Path) -> tuple[list[str], list[str]]:
    """The argv for ``main`` and notes on what the script does not support (read from its source)."""
    source = (BENCH / f"{name}.py").read_text(encoding="utf-8")
    argv: list[str] = []
    notes: list[str] = []
    if '"--json"' in source:
        argv += ["--json", str(json_out)]
    else:
        notes.append("script has no --json option: only its printed output is kept")
    if quick:
        if '"--quick"' in source:
            argv.append("--quick")
        else:
            notes.append("script has no --quick option: ran in full")
    return argv, notes


def run_script(name: str, quick: bool, timeout: float, scratch: Path) -> dict[str, Any]:
    json_out = scratch / f"{name}.json"
    argv, notes = script_args(name, quick, json_out)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    print(f"== bench/{name}.py {' '.join(a for a in argv if a != str(json_out))}", file=sys.stderr, flush=True)
    m = run_measured([sys.executable, "-c", CHILD, str(ROOT), name, *argv], env=env, cwd=ROOT, timeout=timeout)
    result: dict[str, Any] | None = None
    if json_out.is_file():
        try:
            result = json.loads(json_out.read_text(encoding="utf-8"))
        except ValueError as exc:
            notes.append(f"unreadable JSON result: {exc}")
    elif '"--json"' in (BENCH / f"{name}.py").read_text(encoding="utf-8"):
        notes.append("no JSON result written")
    if m.returncode != 0:
        tail = (m.stderr.strip().splitlines() or ["?"])[-1]
        notes.append(f"exit {m.returncode}: {tail[:300]}")
    print(f"   exit {m.returncode} after {m.seconds:.1f}s, peak RSS {m.rss_mb:.0f} MB", file=sys.stderr, flush=True)
    return {"exit": m.returncode, "seconds": round(m.seconds, 2), "peak_rss_mb": round(m.rss_mb, 1),
            "argv": [a for a in argv if a != str(json_out)], "result": result, "notes": notes,
            "stdout": m.stdout[-20000:], "stderr_tail": m.stderr[-3000:]}


def _num(value: Any, unit: str) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    return f"{value:.1f} {unit}" if value >= 10 else f"{value:.3g} {unit}"


def _ratio(value: float) -> str:
    return f"{value:.2f}x" if value >= 0.1 else f"{value:.2g}x"


def _cell(text: Any) -> str:
    return str(text if text not in (None, "") else "-").replace("|", "\\|").replace("\n", " ")


def table_rows(scripts: dict[str, dict[str, Any]]) -> list[list[str]]:
    out: list[list[str]] = []
    for name, run in scripts.items():
        result = run.get("result") or {}
        rows = result.get("rows") if isinstance(result, dict) else None
        if not isinstance(rows, list) or not rows:
            why = "; ".join(run.get("notes") or []) or "no rows reported"
            out.append([name, "-", "-", "-", "-", "-", "-", f"{run['peak_rss_mb']:.0f} (script)", "-", why])
            continue
        for r in rows:
            if not isinstance(r, dict):
                continue
            unit = str(r.get("unit") or "s")
            ratio = r.get("ratio")
            baseline = str(r.get("baseline") or "")
            if not isinstance(ratio, (int, float)):
                vs = "-"
            elif baseline.startswith("mlaudit"):  # an anchor's row carrying mlaudit ÷ this tool
                vs = f"{_ratio(ratio)} (mlaudit ÷ this)"
            else:
                vs = f"{_ratio(ratio)} {baseline}".strip()
            if vs != "-" and not r.get("same_work"):  # a script that bypassed bench._common.row
                vs = "- (no same-work evidence)"
            rss = r.get("rss_mb")
            note = "; ".join(str(x) for x in (r.get("note"), r.get("same_work") and f"same work: {r['same_work']}")
                             if x)
            cpu = r.get("cpu")
            out.append([name, _cell(r.get("case")), _cell(r.get("tool")), _num(r.get("median"), unit),
                        _num(cpu, "s"), _cell(r.get("runs")), vs, f"{rss:.0f}" if isinstance(rss, (int, float)) and rss else "-",
                        _cell(r.get("detection")), _cell(note)])
    return out


def _load(machine: dict[str, Any]) -> str:
    load = machine.get("load_average")
    if not isinstance(load, list) or len(load) != 2:
        return ""
    return f", 1-minute load average {load[0]} at the start and {load[1]} at the end (other work on the machine)"


def markdown(doc: dict[str, Any]) -> str:
    scripts: dict[str, dict[str, Any]] = doc["scripts"]
    lines = [f"# mlaudit benchmarks ({'quick' if doc['quick'] else 'full'} run, {doc['generated_at']})", "",
             f"Machine: {doc['machine']['cpus']} CPUs, {doc['machine']['platform']}, Python "
             f"{doc['machine']['python']}{_load(doc['machine'])}. Command: `{doc['command']}`. All figures below were measured in this "
             "one run. `vs baseline`: this row's figure divided by the named tool's on the same case (below 1 = "
             "faster/smaller than it); `(mlaudit ÷ this)`: mlaudit's figure divided by this row's tool's. "
             "`CPU (median)`: user + system time of the same runs (the process and its children); the machine may be "
             "shared, and CPU time moves much less with its load than wall time. Tools compared in one row group "
             "ran side by side (interleaved), with byte code written for both.", ""]
    anchors: dict[str, str] = {}
    for run in scripts.values():
        result = run.get("result")
        if isinstance(result, dict) and isinstance(result.get("anchors"), dict):
            anchors.update({str(k): str(v) for k, v in result["anchors"].items()})
    if anchors:
        lines += ["Anchors (pinned, each in its own venv): " + ", ".join(f"{k} {v}" for k, v in sorted(anchors.items())),
                  ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(scripts)]
    lines += ["", "| script | exit | wall time | peak RSS (whole script) | notes |", "|---|---|---|---|---|"]
    for name, run in scripts.items():
        result = run.get("result")
        notes = [*(run.get("notes") or []), *((result or {}).get("notes") or [] if isinstance(result, dict) else [])]
        lines.append(f"| {name} | {run['exit']} | {run['seconds']:.1f} s | {run['peak_rss_mb']:.0f} MB | "
                     f"{_cell('; '.join(str(n) for n in notes))} |")
    lines += ["", "## Each script's own report", ""]
    for name, run in scripts.items():
        lines += [f"<details><summary>bench/{name}.py {' '.join(run['argv'])}</summary>", "", "```",
                  run["stdout"].rstrip() or "(no output)", "```", "", "</details>", ""]
    return "\n".join(lines) + "\n"


def console_table(scripts: dict[str, dict[str, Any]]) -> str:
    rows = [COLUMNS, *table_rows(scripts)]
    widths = [min(48, max(len(r[i]) for r in rows)) for i in range(len(COLUMNS))]
    out = []
    for n, r in enumerate(rows):
        out.append("  ".join(c[:48].ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions in every script that supports it")
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="run only these scripts (repeatable or comma-separated), e.g. --only resolve,sbom")
    ap.add_argument("--out-dir", type=Path, default=BENCH / "results")
    ap.add_argument("--timeout", type=float, default=None, help="per-script limit in seconds (default 3600/1800)")
    ap.add_argument("--render-only", action="store_true",
                    help="measure nothing: rewrite latest.md and print the table from the existing latest.json")
    args = ap.parse_args(argv)
    if args.render_only:
        saved = _scrub(json.loads((args.out_dir / "latest.json").read_text(encoding="utf-8")))
        (args.out_dir / "latest.json").write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")
        (args.out_dir / "latest.md").write_text(markdown(saved), encoding="utf-8")
        print(console_table(saved["scripts"]))
        return 0
    available = discover()
    wanted = [n.strip() for chunk in args.only for n in chunk.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in available]
    if unknown:
        ap.error(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available)}")
    names = wanted or available
    timeout = args.timeout or (1800.0 if args.quick else 3600.0)
    scripts: dict[str, dict[str, Any]] = {}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mlaudit-bench-run-") as tmp:
        for name in names:
            scripts[name] = run_script(name, args.quick, timeout, Path(tmp))
    doc = {
        "generated_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "quick": args.quick,
        "command": "python bench/run.py" + (" --quick" if args.quick else "")
                   + (f" --only {','.join(wanted)}" if wanted else ""),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)]},
        "scripts": _scrub(scripts),
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "latest.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (args.out_dir / "latest.md").write_text(markdown(doc), encoding="utf-8")
    print(console_table(doc["scripts"]))
    print(f"\nwrote {args.out_dir / 'latest.json'} and {args.out_dir / 'latest.md'}")
    return 0 if all(run["exit"] == 0 for run in scripts.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

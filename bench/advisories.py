"""Advisory benchmark on the shared evaluation inputs, beside pip-audit (pinned, own venv) on the same files.

    python bench/advisories.py [--shared DIR] [--repeat N] [--no-anchor] [--quick] [--json OUT]

Measures, for mlaudit (issue 4's speed targets in brackets):

- ``first-build``: the embedded SQLite index built from the shipped OSV snapshot in a fresh cache dir [< 5 s];
- ``match-warm``: advisory + malicious-name matching of every pin of ``X.resolved.txt`` in a warm process (index
  lookups, OSV evaluation, alias grouping, upgrade advice) [large < 50 ms], and ``match-cold`` (first lookup in
  the process, index already built);
- ``audit``: the whole offline audit ``mlaudit X.resolved.txt --offline -f json`` in a new process, interpreter
  start included [large < 1 s], and ``audit-inproc``: the same through ``auditor.cli.main`` in a warm process;
- ``detection``: findings found / expected (the independently computed ``X.expected.json``; exact = same set).

For the anchor, ``pip-audit -r X.resolved.txt --no-deps --disable-pip`` is timed on the same file and its own
verdict is reported as it is (on a machine whose index has no per-version JSON API it audits nothing and says so).
``ratio`` = mlaudit time / pip-audit time (lower is better).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.advisories import db as advdb  # noqa: E402
from auditor.advisories.findings import malicious_findings, vulnerability_findings  # noqa: E402
from auditor.domain import canonical_name  # noqa: E402
from bench._common import PINS, AnchorUnavailable, anchor_venv, ratio, row, run_measured, write_json  # noqa: E402

PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#\\]+)")
SETS = ("small", "medium", "large")
TARGETS = {"first-build": 5.0, "match-warm:large": 0.050, "audit:large": 1.0}


def read_pins(path: Path) -> list[tuple[str, str]]:
    pins: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = PIN.match(line)
        if m:
            pins.append((canonical_name(m.group(1)), m.group(2)))
    return pins


def first_build(repeat: int) -> list[float]:
    times: list[float] = []
    old = os.environ.get("MLAUDIT_CACHE_DIR")
    try:
        for _ in range(repeat):
            with tempfile.TemporaryDirectory(prefix="mlaudit-bench-adv-") as tmp:
                os.environ["MLAUDIT_CACHE_DIR"] = tmp
                t0 = time.perf_counter()
                advdb.ensure_embedded_db()
                times.append(time.perf_counter() - t0)
    finally:
        if old is None:
            os.environ.pop("MLAUDIT_CACHE_DIR", None)
        else:
            os.environ["MLAUDIT_CACHE_DIR"] = old
    return times


def match_all(pins: list[tuple[str, str]]) -> set[tuple[str, str, str]]:
    store = advdb.open_store()
    names = [n for n, _ in pins]
    vulns = store.vulnerabilities_many(names)
    mal = store.malicious_many(names)
    found: set[tuple[str, str, str]] = set()
    for name, version in pins:
        for f in vulnerability_findings(name, version, vulns[name]) + malicious_findings(name, version, mal[name]):
            found.add((name, version, f.id))
    return found


def time_matching(pins: list[tuple[str, str]], repeat: int) -> tuple[float, list[float], set[tuple[str, str, str]]]:
    t0 = time.perf_counter()
    found = match_all(pins)
    cold = time.perf_counter() - t0
    warm: list[float] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        match_all(pins)
        warm.append(time.perf_counter() - t0)
    return cold, warm, found


def audit_subprocess(requirements: Path, out: Path, repeat: int,
                     extra: Sequence[str] = ()) -> tuple[list[float], dict[str, Any] | None, str]:
    times: list[float] = []
    report: dict[str, Any] | None = None
    note = ""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(repeat):
        m = run_measured([sys.executable, "-m", "auditor", str(requirements), "--offline", "-q", "-f", "json",
                          "-o", str(out), *extra], env=env, cwd=ROOT, timeout=600)
        times.append(m.seconds)
        if m.returncode not in (0, 1):
            note = f"exit {m.returncode}: {(m.stderr.strip().splitlines() or [''])[-1][:200]}"
    try:
        report = json.loads(out.read_text())
    except (OSError, ValueError):
        report = None
    return times, report, note


def _other_checks_off() -> list[str]:
    from auditor.checks import load_checks

    return [arg for c in load_checks() if c.name not in ("malicious", "advisories") for arg in ("--disable-check",
                                                                                                c.name)]


def audit_inprocess(requirements: Path, out: Path, repeat: int) -> list[float]:
    from auditor.cli import main as cli_main

    times: list[float] = []
    for _ in range(repeat + 1):
        t0 = time.perf_counter()
        cli_main([str(requirements), "--offline", "-q", "-f", "json", "-o", str(out)])
        times.append(time.perf_counter() - t0)
    return times[1:]  # the first run imports every check module


def pip_audit(requirements: Path, repeat: int) -> tuple[list[float], str]:
    try:
        bindir = anchor_venv("pip-audit")
    except AnchorUnavailable as exc:
        return [], str(exc)
    times: list[float] = []
    verdict = ""
    for _ in range(repeat):
        m = run_measured([str(bindir / "pip-audit"), "-r", str(requirements), "--no-deps", "--disable-pip",
                          "--progress-spinner", "off", "-f", "json"], timeout=1800)
        times.append(m.seconds)
        try:
            data = json.loads(m.stdout)
            deps = data.get("dependencies", [])
            vulns = sum(len(d.get("vulns", [])) for d in deps)
            skipped = sum(1 for d in deps if d.get("skip_reason"))
            verdict = f"exit {m.returncode}, {vulns} vulns reported, {skipped}/{len(deps)} deps not audited"
        except ValueError:
            tail = (m.stderr or m.stdout).strip().splitlines()[-1:] or ["no output"]
            verdict = f"exit {m.returncode}, {tail[0][:160]}"
    return times, verdict


def _ms(values: Sequence[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f}" if values else "-"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--no-anchor", action="store_true", help="skip pip-audit")
    ap.add_argument("--repeat", type=int, default=20, help="warm matching repetitions")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (CI smoke run)")
    ap.add_argument("--json", dest="json_out", metavar="OUT", help="write the results for bench/run.py")
    args = ap.parse_args(argv)
    inputs = Path(args.shared) / "eval" / "inputs"
    repeat = 3 if args.quick else args.repeat
    proc_repeat = 1 if args.quick else 3
    rows: list[dict[str, Any]] = []
    notes: list[str] = []

    builds = first_build(1 if args.quick else 3)
    build_med = statistics.median(builds)
    rows.append(row("first-build", "mlaudit", build_med, runs=len(builds), note="target < 5 s"))
    print(f"embedded index first build: median {build_med * 1000:.0f} ms over {len(builds)} fresh cache dirs "
          f"(target < 5000 ms)")
    advdb.ensure_embedded_db()

    header = (f"{'input':7} {'pins':>5} {'cold ms':>8} {'warm ms':>8} {'audit s':>8} {'inproc s':>9} "
              f"{'found/exp':>10} {'exact':>5}  {'pip-audit s':>11} {'ratio':>7}  pip-audit verdict")
    print(header)
    with tempfile.TemporaryDirectory(prefix="mlaudit-bench-adv-out-") as tmp:
        for name in SETS:
            resolved = inputs / f"{name}.resolved.txt"
            expected = json.loads((inputs / f"{name}.expected.json").read_text())
            want = {(f["package"], f["version"], f["id"]) for f in expected["findings"]}
            pins = read_pins(resolved)
            cold, warm, found = time_matching(pins, repeat)
            vulns_found = {k for k in found if not k[2].startswith("MAL-")}
            exact = vulns_found == want
            detection = f"{len(vulns_found & want)}/{len(want)}" + ("" if exact else f" (+{len(vulns_found - want)})")
            out = Path(tmp) / f"{name}.json"
            audit_times, report, note = audit_subprocess(resolved, out, proc_repeat)
            inproc = audit_inprocess(resolved, out, proc_repeat)
            report_ids = set()
            if report is not None:
                report_ids = {(f["package"]["name"], f["package"]["version"], f["id"])
                              for f in report.get("findings", []) if f.get("kind") == "vulnerability"}
            audit_exact = report_ids == want
            anchor_times, verdict = ([], "not run (--no-anchor)") if args.no_anchor else pip_audit(resolved,
                                                                                                  proc_repeat)
            anchor = statistics.median(anchor_times) if anchor_times else None
            audit_med = statistics.median(audit_times)
            rows += [
                row(f"match-cold:{name}", "mlaudit", cold, runs=1),
                row(f"match-warm:{name}", "mlaudit", statistics.median(warm), runs=len(warm), detection=detection,
                    note="target < 50 ms" if name == "large" else ""),
                row(f"audit:{name}", "mlaudit", audit_med, runs=len(audit_times), baseline="pip-audit",
                    ratio=ratio(audit_med, anchor), detection=f"{len(report_ids & want)}/{len(want)}"
                    + ("" if audit_exact else " NOT EXACT"), note=note or ("target < 1 s" if name == "large" else "")),
                row(f"audit-inproc:{name}", "mlaudit", statistics.median(inproc), runs=len(inproc)),
            ]
            if anchor_times:
                rows.append(row(f"audit:{name}", "pip-audit", anchor, runs=len(anchor_times), note=verdict))
            anchor_txt = f"{anchor:.2f}" if anchor is not None else "-"
            ratio_txt = f"{audit_med / anchor:.2f}" if anchor else "-"
            print(f"{name:7} {len(pins):>5} {cold * 1000:>8.1f} {_ms(warm):>8} {audit_med:>8.2f} "
                  f"{statistics.median(inproc):>9.3f} {detection:>10} {'yes' if exact and audit_exact else 'NO':>5}  "
                  f"{anchor_txt:>11} {ratio_txt:>7}  {verdict}")
            if note:
                print(f"  note: {note}")
            if name == "large":
                only, _report, _note = audit_subprocess(resolved, out, proc_repeat, _other_checks_off())
                rows.append(row("audit-advisory-checks-only:large", "mlaudit", statistics.median(only),
                                runs=len(only), note="every check but malicious/advisories disabled"))
                print(f"  large, only the malicious + advisories checks enabled: {statistics.median(only):.2f} s "
                      f"(new process; the rest is interpreter start, imports and the other checks)")
    notes.append("ratio = mlaudit audit wall time (new process) / pip-audit wall time on the same X.resolved.txt")
    notes.append("pip-audit's findings are its own verdict on this machine; detection counts are against "
                 "X.expected.json")
    for key, limit in TARGETS.items():
        case = key
        hit = next((r for r in rows if r["case"] == case and r["tool"] == "mlaudit"), None)
        if hit and hit.get("median") is not None:
            verdict_txt = "met" if hit["median"] < limit else "MISSED"
            notes.append(f"target {case} < {limit} s: {verdict_txt} ({hit['median']:.4f} s)")
    for text in notes:
        print(text)
    write_json(args.json_out, {"name": "advisories", "quick": bool(args.quick),
                               "anchors": {} if args.no_anchor else {"pip-audit": PINS["pip-audit"]},
                               "rows": rows, "notes": notes})
    return 0


if __name__ == "__main__":
    sys.exit(main())

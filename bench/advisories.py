"""Advisory benchmark on the shared evaluation inputs, beside pip-audit (pinned, own venv) on the same files.

    python bench/advisories.py [--shared DIR] [--repeat N] [--no-anchor] [--quick] [--json OUT]

Measures, for mlaudit (issue 4's speed targets in brackets); every row names its inputs:

- ``first-build``: the embedded SQLite index built from the shipped OSV snapshot in a fresh cache dir [< 5 s];
- ``match-warm``: advisory + malicious-name matching of every pin of ``X.resolved.txt`` in a warm process (index
  lookups, OSV evaluation, alias grouping, severity, upgrade advice) [large < 50 ms], and ``match-cold`` (first
  lookup in the process, index already built);
- ``audit``: the whole offline audit ``mlaudit X.resolved.txt --offline -f json`` in a new process, interpreter
  start included [large < 1 s], and ``audit-inproc``: the same through ``auditor.cli.main`` in a warm process;
- ``detection``: findings found / expected (the independently computed ``X.expected.json``; exact = same set);
- ``severity``: the findings of that audit of ``large.resolved.txt`` (large.txt's resolution) per severity level,
  and the share that is ``unknown`` (no CVSS vector and no severity word in any of the finding's records).

For the anchor, ``pip-audit -r X.resolved.txt --no-deps --disable-pip`` is timed on the same file and its own
verdict is reported as it is. A speed ratio (mlaudit time / pip-audit time) is shown only when pip-audit audited
every package of the file, i.e. both tools did the same work; otherwise the row says "not comparable" and why (on
a machine whose index has no per-version JSON API, pip-audit audits nothing and still reports "no known
vulnerabilities").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.advisories import db as advdb  # noqa: E402
from auditor.advisories.findings import malicious_findings, vulnerability_findings  # noqa: E402
from auditor.domain import Severity, canonical_name  # noqa: E402
from bench._common import PINS, SHARED, AnchorUnavailable, anchor_venv, ratio, row, run_measured, write_json  # noqa: E402

PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#\\]+)")
SETS = ("small", "medium", "large")
TARGETS = {("first-build", None): 5.0, ("match-warm", "large"): 0.050, ("audit", "large"): 1.0}


def case(kind: str, name: str | None = None, pins: int | None = None) -> str:
    """A row's case names its input: ``audit large.resolved.txt (201 pins)``."""
    if name is None:
        return kind
    return f"{kind} {name}.resolved.txt" + (f" ({pins} pins)" if pins is not None else "")


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


def installed_env() -> dict[str, str]:
    """The child's environment as on an installed copy: byte-code caching on (``pip install`` compiles modules;
    a session that sets ``PYTHONDONTWRITEBYTECODE`` would otherwise time a full recompile of every module)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)
    return env


def warm_bytecode() -> None:
    """One unmeasured run, so that the measured ones read cached byte-code like an installed mlaudit."""
    subprocess.run([sys.executable, "-m", "auditor", "--help"], env=installed_env(), cwd=ROOT, capture_output=True,
                   timeout=600, check=False)
    subprocess.run([sys.executable, "-c", "import auditor.checks; auditor.checks.load_checks()"], env=installed_env(),
                   cwd=ROOT, capture_output=True, timeout=600, check=False)


def audit_subprocess(requirements: Path, out: Path, repeat: int,
                     extra: Sequence[str] = ()) -> tuple[list[float], dict[str, Any] | None, str]:
    times: list[float] = []
    report: dict[str, Any] | None = None
    note = ""
    env = installed_env()
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


@dataclass
class AnchorRun:
    """What pip-audit did on one file in this run: its times, how many packages it audited, and its verdict."""

    times: list[float] = field(default_factory=list)
    verdict: str = ""
    audited: int | None = None  # packages it audited (not skipped); None when its output could not be read
    packages: int | None = None
    skip_reason: str = ""  # the first skip reason it gave, quoted in "not comparable"
    unavailable: str = ""  # why it did not run at all


def pip_audit(requirements: Path, repeat: int) -> AnchorRun:
    try:
        bindir = anchor_venv("pip-audit")
    except AnchorUnavailable as exc:
        return AnchorRun(unavailable=str(exc))
    run = AnchorRun()
    for _ in range(repeat):
        m = run_measured([str(bindir / "pip-audit"), "-r", str(requirements), "--no-deps", "--disable-pip",
                          "--progress-spinner", "off", "-f", "json"], timeout=1800)
        run.times.append(m.seconds)
        try:
            data = json.loads(m.stdout)
            deps = data.get("dependencies", [])
            vulns = sum(len(d.get("vulns", [])) for d in deps)
            skipped = [d for d in deps if d.get("skip_reason")]
            run.packages, run.audited = len(deps), len(deps) - len(skipped)
            run.skip_reason = str(skipped[0]["skip_reason"]) if skipped else ""
            run.verdict = (f"exit {m.returncode}, {vulns} vulns reported, audited {run.audited}/{len(deps)} "
                           "packages")
        except (ValueError, AttributeError, TypeError):
            tail = (m.stderr or m.stdout).strip().splitlines()[-1:] or ["no output"]
            run.audited = run.packages = None
            run.verdict = f"exit {m.returncode}, {tail[0][:160]}"
    return run


def comparable(anchor: AnchorRun, pins: int) -> tuple[bool, str]:
    """Whether a speed ratio means anything: only when pip-audit audited every package mlaudit audited."""
    if anchor.unavailable:
        return False, f"pip-audit not run: {anchor.unavailable}"
    if not anchor.times:
        return False, "pip-audit not run (--no-anchor)"
    if anchor.audited is None:
        return False, f"not comparable: pip-audit's output could not be read ({anchor.verdict})"
    if anchor.audited < pins:
        why = f"; it says: {anchor.skip_reason[:160]}" if anchor.skip_reason else ""
        return False, (f"not comparable: pip-audit audited {anchor.audited}/{pins} packages (its vulnerability "
                       f"service could not be used from this machine){why}")
    return True, f"both audited {pins}/{pins} packages of the same file"


def severity_counts(report: dict[str, Any] | None) -> Counter[str]:
    """Vulnerability findings of an audit report by severity level."""
    if report is None:
        return Counter()
    return Counter(str(f.get("severity")) for f in report.get("findings", []) if f.get("kind") == "vulnerability")


def severity_text(counts: Counter[str]) -> str:
    total = sum(counts.values())
    if not total:
        return "no findings"
    order = [s.value for s in Severity]
    parts = ", ".join(f"{counts[s]} {s}" for s in order if counts[s])
    return f"{total} findings: {parts}; unknown {counts['unknown'] / total:.1%}"


def _ms(values: Sequence[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f}" if values else "-"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(SHARED))
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
    meta = advdb.embedded_sources()[2]
    snapshot = json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {}
    snapshot_txt = (f"shipped PyPA snapshot {str(snapshot.get('commit_date', '?'))[:10]}, "
                    f"{snapshot.get('records', '?')} records + shipped MAL- records")
    rows.append(row(case("first-build") + f" ({snapshot_txt})", "mlaudit", build_med, runs=len(builds), inputs=snapshot_txt,
                    note="target < 5 s; fresh cache dir each run"))
    print(f"embedded index first build ({snapshot_txt}): median {build_med * 1000:.0f} ms over {len(builds)} fresh "
          f"cache dirs (target < 5000 ms)")
    advdb.ensure_embedded_db()
    warm_bytecode()
    notes.append("new-process rows run with byte-code caching on, after one unmeasured warm-up (as an installed "
                 "mlaudit; PYTHONDONTWRITEBYTECODE is dropped for them)")

    header = (f"{'input':7} {'pins':>5} {'cold ms':>8} {'warm ms':>8} {'audit s':>8} {'inproc s':>9} "
              f"{'found/exp':>10} {'exact':>5}  {'pip-audit s':>11}  ratio / pip-audit verdict")
    print(header)
    with tempfile.TemporaryDirectory(prefix="mlaudit-bench-adv-out-") as tmp:
        for name in SETS:
            resolved = inputs / f"{name}.resolved.txt"
            expected = json.loads((inputs / f"{name}.expected.json").read_text())
            want = {(f["package"], f["version"], f["id"]) for f in expected["findings"]}
            pins = read_pins(resolved)
            what = f"{resolved.name}: {len(pins)} pins, offline, {snapshot_txt}"
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
            anchor = AnchorRun() if args.no_anchor else pip_audit(resolved, proc_repeat)
            same, why = comparable(anchor, len(pins))
            anchor_med = statistics.median(anchor.times) if anchor.times else None
            audit_med = statistics.median(audit_times)
            audit_note = "; ".join(x for x in (note, "target < 1 s" if name == "large" else "",
                                               "" if same else why) if x)
            rows += [
                row(case("match-cold", name, len(pins)), "mlaudit", cold, runs=1, inputs=what),
                row(case("match-warm", name, len(pins)), "mlaudit", statistics.median(warm), runs=len(warm), detection=detection,
                    inputs=what, note="target < 50 ms" if name == "large" else ""),
                row(case("audit", name, len(pins)), "mlaudit", audit_med, runs=len(audit_times), inputs=what,
                    baseline="pip-audit" if same else None,
                    ratio=ratio(audit_med, anchor_med) if same else None, same_work=why if same else None,
                    detection=f"{len(report_ids & want)}/{len(want)}" + ("" if audit_exact else " NOT EXACT"),
                    note=audit_note),
                row(case("audit-inproc", name, len(pins)), "mlaudit", statistics.median(inproc), runs=len(inproc), inputs=what),
            ]
            if anchor.times:
                rows.append(row(case("audit", name, len(pins)), "pip-audit", anchor_med, runs=len(anchor.times),
                                inputs=f"{resolved.name}: {len(pins)} pins, pip-audit {PINS['pip-audit']} "
                                       "(its default PyPI JSON service)",
                                detection=(f"{anchor.audited}/{len(pins)} packages audited"
                                           if anchor.audited is not None else None),
                                note=anchor.verdict + ("" if same else f"; {why}")))
            else:
                notes.append(f"{name}: {why}")
            anchor_txt = f"{anchor_med:.2f}" if anchor_med is not None else "-"
            ratio_txt = f"{audit_med / anchor_med:.2f}" if same and anchor_med else "not comparable"
            print(f"{name:7} {len(pins):>5} {cold * 1000:>8.1f} {_ms(warm):>8} {audit_med:>8.2f} "
                  f"{statistics.median(inproc):>9.3f} {detection:>10} {'yes' if exact and audit_exact else 'NO':>5}  "
                  f"{anchor_txt:>11}  {ratio_txt} / {anchor.verdict or why}")
            if not same:
                print(f"  {why}")
            if note:
                print(f"  note: {note}")
            if name == "large":
                counts = severity_counts(report)
                total = sum(counts.values())
                rows.append(row(case("severity of findings,", name, len(pins)), "mlaudit", None, unit="", inputs=what + " (large.txt's resolution)",
                                detection=severity_text(counts),
                                note=(f"unknown share {counts['unknown'] / total:.1%}: no CVSS vector and no severity "
                                      "word in any of the finding's records; the gate counts them as high")
                                if total else "no report"))
                print(f"  large severities: {severity_text(counts)}")
                only, _report, _note = audit_subprocess(resolved, out, proc_repeat, _other_checks_off())
                rows.append(row(case("audit, advisory checks only,", name, len(pins)), "mlaudit", statistics.median(only),
                                runs=len(only), inputs=what,
                                note="every check but malicious/advisories disabled"))
                print(f"  large, only the malicious + advisories checks enabled: {statistics.median(only):.2f} s "
                      f"(new process; the rest is interpreter start, imports and the other checks)")
    notes.append("ratio = mlaudit audit wall time (new process) / pip-audit wall time on the same X.resolved.txt, "
                 "shown only when pip-audit audited every package of the file")
    notes.append("pip-audit's findings are its own verdict on this machine; detection counts are against "
                 "X.expected.json")
    for (kind, name), limit in TARGETS.items():
        label = case(kind, name)
        hit = next((r for r in rows if r["case"].startswith(label) and r["tool"] == "mlaudit"), None)
        if hit and hit.get("median") is not None:
            verdict_txt = "met" if hit["median"] < limit else "MISSED"
            notes.append(f"target {label} < {limit} s: {verdict_txt} ({hit['median']:.4f} s)")
    for text in notes:
        print(text)
    write_json(args.json_out, {"name": "advisories", "quick": bool(args.quick),
                               "anchors": {} if args.no_anchor else {"pip-audit": PINS["pip-audit"]},
                               "rows": rows, "notes": notes})
    return 0


if __name__ == "__main__":
    sys.exit(main())

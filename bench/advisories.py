"""Advisory matching benchmark on the shared evaluation inputs, beside pip-audit on the same files.

    python bench/advisories.py [--shared ../shared] [--workdir DIR] [--no-anchor] [--repeat N]

Measures, for mlaudit: the embedded index's first build (fresh cache dir), warm matching of every resolved package
of each input (index lookups + OSV evaluation + alias grouping + malicious-name check), and the number of findings
against the independently computed expected set. For the anchor, pip-audit (installed in its own venv in the work
dir) is timed on the same ``X.resolved.txt`` with ``--no-deps --disable-pip`` and its verdict is printed as is:
when it cannot install or run, the anchor column says so and nothing is substituted for it.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.advisories import db as advdb  # noqa: E402
from auditor.advisories.findings import malicious_findings, vulnerability_findings  # noqa: E402

PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#\\]+)")
SETS = ("small", "medium", "large")


def read_pins(path: Path) -> list[tuple[str, str]]:
    pins: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = PIN.match(line)
        if m:
            pins.append((m.group(1), m.group(2)))
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
    from auditor.model import canonical_name

    for name, version in pins:
        key = canonical_name(name)
        for f in vulnerability_findings(key, version, vulns[key]) + malicious_findings(key, version, mal[key]):
            found.add((key, version, f.id))
    return found


def time_matching(pins: list[tuple[str, str]], repeat: int) -> tuple[float, float, set[tuple[str, str, str]]]:
    t0 = time.perf_counter()
    found = match_all(pins)  # cold in this process (index already built)
    cold = time.perf_counter() - t0
    warm: list[float] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        match_all(pins)
        warm.append(time.perf_counter() - t0)
    return cold, statistics.median(warm), found


def pip_audit(workdir: Path, requirements: Path) -> tuple[float | None, str]:
    venv = workdir / "pip-audit-venv"
    exe = venv / "bin" / "pip-audit"
    try:
        if not exe.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "pip-audit"], check=True,
                           capture_output=True, timeout=900)
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"pip-audit could not be installed: {exc}"
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([str(exe), "-r", str(requirements), "--no-deps", "--disable-pip", "--progress-spinner",
                               "off", "-f", "json"], capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        return None, "pip-audit timed out after 1800 s"
    seconds = time.perf_counter() - t0
    try:
        data = json.loads(proc.stdout)
        deps = data.get("dependencies", [])
        vulns = sum(len(d.get("vulns", [])) for d in deps)
        skipped = sum(1 for d in deps if d.get("skip_reason"))
        verdict = f"exit {proc.returncode}, {vulns} vulns reported, {skipped}/{len(deps)} deps not audited"
    except ValueError:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        verdict = f"exit {proc.returncode}, {tail[0][:120]}"
    return seconds, verdict


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "mlaudit-bench-advisories"),
                    help="where pip-audit's venv lives (outside the checkout)")
    ap.add_argument("--no-anchor", action="store_true", help="skip pip-audit")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    inputs = Path(args.shared) / "eval" / "inputs"

    builds = first_build(3)
    print(f"embedded index first build: median {statistics.median(builds) * 1000:.0f} ms "
          f"(runs: {', '.join(f'{t * 1000:.0f}' for t in builds)} ms; target < 5000 ms)")
    advdb.ensure_embedded_db()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"{'input':8} {'pkgs':>5} {'cold ms':>8} {'warm ms':>8} {'found':>6} {'expected':>8} {'exact':>6}  "
          f"{'pip-audit s':>11} {'ratio':>8}  pip-audit verdict")
    for name in SETS:
        resolved = inputs / f"{name}.resolved.txt"
        expected = json.loads((inputs / f"{name}.expected.json").read_text())
        want = {(f["package"], f["version"], f["id"]) for f in expected["findings"]}
        pins = read_pins(resolved)
        cold, warm, found = time_matching(pins, args.repeat)
        vulns_found = {k for k in found if not k[2].startswith("MAL-")}
        exact = "yes" if vulns_found == want else "NO"
        anchor_s, verdict = (None, "not run (--no-anchor)") if args.no_anchor else pip_audit(workdir, resolved)
        ratio = f"{anchor_s / warm:.0f}x" if anchor_s else "-"
        anchor_txt = f"{anchor_s:.2f}" if anchor_s is not None else "-"
        print(f"{name:8} {len(pins):>5} {cold * 1000:>8.1f} {warm * 1000:>8.1f} {len(vulns_found):>6} "
              f"{len(want):>8} {exact:>6}  {anchor_txt:>11} {ratio:>8}  {verdict}")
    print("warm target: large < 50 ms. ratio = pip-audit wall time / mlaudit warm matching time.")
    full_audit(inputs / "large.resolved.txt", workdir)
    return 0


def full_audit(requirements: Path, workdir: Path) -> None:
    """The whole offline audit of the large pin set, in a fresh process (target < 1 s; the lead's pipeline)."""
    out = workdir / "large-report.json"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "auditor", str(requirements), "--offline", "-q", "-f", "json",
                           "-o", str(out)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    seconds = time.perf_counter() - t0
    try:
        report = json.loads(out.read_text())
        kinds = [f.get("kind") for f in report.get("findings", [])]
        summary = f"{kinds.count('vulnerability')} vulnerability findings, exit {proc.returncode}"
    except (OSError, ValueError):
        summary = f"no report (exit {proc.returncode}: {(proc.stderr.strip().splitlines() or [''])[-1][:160]})"
    print(f"full offline audit of {requirements.name} (new process, incl. interpreter start): {seconds:.2f} s; "
          f"{summary}")


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: mlaudit's resolver against uv pip compile, pip --dry-run --report and pip-audit -r.

Run by hand (needs the package registry; never in CI):

    python bench/resolve.py [--repeat 3] [--sizes small,medium,large] [--skip-pip-audit] [--quick] [--json OUT]

For each input in ../shared/eval/inputs/{small,medium,large}.txt and each tool it times cold runs (fresh cache
directory) and warm runs (cache populated by a previous run), prints medians in one table with the ratio to
``uv pip compile``, checks that mlaudit's pins equal the published ``X.resolved.txt``, and times a re-audit of an
already-resolved input (the lockfile path: no resolver, no network). ``mlaudit audit`` is the whole CLI audit of
the direct-pin file (CONVENTIONS "Inputs": its pins kept, their dependencies resolved, then every offline check):
its audited package set is compared with what ``uv pip compile`` resolves for the same target (both counts shown). pip-audit is installed, pinned, into its own
venv (``bench/_common.py``). Peak RSS is the largest process of each tool's run (uv's for mlaudit and uv).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from auditor.resolve.pipfallback import pip_platforms  # noqa: E402
from bench._common import PINS, AnchorUnavailable, anchor_venv, ratio, row, run_measured, write_json  # noqa: E402

INPUTS = next((base / "shared" / "eval" / "inputs" for base in (REPO.parent, REPO.parent.parent)
               if (base / "shared" / "eval" / "inputs").is_dir()), REPO.parent / "shared" / "eval" / "inputs")
PIP_AUDIT_VERSION = PINS["pip-audit"]
PYTHON_VERSION = "3.11"
UV_PLATFORM = "x86_64-manylinux_2_28"
EXCLUDE_NEWER = "2026-11-23T00:00:00Z"

MLAUDIT_SNIPPET = r"""
import json, sys
from packaging.requirements import Requirement as R
from auditor.domain import Location, Report, Requirement, canonical_name
from auditor.net import HttpClient
from auditor.options import AuditContext, AuditOptions
from auditor.resolve import resolve
from auditor.sources.base import SourceResult
path, resolved = sys.argv[1], sys.argv[2] == "1"
reqs, pkgs = [], []
for n, line in enumerate(open(path), 1):
    line = line.split("#", 1)[0].strip()
    if not line or line.startswith("-"):
        continue
    r = R(line)
    reqs.append(Requirement(canonical_name(r.name), line, str(r.specifier), tuple(r.extras),
                            str(r.marker) if r.marker else None, Location(path, n)))
opts = AuditOptions(python_version=sys.argv[3], platform=sys.argv[4], exclude_newer=sys.argv[5])
src = SourceResult(files=[path], requirements=reqs)
if resolved:
    from auditor.domain import Package
    src = SourceResult(files=[path], resolved=True,
                       packages=[Package(q.name, q.pinned_version or "", direct=True) for q in reqs])
ctx = AuditContext(options=opts, report=Report(), http=HttpClient(opts.net))
res = resolve(src, opts, ctx)
print(json.dumps({p.name: p.version for p in res.packages}))
"""


def uv_bin() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


def uv_version() -> str:
    out = subprocess.run([uv_bin(), "--version"], capture_output=True, text=True, check=False).stdout.split()
    return out[1] if len(out) > 1 else "?"


LAST_RSS: dict[str, float] = {}  # peak RSS (MB) of the latest run of each tool


def run(cmd: list[str], env: dict[str, str], tool: str = "") -> tuple[float, subprocess.CompletedProcess[str]]:
    m = run_measured(cmd, env=env)
    LAST_RSS[tool] = max(LAST_RSS.get(tool, 0.0), m.rss_mb)
    if m.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed ({m.returncode}): {m.stderr[-800:]}")
    return m.seconds, subprocess.CompletedProcess(cmd, m.returncode, m.stdout, m.stderr)


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_") and k != "PIP_FIND_LINKS"}
    env["PYTHONPATH"] = str(REPO)
    return env


Tool = Callable[[Path, Path, Path], tuple[float, str]]  # (input, cache dir, scratch) -> (seconds, stdout)


def tool_mlaudit(inp: Path, cache: Path, scratch: Path) -> tuple[float, str]:
    env = base_env() | {"MLAUDIT_CACHE_DIR": str(cache)}
    t, proc = run([sys.executable, "-c", MLAUDIT_SNIPPET, str(inp), "0", PYTHON_VERSION, UV_PLATFORM, EXCLUDE_NEWER],
                  env, "mlaudit")
    return t, proc.stdout


def tool_mlaudit_cli(inp: Path, cache: Path, scratch: Path) -> tuple[float, str]:
    """The whole audit (sources -> resolve -> checks), as a user runs it; JSON report on stdout."""
    env = base_env() | {"MLAUDIT_CACHE_DIR": str(cache)}
    cmd = [sys.executable, "-m", "auditor.cli", str(inp), "--format", "json", "-q", "--python-version",
           PYTHON_VERSION, "--platform", UV_PLATFORM, "--exclude-newer", EXCLUDE_NEWER, "--fail-on", "critical"]
    m = run_measured(cmd, env=env)
    LAST_RSS["mlaudit audit"] = max(LAST_RSS.get("mlaudit audit", 0.0), m.rss_mb)
    if m.returncode not in (0, 1):
        raise RuntimeError(f"{cmd[:4]} failed ({m.returncode}): {m.stderr[-800:]}")
    return m.seconds, m.stdout


def audited_set(report_json: str) -> set[tuple[str, str]]:
    report = json.loads(report_json)
    return {(p["name"], p["version"]) for p in report["packages"]}


def compiled_set(uv_output: str) -> set[tuple[str, str]]:
    import re

    out = set()
    for line in uv_output.splitlines():
        m = re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line)
        if m:
            out.add((re.sub(r"[-_.]+", "-", m[1]).lower(), m[2]))
    return out


def tool_uv(inp: Path, cache: Path, scratch: Path) -> tuple[float, str]:
    cmd = [uv_bin(), "pip", "compile", "--no-config", "--quiet", "--only-binary", ":all:", "--python-version",
           PYTHON_VERSION, "--python-platform", UV_PLATFORM, "--exclude-newer", EXCLUDE_NEWER, "--cache-dir",
           str(cache), str(inp)]
    t, proc = run(cmd, base_env(), "uv pip compile")
    return t, proc.stdout


def tool_pip(inp: Path, cache: Path, scratch: Path) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "pip", "install", "--isolated", "--dry-run", "--quiet", "--report", "-", "--only-binary", ":all:",
           "--ignore-installed", "--target", str(scratch / "target"), "--python-version", PYTHON_VERSION,
           "--cache-dir", str(cache), "-r", str(inp)]
    for tag in pip_platforms(UV_PLATFORM):
        cmd += ["--platform", tag]
    t, proc = run(cmd, base_env(), "pip --dry-run")
    return t, proc.stdout


def make_pip_audit(work: Path) -> Tool:
    exe = anchor_venv("pip-audit", PIP_AUDIT_VERSION) / "pip-audit"

    def tool(inp: Path, cache: Path, scratch: Path) -> tuple[float, str]:
        cmd = [str(exe), "-r", str(inp), "--cache-dir", str(cache), "--progress-spinner", "off"]
        env = base_env() | {"PIP_CONFIG_FILE": os.devnull}  # the public default index, like the other tools
        m = run_measured(cmd, env=env)
        LAST_RSS["pip-audit -r"] = max(LAST_RSS.get("pip-audit -r", 0.0), m.rss_mb)
        return m.seconds, m.stdout + m.stderr[-300:]

    return tool


def time_tool(tool: Tool, inp: Path, repeat: int, work: Path) -> tuple[list[float], list[float], str]:
    cold: list[float] = []
    warm: list[float] = []
    out = ""
    for i in range(repeat):
        cache = Path(tempfile.mkdtemp(prefix=f"cache{i}-", dir=work))
        scratch = Path(tempfile.mkdtemp(prefix=f"scratch{i}-", dir=work))
        t, out = tool(inp, cache, scratch)
        cold.append(t)
        t, out = tool(inp, cache, scratch)
        warm.append(t)
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    return cold, warm, out


def expected_pins(resolved: Path) -> dict[str, str]:
    import re

    pins = {}
    for line in resolved.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line)
        if m:
            pins[re.sub(r"[-_.]+", "-", m[1]).lower()] = m[2]
    return pins


def _same_work(name: str, detection: str | None) -> str | None:
    """Evidence from this run that a row did uv's work: the resolver's pins all as expected, or the audit's
    package set equal to uv's (the audit also checks every package: it does more, never less)."""
    if not detection:
        return None
    if name == "mlaudit" and detection.startswith("pins "):
        got, _, rest = detection[5:].partition("/")
        want = rest.split(" ", 1)[0]
        return f"resolved the same {want} pins as uv" if got == want else None
    if name == "mlaudit audit" and detection.endswith(": equal"):
        return "audited exactly uv pip compile's package set (and checked every package)"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="small,medium,large")
    parser.add_argument("--skip-pip-audit", action="store_true")
    parser.add_argument("--pip-audit-repeat", type=int, default=1)
    parser.add_argument("--pip-audit-sizes", default="small,medium,large",
                        help="inputs pip-audit -r is timed on (it resolves with pip: slow)")
    parser.add_argument("--quick", action="store_true", help="one repetition; pip-audit -r on small only")
    parser.add_argument("--json", dest="json_out", metavar="OUT", help="also write the results as JSON (bench/run.py)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "mlaudit-bench-resolve",
                        help="scratch directory (caches); outside the checkout by default")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat = 1
        args.pip_audit_sizes = "small"
    args.work.mkdir(parents=True, exist_ok=True)
    tools: dict[str, tuple[Tool, int]] = {
        "uv pip compile": (tool_uv, args.repeat),
        "mlaudit": (tool_mlaudit, args.repeat),
        "mlaudit audit": (tool_mlaudit_cli, args.repeat),
        "pip --dry-run": (tool_pip, args.repeat),
    }
    notes: list[str] = []
    if not args.skip_pip_audit:
        try:
            tools["pip-audit -r"] = (make_pip_audit(args.work), args.pip_audit_repeat)
        except AnchorUnavailable as exc:
            notes.append(f"pip-audit anchor unavailable: {exc}")
    rows = []
    json_rows: list[dict[str, object]] = []
    for size in args.sizes.split(","):
        inp = INPUTS / f"{size}.txt"
        medians: dict[str, tuple[float, float]] = {}
        rss: dict[str, float] = {}
        detection: dict[str, str] = {}
        outputs: dict[str, str] = {}
        for name, (tool, repeat) in tools.items():
            if name == "pip-audit -r" and size not in args.pip_audit_sizes.split(","):
                continue
            LAST_RSS.pop(name, None)
            try:
                cold, warm, out = time_tool(tool, inp, repeat, args.work)
            except RuntimeError as exc:
                print(f"{size} {name}: FAILED {exc}", file=sys.stderr)
                notes.append(f"{size} {name}: FAILED {str(exc)[:200]}")
                continue
            medians[name] = (statistics.median(cold), statistics.median(warm))
            rss[name] = LAST_RSS.get(name, 0.0)
            outputs[name] = out
            if name == "mlaudit audit" and "uv pip compile" in outputs:
                ours, theirs = audited_set(out), compiled_set(outputs["uv pip compile"])
                detection[name] = (f"audited {len(ours)} packages, uv pip compile {len(theirs)}: "
                                   + ("equal" if ours == theirs else
                                      f"differ (only mlaudit: {sorted(ours - theirs)[:5]}, only uv: "
                                      f"{sorted(theirs - ours)[:5]})"))
                print(f"{size}: {detection[name]}", file=sys.stderr)
            if name == "mlaudit":
                got = json.loads(out.strip().splitlines()[-1])
                want = expected_pins(INPUTS / f"{size}.resolved.txt")
                same = sum(1 for k, v in want.items() if got.get(k) == v)
                detection[name] = f"pins {same}/{len(want)} as expected ({len(got)} resolved)"
                print(f"{size}: mlaudit pins matching {size}.resolved.txt: {same}/{len(want)} "
                      f"(mlaudit resolved {len(got)})", file=sys.stderr)
        base = medians.get("uv pip compile")
        for name, (cold_m, warm_m) in medians.items():
            rc = f"{cold_m / base[0]:.2f}x" if base else "-"
            rw = f"{warm_m / base[1]:.2f}x" if base else "-"
            rows.append((size, name, f"{cold_m:.2f}", rc, f"{warm_m:.2f}", rw))
            runs = tools[name][1]
            ours = name.startswith("mlaudit")  # ratios are mlaudit's time / the other tool's (bench/run.py's column)
            others = "; ".join(f"÷ {other} {cold_m / m[0]:.2f} cold, {warm_m / m[1]:.2f} warm"
                               for other, m in medians.items() if ours and other not in (name, "uv pip compile"))
            same = _same_work(name, detection.get(name))
            json_rows.append(row(f"{size} cold", name, cold_m, runs=runs, baseline="uv pip compile" if ours else None,
                                 ratio=ratio(cold_m, base[0] if base else None) if ours else None, same_work=same,
                                 rss_mb=round(rss[name], 1), detection=detection.get(name), note=others or None))
            json_rows.append(row(f"{size} warm", name, warm_m, runs=runs, baseline="uv pip compile" if ours else None,
                                 ratio=ratio(warm_m, base[1] if base else None) if ours else None, same_work=same))
        # re-audit of an already-resolved input (lockfile path)
        locked = INPUTS / f"{size}.resolved.txt"
        env = base_env() | {"MLAUDIT_CACHE_DIR": str(args.work / "lock-cache")}
        LAST_RSS.pop("re-audit", None)
        times = [run([sys.executable, "-c", MLAUDIT_SNIPPET, str(locked), "1", PYTHON_VERSION, UV_PLATFORM,
                      EXCLUDE_NEWER], env, "re-audit")[0] for _ in range(args.repeat)]
        rows.append((size, "mlaudit re-audit of resolved file", f"{statistics.median(times):.2f}", "-", "-", "-"))
        json_rows.append(row(f"{size} resolved file", "mlaudit (no resolver)", statistics.median(times),
                             runs=args.repeat, rss_mb=round(LAST_RSS.get("re-audit", 0.0), 1)))
    write_json(args.json_out, {"name": "resolve", "quick": args.quick, "rows": json_rows, "notes": notes,
                               "anchors": {"pip-audit": PIP_AUDIT_VERSION, "uv": uv_version()}})
    header = ("input", "tool", "cold s (median)", "cold vs uv", "warm s (median)", "warm vs uv")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for line in rows:
        print("| " + " | ".join(line) + " |")
    for json_row in json_rows:
        if json_row.get("detection") and str(json_row.get("tool", "")).startswith("mlaudit audit"):
            print(f"- {json_row.get('case')}: {json_row['detection']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

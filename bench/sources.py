"""Input sources: parse time of every lockfile kind and a full offline re-audit of a lockfile (target < 1 s).

    python bench/sources.py [--shared ../shared] [--workdir DIR] [--runs 20] [--no-anchor] [--quick] [--json OUT]

What it builds (in the work dir, no network but the loopback): a local package index holding one wheel per pin of
``eval/inputs/large.resolved.txt`` (201 packages; each wheel requires exactly the children its ``# via`` annotations
name), then a project pinning large.txt's direct requirements, locked by the real ``uv lock`` against that index
(``uv.lock``), exported by ``uv export`` (``pylock.toml``, hashed requirements). ``poetry.lock`` and
``Pipfile.lock`` of the same graph are written here in the exact shape of the Poetry 2.5.1 / pipenv 2026.10.3
outputs checked in under ``tests/fixtures/lockfiles`` (the tools are not installed by this script).

What it times:
  - in-process parse (``auditor.sources.load_file``) of each kind, median over ``--runs``;
  - ``mlaudit --offline <lock> --format json`` (the console script of mlaudit installed from this checkout, not
    editable, into a venv of its own in the bench cache, as a user runs it; the pinned requirements copied alone
    into a folder, since the audit walks its input's folder) as a fresh process (imports, advisory
    matching, every check), interleaved with ``pip-audit --version`` -- a peer CLI's bare start-up, the yardstick of
    issue 25 (the re-audit of a 200+ package lock at most 0.5x of it): medians of wall and CPU time, side by side
    in one run, byte code written beforehand for both. The ratio's evidence is the run's own: mlaudit's report
    lists every package of the lock and is complete; pip-audit printed its version (it did strictly less);
  - the anchor: pip-audit has no uv.lock mode, so it runs on the hashed requirements case:
    ``pip-audit -r large.resolved.txt --no-deps --disable-pip`` (pinned, own venv; it queries its vulnerability
    service over the network -- the README in eval/inputs says what it answers here); a ratio only when it audited
    every package. ``--no-anchor`` skips both pip-audit rows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.domain import ROOT_NODE  # noqa: E402
from auditor.options import AuditOptions  # noqa: E402
from auditor.sources import load_file  # noqa: E402
from auditor.sources.base import SourceResult  # noqa: E402
from bench import _common as common  # noqa: E402

TARGET_S = 1.0
STARTUP_TARGET = 0.5  # issue 25: the offline re-audit of a 200+ package lock <= 0.5x `pip-audit --version`


def _uv() -> str:
    from auditor.tools import uv_binary

    uv = uv_binary()
    if uv is None:
        raise SystemExit("uv is not available")
    return uv


def _uv_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    env.update({"UV_CACHE_DIR": str(work / "uv-cache"), "NO_COLOR": "1", "UV_PYTHON_DOWNLOADS": "never"})
    return env


def build_locks(resolved: Path, direct_txt: Path, work: Path) -> dict[str, Path]:
    """Real uv.lock / pylock.toml / hashed requirements for the large graph, plus poetry/pipenv-shaped locks."""
    from tests.support.index import LocalIndex

    src = load_file(str(resolved), AuditOptions())
    children: dict[str, list[str]] = {}
    versions = {p.name: p.version for p in src.packages}
    for edge in src.edges:
        if edge.parent != ROOT_NODE:
            parent = edge.parent.split(":", 1)[1]
            child = edge.child.split(":", 1)[1]
            children.setdefault(parent, []).append(f"{child}=={versions[child]}")
    index = LocalIndex()
    for pkg in src.packages:
        index.add_wheel(pkg.name, pkg.version, requires=sorted(set(children.get(pkg.name, []))))
    proj = work / "proj"
    proj.mkdir(parents=True, exist_ok=True)
    direct = [ln.split("#")[0].strip() for ln in direct_txt.read_text().splitlines() if ln.split("#")[0].strip()]
    deps = ",\n".join(f'    "{d}"' for d in direct)
    (proj / "pyproject.toml").write_text(
        f'[project]\nname = "bench-large"\nversion = "1.0"\nrequires-python = ">=3.10"\ndependencies = [\n{deps}\n]\n')
    uv, env = _uv(), _uv_env(work)
    with index.serve() as url:
        subprocess.run([uv, "lock", "--no-config", "--index-url", url, "--python", sys.executable], cwd=proj,
                       env=env, check=True, capture_output=True, timeout=600)
        pylock = subprocess.run([uv, "export", "--no-config", "--index-url", url, "--format", "pylock.toml",
                                 "--python", sys.executable], cwd=proj, env=env, check=True, capture_output=True,
                                text=True, timeout=600)
        hashed = subprocess.run([uv, "export", "--no-config", "--index-url", url, "--format", "requirements-txt",
                                 "--no-emit-project", "--python", sys.executable], cwd=proj, env=env, check=True,
                                capture_output=True, text=True, timeout=600)
    (proj / "pylock.toml").write_text(pylock.stdout)
    (work / "requirements-hashed.txt").write_text(hashed.stdout)
    lock = load_file(str(proj / "uv.lock"), AuditOptions())
    poetry_dir = work / "poetry"
    pipenv_dir = work / "pipenv"
    poetry_dir.mkdir(exist_ok=True)
    pipenv_dir.mkdir(exist_ok=True)
    (poetry_dir / "poetry.lock").write_text(_poetry_lock(lock))
    (pipenv_dir / "Pipfile.lock").write_text(_pipfile_lock(lock))
    # the pinned requirements alone in a folder: the audit walks its input's folder for model references, and the
    # eval inputs folder holds other files (expected reports) that are not part of this input
    alone = work / "via-alone"
    alone.mkdir(exist_ok=True)
    for stray in alone.iterdir():
        if stray.is_file():
            stray.unlink()
    shutil.copyfile(resolved, alone / resolved.name)
    return {"uv.lock": proj / "uv.lock", "pylock.toml": proj / "pylock.toml",
            "poetry.lock": poetry_dir / "poetry.lock", "Pipfile.lock": pipenv_dir / "Pipfile.lock",
            "requirements (hashed)": work / "requirements-hashed.txt", "requirements (# via)": alone / resolved.name}


def _poetry_lock(src: SourceResult) -> str:
    deps: dict[str, list[str]] = {}
    for edge in src.edges:
        if edge.parent != ROOT_NODE:
            deps.setdefault(edge.parent.split(":", 1)[1], []).append(edge.child.split(":", 1)[1])
    out = ["# This file is automatically @generated by Poetry 2.5.1 and should not be changed by hand.\n"]
    for pkg in src.packages:
        files = ",\n".join(f'    {{file = "{a.filename}", hash = "sha256:{a.hashes.get("sha256", "")}"}}'
                           for a in pkg.artifacts)
        out.append(f'[[package]]\nname = "{pkg.name}"\nversion = "{pkg.version}"\ndescription = ""\n'
                   f'optional = false\npython-versions = "*"\ngroups = ["main"]\nfiles = [\n{files},\n]\n')
        if deps.get(pkg.name):
            out.append("[package.dependencies]\n" + "".join(f'{d} = "*"\n' for d in sorted(set(deps[pkg.name]))))
        out.append(f'[package.source]\ntype = "legacy"\nurl = "{pkg.index_url}"\nreference = "local"\n')
    out.append('[metadata]\nlock-version = "2.1"\npython-versions = "^3.10"\ncontent-hash = "0"\n')
    return "\n".join(out)


def _pipfile_lock(src: SourceResult) -> str:
    default = {pkg.name: {"hashes": list(pkg.hashes), "index": "local", "version": f"=={pkg.version}"}
               for pkg in src.packages}
    url = next((p.index_url for p in src.packages if p.index_url), "")
    doc = {"_meta": {"hash": {"sha256": "0"}, "pipfile-spec": 6, "requires": {"python_version": "3.11"},
                     "sources": [{"name": "local", "url": url, "verify_ssl": False}]},
           "default": default, "develop": {}}
    return json.dumps(doc, indent=4, sort_keys=True) + "\n"


def _median_parse(path: Path, runs: int) -> tuple[float, int]:
    times = []
    count = 0
    for _ in range(runs):
        start = time.perf_counter()
        result = load_file(str(path), AuditOptions())
        times.append(time.perf_counter() - start)
        count = len(result.packages)
    return statistics.median(times), count


def _audit_command(path: Path, work: Path, mlaudit: list[str]) -> tuple[list[str], dict[str, str]]:
    env = common.process_env(MLAUDIT_CACHE_DIR=str(work / "mlaudit-cache"))
    return [*mlaudit, "--offline", str(path), "--format", "json", "-q", "-o",
            str(work / f"report-{path.name}.json")], env


def _audit_facts(path: Path, work: Path) -> tuple[int, int, bool, dict[str, float]]:
    """Packages audited, vulnerability findings, completeness and stage timings of the last run's report."""
    report = json.loads((work / f"report-{path.name}.json").read_text())
    findings = sum(1 for f in report["findings"] if f["kind"] == "vulnerability")
    return len(report["packages"]), findings, bool(report.get("complete")), dict(report.get("timings") or {})


def _pip_audit(resolved: Path, runs: int) -> tuple[float | None, str, int]:
    """pip-audit's median time, a note, and how many dependencies it really audited (those without a
    ``skip_reason``): a time is only comparable when it audited the packages mlaudit audited."""
    try:
        exe = common.anchor_venv("pip-audit") / "pip-audit"
    except common.AnchorUnavailable as exc:
        return None, f"anchor unavailable: {exc}", 0
    cmd = [str(exe), "-r", str(resolved), "--no-deps", "--disable-pip", "--progress-spinner", "off", "-f", "json"]
    measured = [common.run_measured(cmd, env=common.process_env(), timeout=900) for _ in range(runs)]
    last = measured[-1]
    audited = 0
    try:
        deps = json.loads(last.stdout).get("dependencies", [])
        vulns = sum(len(d.get("vulns", [])) for d in deps)
        audited = sum(1 for d in deps if not d.get("skip_reason"))
        note = (f"exit {last.returncode}, {vulns} vulnerabilities reported; audited {audited} of {len(deps)} "
                "dependencies")
    except (ValueError, AttributeError):
        note = f"exit {last.returncode}: {(last.stderr.strip().splitlines() or ['?'])[-1][:160]}"
    return statistics.median(m.seconds for m in measured), note, audited


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(common.SHARED))
    parser.add_argument("--workdir", default=str(common.bench_cache() / "sources"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-anchor", action="store_true")
    parser.add_argument("--quick", action="store_true", help="3 runs instead of --runs")
    parser.add_argument("--json", dest="json_out", metavar="OUT", help="also write the results as JSON (bench/run.py)")
    args = parser.parse_args(argv)
    runs = 3 if args.quick else args.runs
    inputs = Path(args.shared) / "eval" / "inputs"
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    locks = build_locks(inputs / "large.resolved.txt", inputs / "large.txt", work)

    rows: list[dict[str, object]] = []
    print(f"{'input':28} {'packages':>8} {'parse median':>14}")
    parsed: dict[str, int] = {}
    for kind, path in locks.items():
        seconds, count = _median_parse(path, runs)
        parsed[kind] = count
        rows.append(common.row(f"parse {kind}", "mlaudit (in-process)", seconds * 1000, unit="ms", runs=runs,
                               detection=f"{count} packages"))
        print(f"{kind:28} {count:>8} {seconds * 1000:>11.2f} ms")

    audit_runs = max(5, runs // 4) if not args.quick else 3
    common.precompile()
    print(f"\nfull offline re-audit, fresh process each, side by side with `pip-audit --version` ({audit_runs} "
          f"interleaved rounds, target < {TARGET_S:.1f} s and <= {STARTUP_TARGET}x pip-audit's bare start-up):")
    anchor_s, anchor_note, anchor_audited = (None, "skipped (--no-anchor)", 0) if args.no_anchor else _pip_audit(
        inputs / "large.resolved.txt", 1)
    commands: dict[str, Callable[[], common.Measured]] = {}
    audited = {"uv.lock": locks["uv.lock"], "requirements (# via)": locks["requirements (# via)"]}
    mlaudit = common.installed_mlaudit_cmd()  # as a user runs it: its own venv, like the anchor (built untimed)
    for kind, path in audited.items():
        cmd, env = _audit_command(path, work, mlaudit)
        first = common.run_measured(cmd, env=env, cwd=str(ROOT))  # builds the advisory index in the cache once
        if first.returncode not in (0, 1):
            raise RuntimeError(f"mlaudit failed ({first.returncode}): {first.stderr[-400:]}")
        commands[kind] = lambda cmd=cmd, env=env: common.run_measured(cmd, env=env, cwd=str(ROOT))
    version_out = ""
    if not args.no_anchor:
        try:
            pa = str(common.anchor_venv("pip-audit") / "pip-audit")
            commands["pip-audit --version"] = lambda: common.run_measured([pa, "--version"], env=common.process_env())
        except common.AnchorUnavailable as exc:
            anchor_note += f"; pip-audit --version not run: {exc}"
    samples = common.interleaved(commands, audit_runs)
    start_up: tuple[float, float, float] | None = None
    if "pip-audit --version" in samples:
        runs_ok = [m for m in samples["pip-audit --version"] if m.returncode == 0]
        version_out = samples["pip-audit --version"][-1].stdout.strip()
        if len(runs_ok) == audit_runs:
            start_up = common.medians(runs_ok)
            rows.append(common.row("pip-audit --version (a peer's bare start-up)", "pip-audit", start_up[0],
                                   runs=audit_runs, cpu=start_up[1], rss_mb=round(start_up[2], 1),
                                   detection=f"printed {version_out!r}"))
    for kind, path in audited.items():
        bad = [m for m in samples[kind] if m.returncode not in (0, 1)]
        if bad:
            raise RuntimeError(f"mlaudit failed ({bad[0].returncode}): {bad[0].stderr[-400:]}")
        median, cpu, rss = common.medians(samples[kind])
        packages, findings, complete, stages = _audit_facts(path, work)
        slowest = sorted(stages.items(), key=lambda kv: -kv[1])[:3]
        stage_note = "; stages (last run): " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in slowest)
        stage_note += f"; sources {stages.get('sources', 0.0) * 1000:.0f} ms"
        verdict = "within" if median < TARGET_S else "OVER"
        detection = f"{findings} vulnerability findings, {packages} packages, complete: {complete}"
        if start_up is not None:
            floor = (f"mlaudit's report lists all {packages} packages of the lock, each through every offline check "
                     f"(report complete: {complete}); the anchor did strictly less: start-up only, it printed "
                     f"{version_out!r} (exit 0) -- a floor, not a peer") if packages == parsed[kind] else None
            met = "met" if median / start_up[0] <= STARTUP_TARGET else "MISSED"
            rows.append(common.row(f"mlaudit --offline {kind}", "mlaudit", median, runs=audit_runs, cpu=cpu,
                                   rss_mb=round(rss, 1), baseline="pip-audit --version", detection=detection,
                                   ratio=common.ratio(median, start_up[0]), same_work=floor,
                                   note=f"target <= {STARTUP_TARGET}x pip-audit --version: {met} (CPU "
                                        f"{cpu / start_up[1]:.2f}x); target < {TARGET_S} s: {verdict}{stage_note}; "
                                        f"{common.INSTALLED_NOTE}"))
        else:
            rows.append(common.row(f"mlaudit --offline {kind}", "mlaudit", median, runs=audit_runs, cpu=cpu,
                                   rss_mb=round(rss, 1), detection=detection,
                                   note=f"target < {TARGET_S} s: {verdict}{stage_note}"))
        same = (f"both audited the {packages} packages of large.resolved.txt"
                if anchor_s is not None and anchor_audited == packages else None)
        if kind == "requirements (# via)" and same:
            rows.append(common.row(f"mlaudit --offline {kind}", "mlaudit", median, runs=audit_runs, cpu=cpu,
                                   baseline="pip-audit -r --no-deps --disable-pip (large.resolved.txt)",
                                   ratio=common.ratio(median, anchor_s), same_work=same,
                                   note="the same runs as the row above, against pip-audit's own audit; "
                                        f"{common.INSTALLED_NOTE}"))
        shown = (f", {median / start_up[0]:.2f}x pip-audit --version ({start_up[0]:.3f} s)"
                 if start_up is not None and packages == parsed[kind] else "")
        print(f"  {kind:26} {median:.3f} s, CPU {cpu:.3f} s (peak RSS {rss:.0f} MB; {findings} findings, {packages} "
              f"packages) -> {verdict} target{shown}\n    {stage_note.lstrip('; ')}")
    if anchor_s is not None:
        rows.append(common.row("pip-audit -r large.resolved.txt --no-deps --disable-pip", "pip-audit", anchor_s,
                               runs=1, note=anchor_note))
        print(f"  pip-audit {common.PINS['pip-audit']:>16} {anchor_s:.3f} s ({anchor_note})")
    else:
        print(f"  pip-audit: {anchor_note}")
    print("  (pip-audit has no uv.lock mode; it is timed on the requirements case only)")
    common.write_json(args.json_out, {"name": "sources", "quick": args.quick,
                                      "anchors": {"pip-audit": common.PINS["pip-audit"]}, "rows": rows,
                                      "notes": ["poetry.lock / Pipfile.lock of the large graph are written by this "
                                                "script in the shape of the real tools' output",
                                                f"pip-audit: {anchor_note}"]})
    return 0


if __name__ == "__main__":
    sys.exit(main())


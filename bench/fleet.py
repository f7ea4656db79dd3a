"""``mlaudit fleet`` throughput: a shell loop of ``mlaudit`` processes vs ``fleet --workers 2`` vs ``fleet --ray`` on
the same cores, and a model store of many small files (``mlaudit scan DIR`` vs ``fleet --scan DIR``).

    python bench/fleet.py [--projects 200] [--loop-sample N] [--store-files 10000] [--no-ray] [--json OUT]

Inputs are generated (``tests/fleet/generate.py``): lock-style projects audited offline (``--hash`` pins, ``# via``
requirements, uv.lock, poetry.lock; some with model references and model files) and a store of small files.
Every row is timed here, as a whole process from start to exit (interpreter start-up included, as a user would
wait for it), with the project's byte code written beforehand and ``PYTHONDONTWRITEBYTECODE`` dropped for every row
(an installed mlaudit starts from byte code; a loop that recompiled the project in each process would flatter the
fleet). Each ratio's row names the loop it is against and carries its own same-findings evidence. The shell loop runs ``mlaudit PROJECT --offline -f json -o FILE`` for each project one after the
other (what teams do today), and also two at a time (``xargs -P 2``, the same cores as the pool); with
``--loop-sample N`` the loops time only the first N projects and the ratio compares throughputs (projects/s), each
measured on what it ran. The Ray rows start a 2-CPU local cluster on 127.0.0.1 first (not timed; Ray worker start-up
and warm-up inside the run are). Peak memory per worker comes from each worker's own ``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _common as common  # noqa: E402


def _mlaudit() -> list[str]:
    return common.mlaudit_cmd()


def _loop(paths: list[str], out: Path, env: dict[str, str], cwd: Path, parallel: int) -> float:
    """Wall seconds of a shell loop over ``paths`` (``xargs -P parallel``), one mlaudit process per project."""
    out.mkdir(parents=True, exist_ok=True)
    script = (f'{" ".join(_mlaudit())} "$1" --offline -f json -o "{out}/$(basename "$1").json" >/dev/null 2>&1; '
              "exit 0")
    start = time.perf_counter()
    subprocess.run(["xargs", "-P", str(parallel), "-n", "1", "sh", "-c", script, "sh"], input="\n".join(paths),
                   text=True, cwd=cwd, env=env, check=True)
    return time.perf_counter() - start


def _fleet(args: list[str], out: Path, env: dict[str, str], cwd: Path) -> tuple[float, dict[str, Any]]:
    measured = common.run_measured([*_mlaudit(), "fleet", *args, "-o", str(out), "-q", "--fresh"], env=env, cwd=cwd)
    if measured.returncode not in (0, 1, 3):
        raise RuntimeError(f"fleet failed: {measured.stderr[-800:]}")
    index: dict[str, Any] = json.loads((out / "index.json").read_text())
    return measured.seconds, index


def _finding_keys(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(f["kind"], f["id"], json.dumps(f.get("package") or f.get("model") or f.get("path"), sort_keys=True))
            for f in report.get("findings", [])}


def _agree(sample: list[str], loop_dir: Path, fleet_dir: Path, index: dict[str, Any], cwd: Path) -> str | None:
    """Same-work evidence measured in this run: on every sampled project, the fleet's report has the findings the
    one-process-per-project loop wrote. None when any differs or is missing (then no ratio is shown)."""
    units = {str((cwd / u["path"]).resolve()) if not Path(u["path"]).is_absolute() else u["path"]: u
             for u in index["units"]}
    for path in sample:
        mine = loop_dir / f"{Path(path).name}.json"
        unit = units.get(str((cwd / path).resolve()))
        if not mine.is_file() or unit is None or not unit.get("report"):
            return None
        theirs = fleet_dir / unit["report"]
        if _finding_keys(json.loads(mine.read_text())) != _finding_keys(json.loads(theirs.read_text())):
            return None
    return f"same findings as one mlaudit process per project on all {len(sample)} sampled projects"


def _same_scan(single: Path, fleet_dir: Path, index: dict[str, Any]) -> str | None:
    """The sharded store scan found what the one-process scan found (same findings, same files scanned)."""
    reports = [u.get("report") for u in index["units"] if u.get("report")]
    if len(reports) != 1:
        return None
    one = json.loads(single.read_text())
    joined = json.loads((fleet_dir / reports[0]).read_text())
    if _finding_keys(one) != _finding_keys(joined) or one["summary"].get("accounting") != joined["summary"].get(
            "accounting"):
        return None
    return "same findings and the same files scanned as the one-process scan"


def _peak_mb(index: dict[str, Any]) -> float | None:
    workers = index["run"]["peak_rss_kib"]["workers"]
    return round(max(workers.values()) / 1024, 1) if workers else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--loop-sample", type=int, default=None, help="time the shell loops on the first N only")
    parser.add_argument("--store-files", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--quick", action="store_true", help="40 projects in the loops, 2,000 store files")
    parser.add_argument("--json", dest="json_out", metavar="OUT")
    args = parser.parse_args(argv)
    if args.quick:
        args.loop_sample = args.loop_sample or 40
        args.store_files = min(args.store_files, 2000)
    from tests.fleet.generate import make_fleet, make_store

    work = Path(tempfile.mkdtemp(prefix="mlaudit-bench-fleet-"))
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    try:
        make_fleet(work / "projects", args.projects)
        make_store(work, args.store_files)
        paths = [f"projects/svc-{i:04d}" for i in range(args.projects)]
        # both sides start from byte code: without it every process of the shell loop would recompile the project
        # (a session may set PYTHONDONTWRITEBYTECODE) while the fleet's workers pay that once
        common.precompile()
        env = common.process_env(MLAUDIT_CACHE_DIR=str(work / "cache"), HF_HUB_OFFLINE="1", HF_HOME=str(work / "hf"))
        # build the advisory index once, untimed: every row below finds it in the cache
        subprocess.run([*_mlaudit(), paths[0], "--offline", "-f", "json", "-o", str(work / "warm.json")], env=env,
                       cwd=work, check=False, capture_output=True)
        sample = paths[: args.loop_sample or len(paths)]
        seq = _loop(sample, work / "loop1", env, work, 1)
        par = _loop(sample, work / "loop2", env, work, args.workers)
        seq_rate, par_rate = len(sample) / seq, len(sample) / par
        case = f"{args.projects} projects"
        rows.append(common.row(case, "shell loop (1 at a time)", round(len(sample) / seq, 3), "projects/s",
                               note=f"{len(sample)} projects in {seq:.1f} s"))
        rows.append(common.row(case, f"shell loop (xargs -P {args.workers})", round(par_rate, 3), "projects/s",
                               note=f"{len(sample)} projects in {par:.1f} s"))
        seconds, index = _fleet([*paths, "--offline", "--workers", str(args.workers)], work / "fleet", env, work)
        rate = args.projects / seconds
        agree = _agree(sample, work / "loop1", work / "fleet", index, work)
        rows.append(common.row(case, f"mlaudit fleet --workers {args.workers}", round(rate, 3), "projects/s",
                               baseline="shell loop (1 at a time)", ratio=round(rate / seq_rate, 2), same_work=agree,
                               rss_mb=_peak_mb(index),
                               note=f"{args.projects} projects in {seconds:.1f} s (exit {index['exit_code']})"))
        rows.append(common.row(case, f"mlaudit fleet --workers {args.workers}", round(rate, 3), "projects/s",
                               baseline=f"shell loop (xargs -P {args.workers})", ratio=round(rate / par_rate, 2),
                               same_work=_agree(sample, work / "loop2", work / "fleet", index, work),
                               note="the same run as the row above, against the parallel loop"))
        ray_address: str | None = None
        cluster_cm = None
        if not args.no_ray:
            try:
                import ray  # noqa: F401

                from tests.fleet.raycluster import local_cluster, ray_env

                cluster_cm = local_cluster(args.workers, work)
                ray_address = cluster_cm.__enter__().address
                env_ray = ray_env(env)
            except ImportError:
                notes.append("fleet --ray: not run (Ray is not installed: pip install '.[ray]')")
            except RuntimeError as exc:
                notes.append(f"fleet --ray: not run (the local Ray cluster did not start: {str(exc)[:200]})")
        try:
            if ray_address is not None:
                seconds, index = _fleet([*paths, "--offline", "--ray", ray_address], work / "fleetray", env_ray, work)
                rate = args.projects / seconds
                rows.append(common.row(case, "mlaudit fleet --ray (2-CPU local cluster)", round(rate, 3),
                                       "projects/s", baseline="shell loop (1 at a time)",
                                       ratio=round(rate / seq_rate, 2),
                                       same_work=_agree(sample, work / "loop1", work / "fleetray", index, work),
                                       rss_mb=_peak_mb(index), note=f"{args.projects} projects in {seconds:.1f} s"))
            store_case = f"store of {args.store_files} files"
            single = common.run_measured([*_mlaudit(), "scan", "store", "-f", "json", "-o", str(work / "scan.json")],
                                         env=env, cwd=work)
            rows.append(common.row(store_case, "mlaudit scan (one process)", round(args.store_files / single.seconds),
                                   "files/s", rss_mb=round(single.rss_mb, 1), note=f"{single.seconds:.1f} s"))
            seconds, index = _fleet(["--scan", "store", "--workers", str(args.workers)], work / "fleetscan", env, work)
            rows.append(common.row(store_case, f"mlaudit fleet --scan --workers {args.workers}",
                                   round(args.store_files / seconds), "files/s", baseline="mlaudit scan (one process)",
                                   ratio=round(single.seconds / seconds, 2), rss_mb=_peak_mb(index),
                                   same_work=_same_scan(work / "scan.json", work / "fleetscan", index),
                                   note=f"{seconds:.1f} s, {index['run']['tasks']} shards"))
            if ray_address is not None:
                seconds, index = _fleet(["--scan", "store", "--ray", ray_address], work / "fleetscanray", env_ray,
                                        work)
                rows.append(common.row(store_case, "mlaudit fleet --scan --ray", round(args.store_files / seconds),
                                       "files/s", baseline="mlaudit scan (one process)",
                                       ratio=round(single.seconds / seconds, 2), rss_mb=_peak_mb(index),
                                       same_work=_same_scan(work / "scan.json", work / "fleetscanray", index),
                                       note=f"{seconds:.1f} s"))
        finally:
            if cluster_cm is not None:
                cluster_cm.__exit__(None, None, None)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()
    notes.append(f"{os.cpu_count()} cores; load average at the end {load[0]:.1f} (other work on the machine "
                 "slows every row alike)")
    for r in rows:
        extra = f"  x{r['ratio']} vs {r['baseline']}" if r.get("ratio") else ""
        rss = f"  peak/worker {r['rss_mb']} MB" if r.get("rss_mb") else ""
        print(f"{r['case']:<24} {r['tool']:<44} {r['median']:>10} {r['unit']}{extra}{rss}  ({r.get('note', '')})")
    for note in notes:
        print(f"note: {note}")
    common.write_json(args.json_out, {"name": "fleet", "quick": bool(args.quick), "anchors": {}, "rows": rows,
                                      "notes": notes})
    return 0


if __name__ == "__main__":
    sys.exit(main())

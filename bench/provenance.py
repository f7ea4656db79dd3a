"""Provenance benchmark: offline PEP 740 verification per file, and fetch + verify of many distributions.

    python bench/provenance.py [--shared ../shared] [--repeat 30] [--dists 100] [--latency-ms 20] [--quick]
                               [--no-anchor] [--json OUT]

1. Offline verification of the real fixture (``shared/fixtures/provenance``): mlaudit's ``verify_provenance``
   in-process (median per call after one warm-up), mlaudit as a fresh process (imports included), and the anchor,
   ``pypi-attestations verify pypi --offline`` (pinned, in its own venv), which is always a whole process.
   The process-to-process ratio is the comparable one; the in-process figure is what an audit pays per file.
2. Fetch + verify for ``--dists`` distributions through the check's own code path (``fetch_pages`` and the
   provenance check's concurrent per-package audit) against a loopback fake index + Integrity API that answers
   after ``--latency-ms`` (to stand in for a real network round trip). Target (issue 11): under 10 s for 100.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import SHARED, AnchorUnavailable, anchor_venv, ratio, row, run_measured, write_json  # noqa: E402

ANCHOR = "pypi-attestations"
ANCHOR_VERSION = "0.0.30"
SDIST = "pypi_attestations-0.0.19.tar.gz"
PROJECT = "pypi-attestations"
VERSION = "0.0.19"

OURS_PROCESS = (
    "import sys, hashlib; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
    "from auditor.provenance.verify import verify_provenance; d = Path(sys.argv[2]); "
    "r = verify_provenance(Path(str(d) + '.provenance').read_bytes(), d.name, "
    "hashlib.sha256(d.read_bytes()).hexdigest()); sys.exit(0 if r.ok else 1)"
)


def bench_in_process(fixture: Path, repeat: int) -> tuple[float, bool]:
    from auditor.provenance.verify import verify_provenance

    data = (fixture / SDIST).read_bytes()
    prov = (fixture / (SDIST + ".provenance")).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    ok = verify_provenance(prov, SDIST, digest).ok  # warm-up: imports, trust root
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        ok = verify_provenance(prov, SDIST, digest).ok and ok
        times.append(time.perf_counter() - start)
    return statistics.median(times), ok


def bench_process(cmd: list[str], repeat: int) -> tuple[float | None, str]:
    times = []
    for _ in range(repeat):
        m = run_measured(cmd, timeout=120)
        if m.returncode != 0:
            return None, (m.stderr.strip().splitlines() or ["?"])[-1][:200]
        times.append(m.seconds)
    return statistics.median(times), ""


def bench_fetch_verify(fixture: Path, dists: int, latency: float) -> tuple[float, dict[str, int]]:
    """Time the check's two concurrent stages (project pages, then per-package fetch + verify) for ``dists``
    packages. Each package sits behind its own index path so every page and provenance object is really fetched
    (the check caches pages per project name, and the one real attested file belongs to one project)."""
    from concurrent.futures import ThreadPoolExecutor

    from auditor.checks.provenance import audit_all
    from auditor.domain import Package, Report
    from auditor.net import HttpClient, NetConfig
    from auditor.options import AuditContext, AuditOptions
    from auditor.pkgindex import MAX_WORKERS, project_page
    from tests.support.httpserver import LoopbackServer, Response

    data = (fixture / SDIST).read_bytes()
    prov = (fixture / (SDIST + ".provenance")).read_bytes()
    page = {"meta": {"api-version": "1.0"}, "name": PROJECT,
            "files": [{"filename": SDIST, "url": f"/files/{SDIST}",
                       "hashes": {"sha256": hashlib.sha256(data).hexdigest()}}]}
    page_body = json.dumps(page).encode()
    server = LoopbackServer()
    server.route("GET", r"/i\d+/simple/[^/]+/", lambda _r: Response(
        200, page_body, {"Content-Type": "application/vnd.pypi.simple.v1+json"}, delay=latency))
    server.route("GET", r"/i\d+/integrity/.+/provenance", lambda _r: Response(
        200, prov, {"Content-Type": "application/json"}, delay=latency))
    with server:
        packages = [Package(name=PROJECT, version=VERSION, source="bench", index_url=f"{server.url}/i{n}/simple")
                    for n in range(dists)]
        net = NetConfig(timeout=15.0)
        ctx = AuditContext(options=AuditOptions(online=True, net=net), report=Report(), http=HttpClient(net))
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
            pages = list(pool.map(lambda p: project_page(ctx, p.name, p.index_url or ""), packages))
        results = []
        with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
            for chunk in pool.map(lambda pair: audit_all(ctx, [pair[0]], {PROJECT: pair[1]}),
                                  zip(packages, pages, strict=True)):
                results.extend(chunk)
        elapsed = time.perf_counter() - start
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    return elapsed, statuses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--repeat", type=int, default=30, help="in-process verifications timed")
    parser.add_argument("--process-repeat", type=int, default=3, help="whole-process runs timed per tool")
    parser.add_argument("--dists", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="fake API answer delay per request")
    parser.add_argument("--no-anchor", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", dest="json_out", metavar="OUT")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.process_repeat = 10, 1
    fixture = args.shared / "fixtures" / "provenance"
    if not (fixture / SDIST).is_file():
        print(f"fixture missing: {fixture / SDIST}", file=sys.stderr)
        return 2
    rows: list[dict[str, object]] = []
    notes: list[str] = []

    per_call, ok = bench_in_process(fixture, args.repeat)
    rows.append(row("verify 1 file, in-process", "mlaudit", per_call, runs=args.repeat,
                    detection="verified" if ok else "FAILED", note="median per call after warm-up; target < 50 ms"))
    ours_proc, err = bench_process([sys.executable, "-c", OURS_PROCESS, str(ROOT), str(fixture / SDIST)],
                                   args.process_repeat)
    anchor_proc: float | None = None
    anchors: dict[str, str] = {}
    if not args.no_anchor:
        try:
            bin_dir = anchor_venv(ANCHOR, ANCHOR_VERSION)
            anchors[ANCHOR] = ANCHOR_VERSION
            cmd = [str(bin_dir / "python"), "-m", "pypi_attestations", "verify", "pypi", "--offline",
                   "--repository", "https://github.com/trailofbits/pypi-attestations",
                   "--provenance-file", str(fixture / (SDIST + ".provenance")), str(fixture / SDIST)]
            anchor_proc, anchor_err = bench_process(cmd, args.process_repeat)
            if anchor_proc is None:
                notes.append(f"anchor failed: {anchor_err}")
        except AnchorUnavailable as exc:
            notes.append(f"anchor unavailable: {exc}")
    rows.append(row("verify 1 file, whole process", "mlaudit", ours_proc, runs=args.process_repeat,
                    baseline=f"pypi-attestations {ANCHOR_VERSION} CLI", ratio=ratio(ours_proc, anchor_proc),
                    same_work=(f"both verified the attestation of {SDIST} offline (exit 0)"
                               if anchor_proc is not None and ours_proc is not None and not err else None),
                    note=err or "python -c: import + verify"))
    if anchor_proc is not None:
        rows.append(row("verify 1 file, whole process", f"pypi-attestations {ANCHOR_VERSION}", anchor_proc,
                        runs=args.process_repeat, note="verify pypi --offline --provenance-file"))

    elapsed, statuses = bench_fetch_verify(fixture, args.dists, args.latency_ms / 1000)
    rows.append(row(f"fetch+verify {args.dists} dists", "mlaudit", elapsed, runs=1,
                    detection=", ".join(f"{k}={v}" for k, v in sorted(statuses.items())),
                    note=f"loopback fake index + Integrity API, {args.latency_ms:g} ms per answer; target < 10 s"))

    print(f"{'case':<34} {'tool':<26} {'median':>10}  {'vs anchor':>9}  note")
    for r in rows:
        med = r.get("median")
        shown = f"{float(med) * 1000:.1f} ms" if isinstance(med, float) and med < 1 else (
            f"{float(med):.2f} s" if isinstance(med, float) else "-")
        rat = r.get("ratio")
        print(f"{r['case']:<34} {r['tool']:<26} {shown:>10}  {(f'{rat:.2f}x' if rat else '-'):>9}  "
              f"{r.get('detection', '')} {r.get('note', '')}")
    for note in notes:
        print(f"note: {note}")
    write_json(args.json_out, {"name": "provenance", "quick": args.quick, "anchors": anchors, "rows": rows,
                               "notes": notes})
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Model-file scanner benchmark: detection on the labelled dev corpus and throughput/memory on large files,
mlaudit beside picklescan, modelscan and fickling (each pinned, in its own venv) and ``cat file > /dev/null``.

    python bench/models.py [--corpus DIR] [--large DIR | --no-large] [--no-anchor] [--json OUT]

Detection: a malicious row counts as detected when the tool reports something at medium or above (mlaudit:
``severity >= medium``; picklescan: a dangerous global; modelscan: an issue of severity MEDIUM+; fickling:
``LIKELY_OVERTLY_MALICIOUS`` or worse, zips through ``scan_zip_archive``). A benign row with such a report is a
false positive. A tool error is counted in the ``errors`` column, not as a detection. Every tool sees the same
files, one at a time, in one process per tool.
Throughput: wall time and peak RSS of one process scanning one large file (interpreter start included), and
MB/s relative to ``cat``. The corpus defaults to ``../shared/eval/models/corpus``; large files are generated with
``make_corpus.py --large`` into the bench cache (about 2.5 GB) unless ``--no-large``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _common as common  # noqa: E402

TOOLS = ("picklescan", "modelscan", "fickling")

DRIVER = r'''
import json, os, sys, time, zipfile
tool, files_json, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
files = json.load(open(files_json))
results = {}


def run_mlaudit(path):
    from pathlib import Path
    from auditor.domain import Severity
    from auditor.scan import scan_paths
    res = scan_paths([Path(path)])
    bad = [f for f in res.findings if f.severity.at_least(Severity.MEDIUM)]
    return bool(bad), sorted({f.id for f in bad})


def run_picklescan(path):
    from picklescan.scanner import scan_file_path
    r = scan_file_path(path)
    if r.scan_err and not r.infected_files:
        raise RuntimeError("picklescan reported a scan error")
    return bool(r.infected_files), ["dangerous global"] if r.infected_files else []


def run_modelscan(path):
    from modelscan.modelscan import ModelScan
    r = ModelScan().scan(path)
    sev = [str(i.get("severity", "")).upper() for i in r.get("issues", [])]
    bad = [s for s in sev if s in ("MEDIUM", "HIGH", "CRITICAL")]
    return bool(bad), sorted(set(bad))


def run_fickling(path):
    import fickling
    from fickling.analysis import Severity
    if zipfile.is_zipfile(path):
        res = fickling.scan_zip_archive(path, graceful=True)
        sevs = [r.severity for r in res.values()]
    else:
        sevs = [fickling.scan_file(path, graceful=True).severity]
    bad = [s for s in sevs if s >= Severity.LIKELY_OVERTLY_MALICIOUS]
    return bool(bad), sorted({s.name for s in bad})


fn = {"mlaudit": run_mlaudit, "picklescan": run_picklescan, "modelscan": run_modelscan, "fickling": run_fickling}[tool]
for path in files:
    t0 = time.perf_counter()
    try:
        flagged, why = fn(path)
        err = None
    except BaseException as exc:  # a crash is recorded, and counts as "not reported clean" only if it says so
        flagged, why, err = False, [], f"{type(exc).__name__}: {str(exc)[:200]}"
    results[path] = {"flagged": flagged, "why": why, "error": err, "seconds": time.perf_counter() - t0}
json.dump(results, open(out_path, "w"))
'''


def read_labels(corpus: Path) -> list[dict[str, str]]:
    with (corpus / "labels.tsv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def tool_python(tool: str) -> str:
    if tool == "mlaudit":
        return sys.executable
    # fickling 0.1.12 imports typing_extensions without declaring it
    extra = ("typing_extensions",) if tool == "fickling" else ()
    return str(common.anchor_venv(tool, extra=extra) / "python")


def run_driver(tool: str, files: list[str], workdir: Path) -> tuple[dict[str, Any] | None, common.Measured | None,
                                                                     str]:
    try:
        py = tool_python(tool)
    except common.AnchorUnavailable as exc:
        return None, None, str(exc)
    (workdir / "driver.py").write_text(DRIVER)
    files_json = workdir / f"files-{tool}.json"
    files_json.write_text(json.dumps(files))
    out = workdir / f"out-{tool}.json"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT) if tool == "mlaudit" else ""}
    measured = common.run_measured([py, str(workdir / "driver.py"), tool, str(files_json), str(out)], env=env,
                                   timeout=3600)
    if measured.returncode != 0 or not out.is_file():
        tail = (measured.stderr.strip().splitlines() or ["?"])[-1]
        return None, measured, f"{tool} driver failed: {tail[:300]}"
    return json.loads(out.read_text()), measured, ""


def tool_version(tool: str) -> str:
    if tool == "mlaudit":
        from auditor import __version__

        return __version__
    return common.PINS[tool]


def detection(rows: list[dict[str, str]], corpus: Path, results: dict[str, Any]) -> dict[str, Any]:
    mal = [r for r in rows if r["label"] == "malicious"]
    ben = [r for r in rows if r["label"] == "benign"]
    tp = [r for r in mal if results[str(corpus / r["file"])]["flagged"]]
    fp = [r for r in ben if results[str(corpus / r["file"])]["flagged"]]
    misses: dict[str, list[str]] = defaultdict(list)
    for r in mal:
        if not results[str(corpus / r["file"])]["flagged"]:
            misses[r["technique"]].append(r["file"])
    errors = sum(1 for v in results.values() if v["error"])
    times = [v["seconds"] for v in results.values()]
    return {"tp": len(tp), "fn": len(mal) - len(tp), "fp": len(fp), "tn": len(ben) - len(fp),
            "malicious": len(mal), "benign": len(ben), "recall": round(len(tp) / max(len(mal), 1), 4),
            "fp_files": [r["file"] for r in fp], "misses": dict(misses), "errors": errors,
            "median_file_s": statistics.median(times) if times else None, "total_s": sum(times)}


def ensure_large(large: Path) -> list[Path]:
    files = sorted(large.glob("large_*"))
    if files:
        return files
    large.mkdir(parents=True, exist_ok=True)
    maker = ROOT.parent / "shared" / "eval" / "models" / "make_corpus.py"
    subprocess.run([sys.executable, str(maker), "--large", str(large)], check=True, cwd=str(large))
    return sorted(large.glob("large_*"))


def throughput(files: list[Path], tools: list[str], workdir: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in files:
        size_mb = f.stat().st_size / (1 << 20)
        cat = min((common.run_measured(["sh", "-c", 'cat "$1" > /dev/null', "sh", str(f)]) for _ in range(2)),
                  key=lambda m: m.seconds)
        out.append({"file": f.name, "tool": "cat", "seconds": cat.seconds, "rss_mb": cat.rss_mb,
                    "mb_s": size_mb / cat.seconds, "flagged": None, "error": None})
        for tool in tools:
            res, measured, note = run_driver(tool, [str(f)], workdir)
            if measured is None:
                out.append({"file": f.name, "tool": tool, "error": note})
                continue
            entry = (res or {}).get(str(f), {})
            out.append({"file": f.name, "tool": tool, "seconds": measured.seconds, "rss_mb": measured.rss_mb,
                        "mb_s": size_mb / measured.seconds, "vs_cat": cat.seconds / measured.seconds,
                        "flagged": entry.get("flagged"), "error": entry.get("error") or (note or None)})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "eval" / "models" / "corpus")
    ap.add_argument("--large", type=Path, default=common.bench_cache() / "models-large")
    ap.add_argument("--no-large", action="store_true")
    ap.add_argument("--no-anchor", action="store_true")
    ap.add_argument("--quick", action="store_true", help="same as --no-large")
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args(argv)

    tools = ["mlaudit"] + ([] if args.no_anchor else list(TOOLS))
    rows = read_labels(args.corpus)
    files = [str(args.corpus / r["file"]) for r in rows]
    result: dict[str, Any] = {"name": "models", "quick": bool(args.quick or args.no_large), "anchors": {},
                              "rows": [], "notes": []}
    with tempfile.TemporaryDirectory(prefix="mlaudit-bench-models-") as tmp:
        work = Path(tmp)
        det: dict[str, dict[str, Any]] = {}
        for tool in tools:
            res, measured, note = run_driver(tool, files, work)
            if res is None:
                result["notes"].append(f"{tool}: {note}")
                continue
            if tool != "mlaudit":
                result["anchors"][tool] = tool_version(tool)
            det[tool] = detection(rows, args.corpus, res)
            det[tool]["process_s"] = measured.seconds if measured else None
            det[tool]["rss_mb"] = measured.rss_mb if measured else None
        print(f"Dev corpus: {args.corpus} ({len(rows)} files)")
        print(f"{'tool':<12}{'recall':>8}{'TP':>5}{'FN':>5}{'FP':>5}{'errors':>8}{'scan s':>9}{'ratio':>8}")
        ours = det.get("mlaudit")
        for tool, d in det.items():
            r = common.ratio(ours["total_s"], d["total_s"]) if ours and tool != "mlaudit" else None
            print(f"{tool:<12}{d['recall']:>8.3f}{d['tp']:>5}{d['fn']:>5}{d['fp']:>5}{d['errors']:>8}"
                  f"{d['total_s']:>9.3f}{'' if r is None else f'{r:>8.2f}'}")
            result["rows"].append(common.row("dev-corpus", tool, d["total_s"], "s",
                                             detection=f"recall {d['tp']}/{d['malicious']}, FP {d['fp']}/{d['benign']}",
                                             baseline="mlaudit" if tool != "mlaudit" else None, ratio=r,
                                             rss_mb=d["rss_mb"], note="; ".join(d["fp_files"])))
        print("\nMisses per technique:")
        techniques = sorted({r["technique"] for r in rows if r["label"] == "malicious"})
        print(f"{'technique':<36}" + "".join(f"{t:>12}" for t in det))
        for tech in techniques:
            total = sum(1 for r in rows if r["technique"] == tech and r["label"] == "malicious")
            print(f"{tech:<36}" + "".join(f"{total - len(d['misses'].get(tech, [])):>9}/{total:<2}"
                                          for d in det.values()))
        for tool, d in det.items():
            if d["fp_files"]:
                print(f"false positives ({tool}): {', '.join(d['fp_files'])}")
        result["detection"] = det
        if not (args.no_large or args.quick):
            large = ensure_large(args.large)
            tp = throughput(large, tools, work)
            result["throughput"] = tp
            print("\nLarge benign files (one process per file, interpreter start included):")
            print(f"{'file':<24}{'tool':<12}{'seconds':>9}{'MB/s':>10}{'vs cat':>8}{'RSS MB':>8}  flagged/error")
            for t in tp:
                if "seconds" not in t:
                    print(f"{t['file']:<24}{t['tool']:<12}  {t['error']}")
                    continue
                print(f"{t['file']:<24}{t['tool']:<12}{t['seconds']:>9.2f}{t['mb_s']:>10.0f}"
                      f"{t.get('vs_cat', 1.0):>8.2f}{t['rss_mb']:>8.0f}  {t.get('flagged')} {t.get('error') or ''}")
                result["rows"].append(common.row(t["file"], t["tool"], t["seconds"], "s", rss_mb=t["rss_mb"],
                                                 baseline="cat" if t["tool"] != "cat" else None,
                                                 ratio=common.ratio(t["seconds"], next(
                                                     x["seconds"] for x in tp if x["file"] == t["file"]
                                                     and x["tool"] == "cat")) if t["tool"] != "cat" else None,
                                                 note=t.get("error") or ""))
    common.write_json(args.json_out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

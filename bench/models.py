"""Model-file scanner benchmark: detection on the labelled dev corpus, on public corpora nobody here made and on
ordinary files written by current ML libraries, on the issue-27 techniques corpus (``tests/scan/techniques_corpus.py``:
malicious files built byte by byte, benign twins written byte by byte and by the libraries of the last
``--generator-python``; one table per class), and throughput/memory on large files; mlaudit beside picklescan,
modelscan, fickling and modelaudit (each pinned, in its own venv, run in this same run, telemetry off) and
``cat file > /dev/null``.

    python bench/models.py [--corpus DIR] [--public DIR | --mirrors DIR] [--generator-python PY]
                           [--large DIR | --no-large] [--no-anchor] [--json OUT]

Public corpora: ``--public DIR`` is a folder built by ``bench/_public_models.py`` (other scanners' test data and
public collections of malicious model files, pinned in ``bench/public_models.tsv``); ``--mirrors DIR`` builds it
into the bench cache from bare git copies of those repositories. Without either, that table is shown as not run.
Generated benign files: ``tests/scan/benign_corpus.py`` is run with this Python and with ``--generator-python``
(a venv holding torch / TensorFlow / Keras / scikit-learn / gguf), so each row names the library versions.

Per source and tool: files, malicious flagged, malicious flagged at high/critical *naming what runs* (mlaudit: a
finding at high+ whose evidence names the callable, op, layer, template construct, path or member; picklescan: a
dangerous global; modelscan: a HIGH/CRITICAL issue naming an operator; fickling: LIKELY_OVERTLY_MALICIOUS or worse
with a named import in its results; modelaudit: a CRITICAL issue with details), benign files flagged at medium+ (false positives), errors (the tool raised on
the file or reported it could not scan it; for mlaudit, a crash), and the ``suspicious``/``inert`` rows flagged (see ``bench/_public_models.py`` for the labels).

Detection: a malicious row counts as detected when the tool reports something at medium or above (mlaudit:
``severity >= medium``; picklescan: a dangerous global; modelscan: an issue of severity MEDIUM+; fickling:
``LIKELY_OVERTLY_MALICIOUS`` or worse, zips through ``scan_zip_archive``; modelaudit: an issue of severity WARNING or
CRITICAL). A benign row with such a report is a
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _common as common  # noqa: E402

TOOLS = ("picklescan", "modelscan", "fickling", "modelaudit")

DRIVER = r'''
import json, os, sys, time, zipfile
tool, files_json, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
files = json.load(open(files_json))
results = {}
NAMING_KEYS = ("callable", "op", "layer", "function", "name", "construct", "location", "link", "why", "namespace")


def run_mlaudit(path):
    from pathlib import Path
    from auditor.domain import Severity
    from auditor.scan import scan_paths
    res = scan_paths([Path(path)])
    bad = [f for f in res.findings if f.severity.at_least(Severity.MEDIUM)]
    named = [f for f in res.findings if f.severity.at_least(Severity.HIGH) and isinstance(f.evidence, dict)
             and any(f.evidence.get(k) for k in NAMING_KEYS)]
    return bool(bad), bool(named), sorted({f.id for f in bad})


def run_picklescan(path):
    from picklescan.scanner import SafetyLevel, scan_file_path
    r = scan_file_path(path)
    if r.scan_err and not r.infected_files:
        raise RuntimeError("picklescan reported a scan error")
    dangerous = [g for g in r.globals if g.safety == SafetyLevel.Dangerous]
    return bool(r.infected_files), bool(dangerous), sorted({f"{g.module}.{g.name}" for g in dangerous})[:5]


def run_modelscan(path):
    from modelscan.modelscan import ModelScan
    r = ModelScan().scan(path)
    issues = r.get("issues", [])
    if r.get("errors") and not issues:
        raise RuntimeError("modelscan: " + str(r["errors"][0])[:160])
    sev = [str(i.get("severity", "")).upper() for i in issues]
    named = [i for i in issues if str(i.get("severity", "")).upper() in ("HIGH", "CRITICAL") and i.get("operator")]
    return any(s in ("MEDIUM", "HIGH", "CRITICAL") for s in sev), bool(named), sorted(set(sev))


def run_fickling(path):
    import fickling
    from fickling.analysis import Severity
    if zipfile.is_zipfile(path):
        res = list(fickling.scan_zip_archive(path, graceful=True).values())
    else:
        res = [fickling.scan_file(path, graceful=True)]
    bad = [r for r in res if r.severity >= Severity.LIKELY_OVERTLY_MALICIOUS]
    text = " ".join(str(x.to_dict().get("analysis", "")) for r in bad for x in getattr(r, "results", []))
    named = bool(bad) and ("import" in text or "Call to" in text)
    return bool(bad), named, sorted({r.severity.name for r in bad})


def run_modelaudit(path):
    from modelaudit.core import scan_model_directory_or_file
    r = scan_model_directory_or_file(path)
    d = r.model_dump() if hasattr(r, "model_dump") else dict(r)
    issues = [i if isinstance(i, dict) else i.model_dump() for i in (d.get("issues") or [])]
    sev = [str(i.get("severity", "")).lower() for i in issues]
    if d.get("has_errors") and not any(s in ("warning", "critical") for s in sev):
        raise RuntimeError("modelaudit reported a scan error")
    named = [i for i in issues if str(i.get("severity", "")).lower() == "critical" and i.get("details")]
    return any(s in ("warning", "critical") for s in sev), bool(named), sorted(set(sev))


fn = {"mlaudit": run_mlaudit, "picklescan": run_picklescan, "modelscan": run_modelscan, "fickling": run_fickling,
      "modelaudit": run_modelaudit}[tool]
def read_bytes():
    """Bytes this process has read through read() calls so far (/proc/self/io rchar; mmap reads not counted)."""
    try:
        with open("/proc/self/io") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("rchar:"))
    except (OSError, StopIteration, ValueError):
        return None


# import the tool's modules before the first measured file (a pickle of None, scanned and discarded), so that the
# bytes read for a file are the file's, not the tool's own modules
import tempfile
with tempfile.NamedTemporaryFile(suffix=".pkl") as warm:
    warm.write(b"\x80\x04N."); warm.flush()
    try:
        fn(warm.name)
    except BaseException:
        pass
for path in files:
    t0 = time.perf_counter()
    r0 = read_bytes()
    try:
        flagged, named, why = fn(path)
        err = None
    except BaseException as exc:  # a crash is recorded as a crash, never as a detection
        flagged, named, why, err = False, False, [], f"{type(exc).__name__}: {str(exc)[:200]}"
    r1 = read_bytes()
    results[path] = {"flagged": flagged, "named": named, "why": why, "error": err,
                     "seconds": time.perf_counter() - t0, "read_bytes": None if r0 is None or r1 is None else r1 - r0}
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
    env = {**common.process_env(), "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT) if tool == "mlaudit" else "",
           "PROMPTFOO_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1"}  # modelaudit sends telemetry otherwise
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


@dataclass
class Row:
    """One labelled file of any corpus."""

    path: str  # absolute, as given to the tools
    file: str  # as shown (relative to its corpus)
    source: str
    label: str  # malicious | benign | suspicious | inert
    technique: str = ""


def detection(rows: list[Row], results: dict[str, Any]) -> dict[str, Any]:
    """Counts for one tool over ``rows`` (one source)."""
    def of(label: str) -> list[Row]:
        return [r for r in rows if r.label == label]

    res = {r.path: results.get(r.path, {"flagged": False, "named": False, "error": "not scanned", "seconds": 0.0})
           for r in rows}
    mal, ben = of("malicious"), of("benign")
    flagged = [r for r in mal if res[r.path]["flagged"]]
    named = [r for r in mal if res[r.path]["named"]]
    fp = [r for r in ben if res[r.path]["flagged"]]
    misses: dict[str, list[str]] = defaultdict(list)
    for r in mal:
        if not res[r.path]["flagged"]:
            misses[r.technique or r.source].append(r.file)
    crashes = [r.file for r in rows if res[r.path]["error"]]
    times = [res[r.path]["seconds"] for r in rows]
    return {"files": len(rows), "malicious": len(mal), "tp": len(flagged), "fn": len(mal) - len(flagged),
            "named": len(named), "benign": len(ben), "fp": len(fp), "tn": len(ben) - len(fp),
            "recall": round(len(flagged) / max(len(mal), 1), 4), "fp_files": [r.file for r in fp],
            "unnamed_files": [r.file for r in mal if r not in named],
            "suspicious": len(of("suspicious")), "suspicious_flagged": sum(res[r.path]["flagged"]
                                                                            for r in of("suspicious")),
            "inert": len(of("inert")), "inert_flagged": sum(res[r.path]["flagged"] for r in of("inert")),
            "misses": dict(misses), "errors": len(crashes), "crash_files": crashes,
            "median_file_s": statistics.median(times) if times else None, "total_s": sum(times)}


def dev_rows(corpus: Path) -> list[Row]:
    return [Row(str(corpus / r["file"]), r["file"], "dev-corpus", r["label"], r.get("technique", ""))
            for r in read_labels(corpus)]


def public_rows(corpus: Path) -> list[Row]:
    from bench._public_models import read_built

    return [Row(str(corpus / r["file"]), r["file"], r["source"], r["label"]) for r in read_built(corpus)]


def generated_rows(out: Path, pythons: list[str]) -> tuple[list[Row], list[str]]:
    """Benign files written by the ML libraries each given Python has (``tests/scan/benign_corpus.py``)."""
    rows: list[Row] = []
    notes: list[str] = []
    script = ROOT / "tests" / "scan" / "benign_corpus.py"
    for i, py in enumerate(pythons):
        target = out / f"gen{i}"
        env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "torch"), "PYTHONWARNINGS": "ignore"}
        proc = subprocess.run([py, str(script), str(target)], capture_output=True, text=True, env=env, check=False,
                              timeout=1800)
        if proc.returncode != 0:
            notes.append(f"generator with {py}: failed ({(proc.stderr.strip().splitlines() or ['?'])[-1][:200]})")
            continue
        for line in proc.stdout.splitlines():
            path, _, producer = line.partition("\t")
            if not path or not Path(path).is_file():
                continue
            rows.append(Row(path, str(Path(path).relative_to(target)), f"generated: {producer}", "benign"))
    return rows, notes


def technique_rows(out: Path, pythons: list[str]) -> tuple[list[Row], list[str]]:
    """The issue-27 corpus (``tests/scan/techniques_corpus.py``): malicious files built byte by byte, benign twins
    written byte by byte and, with the last generator Python that has the libraries, by the libraries."""
    script = ROOT / "tests" / "scan" / "techniques_corpus.py"
    py = pythons[-1]
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "torch"), "PYTHONWARNINGS": "ignore",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    argv = [py, str(script), str(out)] + (["--bytes-only"] if len(pythons) == 1 else [])
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=1800)
    if proc.returncode != 0:
        return [], [f"techniques corpus with {py}: failed ({(proc.stderr.strip().splitlines() or ['?'])[-1][:200]})"]
    rows = []
    for line in proc.stdout.splitlines():
        path, label, cls, producer = (line.split("\t") + ["", "", ""])[:4]
        if path and Path(path).is_file():
            rows.append(Row(path, str(Path(path).relative_to(out)), f"techniques: {cls}", label, producer))
    return rows, []


def print_table(title: str, per_tool: dict[str, dict[str, Any]]) -> None:
    print(f"\n{title}")
    print(f"{'tool':<12}{'files':>6}{'malicious flagged':>19}{'high+ named':>13}{'benign FP':>11}"
          f"{'suspicious':>12}{'inert':>8}{'errors':>8}")
    for tool, d in per_tool.items():
        print(f"{tool:<12}{d['files']:>6}{d['tp']:>13}/{d['malicious']:<5}{d['named']:>7}/{d['malicious']:<5}"
              f"{d['fp']:>7}/{d['benign']:<3}{d['suspicious_flagged']:>8}/{d['suspicious']:<3}"
              f"{d['inert_flagged']:>5}/{d['inert']:<2}{d['errors']:>8}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=common.SHARED / "eval" / "models" / "corpus")
    ap.add_argument("--public", type=Path, help="public corpora folder built by bench/_public_models.py")
    ap.add_argument("--mirrors", type=Path, help="bare git copies of the public repositories (builds --public)")
    ap.add_argument("--generator-python", action="append",
                    default=[p for p in os.environ.get("MLAUDIT_BENCH_GENERATOR_PYTHON", "").split(os.pathsep) if p],
                    help="a Python with ML libraries to write the benign regression corpus (repeatable; default: "
                         "MLAUDIT_BENCH_GENERATOR_PYTHON, paths separated like PATH, so bench/run.py can pass them)")
    ap.add_argument("--large", type=Path, default=common.bench_cache() / "models-large")
    ap.add_argument("--no-large", action="store_true")
    ap.add_argument("--no-anchor", action="store_true")
    ap.add_argument("--quick", action="store_true", help="same as --no-large")
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args(argv)
    common.precompile()  # every tool starts from byte code (the anchors have theirs from pip install)

    tools = ["mlaudit"] + ([] if args.no_anchor else list(TOOLS))
    result: dict[str, Any] = {"name": "models", "quick": bool(args.quick or args.no_large), "anchors": {},
                              "rows": [], "notes": []}
    with tempfile.TemporaryDirectory(prefix="mlaudit-bench-models-") as tmp:
        work = Path(tmp)
        corpora: dict[str, list[Row]] = {"dev-corpus": dev_rows(args.corpus)}
        public = args.public
        cached = common.bench_cache() / "public-models"
        if public is None and args.mirrors is None and (cached / "labels.tsv").is_file():
            public = cached  # input files built earlier from the pinned manifest (files, not figures)
        if public is None and args.mirrors is not None:
            from bench._public_models import build

            public = common.bench_cache() / "public-models"
            build(args.mirrors, public)
        if public is not None and (public / "labels.tsv").is_file():
            corpora["public"] = public_rows(public)
            print(f"public corpora: {public} ({len(corpora['public'])} files, manifest bench/public_models.tsv)")
        else:
            result["notes"].append("public corpora: not run (no --public folder or --mirrors given)")
        generated, notes = generated_rows(work / "generated", [sys.executable, *args.generator_python])
        result["notes"].extend(notes)
        corpora["generated"] = generated
        techniques, notes = technique_rows(work / "techniques", [sys.executable, *args.generator_python])
        result["notes"].extend(notes)
        corpora["techniques"] = techniques
        every = [r for rows in corpora.values() for r in rows]
        files = [r.path for r in every]
        raw: dict[str, dict[str, Any]] = {}
        for tool in tools:
            res, measured, note = run_driver(tool, files, work)
            if res is None:
                result["notes"].append(f"{tool}: not run ({note})")
                continue
            if tool != "mlaudit":
                result["anchors"][tool] = tool_version(tool)
            raw[tool] = res
        det: dict[str, dict[str, Any]] = {}
        for name, rows in corpora.items():
            groups: dict[str, list[Row]] = defaultdict(list)
            for r in rows:
                groups[name if name != "public" else r.source].append(r)
            if name == "public" and rows:
                groups["public (all sources)"] = rows
            if name == "techniques" and rows:
                groups = defaultdict(list)
                for r in rows:
                    groups[r.source].append(r)
                groups["techniques (all classes)"] = rows
            if name == "generated" and rows:
                groups = {"generated benign files": rows}
            for group, grows in groups.items():
                per_tool = {tool: detection(grows, res) for tool, res in raw.items()}
                det[group] = per_tool
                print_table(f"{group} ({len(grows)} files)", per_tool)
                ours = per_tool.get("mlaudit")
                for tool, d in per_tool.items():
                    # a time ratio only when the anchor scanned every file mlaudit scanned without crashing
                    same = ours is not None and tool != "mlaudit" and d["errors"] == 0 and ours["errors"] == 0
                    r = common.ratio(ours["total_s"], d["total_s"]) if same and ours else None
                    result["rows"].append(common.row(
                        group, tool, d["total_s"], "s", baseline="mlaudit" if r is not None else None, ratio=r,
                        same_work=f"both scanned the same {len(grows)} files without an error" if r is not None
                        else None,
                        detection=f"malicious {d['tp']}/{d['malicious']} (high+ named {d['named']}), "
                                  f"FP {d['fp']}/{d['benign']}, crashes {d['errors']}",
                        note="; ".join(d["fp_files"][:5]) or (f"{d['errors']} files crashed: no time ratio"
                                                              if d["errors"] and tool != "mlaudit" else "")))
        for group, per_tool in det.items():
            for tool, d in per_tool.items():
                if d["fp_files"]:
                    print(f"false positives ({group}, {tool}): {', '.join(d['fp_files'][:10])}")
                if tool == "mlaudit" and d["unnamed_files"]:
                    print(f"malicious not at high+ naming the callable ({group}, mlaudit): "
                          f"{', '.join(d['unnamed_files'][:10])}")
                if tool == "mlaudit" and d["crash_files"]:
                    print(f"crashes ({group}, mlaudit): {', '.join(d['crash_files'][:10])}")
        for note in result["notes"]:
            print(f"note: {note}")
        result["detection"] = det
        if not (args.no_large or args.quick):
            large = ensure_large(args.large, args.corpus.parent / "make_corpus.py")
            tp = throughput(large, tools, work)
            result["throughput"] = tp
            print("\nLarge benign files (one process per file, interpreter start included):")
            print(f"{'file':<24}{'tool':<12}{'seconds':>9}{'MB/s':>10}{'÷ cat':>8}{'RSS MB':>8}  flagged/error/read")
            for t in tp:
                if "seconds" not in t:
                    print(f"{t['file']:<24}{t['tool']:<12}  {t['error']}")
                    continue
                shown = f"{t['seconds'] / cat_s:>8.2f}" if (cat_s := next(
                    x["seconds"] for x in tp if x["file"] == t["file"] and x["tool"] == "cat")) and (
                    t["tool"] == "cat" or read_whole_file(t)) else f"{'-':>8}"
                print(f"{t['file']:<24}{t['tool']:<12}{t['seconds']:>9.2f}{t['mb_s']:>10.0f}"
                      f"{shown}{t['rss_mb']:>8.0f}  {t.get('flagged')} {t.get('error') or ''} "
                      f"{read_note(t) or ''}")
                cat = next(x for x in tp if x["file"] == t["file"] and x["tool"] == "cat")
                result["rows"].append(common.row(t["file"], t["tool"], t["seconds"], "s", rss_mb=t["rss_mb"],
                                                 cpu=t.get("cpu"), baseline="cat" if t["tool"] != "cat" else None,
                                                 ratio=common.ratio(t["seconds"], cat["seconds"])
                                                 if t["tool"] != "cat" else None,
                                                 same_work=read_whole_file(t),
                                                 detection=read_note(t),
                                                 note=t.get("error") or ""))
    common.write_json(args.json_out, result)
    return 0


def read_note(t: dict[str, Any]) -> str | None:
    """What the tool's process read of the file in this run (``/proc/self/io`` rchar around the scan)."""
    got = t.get("read_bytes")
    if not isinstance(got, int):
        return None
    return f"read {got / (1 << 20):.1f} MiB of {t['size'] / (1 << 20):.1f} MiB"


def read_whole_file(t: dict[str, Any]) -> str | None:
    """Same-work evidence for a ratio to ``cat`` (the I/O floor): the tool read at least the whole file through
    read() calls, measured in this run, and finished it without an error. A tool that reads a part (a header) or
    maps the file does other work than ``cat``: no ratio then, the row shows what it read."""
    got = t.get("read_bytes")
    if t["tool"] == "cat" or t.get("error") or not isinstance(got, int) or got < t["size"]:
        return None
    return (f"read the whole file ({got / (1 << 20):.0f} MiB of {t['size'] / (1 << 20):.0f} MiB through read(), "
            "measured in this run), as cat does, without an error")


def ensure_large(large: Path, maker: Path) -> list[Path]:
    files = sorted(large.glob("large_*"))
    if files:
        return files
    large.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(maker.resolve()), "--large", str(large)], check=True, cwd=str(large))
    return sorted(large.glob("large_*"))


def throughput(files: list[Path], tools: list[str], workdir: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in files:
        size_mb = f.stat().st_size / (1 << 20)
        cat = min((common.run_measured(["sh", "-c", 'cat "$1" > /dev/null', "sh", str(f)]) for _ in range(2)),
                  key=lambda m: m.seconds)
        out.append({"file": f.name, "tool": "cat", "seconds": cat.seconds, "rss_mb": cat.rss_mb,
                    "cpu": cat.cpu_seconds, "mb_s": size_mb / cat.seconds, "flagged": None, "error": None,
                    "size": f.stat().st_size, "read_bytes": None})
        for tool in tools:
            res, measured, note = run_driver(tool, [str(f)], workdir)
            if measured is None:
                out.append({"file": f.name, "tool": tool, "error": note})
                continue
            entry = (res or {}).get(str(f), {})
            out.append({"file": f.name, "tool": tool, "seconds": measured.seconds, "rss_mb": measured.rss_mb,
                        "cpu": measured.cpu_seconds, "mb_s": size_mb / measured.seconds,
                        "size": f.stat().st_size,
                        "read_bytes": entry.get("read_bytes"), "flagged": entry.get("flagged"),
                        "error": entry.get("error") or (note or None)})
    return out


if __name__ == "__main__":
    raise SystemExit(main())

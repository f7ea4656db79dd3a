"""Typosquat detector benchmark on the labelled dev sets, beside GuardDog's typosquatting heuristic.

    python bench/typosquat.py [--shared ../shared] [--workdir DIR] [--no-anchor] [--quick] [--json OUT]

Prints recall per technique (dev_positives.tsv), false-positive rate per negative category and source
(dev_negatives.tsv), Hugging Face squat/genuine results, and microseconds per name, for mlaudit and for the
anchor (GuardDog, run from its own venv in the work dir and fed the same popular list). If GuardDog cannot be
installed or run, the anchor columns say so; nothing is substituted for it.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.typosquat.detector import Detector  # noqa: E402
from auditor.typosquat.popular import load_hf_orgs, load_pypi  # noqa: E402
from bench import _common as common  # noqa: E402

ANCHOR_SCRIPT = r'''
import json, sys, time
from guarddog.analyzer.metadata.pypi.typosquatting import PypiTyposquatDetector
popular = set(json.load(open(sys.argv[1])))


class SameList(PypiTyposquatDetector):
    def _get_top_packages(self):  # same popular list as mlaudit, and no network refresh
        return popular


det = SameList()
names = json.load(open(sys.argv[2]))
out = []
t0 = time.perf_counter()
for n in names:
    hits = det.get_typosquatted_package(n)
    out.append(sorted(hits))
elapsed = time.perf_counter() - t0
json.dump({"results": out, "seconds": elapsed}, sys.stdout)
'''


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def run_anchor(workdir: Path, popular: list[str], names: list[str]) -> tuple[list[list[str]] | None, float, str]:
    """Run GuardDog in its own venv; returns (hits per name, seconds, note)."""
    digest = hashlib.sha256(json.dumps([popular, names, common.PINS["guarddog"]]).encode()).hexdigest()[:16]
    cached = workdir / f"anchor-{digest}.json"
    if cached.is_file():  # the anchor is slow (~0.1 s/name); its answers do not change between our tuning runs
        data = json.loads(cached.read_text())
        return data["results"], float(data["seconds"]), data["note"] + " (cached run)"
    try:
        py = common.anchor_venv("guarddog") / "python"
        (workdir / "popular.json").write_text(json.dumps(popular))
        (workdir / "names.json").write_text(json.dumps(names))
        (workdir / "anchor.py").write_text(ANCHOR_SCRIPT)
        proc = subprocess.run([str(py), str(workdir / "anchor.py"), str(workdir / "popular.json"),
                               str(workdir / "names.json")], capture_output=True, text=True, timeout=3600,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})
        if proc.returncode != 0:
            return None, 0.0, f"GuardDog failed: {proc.stderr.strip().splitlines()[-1:]}"
        data = json.loads(proc.stdout)
        version = subprocess.run([str(py), "-m", "pip", "show", "guarddog"], capture_output=True, text=True).stdout
        ver = next((line.split(":", 1)[1].strip() for line in version.splitlines() if line.startswith("Version")), "?")
        note = f"GuardDog {ver} PypiTyposquatDetector, fed the same top list"
        cached.write_text(json.dumps({"results": data["results"], "seconds": data["seconds"], "note": note}))
        return data["results"], float(data["seconds"]), note
    except (OSError, subprocess.SubprocessError, ValueError, common.AnchorUnavailable) as exc:
        return None, 0.0, f"GuardDog unavailable: {type(exc).__name__}: {str(exc)[:200]}"


LOOKALIKE = {"o": "0", "l": "1", "i": "1", "e": "3", "a": "4", "s": "5", "t": "7", "b": "8", "g": "9", "m": "rn",
             "w": "vv"}


def synthetic_cases(top: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Separator and look-alike squats built mechanically from popular names (the technique definitions in the
    eval README), skipping any variant that is itself a listed name."""
    listed = set(top)
    out: dict[str, list[tuple[str, str]]] = {"separator (joined)": [], "separator (split)": [],
                                              "homoglyph/digit": []}
    for name in top:
        if sum(c.isalpha() for c in name) < 6:
            continue
        if "-" in name:
            out["separator (joined)"].append((name.replace("-", ""), name))
        else:
            mid = len(name) // 2
            out["separator (split)"].append((name[:mid] + "-" + name[mid:], name))
        for p, ch in enumerate(name):
            if ch in LOOKALIKE and p > 0:
                variant = name[:p] + LOOKALIKE[ch] + name[p + 1:]
                if variant not in listed:
                    out["homoglyph/digit"].append((variant, name))
                break
    for key in out:
        out[key] = [(n, t) for n, t in out[key] if n not in listed]
    return out


def ratio(a: float, b: float | None) -> str:
    if b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "mlaudit-bench-typosquat"),
                    help="where GuardDog's cached answers live (outside the checkout)")
    ap.add_argument("--no-anchor", action="store_true")
    ap.add_argument("--quick", action="store_true", help="accepted for bench/run.py (one pass is all it does)")
    ap.add_argument("--json", dest="json_out", metavar="OUT", help="also write the results as JSON (bench/run.py)")
    args = ap.parse_args(argv)
    json_rows: list[dict[str, object]] = []
    shared = Path(args.shared)
    ev = shared / "eval" / "typosquat"
    pos = read_tsv(ev / "dev_positives.tsv")
    neg = read_tsv(ev / "dev_negatives.tsv")
    hf = read_tsv(ev / "hf_dev_squats.tsv")
    popular = load_pypi()
    t0 = time.perf_counter()
    det = Detector(popular)
    build = time.perf_counter() - t0
    hf_det = Detector(load_hf_orgs())

    names = [r["name"] for r in pos] + [r["name"] for r in neg]
    t0 = time.perf_counter()
    results = [det.check(n) for n in names]
    per_name_us = (time.perf_counter() - t0) / len(names) * 1e6
    ours = dict(zip(names, results, strict=False))

    anchor_hits: dict[str, list[str]] | None = None
    anchor_us: float | None = None
    note = "anchor skipped (--no-anchor)"
    if not args.no_anchor:
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        hits, seconds, note = run_anchor(workdir, popular.keys, names)
        if hits is not None:
            anchor_hits = dict(zip(names, hits, strict=False))
            anchor_us = seconds / len(names) * 1e6

    print(f"popular list: {len(popular)} names; index build {build:.2f}s; anchor: {note}\n")
    print("## Recall per technique (dev_positives.tsv)")
    print(f"{'technique':22} {'n':>5} {'mlaudit':>8} {'+target':>8} {'anchor':>8} {'ratio':>7}")
    by_tech: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in pos:
        by_tech[r["technique"]].append(r)
    by_tech["ALL"] = list(pos)
    for tech, rows in sorted(by_tech.items(), key=lambda kv: (kv[0] == "ALL", kv[0])):
        hit = sum(ours[r["name"]].flagged for r in rows) / len(rows)
        hit_t = sum(ours[r["name"]].flagged and ours[r["name"]].target == r["target"] for r in rows) / len(rows)
        a = (sum(bool(anchor_hits[r["name"]]) for r in rows) / len(rows)) if anchor_hits else None
        print(f"{tech:22} {len(rows):5} {hit:8.3f} {hit_t:8.3f} {'-' if a is None else f'{a:.3f}':>8} "
              f"{ratio(hit, a):>7}")
        if tech == "ALL":
            json_rows.append(common.row(f"recall, {len(rows)} squats", "mlaudit", None,
                                        detection=f"recall {hit:.3f} (right target {hit_t:.3f})"))
            if a is not None:
                json_rows.append(common.row(f"recall, {len(rows)} squats", "GuardDog", None,
                                            detection=f"recall {a:.3f}"))

    print("\n## False-positive rate per negative category / source (dev_negatives.tsv)")
    print(f"{'category/source':40} {'n':>5} {'mlaudit':>8} {'anchor':>8} {'ratio':>7}")
    groups: dict[str, list[str]] = defaultdict(list)
    for r in neg:
        groups[r["category"]].append(r["name"])
        groups[f"{r['category']}/{r['source']}"].append(r["name"])
    all_neg = [r["name"] for r in neg]
    fpr_all = sum(ours[n].flagged for n in all_neg) / len(all_neg)
    json_rows.append(common.row(f"false positives, {len(all_neg)} genuine names", "mlaudit", None,
                                detection=f"FPR {fpr_all:.4f}"))
    if anchor_hits:
        fpr_a = sum(bool(anchor_hits[n]) for n in all_neg) / len(all_neg)
        json_rows.append(common.row(f"false positives, {len(all_neg)} genuine names", "GuardDog", None,
                                    detection=f"FPR {fpr_a:.4f}"))
    for g, ns in sorted(groups.items()):
        fpr = sum(ours[n].flagged for n in ns) / len(ns)
        a = (sum(bool(anchor_hits[n]) for n in ns) / len(ns)) if anchor_hits else None
        print(f"{g:40} {len(ns):5} {fpr:8.4f} {'-' if a is None else f'{a:.4f}':>8} {ratio(fpr, a):>7}")

    print("\n## Hugging Face orgs (hf_dev_squats.tsv)")
    for label in ("squat", "genuine"):
        rows = [r for r in hf if r["label"] == label]
        res = [hf_det.check(r["org"]) for r in rows]
        flagged = sum(x.flagged for x in res)
        right_target = sum(x.flagged and (x.target or "").lower() == r["target"].lower() for x, r in zip(res, rows, strict=False))
        print(f"{label:8} n={len(rows):3} flagged={flagged:3} ({flagged / len(rows):.2f})"
              + (f" with the labelled target={right_target}" if label == "squat" else ""))
        for x, r in zip(res, rows, strict=False):
            if (label == "squat") != x.flagged:
                print(f"    miss/fp: {r['org']} -> {x.target} {x.score} {x.reasons[:1]}")

    print("\n## Synthetic techniques the dev set lacks (constructed from the top-500 list, mlaudit only)")
    synth = synthetic_cases(popular.keys[:500])
    for tech, pairs in synth.items():
        checked = [(det.check(n), t) for n, t in pairs]
        hit = sum(1 for res, t in checked if res.flagged and res.target == t)
        print(f"{tech:22} n={len(pairs):4} recall={hit / max(1, len(pairs)):.3f}")

    print("\n## Speed")
    print(f"mlaudit: {per_name_us:.1f} us/name (after a {build:.2f}s index build); anchor: "
          f"{'-' if anchor_us is None else f'{anchor_us:.1f} us/name'}; mlaudit/anchor time ratio "
          f"{'-' if not anchor_us else f'{per_name_us / anchor_us:.4f}x'}")
    json_rows.append(common.row(f"speed, {len(names)} names", "mlaudit", per_name_us, unit="us/name",
                                baseline="GuardDog", ratio=common.ratio(per_name_us, anchor_us),
                                rss_mb=round(common.self_rss_mb(), 1), note=f"index build {build:.2f}s"))
    if anchor_us is not None:
        json_rows.append(common.row(f"speed, {len(names)} names", "GuardDog", anchor_us, unit="us/name", note=note))
    common.write_json(args.json_out, {"name": "typosquat", "quick": args.quick, "rows": json_rows,
                                      "anchors": {"guarddog": common.PINS["guarddog"]}, "notes": [note]})
    if os.environ.get("BENCH_SHOW_ERRORS"):
        print("\n## misses")
        for r in pos:
            x = ours[r["name"]]
            if not x.flagged:
                print("MISS", r["name"], r["target"], r["technique"], x.score, x.target, x.reasons[:1])
        for r in neg:
            x = ours[r["name"]]
            if x.flagged:
                print("FP", r["name"], r["source"], x.target, x.score, x.reasons[:1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

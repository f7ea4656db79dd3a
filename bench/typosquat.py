"""Typosquat detector benchmark: recall and false positives on splits the score was not fitted on, beside
GuardDog's typosquatting heuristic and a plain Damerau-Levenshtein <= 1 rule, all measured in this run.

    python bench/typosquat.py [--shared ../shared] [--no-anchor] [--quick] [--json OUT]

What it does, in one run:
- **time split**: fits the score on the dev positives published before 2024-06-01 (plus the constructed attacks of
  ``bench/_typosquat_fit.py``) and one half of the dev negatives; measures on the later positives and the other
  half of the negatives;
- **target split**: targets in two folds; each fold's positives are measured by a model fitted without any row of
  its targets, each half of the negatives by a model fitted on the other half (pooled over the two folds);
- the same measured rows go to GuardDog (pinned in ``bench/_common.py``, installed and run in its own venv now, fed
  the same popular list) and to a Damerau-Levenshtein <= 1 rule computed here;
- speed: mlaudit's microseconds per name in-process (shipped model) and the 15,000-name index build time.
``--quick`` measures every tool on one seeded sample of the measured rows (the sample sizes are printed); the full
run measures every row. Recall and rates carry Wilson 95% intervals. Nothing from an earlier run is reused.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.typosquat.detector import Detector  # noqa: E402
from auditor.typosquat.index import CandidateIndex  # noqa: E402
from auditor.typosquat.popular import load_hf_orgs, load_pypi  # noqa: E402
from auditor.typosquat.scoring import ScoreModel  # noqa: E402
from bench import _common as common  # noqa: E402
from bench import _typosquat_fit as fitting  # noqa: E402

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

QUICK_POS = 150
QUICK_NEG = 1500
QUICK_SEED = 20261201


@dataclass
class Verdicts:
    """One tool's answer per name: flagged, and the target when it names one."""

    tool: str
    flagged: dict[str, bool]
    target: dict[str, str | None]
    score: dict[str, float] | None = None  # mlaudit only: for recall at another tool's false-positive rate


def run_guarddog(popular: list[str], names: list[str]) -> tuple[Verdicts | None, float | None, str]:
    """GuardDog in its own venv, on ``names``; (verdicts, microseconds per name, note)."""
    try:
        py = common.anchor_venv("guarddog") / "python"
        with tempfile.TemporaryDirectory(prefix="mlaudit-bench-guarddog-") as tmp:
            work = Path(tmp)
            (work / "popular.json").write_text(json.dumps(popular))
            (work / "names.json").write_text(json.dumps(names))
            (work / "anchor.py").write_text(ANCHOR_SCRIPT)
            proc = subprocess.run([str(py), str(work / "anchor.py"), str(work / "popular.json"),
                                   str(work / "names.json")], capture_output=True, text=True, timeout=7200,
                                  env={**os.environ, "PYTHONWARNINGS": "ignore"}, check=False)
        if proc.returncode != 0:
            return None, None, f"GuardDog not run: it failed ({(proc.stderr.strip().splitlines() or ['?'])[-1][:200]})"
        data = json.loads(proc.stdout)
        version = subprocess.run([str(py), "-m", "pip", "show", "guarddog"], capture_output=True, text=True,
                                 check=False).stdout
        ver = next((ln.split(":", 1)[1].strip() for ln in version.splitlines() if ln.startswith("Version")), "?")
        hits: list[list[str]] = data["results"]
        verdicts = Verdicts("GuardDog", {n: bool(h) for n, h in zip(names, hits, strict=True)},
                            {n: (h[0] if h else None) for n, h in zip(names, hits, strict=True)})
        return verdicts, float(data["seconds"]) / max(1, len(names)) * 1e6, \
            f"GuardDog {ver} PypiTyposquatDetector, fed the same top list, run in this benchmark"
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, common.AnchorUnavailable) as exc:
        return None, None, f"GuardDog not run: {type(exc).__name__}: {str(exc)[:200]}"


def dl1_baseline(popular: list[str], names: list[str]) -> tuple[Verdicts, float]:
    """Flag a name within Damerau-Levenshtein (OSA) distance 1 of a listed name it is not itself."""
    import numpy as np
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    listed = set(popular)
    t0 = time.perf_counter()
    matrix = process.cdist(names, popular, scorer=OSA.distance, score_cutoff=1, dtype=np.int32, workers=1)
    flagged: dict[str, bool] = {}
    target: dict[str, str | None] = {}
    for name, row in zip(names, matrix, strict=True):
        hits = [int(i) for i in np.flatnonzero(row == 1)]
        hit = bool(hits) and name not in listed
        flagged[name] = hit
        target[name] = popular[min(hits)] if hit else None
    us = (time.perf_counter() - t0) / max(1, len(names)) * 1e6
    return Verdicts("DL<=1", flagged, target), us


@dataclass
class Measured:
    """The measured rows of one split and each tool's verdicts on them (mlaudit's from split-fitted models)."""

    label: str
    describe: str
    positives: list[dict[str, str]]
    negatives: list[dict[str, str]]
    ours: Verdicts


def sample(rows: list[dict[str, str]], n: int, rng: random.Random) -> list[dict[str, str]]:
    return rows if len(rows) <= n else rng.sample(rows, n)


def fit_and_measure(det: Detector, dev: fitting.DevData, quick: bool) -> list[Measured]:
    cfg = fitting.FitConfig()
    cache: dict[str, fitting.Example] = {}
    rng = random.Random(QUICK_SEED)
    split = fitting.splits(dev)
    out: list[Measured] = []

    def verdicts(model: ScoreModel, rows: list[dict[str, str]], flagged: dict[str, bool],
                 target: dict[str, str | None], score: dict[str, float]) -> None:
        scorer = Detector(det.popular, index=det.index, model=model)
        for r in rows:
            res = scorer.check(r["name"])
            flagged[r["name"]] = res.flagged
            target[r["name"]] = res.target
            score[r["name"]] = res.score

    time_split = split[0]
    pos = sample(time_split.measure_pos, QUICK_POS, rng) if quick else time_split.measure_pos
    neg = sample(time_split.measure_neg, QUICK_NEG, rng) if quick else time_split.measure_neg
    model, info = fitting.fit_on(det, time_split.fit_pos, time_split.fit_neg, cfg, None, cache)
    flagged: dict[str, bool] = {}
    target: dict[str, str | None] = {}
    score: dict[str, float] = {}
    verdicts(model, pos + neg, flagged, target, score)
    out.append(Measured("time split", f"fitted on {info['positives']} positives published before {fitting.CUTOFF} "
                        f"(+{info['constructed']} constructed) and {info['negatives']} negatives (half A); measured on "
                        f"{len(pos)} later positives and {len(neg)} negatives (half B)", pos, neg,
                        Verdicts("mlaudit", flagged, target, score)))

    flagged, target, score = {}, {}, {}
    all_pos: list[dict[str, str]] = []
    all_neg: list[dict[str, str]] = []
    for sp in split[1:]:
        pos = sample(sp.measure_pos, QUICK_POS // 2, rng) if quick else sp.measure_pos
        neg = sample(sp.measure_neg, QUICK_NEG // 2, rng) if quick else sp.measure_neg
        model, info = fitting.fit_on(det, sp.fit_pos, sp.fit_neg, cfg, sp.exclude_targets, cache)
        verdicts(model, pos + neg, flagged, target, score)
        all_pos += pos
        all_neg += neg
    out.append(Measured("target split", "two folds of targets; each fold's positives measured by a model fitted "
                        "without its targets (constructed rows aimed at them dropped), each negative half by a model "
                        f"fitted on the other half; pooled: {len(all_pos)} positives, {len(all_neg)} negatives",
                        all_pos, all_neg, Verdicts("mlaudit", flagged, target, score)))
    return out


def cell(k: int, n: int) -> str:
    if n == 0:
        return "-"
    lo, hi = fitting.wilson(k, n)
    return f"{k / n:.3f} [{lo:.2f},{hi:.2f}]"


def table(m: Measured, tools: list[Verdicts], rows_out: list[dict[str, object]]) -> None:
    print(f"\n## {m.label}: {m.describe}")
    header = f"{'rows':38} {'n':>5} " + " ".join(f"{t.tool:>19}" for t in tools)
    print(header)
    by_tech: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in m.positives:
        by_tech[r["technique"]].append(r)
    groups: list[tuple[str, list[dict[str, str]]]] = [("recall, all", m.positives)]
    groups += [(f"  recall, {t}", rows) for t, rows in sorted(by_tech.items())]
    neg_groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in m.negatives:
        neg_groups[fitting.neg_group(r)].append(r)
    groups += [(f"FPR, {g.replace('near_popular_genuine/', '')}", rows) for g, rows in sorted(neg_groups.items())]
    for label, rows in groups:
        cells = []
        for t in tools:
            k = sum(1 for r in rows if t.flagged.get(r["name"], False))
            cells.append(cell(k, len(rows)))
            if label in ("recall, all", "FPR, random_unranked", "FPR, unranked-plugin"):
                rows_out.append(common.row(f"{m.label}: {label} ({len(rows)} names)", t.tool, None,
                                           detection=f"{k}/{len(rows)} = {k / max(1, len(rows)):.3f}"))
        print(f"{label:38} {len(rows):5} " + " ".join(f"{c:>19}" for c in cells))
    ours = tools[0]
    right = sum(1 for r in m.positives if ours.flagged.get(r["name"]) and ours.target.get(r["name"]) == r["target"])
    print(f"{'mlaudit flagged with the labelled target':38} {len(m.positives):5} {cell(right, len(m.positives)):>19}")
    if ours.score is None:
        return
    # The same ranking at the other tools' false-positive rates (threshold read off these very negatives, so this
    # describes the trade-off; it is not an operating point).
    random_names = [r["name"] for r in m.negatives if fitting.neg_group(r) == "random_unranked"]
    neg_scores = sorted((ours.score[n] for n in random_names), reverse=True)
    for t in tools[1:]:
        allowed = sum(1 for n in random_names if t.flagged.get(n, False))
        if not neg_scores or allowed == 0:
            continue
        cut = neg_scores[min(allowed, len(neg_scores) - 1)]
        k = sum(1 for r in m.positives if ours.score[r["name"]] > cut)
        fp = sum(1 for s in neg_scores if s > cut)
        print(f"  mlaudit at {t.tool}'s random-unranked FPR ({allowed}/{len(random_names)}): recall "
              f"{cell(k, len(m.positives))} with {fp} false positives (threshold {cut:.3f}, read off these negatives)")


def hf_section(path: Path) -> None:
    hf_rows = fitting.read_tsv(path) if path.is_file() else []
    if not hf_rows:
        print("\n## Hugging Face orgs: hf_dev_squats.tsv not found, not measured")
        return
    det = Detector(load_hf_orgs())
    print("\n## Hugging Face orgs (hf_dev_squats.tsv; the org model uses the PyPI-fitted score, no HF fit)")
    for label in ("squat", "genuine"):
        rows = [r for r in hf_rows if r["label"] == label]
        res = [det.check(r["org"]) for r in rows]
        flagged = sum(x.flagged for x in res)
        right = sum(x.flagged and (x.target or "").lower() == r["target"].lower() for x, r in zip(res, rows, strict=True))
        extra = f", with the labelled target {right}" if label == "squat" else ""
        print(f"{label:8} n={len(rows):3} flagged {flagged}{extra}")
        for x, r in zip(res, rows, strict=True):
            if (label == "squat") != x.flagged:
                print(f"    miss/fp: {r['org']} -> {x.candidate} {x.score} {x.reasons[:1]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(common.SHARED))
    ap.add_argument("--no-anchor", action="store_true", help="do not run GuardDog (shown as not run)")
    ap.add_argument("--quick", action="store_true", help="every tool on one seeded sample of the measured rows")
    ap.add_argument("--json", dest="json_out", metavar="OUT", help="also write the results as JSON (bench/run.py)")
    args = ap.parse_args(argv)
    shared = Path(args.shared)
    dev = fitting.load_dev(shared)
    popular = load_pypi()
    json_rows: list[dict[str, object]] = []
    notes: list[str] = []

    t0, c0 = time.perf_counter(), time.process_time()
    index = CandidateIndex.build(popular)
    build, build_cpu = time.perf_counter() - t0, time.process_time() - c0
    det = Detector(popular, index=index)
    all_names = list(dict.fromkeys([r["name"] for r in dev.positives] + [r["name"] for r in dev.negatives]))
    t0, c0 = time.perf_counter(), time.process_time()
    for n in all_names:
        det.check(n)
    per_name = (time.perf_counter() - t0) / len(all_names) * 1e6
    per_name_cpu = (time.process_time() - c0) / len(all_names) * 1e6

    reading_det = Detector(popular, index=index, model=ScoreModel({}, 0.0))
    t0 = time.perf_counter()
    measured = fit_and_measure(reading_det, dev, args.quick)
    fit_seconds = time.perf_counter() - t0
    names = list(dict.fromkeys(r["name"] for m in measured for r in m.positives + m.negatives))
    dl1, dl1_us = dl1_baseline(popular.keys, names)
    if args.no_anchor:
        gd, gd_us, gd_note = None, None, "GuardDog not run: --no-anchor"
    else:
        gd, gd_us, gd_note = run_guarddog(popular.keys, names)
    notes.append(gd_note)
    mode = (f"--quick: every tool on the same seeded sample (seed {QUICK_SEED}; up to {QUICK_POS} positives and "
            f"{QUICK_NEG} negatives per split)" if args.quick else "full: every measured row")
    print(f"Typosquat benchmark ({mode}). popular list: {len(popular)} names. {gd_note}.")
    print("mlaudit columns: models fitted in this run on each split's fit part (bench/_typosquat_fit.py, "
          f"{fit_seconds:.0f} s); DL<=1: any listed name one edit away; all figures measured in this run.")
    for m in measured:
        tools = [m.ours, dl1] + ([gd] if gd else [])
        table(m, tools, json_rows)
    if not gd:
        print(f"\n(GuardDog column absent: {gd_note})")
    hf_section(shared / "eval" / "typosquat" / "hf_dev_squats.tsv")

    print("\n## Speed (in-process; machine shared with other work, so noisy)")
    print(f"mlaudit: {per_name:.1f} us/name wall ({per_name_cpu:.1f} CPU) over {len(all_names)} dev names (shipped "
          f"model); index build {build:.2f} s wall ({build_cpu:.2f} CPU) for {len(popular)} names")
    print(f"DL<=1 baseline: {dl1_us:.1f} us/name (rapidfuzz cdist, one thread; a distance matrix, no explanation)")
    print(f"GuardDog: {'not run' if gd_us is None else f'{gd_us:.1f} us/name'}")
    json_rows.append(common.row(f"speed, {len(all_names)} names", "mlaudit", per_name, unit="us/name",
                                rss_mb=round(common.self_rss_mb(), 1),
                                note=f"CPU {per_name_cpu:.1f} us/name; index build {build:.2f}s ({build_cpu:.2f}s CPU)"))
    if gd_us is not None:
        json_rows.append(common.row(f"speed, {len(names)} names", "GuardDog", gd_us, unit="us/name", note=gd_note))
    common.write_json(args.json_out, {"name": "typosquat", "quick": args.quick, "rows": json_rows,
                                      "anchors": {"guarddog": common.PINS["guarddog"]}, "notes": notes})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

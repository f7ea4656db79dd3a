"""Typosquat detector benchmark: recall and false positives on splits the score was not fitted on, beside
GuardDog's typosquatting heuristic and a plain Damerau-Levenshtein <= 1 rule, all measured in this run.

    python bench/typosquat.py [--shared ../shared] [--no-anchor] [--quick] [--json OUT]
        [--mirrors DIR] [--pypi-list TSV] [--index-json URL] [--requirements-dir DIR] [--audit-time-only]

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
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.typosquat.context import CONTEXT_FLOOR, NameContext, apply_context  # noqa: E402
from auditor.typosquat.detector import Detector  # noqa: E402
from auditor.typosquat.index import CandidateIndex  # noqa: E402
from auditor.typosquat.popular import PopularList, load_hf_orgs, load_pypi  # noqa: E402
from auditor.typosquat.result import TyposquatResult  # noqa: E402
from auditor.typosquat.scoring import ScoreModel  # noqa: E402
from bench import _common as common  # noqa: E402
from bench import _typosquat_context as ctxsets  # noqa: E402
from bench import _typosquat_fit as fitting  # noqa: E402
from bench import _typosquat_index as ixfetch  # noqa: E402
from bench import _typosquat_squatmeta as squatmeta  # noqa: E402

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
GROUPS = ("lockfile", "requirements", "young")  # the genuine-name sets of the audit-time evaluation, in table order


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
    if neg_scores:
        allowed = int(0.01 * len(neg_scores))
        cut = neg_scores[min(allowed, len(neg_scores) - 1)]
        k = sum(1 for r in m.positives if ours.score[r["name"]] > cut)
        fp = sum(1 for s in neg_scores if s > cut)
        print(f"  mlaudit at <= 1% random-unranked FPR ({allowed}/{len(random_names)}): recall "
              f"{cell(k, len(m.positives))} with {fp} false positives (threshold {cut:.3f}, read off these negatives)")
        rows_out.append(common.row(f"{m.label}: recall at <= 1% random-unranked FPR ({len(m.positives)} names)",
                                   "mlaudit", None, detection=f"{k}/{len(m.positives)}; FP {fp}/{len(neg_scores)}"))
        for tech, rows in sorted(by_tech.items()):
            mine = sum(1 for r in rows if ours.score[r["name"]] > cut)
            print(f"    {tech:24} mlaudit {cell(mine, len(rows)):>19}")
    for t in tools[1:]:
        allowed = sum(1 for n in random_names if t.flagged.get(n, False))
        if not neg_scores or allowed == 0:
            continue
        cut = neg_scores[min(allowed, len(neg_scores) - 1)]
        k = sum(1 for r in m.positives if ours.score[r["name"]] > cut)
        fp = sum(1 for s in neg_scores if s > cut)
        print(f"  mlaudit at {t.tool}'s random-unranked FPR ({allowed}/{len(random_names)}): recall "
              f"{cell(k, len(m.positives))} with {fp} false positives (threshold {cut:.3f}, read off these negatives)")
        for tech, rows in sorted(by_tech.items()):
            mine = sum(1 for r in rows if ours.score[r["name"]] > cut)
            theirs = sum(1 for r in rows if t.flagged.get(r["name"], False))
            print(f"    {tech:24} mlaudit {cell(mine, len(rows)):>19}  {t.tool} {cell(theirs, len(rows)):>19}")


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


def audit_time_section(args: argparse.Namespace, popular: PopularList, index: CandidateIndex,
                       rows_out: list[dict[str, object]], notes: list[str]) -> None:
    """The audit-time detector (shipped model, context as an audit has it) on sets it was never fitted on, beside
    GuardDog on the same names; every flagged genuine name listed. See bench/_typosquat_context.py."""
    shared = Path(args.shared)
    det = Detector(popular, index=index)
    dev = ctxsets.dev_names(shared)
    seen_targets = ctxsets.dev_targets(shared)
    positives, drops = ctxsets.heldout_positives(shared, popular, index.vocab, dev)
    malicious = {ctxsets.canon(str(r["affected"][0]["package"]["name"]))  # type: ignore[index]
                 for r in ctxsets.read_malicious(shared)}
    negatives: list[ctxsets.Negative] = []
    if args.mirrors:
        lock_negs, lock_notes = ctxsets.lockfile_negatives(Path(args.mirrors), popular)
        negatives += lock_negs
        notes.extend(lock_notes)
    else:
        notes.append("lockfile genuine names: not measured (no --mirrors)")
    req_negs, req_notes = ctxsets.requirements_negatives(Path(args.mirrors) if args.mirrors else None,
                                                         Path(args.requirements_dir) if args.requirements_dir else None,
                                                         {n.name for n in negatives})
    negatives += req_negs
    notes.extend(req_notes)
    young_counts: dict[str, int] = {}
    if args.pypi_list and Path(args.pypi_list).is_file():
        young, young_counts = ctxsets.young_negatives(Path(args.pypi_list), popular, malicious, dev)
        negatives += young
    else:
        notes.append("young genuine names: not measured (no --pypi-list)")
    if not positives or not negatives:
        print("\n## Audit-time evaluation: not measured (" + "; ".join(notes) + ")")
        return
    print(f"\n## Audit-time evaluation (shipped model {det.model.meta.get('fitted', '?')}, fitted on dev rows only)")
    by_tech = Counter(p.technique for p in positives)
    print(f"positives: {len(positives)} malicious look-alikes published from {ctxsets.CUTOFF}, none a dev row "
          f"({dict(sorted(by_tech.items()))}); dropped: {drops}")
    groups = Counter(n.group for n in negatives)
    lock_popular = sum(1 for n in negatives if n.group == "lockfile" and n.name in popular.rank_of)
    req_popular = sum(1 for n in negatives if n.group == "requirements" and n.name in popular.rank_of)
    print(f"genuine: {groups.get('lockfile', 0)} distinct names from {len(ctxsets.read_manifest())} uv.lock files "
          f"({lock_popular} of them popular), {groups.get('requirements', 0)} more from "
          f"{len(ctxsets.read_manifest(ctxsets.REQUIREMENTS_MANIFEST))} requirement file(s) ({req_popular} of them "
          f"popular; {'; '.join(req_notes)}), {groups.get('young', 0)} young names near popular ones "
          f"(newest release within {ctxsets.YOUNG_DAYS} days of the list; {young_counts})")
    base: dict[str, TyposquatResult] = {}
    det.prefetch([p.name for p in positives] + [n.name for n in negatives])
    for name in [p.name for p in positives] + [n.name for n in negatives]:
        base[name] = det.check(name)
    docs: dict[str, dict[str, object] | None] = {}
    if args.index_json:
        wanted = {n.name for n in negatives} | {p.target for p in positives}
        wanted |= {ctxsets.canon(r.candidate) for r in base.values() if r.candidate}
        answers = ixfetch.fetch_all(args.index_json, wanted)
        docs = {k: a.doc for k, a in answers.items()}
        dates = sorted(a.fetched for a in answers.values() if a.fetched)
        gone = sorted(n.name for n in negatives if answers[n.name].gone)
        failed = sorted(n.name for n in negatives if answers[n.name].error)
        print(f"index metadata: {len(answers)} names looked up in the index JSON API (answers fetched "
              f"{dates[0] if dates else '-'} .. {dates[-1] if dates else '-'}; cached in the bench cache)")
        for group in GROUPS:
            g = [n.name for n in negatives if n.group == group]
            print(f"  {group}: {len(g)} names, {sum(x in gone for x in g)} gone from the index (404: excluded; no "
                  f"record to judge), {sum(x in failed for x in g)} not fetched (excluded)")
        print("  gone: " + ", ".join(gone))
        if failed:
            print("  not fetched: " + ", ".join(failed))
        negatives = [n for n in negatives if docs.get(n.name) is not None]
        days = ctxsets.set_requirements_day(negatives, docs)
        if days:
            print("  requirement files read from a copy, audited on the day of their newest pinned upload: "
                  + ", ".join(f"{k} {v}" for k, v in days.items()))
        for n in negatives:
            n.context = ctxsets.negative_context(n, base[n.name].candidate, docs)
    else:
        notes.append("no --index-json: genuine names keep the list/lock-derived records (old assumptions)")
    lock_only = [n for n in negatives if n.group == "lockfile"]
    print("JSON look-ups an audit would make per floor (lockfile names not popular, not required by a popular "
          "package, name score >= floor), over the "
          f"{len(ctxsets.read_manifest())} lockfiles: " + ", ".join(
              f"{f}: {sum(1 for n in lock_only if base[n.name].candidate and base[n.name].score >= f and not n.context.required_by)}"
              for f in (0.005, 0.01, 0.02, 0.05, 0.1, 0.2)))
    name_only = ctxsets.Scored("mlaudit name-only", {}, {})
    for p in positives:
        name_only.pos[p.name] = base[p.name].score
    for n in negatives:
        name_only.neg[n.name] = base[n.name].score
    # one seeded audit day per squat, the same under every assumption (only the assumed facts differ)
    pos_ctx = {(age, meta): {p.name: ctxsets.positive_context(p, random.Random(f"{ctxsets.SEED}:{p.name}"), age, meta,
                                                             base[p.name].candidate, docs)
                             for p in positives}
               for age in ("live", "unknown") for meta in ("copied", "absent")}
    # the squats' own published metadata where the corpus holds their file; the stated assumption for the rest
    squat_files, squat_note = (squatmeta.load(Path(args.mirrors), common.bench_cache() / "squatmeta")
                               if args.mirrors else ([], "squat metadata corpus not measured: no --mirrors"))
    own_files: dict[str, list[squatmeta.SquatFile]] = defaultdict(list)
    for f in squat_files:
        own_files[ctxsets.canon(f.name)].append(f)
    own = {p.name: ctxsets.own_metadata(p, own_files.get(p.name, [])) for p in positives}
    print(f"squats' own metadata: {squat_note}; {sum(v is not None for v in own.values())} of the {len(positives)} "
          "positives have a published file with metadata (\"real, else ...\" rows use it, and the stated "
          "assumption for the others)")
    if squat_files:
        for fallback in ("copied", "absent"):
            pos_ctx[("live", f"real, else {fallback}")] = {
                p.name: ctxsets.positive_context(p, random.Random(f"{ctxsets.SEED}:{p.name}"), "live",
                                                 "real" if own[p.name] else fallback, base[p.name].candidate, docs,
                                                 own[p.name])
                for p in positives}
    print_fact_shares(positives, negatives, pos_ctx)
    configs: list[ctxsets.Scored] = [name_only]
    ctx_results: dict[str, TyposquatResult] = {}
    for floor in (0.005, 0.01, 0.02, 0.05, 0.1, 0.2):
        for age in ("live",) if floor != CONTEXT_FLOOR else ("live", "unknown"):
            metas = ["copied", "absent"]
            if floor == CONTEXT_FLOOR and age == "live":
                metas += [m for a, m in pos_ctx if a == "live" and m.startswith("real")]
            for meta in metas:
                sc = ctxsets.Scored(f"mlaudit + context, floor {floor}, squat age {age}, metadata {meta}", {}, {})
                for p in positives:
                    c, now = pos_ctx[(age, meta)][p.name]
                    sc.pos[p.name] = apply_context(base[p.name], c, now=now, floor=floor).score
                for n in negatives:
                    r = apply_context(base[n.name], n.context, now=n.now, floor=floor)
                    sc.neg[n.name] = r.score
                    if floor == CONTEXT_FLOOR:
                        ctx_results[n.name] = r
                configs.append(sc)
    names = [p.name for p in positives] + [n.name for n in negatives]
    if args.no_anchor:
        gd, gd_note = None, "GuardDog not run: --no-anchor"
    else:
        gd, _us, gd_note = run_guarddog(popular.keys, names)
    notes.append(gd_note)
    tools: list[ctxsets.Scored] = list(configs)
    if gd is not None:
        tools.append(ctxsets.Scored("GuardDog", {p.name: float(gd.flagged[p.name]) for p in positives},
                                    {n.name: float(gd.flagged[n.name]) for n in negatives}))
    classes = sorted({ctxsets.TECHNIQUE_CLASS[p.technique] for p in positives})
    by_group = {g: [n for n in negatives if n.group == g] for g in GROUPS if any(n.group == g for n in negatives)}

    def line(label: str, sc: ctxsets.Scored, t: float, pos: list[ctxsets.Positive]) -> None:
        k, n = ctxsets.recall_at(sc, pos, t)
        cells = [f"{label:58}", f"{cell(k, n):>19}"]
        for c in classes:
            rows = [p for p in pos if ctxsets.TECHNIQUE_CLASS[p.technique] == c]
            cells.append(f"{cell(*ctxsets.recall_at(sc, rows, t)):>19}")
        for negs in (negatives, *by_group.values()):
            cells.append(f"{cell(*ctxsets.fp_at(sc, negs, t)):>19}")
        print(" ".join(cells))
        rows_out.append(common.row(f"audit-time: {label}", sc.label.split(",")[0], None,
                                   detection=f"recall {k}/{n}; FP {ctxsets.fp_at(sc, negatives, t)[0]}/"
                                             f"{len(negatives)} genuine"))

    header = [f"{'configuration (threshold)':58}", f"{'recall, all':>19}", *(f"{c[:19]:>19}" for c in classes),
              f"{'FPR, all genuine':>19}", *(f"{'FPR, ' + g:>19}" for g in by_group)]
    print(" ".join(header))
    one_pct = int(0.01 * len(negatives))
    gd_fp = ctxsets.fp_at(tools[-1], negatives, 0.5)[0] if gd is not None else None
    # every operating point of the table, per configuration: the false-positive list below names each one
    points: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for sc in tools:
        if sc.label == "GuardDog":
            line("GuardDog (its own rule)", sc, 0.5, positives)
            continue
        line(f"{sc.label} (0.5, shipped)", sc, 0.5, positives)
        points[sc.label].append(("0.5", 0.5))
        if "squat age live" in sc.label and f"floor {CONTEXT_FLOOR}," not in sc.label:
            t = ctxsets.threshold_for(sc, negatives, one_pct)
            line(f"{sc.label} (<= 1% FPR: {t:.3f}, read off)", sc, t, positives)
        if sc is name_only or "unknown" in sc.label or "older" in sc.label or f"floor {CONTEXT_FLOOR}," in sc.label:
            t = ctxsets.threshold_for(sc, negatives, one_pct)
            line(f"{sc.label} (<= 1% FPR: {t:.3f}, read off)", sc, t, positives)
            points[sc.label].append(("1%", t))
            issue_set = [n for n in negatives if n.group in ("lockfile", "requirements")]
            for group, negs in (*by_group.items(), ("lockfile + requirements (the issue's genuine set)", issue_set)):
                if negs:
                    t = ctxsets.threshold_for(sc, negs, int(0.01 * len(negs)))
                    line(f"{sc.label} (<= 1% FPR on {group} names: {t:.3f}, read off)", sc, t, positives)
            if gd_fp is not None:
                t = ctxsets.threshold_for(sc, negatives, gd_fp)
                line(f"{sc.label} (GuardDog's FPR: {t:.3f}, read off)", sc, t, positives)
                points[sc.label].append(("GD FPR", t))
    floor_selection(tools, positives, negatives)
    print("\nsplits: recall [Wilson 95%] at the shipped 0.5 and at the <= 1% FPR threshold read off all genuine "
          "names above (the same threshold for every split)")
    shipped_label = f"floor {CONTEXT_FLOOR}, squat age live"
    splits = {"time: published before 2025-01": [p for p in positives if p.published < "2025-01-01"],
              "time: published 2025-01 or later": [p for p in positives if p.published >= "2025-01-01"],
              "target: a dev-positive target": [p for p in positives if p.target in seen_targets],
              "target: never a dev-positive target": [p for p in positives if p.target not in seen_targets]}
    one_pct_at = {label: t for label, pts in points.items() for op, t in pts if op == "1%"}
    for label, rows in splits.items():
        for op in ("0.5", "1%"):
            cells = " ".join(
                f"{sc.label.replace('mlaudit ', '').replace(f'+ context, {shipped_label}, metadata ', 'ctx ')}="
                f"{cell(*ctxsets.recall_at(sc, rows, 0.5 if op == '0.5' or sc.label == 'GuardDog' else one_pct_at[sc.label]))}"
                for sc in tools if sc is name_only or sc.label == "GuardDog" or shipped_label in sc.label)
            print(f"  {label:38} n={len(rows):4} @{op:3}  {cells}")
    shipped = next(sc for sc in tools if shipped_label in sc.label)
    lowest = {label: min(t for _, t in pts) for label, pts in points.items()}
    print("\nevery genuine name flagged at any operating point above (name-only / with context, floor "
          f"{CONTEXT_FLOOR}, squat age live: @0.5 shipped, @1% read off on all genuine names, @GD FPR) or by "
          "GuardDog:")
    for n in negatives:
        marks = [f"{label}@" + "/".join(op for op, t in points[sc.label] if sc.neg[n.name] >= t)
                 for label, sc in (("name", name_only), ("ctx", shipped)) if sc.neg[n.name] >= lowest[sc.label]]
        if gd is not None and gd.flagged[n.name]:
            marks.append("GuardDog")
        if marks:
            r = base[n.name]
            why = "; ".join(x.removeprefix("context: ").split(" [")[0] for x in ctx_results[n.name].reasons
                            if x.startswith("context: "))
            print(f"  {n.group:8} {n.name:30} {' '.join(marks):44} name {r.score:.3f} -> {r.candidate}; context "
                  f"{shipped.neg[n.name]:.3f} ({why or 'no context signal'}); {n.source}")
    for sc in tools:
        if shipped_label in sc.label:
            t = one_pct_at[sc.label]
            print(f"\npositives missed at the <= 1% FPR threshold ({t:.3f}), {sc.label}: " + ", ".join(
                f"{p.name}->{p.target} ({sc.pos[p.name]:.3f})" for p in positives if sc.pos[p.name] < t)[:4000])
    if args.mirrors:
        notes.append(squat_note)
        own_metadata_section(args, popular, index, det, dev, positives, base, docs, name_only, shipped, one_pct_at,
                             own_files, squat_note)


def own_metadata_section(args: argparse.Namespace, popular: PopularList, index: CandidateIndex, det: Detector,
                         dev: set[str], positives: list[ctxsets.Positive], base: dict[str, TyposquatResult],
                         docs: dict[str, dict[str, object] | None], name_only: ctxsets.Scored,
                         shipped: ctxsets.Scored, one_pct_at: dict[str, float],
                         by_name: dict[str, list[squatmeta.SquatFile]], note: str) -> None:
    """The squats' own published metadata instead of an assumption (``bench/_typosquat_squatmeta.py``).

    Two positive sets, each limited to squats whose published file the corpus holds: the audit-time positives
    above, and every reported look-alike that is not a dev row whatever its date (labelled by the same rules; the
    name model was never fitted on them). Each is scored as an audit meets it live (the report's upload times, audit
    day seeded as above) with its real summary, home page and project URLs, and beside it under the two stated
    assumptions. Thresholds are the ones read off all genuine names above (the genuine side does not change).
    ``by_name``: the corpus's files by project name, as the caller read them (``note`` says what was read)."""
    print(f"\n## Squats with their own published metadata ({note})")
    if not by_name:
        return
    wider, _drops = ctxsets.heldout_positives(Path(args.shared), popular, index.vocab, dev, since="")
    sets = {"audit-time positives with a published file": [p for p in positives if by_name.get(p.name)],
            "every reported look-alike, not a dev row, with a published file": [p for p in wider
                                                                                 if by_name.get(p.name)]}
    extra = [p for p in sets["every reported look-alike, not a dev row, with a published file"] if p.name not in base]
    det.prefetch([p.name for p in extra])
    for p in extra:
        base[p.name] = det.check(p.name)
    wanted = {p.target for p in extra} | {ctxsets.canon(base[p.name].candidate) for p in extra
                                          if base[p.name].candidate}
    if args.index_json and wanted - set(docs):
        docs.update({k: a.doc for k, a in ixfetch.fetch_all(args.index_json, wanted - set(docs)).items()})
    t_ctx = one_pct_at[shipped.label]
    t_name = one_pct_at[name_only.label]
    for label, pos in sets.items():
        own = {p.name: ctxsets.own_metadata(p, by_name[p.name]) for p in pos}
        pos = [p for p in pos if own[p.name] is not None]
        if not pos:
            print(f"{label}: none")
            continue
        scored: dict[str, dict[str, float]] = defaultdict(dict)
        ctxs: dict[str, NameContext] = {}
        for p in pos:
            scored["name-only"][p.name] = base[p.name].score
            for meta in ("real", "copied", "absent"):
                c, now = ctxsets.positive_context(p, random.Random(f"{ctxsets.SEED}:{p.name}"), "live", meta,
                                                  base[p.name].candidate, docs, own[p.name])
                scored[f"context, {meta} metadata"][p.name] = apply_context(base[p.name], c, now=now).score
                if meta == "real":
                    ctxs[p.name] = c
        early = sum(1 for p in pos if p.published < ctxsets.CUTOFF)
        print(f"\n{label}: {len(pos)} ({early} published before {ctxsets.CUTOFF}; "
              f"{dict(sorted(Counter(p.technique for p in pos).items()))})")
        shares = [("a single release / all on one day", lambda c: c.release_count == 1 or c.release_days == 1),
                  ("no project links", lambda c: c.has_project_urls is False),
                  ("no summary", lambda c: c.has_summary is False),
                  ("summary = the target's", lambda c: bool(c.summary_matches_target)),
                  ("links to the target's repository", lambda c: bool(c.links_to_target)),
                  ("a repository of its own name", lambda c: bool(c.own_repository))]
        print("  facts with their real metadata: " + "; ".join(
            f"{name} {sum(map(test, ctxs.values())) / len(ctxs):.1%}" for name, test in shares))
        for key, t, op in (("name-only", t_name, "<= 1% FPR"), ("name-only", 0.5, "0.5"),
                           ("context, real metadata", t_ctx, "<= 1% FPR"), ("context, real metadata", 0.5, "0.5"),
                           ("context, copied metadata", t_ctx, "<= 1% FPR"),
                           ("context, absent metadata", t_ctx, "<= 1% FPR")):
            k = sum(1 for p in pos if scored[key][p.name] >= t)
            classes = defaultdict(list)
            for p in pos:
                classes[ctxsets.TECHNIQUE_CLASS[p.technique]].append(p)
            per = "  ".join(f"{c} {cell(sum(1 for p in rows if scored[key][p.name] >= t), len(rows))}"
                            for c, rows in sorted(classes.items()))
            print(f"  {key:26} @{op:9} ({t:.3f}) {cell(k, len(pos)):>19}   {per}")
        for part, rows in (("before 2025", [p for p in pos if p.published < "2025-01-01"]),
                           ("2025 on", [p for p in pos if p.published >= "2025-01-01"])):
            if rows:
                k = sum(1 for p in rows if scored["context, real metadata"][p.name] >= t_ctx)
                print(f"  context, real metadata, <= 1% FPR, published {part}: {cell(k, len(rows))}")
        missed = [p for p in pos if scored["context, real metadata"][p.name] < t_ctx]
        print("  missed with real metadata at <= 1% FPR: " + ", ".join(
            f"{p.name}->{p.target} ({scored['context, real metadata'][p.name]:.3f})" for p in missed)[:3000])


def print_fact_shares(positives: list[ctxsets.Positive], negatives: list[ctxsets.Negative],
                      pos_ctx: dict[tuple[str, str], dict[str, tuple[NameContext, object]]]) -> None:
    """How often each fact holds per group: what separates the sides (and what does not)."""
    from auditor.typosquat.context import SPREAD_DAYS, SPREAD_SPAN

    facts: list[tuple[str, Callable[[NameContext], bool]]] = [
        ("single release / one upload day", lambda c: c.release_count == 1 or c.release_days == 1),
        (f"releases >= {SPREAD_DAYS} days over >= {SPREAD_SPAN}",
         lambda c: (c.release_days or 0) >= SPREAD_DAYS and (c.release_span_days or 0) >= SPREAD_SPAN),
        ("no project links", lambda c: c.has_project_urls is False),
        ("own repository link", lambda c: bool(c.own_repository)),
        ("links to the target's repository", lambda c: bool(c.links_to_target)),
        ("no summary", lambda c: c.has_summary is False),
        ("summary = target's", lambda c: bool(c.summary_matches_target)),
        ("wheels", lambda c: bool(c.has_wheels)),
        ("required by a popular package", lambda c: bool(c.required_by)),
    ]
    groups: list[tuple[str, list[NameContext]]] = [
        (f"positives ({meta})", [pos_ctx[("live", meta)][p.name][0] for p in positives]) for meta in ("copied", "absent")]
    if ("live", "real, else copied") in pos_ctx:
        real = [c for c, _now in pos_ctx[("live", "real, else copied")].values() if "real metadata" in c.source]
        groups.append((f"positives (own file, {len(real)})", real))
    for g in GROUPS:
        if any(n.group == g for n in negatives):
            groups.append((f"{g} genuine", [n.context for n in negatives if n.group == g]))
    print("\nfacts per group (share of names; positives: report facts + the stated metadata assumption)")
    print(f"  {'fact':38}" + "".join(f"{label:>22}" for label, _ in groups))
    for label, test in facts:
        print(f"  {label:38}" + "".join(f"{sum(map(test, ctxs)) / max(1, len(ctxs)):>22.1%}" for _, ctxs in groups))


def floor_selection(tools: list[ctxsets.Scored], positives: list[ctxsets.Positive],
                    negatives: list[ctxsets.Negative]) -> None:
    """Where the context floor belongs, chosen on one part and measured on the other: positives split by time
    (published before 2025-01 / later), genuine names by a fixed hash of the name (``stable_half``). On the fit
    part, the floor with the best recall at <= 1% FPR (ties: the higher floor, fewer look-ups) is chosen per
    metadata assumption; the other part reports that floor's recall at its own <= 1% FPR threshold. Both
    directions are printed."""
    early = [p for p in positives if p.published < "2025-01-01"]
    late = [p for p in positives if p.published >= "2025-01-01"]
    halves = {h: [n for n in negatives if ctxsets.stable_half(n.name) == h] for h in (0, 1)}
    print("\nfloor chosen on one part, measured on the other (recall at <= 1% FPR, threshold read off each part's own "
          "genuine names):")
    for meta in ("copied", "absent"):
        live = [sc for sc in tools if "squat age live" in sc.label and f"metadata {meta}" in sc.label]
        for (fit_pos, fit_neg), (eval_pos, eval_neg), label in (
                ((early, halves[0]), (late, halves[1]), "fit: before 2025 + half 0; measured: 2025 on + half 1"),
                ((late, halves[1]), (early, halves[0]), "fit: 2025 on + half 1; measured: before 2025 + half 0")):
            def recall(sc: ctxsets.Scored, pos: list[ctxsets.Positive], neg: list[ctxsets.Negative]) -> tuple[int, int]:
                t = ctxsets.threshold_for(sc, neg, int(0.01 * len(neg)))
                return ctxsets.recall_at(sc, pos, t)

            scored = [(recall(sc, fit_pos, fit_neg)[0], float(sc.label.split("floor ")[1].split(",")[0]), sc)
                      for sc in live]
            best_k, floor, best = max(scored, key=lambda x: (x[0], x[1]))
            k, n = recall(best, eval_pos, eval_neg)
            print(f"  metadata {meta:6} {label}: floor {floor} (fit recall {best_k}/{len(fit_pos)}) -> measured "
                  f"{cell(k, n)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(common.SHARED))
    ap.add_argument("--no-anchor", action="store_true", help="do not run GuardDog (shown as not run)")
    ap.add_argument("--quick", action="store_true", help="every tool on one seeded sample of the measured rows")
    ap.add_argument("--json", dest="json_out", metavar="OUT", help="also write the results as JSON (bench/run.py)")
    ap.add_argument("--mirrors", default=os.environ.get("MLAUDIT_BENCH_MIRRORS"),
                    help="bare git copies of the repositories in bench/typosquat_lockfiles.tsv (owner+name/repo)")
    ap.add_argument("--pypi-list", default=os.environ.get("MLAUDIT_BENCH_PYPI_LIST"),
                    help="TSV list of PyPI projects (name, newest version, month, rank, summary) for young names")
    ap.add_argument("--index-json", metavar="URL", default=os.environ.get("MLAUDIT_BENCH_INDEX_JSON"),
                    help="base URL of an index's per-project JSON API (URL/<name>/json): real metadata of the genuine "
                         "names and the imitated projects (cached in MLAUDIT_BENCH_CACHE)")
    ap.add_argument("--requirements-dir", metavar="DIR", default=os.environ.get("MLAUDIT_BENCH_REQUIREMENTS_DIR"),
                    help="copies of the requirement files of bench/typosquat_requirements.tsv whose repositories are "
                         "too large to mirror (DIR/owner+name/<path>, the file at the manifest's commit)")
    ap.add_argument("--audit-time-only", action="store_true", help="only the audit-time evaluation")
    args = ap.parse_args(argv)
    shared = Path(args.shared)
    dev = fitting.load_dev(shared)
    popular = load_pypi()
    json_rows: list[dict[str, object]] = []
    notes: list[str] = []

    t0, c0 = time.perf_counter(), time.process_time()
    index = CandidateIndex.build(popular)
    build, build_cpu = time.perf_counter() - t0, time.process_time() - c0
    if args.audit_time_only:
        audit_time_section(args, popular, index, json_rows, notes)
        common.write_json(args.json_out, {"name": "typosquat", "quick": args.quick, "rows": json_rows,
                                          "anchors": {"guarddog": common.PINS["guarddog"]}, "notes": notes})
        return 0
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
    audit_time_section(args, popular, index, json_rows, notes)

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

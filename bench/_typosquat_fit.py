"""Fit (and validate) the typosquat score's coefficients; writes ``data/typosquat_model.json``.

(A helper of ``bench/typosquat.py``, which reuses its data loading, splits and fitting; the ``_`` keeps
``bench/run.py`` from running it as a benchmark. Run it as a script to refit.)

    python bench/_typosquat_fit.py [--shared ../shared] [--write] [--l2 3.0] [--constructed N] [--coef]

What it fits on
- positives: ``eval/typosquat/dev_positives.tsv`` (malicious look-alikes with their labelled target), plus
  *constructed* attacks: names made mechanically from the popular list by each technique class of the eval README
  (one or two typing edits, look-alike digits, separator games, learned affixes and version digits added, glued or
  not). The dev rows come from a few campaigns with a narrow technique mix (the 2023 rows are nearly all doubled
  letters and swaps on a few targets); the constructed rows give every technique class weight whatever the last
  campaign happened to use. They are built from the popular list with a fixed seed, never from dev names.
- negatives: ``dev_negatives.tsv`` (genuine names), split in two halves by a salted hash of the name, so that the
  rows a model is fitted on are never the rows its false positives are measured on. The near-popular groups were
  selected for resembling popular names; in the fit each counts as much as the random names that meet its
  selection rule (``population_weights``), so the fit sees genuine names in their real proportions.
- the operating point: the intercept is shifted so that score 0.5 flags at most ``--budget`` of the fit half's
  random unranked names and ``--plugin-budget`` of its unranked plugins (the false-positive budget; coefficients,
  i.e. the ranking, are unchanged).

How it validates (printed, with Wilson 95% intervals; these are the claims, the fit-on-everything figures are not)
- time: fit on positives published before 2024-06-01, measure on the later ones (and rows without a date);
- target: targets in two folds of near-equal size, fit on one fold's positives (constructed rows aimed at the
  other fold's targets dropped), measure on the other fold's, and the reverse.

``--write`` then fits on all dev positives and all dev negatives (plus the constructed rows) and writes the model.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import math
import random
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.typosquat.affixes import PY_MARKERS, RELEASE_WORDS, tokens_of  # noqa: E402
from auditor.typosquat.confusables import DIGIT_READINGS, KEYBOARD_NEIGHBOURS  # noqa: E402
from auditor.typosquat.detector import Detector  # noqa: E402
from auditor.typosquat.features import FEATURES  # noqa: E402
from auditor.typosquat.fit import Example, fit, name_score, shift_intercept, threshold_for_budget  # noqa: E402
from auditor.typosquat.index import CandidateIndex  # noqa: E402
from auditor.typosquat.popular import PopularList, load_pypi  # noqa: E402
from auditor.typosquat.scoring import ScoreModel  # noqa: E402

CUTOFF = "2024-06-01"
NEG_SALT = "mlaudit-typosquat-fit-v1:"
SEED = 20261201
FLAG_AT = 0.5


# -- data ----------------------------------------------------------------------------------------------------------
@dataclass
class DevData:
    positives: list[dict[str, str]]
    negatives: list[dict[str, str]]


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [{k: (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(fh, delimiter="\t")]


def load_dev(shared: Path) -> DevData:
    ev = shared / "eval" / "typosquat"
    return DevData(read_tsv(ev / "dev_positives.tsv"), read_tsv(ev / "dev_negatives.tsv"))


def neg_group(row: dict[str, str]) -> str:
    return row["category"] if row["category"] == "random_unranked" else f"{row['category']}/{row['source']}"


def neg_half(name: str) -> int:
    """0 or 1 from a salted hash: the two halves of the negatives (independent of the dev/held-out hash)."""
    return int(hashlib.sha256((NEG_SALT + name).encode()).hexdigest()[:8], 16) % 2


def is_early(row: dict[str, str]) -> bool:
    """Published before the cutoff; a row without a date is not known to be early, so it is measured."""
    return bool(row.get("published")) and row["published"] < CUTOFF


def target_folds(positives: list[dict[str, str]]) -> dict[str, int]:
    """Targets in two folds of near-equal row counts (largest first, each to the lighter fold; ties by name)."""
    counts: dict[str, int] = defaultdict(int)
    for r in positives:
        counts[r["target"]] += 1
    load = [0, 0]
    fold: dict[str, int] = {}
    for target, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        k = 0 if load[0] <= load[1] else 1
        fold[target] = k
        load[k] += n
    return fold


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def fmt_rate(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {k / n if n else 0:.3f} [{lo:.3f}, {hi:.3f}]"


# -- constructed attacks -------------------------------------------------------------------------------------------
LETTERS = "abcdefghijklmnopqrstuvwxyz"
LOOKALIKE_OF: dict[str, list[str]] = defaultdict(list)
for _digit, _letters in DIGIT_READINGS.items():
    if _digit.isdigit():
        for _letter in _letters:
            LOOKALIKE_OF[_letter].append(_digit)
LOOKALIKE_OF["l"].append("i")
LOOKALIKE_OF["i"].append("l")


def _one_edit(name: str, rng: random.Random) -> str:
    """One typing edit of the kinds squatters use, chosen uniformly by kind, at a random letter position."""
    p = rng.randrange(len(name))
    kind = rng.choice(["sub", "sub-key", "ins", "ins-double", "ins-key", "del", "swap"])
    ch = name[p]
    if kind == "sub":
        return name[:p] + rng.choice(LETTERS.replace(ch, "")) + name[p + 1:]
    if kind == "sub-key" and KEYBOARD_NEIGHBOURS.get(ch):
        # a digit for a neighbouring digit is how genuine release lines are named (cuda12/cuda13, python2/3): the
        # constructed slips leave it out, so its weight comes from the labelled names alone
        keys = sorted(k for k in KEYBOARD_NEIGHBOURS[ch] if not (ch.isdigit() and k.isdigit()))
        if keys:
            return name[:p] + rng.choice(keys) + name[p + 1:]
    if kind == "ins":
        return name[:p] + rng.choice(LETTERS) + name[p:]
    if kind == "ins-double":
        return name[:p] + ch + name[p:]
    if kind == "ins-key" and KEYBOARD_NEIGHBOURS.get(ch):
        return name[:p] + rng.choice(sorted(KEYBOARD_NEIGHBOURS[ch])) + name[p:]
    if kind == "del" and len(name) > 4:
        return name[:p] + name[p + 1:]
    if kind == "swap" and p + 1 < len(name):
        return name[:p] + name[p + 1] + name[p] + name[p + 2:]
    return name[:p] + rng.choice(LETTERS.replace(ch, "")) + name[p + 1:]


def construct(popular: PopularList, index: CandidateIndex, n: int, seed: int = SEED,
              exclude_targets: set[str] | None = None) -> list[tuple[str, str, str]]:
    """``n`` (name, target, technique) attacks made from the popular list, technique classes in equal shares.

    Targets are drawn log-uniformly by rank (as likely from ranks 1-10 as from 1,000-10,000), with at least four
    letters (six for two edits); a result that is itself a listed name is drawn again.
    """
    rng = random.Random(seed)
    keys = popular.keys
    listed = popular.rank_of
    affixes = sorted((a, c) for a, c in index.vocab.separated.items() if c >= 5)  # the generic words
    affix_words = [a for a, _ in affixes]
    affix_weights = [float(c) for _, c in affixes]  # generic words (added to many bases) are what squats add
    techniques = ["edit1", "edit1", "edit2", "homoglyph", "separator", "combo", "reorder"]
    out: list[tuple[str, str, str]] = []
    tries = 0
    while len(out) < n and tries < n * 50:
        tries += 1
        rank = int(math.exp(rng.uniform(0, math.log(len(keys)))))
        target = keys[min(len(keys), max(1, rank)) - 1]
        if exclude_targets and target in exclude_targets:
            continue
        letters = sum(c.isalpha() for c in target)
        technique = techniques[len(out) % len(techniques)]
        if letters < 4 or (technique == "edit2" and len(target) < 6):
            continue
        name = target
        if technique == "edit1":
            name = _one_edit(target, rng)
        elif technique == "edit2":
            name = _one_edit(_one_edit(target, rng), rng)
        elif technique == "homoglyph":
            spots = [i for i, c in enumerate(target) if c in LOOKALIKE_OF and i > 0]
            if not spots:
                continue
            for i in rng.sample(spots, min(len(spots), rng.choice([1, 1, 2]))):
                name = name[:i] + rng.choice(LOOKALIKE_OF[name[i]]) + name[i + 1:]
        elif technique == "reorder":
            toks = tokens_of(target)
            if len(toks) < 2:
                continue
            if rng.random() < 0.3 and any(t in ("py", "python") for t in toks):
                name = "-".join("python" if t == "py" else "py" if t == "python" else t for t in toks)
            else:
                shuffled = toks[:]
                while shuffled == toks:
                    rng.shuffle(shuffled)
                name = "-".join(shuffled)
        elif technique == "separator":
            if "-" in target and rng.random() < 0.6:
                name = target.replace("-", "", 1)
            else:
                cut = rng.randrange(2, max(3, len(target) - 1))
                if target[cut - 1] == "-" or target[cut] == "-":
                    continue
                name = target[:cut] + "-" + target[cut:]
        else:
            words: list[str] = []
            for _ in range(rng.choice([1, 1, 2])):
                kind = rng.random()
                if kind < 0.2:
                    words.append(rng.choice(["2", "3", "v2", "v3", "1", "10", "2024"]))
                elif kind < 0.4:
                    words.append(rng.choice(sorted(PY_MARKERS)))
                elif kind < 0.55:
                    words.append(rng.choice(sorted(RELEASE_WORDS)))
                else:
                    words.append(rng.choices(affix_words, weights=affix_weights)[0])
            glue = "" if rng.random() < 0.35 else "-"
            if rng.random() < 0.3:
                name = glue.join([*words, target])
            else:
                name = glue.join([target, *words])
        name = "-".join(tokens_of(name))
        if not name or name in listed or name == target:
            continue
        out.append((name, target, technique))
    return out


# -- examples ------------------------------------------------------------------------------------------------------
def reading_detector(popular: PopularList | None = None) -> Detector:
    """A detector used only to enumerate readings (its model is never asked)."""
    popular = popular or load_pypi()
    return Detector(popular, index=CandidateIndex.build(popular), model=ScoreModel({}, 0.0))


def positive_example(det: Detector, name: str, target: str, group: str, weight: float = 1.0) -> Example:
    tid = det.popular.rank_of.get(target, 0) - 1
    readings = [r.features for r in det.readings(name) if r.target == tid]
    return Example(name, readings, 1, weight, group)


def negative_example(det: Detector, name: str, group: str) -> Example:
    return Example(name, [r.features for r in det.readings(name)], 0, 1.0, group)


@dataclass
class Split:
    label: str
    fit_pos: list[dict[str, str]]
    measure_pos: list[dict[str, str]]
    fit_neg: list[dict[str, str]]
    measure_neg: list[dict[str, str]]
    exclude_targets: set[str] = field(default_factory=set)


def splits(dev: DevData) -> list[Split]:
    early = [r for r in dev.positives if is_early(r)]
    late = [r for r in dev.positives if not is_early(r)]
    halves = [[r for r in dev.negatives if neg_half(r["name"]) == h] for h in (0, 1)]
    out = [Split("time", early, late, halves[0], halves[1])]
    folds = target_folds(dev.positives)
    for k in (0, 1):
        fit_pos = [r for r in dev.positives if folds[r["target"]] == k]
        measure_pos = [r for r in dev.positives if folds[r["target"]] != k]
        out.append(Split(f"target fold {k + 1}", fit_pos, measure_pos, halves[k], halves[1 - k],
                         {t for t, f in folds.items() if f != k}))
    return out


@dataclass
class FitConfig:
    l2: float = 3.0
    constructed: int = 3000
    budget: float = 0.006  # at most this share of the fit half's random unranked names flagged at 0.5
    plugin_budget: float = 0.02  # ... and of its unranked plugin names


def fit_on(det: Detector, pos_rows: Sequence[dict[str, str]], neg_rows: Sequence[dict[str, str]],
           cfg: FitConfig, exclude_targets: set[str] | None = None,
           cache: dict[str, Example] | None = None) -> tuple[ScoreModel, dict[str, object]]:
    """Fit on the given dev rows (plus constructed attacks), then move the intercept to the operating point."""
    cache = cache if cache is not None else {}

    def cached(key: str, make: Callable[[], Example]) -> Example:
        if key not in cache:
            cache[key] = make()
        return cache[key]

    examples = [cached(f"p:{r['name']}:{r['target']}",
                       lambda r=r: positive_example(det, r["name"], r["target"], "dev"))  # type: ignore[misc]
                for r in pos_rows]
    if cfg.constructed:
        for name, target, tech in construct(det.popular, det.index, cfg.constructed, exclude_targets=exclude_targets):
            examples.append(cached(f"c:{name}:{target}",
                                   lambda n=name, t=target, q=tech: positive_example(  # type: ignore[misc]
                                       det, n, t, f"constructed/{q}")))
    negatives = [cached(f"n:{r['name']}", lambda r=r: negative_example(det, r["name"], neg_group(r)))  # type: ignore[misc]
                 for r in neg_rows]
    weights = population_weights(det, neg_rows)
    dev_total = sum(1 for e in examples if e.group == "dev")
    made_total = len(examples) - dev_total
    for e in examples:  # dev rows and constructed rows count as much in total (when both are there)
        e.weight = 1.0 if e.group == "dev" or not dev_total else dev_total / made_total
    for e in negatives:
        e.weight = weights[e.group]
    model = fit([*examples, *negatives], l2=cfg.l2)
    random_scores = [name_score(model, e.readings) for e in negatives if e.group == "random_unranked"]
    plugin_scores = [name_score(model, e.readings) for e in negatives if e.group.endswith("unranked-plugin")]
    threshold = max(threshold_for_budget(random_scores, cfg.budget),
                    threshold_for_budget(plugin_scores, cfg.plugin_budget))
    shifted = shift_intercept(model, threshold, FLAG_AT)
    info = {"raw_threshold": threshold, "weights": weights, "positives": len(pos_rows),
            "positives_with_reading": sum(1 for e in examples if e.group == "dev" and e.readings),
            "constructed": sum(1 for e in examples if e.group.startswith("constructed")),
            "negatives": len(negatives)}
    return shifted, info


def population_weights(det: Detector, neg_rows: Sequence[dict[str, str]]) -> dict[str, float]:
    """Per-row fit weight of each negative group, so that the fit sees genuine names as they occur.

    ``random_unranked`` is a uniform sample of genuine names (weight 1). The near-popular groups were *selected*
    for resembling popular names, far beyond their share of real names; each group counts in total as much as the
    random names that meet its selection rule (the eval README's: one edit from a top-3,000 name of six or more
    letters; or two or more tokens led by a top-300 name).
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for r in neg_rows:
        groups[neg_group(r)].append(r["name"])
    random_names = groups.get("random_unranked", [])
    weights = {g: 1.0 for g in groups}
    if not random_names:
        return weights
    from rapidfuzz.distance import OSA

    keys = det.popular.keys
    long_top = [k for k in keys[:3000] if sum(c.isalpha() for c in k) >= 6]
    top300 = set(keys[:300])
    rules: dict[str, Callable[[str], bool]] = {
        "near_popular_genuine/unranked-edit1": lambda n: any(OSA.distance(n, k, score_cutoff=1) == 1
                                                             for k in long_top),
        "near_popular_genuine/unranked-plugin": lambda n: len(tokens_of(n)) >= 2 and tokens_of(n)[0] in top300,
    }
    for g, rule in rules.items():
        if g in groups:
            like = sum(1 for n in random_names if rule(n))
            weights[g] = max(like, 1) / len(groups[g])
    return weights


@dataclass
class Measured:
    label: str
    positives: list[tuple[dict[str, str], float, str | None]]  # row, score, flagged target
    negatives: list[tuple[dict[str, str], float]]


def measure(det: Detector, model: ScoreModel, label: str, pos_rows: Sequence[dict[str, str]],
            neg_rows: Sequence[dict[str, str]]) -> Measured:
    scorer = Detector(det.popular, index=det.index, model=model)
    pos = []
    for r in pos_rows:
        res = scorer.check(r["name"])
        pos.append((r, res.score, res.target))
    neg = [(r, scorer.check(r["name"]).score) for r in neg_rows]
    return Measured(label, pos, neg)


def report(m: Measured, out: Callable[[str], None] = print) -> None:
    pos = m.positives
    hit = sum(1 for _, s, _ in pos if s >= FLAG_AT)
    right = sum(1 for r, s, t in pos if s >= FLAG_AT and t == r["target"])
    out(f"  recall            {fmt_rate(hit, len(pos))}  (right target {right})")
    by_tech: dict[str, list[float]] = defaultdict(list)
    for r, s, _ in pos:
        by_tech[r["technique"]].append(s)
    for tech, scores in sorted(by_tech.items()):
        out(f"    {tech:22} {fmt_rate(sum(s >= FLAG_AT for s in scores), len(scores))}")
    groups: dict[str, list[float]] = defaultdict(list)
    for r, s in m.negatives:
        groups[neg_group(r)].append(s)
    for g, scores in sorted(groups.items()):
        out(f"  FPR {g:36} {fmt_rate(sum(s >= FLAG_AT for s in scores), len(scores))}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--l2", type=float, default=FitConfig.l2)
    ap.add_argument("--constructed", type=int, default=FitConfig.constructed,
                    help="constructed attacks added to every fit (0: dev rows only)")
    ap.add_argument("--budget", type=float, default=FitConfig.budget)
    ap.add_argument("--plugin-budget", type=float, default=FitConfig.plugin_budget)
    ap.add_argument("--write", action="store_true", help="fit on all dev data and write data/typosquat_model.json")
    ap.add_argument("--show-misses", action="store_true")
    ap.add_argument("--coef", action="store_true", help="print each split's coefficients")
    ap.add_argument("--no-validate", action="store_true", help="with --write: skip the time and target splits")
    args = ap.parse_args(argv)
    cfg = FitConfig(l2=args.l2, constructed=args.constructed, budget=args.budget, plugin_budget=args.plugin_budget)
    dev = load_dev(Path(args.shared))
    det = reading_detector()
    cache: dict[str, Example] = {}
    for sp in [] if args.no_validate else splits(dev):
        model, info = fit_on(det, sp.fit_pos, sp.fit_neg, cfg, sp.exclude_targets, cache)
        print(f"## {sp.label}: fit on {info['positives']} dev positives ({info['positives_with_reading']} with a "
              f"reading of their target) + {info['constructed']} constructed, {info['negatives']} negatives; "
              f"measured on {len(sp.measure_pos)} positives, {len(sp.measure_neg)} negatives")
        print(f"  negative weights {info['weights']}")
        if args.coef:
            print("  " + " ".join(f"{f}={model.coefficients[f]:+.2f}" for f in FEATURES if model.coefficients[f])
                  + f" intercept={model.intercept:+.2f}")
        m = measure(det, model, sp.label, sp.measure_pos, sp.measure_neg)
        report(m)
        if args.show_misses:
            for r, s, _t in m.positives:
                if s < FLAG_AT:
                    print(f"    MISS {r['name']} -> {r['target']} ({r['technique']}) {s:.3f}")
            for r, s in m.negatives:
                if s >= FLAG_AT:
                    print(f"    FP {r['name']} ({neg_group(r)}) {s:.3f}")
    if args.write:
        model, info = fit_on(det, dev.positives, dev.negatives, cfg, None, cache)
        meta = {
            "fitted": dt.date.today().isoformat(),
            "script": "bench/_typosquat_fit.py --write",
            "data": "all dev_positives.tsv rows (1,216) and dev_negatives.tsv rows (10,956) of the shared eval set, "
                    f"plus {info['constructed']} constructed attacks (seed {SEED}) from top_pypi.tsv",
            "l2": cfg.l2,
            "operating_point": f"intercept shifted so 0.5 flags <= {cfg.budget:.1%} of random unranked and <= "
                               f"{cfg.plugin_budget:.1%} of unranked plugin dev negatives (raw threshold "
                               f"{float(info['raw_threshold']):.4f})",  # type: ignore[arg-type]
        }
        doc = ScoreModel({f: model.coefficients[f] for f in FEATURES}, model.intercept, meta).to_json()
        path = ROOT / "data" / "typosquat_model.json"
        path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
        for f in FEATURES:
            print(f"  {f:18} {model.coefficients[f]:+.3f}")
        print(f"  {'intercept':18} {model.intercept:+.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

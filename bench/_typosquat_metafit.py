"""How much each metadata fact of a candidate's record says, measured on dev data (issue 28).

    python bench/_typosquat_metafit.py --mirrors DIR --index-json URL [--shared ../shared]

The context weights of ``auditor/typosquat/context.py`` for the facts a squat *shows* in its record (no project
links, no summary, the target's summary, the target's repository among its links) were first set by hand, because
no squat's record was at hand. The squats' own published files (``bench/_typosquat_squatmeta.py``) now give them:
this script measures each fact's share among

- squats: the **dev positives** (``shared/eval/typosquat/dev_positives.tsv``, the rows the name model is fitted
  on) whose published file the corpus holds, read with their real metadata against their labelled target's real
  index document;
- genuine names: the **dev negatives** that are not popular (every unranked one-edit and plugin-style name, and a
  seeded sample of 1,000 random unranked names), with their real index documents;

and prints each fact's log-likelihood ratio (add-half smoothing), per squat and with each campaign counted once
(squats of one target published in one month), and the rounded weight it supports. Nothing of the audit-time
evaluation (``bench/typosquat.py``: post-2024-06 squats, lockfile, requirement-file and young genuine names) is
read here, so the weights are fitted on dev data and measured there.

Facts a squat's author controls for nothing (a repository link of its own name, a summary of its own) are not
fitted: a weight that clears a name on evidence an attacker can add in a minute stays set by hand.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.typosquat.context import NameContext  # noqa: E402
from auditor.typosquat.metadata import context_from_json  # noqa: E402
from bench import _common as common  # noqa: E402
from bench import _typosquat_context as ctxsets  # noqa: E402
from bench import _typosquat_index as ixfetch  # noqa: E402
from bench import _typosquat_squatmeta as squatmeta  # noqa: E402

SEED = 20261207
RANDOM_SAMPLE = 1000

FACTS: list[tuple[str, str, Callable[[NameContext], bool]]] = [
    ("NO_PROJECT_URLS", "no homepage or project links", lambda c: c.has_project_urls is False),
    ("NO_SUMMARY", "no summary", lambda c: c.has_summary is False),
    ("SUMMARY_COPIED", "the target's summary", lambda c: bool(c.summary_matches_target)),
    ("LINKS_COPIED", "the target's repository among its links, none of its own", lambda c: bool(c.links_to_target)),
]


def dev_rows(shared: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    folder = shared / "eval" / "typosquat"
    with (folder / "dev_positives.tsv").open(encoding="utf-8", newline="") as fh:
        pos = list(csv.DictReader(fh, delimiter="\t"))
    with (folder / "dev_negatives.tsv").open(encoding="utf-8", newline="") as fh:
        neg = list(csv.DictReader(fh, delimiter="\t"))
    return pos, neg


def genuine_sample(neg: list[dict[str, str]]) -> list[dict[str, str]]:
    near = [r for r in neg if r["source"] in ("unranked-edit1", "unranked-plugin")]
    rnd = [r for r in neg if r["source"] == "unranked"]
    random.Random(SEED).shuffle(rnd)
    return near + rnd[:RANDOM_SAMPLE]


def _doc(f: squatmeta.SquatFile) -> dict[str, object]:
    return {"info": {"name": f.name, **f.info()},
            "releases": {f.version: [{"upload_time_iso_8601": None, "packagetype": f.kind, "yanked": False}]}}


def llr(k_pos: float, n_pos: float, k_neg: float, n_neg: float) -> float:
    return math.log(((k_pos + 0.5) / (n_pos + 1)) / ((k_neg + 0.5) / (n_neg + 1)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(common.SHARED))
    ap.add_argument("--mirrors", required=True, help="holds the squat corpus of bench/typosquat_squatmeta.tsv")
    ap.add_argument("--index-json", required=True, metavar="URL", help="the index's per-project JSON API base")
    args = ap.parse_args(argv)
    pos_rows, neg_rows = dev_rows(Path(args.shared))
    files, note = squatmeta.load(Path(args.mirrors), common.bench_cache() / "squatmeta")
    print(f"corpus: {note}")
    by_name: dict[str, list[squatmeta.SquatFile]] = defaultdict(list)
    for f in files:
        if f.metadata:
            by_name[ctxsets.canon(f.name)].append(f)
    squats = [(r, sorted(by_name[ctxsets.canon(r["name"])], key=lambda f: f.version)[0])
              for r in pos_rows if by_name.get(ctxsets.canon(r["name"]))]
    genuine = genuine_sample(neg_rows)
    wanted = {ctxsets.canon(r["target"]) for r, _ in squats} | {ctxsets.canon(r["name"]) for r in genuine}
    wanted |= {ctxsets.canon(r["near_to"]) for r in genuine if r.get("near_to")}
    docs = {k: a.doc for k, a in ixfetch.fetch_all(args.index_json, sorted(wanted)).items()}
    s_ctx: list[tuple[str, NameContext]] = []
    for r, f in squats:
        target = ctxsets.canon(r["target"])
        campaign = f"{target}|{r['published'][:7]}"
        s_ctx.append((campaign, context_from_json(_doc(f), docs.get(target), name=ctxsets.canon(r["name"]),
                                                  target=target)))
    g_ctx: list[NameContext] = []
    g_random: list[NameContext] = []  # the random unranked names: not selected on their summary
    gone = 0
    for r in genuine:
        doc = docs.get(ctxsets.canon(r["name"]))
        if doc is None:
            gone += 1  # no longer on the index: no record to measure
            continue
        near = ctxsets.canon(r["near_to"]) if r.get("near_to") else None
        g_ctx.append(context_from_json(doc, docs.get(near) if near else None, name=ctxsets.canon(r["name"]),
                                       target=near))
        if r["source"] == "unranked":
            g_random.append(g_ctx[-1])
    campaigns = Counter(c for c, _ in s_ctx)
    print(f"squats: {len(s_ctx)} dev positives with a published file ({len(campaigns)} campaigns: one target, one "
          f"month); genuine: {len(g_ctx)} unranked dev negatives with an index record ({gone} gone from the index)")
    print("genuine shares: all the sampled names, and the random unranked ones alone (the near-popular dev negatives "
          "were selected with a summary of >= 20 characters, so their 'no summary' share is 0 by construction; the "
          "summary facts are weighed against the random names only)")
    print(f"{'constant':16} {'fact':58} {'squats':>8} {'campaigns':>10} {'genuine':>8} {'random':>8} {'LLR':>6} "
          f"{'LLR (campaigns)':>16}")
    for const, label, test in FACTS:
        k = sum(1 for _, c in s_ctx if test(c))
        kw = sum(1 / campaigns[camp] for camp, c in s_ctx if test(c))
        base = g_random if const in ("NO_SUMMARY", "SUMMARY_COPIED") else g_ctx
        g = sum(1 for c in base if test(c))
        a, b = llr(k, len(s_ctx), g, len(base)), llr(kw, len(campaigns), g, len(base))
        print(f"{const:16} {label:58} {k / len(s_ctx):>8.1%} {kw / len(campaigns):>10.1%} "
              f"{sum(map(test, g_ctx)) / len(g_ctx):>8.1%} {sum(map(test, g_random)) / len(g_random):>8.1%} "
              f"{a:>6.2f} {b:>16.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

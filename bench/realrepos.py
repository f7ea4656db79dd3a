"""Real-repository corpus: run mlaudit on public ML repositories pinned by commit, judge every finding against
hand-written labels, and cross-check each report for silent drops with an independent scanner.

    python bench/realrepos.py --mirror DIR [--scratch DIR] [--only NAME,...] [--jobs N] [--no-terminal]
    python bench/realrepos.py [--scratch DIR] --no-run                # re-judge and re-summarise the last run
    python bench/realrepos.py [--scratch DIR] --label [--tsv] [--kind K] [--moved]   # unjudged findings + cited line

``bench/realrepos/manifest.tsv`` names each repository (GitHub owner/name), its commit, licence and the paths to
audit (``.`` is the default path a user runs on the repo root). ``--mirror`` (or ``MLAUDIT_MIRROR``) is a folder
of bare git snapshots laid out ``<owner>+<name>/repo`` (what the search tool's ``fetch`` brings); each repository is
checked out at its commit into ``--scratch`` (or ``MLAUDIT_CORPUS_DIR``, default a folder in the system temp dir),
never into this checkout. Each target is audited as a user would, from the repo root:
``mlaudit --offline --format json -o OUT TARGET`` (and once more with the terminal output, to count its lines),
with an empty mlaudit cache and an empty Hugging Face cache of its own, so a run is the same on every machine.

``bench/realrepos/labels.tsv`` holds one row per finding: the key (repo, kind, id, subject, location) and a hand
judgement (TP/FP), its FP class, the lane that owns it and a one-line reason, written after opening the cited line.
A finding with no label is *unjudged* and listed; ``--label`` prints each one with the cited source line (``--tsv``
as label rows to fill in). The cross-check (``bench/realrepos_xcheck.py``, no mlaudit code) finds loader calls and
requirement-like files and lists every one the report mentions nowhere: a silent drop.

Writes the per-target JSON reports, ``drops.tsv`` and ``run.json`` to ``<scratch>/results`` and the Markdown
summary to ``--out`` (default ``bench/results/realrepos.md``); ``--json OUT`` writes the ``bench/run.py`` row file.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.realrepos_xcheck import Drop, compare, scan_tree  # noqa: E402

DATA = ROOT / "bench" / "realrepos"
MANIFEST = DATA / "manifest.tsv"
LABELS = DATA / "labels.tsv"
NOTES = DATA / "notes.md"
BASELINE = DATA / "baseline.json"  # the figures of the first run (before the fixes), for the before/after table
LABEL_COLUMNS = ["repo", "kind", "id", "subject", "location", "verdict", "class", "lane", "why", "sample"]
VERDICTS = ("TP", "FP")
RUN_TIMEOUT = 900.0


# ---------------------------------------------------------------- manifest and checkout

@dataclass(frozen=True)
class Entry:
    name: str
    repo: str
    commit: str
    licence: str
    category: str
    targets: tuple[str, ...]


def read_tsv(path: Path) -> list[dict[str, str]]:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


def load_manifest(path: Path = MANIFEST) -> list[Entry]:
    out = []
    for row in read_tsv(path):
        targets = tuple((row.get("targets") or ".").split()) or (".",)
        out.append(Entry(row["name"], row["repo"], row["commit"], row.get("licence", ""), row.get("category", ""),
                         targets))
    return out


def mirror_dir(mirror: Path, repo: str) -> Path:
    return mirror / repo.replace("/", "+") / "repo"


def checkout(gitdir: Path, commit: str, dest: Path) -> list[str]:
    """Write the tree of ``commit`` into ``dest`` (blobs the snapshot lacks, e.g. files of 4 MiB and more, are
    skipped and returned). Reuses ``dest`` when it already holds that commit."""
    marker = dest.with_name(dest.name + ".commit")
    missing_file = dest.with_name(dest.name + ".missing")
    if dest.is_dir() and marker.is_file() and marker.read_text().strip() == commit:
        return missing_file.read_text().splitlines() if missing_file.is_file() else []
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    listing = subprocess.run(["git", "--git-dir", str(gitdir), "ls-tree", "-r", "-z", "--full-tree", commit],
                             capture_output=True, check=True).stdout
    entries: list[tuple[str, str, str]] = []
    for rec in listing.split(b"\0"):
        if not rec:
            continue
        meta, path = rec.split(b"\t", 1)
        mode, kind, sha = meta.split()
        if kind == b"blob":
            entries.append((mode.decode(), sha.decode(), path.decode("utf-8", "surrogateescape")))
    proc = subprocess.Popen(["git", "--git-dir", str(gitdir), "cat-file", "--batch"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin
    feed = "".join(sha + "\n" for _, sha, _ in entries).encode()

    def write() -> None:
        stdin.write(feed)
        stdin.close()

    writer = threading.Thread(target=write)
    writer.start()
    missing: list[str] = []
    for mode, _sha, rel in entries:
        header = proc.stdout.readline().split()
        if len(header) < 3 or header[1] == b"missing":
            missing.append(rel)
            continue
        data = proc.stdout.read(int(header[2]))
        proc.stdout.read(1)
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "120000":
            if not target.exists():
                os.symlink(data.decode("utf-8", "surrogateescape"), target)
        else:
            target.write_bytes(data)
            if mode == "100755":
                target.chmod(0o755)
    writer.join()
    proc.wait()
    missing_file.write_text("\n".join(missing))
    marker.write_text(commit)
    return missing


# ---------------------------------------------------------------- running mlaudit

@dataclass
class Run:
    repo: str
    target: str
    exit: int
    seconds: float
    report: dict[str, Any] | None
    stderr: str
    terminal_lines: int | None = None
    drops: list[Drop] = field(default_factory=list)
    sites: int = 0
    req_files: int = 0
    unreadable: int = 0
    file_target: bool = False


def _slug(target: str) -> str:
    return "root" if target in (".", "") else target.strip("/").replace("/", "~")


def audit(root: Path, target: str, results: Path, repo: str, cache: Path, terminal: bool) -> Run:
    """One default-path audit of ``target`` from the repo root, JSON to ``results``; the terminal run only counts
    its lines."""
    out = results / f"{repo}__{_slug(target)}.json"
    out.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "MLAUDIT_"))}
    env.update({"MLAUDIT_CACHE_DIR": str(cache / "mlaudit"), "HF_HOME": str(cache / "hf"), "HF_HUB_OFFLINE": "1",
                "COLUMNS": "120", "NO_COLOR": "1"})
    cmd = [sys.executable, "-m", "auditor", "--offline"]
    start = time.monotonic()
    try:
        proc = subprocess.run([*cmd, "--format", "json", "-o", str(out), target], cwd=root, env=env,
                              capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
        code, err = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired:
        code, err = -1, f"timed out after {RUN_TIMEOUT:.0f} s"
    seconds = time.monotonic() - start
    report: dict[str, Any] | None = None
    if out.is_file():
        try:
            report = json.loads(out.read_text(encoding="utf-8"))
        except ValueError as exc:
            err += f"\nunreadable JSON report: {exc}"
    run = Run(repo, target, code, seconds, report, err.strip()[-2000:])
    if terminal:
        try:
            term = subprocess.run([*cmd, target], cwd=root, env=env, capture_output=True, text=True,
                                  timeout=RUN_TIMEOUT, check=False)
            run.terminal_lines = len(term.stdout.splitlines())
        except subprocess.TimeoutExpired:
            run.terminal_lines = None
    return run


def cross_check(root: Path, run: Run) -> None:
    """Fill ``run.drops``: what the independent scanner finds under a folder target that the report never names.
    A refused run (no report) leaves everything unaudited: each item is listed under that class."""
    if not (root / run.target).is_dir():
        run.file_target = True
        return
    check = scan_tree(root, "" if run.target in (".", "") else run.target)
    run.sites, run.req_files, run.unreadable = len(check.sites), len(check.req_files), len(check.unreadable)
    if run.report is not None:
        run.drops = compare(check, run.report)
        return
    why = f"run refused (exit {run.exit})"
    run.drops = [Drop(s.file, s.line, f"{s.loader}({s.arg})", f"{why}: {s.group} loader") for s in check.sites]
    run.drops += [Drop(f.file, None, f.why, f"{why}: {f.why}") for f in check.req_files]


# ---------------------------------------------------------------- findings, keys and labels

Key = tuple[str, str, str, str, str]  # repo, kind, id, subject, location


def subject(finding: dict[str, Any]) -> str:
    pkg = finding.get("package")
    if isinstance(pkg, dict) and pkg.get("name"):
        return f"{pkg['name']}=={pkg.get('version') or '?'}"
    model = finding.get("model")
    if isinstance(model, dict) and model.get("repo_id"):
        rev = model.get("revision")
        return f"{model['repo_id']}@{rev}" if rev else str(model["repo_id"])
    # a file finding: one per problem in the file (a scanner reports each dangerous callable on its own)
    evidence = finding.get("evidence")
    what = evidence.get("callable") if isinstance(evidence, dict) else None
    return str(finding.get("path") or "") + (f"#{what}" if what else "")


def location(finding: dict[str, Any]) -> str:
    loc = finding.get("location") or {}
    f = loc.get("file") if isinstance(loc, dict) else None
    line = loc.get("line") if isinstance(loc, dict) else None
    if not f:
        return ""
    return f"{f}:{line}" if line is not None else str(f)


def finding_key(repo: str, finding: dict[str, Any]) -> Key:
    return (repo, str(finding.get("kind")), str(finding.get("id")), subject(finding), location(finding))


@dataclass(frozen=True)
class Label:
    verdict: str
    klass: str
    lane: str
    why: str
    sample: str = ""  # "seed=N": judged as a member of a stratified random sample (``--sample``), not a census


def load_labels(path: Path = LABELS) -> dict[Key, Label]:
    labels: dict[Key, Label] = {}
    if not path.is_file():
        return labels
    for n, row in enumerate(read_tsv(path), 2):
        verdict = (row.get("verdict") or "").strip().upper()
        if verdict not in VERDICTS:
            raise SystemExit(f"{path}:{n}: verdict must be TP or FP, not {verdict!r}")
        key = (row["repo"], row["kind"], row["id"], row["subject"], row["location"])
        labels[key] = Label(verdict, row.get("class") or "", row.get("lane") or "", row.get("why") or "",
                            (row.get("sample") or "").strip())
    return labels


@dataclass
class Judged:
    key: Key
    finding: dict[str, Any]
    verdict: str  # TP | FP | unjudged
    label: Label | None
    how: str  # exact | moved (same repo/kind/id/subject/file, other line) | duplicate | none


def judge(repo: str, findings: list[dict[str, Any]], labels: dict[Key, Label],
          seen: set[Key] | None = None) -> list[Judged]:
    """Each finding against the labels. An exact key wins; else a label for the same finding in the same file at
    another line ("moved", only when every such label agrees). A second finding with a key already seen in this
    run is a duplicate: one more line for the reader, counted as FP (class "duplicate")."""
    by_file: dict[tuple[str, ...], list[Label]] = defaultdict(list)
    for k, lab in labels.items():
        by_file[(*k[:4], k[4].rsplit(":", 1)[0])].append(lab)
    seen = set() if seen is None else seen
    out: list[Judged] = []
    for f in findings:
        key = finding_key(repo, f)
        if key in seen:
            out.append(Judged(key, f, "FP", Label("FP", "duplicate", "report", "same finding already listed"),
                              "duplicate"))
            continue
        seen.add(key)
        lab = labels.get(key)
        if lab is not None:
            out.append(Judged(key, f, lab.verdict, lab, "exact"))
            continue
        near = by_file.get((*key[:4], key[4].rsplit(":", 1)[0]), [])
        if near and len({x.verdict for x in near}) == 1:
            out.append(Judged(key, f, near[0].verdict, near[0], "moved"))
            continue
        out.append(Judged(key, f, "unjudged", None, "none"))
    return out


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of k successes in n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def precision_cell(tp: int, fp: int) -> str:
    n = tp + fp
    if n == 0:
        return "-"
    lo, hi = wilson(tp, n)
    return f"{tp / n:.0%} [{lo:.0%}–{hi:.0%}]"


# ---------------------------------------------------------------- the label helper

def source_line(root: Path, loc: str, context: int = 0) -> list[str]:
    f, _, line = loc.rpartition(":")
    if not f or not line.isdigit():
        return []
    path = root / f
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    n = int(line)
    return [f"{i:>6}| {lines[i - 1].rstrip()[:220]}" for i in range(max(1, n - context), min(len(lines), n + context)
                                                                      + 1)]


def draw_sample(pool: list[Judged], size: int, seed: int) -> list[Judged]:
    """A stratified random sample of ``pool``: strata are (kind, repo); each gets a share of ``size``
    proportional to its count (at least one), drawn with ``random.Random(seed)`` from the keys in sorted order,
    so the same pool and seed always give the same sample. Used where thousands of near-identical findings make a
    census impractical; labels of sampled findings carry ``sample=seed=N`` and are reported apart."""
    strata: dict[tuple[str, str], list[Judged]] = defaultdict(list)
    for j in sorted(pool, key=lambda j: j.key):
        strata[(j.key[1], j.key[0])].append(j)
    total = len(pool)
    rng = random.Random(seed)
    out: list[Judged] = []
    for name in sorted(strata):
        members = strata[name]
        share = min(len(members), max(1, round(size * len(members) / total))) if total else 0
        out += rng.sample(members, share)
    return out


def label_helper(runs: list[Run], labels: dict[Key, Label], roots: dict[str, Path], tsv: bool, context: int,
                 moved: bool = False, kinds: frozenset[str] = frozenset(), sample: int = 0, seed: int = 0) -> int:
    """Print each unjudged finding (or, with ``moved``, each matched only by a label at another line) with the
    cited source line; ``tsv``: as label rows to fill in; ``sample``: only a stratified random sample of that
    many (``draw_sample``), its rows marked with the seed."""
    picked: list[Judged] = []
    done: set[Key] = set()
    for run in runs:
        if run.report is None:
            continue
        for j in judge(run.repo, run.report.get("findings") or [], labels):
            if sample:  # the population outside the census: no label, or one written for another line
                wanted = j.verdict == "unjudged" or j.how == "moved"
            else:
                wanted = j.how == "moved" if moved else j.verdict == "unjudged"
            if not wanted or j.key in done or kinds and j.key[1] not in kinds:
                continue
            done.add(j.key)
            picked.append(j)
    mark = ""
    if sample:
        print(f"{len(picked)} unjudged or moved finding(s); stratified sample of {sample}, "
              f"seed {seed}", file=sys.stderr)
        picked = draw_sample(picked, sample, seed)
        mark = f"seed={seed}"
    for j in picked:
        if tsv:
            print("\t".join([*j.key, "?", "", "", "", mark]))
            continue
        extra = f"  (label: {j.label.verdict} {j.label.why})" if j.label else ""
        print(f"--- {' | '.join(j.key)}  [{j.finding.get('severity')}]{extra}")
        print(f"    {str(j.finding.get('message') or '')[:300]}")
        for ln in source_line(roots[j.key[0]], j.key[4], context):
            print(f"    {ln}")
    print(f"{len(picked)} {'moved' if moved else 'unjudged'} finding(s)", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- summary

def summarize(entries: list[Entry], runs: list[Run], labels: dict[Key, Label], missing: dict[str, list[str]],
              mlaudit_rev: str, wall: float, command: str, when: str) -> tuple[str, dict[str, Any]]:
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    repo_kind: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    fp_classes: Counter[tuple[str, str, str]] = Counter()
    unjudged: list[Judged] = []
    rest: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    census: dict[str, Counter[str]] = defaultdict(Counter)
    fp_list: list[Judged] = []
    moved = 0
    seen_per_repo: dict[str, set[Key]] = defaultdict(set)
    counted: set[Key] = set()
    for run in runs:
        if run.report is None:
            continue
        # duplicates are per run; a finding another target of the same repo already produced is not counted twice
        for j in judge(run.repo, run.report.get("findings") or [], labels):
            if j.how != "duplicate" and j.key in counted:
                continue
            counted.add(j.key)
            seen_per_repo[run.repo].add(j.key)
            kind = j.key[1]
            # a label written for another line is a hint for the labeller, not a judgement of this finding (the
            # corpus is pinned, so only mlaudit's attribution moved): counted as unjudged
            verdict = "unjudged" if j.how == "moved" else j.verdict
            by_kind[kind][verdict] += 1
            repo_kind[(run.repo, kind)][verdict] += 1
            moved += j.how == "moved"
            if verdict == "FP" and j.label is not None:
                fp_classes[(kind, j.label.klass or "?", j.label.lane or "?")] += 1
                fp_list.append(j)
            if j.label is None or j.label.sample or j.how == "moved":
                # not in the census (no label, or a label written for another line: the attribution changed):
                # the population a random sample stands for
                rest[(kind, run.repo)]["n"] += 1
                if j.label is not None and j.label.sample and j.how == "exact":
                    rest[(kind, run.repo)][j.verdict] += 1
            else:
                census[kind][j.verdict] += 1
            if verdict == "unjudged":
                unjudged.append(j)
    total = Counter[str]()
    for c in by_kind.values():
        total.update(c)

    md: list[str] = []
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    judged = "" if when == now else f", judged again {now}"
    md.append(f"# Real-repository corpus (audited {when}{judged})\n")
    md.append(f"mlaudit at `{mlaudit_rev}` (last commit touching auditor/data), Python {platform.python_version()}, "
              f"{os.cpu_count()} CPUs; wall time of the audit run {wall:.0f} s (all audits, terminal runs and "
              f"cross-checks). Command: `{command}`. Every figure below was measured in that run; verdicts come from "
              "`bench/realrepos/labels.tsv` (hand judgement at the cited line).\n")
    md.append("## Corpus\n")
    md.append("| repo | commit | licence | category | targets | absent in snapshot |")
    md.append("|---|---|---|---|---|---|")
    for e in entries:
        md.append(f"| [{e.name}](https://github.com/{e.repo}) | `{e.commit[:12]}` | {e.licence} | {e.category} | "
                  f"{' '.join(f'`{t}`' for t in e.targets)} | {len(missing.get(e.name, []))} |")
    md.append("\n## Runs\n")
    md.append("| repo | target | exit | s | terminal lines | complete | findings | TP | FP | unjudged | "
              "loader sites | req. files | silent drops |")
    md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        rep = run.report or {}
        findings = rep.get("findings") or []
        verdicts = Counter("unjudged" if j.how == "moved" else j.verdict
                           for j in judge(run.repo, findings, labels)) if run.report else Counter()
        silent = sum(1 for d in run.drops if not d.klass.startswith("run refused"))
        refused = len(run.drops) - silent
        drops_cell = f"{silent}" + (f" (+{refused} unaudited: refused)" if refused else "")
        if run.file_target:
            drops_cell = "- (file target)"
        complete = rep.get("complete") if run.report else "-"
        md.append(f"| {run.repo} | `{run.target}` | {run.exit} | {run.seconds:.1f} | "
                  f"{run.terminal_lines if run.terminal_lines is not None else '-'} | {complete} | {len(findings)} | "
                  f"{verdicts['TP']} | {verdicts['FP']} | {verdicts['unjudged']} | {run.sites} | {run.req_files} | "
                  f"{drops_cell} |")
    refusals = [r for r in runs if r.report is None]
    if refusals:
        md.append("\nRefused runs (no report): " + "; ".join(
            f"{r.repo} `{r.target}` exit {r.exit}: {(r.stderr.splitlines() or ['?'])[-1][:160]}" for r in refusals))
    md.append("\n## Precision by finding kind (all repos; distinct findings, duplicates count as FP)\n")
    md.append("| kind | findings | TP | FP | unjudged | precision of judged [95% Wilson] | random sample TP/FP "
              "(of findings outside the census) | estimate over all findings |")
    md.append("|---|---|---|---|---|---|---|---|")
    estimates: dict[str, str] = {}
    for kind in sorted(by_kind, key=lambda k: -sum(by_kind[k].values())):
        c = by_kind[kind]
        sample_cell, estimates[kind] = estimate(kind, census[kind], rest)
        md.append(f"| {kind} | {sum(c.values())} | {c['TP']} | {c['FP']} | {c['unjudged']} | "
                  f"{precision_cell(c['TP'], c['FP'])} | {sample_cell} | {estimates[kind]} |")
    md.append(f"| **all** | {sum(total.values())} | {total['TP']} | {total['FP']} | {total['unjudged']} | "
              f"{precision_cell(total['TP'], total['FP'])} | | |")
    if any(c["TP"] + c["FP"] for c in rest.values()):
        md.append("\nWhere a census was impractical (thousands of near-identical findings), the findings no label "
                  "covered were judged on a stratified random sample (strata kind x repo, share proportional to size, "
                  "at least one each; `--label --sample N --seed S`, seed in the label's `sample` column). The "
                  "estimate adds to the census each stratum's size times its sample precision (the kind's sample "
                  "precision where a stratum drew none); its range puts the 95% Wilson bounds of the kind's sample "
                  "on the same part.")
    md += before_after(by_kind, estimates, runs, drop_total(runs))
    if moved:
        md.append(f"\n{moved} finding(s) matched a label for the same finding at another line of the same file "
                  "(`moved`): counted as unjudged (the corpus is pinned, so only mlaudit's attribution moved) and "
                  "part of the population the random sample stands for; list them with `--label --moved`.")
    md.append("\n## Per repository and kind (TP/FP/unjudged, precision)\n")
    kinds = sorted(by_kind)
    md.append("| repo | " + " | ".join(kinds) + " |")
    md.append("|---|" + "---|" * len(kinds))
    for e in entries:
        cells = []
        for kind in kinds:
            c = repo_kind.get((e.name, kind))
            if not c:
                cells.append("-")
                continue
            cell = f"{c['TP']}/{c['FP']}" + (f"/{c['unjudged']}?" if c["unjudged"] else "")
            if c["TP"] + c["FP"]:
                cell += f" ({c['TP'] / (c['TP'] + c['FP']):.0%})"
            cells.append(cell)
        md.append(f"| {e.name} | " + " | ".join(cells) + " |")
    md.append("\n## False positives by class\n")
    md.append("| kind | class | lane | findings |")
    md.append("|---|---|---|---|")
    for (kind, klass, lane), n in fp_classes.most_common():
        md.append(f"| {kind} | {klass} | {lane} | {n} |")
    if fp_list:
        md.append("\n## Every false positive (repo, kind, subject, cited place: class -- why)\n")
        for j in sorted(fp_list, key=lambda j: (j.label.klass if j.label else "", j.key)):
            why = j.label.why if j.label else ""
            sampled = " (sample)" if j.label and j.label.sample else ""
            md.append(f"- {j.key[0]} {j.key[1]} `{j.key[3]}` `{j.key[4]}`: {j.label.klass if j.label else '?'}"
                      f"{sampled} -- {why}")
    md.append("\n## Silent drops by class (independent cross-check; folder targets)\n")
    drop_classes: Counter[tuple[str, str]] = Counter()
    for run in runs:
        for d in run.drops:
            drop_classes[(run.repo if run.target == "." else f"{run.repo} `{run.target}`", d.klass)] += 1
    classes = Counter[str]()
    for (_, klass), n in drop_classes.items():
        classes[klass] += n
    md.append("| class | sites/files | repos |")
    md.append("|---|---|---|")
    for klass, n in classes.most_common():
        repos = sorted({r for (r, k) in drop_classes if k == klass})
        md.append(f"| {klass} | {n} | {', '.join(repos)} |")
    silent_total = sum(n for k, n in classes.items() if not k.startswith("run refused"))
    refused_total = sum(n for k, n in classes.items() if k.startswith("run refused"))
    groups: Counter[str] = Counter()
    for klass, n in classes.items():
        if not klass.startswith("run refused"):
            groups[klass.split(":", 1)[0]] += n
    split = ", ".join(f"{g} {n}" for g, n in groups.most_common())
    split = f"{split}; " if split else ""
    md.append(f"\nSilent drops: **{silent_total}** ({split}hub = Hugging Face loaders, registry = open_clip/timm "
              "pretrained tags, torch.hub, whisper, pickle = torch.load/joblib.load of run-time paths, file = "
              f"requirement-like files); left unaudited by refused runs: {refused_total}. Each dropped site and file "
              "is listed in `<scratch>/results/drops.tsv`.")
    if unjudged:
        md.append(f"\n**{len(unjudged)} unjudged finding(s)**: precision above is provisional. List them with "
                  "`--label`.")
    summary = {"findings": {k: dict(v) for k, v in by_kind.items()}, "total": dict(total),
               "silent_drops": silent_total, "refused_unaudited": refused_total, "unjudged": len(unjudged),
               "drop_classes": dict(classes)}
    if NOTES.is_file():  # hand-written: how the run was judged, what is fixed and what is open (not measured here)
        md.append("\n" + NOTES.read_text(encoding="utf-8").strip())
    return "\n".join(md) + "\n", summary


def drop_total(runs: list[Run]) -> int:
    return sum(1 for run in runs for d in run.drops if not d.klass.startswith("run refused"))


def before_after(by_kind: dict[str, Counter[str]], estimates: dict[str, str], runs: list[Run],
                 silent: int) -> list[str]:
    """The first run's figures (``baseline.json``: same corpus, same commits, every finding judged by hand) next to
    this run's."""
    if not BASELINE.is_file():
        return []
    base = json.loads(BASELINE.read_text(encoding="utf-8"))
    md = [f"\n## Before and after\n\nBefore = {base['label']}; after = this run.\n",
          "| kind | before: findings | before: precision [95% Wilson] | after: findings | after: precision of judged "
          "[95% Wilson] | after: estimate over all findings |", "|---|---|---|---|---|---|"]
    kinds = sorted(set(base["findings"]) | set(by_kind),
                   key=lambda k: -sum(base["findings"].get(k, {}).values()) - sum(by_kind.get(k, Counter()).values()))
    for kind in kinds:
        b = base["findings"].get(kind, {})
        a = by_kind.get(kind, Counter())
        md.append(f"| {kind} | {sum(b.values())} | {precision_cell(b.get('TP', 0), b.get('FP', 0))} | "
                  f"{sum(a.values())} | {precision_cell(a['TP'], a['FP'])} | {estimates.get(kind, '-')} |")
    b_tp = sum(c.get("TP", 0) for c in base["findings"].values())
    b_fp = sum(c.get("FP", 0) for c in base["findings"].values())
    a_tp = sum(c["TP"] for c in by_kind.values())
    a_fp = sum(c["FP"] for c in by_kind.values())
    md.append(f"| **all** | {b_tp + b_fp} | {precision_cell(b_tp, b_fp)} | {sum(sum(c.values()) for c in by_kind.values())}"
              f" | {precision_cell(a_tp, a_fp)} | |")
    refused = [r for r in runs if r.report is None]
    lines = [r.terminal_lines for r in runs if r.terminal_lines is not None]
    md.append("\n| measure | before | after |\n|---|---|---|")
    md.append(f"| silent drops (cross-check) | {base['silent_drops']} | {silent} |")
    md.append(f"| refused runs (exit 2, no report) | {base['refused_runs']} (leaving {base['refused_unaudited']} "
              f"sites/files unaudited) | {len(refused)} |")
    md.append(f"| max terminal lines of one run | {base['max_terminal_lines']} | {max(lines) if lines else '-'} |")
    return md


def estimate(kind: str, census: Counter[str], rest: dict[tuple[str, str], Counter[str]]) -> tuple[str, str]:
    """The sample cell and the estimated precision over all findings of ``kind``: the census (findings with a
    label written for them) as counted, plus each stratum of the rest times its sample precision (the kind's
    sample precision where the stratum drew none). The range puts the kind's 95% Wilson bounds on the rest."""
    strata = {repo: c for (k, repo), c in rest.items() if k == kind}
    s_tp = sum(c["TP"] for c in strata.values())
    s_fp = sum(c["FP"] for c in strata.values())
    if not s_tp + s_fp:
        return "-", "-"
    n_rest = sum(c["n"] for c in strata.values())
    n_all = n_rest + census["TP"] + census["FP"]
    kind_p = s_tp / (s_tp + s_fp)
    point = census["TP"] + sum(c["n"] * (c["TP"] / (c["TP"] + c["FP"]) if c["TP"] + c["FP"] else kind_p)
                               for c in strata.values())
    lo, hi = wilson(s_tp, s_tp + s_fp)
    return (f"{s_tp}/{s_fp} of {n_rest} ({precision_cell(s_tp, s_fp)})",
            f"{point / n_all:.0%} [{(census['TP'] + n_rest * lo) / n_all:.0%}–"
            f"{(census['TP'] + n_rest * hi) / n_all:.0%}]")


def bench_rows(summary: dict[str, Any], runs: list[Run]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for kind, c in sorted(summary["findings"].items()):
        tp, fp = c.get("TP", 0), c.get("FP", 0)
        rows.append({"case": f"precision {kind}", "tool": "mlaudit",
                     "detection": f"{tp}/{tp + fp} {precision_cell(tp, fp)}",
                     "note": f"{c.get('unjudged', 0)} unjudged" if c.get("unjudged") else ""})
    rows.append({"case": "silent drops", "tool": "mlaudit", "detection": str(summary["silent_drops"]),
                 "note": f"{summary['refused_unaudited']} unaudited by refused runs"})
    for run in runs:
        rows.append({"case": f"audit {run.repo} {run.target}", "tool": "mlaudit", "median": round(run.seconds, 2),
                     "unit": "s", "runs": 1, "note": f"exit {run.exit}"})
    return rows


# ---------------------------------------------------------------- main

def _mlaudit_rev() -> str:
    try:
        # the last commit that changed what is measured (the auditor and its data), not a bench-only commit
        rev = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h", "--", "auditor", "data",
                              "templates", "pyproject.toml"], capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "auditor", "data"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def load_saved(results: Path, entry: Entry, target: str) -> Run | None:
    meta = results / "run.json"
    out = results / f"{entry.name}__{_slug(target)}.json"
    saved: dict[str, Any] = {}
    if meta.is_file():
        saved = next((r for r in json.loads(meta.read_text()).get("runs", [])
                      if r["repo"] == entry.name and r["target"] == target), {})
    if not saved:
        return None
    report = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else None
    return Run(entry.name, target, saved["exit"], saved["seconds"], report, saved.get("stderr", ""),
               saved.get("terminal_lines"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--mirror", default=os.environ.get("MLAUDIT_MIRROR"),
                    help="folder of bare snapshots <owner>+<name>/repo (or MLAUDIT_MIRROR)")
    ap.add_argument("--scratch", default=os.environ.get("MLAUDIT_CORPUS_DIR"),
                    help="checkouts, caches and results (or MLAUDIT_CORPUS_DIR; default: system temp dir)")
    ap.add_argument("--only", default="", help="comma-separated manifest names")
    ap.add_argument("--no-run", action="store_true", help="reuse the results of the last run (relabel, summarize)")
    ap.add_argument("--no-terminal", action="store_true", help="skip the terminal run that counts output lines")
    ap.add_argument("--label", action="store_true", help="list unjudged findings with their cited source line")
    ap.add_argument("--tsv", action="store_true", help="with --label: print label rows to fill in")
    ap.add_argument("--kind", default="", help="with --label: only these finding kinds (comma-separated)")
    ap.add_argument("--moved", action="store_true", help="with --label: list findings matched at another line")
    ap.add_argument("--sample", type=int, default=0,
                    help="with --label: a stratified random sample of this many (strata: kind x repo)")
    ap.add_argument("--seed", type=int, default=23, help="with --sample: random seed (default 23)")
    ap.add_argument("--context", type=int, default=1, help="with --label: source lines around the cited one")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "realrepos.md"), help="Markdown summary")
    ap.add_argument("--json", dest="json_out", help="bench/run.py result file")
    ap.add_argument("--jobs", type=int, default=2, help="audits run side by side (default 2)")
    ap.add_argument("--quick", action="store_true", help="the three smallest repositories only")
    args = ap.parse_args(argv)

    entries = load_manifest()
    if args.only:
        wanted = {n.strip() for n in args.only.split(",") if n.strip()}
        unknown = wanted - {e.name for e in entries}
        if unknown:
            ap.error(f"not in the manifest: {', '.join(sorted(unknown))}")
        entries = [e for e in entries if e.name in wanted]
    if args.quick:
        entries = [e for e in entries if e.name in ("nanoGPT", "whisper", "litgpt")]
    scratch = Path(args.scratch or Path(tempfile.gettempdir()) / "mlaudit-realrepos")
    results = scratch / "results"
    results.mkdir(parents=True, exist_ok=True)
    reuse = args.no_run or (args.label and (results / "run.json").is_file())
    if not args.mirror and not reuse:
        msg = "no mirror of the corpus (--mirror DIR or MLAUDIT_MIRROR): nothing measured"
        print(msg, file=sys.stderr)
        if args.json_out:
            Path(args.json_out).write_text(json.dumps({"name": "realrepos", "quick": args.quick, "anchors": {},
                                                       "rows": [], "notes": [msg]}))
        return 0 if args.json_out else 2
    labels = load_labels()
    started = time.monotonic()
    cache = scratch / "cache"
    if not reuse and cache.exists():
        shutil.rmtree(cache)
    jobs: list[tuple[Entry, Path, str]] = []
    roots: dict[str, Path] = {}
    missing: dict[str, list[str]] = {}
    for e in entries:
        root = scratch / "src" / e.name
        roots[e.name] = root
        if not reuse:
            gitdir = mirror_dir(Path(args.mirror), e.repo)
            if not gitdir.is_dir():
                print(f"{e.name}: no snapshot at {gitdir} (fetch {e.repo})", file=sys.stderr)
                continue
            try:
                missing[e.name] = checkout(gitdir, e.commit, root)
            except subprocess.CalledProcessError:
                print(f"{e.name}: commit {e.commit} not in the snapshot (fetch it again?)", file=sys.stderr)
                continue
        else:
            mf = root.with_name(root.name + ".missing")
            missing[e.name] = mf.read_text().splitlines() if mf.is_file() else []
        for target in e.targets:
            jobs.append((e, root, target))

    def one(job: tuple[Entry, Path, str]) -> Run | None:
        e, root, target = job
        if reuse:
            run = load_saved(results, e, target)
            if run is None:
                print(f"{e.name} {target}: no saved result", file=sys.stderr)
                return None
        else:
            run = audit(root, target, results, e.name, cache, terminal=not args.no_terminal)
            print(f"== {e.name} {target}: exit {run.exit} in {run.seconds:.1f} s", file=sys.stderr, flush=True)
        if not args.label:
            cross_check(root, run)
        return run

    # Audits run side by side (--jobs); each is one mlaudit process, so the figures per run stay its own.
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        runs = [r for r in pool.map(one, jobs) if r is not None]
    if args.label:
        kinds = frozenset(k.strip() for k in args.kind.split(",") if k.strip())
        return label_helper(runs, labels, roots, args.tsv, args.context, args.moved, kinds, args.sample,
                            args.seed)
    wall = time.monotonic() - started
    mlaudit_rev = _mlaudit_rev()
    when = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    if reuse and (results / "run.json").is_file():  # the figures of the run being re-judged, not of this re-summary
        saved_run = json.loads((results / "run.json").read_text())
        wall = float(saved_run.get("wall_seconds") or 0.0)
        mlaudit_rev = str(saved_run.get("mlaudit") or mlaudit_rev)
        when = str(saved_run.get("finished") or "?")
    if not reuse:
        (results / "run.json").write_text(json.dumps({"mlaudit": mlaudit_rev, "wall_seconds": round(wall, 1),
                                                      "finished": when,
                                                      "runs": [
            {"repo": r.repo, "target": r.target, "exit": r.exit, "seconds": round(r.seconds, 2),
             "terminal_lines": r.terminal_lines, "stderr": r.stderr} for r in runs]}, indent=1))
    with (results / "drops.tsv").open("w", encoding="utf-8") as fh:
        fh.write("repo\ttarget\tfile\tline\twhat\tclass\n")
        for r in runs:
            for d in r.drops:
                fh.write(f"{r.repo}\t{r.target}\t{d.file}\t{d.line or ''}\t{d.what}\t{d.klass}\n")
    command = "python bench/realrepos.py --mirror DIR" + (" --no-run" if args.no_run else "")
    md, summary = summarize(entries, runs, labels, missing, mlaudit_rev, wall, command, when)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(md, encoding="utf-8")
    print(md)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"name": "realrepos", "quick": args.quick, "anchors": {},
                                                   "rows": bench_rows(summary, runs), "notes": []}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Audit-time evaluation sets for the typosquat check (a helper of ``bench/typosquat.py``; the ``_`` keeps
``bench/run.py`` from running it on its own).

The name model is fitted on the dev rows of the shared eval set only. Everything here is measured with the shipped
model and comes from elsewhere, so none of it was fitted on:

- **positives**: malicious PyPI records published from 2024-06-01 (``shared/data/malicious_pypi_osv.jsonl.gz``) whose
  name imitates a top-15,000 project, minus every dev row. They are labelled here by fixed rules written from the
  eval README (separator, look-alike digits, one swap, one edit, target plus generic words, two edits onto a long
  much-hit target, re-ordered tokens), never by the detector; there is no hand review (the README's manual drop
  list is not public), so a few chance resemblances stay in.
- **genuine names from real lockfiles**: every package of the uv.lock files pinned in
  ``bench/typosquat_lockfiles.tsv`` (read from bare git copies given with ``--mirrors``; never committed).
- **genuine names from real requirement files**: every project a requirement file of
  ``bench/typosquat_requirements.tsv`` names (Home Assistant's ``requirements_all.txt``: the long tail of small
  integration libraries the issue's genuine set held), read from a bare git copy in ``--mirrors`` or, for a
  repository too large to mirror, from a copy of the file at that commit in ``--requirements-dir``
  (``owner+name/<path>``; never committed). A flat file says nothing of who requires what: no name is vouched for.
- **young genuine names near popular ones** (the hard negatives): projects of the PyPI package list (``--pypi-list``:
  name, newest version, month of the newest release, summary) whose newest release is from the 90 days before the
  list was taken and carries an early version (0.1-0.3.x, 1.0: most likely the project's first weeks), that sit
  one edit from a top-3,000 name or extend a top-300 name with words, and are neither popular nor in the malicious
  records (which end in 2025-06). "Genuine" means only that: unreported squats surely hide among them.

What each name's record holds at audit time (``NameContext``, derived by the audit's own
``auditor.typosquat.metadata.context_from_json`` from a JSON document), and the assumptions:

- genuine names (lockfile and young): their real index document (``bench/_typosquat_index.py``, ``--index-json``),
  read as an audit on a fixed day would (young names: the list's day; lockfile names: the lock commit's day; later
  uploads do not count); lockfile names keep the popular packages the lock says require them. Names the index no
  longer has (404) are not genuine and are left out (listed by the caller);
- positives: the versions their reports name, each uploaded when the report's origin entry saw it (the
  package-analysis feeds watch new uploads), audited 0-30 days after the first upload (seeded: a live squat),
  required by no popular package; links and summary, which reports do not carry, under two stated worst cases for
  the detector: ``copied`` from the imitated project's real document, or ``absent``.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import json
import random
import re
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the project's own fallback on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.typosquat.affixes import PY_MARKERS, RELEASE_WORDS, AffixVocabulary, is_version_token  # noqa: E402
from auditor.typosquat.context import NameContext  # noqa: E402
from auditor.typosquat.popular import PopularList  # noqa: E402
from bench import _common as common  # noqa: E402
from bench._typosquat_squatmeta import SquatFile  # noqa: E402

CUTOFF = "2024-06-01"
MANIFEST = ROOT / "bench" / "typosquat_lockfiles.tsv"
REQUIREMENTS_MANIFEST = ROOT / "bench" / "typosquat_requirements.tsv"
SEED = 20261206
LIST_DATE = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)  # the PyPI package list's day
YOUNG_DAYS = 90
YOUNG_LIMIT = 1500
GENERIC_BASES = 5
# versions a project's first releases carry: with the newest release in the last 90 days, such a project is most
# likely younger than that (a later version would say little about its first upload, which the list does not give)
FIRST_RELEASE = re.compile(r"^(0\.[1-3](\.\d+)?|1\.0(\.0)?)([ab]\d+|rc\d+|\.dev\d+)?$")
DECOYS = ("python", "pip", "setup", "install", "tiktok", "opensea", "tron", "telegram")  # the eval README's

# README look-alikes: 0/o, 1/l, 1/i, 3/e, 4/a, 5/s, 7/t, 8/b, 9/g, rn/m, vv/w
_LOOK = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "i": "l"})


def canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[-_.]+", name) if t]


def letters(name: str) -> int:
    return sum(c.isalpha() for c in name)


def look_skeleton(name: str) -> str:
    s = re.sub(r"[-_.]", "", name.lower()).replace("rn", "m").replace("vv", "w")
    return s.translate(_LOOK)


@dataclass
class Positive:
    name: str
    target: str
    technique: str  # separator, homoglyph/digit, transposition, edit1, edit2, combo, glued-combo, reorder
    published: str
    versions: int | None
    osv_id: str
    # version -> the time a report source saw it (``database_specific.malicious-packages-origins``: the package
    # analysis feeds watch new uploads, so their time is within hours of the upload); may be empty
    version_times: dict[str, str] = field(default_factory=dict)


@dataclass
class Negative:
    name: str
    group: str  # lockfile / requirements / young
    source: str  # the project whose lock holds it, or the list month
    context: NameContext
    now: dt.datetime
    note: str = ""


@dataclass
class Labeller:
    """Rule-based labels from the eval README (independent of the detector's features and model)."""

    popular: PopularList
    vocab: AffixVocabulary
    hits: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        keys = self.popular.keys
        self.eligible = [k for k in keys if letters(k) >= 4]
        self.stripped = {}
        self.skeletons = {}
        for k in reversed(self.eligible):  # the most popular wins
            self.stripped[k.replace("-", "")] = k
            self.skeletons[look_skeleton(k)] = k
        self.token_sets = {}
        for k in reversed(self.eligible):
            toks = tokens(k)
            if len(toks) >= 2:
                self.token_sets[tuple(sorted("python" if t == "py" else t for t in toks))] = k

    def generic(self, token: str) -> bool:
        """Version digits, a py marker, a release word, or a word added to at least five popular names."""
        return (is_version_token(token) or token in PY_MARKERS or token in RELEASE_WORDS
                or self.vocab.count(token) >= GENERIC_BASES)

    def label(self, name: str, near: dict[str, int]) -> tuple[str, str] | None:
        rank = self.popular.rank_of
        if name in rank:
            return None
        flat = name.replace("-", "")
        if flat in self.stripped and self.stripped[flat] != name:
            return self.stripped[flat], "separator"
        skel = look_skeleton(name)
        if skel in self.skeletons and self.skeletons[skel] != name and any(c.isdigit() for c in name + "rnvv"):
            target = self.skeletons[skel]
            if target.replace("-", "") != flat:
                return target, "homoglyph/digit"
        ones = sorted((t for t, d in near.items() if d == 1), key=lambda t: rank[t])
        for t in ones:
            if letters(t) >= 6 or rank[t] <= 500 or self.hits[t] >= 2:
                swapped = any(name == t[:i] + t[i + 1] + t[i] + t[i + 2:] for i in range(len(t) - 1))
                return t, "transposition" if swapped else "edit1"
        combo = self._combo(name)
        if combo:
            return combo
        toks = tokens(name)
        if len(toks) >= 2:
            key = tuple(sorted("python" if t == "py" else t for t in toks))
            t = self.token_sets.get(key)
            if t and t != name:
                return t, "reorder"
        twos = sorted((t for t, d in near.items() if d == 2), key=lambda t: rank[t])
        for t in twos:
            if letters(t) >= 7 and (self.hits[t] >= 3 or rank[t] <= 300) and _indel_ratio(name, t) >= 0.8:
                return t, "edit2"
        return None

    def _combo(self, name: str) -> tuple[str, str] | None:
        rank = self.popular.rank_of
        toks = tokens(name)
        best: tuple[int, str, str] | None = None
        n = len(toks)
        for lo in range(n):
            for hi in range(lo + 1, n + 1):
                core = "-".join(toks[lo:hi])
                if core not in rank or letters(core) < 4 or (lo == 0 and hi == n):
                    continue
                extra = toks[:lo] + toks[hi:]
                if len(extra) <= 2 and all(self.generic(t) for t in extra):
                    if best is None or rank[core] < best[0]:
                        best = (rank[core], core, "combo")
        if best is None and n <= 2:  # glued: <generic><target> or <target><generic>, one token glued
            for i, tok in enumerate(toks):
                for cut in range(2, len(tok) - 3):
                    for core_piece, extra in ((tok[cut:], tok[:cut]), (tok[:len(tok) - cut], tok[len(tok) - cut:])):
                        parts = toks[:i] + [core_piece] + toks[i + 1:]
                        core = "-".join(parts)
                        if core in rank and letters(core) >= 4 and self.generic(extra):
                            if best is None or rank[core] < best[0]:
                                best = (rank[core], core, "glued-combo")
        return (best[1], best[2]) if best else None


def _indel_ratio(a: str, b: str) -> float:
    from rapidfuzz.distance import Indel

    return float(Indel.normalized_similarity(a, b))


def near_map(names: list[str], keys: list[str]) -> dict[str, dict[str, int]]:
    import numpy as np
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    out: dict[str, dict[str, int]] = {}
    if not names:
        return out
    matrix = process.cdist(names, keys, scorer=OSA.distance, score_cutoff=2, dtype=np.int32, workers=-1)
    for name, row in zip(names, matrix, strict=True):
        out[name] = {keys[i]: int(row[i]) for i in np.flatnonzero(row <= 2).tolist() if keys[i] != name}
    return out


def read_malicious(shared: Path) -> list[dict[str, object]]:
    path = shared / "data" / "malicious_pypi_osv.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def heldout_positives(shared: Path, popular: PopularList, vocab: AffixVocabulary,
                      dev_names: set[str], since: str = CUTOFF) -> tuple[list[Positive], dict[str, int]]:
    """Malicious look-alikes published from ``since`` that are not dev rows, labelled by ``Labeller``; and the
    drop counts."""
    records = read_malicious(shared)
    by_name: dict[str, dict[str, object]] = {}
    for r in records:
        name = canon(str(r["affected"][0]["package"]["name"]))  # type: ignore[index]
        if str(r["published"]) >= since and name not in by_name:
            by_name[name] = r
    labeller = Labeller(popular, vocab)
    names = sorted(by_name)
    near = near_map(names, labeller.eligible)
    for name in names:  # how often each target is hit (the README's "hit by >= N malicious names")
        for t, d in near[name].items():
            if d <= 2:
                labeller.hits[t] += 1
    drops: Counter[str] = Counter()
    out: list[Positive] = []
    for name in names:
        r = by_name[name]
        if name in dev_names:
            drops["dev row"] += 1
            continue
        if "esquelesquad" in str(r.get("details") or "").lower():
            drops["EsqueleSquad campaign"] += 1
            continue
        got = labeller.label(name, near[name])
        if got is None:
            drops["no popular target by the rules"] += 1
            continue
        target, technique = got
        if any(_decoy_closer(name, d, target) for d in DECOYS):
            drops["closer to a decoy word"] += 1
            continue
        versions = r["affected"][0].get("versions")  # type: ignore[index]
        times = origin_times(r)
        listed = set(versions) if isinstance(versions, list) else set()
        count = len(listed | set(times)) or None
        out.append(Positive(name, target, technique, str(r["published"])[:10], count, str(r["id"]), times))
    return out, dict(drops)


def origin_times(record: dict[str, object]) -> dict[str, str]:
    """Version -> earliest time a report source saw it (from the record's origins; {} when none say)."""
    out: dict[str, str] = {}
    spec = record.get("database_specific")
    origins = spec.get("malicious-packages-origins") if isinstance(spec, dict) else None
    for o in origins if isinstance(origins, list) else []:
        if not isinstance(o, dict):
            continue
        stamp = o.get("modified_time") or o.get("import_time")
        for v in o.get("versions") or []:
            if isinstance(stamp, str) and (v not in out or stamp < out[v]):
                out[str(v)] = stamp
    return out


def _decoy_closer(name: str, decoy: str, target: str) -> bool:
    from rapidfuzz.distance import OSA

    return decoy != target and OSA.distance(name, decoy) < OSA.distance(name, target)


def positive_doc(p: Positive, metadata: str, target_doc: dict[str, object] | None,
                 own: dict[str, object] | None = None) -> dict[str, object]:
    """The squat's index document as far as the report, and its published metadata or a stated assumption, give it.

    Releases: every version the report names, each uploaded when a report source saw it (versions without a time:
    the record's publish time). ``metadata``: ``real`` (``own``: the summary, home page and project URLs the squat's
    own published file carried, from the corpus of ``bench/_typosquat_squatmeta.py``), ``copied`` (the imitated
    project's, taken from its real document) or ``absent`` (no summary, no links). Files are sdists (wheels are not
    scored)."""
    times = dict(p.version_times)
    if not times:
        times = {f"v{i}": p.published + "T00:00:00Z" for i in range(p.versions or 1)}
    releases = {v: [{"upload_time_iso_8601": t, "packagetype": "sdist", "yanked": False}] for v, t in times.items()}
    info: dict[str, object] = {"name": p.name, "summary": "", "home_page": "", "project_urls": None}
    if metadata == "real":
        assert own is not None, "real metadata needs the squat's own file"
        info.update(own)
    elif metadata == "copied" and isinstance(target_doc, dict):
        theirs = target_doc.get("info") if isinstance(target_doc.get("info"), dict) else {}
        assert isinstance(theirs, dict)
        info.update(summary=theirs.get("summary") or "", home_page=theirs.get("home_page") or "",
                    project_urls=theirs.get("project_urls"))
    return {"info": info, "releases": releases}


def positive_context(p: Positive, rng: random.Random, age: str, metadata: str, candidate: str | None,
                     docs: dict[str, dict[str, object] | None],
                     own: dict[str, object] | None = None) -> tuple[NameContext, dt.datetime]:
    """The record a live squat shows at audit time (``age``: ``live``: audited 0-30 days after its first upload,
    seeded; ``unknown``: no upload times at all), with ``metadata`` copied or absent (see ``positive_doc``)."""
    from auditor.typosquat.metadata import context_from_json

    doc = positive_doc(p, metadata, docs.get(p.target), own)
    stamps = [_parse_time(f["upload_time_iso_8601"]) for fs in doc["releases"].values()  # type: ignore[attr-defined]
              for f in fs]
    first = min(t for t in stamps if t is not None)
    now = first + dt.timedelta(days=rng.uniform(0, 30))
    cand = canon(candidate) if candidate else None
    ctx = context_from_json(doc, docs.get(cand) if cand else None, name=p.name, target=cand, until=now)
    if age == "unknown":
        ctx = replace(ctx, first_upload=None, release_days=None, release_span_days=None)
    return replace(ctx, required_by=(), source=f"bench: report + {metadata} metadata"), now


def own_metadata(p: Positive, files: list[SquatFile]) -> dict[str, object] | None:
    """The metadata a squat's own published file carried (its name's corpus files that have a metadata member):
    the file of its earliest-uploaded version per the report (else the lowest version string), since an audit
    meets a live squat at its first releases. None when the corpus holds no such file."""
    rows = [f for f in files if f.metadata]
    if not rows:
        return None
    times = p.version_times

    def order(f: SquatFile) -> tuple[int, str, str]:
        return (0, times[f.version], f.version) if f.version in times else (1, "", f.version)

    return min(rows, key=order).info()


def negative_context(n: Negative, candidate: str | None, docs: dict[str, dict[str, object] | None]) -> NameContext:
    """A genuine name's record from its real index document, as an audit on ``n.now`` would have read it."""
    from auditor.typosquat.metadata import context_from_json

    doc = docs.get(n.name)
    assert doc is not None
    cand = canon(candidate) if candidate else None
    ctx = context_from_json(doc, docs.get(cand) if cand else None, name=n.name, target=cand, until=n.now)
    return replace(ctx, required_by=n.context.required_by, source="bench: index JSON API")


# -- genuine names from real lockfiles -------------------------------------------------------------------------------
def read_manifest(path: Path = MANIFEST) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [row for row in csv.DictReader(fh, delimiter="\t") if row.get("repo")]


def lockfile_negatives(mirrors: Path, popular: PopularList) -> tuple[list[Negative], list[str]]:
    """One ``Negative`` per distinct package name over the manifest's uv.lock files (the first lock naming it
    gives its record); notes for locks that could not be read."""
    notes: list[str] = []
    seen: dict[str, Negative] = {}
    for row in read_manifest():
        git_dir = common.mirror_git_dir(mirrors, row["repo"])
        try:
            lock = tomllib.loads(_git_show(git_dir, row["commit"], row["path"]))
        except (OSError, subprocess.SubprocessError, tomllib.TOMLDecodeError) as exc:
            notes.append(f"{row['repo']}:{row['path']} not read ({type(exc).__name__})")
            continue
        packages = lock.get("package", [])
        children: dict[str, set[str]] = defaultdict(set)
        for pkg in packages:
            parent = canon(pkg.get("name", ""))
            for group in [pkg.get("dependencies", [])] + list((pkg.get("optional-dependencies") or {}).values()):
                for dep in group:
                    if isinstance(dep, dict) and dep.get("name"):
                        children[parent].add(canon(dep["name"]))
        required = vouched(children, popular)
        commit_day = _commit_day(git_dir, row["commit"])
        for pkg in packages:
            name = canon(pkg.get("name", ""))
            source = pkg.get("source") or {}
            if not name or name in seen or not (isinstance(source, dict) and "registry" in source):
                continue  # the project's own workspace members, git and path sources are not index names
            uploads = [_parse_time(f.get("upload-time")) for f in [pkg.get("sdist") or {}, *pkg.get("wheels", [])]
                       if isinstance(f, dict)]
            times = [t for t in uploads if t is not None]
            ctx = NameContext(on_index=True, first_upload=min(times) if times else None, release_count=1,
                              required_by=tuple(sorted(required.get(name, ()), key=lambda n: popular.rank_of[n])),
                              source=f"bench: {row['repo']} uv.lock")
            seen[name] = Negative(name, "lockfile", row["repo"], ctx, commit_day)
    return list(seen.values()), notes


def requirements_negatives(mirrors: Path | None, copies: Path | None,
                           seen_names: set[str]) -> tuple[list[Negative], list[str]]:
    """One ``Negative`` per distinct project named by the manifest's requirement files and not already a genuine
    name of another set (``seen_names``); notes for files or lines that could not be read.

    Each name keeps the version its line pins (``note``) so that ``set_requirements_day`` can date the audit when
    the commit's own date is not at hand (a copied file): an audit of a pin set runs no earlier than the newest
    upload among its pinned versions. Lines that are options (``-r``, ``-c``, ``--only-binary``) or direct URL
    references (not index names) are skipped and counted."""
    from packaging.requirements import InvalidRequirement, Requirement

    notes: list[str] = []
    out: dict[str, Negative] = {}
    for row in read_manifest(REQUIREMENTS_MANIFEST):
        folder = row["repo"].replace("/", "+")
        text: str | None = None
        day: dt.datetime | None = None
        git_dir = common.mirror_git_dir(mirrors, row["repo"]) if mirrors else None
        if git_dir is not None and git_dir.is_dir():
            try:
                text = _git_show(git_dir, row["commit"], row["path"])
                day = _commit_day(git_dir, row["commit"])
            except (OSError, subprocess.SubprocessError):
                text = None
        if text is None and copies is not None and (copies / folder / row["path"]).is_file():
            text = (copies / folder / row["path"]).read_text(encoding="utf-8")
        if text is None:
            notes.append(f"{row['repo']}:{row['path']} not read (no mirror and no copy)")
            continue
        skipped: Counter[str] = Counter()
        for raw in text.splitlines():
            line = re.sub(r"(^|\s)#.*$", "", raw).strip()
            if not line:
                continue
            if line.startswith("-") or "://" in line:
                skipped["option or URL line"] += 1
                continue
            try:
                req = Requirement(line)
            except InvalidRequirement:
                skipped["unparsable line"] += 1
                continue
            name = canon(req.name)
            if name in seen_names or name in out:
                skipped["already a genuine name"] += 1
                continue
            pins = [s.version for s in req.specifier if s.operator == "=="]
            ctx = NameContext(on_index=True, required_by=(), source=f"bench: {row['repo']} {row['path']}")
            out[name] = Negative(name, "requirements", row["repo"], ctx, day or LIST_DATE,
                                 note=(pins[0] if pins else "") + ("" if day is None else "|dated"))
        notes.append(f"{row['repo']}:{row['path']}: {len(out)} names; skipped {dict(skipped)}")
    return list(out.values()), notes


def set_requirements_day(negatives: list[Negative], docs: dict[str, dict[str, object] | None]) -> dict[str, str]:
    """Date the audit of each requirement file read from a copy (no commit date): the newest upload among its
    pinned versions, each dated by its first file (the pin set cannot be older). Returns source -> the day used, for the report."""
    newest: dict[str, dt.datetime] = {}
    undated = [n for n in negatives if n.group == "requirements" and not n.note.endswith("|dated")]
    for n in undated:
        doc = docs.get(n.name) or {}
        files = (doc.get("releases") or {}).get(n.note) if isinstance(doc, dict) else None  # type: ignore[union-attr]
        stamps = [t for t in (_parse_time(f.get("upload_time_iso_8601")) for f in files or [] if isinstance(f, dict))
                  if t is not None]
        if not stamps:
            continue
        released = min(stamps)  # the release's day (files added to an old release later do not date the pin set)
        if n.source not in newest or released > newest[n.source]:
            newest[n.source] = released
    for n in undated:
        if n.source in newest:
            n.now = newest[n.source]
    return {k: v.date().isoformat() for k, v in newest.items()}


def vouched(children: dict[str, set[str]], popular: PopularList) -> dict[str, set[str]]:
    """Name -> popular names whose dependency tree brings it in (the check's rule: ``popular_requirers``)."""
    out: dict[str, set[str]] = defaultdict(set)
    for top in [n for n in children if n in popular.rank_of]:
        seen = {top}
        queue = list(children[top])
        while queue:
            node = queue.pop()
            if node in seen:
                continue
            seen.add(node)
            out[node].add(top)
            if node not in popular.rank_of:
                queue.extend(children.get(node, ()))
    return out


def _git_show(git_dir: Path, commit: str, path: str) -> str:
    """``path`` as of ``commit`` in a bare git copy (``subprocess.CalledProcessError`` when it has no such file)."""
    return subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"], capture_output=True,
                          text=True, check=True, timeout=120).stdout


def _commit_day(git_dir: Path, commit: str) -> dt.datetime:
    out = subprocess.run(["git", "--git-dir", str(git_dir), "show", "-s", "--format=%cI", commit],
                         capture_output=True, text=True, check=False).stdout.strip()
    try:
        return dt.datetime.fromisoformat(out).astimezone(dt.timezone.utc)
    except ValueError:
        return LIST_DATE


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


# -- young genuine names near popular ones ---------------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"typosquat|placeholder|reserved|security holding|malicious|name squat|protect", re.I)


def young_negatives(pypi_list: Path, popular: PopularList, malicious: set[str], dev_names: set[str],
                    limit: int = YOUNG_LIMIT) -> tuple[list[Negative], dict[str, int]]:
    """Young projects near popular names from the PyPI package list (see the module docstring).

    "Genuine" is the eval README's rule for its unranked near-popular names, less the age: never in the malicious
    records, a summary of at least 20 characters that is not a placeholder and not the summary of a popular
    project, a version that is not 0.0.x. The malicious records end in 2025-06 and these names are from the last
    90 days before the list (2026-12), so unreported squats surely remain among them.
    """
    since = (LIST_DATE - dt.timedelta(days=YOUNG_DAYS)).strftime("%Y-%m")
    rows: list[tuple[str, str, str]] = []
    popular_summaries: set[str] = set()
    candidates: list[tuple[str, str, str, str]] = []
    with pypi_list.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        next(reader, None)
        for parts in reader:
            if len(parts) < 5:
                continue
            name = canon(parts[0])
            if name in popular.rank_of:
                popular_summaries.add(_words(parts[4]))
                continue
            if parts[2] and parts[2] >= since:
                candidates.append((name, parts[1], parts[2], parts[4]))
    for name, version, month, summary in candidates:
        if (name in malicious or name in dev_names or _PLACEHOLDER.search(summary) or len(summary.strip()) < 20
                or version.startswith("0.0.") or _words(summary) in popular_summaries):
            continue
        if not FIRST_RELEASE.match(version):
            continue  # a later version: probably an older project (its first upload is unknown here, so unmeasured)
        rows.append((name, month, summary))
    top3000 = [k for k in popular.keys[:3000] if len(k) >= 6]
    top300 = set(popular.keys[:300])
    counts: Counter[str] = Counter()
    plugin = [r for r in rows if len(tokens(r[0])) >= 2 and tokens(r[0])[0] in top300]
    counts["extends a top-300 name"] = len(plugin)
    near = near_map([r[0] for r in rows if 5 <= len(r[0]) <= 40], top3000)
    edit = [r for r in rows if any(d == 1 for d in near.get(r[0], {}).values())]
    counts["one edit from a top-3,000 name"] = len(edit)
    chosen = {r[0]: r for r in [*edit, *plugin]}
    names = sorted(chosen)
    rng = random.Random(SEED)
    if len(names) > limit:
        names = sorted(rng.sample(names, limit))
    counts["sampled"] = len(names)
    out: list[Negative] = []
    for name in names:
        _n, month, summary = chosen[name]
        first = dt.datetime.strptime(month + "-15", "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
        ctx = NameContext(on_index=True, first_upload=first, release_count=1, required_by=(),
                          source="bench: PyPI package list")
        out.append(Negative(name, "young", month, ctx, LIST_DATE, note=summary[:80]))
    return out, dict(counts)


def _words(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


def dev_names(shared: Path) -> set[str]:
    ev = shared / "eval" / "typosquat"
    names: set[str] = set()
    for f in ("dev_positives.tsv", "dev_negatives.tsv"):
        with (ev / f).open(encoding="utf-8", newline="") as fh:
            names.update(canon(r["name"]) for r in csv.DictReader(fh, delimiter="\t"))
    return names


def dev_targets(shared: Path) -> set[str]:
    with (shared / "eval" / "typosquat" / "dev_positives.tsv").open(encoding="utf-8", newline="") as fh:
        return {canon(r["target"]) for r in csv.DictReader(fh, delimiter="\t")}


def stable_half(name: str) -> int:
    return int(hashlib.sha256(("typosquat-context:" + name).encode()).hexdigest()[:8], 16) % 2


# -- measuring -------------------------------------------------------------------------------------------------------
TECHNIQUE_CLASS = {"separator": "separator/look-alike", "homoglyph/digit": "separator/look-alike",
                   "transposition": "edit distance 1", "edit1": "edit distance 1", "edit2": "edit distance 2",
                   "combo": "word affix combos", "glued-combo": "glued / re-ordered", "reorder": "glued / re-ordered"}


@dataclass
class Scored:
    """Scores of every positive and negative under one configuration (``None``: a tool without scores)."""

    label: str
    pos: dict[str, float]
    neg: dict[str, float]
    flag_at: float = 0.5


def recall_at(scored: Scored, positives: list[Positive], threshold: float) -> tuple[int, int]:
    return sum(1 for p in positives if scored.pos[p.name] >= threshold), len(positives)


def fp_at(scored: Scored, negatives: list[Negative], threshold: float) -> tuple[int, int]:
    return sum(1 for n in negatives if scored.neg[n.name] >= threshold), len(negatives)


def threshold_for(scored: Scored, negatives: list[Negative], allowed: int) -> float:
    """The lowest threshold flagging at most ``allowed`` of ``negatives`` (read off these very negatives)."""
    ordered = sorted((scored.neg[n.name] for n in negatives), reverse=True)
    if allowed >= len(ordered):
        return 0.0
    cut = ordered[allowed]
    import math

    return math.nextafter(cut, 2.0) if cut > 0 else 1e-9

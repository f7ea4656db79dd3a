"""Which version clears a package's advisories: the smallest release that clears every advisory some release
clears, without landing in an advisory the current version does not have.

Why not "the newest release" (Dependabot's default) or "the highest ``fixed``" (one advisory at a time): an ML
project pins an old torch for a reason, so the upgrade asked of it must be the smallest that does the job, and one
upgrade must clear the package's advisories together -- a version that fixes advisory A but is inside advisory B
(introduced later) is no fix. The candidates are either the releases the index lists (when the caller asked the
index: only what can be installed) or, offline, the ``fixed`` events of the records (the data's own releases).

Pure functions of versions and OSV records: no network, no report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from packaging.version import Version

from auditor.advisories.match import Candidates, Record, affected_candidates, compiled_entries, parse_version
from auditor.advisories.record import OsvRecord
from auditor.domain import canonical_name


@dataclass(frozen=True)
class Problem:
    """One finding to clear: its id and every id/alias its records carry (a finding merges aliasing records)."""

    id: str
    ids: frozenset[str]


@dataclass
class Target:
    """The chosen upgrade of one package version. ``to`` None: no candidate clears anything without bringing an
    advisory of its own (``note`` says why)."""

    to: str | None
    clears: list[str] = field(default_factory=list)
    remains: list[str] = field(default_factory=list)
    note: str | None = None


def some_ids(ids: Sequence[str], shown: int = 3) -> str:
    """``A, B, C and 4 more``: a list of advisory ids bounded for a message (the JSON carries them all)."""
    if len(ids) <= shown + 1:
        return ", ".join(ids)
    return f"{', '.join(ids[:shown])} and {len(ids) - shown} more"


def record_ids(record: Mapping[str, object]) -> set[str]:
    return set(OsvRecord.of(record).ids)


def public_version(text: str) -> Version | None:
    """The version without its local label (``2.1.0+cu121`` -> ``2.1.0``): advisories match public versions, and
    the label is a build variant the upgrade keeps where the index has it."""
    parsed = parse_version(text)
    if parsed is None or parsed.local is None:
        return parsed
    return parse_version(parsed.public)


def local_label(text: str) -> str | None:
    parsed = parse_version(text)
    return parsed.local if parsed is not None else None


def fixed_events(name: str, records: Iterable[Record]) -> set[str]:
    """Every ``fixed`` version of the records' ranges for ``name``: offline, the releases the data knows of."""
    out: set[str] = set()
    for record in records:
        for entry in compiled_entries(record, canonical_name(name)):
            for rng in entry.ranges:
                out.update(rng.fixed)
    return out


def choose_target(name: str, version: str, problems: Sequence[Problem], records: Sequence[Record],
                  candidates: Iterable[str]) -> Target:
    """The upgrade of ``name`` ``version`` that clears ``problems`` (rules in the module docstring).

    ``records``: every live (not withdrawn, not malicious) vulnerability record of the package; those that do not
    belong to ``problems`` are advisories the current version does not have -- a candidate inside one of them
    would introduce it. A final release is preferred to a pre-release (what ``pip install -U`` picks) unless only
    pre-releases clear, or the project is on one already.
    """
    name = canonical_name(name)
    current = public_version(version)
    ids_of = [(r, record_ids(r)) for r in records]  # once per record, not once per (problem, record)
    known = {p.id: [r for r, ids in ids_of if ids & p.ids] for p in problems}
    # a finding whose records are not in the data handed in cannot be said to be cleared by anything
    groups = {pid: rs for pid, rs in known.items() if rs}
    mine = {id(r) for rs in groups.values() for r in rs}
    others = [r for r in records if id(r) not in mine]
    ordered = _candidates(candidates, current)
    if not ordered:
        return Target(None, [], [p.id for p in problems], "no release after this version is known")

    # each record is asked about all candidates at once, the first time it matters (a record shared by several
    # findings is evaluated once)
    affects: dict[int, frozenset[str]] = {}
    asked = Candidates.of(ordered)

    def hits(record: Record) -> frozenset[str]:
        hit = affects.get(id(record))
        if hit is None:
            hit = affects[id(record)] = affected_candidates(record, name, asked)
        return hit

    def affected(record: Record, candidate: str) -> bool:
        return candidate in hits(record)

    # a finding is cleared by a candidate that none of its records affects: the candidates its records affect,
    # united once per finding, instead of asking every record about every candidate (~10,000 questions for 201
    # packages). ``affected_candidates`` is pure, so asking a record that ``any`` would have skipped changes no
    # answer (tests/remediation: the same targets as the candidate-by-candidate reading on shipped records).
    blocking = {pid: frozenset().union(*(hits(r) for r in rs)) for pid, rs in groups.items()}

    def cleared(candidate: str) -> list[str]:
        return [pid for pid, hit in blocking.items() if candidate not in hit]

    def introduces(candidate: str) -> list[str]:
        return sorted({str(r.get("id")) for r in others if affected(r, candidate)})

    table = [(c, cleared(c)) for c in ordered]
    clearable = {pid for _, ids in table for pid in ids}
    if not clearable:
        return Target(None, [], [p.id for p in problems], "no known release fixes these advisories")
    on_pre = current is not None and current.is_prerelease
    best: tuple[str, list[str]] | None = None
    best_pre: tuple[str, list[str]] | None = None
    blocked: dict[str, list[str]] = {}
    for candidate, ids in table:
        if not ids:
            continue
        new = introduces(candidate)
        if new:
            blocked.setdefault(candidate, new)
            continue
        pre = (parse_version(candidate) or _FINAL).is_prerelease and not on_pre
        if pre:
            if best_pre is None or len(ids) > len(best_pre[1]):
                best_pre = (candidate, ids)
            continue
        if best is None or len(ids) > len(best[1]):
            best = (candidate, ids)
        if len(ids) == len(clearable):
            break
    if best is None or (best_pre is not None and len(best_pre[1]) > len(best[1])):
        best = best_pre
    if best is None:
        first = next(iter(blocked.items()))
        return Target(None, [], [p.id for p in problems],
                      f"every release that fixes them is affected by another advisory ({first[0]}: "
                      f"{', '.join(first[1][:3])})")
    to, ids = best
    remains = [p.id for p in problems if p.id not in ids]
    unread = [pid for pid in remains if not known[pid]]
    unfixed = [pid for pid in remains if known[pid] and pid not in clearable]
    rest = [pid for pid in remains if pid in clearable]
    notes = []
    if unread:
        notes.append(f"the records of {', '.join(unread)} were not available to plan with")
    if unfixed:
        notes.append(f"no known release fixes {', '.join(unfixed)}")
    if rest:
        notes.append(f"no single release also clears {', '.join(rest)} without another advisory")
    note = "; ".join(notes) or None
    return Target(to, ids, remains, note)


_FINAL = Version("1")


def _candidates(candidates: Iterable[str], current: Version | None) -> list[str]:
    """Distinct public versions above ``current``, ascending (invalid strings dropped)."""
    seen: dict[Version, str] = {}
    for text in candidates:
        parsed = public_version(text)
        if parsed is None or (current is not None and parsed <= current):
            continue
        seen.setdefault(parsed, str(parsed))
    return [seen[v] for v in sorted(seen)]


def problems_of(findings: Iterable[tuple[str, Sequence[str]]]) -> list[Problem]:
    """``(id, aliases)`` pairs as problems, one per id."""
    out: dict[str, Problem] = {}
    for fid, aliases in findings:
        out.setdefault(fid, Problem(fid, frozenset([fid, *aliases])))
    return list(out.values())


def live_vulnerability_records(records: Iterable[Mapping[str, object]]) -> list[Record]:
    """Records that can be a vulnerability finding: not withdrawn, not malicious (``MAL-`` or aliasing one)."""
    from auditor.advisories.findings import dedupe_records, malware_ids
    from auditor.advisories.match import is_malicious_record

    live = [r for r in dedupe_records(records) if not OsvRecord.of(r).withdrawn]
    malware = malware_ids(live)
    return [r for r in live if not is_malicious_record(r) and not (record_ids(r) & malware)]

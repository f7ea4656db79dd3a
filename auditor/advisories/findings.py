"""Turn the OSV records of one package into findings: aliases merged, fixed versions, the one upgrade that clears
every advisory of the package.

Why a separate step from matching: grouping and the upgrade advice look at *all* records of a package at once
(two records aliasing each other are one problem; an upgrade that fixes one advisory but lands in another is not
a fix), while ``match`` answers one record at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from packaging.version import Version

from auditor.advisories.match import (
    Record,
    RecordMatch,
    compiled_entries,
    is_malicious_record,
    match_record,
    parse_version,
    record_affects,
    record_severity,
    sort_versions,
)
from auditor.domain import Finding, Severity, canonical_name
from auditor.kinds import FindingKind

MAX_REFERENCES = 10


def _ids_of(record: Record) -> set[str]:
    ids = {str(record.get("id", ""))}
    aliases = record.get("aliases")
    if isinstance(aliases, list):
        ids.update(a for a in aliases if isinstance(a, str))
    ids.discard("")
    return ids


def _primary_rank(record_id: str) -> tuple[int, str]:
    """Which id names a merged finding: MAL, then PYSEC (stable across the embedded and the updated DB),
    then GHSA, then anything else; ties by string."""
    for rank, prefix in enumerate(("MAL-", "PYSEC-", "GHSA-")):
        if record_id.startswith(prefix):
            return rank, record_id
    return 3, record_id


def group_matches(matches: Sequence[RecordMatch]) -> list[list[RecordMatch]]:
    """Union the matches whose ids/aliases overlap (PYSEC-x aliasing GHSA-y aliasing CVE-z: one group)."""
    parent = list(range(len(matches)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, m in enumerate(matches):
        for ident in _ids_of(m.record):
            if ident in owner:
                parent[find(i)] = find(owner[ident])
            else:
                owner[ident] = i
    groups: dict[int, list[RecordMatch]] = {}
    for i, m in enumerate(matches):
        groups.setdefault(find(i), []).append(m)
    return list(groups.values())


def malware_ids(records: Iterable[Record]) -> set[str]:
    """Every id and alias of the MAL- records (and of advisories aliasing one) among ``records``."""
    ids: set[str] = set()
    for record in records:
        if is_malicious_record(record):
            ids |= _ids_of(record)
    return ids


def dedupe_records(records: Iterable[Record]) -> list[Record]:
    """One record per id; a later copy (e.g. fresher, from the online API) replaces an earlier one."""
    by_id: dict[str, Record] = {}
    for record in records:
        by_id[str(record.get("id", ""))] = record
    return list(by_id.values())


def best_upgrade(name: str, version: str, records: Sequence[Record]) -> str | None:
    """The smallest ``fixed`` version above ``version`` that no (non-withdrawn) record of the package affects."""
    current = parse_version(version)
    candidates: set[str] = set()
    for record in records:
        for entry in compiled_entries(record, name):
            for rng in entry.ranges:
                for fixed in rng.fixed:
                    parsed = parse_version(fixed)
                    if parsed is not None and (current is None or parsed > current):
                        candidates.add(fixed)
    clearing = [c for c in sort_versions(candidates) if not any(record_affects(r, name, c) for r in records)]
    # A final release is what ``pip install -U`` would pick: prefer the smallest clearing one over a smaller
    # pre-release fix (``fixed: 23.10.0rc1``), unless only pre-releases clear (or the user is on one already).
    on_prerelease = current is not None and current.is_prerelease
    finals = [c for c in clearing if not (parse_version(c) or _FINAL).is_prerelease]
    if finals and not on_prerelease:
        return finals[0]
    return clearing[0] if clearing else None


_FINAL = Version("1")


def _summary(record: Record) -> str:
    text = record.get("summary")
    if isinstance(text, str) and text.strip():
        return text.strip()
    details = record.get("details")
    if isinstance(details, str) and details.strip():
        first = details.strip().splitlines()[0].strip()
        return first if len(first) <= 200 else first[:197] + "..."
    return "(no summary in the advisory)"


def _references(records: Iterable[Record]) -> list[str]:
    out: list[str] = []
    for record in records:
        refs = record.get("references")
        for ref in refs if isinstance(refs, list) else []:
            url = ref.get("url") if isinstance(ref, dict) else None
            if isinstance(url, str) and url not in out:
                out.append(url)
    return out[:MAX_REFERENCES]


def vulnerability_findings(name: str, version: str, records: Sequence[Record]) -> list[Finding]:
    """One ``vulnerability`` finding per alias group of the package's non-MAL records that affect ``version``."""
    name = canonical_name(name)
    live = [r for r in dedupe_records(records) if not r.get("withdrawn")]
    malware = malware_ids(live)
    # a record that a MAL- record names as its alias (a GitHub malware advisory) is that malicious finding's
    # alias, not a second, "vulnerability" finding for the same package
    vuln_records = [r for r in live if not is_malicious_record(r) and not (_ids_of(r) & malware)]
    matches = [m for r in vuln_records if (m := match_record(r, name, version)) is not None]
    if not matches:
        return []
    upgrade = best_upgrade(name, version, vuln_records)
    findings: list[Finding] = []
    for group in group_matches(matches):
        primary, ids = _primary_and_ids(group)
        aliases = sorted(ids - {primary.id})
        fixed = sort_versions({v for m in group for v in m.fixed_versions})
        sev_infos = [record_severity(m.record, name) for m in group]
        rated = [s for s in sev_infos if s.source != "default"] or sev_infos
        sev = max(rated, key=lambda s: s.severity.rank)
        summary = _summary(primary.record)
        if upgrade is not None:
            fix = f"upgrade to {upgrade}"
        else:
            own = [v for v in fixed if (p := parse_version(v)) is not None and (parse_version(version) or p) < p]
            fix = (f"no release clears every advisory of {name}; {own[0]} fixes this one" if own
                   else "no fixed version")
        evidence: dict[str, Any] = {
            "matched_by": sorted({b for m in group for b in m.matched_by}),
            "ranges": [r for m in group for r in m.ranges],
            "records": [m.id for m in group],
            "severity_source": sev.source if sev.source != "default" else "severity unknown (no CVSS vector or "
                                                                          "severity in the record): default medium",
        }
        if sev.vector:
            evidence["cvss"] = {"vector": sev.vector, "score": sev.score}
        findings.append(Finding(
            kind=FindingKind.VULNERABILITY,
            id=primary.id,
            severity=sev.severity,
            message=f"{primary.id}: {summary}",
            package=(name, version),
            aliases=aliases,
            evidence=evidence,
            fix=fix,
            fixed_versions=fixed,
            check="advisories",
            summary=summary,
            references=_references(m.record for m in group),
        ))
    findings.sort(key=lambda f: f.id)
    return findings


def _primary_and_ids(group: list[RecordMatch]) -> tuple[RecordMatch, set[str]]:
    """The record that names a merged finding (``_primary_rank``), and every id and alias of the group."""
    group.sort(key=lambda m: _primary_rank(m.id))
    ids: set[str] = set()
    for m in group:
        ids |= _ids_of(m.record)
    return group[0], ids


def malicious_findings(name: str, version: str, records: Sequence[Record]) -> list[Finding]:
    """One ``malicious`` finding per MAL group for the name, whatever the version (issue 5 §2)."""
    name = canonical_name(name)
    live = [r for r in dedupe_records(records) if not r.get("withdrawn")]
    malware = malware_ids(live)
    mal = [r for r in live if is_malicious_record(r) or _ids_of(r) & malware]
    if not mal:
        return []
    pseudo = [RecordMatch(r, (), ()) for r in mal]
    findings: list[Finding] = []
    for group in group_matches(pseudo):
        primary, ids = _primary_and_ids(group)
        listed = [m.id for m in group if record_affects(m.record, name, version)]
        summary = _summary(primary.record)
        if listed:
            detail = f"version {version} is listed as malicious"
        else:
            detail = f"version {version} is not itself listed, but this name was used for malware"
        findings.append(Finding(
            kind=FindingKind.MALICIOUS,
            id=primary.id,
            severity=Severity.CRITICAL,
            message=f"{primary.id}: {summary} ({detail})",
            package=(name, version),
            aliases=sorted(ids - {primary.id}),
            evidence={"version_listed": bool(listed), "listed_in": listed, "records": [m.id for m in group],
                      "published": primary.record.get("published")},
            fix=f"remove {name}; check for the package it imitates and rotate any credentials on machines that "
                "installed it",
            check="malicious",
            summary=summary,
            references=_references(m.record for m in group),
        ))
    findings.sort(key=lambda f: f.id)
    return findings

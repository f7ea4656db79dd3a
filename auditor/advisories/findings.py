"""Turn the OSV records of one package into findings: aliases merged, fixed versions, the one upgrade that clears
every advisory of the package.

Why a separate step from matching: grouping and the upgrade advice look at *all* records of a package at once
(two records aliasing each other are one problem; an upgrade that fixes one advisory but lands in another is not
a fix), while ``match`` answers one record at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from packaging.version import Version

from auditor.advisories.match import (
    Record,
    RecordMatch,
    SeverityInfo,
    SeveritySource,
    combined_severity,
    compiled_entries,
    is_malicious_record,
    match_record,
    parse_version,
    record_affects,
    record_severity,
    sort_versions,
)
from auditor.domain import Finding, Severity, canonical_name
from auditor.evidence import AdvisoryEvidence, MaliciousEvidence, SeverityBasis, json_object
from auditor.kinds import FindingKind

MAX_REFERENCES = 100  # per finding, all records of the group together
SUMMARY_LIMIT = 200
MALICIOUS_SEVERITY_SOURCE = "malicious package: critical by convention (CONVENTIONS.md Severity)"


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
    """The smallest ``fixed`` version above ``version`` that no (non-withdrawn) record of the package affects.

    A final release is what ``pip install -U`` would pick: the smallest clearing final release wins over a smaller
    pre-release fix (``fixed: 23.10.0rc1``), unless only pre-releases clear (or the user is on one already).
    Candidates are tried in version order and the search stops at the answer; the record that blocked the last
    candidate is asked first (a package with a hundred advisories is usually held back by the same few).
    """
    current = parse_version(version)
    candidates: set[str] = set()
    for record in records:
        for entry in compiled_entries(record, name):
            for rng in entry.ranges:
                for fixed in rng.fixed:
                    parsed = parse_version(fixed)
                    if parsed is not None and (current is None or parsed > current):
                        candidates.add(fixed)
    on_prerelease = current is not None and current.is_prerelease
    order = list(records)
    first_clearing: str | None = None
    for candidate in sort_versions(candidates):
        blocker = next((i for i, r in enumerate(order) if record_affects(r, name, candidate)), None)
        if blocker is not None:
            order.insert(0, order.pop(blocker))
            continue
        if on_prerelease or not (parse_version(candidate) or _FINAL).is_prerelease:
            return candidate
        first_clearing = first_clearing or candidate
    return first_clearing


_FINAL = Version("1")


def _published(record: Record) -> str | None:
    value = record.get("published")
    return value if isinstance(value, str) else None


def _summary(record: Record) -> str:
    """The record's summary, else the first line of its details, cut at a word (the full text is in ``details``)."""
    text = record.get("summary")
    if isinstance(text, str) and text.strip():
        return " ".join(text.split())
    details = record.get("details")
    if isinstance(details, str) and details.strip():
        return cut_at_word(details.strip().splitlines()[0].strip(), SUMMARY_LIMIT)
    return "(no summary in the advisory)"


def cut_at_word(text: str, limit: int) -> str:
    """``text`` shortened to at most ``limit`` characters at a word boundary, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:.-") + "…"


def _details(records: Iterable[Record]) -> str | None:
    """The advisory's full text: the primary record's ``details``, else the first record of the group that has
    one (aliases describe the same problem, so one text is shown once)."""
    for record in records:
        details = record.get("details")
        if isinstance(details, str) and details.strip():
            return details.strip()
    return None


def _references(records: Iterable[Record]) -> list[str]:
    out: list[str] = []
    for record in records:
        refs = record.get("references")
        for ref in refs if isinstance(refs, list) else []:
            url = ref.get("url") if isinstance(ref, dict) else None
            if isinstance(url, str) and url.strip() and url.strip() not in out:
                out.append(url.strip())
    return out[:MAX_REFERENCES]


def _severity_basis(infos: Sequence[SeverityInfo], chosen: SeverityInfo) -> SeverityBasis:
    """Where the severity came from (and, for a merged finding, what the other ids said)."""
    others = [i for i in infos if i is not chosen and i.source is not SeveritySource.NONE]
    return SeverityBasis(
        text=chosen.describe(), level=chosen.severity.value, source=chosen.source.value,
        record=chosen.record if chosen.source is not SeveritySource.NONE else None,
        cvss_vector=chosen.vector, cvss_score=chosen.score if chosen.vector else None, word=chosen.word,
        other_vectors=tuple(chosen.other_vectors),
        also=tuple({"record": i.record, "level": i.severity.value,
                    **({"vector": i.vector, "score": i.score} if i.vector else {"word": i.word})} for i in others))


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
        sev = combined_severity(sev_infos)
        summary = _summary(primary.record)
        if upgrade is not None:
            fix = f"upgrade to {upgrade}"
        else:
            own = [v for v in fixed if (p := parse_version(v)) is not None and (parse_version(version) or p) < p]
            fix = (f"no release clears every advisory of {name}; {own[0]} fixes this one" if own
                   else "no fixed version")
        evidence = AdvisoryEvidence(
            matched_by=tuple(sorted({b for m in group for b in m.matched_by})),
            ranges=tuple(json_object(r) for m in group for r in m.ranges),
            records=tuple(m.id for m in group),
            basis=_severity_basis(sev_infos, sev),
            # the package-wide upgrade (no record affects it), for the outputs' roll-up "upgrade to" column
            package_upgrade=upgrade,
            # an event that is not PEP 440 decided this match: say how it was read
            version_readings=tuple(json_object(r.to_evidence(m.id)) for m in group for r in m.readings),
        )
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
            details=_details(m.record for m in group),
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
            evidence=MaliciousEvidence(
                version_listed=bool(listed), listed_in=tuple(listed), records=tuple(m.id for m in group),
                published=_published(primary.record), basis=SeverityBasis(MALICIOUS_SEVERITY_SOURCE)),
            fix=f"remove {name}; check for the package it imitates and rotate any credentials on machines that "
                "installed it",
            check="malicious",
            summary=summary,
            details=_details(m.record for m in group),
            references=_references(m.record for m in group),
        ))
    findings.sort(key=lambda f: f.id)
    return findings

"""Grouping of aliases into one finding, the upgrade that clears every advisory, malicious findings."""

from __future__ import annotations

from typing import Any

from auditor.advisories.findings import best_upgrade, malicious_findings, vulnerability_findings
from auditor.domain import Severity


def adv(rid: str, events: list[dict[str, str]], aliases: list[str] | None = None, name: str = "demo",
        **extra: Any) -> dict[str, Any]:
    return {"id": rid, "aliases": aliases or [], "summary": f"problem {rid}",
            "affected": [{"package": {"name": name, "ecosystem": "PyPI"},
                          "ranges": [{"type": "ECOSYSTEM", "events": events}]}], **extra}


def test_aliasing_records_become_one_finding() -> None:
    pysec = adv("PYSEC-2020-1", [{"introduced": "0"}, {"fixed": "1.5"}], ["CVE-2020-1", "GHSA-aaaa-bbbb-cccc"])
    ghsa = adv("GHSA-aaaa-bbbb-cccc", [{"introduced": "0"}, {"fixed": "1.5"}], ["CVE-2020-1"],
               database_specific={"severity": "HIGH"})
    other = adv("PYSEC-2021-9", [{"introduced": "1.0"}, {"fixed": "2.0"}])
    findings = vulnerability_findings("Demo", "1.2", [pysec, ghsa, other])
    assert [f.id for f in findings] == ["PYSEC-2020-1", "PYSEC-2021-9"]
    merged = findings[0]
    assert merged.aliases == ["CVE-2020-1", "GHSA-aaaa-bbbb-cccc"]
    assert merged.severity is Severity.HIGH  # the GHSA copy's severity word beats the unknown default
    assert merged.kind == "vulnerability" and merged.check == "advisories"
    assert merged.package == ("demo", "1.2")
    assert merged.message.startswith("PYSEC-2020-1: ")
    assert merged.evidence["matched_by"] == ["range"]
    # 1.5 fixes the first advisory but is still inside the second: the smallest clearing upgrade is 2.0
    assert merged.fix == "upgrade to 2.0" and findings[1].fix == "upgrade to 2.0"
    assert merged.fixed_versions == ["1.5"]
    assert merged.evidence["severity_source"] == (
        "severity 'HIGH' in GHSA-aaaa-bbbb-cccc (database_specific.severity): high")
    assert findings[1].evidence["severity_source"] == "no severity in any record"
    assert findings[1].severity is Severity.UNKNOWN  # never shown as medium


def test_highest_known_severity_across_a_merged_findings_ids() -> None:
    v3_medium = [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"}]  # 5.4
    pysec = adv("PYSEC-2020-1", [{"introduced": "0"}, {"fixed": "1.5"}], ["GHSA-aaaa-bbbb-cccc"], severity=v3_medium)
    ghsa = adv("GHSA-aaaa-bbbb-cccc", [{"introduced": "0"}, {"fixed": "1.5"}], ["PYSEC-2020-1"],
               database_specific={"severity": "CRITICAL"})
    bare = adv("OSV-2020-1", [{"introduced": "0"}, {"fixed": "1.5"}], ["PYSEC-2020-1"])
    (finding,) = vulnerability_findings("demo", "1.0", [bare, pysec, ghsa])
    assert finding.severity is Severity.CRITICAL
    sev = finding.evidence["severity"]
    assert (sev["source"], sev["record"], sev["word"]) == ("record", "GHSA-aaaa-bbbb-cccc", "CRITICAL")
    assert sev["also"] == [{"record": "PYSEC-2020-1", "level": "medium", "score": 5.4,
                            "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"}]
    # the same level from a vector and a word: the vector is the more specific evidence
    ghsa["database_specific"] = {"severity": "MODERATE"}
    (finding,) = vulnerability_findings("demo", "1.0", [bare, pysec, ghsa])
    assert finding.severity is Severity.MEDIUM and finding.evidence["cvss"]["score"] == 5.4


def test_full_text_and_references_are_kept_whole() -> None:
    long_line = "word " * 80  # a details text with no summary: the summary is its first line, cut at a word
    record = adv("A-1", [{"introduced": "0"}], details=long_line.strip() + "\n\nsecond paragraph",
                 references=[{"type": "WEB", "url": f"https://example.invalid/{i}"} for i in range(30)])
    del record["summary"]
    (finding,) = vulnerability_findings("demo", "1.0", [record])
    assert finding.details == long_line.strip() + "\n\nsecond paragraph"
    assert finding.summary is not None and finding.summary.endswith("word…") and len(finding.summary) <= 200
    assert len(finding.references) == 30


def test_upgrade_skips_versions_affected_by_other_advisories() -> None:
    a = adv("A-1", [{"introduced": "0"}, {"fixed": "1.1"}])
    b = adv("A-2", [{"introduced": "1.1"}, {"fixed": "1.3"}])
    c = adv("A-3", [{"introduced": "0"}, {"fixed": "1.2"}])
    assert best_upgrade("demo", "1.0", [a, b, c]) == "1.3"


def test_no_fixed_version() -> None:
    open_ended = adv("A-1", [{"introduced": "0"}])
    (finding,) = vulnerability_findings("demo", "1.0", [open_ended])
    assert finding.fix == "no fixed version"
    assert finding.fixed_versions == []


def test_fix_for_this_advisory_when_none_clears_all() -> None:
    fixed = adv("A-1", [{"introduced": "0"}, {"fixed": "1.1"}])
    open_ended = adv("A-2", [{"introduced": "1.0"}])
    findings = {f.id: f for f in vulnerability_findings("demo", "1.0", [fixed, open_ended])}
    assert findings["A-1"].fix is not None and "1.1 fixes this one" in findings["A-1"].fix
    assert findings["A-2"].fix == "no fixed version"


def test_withdrawn_and_mal_records_are_not_vulnerabilities() -> None:
    withdrawn = adv("A-1", [{"introduced": "0"}], withdrawn="2024-01-01T00:00:00Z")
    mal = adv("MAL-2024-1", [{"introduced": "0"}])
    assert vulnerability_findings("demo", "1.0", [withdrawn, mal]) == []


def test_malicious_matches_whatever_the_version() -> None:
    mal = {"id": "MAL-2023-7", "summary": "Malicious code in demo (PyPI)", "published": "2023-01-01T00:00:00Z",
           "affected": [{"package": {"name": "demo", "ecosystem": "PyPI"}, "versions": ["0.1"]}]}
    (listed,) = malicious_findings("demo", "0.1", [mal])
    (unlisted,) = malicious_findings("demo", "9.9", [mal])
    for f in (listed, unlisted):
        assert (f.kind, f.id, f.severity, f.check) == ("malicious", "MAL-2023-7", Severity.CRITICAL, "malicious")
    assert listed.evidence["version_listed"] is True
    assert unlisted.evidence["version_listed"] is False
    assert "not itself listed" in unlisted.message
    assert malicious_findings("demo", "1.0", [adv("PYSEC-1", [{"introduced": "0"}])]) == []


def test_malware_advisory_aliasing_mal_is_one_malicious_finding() -> None:
    mal = {"id": "MAL-2024-9", "summary": "Malicious code in demo (PyPI)",
           "affected": [{"package": {"name": "demo", "ecosystem": "PyPI"}, "ranges": [
               {"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}
    ghsa = adv("GHSA-mmmm-mmmm-mmmm", [{"introduced": "0"}], ["MAL-2024-9"])
    assert vulnerability_findings("demo", "1.0", [mal, ghsa]) == []
    (finding,) = malicious_findings("demo", "1.0", [mal, ghsa])
    assert finding.id == "MAL-2024-9" and finding.aliases == ["GHSA-mmmm-mmmm-mmmm"]


def test_advisory_named_only_by_the_mal_record_joins_it() -> None:
    """Only the MAL- record lists the GHSA id (the GHSA does not list it back): still one malicious finding and
    no vulnerability finding for the same malware."""
    mal = {"id": "MAL-2024-10", "aliases": ["GHSA-evil-evil-evil"], "summary": "Malicious code in demo (PyPI)",
           "affected": [{"package": {"name": "demo", "ecosystem": "PyPI"}, "versions": ["1.0"]}]}
    ghsa = adv("GHSA-evil-evil-evil", [{"introduced": "0"}], database_specific={"severity": "CRITICAL"})
    unrelated = adv("PYSEC-2024-3", [{"introduced": "0"}, {"fixed": "2.0"}])
    assert [f.id for f in vulnerability_findings("demo", "1.0", [mal, ghsa, unrelated])] == ["PYSEC-2024-3"]
    (finding,) = malicious_findings("demo", "1.0", [ghsa, unrelated, mal])
    assert finding.id == "MAL-2024-10" and finding.aliases == ["GHSA-evil-evil-evil"]
    assert finding.evidence["version_listed"] is True


def test_upgrade_prefers_a_final_release() -> None:
    pre = adv("A-1", [{"introduced": "0"}, {"fixed": "23.10.0rc1"}])
    assert best_upgrade("demo", "23.8.0", [pre]) == "23.10.0rc1"  # only a pre-release clears: say so
    also_final = adv("A-2", [{"introduced": "0"}, {"fixed": "23.10.0"}])
    elsewhere = adv("A-3", [{"introduced": "99"}, {"fixed": "23.10.0"}])  # offers 23.10.0 as a candidate
    assert best_upgrade("demo", "23.8.0", [pre, elsewhere]) == "23.10.0"  # what `pip install -U` would pick
    assert best_upgrade("demo", "23.8.0", [pre, also_final]) == "23.10.0"  # rc1 is inside A-2 anyway
    assert best_upgrade("demo", "23.9.0rc1", [pre, elsewhere]) == "23.10.0rc1"  # already on pre-releases

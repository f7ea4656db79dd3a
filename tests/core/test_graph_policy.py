"""Graph paths, finding locations, policy ignores/expiry and the exit-code rule."""

from __future__ import annotations

import datetime as dt

from auditor.domain import ROOT_NODE, Edge, Finding, Location, Package, Report, Severity, package_node
from auditor.graph import attach_paths, build_graph, node_paths
from auditor.ledger import ItemKind
from auditor.pipeline import exit_code_for
from auditor.policy import IgnoreRule, Policy, apply_policy
from auditor.textsafe import clean


def _report() -> Report:
    r = Report(root_name="myproj")
    r.add_package(Package("transformers", "4.30.0", direct=True, location=Location("requirements.txt", 3)))
    r.add_package(Package("Tokenizers", "0.13.3"))
    r.add_package(Package("orphan", "1.0"))
    r.edges += [
        Edge(ROOT_NODE, package_node("transformers"), "transformers==4.30.0"),
        Edge(package_node("transformers"), package_node("tokenizers"), "tokenizers<0.14,>=0.11.1"),
    ]
    return r


def test_paths_and_location_of_transitive_finding() -> None:
    r = _report()
    r.findings.append(Finding("vulnerability", "PYSEC-1", Severity.HIGH, "bad", package=("tokenizers", "0.13.3")))
    graph = build_graph(r)
    attach_paths(r, graph)
    f = r.findings[0]
    assert f.paths == [["myproj", "transformers 4.30.0", "tokenizers 0.13.3"]]
    assert f.location == Location("requirements.txt", 3)


def test_orphan_gets_single_node_path_and_cycles_are_safe() -> None:
    r = _report()
    r.edges.append(Edge(package_node("tokenizers"), package_node("transformers"), "cycle"))
    graph = build_graph(r)
    assert node_paths(graph, package_node("orphan")) == [[package_node("orphan")]]
    assert node_paths(graph, package_node("tokenizers"))[0][-1] == package_node("tokenizers")


def test_several_shortest_paths_are_bounded() -> None:
    r = Report()
    r.add_package(Package("leaf", "1"))
    for i in range(10):
        r.add_package(Package(f"p{i}", "1", direct=True))
        r.edges.append(Edge(package_node(f"p{i}"), package_node("leaf")))
    assert len(node_paths(build_graph(r), package_node("leaf"))) == 3


def test_ignore_with_reason_and_expiry() -> None:
    r = _report()
    r.findings = [
        Finding("vulnerability", "PYSEC-1", Severity.HIGH, "x", package=("tokenizers", "0.13.3"), aliases=["CVE-1"]),
        Finding("vulnerability", "PYSEC-2", Severity.LOW, "y", package=("tokenizers", "0.13.3")),
    ]
    policy = Policy(ignores=[IgnoreRule("CVE-1", "not reachable", dt.date(2030, 1, 1)),
                             IgnoreRule("PYSEC-2", "accepted", dt.date(2020, 1, 1))])
    apply_policy(r, policy, today=dt.date(2026, 11, 23))
    assert r.findings[0].ignored == "not reachable"
    assert r.findings[1].ignored is None
    assert any("expired" in w and "PYSEC-2" in w for w in r.warnings)


def test_exit_codes_follow_threshold_and_completeness() -> None:
    r = _report()
    r.findings = [Finding("vulnerability", "X", Severity.MEDIUM, "m", package=("orphan", "1.0"))]
    r.fail_on = Severity.HIGH
    assert exit_code_for(r) == 0
    r.fail_on = Severity.MEDIUM
    assert exit_code_for(r) == 1
    r.findings[0].ignored = "ok"
    assert exit_code_for(r) == 0


def test_require_complete_turns_a_gap_into_exit_3_on_its_own() -> None:
    """An incomplete report without any failed service: exit 0 by default, 3 only when completeness is required
    (the gap is a skipped requirement line, not a service, so nothing else could give the 3)."""
    r = _report()
    r.fail_on = Severity.HIGH
    r.ledger.record_skipped(ItemKind.REQUIREMENT, "git+https://127.0.0.1:9/x.git", "would need building",
                            file="requirements.txt", line=2)
    assert not r.complete and r.failed_services() == []
    assert exit_code_for(r) == 0
    r.require_complete = True
    gate = r.gate()
    assert (gate.exit_code, exit_code_for(r)) == (3, 3)
    assert "completeness is required" in gate.reason


def test_a_failed_service_is_exit_3_with_or_without_require_complete() -> None:
    r = _report()
    r.fail_on = Severity.HIGH
    r.ledger.record_skipped(ItemKind.SERVICE, "package index", "index down")
    assert r.require_complete is False
    gate = r.gate()
    assert (gate.exit_code, exit_code_for(r)) == (3, 3)
    assert "package index failed" in gate.reason


def test_severity_from_cvss_boundaries() -> None:
    assert Severity.from_cvss_score(9.0) is Severity.CRITICAL
    assert Severity.from_cvss_score(8.9) is Severity.HIGH
    assert Severity.from_cvss_score(4.0) is Severity.MEDIUM
    assert Severity.from_cvss_score(0.1) is Severity.LOW
    assert Severity.from_cvss_score(0.0) is Severity.INFO
    assert Severity.parse("MODERATE") is Severity.MEDIUM


def test_clean_strips_terminal_escapes() -> None:
    hostile = "evil\x1b[2J\x1b]0;title\x07pkg\u202e\x00"
    assert clean(hostile) == "evilpkg"

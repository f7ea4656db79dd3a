"""The roll-up (CONVENTIONS.md "Output size"): one screen in the terminal for any project, ``-v`` and JSON carry
everything, Markdown never exceeds a GitHub comment, and the "upgrade to" column is the remediation stage's record
or, without one, what the advisories' fixed versions say, marked as not verified."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.domain import Finding, Location, Package, Remediation, Report, Severity, Skipped
from auditor.evidence import AdvisoryEvidence, SeverityBasis
from auditor.kinds import FindingKind
from auditor.ledger import GapKind, ItemKind
from auditor.outputs import markdown, rollup, terminal
from auditor.outputs.json_out import render as render_json
from auditor.resolve.fallback import SOURCE as FALLBACK_SOURCE
from tests.outputs.bigproject import big_report
from tests.outputs.fixture import empty_report, fixture_report


@pytest.fixture(scope="module")
def big() -> Report:
    return big_report(1000)


@pytest.fixture(scope="module")
def hostile() -> Report:
    return big_report(1000, hostile=True)


def test_terminal_default_view_is_one_screen_for_a_large_project(big: Report, hostile: Report) -> None:
    for report in (big, hostile, fixture_report(), empty_report()):
        text = terminal.render(report)
        lines = text.splitlines()
        assert len(lines) <= terminal.SCREEN_LINES, len(lines)
        assert max(len(line) for line in lines) <= terminal.RENDER_WIDTH
        assert "\x1b" not in text and "\u202e" not in text
    text = terminal.render(big)
    assert len(text.splitlines()) >= 50  # the screen is used, not left half empty
    assert text.startswith("mlaudit · big-ml-project 3.1.4 · 1050 packages")
    assert re.search(r"^FAILED \(exit 1\): \d+ finding\(s\) at or above high$", text, flags=re.M)
    assert "Vulnerable packages: 150 (" in text and "more package(s)" in text
    assert "Other findings: " in text and "in 21 kind(s)" in text
    assert "Not checked: 460 item(s)" in text and "Versions that differ between profiles: 50 name(s)" in text
    # every kind of other finding is at least named on the screen
    for kind in FindingKind:
        if kind is not FindingKind.VULNERABILITY:
            assert kind.value in text, kind


def test_verbose_lists_every_finding_with_id_and_summary(big: Report) -> None:
    text = terminal.render(big, verbose=True)
    for finding in big.findings:
        assert finding.id in text
    for finding in big.active_findings():
        if finding.summary:
            assert finding.summary in text
    assert all(item.reason and item.reason[:40] in text for item in big.skipped)


def test_json_carries_everything(big: Report) -> None:
    doc = json.loads(render_json(big))
    assert len(doc["findings"]) == len(big.findings) and len(doc["skipped"]) == len(big.skipped)
    vulnerable = {(f["package"]["name"], f["package"]["version"]) for f in doc["findings"]
                  if f["kind"] == "vulnerability" and "ignored" not in f}
    assert {(r["package"]["name"], r["package"]["version"]) for r in doc["remediation"]} == vulnerable
    assert doc["summary"]["exit_code"] == 1 and doc["summary"]["exit_reason"].endswith("at or above high")


def test_markdown_stays_under_the_comment_limit_and_says_what_it_left_out(big: Report, hostile: Report) -> None:
    for report in (big, hostile):
        text = markdown.render(report)
        assert markdown.size(text) <= markdown.MARKDOWN_LIMIT - markdown.COMMENT_RESERVE
        more = re.search(r"\*\*([\d,]+) more in the full report\*\* \(([^)]*)\)", text)
        assert more is not None
        shown_rows = len(re.findall(r"^\| (?:\*\*new\*\* )?\S+ (?:critical|high|unknown|medium|low|info) \|", text,
                                    flags=re.M))
        assert shown_rows > 50  # the comment is used
        # the collapsed sections that were cut say so; every <details> is closed
        assert text.count("<details>") == text.count("</details>")
        assert "first " in text and " shown, the rest in the full report</summary>" in text
    text = markdown.render(hostile)
    outside_code = re.sub(r"(`+).*?\1", "", text)
    assert "<script" not in outside_code and "@everyone" not in text and "\u202e" not in text


def test_markdown_of_a_small_report_is_whole() -> None:
    text = markdown.render(fixture_report())
    assert "more in the full report" not in text
    assert "### Vulnerable packages (2, 2 advisories)" in text
    assert "| **werkzeug** | `2.0.0` | 1 · 🟧 high | `2.2.3` (not verified) |  |" in text
    assert "| **torch** | `2.0.0` | 1 · ❔ unknown | — | `PYSEC-2099-1` |" in text
    assert "<details><summary>🟥 typosquat: 1 (worst critical)</summary>" in text


def _vuln(id: str, package: tuple[str, str], fixed: list[str], severity: Severity = Severity.HIGH) -> Finding:
    return Finding(kind=FindingKind.VULNERABILITY, id=id, severity=severity, message=f"{id} affects {package[0]}",
                   package=package, fixed_versions=fixed, check="advisories")


def test_upgrade_from_the_advisories_when_no_remediation_was_computed() -> None:
    report = empty_report()
    report.add_package(Package(name="torch", version="2.1.0", direct=True))
    report.findings += [_vuln("A-1", ("torch", "2.1.0"), ["2.2.0", "1.13.2"]),  # 1.13.2: an older branch's fix
                        _vuln("A-2", ("torch", "2.1.0"), ["2.1.3"]),
                        _vuln("A-3", ("torch", "2.1.0"), [], Severity.CRITICAL)]
    (row,) = rollup.build(report).packages
    assert row.remediation.to == "2.2.0" and row.remediation.clears == ["A-1", "A-2"]
    assert row.remediation.remains == ["A-3"] and not row.remediation.verified and row.from_advisories
    assert row.worst is Severity.CRITICAL and row.upgrade == "2.2.0 (not verified)"
    doc = json.loads(render_json(report))
    assert doc["remediation"] == [{"package": {"name": "torch", "version": "2.1.0"}, "to": "2.2.0",
                                   "clears": ["A-1", "A-2"], "remains": ["A-3"], "profiles": [],
                                   "verified": False, "action": "upgrade", "reason": rollup.UNVERIFIED_REASON}]


def test_the_remediation_stage_record_wins() -> None:
    report = empty_report()
    report.add_package(Package(name="torch", version="2.1.0", direct=True))
    report.findings += [_vuln("A-1", ("torch", "2.1.0"), ["2.2.0"]), _vuln("A-2", ("torch", "2.1.0"), [])]
    report.remediation.append(Remediation(package=("torch", "2.1.0"), to="2.3.1", clears=["A-1"],
                                          remains=["A-2"], verified=True))
    (row,) = rollup.build(report).packages
    assert row.upgrade == "2.3.1" and not row.from_advisories
    text = terminal.render(report)
    assert re.search(r"^  torch +2\.1\.0 +2 high +2\.3\.1 +A-2", text, flags=re.M)
    assert "not verified" not in text


def test_gaps_are_counted_by_reason_not_listed() -> None:
    report = big_report(200, findings_per_kind=1, vulnerable=5)
    groups = rollup.gap_groups(report.skipped)
    hashes = [g for g in groups if g.reason.startswith("hashes not verified")]
    assert sum(len(g.items) for g in hashes) == sum(1 for i in report.skipped if i.kind.value == "hashes")
    assert len(groups) < len(report.skipped) / 5


def test_versions_that_differ_between_profiles_say_how_each_came_in() -> None:
    report = empty_report()
    report.ledger.add(ItemKind.REQUIREMENT, "torch==2.1.0", file="requirements-cpu.txt", line=3,
                      requirement="torch==2.1.0")
    report.ledger.add(ItemKind.REQUIREMENT, "torch>=2", file="requirements-gpu.txt", line=1,
                      requirement="torch>=2")
    report.add_package(Package(name="torch", version="2.1.0", direct=True, source="resolver",
                               location=Location("requirements-cpu.txt", 3), profiles=["cpu"]))
    report.add_package(Package(name="torch", version="2.4.1", direct=True, source="resolver",
                               location=Location("requirements-gpu.txt", 1), profiles=["gpu"]))
    report.add_package(Package(name="numpy", version="1.26.4", source="resolver", profiles=["cpu"]))
    report.add_package(Package(name="numpy", version="2.0.0", source="resolver", profiles=["gpu"]))
    report.add_package(Package(name="numpy", version="2.1.0", source=FALLBACK_SOURCE, profiles=["gpu"]))
    view = rollup.build(report)
    assert [(c.name, c.versions) for c in view.conflicts] == [
        ("numpy", [("1.26.4", "resolved for cpu"), ("2.0.0", "resolved for gpu")]),
        ("torch", [("2.1.0", "pinned at requirements-cpu.txt:3"),
                   ("2.4.1", "resolved from torch>=2 at requirements-gpu.txt:1")])]
    text = terminal.render(report, verbose=True)
    assert "numpy: 1.26.4 (resolved for cpu); 2.0.0 (resolved for gpu)" in text
    assert "pinned" not in text.split("numpy:")[1].splitlines()[0]


def test_fallback_source_constant_agrees() -> None:
    assert rollup.SDIST_ONLY_SOURCE == FALLBACK_SOURCE


def test_the_advisories_package_wide_upgrade_clears_them_all() -> None:
    """An advisory that lists affected versions without a ``fixed`` one is still cleared by a release no record
    affects (the advisories check names it in each finding's evidence): it is not "no release fixes"."""
    report = empty_report()
    report.findings += [_vuln("A-1", ("transformers", "4.49.0"), ["5.3.0"]),
                        _vuln("A-2", ("transformers", "4.49.0"), [])]
    for finding in report.findings:
        finding.evidence = AdvisoryEvidence(matched_by=("versions",), ranges=(), records=(finding.id,),
                                            basis=SeverityBasis("no severity in any record"), package_upgrade="5.3.0")
    (row,) = rollup.build(report).packages
    assert row.remediation.to == "5.3.0" and row.remediation.clears == ["A-1", "A-2"]
    assert row.remediation.remains == [] and not row.remediation.verified


def test_a_real_advisory_run_names_its_upgrade(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    main(["--offline", "examples/demo", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    by_package = {r["package"]["name"]: r for r in doc["remediation"]}
    for finding in doc["findings"]:
        if finding["kind"] != "vulnerability":
            continue
        record = by_package[finding["package"]["name"]]
        upgrade = finding["evidence"].get("upgrade")
        if upgrade is not None:  # the check's package-wide upgrade is the roll-up's, and it clears the finding
            assert record["to"] == upgrade and finding["id"] in record["clears"]
            assert finding["fix"] == f"upgrade to {upgrade}"


def test_one_model_loaded_the_same_way_in_several_files_is_one_row_with_its_places() -> None:
    """Per-place findings (one per file that loads the model) must not read as duplicate rows in the summary; the
    verbose view and the JSON still hold one finding per place."""
    def remote(file: str, repo: str) -> Finding:
        return Finding(kind=FindingKind.TRUST_REMOTE_CODE, id="MLA-MODEL-REMOTE-CODE", severity=Severity.HIGH,
                       message=f"model {repo} is loaded with trust_remote_code", model=(repo, None),
                       location=Location(file, 3))
    report = empty_report()
    report.findings = [remote(f"src/m{n}.py", "acme/one") for n in range(4)] + [remote("src/x.py", "acme/two")]
    groups = rollup.build(report).groups
    assert [(e.finding.subject, e.places) for e in groups[0].entries] == [("acme/one", 4), ("acme/two", 1)]
    text = terminal.render(report)
    rows = [line for line in text.splitlines() if "MLA-MODEL-REMOTE-CODE" in line]
    assert len(rows) == 2 and "4 places" in rows[0] and "places" not in rows[1]
    assert "trust-remote-code 5 (2 distinct)" in text
    verbose = terminal.render(report, verbose=True)
    assert sum(f"src/m{n}.py" in verbose for n in range(4)) == 4
    # the Markdown comment: the same rows as the terminal, each listing its places; the JSON keeps one per place
    md = markdown.render(report)
    md_rows = [line for line in md.splitlines() if "MLA-MODEL-REMOTE-CODE" in line]
    assert len(md_rows) == 2
    assert "4 places: `src/m0.py:3`, `src/m1.py:3`, `src/m2.py:3`, `src/m3.py:3`" in md_rows[0]
    assert "at `src/x.py:3`" in md_rows[1] and "places" not in md_rows[1]
    assert "trust-remote-code: 5 in 2 distinct (worst high)" in md
    assert len(json.loads(render_json(report))["findings"]) == 5
    many = empty_report()
    many.findings = [remote(f"src/m{n}.py", "acme/one") for n in range(9)]
    [row] = [line for line in markdown.render(many).splitlines() if "MLA-MODEL-REMOTE-CODE" in line]
    assert "9 places: " in row and "`src/m4.py:3` +4 more" in row and "src/m5.py" not in row
    assert len(json.loads(render_json(report))["findings"]) == 5


def test_run_time_references_are_one_reason_whatever_their_wording() -> None:
    """Each run-time gap says why in words of its own place (an option, a caller, a loop); a reader sees one reason
    with its files, not one line per wording. Other gaps keep their own reasons."""
    def runtime(file: str, why: str, what: str = "model") -> Skipped:
        return Skipped(reason=f"{what} reference computed at run time ({why}); the {what} it loads is not audited",
                       file=file, line=4, requirement="args.model", kind=ItemKind.MODEL_REFERENCE,
                       gap=GapKind.RUNTIME_REFERENCE)
    items = [runtime("a.py", "a field the operator may set"), runtime("b.py", "script_args.dataset_name", "dataset"),
             runtime("c.py", "AutoModel.from_pretrained(cfg.get(\"name\", default_name("),
             Skipped(reason="offline: model acme/m@main is not in the local Hugging Face cache", file="d.py",
                     line=1, requirement="acme/m", kind=ItemKind.MODEL_REFERENCE)]
    groups = rollup.gap_groups(items)
    assert sorted(len(g.items) for g in groups) == [1, 3]
    report = empty_report()
    report.ledger.extend(items)
    text = terminal.render(report)
    assert "Not checked: 4 item(s), 2 reason(s)" in text
    assert "3 model/dataset references chosen at run time" in text and "a.py (1)" in text

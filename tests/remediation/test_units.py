"""The pure parts of remediation: which version to plan, how a specifier is widened, how a requirements file is
edited as text, how a header command is read, and how many re-resolutions a batch with conflicts costs."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.remediation.model import ProfilePlan, Upgrade
from auditor.remediation.reqtext import edit_pins, header_command, insert_pins
from auditor.remediation.reresolve import Outcome, ProfileSpec
from auditor.remediation.specifiers import widen
from auditor.remediation.targets import Problem, choose_target
from auditor.remediation.tools import ToolError, UnknownCommand, parse_header_command, rerunnable, where_it_ran
from auditor.remediation.verify import ProfileVerifier
from auditor.resolve.target import Indexes
from auditor.sources.base import SourceResult
from tests.remediation.support import osv

A1 = osv("PYSEC-1", "pkg", [{"introduced": "0"}, {"fixed": "1.2"}])
A2 = osv("PYSEC-2", "pkg", [{"introduced": "0"}, {"fixed": "1.5"}])
LATER = osv("PYSEC-3", "pkg", [{"introduced": "1.3"}, {"fixed": "1.4"}])  # not in 1.0: 1.3 would introduce it
NOFIX = osv("PYSEC-4", "pkg", [{"introduced": "0"}])


def problem(record_id: str) -> Problem:
    return Problem(record_id, frozenset({record_id}))


def test_smallest_release_that_clears_everything_and_introduces_nothing() -> None:
    target = choose_target("pkg", "1.0", [problem("PYSEC-1"), problem("PYSEC-2")], [A1, A2, LATER],
                           ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "2.0"])
    assert (target.to, target.clears, target.remains) == ("1.5", ["PYSEC-1", "PYSEC-2"], [])


def test_a_release_inside_a_newer_advisory_is_skipped() -> None:
    target = choose_target("pkg", "1.0", [problem("PYSEC-1")], [A1, LATER], ["1.2", "1.3", "1.4"])
    assert target.to == "1.2"
    target = choose_target("pkg", "1.0", [problem("PYSEC-1")], [A1, LATER], ["1.3", "1.4"])  # 1.2 not listed
    assert target.to == "1.4"


def test_what_no_release_fixes_remains_and_the_rest_is_still_cleared() -> None:
    target = choose_target("pkg", "1.0", [problem("PYSEC-1"), problem("PYSEC-4")], [A1, NOFIX], ["1.2", "2.0"])
    assert (target.to, target.clears, target.remains) == ("1.2", ["PYSEC-1"], ["PYSEC-4"])
    assert target.note == "no known release fixes PYSEC-4"
    nothing = choose_target("pkg", "1.0", [problem("PYSEC-4")], [NOFIX], ["1.2", "2.0"])
    assert nothing.to is None and nothing.remains == ["PYSEC-4"]


def test_final_release_preferred_to_a_smaller_prerelease() -> None:
    pre_fix = osv("PYSEC-1", "pkg", [{"introduced": "0"}, {"fixed": "1.2rc1"}])
    target = choose_target("pkg", "1.0", [problem("PYSEC-1")], [pre_fix], ["1.2rc1", "1.2"])
    assert target.to == "1.2"
    only_pre = choose_target("pkg", "1.0", [problem("PYSEC-1")], [pre_fix], ["1.2rc1"])
    assert only_pre.to == "1.2rc1"


def test_local_label_is_matched_as_its_public_version() -> None:
    target = choose_target("pkg", "1.0+cu121", [problem("PYSEC-1")], [A1], ["1.1+cu121", "1.2+cu121", "1.2"])
    assert target.to == "1.2"


@pytest.mark.parametrize(("spec", "to", "expected"), [
    ("==1.0", "1.2", "==1.2"),
    (">=1.0,<2.0", "2.1.3", ">=1.0,<2.2"),
    (">=1.0, <2", "2.1.3", ">=1.0, <3"),
    ("<=1.2", "1.3", "<=1.3"),
    ("~=1.4", "2.0.1", ">=1.4,<3"),
    ("~=1.4.2", "1.6.0", ">=1.4.2,<1.7"),
    ("==1.2.*", "1.3.1", "==1.3.*"),
    ("!=1.5,>=1", "1.5", ">=1"),
    (">=1", "2", ">=1"),
    ("^1.2", "2.0", None),
])
def test_widen(spec: str, to: str, expected: str | None) -> None:
    assert widen(spec, to) == expected


def test_edit_keeps_everything_but_the_version() -> None:
    text = ("--index-url https://example.invalid/simple\n-r base.txt\n"
            "Torch==2.1.0+cu121 ; sys_platform == 'linux'  # CUDA build\nnumpy>=1.20,<1.25\nrequests\n")
    new, changed = edit_pins(text, {"torch": "2.2.0+cu121", "numpy": "1.26.4", "requests": "2.32.0"}, None)
    assert new == ("--index-url https://example.invalid/simple\n-r base.txt\n"
                   "Torch==2.2.0+cu121 ; sys_platform == 'linux'  # CUDA build\nnumpy>=1.20,<1.27\nrequests\n")
    assert changed == ["numpy", "torch"]


def test_hashes_are_replaced_and_inline_hashes_kept_inline_style() -> None:
    text = "a==1.0 --hash=sha256:old1 --hash=sha256:old2\nb==2.0\n"
    new, _ = edit_pins(text, {"a": "1.1"}, lambda name, version: ["sha256:n2", "sha256:n1"])
    assert new == "a==1.1 \\\n    --hash=sha256:n1 \\\n    --hash=sha256:n2\nb==2.0\n"


def test_new_pins_are_inserted_in_name_order_with_via() -> None:
    text = "alpha==1.0\n    # via -r req.in\nzeta==1.0\n    # via\n    #   alpha\n    #   -r req.in\n"
    new = insert_pins(text, {"mid": "3.0", "zz": "1.0"}, None, hashed=False, via={"mid": ["alpha", "zeta"],
                                                                                  "zz": ["-r req.in"]})
    assert new == ("alpha==1.0\n    # via -r req.in\nmid==3.0\n    # via\n    #   alpha\n    #   zeta\n"
                   "zeta==1.0\n    # via\n    #   alpha\n    #   -r req.in\nzz==1.0\n")


PIP_COMPILE_HEADER = """#
# This file is autogenerated by pip-compile with Python 3.11
# by the following command:
#
#    pip-compile --allow-unsafe --generate-hashes --max-rounds=5 --output-file=requirements/base.txt requirements/base.in
#
"""


def test_pip_compile_header_is_read_for_uv(tmp_path: Path) -> None:
    command = header_command(PIP_COMPILE_HEADER + "alpha==1.0\n")
    assert command is not None and command.startswith("pip-compile --allow-unsafe")
    parsed = parse_header_command(command)
    assert parsed.output == "requirements/base.txt" and parsed.sources == ["requirements/base.in"]
    assert parsed.args == ["--allow-unsafe", "--generate-hashes", "requirements/base.in"]
    assert parsed.dropped == ["--max-rounds=5"]
    lock = tmp_path / "requirements" / "base.txt"
    lock.parent.mkdir()
    lock.write_text("")
    assert where_it_ran(lock, parsed, tmp_path) == tmp_path  # the output path names it from the project root
    assert header_command("alpha==1.0\n") is None
    with pytest.raises(UnknownCommand):
        parse_header_command("poetry export -o requirements.txt")
    with pytest.raises(ToolError):
        parse_header_command("pip-compile 'unclosed")


@pytest.mark.parametrize(("command", "again"), [
    ("pip-compile --generate-hashes requirements.in", True),
    ("uv pip compile requirements.in -o requirements.txt", True),
    ("python -m piptools compile requirements.in", True),
    ("uv export --frozen -o requirements.txt", True),
    ("bazel run //build:requirements.update", False),  # pip-compile wrapped in a build system: not re-run
    ("poetry export -o requirements.txt", False),
])
def test_which_header_commands_are_rerun(command: str, again: bool) -> None:
    """Decided by the kind of error (``UnknownCommand``), never by the wording of its message."""
    assert rerunnable(command) is again


def _upgrades(n: int) -> list[Upgrade]:
    return [Upgrade(f"p{i}", "1.0", "2.0") for i in range(n)]


def test_batch_verification_bisects_only_on_conflict() -> None:
    """Eight upgrades, one of which conflicts: one run per profile when nothing conflicts; a handful (not eight)
    when one does, and the culprit is the only one rejected."""
    spec = ProfileSpec([f"p{i}" for i in range(8)], [], {f"p{i}": "1.0" for i in range(8)}, Indexes())
    calls: list[list[str]] = []

    def resolver(bad: str | None):
        def run(_spec: ProfileSpec, upgrades: dict[str, str], _lines: dict[str, str]) -> Outcome:
            calls.append(sorted(upgrades))
            if bad in upgrades:
                return Outcome(conflict=f"Because {bad}==2.0 conflicts ...")
            return Outcome(pins={**spec.pins, **upgrades})
        return run

    class NoAdvisories:
        def vulnerabilities_many(self, names: object) -> dict[str, list[object]]:
            return {}

        def malicious_many(self, names: object) -> dict[str, list[object]]:
            return {}

    profile = ProfilePlan("requirements.txt", ["requirements.txt"], ["requirements"], SourceResult(), spec)
    clean = ProfileVerifier(profile, resolver(None), NoAdvisories(), [])  # type: ignore[arg-type]
    clean.settle(_upgrades(8))
    assert len(calls) == 1 and len(clean.accepted) == 8 and not clean.rejected
    calls.clear()
    verifier = ProfileVerifier(profile, resolver("p5"), NoAdvisories(), [])  # type: ignore[arg-type]
    verifier.settle(_upgrades(8))
    assert list(verifier.rejected) == [("p5", "1.0")] and len(verifier.accepted) == 7
    assert "p5==2.0 conflicts" in verifier.rejected[("p5", "1.0")]
    assert len(calls) <= 8 and verifier.pins is not None and verifier.pins["p5"] == "1.0"


def test_a_finding_whose_records_are_missing_is_never_called_cleared() -> None:
    """An id the planner has no record for (e.g. an ``--online`` answer not handed in) stays in ``remains``."""
    target = choose_target("pkg", "1.0", [problem("PYSEC-1"), problem("GHSA-elsewhere")], [A1], ["1.2"])
    assert (target.to, target.clears, target.remains) == ("1.2", ["PYSEC-1"], ["GHSA-elsewhere"])
    assert target.note == "the records of GHSA-elsewhere were not available to plan with"


def test_write_all_writes_nothing_when_a_file_changed_meanwhile(tmp_path: Path) -> None:
    from auditor.remediation.edits import FileChange, WriteError, write_all

    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("a==1.0\n")
    second.write_text("b==1.0\n")
    changes = [FileChange(first, "a==1.0\n", "a==1.1\n"), FileChange(second, "b==0.9\n", "b==1.1\n")]
    with pytest.raises(WriteError, match="changed while the fix ran"):
        write_all(changes)
    assert first.read_text() == "a==1.0\n" and second.read_text() == "b==1.0\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]  # no temporary file left
    changes[1] = FileChange(second, "b==1.0\n", "b==1.1\n")
    write_all(changes)
    assert first.read_text() == "a==1.1\n" and second.read_text() == "b==1.1\n"


def test_targets_on_shipped_records_clear_what_each_record_asked_alone_says() -> None:
    """``choose_target`` unites, per finding, the candidates its records affect (one question per record); read
    candidate by candidate and record by record (``record_affects``), the chosen release clears exactly the findings
    it reports, brings no advisory the version does not have, and every finding it leaves is one no single
    release clears alongside -- on the shipped records of packages with many advisories, at old versions."""
    from auditor.advisories.db import open_store
    from auditor.advisories.findings import vulnerability_findings
    from auditor.advisories.match import record_affects
    from auditor.remediation.targets import fixed_events, live_vulnerability_records, problems_of, record_ids

    store = open_store()
    planned = 0
    for name, versions in {"django": ["1.11", "2.2", "3.2.1"], "pillow": ["6.0.0", "8.1.0"], "jinja2": ["2.10"],
                           "tensorflow": ["2.4.0", "2.9.0"], "torch": ["1.13.0", "2.0.0"]}.items():
        records = live_vulnerability_records(store.vulnerabilities(name))
        for version in versions:
            findings = vulnerability_findings(name, version, records)
            problems = problems_of((f.id, f.aliases) for f in findings)
            target = choose_target(name, version, problems, records, fixed_events(name, records))
            if target.to is None:
                continue
            groups = {p.id: [r for r in records if record_ids(r) & p.ids] for p in problems}
            cleared = [pid for pid, rs in groups.items() if rs and not any(record_affects(r, name, target.to)
                                                                           for r in rs)]
            assert target.clears == cleared, (name, version)
            mine = {id(r) for rs in groups.values() for r in rs}
            assert not any(record_affects(r, name, target.to) for r in records if id(r) not in mine)
            assert sorted(target.remains) == sorted(p.id for p in problems if p.id not in cleared)
            planned += 1
    assert planned >= 8

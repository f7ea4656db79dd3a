"""The policy is merged with the flags once (``runconfig.options_for``) and never changed: the flags win where given
(``--fail-on``) and add where both apply (``--require-complete``, ``--disable-check``, ``--exclude``); the pipeline
reads the merged values and does not merge again."""

from __future__ import annotations

from pathlib import Path

from auditor.domain import Severity
from auditor.options import AuditOptions, AuditRequest
from auditor.pipeline import run_audit
from auditor.policy import Policy
from auditor.runconfig import options_for

POLICY = """\
fail-on = "medium"
require-complete = true
disable = ["typosquat"]
exclude = ["vendor/**"]
"""


def _project(tmp_path: Path) -> Path:
    (tmp_path / "requirements.txt").write_text("six==1.16.0 --hash=sha256:" + "0" * 64 + "\n")
    (tmp_path / "mlaudit.toml").write_text(POLICY)
    return tmp_path


def test_flags_and_the_project_policy_are_merged_once(tmp_path: Path) -> None:
    root = _project(tmp_path)
    plain = options_for(AuditRequest(offline=True), [str(root)])
    assert plain.fail_on is Severity.MEDIUM and plain.require_complete is True
    assert plain.disabled_checks == {"typosquat"} and plain.exclude == ["vendor/**"]
    flags = AuditRequest(offline=True, fail_on=Severity.CRITICAL, disable=("dependency-confusion",),
                         exclude=("tests/**",))
    merged = options_for(flags, [str(root)])
    assert merged.fail_on is Severity.CRITICAL  # the flag wins
    assert merged.disabled_checks == {"typosquat", "dependency-confusion"}  # both apply
    assert merged.exclude == ["vendor/**", "tests/**"]
    policy = merged.policy
    assert policy is not None and policy.disabled_kinds == {"typosquat"} and policy.exclude == ["vendor/**"]
    assert policy.fail_on is Severity.MEDIUM  # the policy object is what the file says, unchanged


def test_without_a_policy_the_defaults_hold(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    options = options_for(AuditRequest(offline=True), [str(tmp_path / "requirements.txt")])
    assert options.fail_on is Severity.LOW and options.require_complete is False and options.disabled_checks == set()


def test_the_pipeline_reads_the_merged_options_and_never_merges_again(tmp_path: Path) -> None:
    """``require_complete`` and the disabled checks of the report are the options', whatever the policy object
    holds: a caller that merged (or chose not to) is obeyed, and the policy is not consulted a second time."""
    root = _project(tmp_path)
    policy = Policy(require_complete=True, disabled_kinds={"typosquat"}, fail_on=Severity.MEDIUM)
    options = AuditOptions(paths=[str(root / "requirements.txt")], offline=True, project_dir=str(root),
                           policy=policy, require_complete=False, fail_on=Severity.HIGH, disabled_checks=set())
    report = run_audit(options)
    assert report.require_complete is False and report.fail_on is Severity.HIGH
    assert policy.disabled_kinds == {"typosquat"} and policy.require_complete is True  # not mutated

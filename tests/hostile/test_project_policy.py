"""A project cannot switch off its own audit silently (issue 26).

The audited tree's own policy (``[tool.mlaudit]`` of its pyproject, its ``mlaudit.toml``) that disables checks,
ignores findings or lowers the gate is named in every output format; a check it disables is a gap (the report is
incomplete, ``--require-complete`` exits 3). A caller's own ``--config`` stays authoritative: the project's file is
then not applied, and the report says so.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from auditor.cli import main
from auditor.resources import data_file

PAYLOAD = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03."
FORMATS = ["json", "sarif", "markdown", "html", "terminal", "cyclonedx-json", "cyclonedx-xml"]


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "2000")  # the terminal view wraps at the width; paths are compared whole


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def audit_json(*argv: str) -> tuple[int, dict[str, Any]]:
    code, out, err = cli(*argv, "--offline", "--format", "json", "-q")
    assert "internal error" not in err, err
    report = json.loads(out)
    jsonschema.validate(report, json.loads(data_file("report.schema.json").read_text()))
    return code, report


PYPROJECT = '[project]\nname = "victim"\nversion = "1.0"\ndependencies = []\n\n'

# (file name, policy text, what it disables (gaps), text every output must carry)
POLICIES = [
    ("pyproject.toml", PYPROJECT + '[tool.mlaudit]\ndisable = ["modelscan", "advisories"]\n',
     ["advisories", "modelscan"], "modelscan"),
    ("mlaudit.toml", "[checks]\nmodelscan = false\n", ["modelscan"], "modelscan"),
    ("mlaudit.toml", 'disable = ["unsafe-model"]\n', ["unsafe-model"], "unsafe-model"),
    ("pyproject.toml", PYPROJECT + "[tool.mlaudit]\n[[tool.mlaudit.ignore]]\nid = \"MLA-PICKLE-EXEC\"\n"
     "reason = \"trust me\"\n", [], "MLA-PICKLE-EXEC"),
    ("mlaudit.toml", 'fail-on = "critical"\nexclude = ["weights/**"]\n', [], "weights/**"),
]


def victim(tmp_path: Path, name: str, text: str) -> Path:
    root = tmp_path / "victim"
    (root / "weights").mkdir(parents=True)
    (root / "weights" / "model.pkl").write_bytes(PAYLOAD)
    (root / "requirements.txt").write_text("")
    (root / name).write_text(text)
    return root


@pytest.mark.parametrize(("name", "text", "gaps", "named"), POLICIES)
def test_the_project_s_own_policy_is_named_in_every_output(tmp_path: Path, name: str, text: str,
                                                           gaps: list[str], named: str) -> None:
    root = victim(tmp_path, name, text)
    policy_file = str(root / name)
    for fmt in FORMATS:
        code, out, err = cli(str(root), "--offline", "--format", fmt, "-q")
        shown = out.replace("\\", "") if fmt == "markdown" else out  # Markdown escapes _ and *
        assert policy_file in shown and named in shown, (fmt, out[-3000:], err)
    code, report = audit_json(str(root))
    policy = report["policy"]
    assert policy["file"] == policy_file and policy["origin"] == "audited-project"
    assert sorted(policy["disables"]) == gaps
    skipped_checks = sorted(s["subject"] for s in report["skipped"] if s["kind"] == "check")
    assert skipped_checks == gaps
    hidden = [s for s in report["skipped"] if "audited project's own policy" in (s["reason"] or "")
              and s["kind"] != "check"]  # paths its own exclude patterns leave out: gaps too
    assert bool(hidden) is ("exclude" in text)
    assert report["complete"] is (not gaps and not hidden)
    if gaps or hidden:
        code, _ = audit_json(str(root), "--require-complete")
        assert code == 3


@pytest.mark.parametrize(("name", "text", "gaps", "named"), POLICIES)
def test_a_caller_s_config_is_authoritative_and_says_what_it_displaced(tmp_path: Path, name: str, text: str,
                                                                       gaps: list[str], named: str) -> None:
    root = victim(tmp_path, name, text)
    own = tmp_path / "ci-policy.toml"
    own.write_text('fail-on = "high"\n')
    code, report = audit_json(str(root), "--config", str(own))
    assert code == 1 and any(f["id"] == "MLA-PICKLE-EXEC" and not f.get("ignored") for f in report["findings"])
    policy = report["policy"]
    assert policy["origin"] == "caller" and policy["file"] == str(own)
    assert policy["not_applied"] == [str(root / name)]
    assert not [s for s in report["skipped"] if s["kind"] == "check"]
    for fmt in ("terminal", "markdown", "html", "sarif"):
        _, out, _ = cli(str(root), "--offline", "--config", str(own), "--format", fmt, "-q")
        shown = out.replace("\\", "") if fmt == "markdown" else out
        assert "not applied" in shown and str(root / name) in shown, fmt


def test_accepting_the_project_s_policy_with_config(tmp_path: Path) -> None:
    name, text, gaps, _ = POLICIES[0]
    root = victim(tmp_path, name, text)
    code, report = audit_json(str(root), "--config", str(root / name), "--require-complete")
    assert code == 0 and report["complete"] is True
    assert report["policy"]["origin"] == "caller" and report["policy"]["disables"] == gaps


def test_a_project_pyproject_beside_its_mlaudit_toml_is_named_as_not_applied(tmp_path: Path) -> None:
    root = victim(tmp_path, "pyproject.toml", PYPROJECT + '[tool.mlaudit]\ndisable = ["modelscan"]\n')
    (root / "mlaudit.toml").write_text('fail-on = "high"\n')
    _, report = audit_json(str(root))
    assert report["policy"]["file"] == str(root / "mlaudit.toml")
    assert report["policy"]["not_applied"] == [str(root / "pyproject.toml")]


def test_a_caller_s_own_exclude_stays_an_exclusion(tmp_path: Path) -> None:
    root = victim(tmp_path, "mlaudit.toml", 'exclude = ["weights/**"]\n')
    _, report = audit_json(str(root), "--exclude", "weights/**")
    assert report["complete"] is True
    assert any(e["file"].startswith(str(root / "weights")) for e in report["excluded"])


def test_a_scan_names_its_config(tmp_path: Path) -> None:
    model = tmp_path / "model.pkl"
    model.write_bytes(PAYLOAD)
    own = tmp_path / "policy.toml"
    own.write_text('[[ignore]]\nid = "MLA-PICKLE-EXEC"\nreason = "a test fixture"\n')
    code, out, _ = cli("scan", str(model), "--config", str(own), "--format", "json", "-q")
    assert json.loads(out)["policy"]["ignores"][0]["id"] == "MLA-PICKLE-EXEC"

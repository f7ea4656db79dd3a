"""action.yml and .pre-commit-hooks.yaml: well-formed, and the action's audit script handles exit codes right
(run with a stub ``mlaudit`` on PATH that records its arguments, so no network and no real audit)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _action() -> dict[str, Any]:
    return yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_action_is_composite_and_uploads_everything() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite"
    uses = [s.get("uses", "") for s in action["runs"]["steps"]]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    assert {"path", "fail-on", "formats"} <= set(action["inputs"])
    for step in action["runs"]["steps"]:  # inputs reach scripts via env only (no template injection)
        assert "${{ inputs." not in step.get("run", "")


def test_pre_commit_hooks() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    main = next(h for h in hooks if h["id"] == "mlaudit")
    assert main["entry"] == "mlaudit" and main["language"] == "python"
    files = re.compile(main["files"])
    for name in ("requirements.txt", "sub/requirements-dev.txt", "uv.lock", "pyproject.toml", "poetry.lock"):
        assert files.search(name), name
    for name in ("setup.py", "README.md", "src/app.py"):
        assert not files.search(name), name


def _run_audit_step(tmp_path: Path, stub_exit: int, formats: str) -> tuple[int, str, str]:
    if shutil.which("bash") is None:
        pytest.skip("bash not available")
    script = next(s["run"] for s in _action()["runs"]["steps"] if s.get("id") == "audit")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "mlaudit"
    stub.write_text(f'#!/bin/sh\necho "$*" >> "{tmp_path}/calls"\nexit {stub_exit}\n', encoding="utf-8")
    stub.chmod(0o755)
    out_file = tmp_path / "github_output"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "MLAUDIT_PATHS": "req.txt other.txt",
           "MLAUDIT_FAIL_ON": "high", "MLAUDIT_FORMATS": formats, "MLAUDIT_ARGS": "--offline", "OUT": "out",
           "GITHUB_OUTPUT": str(out_file), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30,
                          check=False)
    calls = (tmp_path / "calls").read_text(encoding="utf-8") if (tmp_path / "calls").exists() else ""
    return proc.returncode, out_file.read_text(encoding="utf-8") if out_file.exists() else "", calls


def test_findings_still_produce_every_report(tmp_path: Path) -> None:
    code, outputs, calls = _run_audit_step(tmp_path, 1, "sarif sbom html")
    assert code == 0  # the gate step fails the job later, after the uploads
    assert "exit-code=1" in outputs and "sarif=out/mlaudit.sarif" in outputs
    lines = calls.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("req.txt other.txt --offline --fail-on high --format sarif")
    assert lines[1].startswith("sbom req.txt other.txt --offline --sbom-vex --format cyclonedx-json")
    assert "--format html" in lines[2]


@pytest.mark.parametrize("stub_exit", [2, 3])
def test_usage_or_incomplete_stops_at_once(tmp_path: Path, stub_exit: int) -> None:
    code, outputs, calls = _run_audit_step(tmp_path, stub_exit, "sarif sbom html")
    assert code == stub_exit and f"exit-code={stub_exit}" in outputs
    assert len(calls.splitlines()) == 1

"""action.yml and .pre-commit-hooks.yaml: well-formed, and the action's audit script handles exit codes right
(run with a stub ``mlaudit`` on PATH that records its arguments, so no network and no real audit)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.httpserver import LoopbackServer, Request, Response

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


def _run_audit_step(tmp_path: Path, stub_exit: int, formats: str,
                    extra_env: dict[str, str] | None = None) -> tuple[int, str, str]:
    if shutil.which("bash") is None:
        pytest.skip("bash not available")
    script = next(s["run"] for s in _action()["runs"]["steps"] if s.get("id") == "audit")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    stub = bin_dir / "mlaudit"
    stub.write_text(f'#!/bin/sh\necho "$*" >> "{tmp_path}/calls"\nexit {stub_exit}\n', encoding="utf-8")
    stub.chmod(0o755)
    out_file = tmp_path / "github_output"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "MLAUDIT_PATHS": "req.txt other.txt",
           "MLAUDIT_FAIL_ON": "high", "MLAUDIT_FORMATS": formats, "MLAUDIT_ARGS": "--offline", "OUT": "out",
           "GITHUB_OUTPUT": str(out_file), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"), **(extra_env or {})}
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


def test_baseline_reaches_every_gated_run_and_markdown_for_the_comment(tmp_path: Path) -> None:
    code, outputs, calls = _run_audit_step(tmp_path, 1, "sarif sbom html",
                                           {"MLAUDIT_BASELINE": "base dir/base.json", "MLAUDIT_COMMENT": "true"})
    assert code == 0 and "markdown=out/mlaudit.md" in outputs
    lines = calls.splitlines()
    assert len(lines) == 4
    gate, sbom, html, md = lines
    for line in (gate, html, md):
        assert "--baseline base dir/base.json" in line, line
    assert "--baseline" not in sbom and "--format markdown" in md
    code, outputs, calls = _run_audit_step(tmp_path / "plain", 0, "sarif")
    assert "--baseline" not in calls and "markdown=" not in outputs


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t", *args], cwd=cwd, check=True,
                   capture_output=True, timeout=60)


@pytest.mark.parametrize("ref_ok", [True, False])
def test_baseline_ref_is_audited_from_a_worktree(tmp_path: Path, ref_ok: bool) -> None:
    if shutil.which("bash") is None or shutil.which("git") is None:
        pytest.skip("bash and git needed")
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "req.txt").write_text("old==1.0\n")
    _git(repo, "add", "req.txt")
    _git(repo, "commit", "-qm", "base")
    (repo / "req.txt").write_text("new==2.0\n")
    _git(repo, "commit", "-qam", "head")
    script = next(s["run"] for s in _action()["runs"]["steps"] if s.get("id") == "baseline")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "mlaudit"  # records its arguments and what req.txt said where it ran, writes the -o file
    stub.write_text(f'#!/bin/sh\necho "$* :: $(cat req.txt)" >> "{tmp_path}/calls"\n'
                    'while [ $# -gt 0 ]; do if [ "$1" = -o ]; then echo "{{}}" > "$2"; fi; shift; done\nexit 1\n')
    stub.chmod(0o755)
    out_file = tmp_path / "github_output"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "MLAUDIT_PATHS": "req.txt",
           "MLAUDIT_ARGS": "--offline", "BASE_REF": "HEAD~1" if ref_ok else "no-such-ref", "OUT": "out",
           "BASE_DIR": str(tmp_path / "base"), "GITHUB_OUTPUT": str(out_file), "HOME": str(tmp_path)}
    proc = subprocess.run(["bash", "-c", script], cwd=repo, env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    outputs = out_file.read_text() if out_file.exists() else ""
    if ref_ok:
        calls = (tmp_path / "calls").read_text()
        assert calls.startswith("req.txt --offline --format json -o ") and calls.strip().endswith(":: old==1.0")
        assert f"file={repo / 'out' / 'baseline.json'}" in outputs and (repo / "out" / "baseline.json").exists()
        assert not (tmp_path / "base").exists()  # the worktree is removed again
    else:
        assert "::warning::" in proc.stdout and "file=" not in outputs


def _comment_step(tmp_path: Path, api: str, event: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    step = next(s for s in _action()["runs"]["steps"] if s.get("name") == "Comment on the pull request")
    assert step["shell"] == "python"
    script = tmp_path / "comment.py"
    script.write_text(step["run"], encoding="utf-8")
    (tmp_path / "event.json").write_text(json.dumps(event), encoding="utf-8")
    (tmp_path / "report.md").write_text("## mlaudit: demo\n\nbody\n", encoding="utf-8")
    env = {"PATH": os.environ["PATH"], "GITHUB_EVENT_PATH": str(tmp_path / "event.json"), "GITHUB_API_URL": api,
           "GITHUB_REPOSITORY": "acme/proj", "GITHUB_TOKEN": "t0ken", "COMMENT_ID": "gpu job",
           "MARKDOWN": str(tmp_path / "report.md")}
    return subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60,
                          check=False)


def test_pr_comment_is_posted_once_then_updated(tmp_path: Path) -> None:
    comments: list[dict[str, Any]] = [{"id": n, "body": f"someone else {n}"} for n in range(1, 101)]

    def listing(request: Request) -> Response:
        page = int(request.query.get("page", ["1"])[0])
        return Response.json(comments[(page - 1) * 100: page * 100])

    def post(request: Request) -> Response:
        comments.append({"id": 500 + len(comments), "body": request.json()["body"]})
        return Response.json(comments[-1], status=201)

    def patch(request: Request) -> Response:
        comment_id = int(request.path.rsplit("/", 1)[1])
        for comment in comments:
            if comment["id"] == comment_id:
                comment["body"] = request.json()["body"]
        return Response.json({"id": comment_id})

    event = {"pull_request": {"number": 7}}
    with LoopbackServer() as server:
        server.route("GET", r"/repos/acme/proj/issues/7/comments", listing)
        server.route("POST", r"/repos/acme/proj/issues/7/comments", post)
        server.route("PATCH", r"/repos/acme/proj/issues/comments/\d+", patch)
        first = _comment_step(tmp_path, server.url, event)
        assert first.returncode == 0 and "posted on #7" in first.stdout, first.stdout + first.stderr
        assert comments[-1]["body"] == "<!-- mlaudit-comment: gpu job -->\n## mlaudit: demo\n\nbody\n"
        (tmp_path / "x").mkdir()
        second = _comment_step(tmp_path / "x", server.url, event)
        assert second.returncode == 0 and "updated comment" in second.stdout, second.stdout + second.stderr
        assert len(comments) == 101  # updated, not duplicated (found on the second page of comments)
        assert all(r.headers.get("Authorization") == "Bearer t0ken" for r in server.log)
        methods = [r.method for r in server.log]
        assert methods == ["GET", "GET", "POST", "GET", "GET", "PATCH"]
        # not a pull request: nothing is asked
        push = _comment_step(tmp_path / "x", server.url, {"ref": "refs/heads/main"})
        assert push.returncode == 0 and len(server.log) == 6


def test_pr_comment_failure_is_a_warning(tmp_path: Path) -> None:
    with LoopbackServer() as server:
        server.route("GET", r"/repos/acme/proj/issues/7/comments", lambda _r: Response.json({"message": "no"}, 403))
        proc = _comment_step(tmp_path, server.url, {"pull_request": {"number": 7}})
    assert proc.returncode == 0 and "::warning::mlaudit comment: GET" in proc.stdout

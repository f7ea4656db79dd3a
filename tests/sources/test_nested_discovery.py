"""Issue 23 row 5: every requirement-like file a project holds, at any depth, ends audited (a profile of its own) or
listed as excluded with the reason -- never neither. The conservation test places such files everywhere a real
repository keeps them (and where it should not be looked into) and checks that each is accounted for."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from auditor.options import AuditOptions
from auditor.sources.detect import discover_project, is_requirement_like
from auditor.sources.project import load_project

Write = Callable[[str, "str | bytes"], Path]
PYPROJECT = '[project]\nname = "demo"\nversion = "1.0"\ndependencies = ["six==1.16.0"]\n'


def audit(*argv: str) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--format", "json", "-q", "--python-version", "3.11", *argv])
    return code, json.loads(out.getvalue()) if out.getvalue() else {}, err.getvalue()


def accounted(tmp_path: Path, **options: object) -> tuple[set[str], set[str], set[str]]:
    """(profile files, excluded paths, skipped paths) of a project load, relative to ``tmp_path``."""
    project = load_project([str(tmp_path)], AuditOptions(**options))  # type: ignore[arg-type]

    def rel(path: str) -> str:
        return Path(path).resolve().relative_to(tmp_path.resolve()).as_posix()

    files = {rel(f) for p in project.profiles for f in p.files[:1]}
    excluded = {rel(i.file) for i in project.excluded if i.file and i.outcome.value == "excluded"}
    skipped = {rel(i.file) for i in project.excluded if i.file and i.outcome.value == "skipped"}
    return files, excluded, skipped


NESTED = ["server/requirements.txt", "deploy/docker/requirements-gpu.txt", "svc/requirements/cuda.txt",
          "svc/requirements/rocm/extra.txt", "tools/constraints.txt", "api/dev-requirements.txt",
          "examples/a/requirements.in", "a/b/c/d/e/requirements_test.txt", "Server/Requirements.txt"]


@pytest.mark.parametrize("rel", NESTED)
def test_a_nested_requirements_file_beside_a_pyproject_is_a_profile(tmp_path: Path, write: Write, rel: str) -> None:
    write("pyproject.toml", PYPROJECT)
    write(rel, "jinja2==2.10\n")
    files, excluded, _ = accounted(tmp_path)
    assert files == {"pyproject.toml", rel}
    assert not excluded


def test_a_nested_file_is_audited_in_a_real_run(tmp_path: Path, write: Write) -> None:
    write("pyproject.toml", PYPROJECT)
    write("server/requirements.txt", "jinja2==2.10\n")
    code, report, err = audit(str(tmp_path), "--offline")
    assert code == 1, err
    assert {p["name"] for p in report["profiles"]} == {"pyproject.toml", "server/requirements.txt"}
    jinja = [f for f in report["findings"] if f["kind"] == "vulnerability" and f["package"]["name"] == "jinja2"]
    assert jinja and all(f["location"]["file"].endswith("server/requirements.txt") for f in jinja)
    assert str(tmp_path / "server" / "requirements.txt") in report["inputs"]


def test_pip_compile_inputs_beside_their_lock_are_listed_and_manifest_in_is_not_a_requirements_file(
        tmp_path: Path, write: Write) -> None:
    write("pyproject.toml", PYPROJECT)
    write("MANIFEST.in", "include README.md\n")
    write("tools/dev.in", "requests\n")
    write("tools/dev.txt", "requests==2.19.0\n    # via -r dev.in\n")
    write("requirements.in", "six\n")
    write("requirements.txt", "six==1.16.0\n")
    files, excluded, _ = accounted(tmp_path)
    assert files == {"requirements.txt", "pyproject.toml", "tools/dev.txt"}
    assert excluded == {"tools/dev.in", "requirements.in"}
    assert not is_requirement_like(tmp_path / "MANIFEST.in")


@pytest.mark.parametrize("folder", [".venv/lib/python3.11/site-packages/pkg", "venv/x", "env/x", "node_modules/a",
                                    ".tox/py311/x", ".cache/pip/x", "build/lib.egg-info"])
def test_requirement_files_in_folders_the_walk_leaves_out_are_listed(tmp_path: Path, write: Write,
                                                                     folder: str) -> None:
    write("requirements.txt", "six==1.16.0\n")
    top = folder.split("/")[0]
    if folder.startswith(("env/", ".venv/", "venv/")):
        write(f"{top}/pyvenv.cfg", "home = /usr\n")
    if folder.endswith(".egg-info"):
        write("build/lib.egg-info/requires.txt", "six\n")  # not requirement-like by name: nothing to list
        write("build/lib.egg-info/requirements.txt", "x==1\n")
    else:
        write(f"{folder}/requirements-dev.txt", "x==1\n")
    files, excluded, _ = accounted(tmp_path)
    assert files == {"requirements.txt"}
    assert len(excluded) == 1
    project = load_project([str(tmp_path)], AuditOptions())
    [item] = project.excluded
    assert "does not walk into" in (item.reason or "")


def test_a_huge_left_out_folder_is_listed_without_being_walked_whole(tmp_path: Path, write: Write) -> None:
    write("requirements.txt", "six==1.16.0\n")
    for i in range(2100):
        write(f"node_modules/p{i:04d}/index.js", "")
    project = load_project([str(tmp_path)], AuditOptions())
    assert [i.subject for i in project.excluded] == ["node_modules/"]
    assert "2,000 entries" in (project.excluded[0].reason or "")


@pytest.mark.parametrize("folder", ["tests/fixtures", "testdata", "src/pkg/test_data", "__fixtures__/deep"])
def test_test_fixtures_are_listed_and_profile_all_audits_them(tmp_path: Path, write: Write, folder: str) -> None:
    write("pyproject.toml", PYPROJECT)
    write(f"{folder}/requirements.txt", "django==1.11\n")
    files, excluded, _ = accounted(tmp_path)
    assert files == {"pyproject.toml"} and excluded == {f"{folder}/requirements.txt"}
    files, excluded, _ = accounted(tmp_path, profiles=["all"])
    assert files == {"pyproject.toml", f"{folder}/requirements.txt"} and not excluded


def test_nested_lockfiles_and_projects_are_profiles_and_a_lock_covers_its_pyproject(tmp_path: Path,
                                                                                     write: Write) -> None:
    write("requirements.txt", "six==1.16.0\n")
    write("apps/web/pyproject.toml", PYPROJECT)
    write("apps/web/uv.lock", "version = 1\nrequires-python = \">=3.9\"\n\n[[package]]\nname = \"six\"\n"
                              "version = \"1.16.0\"\nsource = { registry = \"http://127.0.0.1:9/simple\" }\n")
    write("apps/api/pyproject.toml", PYPROJECT)
    write("apps/cli/pyproject.toml", '[project]\nname = "cli"\nversion = "1"\n')  # declares nothing: names only
    files, excluded, _ = accounted(tmp_path)
    assert files == {"requirements.txt", "apps/web/uv.lock", "apps/api/pyproject.toml"}
    assert excluded == {"apps/web/pyproject.toml"}


def test_a_nested_file_that_cannot_be_read_is_a_named_gap_not_an_error(tmp_path: Path, write: Write) -> None:
    write("requirements.txt", "six==1.16.0\n")
    write("vendor/tool/requirements.txt", "this is not ==== a requirement\n")
    files, _, skipped = accounted(tmp_path)
    assert files == {"requirements.txt"} and skipped == {"vendor/tool/requirements.txt"}
    code, report, err = audit(str(tmp_path), "--offline")
    gaps = [s for s in report["skipped"] if s["kind"] == "input-file"]
    assert code == 0 and report["complete"] is False and len(gaps) == 1 and "could not be read" in gaps[0]["reason"]
    write("requirements.txt", "this is not ==== a requirement\n")  # the project's own top-level file: exit 2
    assert audit(str(tmp_path), "--offline")[0] == 2


NAMES = ["requirements.txt", "requirements-dev.txt", "dev-requirements.txt", "constraints.txt", "requirements.in",
         "Requirements_GPU.txt"]
PLACES = ["", "a/", "a/b/", "requirements/", "a/requirements/x/", ".venv/", "node_modules/", "tests/fixtures/",
          ".git/", "build/pkg.egg-info/"]


def test_every_requirement_like_file_anywhere_is_accounted_for(tmp_path: Path, write: Write) -> None:
    """Conservation: each requirement-like file placed anywhere ends a profile, excluded or skipped (the only
    folders never looked into are version-control metadata)."""
    write(".venv/pyvenv.cfg", "home = /usr\n")
    placed: set[str] = set()
    for i, place in enumerate(PLACES):
        for j, name in enumerate(NAMES):
            rel = f"{place}{name}"
            write(rel, f"pkg{i}x{j}==1.0\n")
            placed.add(rel)
    files, excluded, skipped = accounted(tmp_path)
    seen = files | excluded | skipped
    missing = {p for p in placed if p not in seen and not p.startswith(".git/")}
    assert not missing
    assert not (files & excluded)


def test_discovery_of_a_flat_project_is_unchanged(tmp_path: Path, write: Write) -> None:
    write("requirements.txt", "six\n")
    write("pyproject.toml", PYPROJECT)
    found = discover_project(str(tmp_path))
    assert found.files == [str(tmp_path / "requirements.txt"), str(tmp_path / "pyproject.toml")]
    assert not found.excluded and not found.nested


def test_the_walk_stays_out_of_an_excluded_path(tmp_path: Path, write: Write) -> None:
    write("requirements.txt", "six==1.16.0\n")
    write("docs/requirements.txt", "sphinx==1.0\n")
    files, _, _ = accounted(tmp_path, exclude=["docs/"])
    assert files == {"requirements.txt"}
    assert os.path.isfile(tmp_path / "docs" / "requirements.txt")


def test_inputs_only_below_the_root_are_found_and_a_tool_only_pyproject_names_nothing(tmp_path: Path,
                                                                                      write: Write) -> None:
    """Corpus I1/I2: a root holding only a tool-settings pyproject (jax) or nothing (TGI) with inputs below it was
    refused with exit 2."""
    write("pyproject.toml", "[tool.ruff]\nline-length = 100\n")
    write("build/requirements.txt", "six==1.16.0\n")
    code, report, err = audit(str(tmp_path), "--offline")
    assert code == 0, err
    assert report["inputs"] == [str(tmp_path / "build" / "requirements.txt")]


def test_a_code_only_project_audits_its_code_and_names_the_missing_dependency_inputs(tmp_path: Path,
                                                                                    write: Write) -> None:
    """Corpus I3 (nanoGPT, segment-anything): no dependency inputs, but code that loads models: audited, with the
    missing dependency account a named gap (exit 3 under --require-complete), never exit 2 or a clean report."""
    write("train.py", "from transformers import AutoModel\nAutoModel.from_pretrained('gpt2', revision='main')\n")
    write("setup.py", "from setuptools import setup\nsetup(name='x')\n")  # no install_requires: names nothing
    code, report, err = audit(str(tmp_path), "--offline")
    assert report["complete"] is False
    [gap] = [s for s in report["skipped"] if s["kind"] == "input-file"]
    assert "no requirements file" in gap["reason"] and gap["not_checked"] == ["the project's Python dependencies"]
    assert any(m["repo_id"] == "gpt2" for m in report["models"])
    assert audit(str(tmp_path), "--offline", "--require-complete")[0] == 3
    (tmp_path / "train.py").unlink()
    (tmp_path / "setup.py").unlink()
    write("README.md", "nothing to audit\n")
    assert audit(str(tmp_path), "--offline")[0] == 2

"""``mlaudit PATH``: what is read inside a project directory, and how a file's kind is recognised."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.errors import InputError
from auditor.options import AuditOptions
from auditor.sources.detect import discover, kind_of
from auditor.sources.project import load_project
from tests.sources.conftest import FIXTURES, Load

Write = Callable[[str, "str | bytes"], Path]


def test_every_lockfile_and_requirements_file_is_a_profile(tmp_path: Path, write: Write) -> None:
    write("requirements.txt", "six\n")
    write("pyproject.toml", '[project]\nname = "x"\nversion = "1"\ndependencies = ["six"]\n')
    # requirements files and a pyproject that declares dependencies: each is a profile (pyproject never loses)
    assert discover(str(tmp_path)) == [str(tmp_path / "requirements.txt"), str(tmp_path / "pyproject.toml")]
    write("Pipfile.lock", (FIXTURES / "pipenv" / "Pipfile.lock").read_text())
    assert discover(str(tmp_path)) == [str(tmp_path / "Pipfile.lock"), str(tmp_path / "requirements.txt"),
                                       str(tmp_path / "pyproject.toml")]
    write("uv.lock", (FIXTURES / "uv" / "uv.lock").read_text())
    # a lock made from pyproject.toml covers it; other inputs stay profiles of their own
    assert discover(str(tmp_path)) == [str(tmp_path / "uv.lock"), str(tmp_path / "Pipfile.lock"),
                                       str(tmp_path / "requirements.txt")]


def test_named_pylock_files_are_all_read(tmp_path: Path, write: Write) -> None:
    write("pylock.dev.toml", 'lock-version = "1.0"\n')
    write("pylock.prod.toml", 'lock-version = "1.0"\n')
    write("pylock.not.valid.name.toml", 'lock-version = "1.0"\n')
    assert discover(str(tmp_path)) == [str(tmp_path / "pylock.dev.toml"), str(tmp_path / "pylock.prod.toml")]


def test_every_requirements_file_is_its_own_profile_and_pyproject_names_the_project(tmp_path: Path, write: Write,
                                                                                     load: Load) -> None:
    write("requirements.txt", "six==1.16.0\n")
    write("requirements-dev.txt", "-r requirements.txt\npytest==8.0.0\n")
    write("requirements_gpu.txt", "torch==2.1.0\n")
    write("pyproject.toml", '[project]\nname = "named-here"\nversion = "2.0"\n')
    project = load_project([str(tmp_path)], AuditOptions())
    assert [p.name for p in project.profiles] == ["requirements-dev.txt", "requirements.txt", "requirements_gpu.txt"]
    dev = project.profiles[0].source
    assert [r.name for r in dev.requirements] == ["six", "pytest"]  # the include is part of the dev profile
    result = load(tmp_path)
    assert result.root_name == "named-here" and result.root_version == "2.0"
    assert str(tmp_path / "requirements.txt") in result.files


def test_requirements_subdirectories_and_in_files_without_their_compiled_twin(tmp_path: Path, write: Write) -> None:
    write("pyproject.toml", '[project]\nname = "x"\nversion = "1"\n')
    assert discover(str(tmp_path)) == [str(tmp_path / "pyproject.toml")]
    write("requirements.in", "six\n")
    assert discover(str(tmp_path)) == [str(tmp_path / "requirements.in")]
    write("requirements.txt", "six==1.16.0\n    # via -r requirements.in\n")
    assert discover(str(tmp_path)) == [str(tmp_path / "requirements.txt")]  # the .in's compiled lock
    write("requirements/cuda.txt", "six\n")
    write("requirements/full/requirements.txt", "six\n")
    assert discover(str(tmp_path)) == [str(tmp_path / "requirements.txt"), str(tmp_path / "requirements" / "cuda.txt"),
                                       str(tmp_path / "requirements" / "full" / "requirements.txt")]


def test_empty_directory_is_an_input_error(tmp_path: Path, load: Load) -> None:
    with pytest.raises(InputError, match="no requirements file"):
        load(tmp_path)


def test_no_path_means_current_directory(tmp_path: Path, write: Write, load: Load,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    write("requirements.txt", "six==1.16.0\n")
    monkeypatch.chdir(tmp_path)
    assert [r.name for r in load([]).requirements] == ["six"]


@pytest.mark.parametrize(("name", "content", "kind"), [
    ("reqs.in", "six\n", "requirements"),
    ("anything", "six\n", "requirements"),
    ("deps.toml", '[project]\nname = "x"\n', "pyproject.toml"),
    ("lock.toml", 'lock-version = "1.0"\n[[packages]]\nname = "x"\n', "pylock.toml"),
    ("x.lock", 'version = 1\n[[package]]\nname = "x"\n', "uv.lock"),
    ("pylock.gpu.toml", "", "pylock.toml"),
])
def test_kind_of(write: Write, name: str, content: str, kind: str) -> None:
    assert kind_of(str(write(name, content))) == kind


def test_unknown_json_is_an_input_error(write: Write) -> None:
    with pytest.raises(InputError, match="JSON file of unknown kind"):
        kind_of(str(write("x.json", '{"a": 1}')))


def test_same_input_twice_is_read_once(tmp_path: Path, write: Write, load: Load) -> None:
    path = write("requirements.txt", "six==1.16.0\n")
    result = load([path, tmp_path, path])
    assert result.files == [str(path)] and len(result.requirements) == 1

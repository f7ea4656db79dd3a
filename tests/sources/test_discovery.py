"""``mlaudit PATH``: what is read inside a project directory, and how a file's kind is recognised."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.errors import InputError
from auditor.sources.detect import discover, kind_of
from tests.sources.conftest import FIXTURES, Load

Write = Callable[[str, "str | bytes"], Path]


def test_lockfile_wins_over_requirements_and_pyproject(tmp_path: Path, write: Write) -> None:
    write("requirements.txt", "six\n")
    write("pyproject.toml", '[project]\nname = "x"\nversion = "1"\n')
    write("Pipfile.lock", (FIXTURES / "pipenv" / "Pipfile.lock").read_text())
    assert discover(str(tmp_path)) == [str(tmp_path / "Pipfile.lock")]
    write("pylock.toml", 'lock-version = "1.0"\n')
    assert discover(str(tmp_path)) == [str(tmp_path / "pylock.toml")]
    write("poetry.lock", (FIXTURES / "poetry" / "poetry.lock").read_text())
    assert discover(str(tmp_path)) == [str(tmp_path / "poetry.lock")]
    write("uv.lock", (FIXTURES / "uv" / "uv.lock").read_text())
    assert discover(str(tmp_path)) == [str(tmp_path / "uv.lock")]


def test_named_pylock_files_are_all_read(tmp_path: Path, write: Write) -> None:
    write("pylock.dev.toml", 'lock-version = "1.0"\n')
    write("pylock.prod.toml", 'lock-version = "1.0"\n')
    write("pylock.not.valid.name.toml", 'lock-version = "1.0"\n')
    assert discover(str(tmp_path)) == [str(tmp_path / "pylock.dev.toml"), str(tmp_path / "pylock.prod.toml")]


def test_every_requirements_file_is_read_once_and_pyproject_names_the_project(tmp_path: Path, write: Write,
                                                                               load: Load) -> None:
    write("requirements.txt", "six==1.16.0\n")
    write("requirements-dev.txt", "-r requirements.txt\npytest==8.0.0\n")
    write("requirements_gpu.txt", "torch==2.1.0\n")
    write("pyproject.toml", '[project]\nname = "named-here"\nversion = "2.0"\ndependencies = ["never-read"]\n')
    result = load(tmp_path)
    assert sorted(p.name for p in result.packages) == ["pytest", "six", "torch"]  # six once, not twice
    assert result.resolved
    assert result.root_name == "named-here" and result.root_version == "2.0"
    assert str(tmp_path / "requirements.txt") in result.files


def test_requirements_subdirectory_then_in_files_then_pyproject(tmp_path: Path, write: Write) -> None:
    write("pyproject.toml", '[project]\nname = "x"\nversion = "1"\n')
    assert discover(str(tmp_path)) == [str(tmp_path / "pyproject.toml")]
    write("requirements.in", "six\n")
    assert discover(str(tmp_path)) == [str(tmp_path / "requirements.in")]
    write("requirements/base.txt", "six\n")
    assert discover(str(tmp_path)) == [str(tmp_path / "requirements" / "base.txt")]


def test_empty_directory_is_an_input_error(tmp_path: Path, load: Load) -> None:
    with pytest.raises(InputError, match="no requirements file"):
        load(tmp_path)


def test_no_path_means_current_directory(tmp_path: Path, write: Write, load: Load,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    write("requirements.txt", "six==1.16.0\n")
    monkeypatch.chdir(tmp_path)
    assert [p.name for p in load([]).packages] == ["six"]


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
    assert result.files == [str(path)] and len(result.packages) == 1

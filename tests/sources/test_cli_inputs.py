"""Inputs through ``auditor.cli.main`` in-process: exit 2 with ``file:line`` for bad input, never a traceback;
already-resolved inputs audited offline."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.cli import main
from tests.sources.conftest import FIXTURES

Write = Callable[[str, "str | bytes"], Path]


@pytest.mark.parametrize(("name", "content", "where"), [
    ("requirements.txt", "six\nthis is not valid ===\n", "requirements.txt:2"),
    ("requirements.txt", "six\n--frobnicate\n", "requirements.txt:2"),
    ("requirements.txt", b"\x00\x01binary\x00", "requirements.txt"),
    ("requirements.txt", b"six\n\xff\xfe bad utf8\n", "requirements.txt:2"),
    ("pyproject.toml", '[project\nname = "x"\n', "pyproject.toml:1"),
    ("uv.lock", 'version = 1\n[[package]]\nname = \n', "uv.lock:3"),
    ("poetry.lock", '[[package]]\nname = "x"\nversion = "1"\nfiles = [\n', "poetry.lock:5"),
    ("Pipfile.lock", '{\n "_meta": {}\n "default": {}\n}', "Pipfile.lock:3"),
    ("pylock.toml", 'lock-version = "1.0"\n[[packages]]\nname = "x"\nversion = 1\n', "pylock.toml:"),
])
def test_bad_input_exits_2_naming_file_and_line(write: Write, capsys: pytest.CaptureFixture[str], name: str,
                                                content: str | bytes, where: str) -> None:
    path = write(name, content)
    assert main(["--offline", str(path)]) == 2
    err = capsys.readouterr().err
    assert where in err and "Traceback" not in err


def test_missing_file_and_empty_directory_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--offline", str(tmp_path / "nope.txt")]) == 2
    assert "nope.txt" in capsys.readouterr().err
    assert main(["--offline", str(tmp_path)]) == 2
    assert "no requirements file" in capsys.readouterr().err


def test_missing_env_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--offline", "--env", str(tmp_path / "venv")]) == 2
    assert "no such environment" in capsys.readouterr().err


@pytest.mark.parametrize("lock", ["uv/uv.lock", "poetry/poetry.lock", "pipenv/Pipfile.lock", "uv/pylock.toml"])
def test_lockfiles_audit_offline_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str], lock: str) -> None:
    src = FIXTURES / lock
    for sibling in src.parent.iterdir():
        shutil.copy(sibling, tmp_path / sibling.name)
    code = main(["--offline", str(tmp_path / src.name), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code in (0, 1)
    names = {p["name"] for p in report["packages"]}
    assert {"alpha", "beta", "devtool"} <= names
    assert report["inputs"] == [str(tmp_path / src.name)]
    assert report["complete"] is True  # a lockfile needs no network: nothing skipped offline
    direct = {p["name"] for p in report["packages"] if p["direct"]}
    assert "alpha" in direct


def test_pinned_file_with_culprits_is_incomplete_not_an_error(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    path = write("requirements.txt", (
        "six==1.16.0\n"
        "six==1.15.0\n"                                  # conflicting duplicate pin
        "git+https://127.0.0.1:9/x.git#egg=x\n"          # VCS: cannot be audited by name and version
        "idna==2.10\n"
    ))
    code = main(["--offline", str(path), "--format", "json", "--disable-check", "typosquat"])
    report = json.loads(capsys.readouterr().out)
    assert code in (0, 1)
    assert report["complete"] is False
    assert {(s["file"], s["line"]) for s in report["skipped"]} == {(str(path), 2), (str(path), 3)}
    assert {(p["name"], p["version"]) for p in report["packages"]} == {("six", "1.16.0"), ("idna", "2.10")}
    assert any(f["package"]["name"] == "idna" for f in report["findings"] if f["kind"] == "vulnerability")
    assert main(["--offline", str(path), "--require-complete", "-q", "--disable-check", "typosquat"]) == 3


def test_env_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    for name, version, requires in [("jinja2", "2.10", ["MarkupSafe>=0.23"]), ("markupsafe", "1.1.1", [])]:
        info = site / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
                *[f"Requires-Dist: {r}" for r in requires]]
        (info / "METADATA").write_text("\n".join(meta) + "\n\n")
    code = main(["--offline", "--env", str(tmp_path / "venv"), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1  # jinja2 2.10 has known advisories
    packages = {p["name"]: p for p in report["packages"]}
    assert packages["jinja2"]["direct"] and not packages["markupsafe"]["direct"]
    assert {"parent": "pypi:jinja2", "child": "pypi:markupsafe"}.items() <= next(
        e for e in report["edges"] if e["child"] == "pypi:markupsafe").items()


def test_dynamic_pyproject_is_incomplete_never_clean(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    path = write("pyproject.toml", '[project]\nname = "dyn"\nversion = "1"\ndynamic = ["dependencies"]\n')
    code = main(["--offline", str(path), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["complete"] is False
    assert report["skipped"][0]["line"] == 4 and "dynamic" in report["skipped"][0]["reason"]
    assert report["root"]["name"] == "dyn"

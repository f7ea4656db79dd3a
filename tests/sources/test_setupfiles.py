"""Issue 26: ``setup.cfg``/``setup.py`` dependencies are a profile, read statically (``ast``, never executed): what is
a literal is audited, what is computed is a skipped item naming the line -- never silently nothing."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from auditor.options import AuditOptions
from auditor.sources import load_file
from auditor.sources.project import load_project
from auditor.sources.setupfiles import read_setup

Write = Callable[[str, "str | bytes"], Path]


def audit(*argv: str) -> tuple[int, dict[str, Any]]:
    from auditor.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--format", "json", "-q", "--python-version", "3.11", *argv])
    return code, json.loads(out.getvalue())


def names(path: Path, **options: object) -> list[tuple[str, int | None]]:
    result = load_file(str(path), AuditOptions(**options))  # type: ignore[arg-type]
    return [(r.raw, r.location.line if r.location else None) for r in result.requirements]


@pytest.mark.parametrize("cfg", [
    "[options]\ninstall_requires =\n    django==1.11.0\n    requests>=2\n",
    "[options]\ninstall_requires = django==1.11.0; requests>=2\n",
    "[metadata]\nname = x\n\n[options]\ninstall_requires=\n  # the web framework\n  django==1.11.0  # pinned\n\n"
    "  requests>=2\n",
    "[options]\ninstall-requires =\n\tdjango==1.11.0\n\trequests>=2\n",
])
def test_setup_cfg_install_requires(tmp_path: Path, write: Write, cfg: str) -> None:
    path = write("setup.cfg", cfg)
    assert [n for n, _ in names(path)] == ["django==1.11.0", "requests>=2"]


def test_setup_cfg_lines_extras_and_file_directive(tmp_path: Path, write: Write) -> None:
    write("reqs/base.txt", "six==1.16.0\n")
    path = write("setup.cfg", "[options]\ninstall_requires = file: reqs/base.txt\ntests_require = pytest\n\n"
                              "[options.extras_require]\ngpu =\n    torch==2.0.0\n")
    assert names(path) == [("six==1.16.0", 1)]
    assert names(path, extras=["gpu"]) == [("six==1.16.0", 1), ("torch==2.0.0", 7)]
    result = load_file(str(path), AuditOptions())
    assert [(i.outcome.value, i.subject) for i in result.skipped] == [("excluded", f"{path} [tests_require]")]


@pytest.mark.parametrize("body", [
    "setup(name='x', install_requires=['django==1.11.0', 'requests>=2'])",
    "REQS = ['django==1.11.0', 'requests>=2']\nsetup(install_requires=REQS)",
    "BASE = ['django==1.11.0']\nREQS = BASE + ['requests>=2']\nsetup(install_requires=REQS)",
    "setup(install_requires=('django==1.11.0', 'requests>=2'))",
    "config = {'install_requires': ['django==1.11.0', 'requests>=2']}\nsetup(**config)",
    "setup(install_requires='''\n    django==1.11.0\n    requests>=2\n''')",
    "import setuptools\nif True:\n    REQS = ['django==1.11.0', *['requests>=2']]\nsetuptools.setup(install_requires=REQS)",
])
def test_setup_py_literals(tmp_path: Path, write: Write, body: str) -> None:
    path = write("setup.py", "from setuptools import setup\n" + body + "\n")
    assert [n for n, _ in names(path)] == ["django==1.11.0", "requests>=2"]


@pytest.mark.parametrize("expr", ["get_requirements()", "REQS", "[r for r in BASE]", "os.environ['DEPS'].split()"])
def test_computed_install_requires_is_a_skipped_item_naming_the_line(tmp_path: Path, write: Write,
                                                                    expr: str) -> None:
    path = write("setup.py", "import os\nfrom setuptools import setup\nREQS = []\nREQS += ['a']\n"
                             f"setup(\n    name='x',\n    install_requires={expr},\n)\n")
    result = load_file(str(path), AuditOptions())
    [gap] = result.skipped
    assert gap.outcome.value == "skipped" and gap.line == 7 and "not evaluated" in (gap.reason or "")
    assert not result.requirements


def test_a_computed_list_that_reads_a_requirements_file_reads_that_file(tmp_path: Path, write: Write) -> None:
    write("requirements.txt", "django==1.11.0\n")
    path = write("setup.py", "from setuptools import setup\n\ndef reqs():\n    with open('requirements.txt') as f:\n"
                             "        return [l.strip() for l in f if 'torch' not in l]\n\n"
                             "setup(install_requires=reqs())\n")
    result = load_file(str(path), AuditOptions())
    assert [r.name for r in result.requirements] == ["django"]
    assert not result.skipped
    assert any("superset" in w for w in result.warnings)


@pytest.mark.parametrize("text", ["print 'python 2'\nsetup(install_requires=['x'])\n", "x = " + "(" * 5000 + "\n"])
def test_a_setup_py_that_does_not_parse_is_a_gap(tmp_path: Path, write: Write, text: str) -> None:
    path = write("setup.py", text)
    assert read_setup(str(path)).unreadable
    write("requirements.txt", "six==1.16.0\n")
    code, report = audit(str(tmp_path), "--offline")
    assert code == 0 and report["complete"] is False
    assert any(s["kind"] == "input-file" and s["file"].endswith("setup.py") for s in report["skipped"])


def test_setup_py_is_never_run(tmp_path: Path, write: Write) -> None:
    sentinel = tmp_path / "RAN"
    write("setup.py", f"open({str(sentinel)!r}, 'w').write('ran')\nfrom setuptools import setup\n"
                      "setup(install_requires=['django==1.11.0'])\n")
    code, report = audit(str(tmp_path), "--offline")
    assert not sentinel.exists()
    assert any(f["package"]["name"] == "django" for f in report["findings"] if f["kind"] == "vulnerability")


@pytest.mark.parametrize(("name", "text"), [
    ("setup.cfg", "[metadata]\nname = demo\n\n[options]\ninstall_requires = django==1.11.0\n"),
    ("setup.py", "from setuptools import setup\nsetup(name='demo', install_requires=['django==1.11.0'])\n"),
])
def test_a_setup_file_is_audited_not_silently_ignored(tmp_path: Path, write: Write, name: str, text: str) -> None:
    write(name, text)
    code, report = audit(str(tmp_path), "--offline", "--fail-on", "high")
    assert code == 1
    assert report["inputs"] == [str(tmp_path / name)]
    vulns = [f for f in report["findings"] if f["kind"] == "vulnerability" and f["package"]["name"] == "django"]
    assert vulns and all(f["location"]["file"].endswith(name) for f in vulns)
    assert report["summary"]["accounting"]["requirement"]


def test_extras_are_listed_selected_or_their_own_profiles(tmp_path: Path, write: Write) -> None:
    write("setup.py", "from setuptools import setup\nsetup(install_requires=['six'], extras_require={'gpu': "
                      "['torch==2.0.0'], 'docs': ['sphinx']})\n")
    project = load_project([str(tmp_path)], AuditOptions())
    assert [p.name for p in project.profiles] == ["setup.py"]
    assert sorted(i.subject for i in project.excluded) == ["setup.py [extra docs]", "setup.py [extra gpu]"]
    project = load_project([str(tmp_path)], AuditOptions(extras=["gpu"]))
    assert [r.name for r in project.profiles[0].source.requirements] == ["six", "torch"]
    project = load_project([str(tmp_path)], AuditOptions(profiles=["all"]))
    assert [p.name for p in project.profiles] == ["setup.py", "setup.py [extra gpu]", "setup.py [extra docs]"]


def test_a_lock_beside_setup_py_covers_it(tmp_path: Path, write: Write) -> None:
    write("setup.py", "from setuptools import setup\nsetup(install_requires=['six'])\n")
    write("uv.lock", "version = 1\nrequires-python = \">=3.9\"\n\n[[package]]\nname = \"six\"\nversion = \"1.16.0\"\n"
                     "source = { registry = \"http://127.0.0.1:9/simple\" }\n")
    project = load_project([str(tmp_path)], AuditOptions())
    assert [p.name for p in project.profiles] == ["uv.lock"]
    assert [i.subject for i in project.excluded] == ["setup.py"]


def test_dynamic_pyproject_dependencies_read_from_setup_files_close_the_gap(tmp_path: Path, write: Write) -> None:
    write("pyproject.toml", '[project]\nname = "demo"\nversion = "1"\ndynamic = ["dependencies"]\n')
    write("setup.cfg", "[options]\ninstall_requires =\n    django==1.11.0\n")
    project = load_project([str(tmp_path)], AuditOptions())
    assert [p.name for p in project.profiles] == ["pyproject.toml", "setup.cfg"]
    [dynamic] = project.profiles[0].source.skipped
    assert dynamic.outcome.value == "excluded" and "setup.cfg" in (dynamic.reason or "")


def test_requirements_on_one_line_keep_their_own_outcomes(tmp_path: Path, write: Write) -> None:
    """``tests_require`` (excluded) written on the line of ``install_requires`` must not exclude those."""
    write("setup.py", "from setuptools import setup\nsetup(install_requires=['django==1.11.0'], "
                      "tests_require=['pytest'], extras_require=compute())\n")
    code, report = audit(str(tmp_path), "--offline")
    assert report["summary"]["accounting"]["requirement"].get("excluded", 0) == 0
    assert any(f["package"]["name"] == "django" for f in report["findings"])


def test_setuptools_dynamic_dependencies_from_files_are_read(tmp_path: Path, write: Write) -> None:
    write("requirements/base.txt", "django==1.11.0\n")
    path = write("pyproject.toml", '[project]\nname = "demo"\nversion = "1"\ndynamic = ["dependencies"]\n\n'
                                   '[tool.setuptools.dynamic]\ndependencies = {file = ["requirements/base.txt"]}\n')
    result = load_file(str(path), AuditOptions())
    assert [r.name for r in result.requirements] == ["django"] and not result.skipped
    write("pyproject.toml", '[project]\nname = "demo"\nversion = "1"\ndynamic = ["dependencies"]\n\n'
                            '[tool.setuptools.dynamic]\ndependencies = {file = "missing.txt"}\n')
    [gap] = load_file(str(path), AuditOptions()).skipped
    assert "missing.txt" in (gap.reason or "")

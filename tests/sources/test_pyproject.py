"""pyproject.toml: PEP 621 (+ extras), PEP 735 groups (+ include-group), Poetry tables; identity and metadata."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.errors import InputError
from auditor.sources.poetryspec import PoetrySpecError, poetry_to_pep440, python_marker
from tests.sources.conftest import Load

Write = Callable[[str, "str | bytes"], Path]

PEP621 = """\
[build-system]
requires = ["hatchling"]

[project]
name = "My_Project"
version = "1.2.3"
description = "demo"
license = {text = "Apache-2.0"}
authors = [{name = "Ada", email = "ada@example.invalid"}, {name = "Bob"}]
requires-python = ">=3.10"
dependencies = [
    "requests>=2.31",
    "numpy==1.26.4 ; python_version < '3.13'",
]

[project.optional-dependencies]
gpu = ["torch>=2.1"]
all = ["my-project[gpu]", "rich"]

[project.urls]
Homepage = "https://project.example.invalid"

[dependency-groups]
test = ["pytest>=8", {include-group = "lint"}]
lint = ["ruff"]
docs = ["sphinx"]
"""


def _by_name(result: object) -> dict[str, object]:
    return {r.name: r for r in result.requirements}  # type: ignore[attr-defined]


def test_pep621_dependencies_identity_and_lines(write: Write, load: Load) -> None:
    path = write("pyproject.toml", PEP621)
    result = load(path)
    assert not result.resolved
    reqs = {r.name: r for r in result.requirements}
    assert set(reqs) == {"requests", "numpy"}
    assert reqs["requests"].specifier == ">=2.31" and reqs["requests"].location is not None
    assert reqs["requests"].location.line == 12 and reqs["numpy"].location.line == 13  # type: ignore[union-attr]
    assert reqs["numpy"].marker == 'python_version < "3.13"'
    assert result.root_name == "My_Project" and result.root_version == "1.2.3"
    meta = result.root_metadata
    assert meta["license"] == "Apache-2.0" and meta["authors"] == "Ada <ada@example.invalid>, Bob"
    assert meta["url:Homepage"] == "https://project.example.invalid"


def test_extras_selected_and_self_referencing(write: Write, load: Load) -> None:
    path = write("pyproject.toml", PEP621)
    assert set(_by_name(load(path, extras=["gpu"]))) == {"requests", "numpy", "torch"}
    # "all" is also a real extra name here; it includes my-project[gpu] -> gpu's deps, never the project itself
    selected = _by_name(load(path, extras=["all"]))
    assert set(selected) == {"requests", "numpy", "torch", "rich"}
    assert "my-project" not in selected
    torch = selected["torch"]
    assert torch.group == "extra:gpu"  # type: ignore[attr-defined]


def test_dependency_groups_with_include_group(write: Write, load: Load) -> None:
    path = write("pyproject.toml", PEP621)
    assert set(_by_name(load(path, groups=["test"]))) == {"requests", "numpy", "pytest", "ruff"}
    assert set(_by_name(load(path, groups=["all"]))) == {"requests", "numpy", "pytest", "ruff", "sphinx"}


def test_unknown_extra_or_group_is_an_input_error(write: Write, load: Load) -> None:
    path = write("pyproject.toml", PEP621)
    with pytest.raises(InputError, match="no such optional-dependency group"):
        load(path, extras=["nope"])
    with pytest.raises(InputError, match="no such dependency group"):
        load(path, groups=["nope"])


def test_include_group_cycle(write: Write, load: Load) -> None:
    path = write("pyproject.toml", '[dependency-groups]\na = [{include-group = "b"}]\nb = [{include-group = "a"}]\n')
    with pytest.raises(InputError, match="cycle"):
        load(path, groups=["a"])


def test_dynamic_dependencies_are_reported_not_guessed(write: Write, load: Load) -> None:
    path = write("pyproject.toml", '[project]\nname = "dyn"\nversion = "1"\ndynamic = ["dependencies"]\n')
    result = load(path)
    assert result.requirements == []
    assert len(result.skipped) == 1
    assert "dynamic" in result.skipped[0].reason and result.skipped[0].line == 4


def test_no_dependency_tables_is_an_input_error(write: Write, load: Load) -> None:
    with pytest.raises(InputError, match=r"no \[project\]"):
        load(write("pyproject.toml", "[tool.ruff]\nline-length = 120\n"))


def test_invalid_dependency_names_the_line(write: Write, load: Load) -> None:
    path = write("pyproject.toml", '[project]\nname = "x"\nversion = "1"\ndependencies = [\n  "ok",\n  "bad name!",\n]\n')
    with pytest.raises(InputError) as info:
        load(path)
    assert info.value.line == 6 and info.value.file == str(path)


POETRY = """\
[tool.poetry]
name = "poetry-demo"
version = "0.4.0"
license = "MIT"
authors = ["Ada <ada@example.invalid>"]
repository = "https://repo.example.invalid"

[tool.poetry.dependencies]
python = "^3.10"
requests = "^2.31"
numpy = "~1.26"
pandas = "2.*"
exact = "1.0.0"
rich = { version = ">=13", extras = ["jupyter"], markers = "sys_platform != 'win32'" }
old-py = { version = "^1", python = "<3.12" }
torch = [
    { version = "2.1.0", platform = "linux" },
    { version = "2.0.0", platform = "darwin" },
]
gpu-extra = { version = "*", optional = true }
vcs-dep = { git = "https://127.0.0.1:9/org/vcs.git", tag = "v1" }
local-dep = { path = "../local", develop = true }

[tool.poetry.extras]
gpu = ["gpu-extra"]

[tool.poetry.group.dev.dependencies]
pytest = "^8.0"

[tool.poetry.dev-dependencies]
black = "*"
"""


def test_poetry_dependencies_are_converted(write: Write, load: Load) -> None:
    path = write("proj/pyproject.toml", POETRY)
    result = load(path)
    reqs: dict[str, list[object]] = {}
    for r in result.requirements:
        reqs.setdefault(r.name, []).append(r)
    assert "python" not in reqs and "gpu-extra" not in reqs and "pytest" not in reqs
    spec = {name: items[0].specifier for name, items in reqs.items()}  # type: ignore[attr-defined]
    assert spec["requests"] == ">=2.31,<3" or set(spec["requests"].split(",")) == {">=2.31", "<3"}
    assert set(spec["numpy"].split(",")) == {">=1.26", "<1.27"}
    assert spec["pandas"] == "==2.*" and spec["exact"] == "==1.0.0"
    rich = reqs["rich"][0]
    assert rich.extras == ("jupyter",) and "sys_platform" in rich.marker  # type: ignore[attr-defined]
    assert 'python_version < "3.12"' in reqs["old-py"][0].marker  # type: ignore[attr-defined]
    torch_items = [i for i in result.items if i.package == "torch"]  # one line per platform: both registered
    assert len(torch_items) == 2 and len(reqs["torch"]) + sum(i.outcome.value == "excluded" for i in torch_items) == 2
    vcs = reqs["vcs-dep"][0]
    assert vcs.url.startswith("git+https://127.0.0.1:9/org/vcs.git@v1")  # type: ignore[attr-defined]
    local = reqs["local-dep"][0]
    assert local.url.startswith("file://") and local.editable  # type: ignore[attr-defined]
    assert result.root_name == "poetry-demo" and result.root_metadata["license"] == "MIT"
    assert result.root_metadata["url:repository"] == "https://repo.example.invalid"
    assert all(r.location is not None and r.location.line for r in result.requirements)


def test_poetry_extras_and_groups(write: Write, load: Load) -> None:
    path = write("pyproject.toml", POETRY)
    names = {r.name for r in load(path, extras=["gpu"], groups=["dev"]).requirements}
    assert {"gpu-extra", "pytest", "black"} <= names


def test_invalid_poetry_constraint_names_the_line(write: Write, load: Load) -> None:
    path = write("pyproject.toml", '[tool.poetry]\nname = "x"\n\n[tool.poetry.dependencies]\nfoo = "^^1"\n')
    with pytest.raises(InputError) as info:
        load(path)
    assert info.value.line == 5 and "Poetry constraint" in info.value.message


@pytest.mark.parametrize(("poetry", "pep440"), [
    ("^1.2.3", ">=1.2.3,<2"), ("^0.2.3", ">=0.2.3,<0.3"), ("^0.0.3", ">=0.0.3,<0.0.4"), ("^0", ">=0,<1"),
    ("~1.2.3", ">=1.2.3,<1.3"), ("~1", ">=1,<2"), ("1.*", "==1.*"), ("1.2", "==1.2"), ("*", ""),
    (">=1.2 <2", ">=1.2,<2"), (">= 1.2, < 2", ">=1.2,<2"), ("^1.0 || ^2.0", ">=1.0,<3"), ("=1.0", "==1.0"),
    ("~=1.4", "~=1.4"), ("!=1.5", "!=1.5"),
])
def test_poetry_constraint_conversion(poetry: str, pep440: str) -> None:
    assert poetry_to_pep440(poetry) == pep440


@pytest.mark.parametrize("bad", ["^^1", "1.2.x.y!", "||", ">=1 ||", "~>1"])
def test_poetry_constraint_errors(bad: str) -> None:
    with pytest.raises(PoetrySpecError):
        poetry_to_pep440(bad)


def test_python_marker() -> None:
    assert python_marker("^3.8") == 'python_version >= "3.8" and python_version < "4"'
    assert python_marker("*") is None


def test_uv_legacy_dev_dependencies_are_the_dev_group(write: Write, load: Load) -> None:
    path = write("pyproject.toml", '[project]\nname = "x"\nversion = "1"\ndependencies = ["six"]\n\n'
                                   '[tool.uv]\ndev-dependencies = ["pytest>=8"]\n')
    assert {r.name for r in load(path).requirements} == {"six"}
    dev = {r.name: r for r in load(path, groups=["dev"]).requirements}
    assert set(dev) == {"six", "pytest"} and dev["pytest"].group == "group:dev"


PIPFILE = """\
[[source]]
url = "http://127.0.0.1:9/simple"
name = "local"

[[source]]
url = "http://127.0.0.1:9/extra"
name = "extra"

[packages]
requests = "*"
numpy = "==1.26.4"
rich = {version = ">=13", extras = ["jupyter"], markers = "sys_platform != 'win32'"}
tool = {git = "https://127.0.0.1:9/tool.git", ref = "v1", editable = true}

[dev-packages]
pytest = ">=8"

[requires]
python_version = "3.11"
"""


def test_pipfile_without_lock(write: Write, load: Load) -> None:
    path = write("Pipfile", PIPFILE)
    result = load(path)
    reqs = {r.name: r for r in result.requirements}
    assert set(reqs) == {"requests", "numpy", "rich", "tool"}
    assert reqs["requests"].specifier == "" and reqs["numpy"].specifier == "==1.26.4"
    assert reqs["rich"].extras == ("jupyter",) and reqs["rich"].marker == "sys_platform != 'win32'"
    assert reqs["tool"].url == "git+https://127.0.0.1:9/tool.git@v1#egg=tool" and reqs["tool"].editable
    assert reqs["numpy"].location is not None and reqs["numpy"].location.line == 11
    assert result.index_url == "http://127.0.0.1:9/simple"
    assert result.extra_index_urls == ["http://127.0.0.1:9/extra"]
    assert "pytest" in {r.name for r in load(path, groups=["dev"]).requirements}


def test_no_dependencies_is_said_not_silent(write: Write, load: Load) -> None:
    path = write("pyproject.toml", '[project]\nname = "bare"\nversion = "1"\n')
    result = load(path)
    assert result.requirements == [] and result.resolved
    assert len(result.warnings) == 1 and "declares no dependencies" in result.warnings[0]

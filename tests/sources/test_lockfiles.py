"""Lockfiles read as already resolved: uv.lock and pylock.toml produced by the real uv in the test against a
loopback index; poetry.lock and Pipfile.lock produced by the real Poetry and pipenv (fixtures, see their README)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from auditor.domain import ROOT_NODE, package_node
from auditor.errors import InputError
from auditor.tools import uv_binary
from tests.sources.conftest import FIXTURES, Load
from tests.support.index import LocalIndex

Write = Callable[[str, "str | bytes"], Path]

PYPROJECT = """\
[project]
name = "demo-app"
version = "0.3.0"
requires-python = ">=3.9"
dependencies = [
    "alpha==1.0",
    "beta<2.1 ; python_version < '3.10'",
    "beta>=2.1 ; python_version >= '3.10'",
]

[project.optional-dependencies]
speed = ["gamma"]

[dependency-groups]
dev = ["devtool"]
"""


@pytest.fixture(scope="module")
def index_url() -> Iterator[str]:
    index = LocalIndex()
    index.add_wheel("alpha", "1.0", requires=["beta>=2"])
    index.add_wheel("beta", "2.0")
    index.add_wheel("beta", "2.1", requires=["delta; sys_platform == 'win32'"])
    index.add_wheel("gamma", "0.2")
    index.add_wheel("delta", "1.0")
    index.add_wheel("devtool", "0.5", requires=["beta"])
    with index.serve() as url:
        yield url


def _uv(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    uv = uv_binary()
    if uv is None:
        pytest.skip("uv binary not available")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))},
           "UV_CACHE_DIR": str(tmp_path / "uvcache"), "NO_COLOR": "1", "UV_PYTHON_DOWNLOADS": "never"}
    return subprocess.run([uv, *args], check=True, env=env, cwd=tmp_path / "proj", timeout=180, text=True,
                          capture_output=True)


@pytest.fixture(scope="module")
def uv_project(tmp_path_factory: pytest.TempPathFactory, index_url: str) -> Path:
    tmp = tmp_path_factory.mktemp("uvlock")
    proj = tmp / "proj"
    proj.mkdir()
    (proj / "pyproject.toml").write_text(PYPROJECT)
    _uv(tmp, "lock", "--no-config", "--index-url", index_url)
    out = _uv(tmp, "export", "--no-config", "--index-url", index_url, "--format", "pylock.toml", "--all-extras")
    (proj / "pylock.toml").write_text(out.stdout)
    return proj


def test_uv_lock_from_real_uv(uv_project: Path, load: Load) -> None:
    lock = uv_project / "uv.lock"
    text = lock.read_text()
    assert "resolution-markers" in text  # the fork really happened
    result = load(lock, python_version="3.11")
    assert result.resolved and result.kinds == ["uv.lock"]
    assert result.root_name == "demo-app" and result.root_version == "0.3.0"
    packages = {p.name: p for p in result.packages}
    assert set(packages) == {"alpha", "beta", "gamma", "delta", "devtool"}
    assert packages["beta"].version == "2.1"
    assert "2.0" in packages["beta"].properties["mlaudit:other-locked-versions"]
    assert load(lock, python_version="3.9").packages[1].version in ("2.0", "2.1")
    old = {p.name: p.version for p in load(lock, python_version="3.9").packages}
    assert old["beta"] == "2.0"
    assert {n for n, p in packages.items() if p.direct} == {"alpha", "beta", "gamma", "devtool"}
    assert all(p.hashes and p.hashes[0].startswith("sha256:") for p in packages.values())
    assert all(p.index_url and p.index_url.startswith("http://127.0.0.1:") for p in packages.values())
    assert all(a.url and a.filename.endswith(".whl") for a in packages["alpha"].artifacts)
    lines = text.splitlines()
    for pkg in packages.values():
        assert pkg.location is not None and lines[(pkg.location.line or 0) - 1] == "[[package]]"
        assert lines[pkg.location.line or 0] == f'name = "{pkg.name}"'
    edges = {(e.parent, e.child): e for e in result.edges}
    assert (ROOT_NODE, package_node("alpha")) in edges
    assert edges[(ROOT_NODE, package_node("gamma"))].marker == "extra == 'speed'"
    assert edges[(ROOT_NODE, package_node("devtool"))].marker == "'dev' in dependency_groups"
    assert edges[(package_node("beta"), package_node("delta"))].marker == "sys_platform == 'win32'"
    assert (package_node("alpha"), package_node("beta")) in edges
    assert all(e.origin == "lockfile" for e in result.edges)


def test_pylock_from_real_uv(uv_project: Path, load: Load) -> None:
    lock = uv_project / "pylock.toml"
    assert 'lock-version = "1.0"' in lock.read_text()
    result = load(lock, python_version="3.11")
    assert result.resolved and result.kinds == ["pylock.toml"]
    packages = {p.name: p for p in result.packages}
    assert {"alpha", "beta", "gamma", "devtool"} <= set(packages)
    assert packages["beta"].version == "2.1"
    assert all(p.direct for p in packages.values())  # uv writes no dependency arrays: nothing says otherwise
    assert all(p.hashes for p in packages.values())
    assert result.root_metadata.get("lock:created-by") == "uv"


def test_directory_discovery_reads_every_lockfile(uv_project: Path, load: Load) -> None:
    result = load(uv_project)
    assert str(uv_project / "uv.lock") in result.files
    assert "pyproject.toml" not in {Path(f).name for f in result.files}  # uv.lock is its resolution


def test_poetry_lock_from_real_poetry(load: Load) -> None:
    result = load(FIXTURES / "poetry" / "poetry.lock")
    assert result.resolved and result.root_name == "demo-poetry" and result.root_version == "0.1.0"
    packages = {p.name: p for p in result.packages}
    assert {n: p.version for n, p in packages.items()} == {
        "alpha": "1.0", "beta": "2.1", "delta": "1.0", "devtool": "0.5", "gamma": "0.2", "speedy": "3.0"}
    assert {n for n, p in packages.items() if p.direct} == {"alpha", "beta", "gamma", "devtool"}
    assert packages["delta"].markers == 'sys_platform == "win32"'
    assert packages["alpha"].index_url == "http://127.0.0.1:8000/simple"
    assert result.index_url == "http://127.0.0.1:8000/simple" and result.extra_index_urls == []
    assert all(len(p.hashes) == 1 for p in packages.values())
    edges = {(e.parent, e.child): e for e in result.edges}
    assert edges[(package_node("alpha"), package_node("gamma"))].requirement.startswith("gamma[fast]")
    assert (package_node("devtool"), package_node("beta")) in edges
    assert result.root_metadata["license"] == "MIT"


def test_poetry_lock_without_pyproject_direct_is_top_level(tmp_path: Path, load: Load) -> None:
    lock = tmp_path / "poetry.lock"
    shutil.copy(FIXTURES / "poetry" / "poetry.lock", lock)
    result = load(lock)
    assert {p.name for p in result.packages if p.direct} == {"alpha", "devtool"}


def test_pipfile_lock_from_real_pipenv(load: Load) -> None:
    result = load(FIXTURES / "pipenv" / "Pipfile.lock")
    assert result.resolved
    packages = {p.name: p for p in result.packages}
    assert {n: p.version for n, p in packages.items()} == {"alpha": "1.0", "beta": "2.1", "gamma": "0.2",
                                                            "devtool": "0.5"}
    assert {n for n, p in packages.items() if p.direct} == {"alpha", "beta", "devtool"}  # from the Pipfile
    assert packages["gamma"].markers == "python_version >= '3.8'"
    assert packages["devtool"].properties["mlaudit:groups"] == "develop"
    assert result.index_url == "http://127.0.0.1:8000/simple"  # the lock's declared source
    assert packages["alpha"].index_url == "http://127.0.0.1:8000/simple"


def test_pipfile_lock_vcs_entry_is_skipped_and_no_pipfile_means_all_direct(write: Write, load: Load) -> None:
    path = write("Pipfile.lock", (
        '{"_meta": {"sources": []},\n'
        ' "default": {\n'
        '  "six": {"version": "==1.16.0", "hashes": ["sha256:' + "a" * 64 + '"]},\n'
        '  "tool": {"git": "https://127.0.0.1:9/tool.git", "ref": "abc"}\n'
        ' }}\n'))
    result = load(path)
    assert [p.name for p in result.packages] == ["six"] and result.packages[0].direct
    assert result.skipped[0].line == 4 and "git" in result.skipped[0].reason


UV_LOCK_SOURCES = """\
version = 1
revision = 3
requires-python = ">=3.9"

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "fromgit" }, { name = "nover" }, { name = "member" }]

[[package]]
name = "fromgit"
version = "1.0"
source = { git = "https://127.0.0.1:9/org/fromgit.git?rev=v1#0123456789abcdef" }

[[package]]
name = "member"
version = "0.2.0"
source = { editable = "packages/member" }

[[package]]
name = "nover"
source = { directory = "../nover" }
"""


def test_uv_lock_git_member_and_versionless_entries(write: Write, load: Load) -> None:
    path = write("uv.lock", UV_LOCK_SOURCES)
    result = load(path)
    packages = {p.name: p for p in result.packages}
    assert result.root_name == "app"
    assert (packages["fromgit"].origin or "").startswith("git: ")
    assert packages["member"].direct and packages["member"].origin == "workspace member"
    assert "nover" not in packages
    assert result.skipped[0].line == 21 and "without a version" in result.skipped[0].reason


PYLOCK_WITH_DEPS = """\
lock-version = "1.0"
created-by = "hand-written per PEP 751"

[[packages]]
name = "top"
version = "1.0"
dependencies = [{ name = "leaf" }]
wheels = [{ name = "top-1.0-py3-none-any.whl", url = "http://127.0.0.1:9/top-1.0-py3-none-any.whl", hashes = { sha256 = "HASH_A" } }]

[[packages]]
name = "leaf"
version = "2.0"
sdist = { name = "leaf-2.0.tar.gz", url = "http://127.0.0.1:9/leaf-2.0.tar.gz", hashes = { sha256 = "HASH_B" } }

[[packages]]
name = "fromvcs"
vcs = { type = "git", url = "https://127.0.0.1:9/x.git", commit-id = "abc" }
""".replace("HASH_A", "a" * 64).replace("HASH_B", "b" * 64)


def test_pylock_with_dependencies_and_vcs(write: Write, load: Load) -> None:
    path = write("pylock.dev.toml", PYLOCK_WITH_DEPS)
    result = load(path)
    packages = {p.name: p for p in result.packages}
    assert packages["top"].direct and not packages["leaf"].direct
    assert packages["leaf"].artifacts[0].kind == "sdist" and packages["leaf"].hashes == ["sha256:" + "b" * 64]
    assert (package_node("top"), package_node("leaf")) in {(e.parent, e.child) for e in result.edges}
    assert result.skipped[0].line == 15


@pytest.mark.parametrize(("name", "content", "line"), [
    ("uv.lock", 'version = 1\n[[package]]\nname = "x"\nversion = "1.0\n', 4),
    ("poetry.lock", '[[package]]\nname = "x"\nversion = 1.0.0\n', 3),
    ("pylock.toml", 'lock-version = "1.0"\n[[packages]\n', 2),
    ("Pipfile.lock", '{\n  "_meta": {},\n  "default": {,}\n}\n', 3),
    ("uv.lock", 'version = "one"\n', 1),
    ("pylock.toml", 'lock-version = "2.0"\n', 1),
    ("Pipfile.lock", '[1, 2]\n', 1),
    ("uv.lock", 'version = 1\n\n[[package]]\nname = "x"\nversion = "1"\nwheels = [{ url = "u", hash = "md5" }]\n', 3),
    ("poetry.lock", '[[package]]\nversion = "1"\n\n[metadata]\n', 1),
])
def test_malformed_lockfiles_name_file_and_line(write: Write, load: Load, name: str, content: str,
                                                line: int) -> None:
    path = write(name, content)
    with pytest.raises(InputError) as info:
        load(path)
    assert info.value.file == str(path) and info.value.line == line


def test_lockfile_kind_is_sniffed_from_content(write: Write, load: Load) -> None:
    src = (FIXTURES / "poetry" / "poetry.lock").read_text()
    result = load(write("locks/prod.lock", src))
    assert result.kinds == ["poetry.lock"] and len(result.packages) == 6
    pipenv = (FIXTURES / "pipenv" / "Pipfile.lock").read_text()
    assert set(load(write("locks/env.json", pipenv)).kinds) == {"Pipfile.lock"}


def test_index_credentials_never_reach_packages(write: Write, load: Load) -> None:
    text = (FIXTURES / "pipenv" / "Pipfile.lock").read_text().replace(
        "http://127.0.0.1:8000/simple", "http://user:s3cret@127.0.0.1:8000/simple")
    result = load(write("Pipfile.lock", text))
    assert all(p.index_url == "http://***@127.0.0.1:8000/simple" for p in result.packages if p.index_url)
    assert result.index_url == "http://user:s3cret@127.0.0.1:8000/simple"  # kept for the checks that query it


def test_header_lines_found_by_their_brackets_are_the_anchored_patterns_lines() -> None:
    """``header_lines`` searches for the header's ``[[`` and checks its line, instead of a ``^``-anchored pattern
    tried at every position: the same line numbers on every lock fixture and on generated texts with headers
    indented, quoted, nested in brackets, after other text, in CRLF files."""
    import random
    import re

    from auditor.sources.lockcommon import header_lines

    def anchored(text: str, header: str) -> list[int]:
        pattern = re.compile(r"^[ \t]*\[\[[ \t]*" + re.escape(header) + r"[ \t]*\]\]", re.M)
        return [text.count("\n", 0, m.start()) + 1 for m in pattern.finditer(text)]

    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(fixtures.rglob("*"))
             if p.is_file() and p.suffix in (".lock", ".toml")]
    rng = random.Random(25)
    pieces = ["[[package]]", "[[ package ]]", "  [[package]]", "\t[[package]]\t", "x = 1", "[[packages]]",
              "name = \"[[package]]\"", "[[[package]]", "[[ [[package]]", "\r\n", "\n", "\r[[package]]", " ", "]]",
              "[package]", "[[package]] # comment", "foo [[package]]", "[[package.files]]", "\n\n"]
    for _ in range(2000):
        texts.append("".join(rng.choice(pieces) + rng.choice(["\n", "", "\r\n", " "]) for _ in range(rng.randint(0, 12))))
    checked = 0
    for text in texts:
        for header in ("package", "packages", "package.files"):
            assert header_lines(text, header) == anchored(text, header), (header, text[:200])
            checked += 1
    assert checked > 6000

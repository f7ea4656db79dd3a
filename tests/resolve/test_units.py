"""Unit tests for the pieces around uv: message parsing, sdist reading, targets, output parsing, the test index."""

from __future__ import annotations

import io
import json
import sys
import zipfile

import pytest
import requests

from auditor.domain import Package
from auditor.options import AuditOptions
from auditor.resolve import messages as msg
from auditor.resolve.output import parse_annotated, parse_pylock
from auditor.resolve.sdist import read_static_requires
from auditor.resolve.target import indexes_for, uv_interpreter, uv_platform
from auditor.sources.base import SourceResult
from tests.support.index import LocalIndex, build_sdist

# Error texts as uv 0.13.9 printed them against tests.support.index (see test_resolve_uv for the live runs).
NO_WHEEL = """error: No solution found when resolving dependencies
  cause: Because staticsd==0.3 has no usable wheels and only staticsd==0.3 is available, we can conclude that all versions of staticsd cannot be used.
         And because all versions of gamma depend on staticsd and you require gamma, we can conclude that your requirements are unsatisfiable.

hint: Wheels are required for `staticsd` because building from source is disabled for all packages (i.e., with `--no-build`)
"""
TAG = """error: No solution found when resolving dependencies
  cause: Because onlycp312==1.0 has no wheels with a matching Python implementation tag (e.g., `cp311`) and you require onlycp312==1.0, we can conclude that your requirements are unsatisfiable.

hint: You require CPython 3.11 (`cp311`), but we only found wheels for `onlycp312` (v1.0) with the following Python implementation tag: `cp312`
"""
CONFLICT = """error: No solution found when resolving dependencies
  cause: Because you require beta==2.0 and beta==2.1, we can conclude that your requirements are unsatisfiable.
"""
PYTHON = """error: No solution found when resolving dependencies
  cause: Because the requested Python version (>=3.11) does not satisfy Python>=3.12 and py312==1.0 depends on Python>=3.12, we can conclude that py312==1.0 cannot be used.
"""
URL = """error: Failed to download `foo @ http://127.0.0.1:1/foo-1.0-py3-none-any.whl`
  cause: Request failed after 3 retries in 6.6s
  cause: Failed to fetch: http://127.0.0.1:1/foo-1.0-py3-none-any.whl
  cause: Connection refused (os error 111)
"""


def test_culprits_from_uv_messages() -> None:
    [c] = msg.find_culprits(NO_WHEEL)
    assert (c.name, c.kind, c.version) == ("staticsd", msg.NO_WHEEL, "0.3")
    assert msg.parents_of(NO_WHEEL, "staticsd") == ["gamma"]
    [c] = msg.find_culprits(TAG)
    assert (c.name, c.version) == ("onlycp312", "1.0") and "Python implementation tag" in c.reason
    assert "cp312" in c.reason  # the hint naming the package is kept
    [c] = msg.find_culprits(CONFLICT)
    assert (c.name, c.kind) == ("beta", msg.CONFLICT) and "beta==2.0" in c.reason
    [c] = msg.find_culprits(PYTHON)
    assert (c.name, c.kind) == ("py312", msg.PYTHON) and ">=3.12" in c.reason
    [c] = msg.find_culprits(URL)
    assert (c.name, c.kind, c.url) == ("foo", msg.URL, "http://127.0.0.1:1/foo-1.0-py3-none-any.whl")
    assert "Connection refused" in c.reason
    assert msg.find_culprits("error: something entirely different") == []
    assert "\n" not in msg.clean(NO_WHEEL) and not msg.clean(NO_WHEEL).startswith("error")


@pytest.mark.parametrize(
    ("metadata_version", "dynamic", "expected"),
    [("2.2", False, (True, ["beta>=1", "gamma; python_version < '3.12'"], "PKG-INFO")),
     ("2.1", False, (True, ["beta>=1", "gamma; python_version < '3.12'"], "pyproject.toml")),
     ("2.2", True, (False, [], "dependencies are dynamic (PEP 643)"))],
)
def test_static_sdist_metadata(metadata_version: str, dynamic: bool, expected: tuple[bool, list[str], str]) -> None:
    filename, data = build_sdist("demo", "1.0", ["beta>=1", "gamma; python_version < '3.12'"], dynamic=dynamic,
                                 metadata_version=metadata_version)
    assert read_static_requires(data, filename) == expected


def test_static_sdist_metadata_from_zip_ignores_nested_files() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("demo-1.0/pyproject.toml", '[project]\nname = "demo"\ndependencies = ["beta"]\n')
        zf.writestr("demo-1.0/vendor/PKG-INFO", "Metadata-Version: 2.4\nName: other\nRequires-Dist: evil\n")
    assert read_static_requires(buf.getvalue(), "demo-1.0.zip") == (True, ["beta"], "pyproject.toml")


def test_uv_platform_names() -> None:
    assert uv_platform("win_amd64") == "x86_64-pc-windows-msvc"
    assert uv_platform("manylinux2014_x86_64") == "x86_64-manylinux_2_17"
    assert uv_platform("manylinux_2_28_aarch64") == "aarch64-manylinux_2_28"
    assert uv_platform("macosx_11_0_arm64") == "aarch64-apple-darwin"
    assert uv_platform("x86_64-manylinux_2_28") == "x86_64-manylinux_2_28"


def test_index_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/env")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "http://127.0.0.1:9/x1 http://127.0.0.1:9/x2")
    monkeypatch.delenv("UV_INDEX_URL", raising=False)
    monkeypatch.delenv("UV_EXTRA_INDEX_URL", raising=False)
    src = SourceResult(index_url="http://127.0.0.1:9/file", find_links=["./wheels"])
    got = indexes_for(src, AuditOptions())
    assert (got.index_url, got.extra_index_urls, got.find_links) == (
        "http://127.0.0.1:9/file", ["http://127.0.0.1:9/x1", "http://127.0.0.1:9/x2"], ["./wheels"])
    got = indexes_for(SourceResult(), AuditOptions(index_url="http://127.0.0.1:9/cli"))
    assert got.index_url == "http://127.0.0.1:9/cli"
    assert indexes_for(SourceResult(), AuditOptions()).index_url == "http://127.0.0.1:9/env"


def test_parse_annotated_and_pylock() -> None:
    text = ("alpha==1.0\n    # via -r /t/requirements.in\nbeta==2.1\n    # via\n    #   -r /t/requirements.in\n"
            "    #   alpha[extra]\n    #   -c /t/constraints.txt\ndelta @ http://127.0.0.1:1/delta-1.2-py3-none-any.whl\n")
    pins = parse_annotated(text)
    assert [(p.name, p.version) for p in pins] == [("alpha", "1.0"), ("beta", "2.1"), ("delta", "1.2")]
    assert pins[1].via == ["-r /t/requirements.in", "alpha", "-c /t/constraints.txt"]
    lock = ('lock-version = "1.0"\n[[packages]]\nname = "Beta"\nversion = "2.1"\n'
            'wheels = [{ url = "http://127.0.0.1:1/files/beta-2.1-py3-none-any.whl", hashes = { sha256 = "ab" } }]\n'
            'sdist = { url = "http://127.0.0.1:1/files/beta-2.1.tar.gz", hashes = { sha256 = "cd" }, size = 10 }\n')
    arts = parse_pylock(lock)["beta"]
    assert [(a.filename, a.kind, a.hashes) for a in arts] == [
        ("beta-2.1-py3-none-any.whl", "wheel", {"sha256": "ab"}), ("beta-2.1.tar.gz", "sdist", {"sha256": "cd"})]


def test_local_index_speaks_pep503_691_658() -> None:
    index = LocalIndex()
    wheel = index.add_wheel("My.Pkg", "1.0", ["beta"], requires_python=">=3.8")
    with index.serve() as url:
        page = requests.get(f"{url}/my-pkg/", timeout=5)
        assert f"#sha256={wheel.sha256}" in page.text and 'data-requires-python="&gt;=3.8"' in page.text
        listing = requests.get(f"{url}/my_pkg/", headers={"Accept": "application/vnd.pypi.simple.v1+json"},
                               timeout=5)
        data = json.loads(listing.content)
        [entry] = data["files"]
        assert entry["hashes"] == {"sha256": wheel.sha256} and "core-metadata" in entry
        base = url.rsplit("/", 1)[0]
        meta = requests.get(base + entry["url"] + ".metadata", timeout=5)
        assert b"Requires-Dist: beta" in meta.content
        blob = requests.get(base + entry["url"], timeout=5).content
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            assert "my_pkg-1.0.dist-info/RECORD" in zf.namelist()
        index.fail_with(503)
        assert requests.get(f"{url}/my-pkg/", timeout=5).status_code == 503
        index.healthy()
        assert requests.get(f"{url}/nothing/", timeout=5).status_code == 404


def test_unresolved_package_shape() -> None:
    pkg = Package("x", "1.0", resolved=False)
    assert pkg.to_json()["resolved"] is False


@pytest.mark.parametrize(("target", "allow_build", "own"), [
    ({}, False, True), ({}, True, True),  # no target: mlaudit's interpreter is the target
    ({"python_version": "3.9"}, False, True), ({"platform": "win_amd64"}, False, True),  # binary-only: markers/tags
    ({"python_version": "3.9"}, True, False), ({"platform": "win_amd64"}, True, False),  # a build: uv finds one
])
def test_uv_is_told_the_interpreter_unless_it_must_find_one(target: dict[str, str], allow_build: bool,
                                                            own: bool) -> None:
    args = uv_interpreter(AuditOptions(allow_build=allow_build, **target))  # type: ignore[arg-type]
    assert args == (["--python", sys.executable] if own else [])

"""uv's failures are read from its prose (it has no structured error output for ``pip compile``), so the reading is
bounded by version: the ``uv`` requirement is the range the real-uv tests pass on, the uv these tests run is in it,
and a run with a uv outside it says so in the report instead of trusting its reading silently."""

from __future__ import annotations

import importlib.metadata
import io
import json
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from auditor.cli import main
from auditor.resolve import messages
from tests.support.index import LocalIndex

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_the_declared_uv_range_is_the_tested_one_and_the_installed_uv_is_in_it() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    [uv] = [Requirement(spec) for spec in project["dependencies"] if Requirement(spec).name == "uv"]
    assert uv.specifier == messages.TESTED_UV
    installed = importlib.metadata.version("uv")
    assert messages.TESTED_UV.contains(installed, prereleases=True), installed
    assert messages.untested_uv() is None


@pytest.fixture(scope="module")
def index_url() -> Iterator[str]:
    index = LocalIndex()
    index.add_wheel("six", "1.16.0")
    with index.serve() as url:
        yield url


def _warnings(tmp_path: Path, index_url: str) -> list[str]:
    req = tmp_path / "requirements.txt"
    req.write_text("six\nno-such-project-here\n")
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        main(["--format", "json", "-q", "--python-version", "3.11", str(req), "--index-url", index_url])
    report = json.loads(out.getvalue())
    assert any(f["kind"] == "unclaimed-name" for f in report["findings"])  # the failure was read and acted on
    return [str(w) for w in report["warnings"]]


def test_a_uv_outside_the_tested_range_is_said_in_the_report(tmp_path: Path, index_url: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    assert not any("outside the versions" in w for w in _warnings(tmp_path, index_url))
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.11.0" if name == "uv" else real(name))
    warnings = [w for w in _warnings(tmp_path, index_url) if "outside the versions" in w]
    assert len(warnings) == 1 and "uv 0.11.0" in warnings[0] and str(messages.TESTED_UV) in warnings[0]

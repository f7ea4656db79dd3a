"""The pip fallback resolver and --allow-build, against the same loopback index."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auditor.domain import ROOT_NODE, package_node
from auditor.resolve import BUILD_WARNING, resolve
from tests.resolve.conftest import Context
from tests.support.index import LocalIndex


@pytest.fixture
def index() -> LocalIndex:
    ix = LocalIndex()
    ix.add_wheel("alpha", "1.0", ["beta>=2", "gamma ; python_version < '3'"])
    ix.add_wheel("beta", "2.0")
    ix.add_wheel("beta", "2.1")
    return ix


def test_pip_fallback_gives_pins_edges_and_hashes(index: LocalIndex, audit_context: Context,
                                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # no machine pip.conf (extra indexes, constraints)
    for var in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        monkeypatch.delenv(var, raising=False)
    with index.serve() as url:
        src, options, ctx = audit_context(url, ["alpha"], resolver="pip")
        res = resolve(src, options, ctx)
    assert res.resolver == "pip"
    assert {p.name: p.version for p in res.packages} == {"alpha": "1.0", "beta": "2.1"}
    edges = {(e.parent, e.child) for e in res.edges}
    assert edges == {(ROOT_NODE, package_node("alpha")), (package_node("alpha"), package_node("beta"))}
    beta = next(p for p in res.packages if p.name == "beta")
    served = next(f for f in index.files if f.filename == "beta-2.1-py3-none-any.whl")
    assert beta.hashes == [f"sha256:{served.sha256}"] and not beta.direct


def test_allow_build_says_code_may_run(index: LocalIndex, audit_context: Context) -> None:
    with index.serve() as url:
        src, options, ctx = audit_context(url, ["alpha"], allow_build=True)
        res = resolve(src, options, ctx)
    assert BUILD_WARNING in res.warnings
    assert {p.name for p in res.packages} == {"alpha", "beta"}

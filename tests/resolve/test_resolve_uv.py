"""Resolution against a real local index served on 127.0.0.1, with uv's real resolver."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from auditor.domain import ROOT_NODE, Package, package_node
from auditor.errors import MlauditError, NetworkError, ResolutionError
from auditor.resolve import resolve
from auditor.resolve.base import Resolution
from tests.resolve.conftest import Context
from tests.support.httpserver import closed_port_url
from tests.support.index import LocalIndex


def by_name(res: Resolution) -> dict[str, Package]:
    """The package of each name; a pin the resolver rejected (another version won) comes after the winner."""
    out: dict[str, Package] = {}
    for p in res.packages:
        out.setdefault(p.name, p)
    return out


def edge_set(res: Resolution) -> set[tuple[str, str, str]]:
    return {(e.parent, e.child, e.origin) for e in res.edges}


@pytest.fixture
def index(tmp_path: Path) -> LocalIndex:
    ix = LocalIndex()
    ix.add_wheel("alpha", "1.0", ["beta>=2", "gamma ; python_version < '3'"])
    ix.add_wheel("beta", "2.0")
    ix.add_wheel("beta", "2.1")
    ix.add_wheel("gamma", "1.0")
    ix.add_wheel("uses-static", "1.0", ["static-sd"])
    ix.add_sdist("static-sd", "0.3", ["gamma>=1"], sentinel=tmp_path / "SENTINEL")
    ix.add_sdist("dynamic-sd", "0.1", ["gamma"], dynamic=True, sentinel=tmp_path / "SENTINEL")
    ix.add_wheel("only-cp312", "1.0", python_tag="cp312", abi_tag="cp312", platform_tag="manylinux_2_17_x86_64")
    ix.add_wheel("only-cp312", "1.0", python_tag="cp311", abi_tag="cp311", platform_tag="win_amd64")
    return ix


def test_exact_versions_edges_and_artifacts(index: LocalIndex, audit_context: Context) -> None:
    with index.serve() as url:
        src, options, ctx = audit_context(url, ["alpha", "Beta<2.1"])
        res = resolve(src, options, ctx)
    pkgs = by_name(res)
    assert {n: p.version for n, p in pkgs.items()} == {"alpha": "1.0", "beta": "2.0"}
    assert pkgs["alpha"].direct and pkgs["beta"].direct
    assert pkgs["beta"].location is not None and pkgs["beta"].location.line == 2
    assert {(ROOT_NODE, package_node("alpha"), "resolver"), (ROOT_NODE, package_node("beta"), "resolver"),
            (package_node("alpha"), package_node("beta"), "resolver")} == edge_set(res)
    root_beta = next(e for e in res.edges if e.parent == ROOT_NODE and e.child == package_node("beta"))
    assert root_beta.requirement == "Beta<2.1"
    wheel = pkgs["beta"].artifacts[0]
    assert wheel.filename == "beta-2.0-py3-none-any.whl" and wheel.url and wheel.url.startswith(url.rsplit("/", 1)[0])
    served = next(f for f in index.files if f.filename == wheel.filename)
    assert wheel.hashes["sha256"] == served.sha256
    assert pkgs["beta"].hashes == [f"sha256:{served.sha256}"]
    assert res.skipped == [] and res.resolver == "uv"


def test_static_sdist_keeps_edges_and_never_runs_code(index: LocalIndex, audit_context: Context,
                                                      tmp_path: Path) -> None:
    with index.serve() as url:
        src, options, ctx = audit_context(url, ["alpha", "static-sd==0.3", "uses-static"])
        res = resolve(src, options, ctx)
    pkgs = by_name(res)
    assert not (tmp_path / "SENTINEL").exists()
    assert pkgs["static-sd"].version == "0.3" and pkgs["static-sd"].source == "sdist-static-metadata"
    assert pkgs["static-sd"].direct and pkgs["static-sd"].artifacts[0].kind == "sdist"
    assert pkgs["gamma"].version == "1.0" and not pkgs["gamma"].direct
    sd_edge = next(e for e in res.edges if e.parent == package_node("static-sd"))
    assert (sd_edge.child, sd_edge.origin, sd_edge.requirement) == (package_node("gamma"), "sdist-static-metadata",
                                                                     "gamma>=1")
    assert (package_node("uses-static"), package_node("static-sd"), "resolver") in edge_set(res)
    assert res.skipped == []
    assert any("static-sd==0.3" in w and "without building" in w for w in res.warnings)


def test_transitive_static_sdist(index: LocalIndex, audit_context: Context, tmp_path: Path) -> None:
    with index.serve() as url:
        src, options, ctx = audit_context(url, ["uses-static"])
        res = resolve(src, options, ctx)
    pkgs = by_name(res)
    assert set(pkgs) == {"uses-static", "static-sd", "gamma"}
    assert not pkgs["static-sd"].direct
    assert (package_node("uses-static"), package_node("static-sd"), "resolver") in edge_set(res)
    assert not (tmp_path / "SENTINEL").exists()


def test_dynamic_sdist_is_skipped_but_pin_audited(index: LocalIndex, audit_context: Context, tmp_path: Path) -> None:
    with index.serve() as url:
        src, options, ctx = audit_context(url, ["alpha", "dynamic-sd==0.1"])
        res = resolve(src, options, ctx)
    pkgs = by_name(res)
    assert not (tmp_path / "SENTINEL").exists()
    assert pkgs["alpha"].version == "1.0" and pkgs["beta"].version == "2.1"
    assert pkgs["dynamic-sd"].resolved is False and pkgs["dynamic-sd"].direct
    assert pkgs["dynamic-sd"].location is not None and pkgs["dynamic-sd"].location.line == 2
    [skip] = res.skipped
    assert (skip.file, skip.line, skip.requirement) == ("requirements.txt", 2, "dynamic-sd==0.1")
    assert "would need building: rerun with --allow-build" in skip.reason
    assert skip.not_checked == ["dependencies of dynamic-sd==0.1"]


def test_conflicting_pins_and_unknown_name(index: LocalIndex, audit_context: Context) -> None:
    with index.serve() as url:
        src, options, ctx = audit_context(url, ["alpha", "beta==2.0", "beta==2.1", "no-such-thing==1.0"])
        res = resolve(src, options, ctx)
    pkgs = by_name(res)
    assert pkgs["alpha"].version == "1.0" and pkgs["alpha"].resolved
    skipped = {(s.line, s.requirement) for s in res.skipped}
    assert skipped == {(2, "beta==2.0"), (3, "beta==2.1"), (4, "no-such-thing==1.0")}
    conflict = next(s for s in res.skipped if s.line == 2)
    assert "conflicting" in conflict.reason
    assert "not found" in next(s for s in res.skipped if s.line == 4).reason
    # beta is still resolved as alpha's dependency; the unknown pin stays as an unresolved package
    assert pkgs["beta"].resolved and pkgs["beta"].version == "2.1"
    assert pkgs["no-such-thing"].resolved is False and pkgs["no-such-thing"].version == "1.0"
    assert (ROOT_NODE, package_node("no-such-thing"), "unresolved-pin") in edge_set(res)


def test_unreachable_direct_url(index: LocalIndex, audit_context: Context) -> None:
    dead = f"{closed_port_url()}/files/delta-1.2-py3-none-any.whl"
    with index.serve() as url:
        src, options, ctx = audit_context(url, ["alpha", f"delta @ {dead}"])
        res = resolve(src, options, ctx)
    pkgs = by_name(res)
    assert pkgs["alpha"].resolved
    assert pkgs["delta"].resolved is False and pkgs["delta"].version == "1.2"
    assert pkgs["delta"].artifacts[0].verified is False and pkgs["delta"].artifacts[0].url == dead
    [skip] = res.skipped
    assert skip.line == 2 and "direct URL could not be fetched" in skip.reason


def test_target_python_and_platform_change_the_result(index: LocalIndex, audit_context: Context) -> None:
    with index.serve() as url:
        src, options, ctx = audit_context(url, ["alpha", "only-cp312==1.0"], platform="x86_64-manylinux_2_28")
        linux311 = resolve(src, options, ctx)
        src, options, ctx = audit_context(url, ["alpha", "only-cp312==1.0"], platform="x86_64-manylinux_2_28",
                                          python_version="3.12")
        linux312 = resolve(src, options, ctx)
        src, options, ctx = audit_context(url, ["alpha", "only-cp312==1.0"], platform="win_amd64")
        win311 = resolve(src, options, ctx)
    assert by_name(linux311)["only-cp312"].resolved is False
    assert "no wheel for the target" in linux311.skipped[0].reason
    assert by_name(linux312)["only-cp312"].resolved and linux312.skipped == []
    win = by_name(win311)["only-cp312"]
    assert win.resolved and win.artifacts[0].filename.endswith("win_amd64.whl")


@pytest.mark.parametrize("fault", ["500", "down", "hang"])
def test_index_failures_raise(index: LocalIndex, audit_context: Context, fault: str) -> None:
    with index.serve() as url:
        if fault == "500":
            index.fail_with(500)
        elif fault == "hang":
            index.hang(4.0)
        else:
            url = f"{closed_port_url()}/simple"
        src, options, ctx = audit_context(url, ["alpha"])
        if fault == "hang":
            options.net.timeout = 1.0
        with pytest.raises((NetworkError, ResolutionError)) as info:
            resolve(src, options, ctx)
        index.healthy()
    assert isinstance(info.value, MlauditError) and info.value.exit_code == 3
    assert "127.0.0.1" in str(info.value)


def test_nothing_resolvable_raises(index: LocalIndex, audit_context: Context) -> None:
    with index.serve() as url:
        src, options, ctx = audit_context(url, ["no-such-thing", "other-missing"])
        with pytest.raises(ResolutionError, match="nothing could be resolved"):
            resolve(src, options, ctx)


def test_resolved_source_is_returned_untouched(audit_context: Context) -> None:
    src, options, ctx = audit_context(closed_port_url() + "/simple", [])
    src.resolved = True
    src.packages = [Package("zeta", "1.0", direct=True)]
    res = resolve(src, options, ctx)
    assert [p.name for p in res.packages] == ["zeta"] and res.skipped == []


def broken_index() -> LocalIndex:
    from tests.support.index import IndexFile, build_wheel

    ix = LocalIndex()
    ix.add_wheel("alpha", "1.0", ["beta>=2"])
    ix.add_wheel("beta", "2.0")
    filename, _, _ = build_wheel("broken", "1.0")
    ix.files.append(IndexFile("broken", filename, b"this is not a zip archive" * 50))  # no PEP 658 metadata
    return ix


def test_invalid_wheel_is_a_culprit(audit_context: Context) -> None:
    with broken_index().serve() as url:
        src, options, ctx = audit_context(url, ["alpha", "broken==1.0"])
        res = resolve(src, options, ctx)
    [skip] = res.skipped
    assert skip.line == 2 and "invalid package format" in skip.reason
    assert by_name(res)["broken"].resolved is False and by_name(res)["alpha"].resolved


def test_bisection_finds_the_failing_line(audit_context: Context, request: pytest.FixtureRequest) -> None:
    """When uv names no culprit we recognise, bisection over the requirement list finds it (real uv runs)."""
    from auditor.resolve.target import indexes_for
    from auditor.resolve.uvdriver import UvResolver
    from auditor.tools import uv_binary

    uv = uv_binary()
    assert uv is not None
    with broken_index().serve() as url:
        src, options, ctx = audit_context(url, ["alpha", "beta", "broken==1.0", "alpha>=1"])
        resolver = UvResolver(src.requirements, [], options, ctx, indexes_for(src, options), uv)
        request.addfinalizer(lambda: shutil.rmtree(resolver._dir, ignore_errors=True))
        assert resolver._bisect() is True
        assert [(s.line, s.requirement) for s in resolver.skipped] == [(3, "broken==1.0")]
        assert [ln.req.raw for ln in resolver._active()] == ["alpha", "beta", "alpha>=1"]
        assert resolver._compile(resolver._active()).returncode == 0


def test_vcs_and_sdist_urls_are_skipped_without_fetching(index: LocalIndex, audit_context: Context) -> None:
    with index.serve() as url:
        src, options, ctx = audit_context(url, ["alpha", "proj @ git+http://127.0.0.1:1/proj.git",
                                                "arch @ http://127.0.0.1:1/arch-1.0.tar.gz"])
        res = resolve(src, options, ctx)
    assert {p.name for p in res.packages} == {"alpha", "beta"}
    assert [(s.line, "rerun with --allow-build" in s.reason) for s in res.skipped] == [(2, True), (3, True)]


def test_pin_conflicting_with_a_dependency(index: LocalIndex, audit_context: Context) -> None:
    index.add_wheel("beta", "1.0")
    with index.serve() as url:
        src, options, ctx = audit_context(url, ["alpha", "beta==1.0"])
        res = resolve(src, options, ctx)
    assert by_name(res)["alpha"].version == "1.0" and by_name(res)["beta"].version in {"2.0", "2.1"}
    [skip] = res.skipped
    assert (skip.line, skip.requirement) == (2, "beta==1.0")
    # the rejected pin is audited from its pin too, said in the skipped reason and in its properties
    [rejected] = [p for p in res.packages if p.name == "beta" and p.version == "1.0"]
    assert rejected.resolved is False and rejected.node_id == "pypi:beta@1.0"
    assert "mlaudit:rejected-pin" in rejected.properties and "audited from the pin" in skip.reason

"""The reason a requirement was dropped is uv's real one (issue 23 row 10, issue 26 "partly warm resolver cache"),
and offline cache misses are dropped in one pass (issue 26 "offline unknown pins"). Real uv runs against a loopback
index built here."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from auditor.resolve import messages as msg
from auditor.resolve import resolve
from auditor.resolve.target import indexes_for
from auditor.resolve.uvdriver import UvResolver
from auditor.tools import uv_binary
from tests.resolve.conftest import Context
from tests.support.index import LocalIndex


@pytest.fixture(autouse=True)
def _uv() -> None:
    if uv_binary() is None:
        pytest.skip("uv binary not available")


def local_variant_index() -> LocalIndex:
    ix = LocalIndex()
    ix.add_wheel("torch", "2.10.0", ["filelock"])
    ix.add_wheel("filelock", "3.0.0")
    ix.add_wheel("torch-npu", "2.10.0.post2", ["torch==2.10.0+cpu"])
    ix.add_wheel("npu-toolkit", "1.0", ["torch-npu==2.10.0.post2"])
    ix.add_wheel("numpy", "1.26.0")
    ix.add_wheel("mkl-fft", "1.3", ["numpy==1.26.0+mkl"])
    ix.add_wheel("six", "1.16.0")
    return ix


@pytest.mark.parametrize(("lines", "mine", "parent", "missing"), [
    (["torch==2.10.0", "torch-npu==2.10.0.post2", "six"], "torch", "torch-npu", "torch==2.10.0+cpu"),
    (["six", "torch-npu==2.10.0.post2", "torch==2.10.0"], "torch", "torch-npu", "torch==2.10.0+cpu"),
    (["numpy==1.26.0", "mkl-fft==1.3"], "numpy", "mkl-fft", "numpy==1.26.0+mkl"),
])
def test_a_dependency_asking_for_a_missing_local_version_is_the_culprit(
        audit_context: Context, lines: list[str], mine: str, parent: str, missing: str) -> None:
    """``torch==2.10.0`` is on the index; ``torch-npu`` requires ``torch==2.10.0+cpu``, which is not: the user's torch
    line is fine (resolved, with its dependencies) and torch-npu carries the conflict, never "no such version"."""
    with local_variant_index().serve() as url:
        src, options, ctx = audit_context(url, lines)
        res = resolve(src, options, ctx)
    reasons = {s.requirement: s.reason or "" for s in res.skipped}
    mine_line = next(line for line in lines if line.startswith(mine + "=="))
    assert mine_line not in reasons
    [blamed] = [r for req, r in reasons.items() if req and req.startswith(parent + "==")]
    assert blamed.startswith(f"conflict: {parent} requires {missing}") and "no such version" not in blamed
    resolved = {p.name: p for p in res.packages}
    assert resolved[mine].resolved and resolved[mine].source == "resolver"
    assert resolved[parent].resolved is False  # kept from its pin for the name/version checks


@pytest.mark.parametrize(("lines", "blamed"), [(["torch==2.10.0", "npu-toolkit"], "npu-toolkit"),
                                                (["torch==2.10.0", "npu-toolkit", "torch-npu"], "torch-npu")])
def test_the_users_requirement_that_brings_the_missing_version_in_is_the_culprit(
        audit_context: Context, lines: list[str], blamed: str) -> None:
    """npu-toolkit needs torch-npu, which needs the missing torch==2.10.0+cpu: the user's line that brings it in is
    dropped with the conflict named, never the user's torch pin."""
    with local_variant_index().serve() as url:
        src, options, ctx = audit_context(url, lines)
        res = resolve(src, options, ctx)
    packages = {p.name for p in res.packages}
    assert {"torch", "filelock"} <= packages and "torch-npu" not in packages
    skipped = {s.requirement: s.reason or "" for s in res.skipped}
    assert blamed in skipped and "torch==2.10.0+cpu" in skipped[blamed] and "torch==2.10.0" not in skipped


def test_a_transitive_dependency_needing_a_missing_version_is_taken_out(audit_context: Context) -> None:
    """Without a user pin on torch, torch-npu's own torch==2.10.0+cpu is the missing piece: said as such."""
    with local_variant_index().serve() as url:
        src, options, ctx = audit_context(url, ["npu-toolkit"])
        res = resolve(src, options, ctx)
    [skip] = res.skipped
    assert "2.10.0+cpu" in (skip.requirement or "") and "no such version" in (skip.reason or "")
    assert "required by torch-npu" in (skip.reason or "")


def test_no_such_version_the_user_asked_for_is_still_said(audit_context: Context) -> None:
    with local_variant_index().serve() as url:
        src, options, ctx = audit_context(url, ["torch==9.9.9", "six"])
        res = resolve(src, options, ctx)
    [skip] = res.skipped
    assert skip.line == 1 and skip.reason == "no such version on the index"


def warm_cache_index() -> LocalIndex:
    ix = LocalIndex()
    ix.add_wheel("six", "1.16.0")
    ix.add_wheel("beta", "1.0")
    ix.add_wheel("beta", "2.0")
    ix.add_wheel("gamma", "1.0")
    return ix


@pytest.mark.parametrize("order", [["six==1.16.0", "gamma", "beta>=2"], ["beta>=2", "six==1.16.0", "gamma"],
                                   ["six==1.16.0", "beta>=2", "gamma"]])
def test_a_partly_warm_cache_keeps_uvs_reason(audit_context: Context, order: list[str]) -> None:
    """The cache holds beta's page and 1.0's metadata, not 2.0's: offline, ``beta>=2`` cannot be resolved. The
    reason says so wherever the line sits (it once read "resolver error" when it was the last line)."""
    with warm_cache_index().serve() as url:
        src, options, ctx = audit_context(url, ["six==1.16.0", "beta==1.0", "gamma"])
        resolve(src, options, ctx)
        src, options, ctx = audit_context(url, order, offline=True)
        res = resolve(src, options, ctx)
    [skip] = res.skipped
    assert skip.requirement == "beta>=2"
    assert skip.reason and "resolver error" not in skip.reason and "cache" in skip.reason
    assert {p.name for p in res.packages} == {"six", "gamma"}


def test_bisection_keeps_uvs_message_when_the_last_line_is_the_culprit(audit_context: Context,
                                                                      request: pytest.FixtureRequest) -> None:
    from tests.resolve.test_resolve_uv import broken_index

    uv = uv_binary()
    assert uv is not None
    with broken_index().serve() as url:
        src, options, ctx = audit_context(url, ["alpha", "beta", "broken==1.0"])
        resolver = UvResolver(src.requirements, [], options, ctx, indexes_for(src, options), uv)
        request.addfinalizer(lambda: shutil.rmtree(resolver._dir, ignore_errors=True))
        failed = resolver._compile(resolver._active())
        assert failed.returncode != 0
        assert resolver._bisect(failed.stderr) is True
    [skip] = resolver.skipped
    assert skip.requirement == "broken==1.0" and skip.reason and "resolver error" not in skip.reason
    assert msg.clean(failed.stderr)[:60] in skip.reason


def many_pins(count: int) -> list[str]:
    return [f"unknown-{i:04d}==1.0" for i in range(count)]


@pytest.mark.parametrize("warm", [False, True])
def test_offline_pins_missing_from_the_cache_are_dropped_in_one_pass(audit_context: Context, warm: bool) -> None:
    """2,000 pins not in the cache once took 2,000 uv runs; here 60, cold or partly warm, take a handful."""
    lines = many_pins(60)
    with warm_cache_index().serve() as url:
        if warm:
            src, options, ctx = audit_context(url, ["six==1.16.0", "gamma"])
            resolve(src, options, ctx)
        src, options, ctx = audit_context(url, [*lines, "six==1.16.0", "gamma"], offline=True)
        uv = uv_binary()
        assert uv is not None
        resolver = UvResolver(src.requirements, [], options, ctx, indexes_for(src, options), uv)
        res = resolver.resolve()
    assert resolver.runs <= 4
    dropped = {s.requirement for s in res.skipped if s.reason == msg.NOT_CACHED_REASON}
    assert set(lines) <= dropped
    by_name = {p.name: p for p in res.packages}
    assert all(by_name[f"unknown-{i:04d}"].version == "1.0" for i in range(60))  # audited from their pins
    if warm:
        assert by_name["six"].resolved and by_name["gamma"].resolved and len(res.skipped) == 60


def test_an_unknown_cache_layout_costs_time_never_a_wrong_reason(audit_context: Context, tmp_path: Path) -> None:
    from auditor.resolve.uvdriver import cached_project_names

    with warm_cache_index().serve() as url:
        src, options, ctx = audit_context(url, ["six==1.16.0"])
        resolve(src, options, ctx)
        cache = tmp_path / "cache" / "uv"
        for bucket in cache.glob("simple-v*"):
            bucket.rename(cache / ("simple-index" + bucket.name[len("simple"):]))  # a future uv, say
        assert cached_project_names(cache) is None
        src, options, ctx = audit_context(url, ["six==1.16.0", *many_pins(3)], offline=True)
        res = resolve(src, options, ctx)
    assert {s.requirement for s in res.skipped} >= set(many_pins(3))
    assert all(s.reason for s in res.skipped)


def test_cached_project_names_reads_uvs_buckets(audit_context: Context, tmp_path: Path) -> None:
    from auditor.resolve.uvdriver import cached_project_names

    assert cached_project_names(tmp_path / "nothing-here") == set()
    with warm_cache_index().serve() as url:
        src, options, ctx = audit_context(url, ["six==1.16.0", "Gamma"])
        resolve(src, options, ctx)
    assert {"six", "gamma"} <= (cached_project_names(tmp_path / "cache" / "uv") or set())

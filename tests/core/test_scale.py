"""Issue 26 "lock size": report assembly is linear in the number of packages (a 20,000-package lock once took 15.6 s
and 1.3 GB in a quadratic ``Report.add_package``; 100,000 gave no answer in 600 s). The bounds here are loose on
purpose -- they separate linear from quadratic by two orders of magnitude, they are no timing target (timings live in
``bench/lockscale.py``)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from auditor.domain import Package, Report
from auditor.errors import InputError
from auditor.ledger import ItemKind
from auditor.net import HttpClient
from auditor.options import AuditContext, AuditOptions
from auditor.sources import load_file
from bench.lockscale import write_poetry_lock, write_uv_lock

N = 40_000


def test_adding_many_packages_is_linear() -> None:
    report = Report()
    started = time.perf_counter()
    for i in range(N):
        report.add_package(Package(name=f"pkg-{i:06d}", version="1.0"))
    report.add_package(Package(name="pkg-000007", version="2.0"))  # a second version qualifies both keys
    for i in range(0, N, 1000):
        report.add_package(Package(name=f"pkg-{i:06d}", version="1.0", profiles=["dev"]))  # merged, not added
    assert time.perf_counter() - started < 10
    assert len(report.packages) == N + 1
    assert {"pkg-000007@1.0", "pkg-000007@2.0"} <= set(report.packages)
    assert report.package_for("pkg-001000", "1.0") is not None
    assert report.packages["pkg-001000"].profiles == ["dev"]
    assert report.package_at("pkg-000007") is None and report.package_at("pypi:pkg-000007@2.0") is not None
    assert report.package_at("pypi:pkg-039999") is report.packages["pkg-039999"]


def test_a_package_added_beside_direct_edits_of_packages_is_still_qualified() -> None:
    report = Report()
    report.add_package(Package(name="six", version="1.0"))
    report.packages["x@1"] = Package(name="x", version="1")  # someone edited the dict directly
    report.packages["x@2"] = Package(name="x", version="2")
    added = report.add_package(Package(name="x", version="3"))
    assert "x@3" in report.packages and added.node_id == "pypi:x@3"


def test_one_gap_per_package_is_linear() -> None:
    ctx = AuditContext(options=AuditOptions(), report=Report(), http=HttpClient())
    started = time.perf_counter()
    for i in range(N // 2):
        ctx.incomplete(ItemKind.HASHES, f"pkg-{i:06d}==1.0", "hashes not verified")
        ctx.incomplete(ItemKind.HASHES, f"pkg-{i:06d}==1.0", "hashes not verified")  # one entry per subject
    assert time.perf_counter() - started < 10
    assert len(ctx.report.ledger) == N // 2


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "writer"), [("uv.lock", write_uv_lock), ("poetry.lock", write_poetry_lock)])
def test_a_large_lock_is_read_and_assembled(tmp_path: Path, kind: str, writer: object) -> None:
    from auditor.accounting import ProfileRun, assemble
    from auditor.resolve.base import Resolution
    from auditor.sources.project import Profile

    lock = tmp_path / kind
    writer(lock, 20_000)  # type: ignore[operator]
    started = time.perf_counter()
    src = load_file(str(lock), AuditOptions(python_version="3.11"))
    report = Report()
    run = ProfileRun(profile=Profile(name=kind, source=src, files=[str(lock)]),
                     resolution=Resolution(packages=src.packages, edges=src.edges))
    assemble(report, [run])
    assert time.perf_counter() - started < 30
    assert len(report.packages) == 20_000


def test_a_requirements_file_past_the_bound_is_refused_at_the_crossing_line(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.sources import requirements

    monkeypatch.setattr(requirements, "MAX_REQUIREMENTS", 50)
    (tmp_path / "more.txt").write_text("".join(f"extra-{i}==1\n" for i in range(30)))
    path = tmp_path / "requirements.txt"
    path.write_text("# padding\n\n" * 10 + "".join(f"pkg-{i}==1\n" for i in range(30)) + "-r more.txt\n")
    with pytest.raises(InputError) as caught:
        load_file(str(path), AuditOptions())
    assert caught.value.file == str(tmp_path / "more.txt") and caught.value.line == 21
    assert "more than 50 requirements" in str(caught.value)

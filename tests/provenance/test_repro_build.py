"""``mlaudit repro`` with real backends (flit_core, setuptools) building packages generated in the test.

Marked ``slow``: the backend wheels come once per session from the configured pip index (see ``reprokit``);
the builds themselves use only the loopback ``LocalIndex``.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.cli import main
from tests.provenance.reprokit import fetch_backends, flit_sdist, index_with_backends, publish, stamped_sdist
from tests.support.index import IndexFile

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return fetch_backends(tmp_path_factory.mktemp("backends"))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(tmp_path / "cache"))  # stored repro results stay in this test


@pytest.fixture
def repro_json(capsys: pytest.CaptureFixture[str]) -> Iterator[object]:
    def run(*args: str) -> tuple[int, dict[str, object]]:
        code = main(["repro", *args, "--format", "json"])
        return code, json.loads(capsys.readouterr().out)

    yield run


def test_deterministic_package_is_identical(backends: list[Path], tmp_path: Path, repro_json) -> None:  # type: ignore[no-untyped-def]
    index = index_with_backends(backends)
    with index.serve() as url:
        publish(index, url, flit_sdist("detpkg", "1.0"), tmp_path / "publish")
        code, out = repro_json("detpkg==1.0", "--index-url", url)
    assert code == 0
    assert out["result"] == "identical"
    assert out["slsa"] == "reproducible"
    assert out["generator"].startswith("flit ")  # type: ignore[union-attr]
    assert out["build_requires"] == [f"flit_core=={out['generator'].split()[1]}"]  # type: ignore[union-attr]
    assert out["source_date_epoch"] == 1600000000


def test_rezipped_wheel_is_identical_content(backends: list[Path], tmp_path: Path, repro_json) -> None:  # type: ignore[no-untyped-def]
    index = index_with_backends(backends)
    with index.serve() as url:
        name, wheel = publish(index, url, flit_sdist("zippkg", "1.0"), tmp_path / "publish")
        item = next(f for f in index.files if f.filename == name)
        item.data = _rezip(wheel, (2023, 3, 4, 5, 6, 8))  # same files, other timestamps and order
        local = tmp_path / name
        local.write_bytes(item.data)
        code, out = repro_json(str(local), "--index-url", url)
    assert code == 0
    assert out["result"] == "identical-content"
    assert out["comparison"]["changed"] == []  # type: ignore[index]
    assert out["comparison"]["metadata_only"]  # type: ignore[index]


def test_tampered_wheel_differs_with_diff(backends: list[Path], tmp_path: Path, repro_json) -> None:  # type: ignore[no-untyped-def]
    index = index_with_backends(backends)
    with index.serve() as url:
        name, wheel = publish(index, url, flit_sdist("tampkg", "1.0"), tmp_path / "publish")
        item = next(f for f in index.files if f.filename == name)
        item.data = _rezip(wheel, None, {"tampkg/__init__.py": b'"""Test package tampkg."""\nVALUE = 1\n'
                                                               b"__import__('os').system('id')\n"})
        code, out = repro_json("tampkg==1.0", "--index-url", url)
    assert code == 1
    assert out["result"] == "differs"
    comparison = out["comparison"]
    assert comparison["changed"] == ["tampkg/__init__.py"]  # type: ignore[index]
    assert "-__import__('os').system('id')" in comparison["diffs"]["tampkg/__init__.py"]  # type: ignore[index]


def test_build_embedding_a_timestamp_differs(backends: list[Path], tmp_path: Path, repro_json) -> None:  # type: ignore[no-untyped-def]
    index = index_with_backends(backends)
    with index.serve() as url:
        publish(index, url, stamped_sdist("stamppkg", "1.0"), tmp_path / "publish")
        code, out = repro_json("stamppkg==1.0", "--index-url", url)
    assert code == 1
    assert out["result"] == "differs"
    assert out["generator"].startswith("setuptools (")  # type: ignore[union-attr]
    changed = out["comparison"]["changed"]  # type: ignore[index]
    assert "stamppkg/_stamp.py" in changed
    assert "BUILT_AT_NS" in out["comparison"]["diffs"]["stamppkg/_stamp.py"]  # type: ignore[index]


def test_build_failure_exits_3(backends: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = index_with_backends(backends)
    with index.serve() as url:
        name, wheel = publish(index, url, flit_sdist("brokenpkg", "1.0"), tmp_path / "publish")
        sdist = next(f for f in index.files if f.filename.endswith(".tar.gz") and f.project == "brokenpkg")
        index.files.remove(sdist)
        from tests.provenance.reprokit import make_sdist

        bad = make_sdist("brokenpkg", "1.0", {"pyproject.toml": "[build-system]\nrequires = []\n"
                                                                "build-backend = \"no_such_backend\"\n"})
        index.files.append(IndexFile("brokenpkg", bad[0], bad[1]))
        code = main(["repro", "brokenpkg==1.0", "--index-url", url, "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 3
    assert out["result"] == "build-failed"
    assert "no_such_backend" in out["log_tail"]


def _rezip(data: bytes, date: tuple[int, int, int, int, int, int] | None,
           replace: dict[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in reversed(src.infolist()):
            body = (replace or {}).get(info.filename, src.read(info))
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=date or info.date_time), body)
    return out.getvalue()

"""Installed environments: ``*.dist-info`` metadata read from disk, nothing imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.domain import ROOT_NODE, package_node
from auditor.errors import InputError
from auditor.sources import load_environment
from auditor.sources.environment import Installed, dependency_edges
from auditor.sources.markers import target_environment
from auditor.tools import uv_binary
from tests.support.index import LocalIndex


def _dist_info(site: Path, name: str, version: str, requires: tuple[str, ...] | list[str] = (), *,
               requested: bool = False, extra_headers: str = "") -> Path:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", *extra_headers.splitlines()]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n\n")
    if requested:
        (info / "REQUESTED").write_text("")
    return info


def test_real_venv_installed_by_uv(tmp_path: Path) -> None:
    uv = uv_binary()
    if uv is None:
        pytest.skip("uv binary not available")
    sentinel = tmp_path / "IMPORTED"
    index = LocalIndex()
    index.add_wheel("app-core", "1.0", requires=["helper>=1", "extra-only; extra == 'fancy'",
                                                   "winonly; sys_platform == 'win32'"])
    index.add_wheel("helper", "1.2")
    index.add_wheel("extra-only", "0.1")
    index.add_wheel("winonly", "1.0")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))},
           "UV_CACHE_DIR": str(tmp_path / "uvcache"), "NO_COLOR": "1", "UV_PYTHON_DOWNLOADS": "never"}
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--no-config", "--python", sys.executable, str(venv)], check=True, env=env,
                   capture_output=True, timeout=120)
    with index.serve() as url:
        subprocess.run([uv, "pip", "install", "--no-config", "--python", str(venv), "--index-url", url, "app-core",
                        "extra-only"], check=True, env=env, capture_output=True, timeout=120)
    # a package whose import would leave a trace: reading metadata must never import it
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "app_core" / "__init__.py").write_text(f"open({str(sentinel)!r}, 'w').write('imported')\n")
    result = load_environment(str(venv))
    assert result.resolved and result.kinds == ["environment"]
    packages = {p.name: p for p in result.packages}
    assert {n: p.version for n, p in packages.items()} == {"app-core": "1.0", "helper": "1.2", "extra-only": "0.1"}
    assert packages["app-core"].direct and packages["extra-only"].direct and not packages["helper"].direct
    edges = {(e.parent, e.child) for e in result.edges}
    assert (package_node("app-core"), package_node("helper")) in edges
    assert (package_node("app-core"), package_node("extra-only")) not in edges  # extra not requested
    assert (ROOT_NODE, package_node("app-core")) in edges
    assert result.root_name == "venv"
    assert not sentinel.exists()


def test_windows_layout_markers_and_egg_info(tmp_path: Path) -> None:
    site = tmp_path / "winenv" / "Lib" / "site-packages"
    _dist_info(site, "top", "1.0", ["pywin32>=300; sys_platform == 'win32'", "posixonly; sys_platform != 'win32'",
                                    "helper[speed]>=1"], requested=True)
    _dist_info(site, "pywin32", "306")
    _dist_info(site, "posixonly", "1.0")
    _dist_info(site, "helper", "1.0", ["accel; extra == 'speed'"])
    _dist_info(site, "accel", "2.0")
    egg = site / "legacy_pkg-0.9.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: legacy-pkg\nVersion: 0.9\nLicense: MIT\n\n")
    (egg / "requires.txt").write_text("helper\n\n[fast]\naccel\n")
    result = load_environment(str(tmp_path / "winenv"))
    edges = {(e.parent.split(":")[-1], e.child.split(":")[-1]) for e in result.edges}
    assert ("top", "pywin32") in edges and ("top", "posixonly") not in edges  # evaluated for Windows
    assert ("helper", "accel") in edges  # the extra was requested by top
    assert ("legacy-pkg", "helper") in edges and ("legacy-pkg", "accel") not in edges
    packages = {p.name: p for p in result.packages}
    assert packages["legacy-pkg"].metadata["license"] == "MIT"
    assert packages["posixonly"].direct  # nothing requires it here


def test_site_packages_given_directly_and_broken_metadata(tmp_path: Path) -> None:
    site = tmp_path / "lib" / "python3.9" / "site-packages"
    _dist_info(site, "old", "1.0", ["newpy; python_version >= '3.10'", "oldpy; python_version < '3.10'"])
    _dist_info(site, "newpy", "1.0")
    _dist_info(site, "oldpy", "1.0")
    broken = site / "broken-1.0.dist-info"
    broken.mkdir()
    (broken / "METADATA").write_text("Metadata-Version: 2.1\nSummary: no name\n\n")
    (site / "gone-1.0.dist-info").mkdir()
    result = load_environment(str(site))
    edges = {(e.parent.split(":")[-1], e.child.split(":")[-1]) for e in result.edges}
    assert ("old", "oldpy") in edges and ("old", "newpy") not in edges  # python3.9 from the directory name
    reasons = sorted(s.reason for s in result.skipped)
    assert len(reasons) == 2 and any("Name or Version" in r for r in reasons)
    assert any("without readable metadata" in r for r in reasons)


def test_missing_or_empty_environment_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such environment"):
        load_environment(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no site-packages"):
        load_environment(str(tmp_path / "empty"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="needs a directory"):
        load_environment(str(tmp_path / "file"))


def test_running_interpreter_excludes_mlaudit_and_its_own_closure() -> None:
    result = load_environment(None)
    names = {p.name for p in result.packages}
    assert "mlaudit" not in names
    import importlib.metadata as md

    from auditor.domain import canonical_name

    installed = {canonical_name(d.metadata["Name"]) for d in md.distributions() if d.metadata["Name"]}
    assert len(names) > 0 and names <= installed
    assert "mlaudit" in installed  # the exclusion really had something to exclude


def test_self_closure_kept_when_user_packages_need_it() -> None:
    installed = {
        "mlaudit": Installed("mlaudit", "1", ["requests", "rich"]),
        "requests": Installed("requests", "2", ["idna"]),
        "idna": Installed("idna", "3"),
        "rich": Installed("rich", "13"),
        "userapp": Installed("userapp", "1", ["requests"]),
    }
    from auditor.sources.environment import _without_self

    kept, edges = _without_self(installed, dependency_edges(installed, target_environment()))
    assert set(kept) == {"userapp", "requests", "idna"}
    assert all("mlaudit" not in e.parent for e in edges)


def _metadata_link(site: Path, target: str | None, kind: str = "METADATA") -> Path:
    """``hostile-1.0.dist-info/METADATA`` (or an egg-info's ``PKG-INFO``) made a link to ``target``; a FIFO when
    ``target`` is None."""
    info = site / ("hostile-1.0.dist-info" if kind == "METADATA" else "hostile-1.0.egg-info")
    info.mkdir(parents=True)
    meta = info / kind
    if target is None:
        os.mkfifo(meta)
    else:
        meta.symlink_to(target)
    return meta


@pytest.mark.parametrize(("target", "kind"), [("/dev/zero", "METADATA"), ("/dev/urandom", "PKG-INFO"),
                                              (None, "METADATA"), ("huge", "METADATA")])
def test_environment_metadata_reads_are_bounded(tmp_path: Path, target: str | None, kind: str) -> None:
    """A ``METADATA`` that is a link to ``/dev/zero`` once read 23.7 GB in 34 s; a FIFO would block for ever."""
    import time

    site = tmp_path / "site-packages"
    _dist_info(site, "good", "1.0")
    if target == "huge":
        big = tmp_path / "big"
        with big.open("wb") as handle:
            handle.truncate(64 * 1024 * 1024)  # sparse: larger than the limit, no disk used
        target = str(big)
    meta = _metadata_link(site, target, kind)
    started = time.monotonic()
    result = load_environment(str(site))
    assert time.monotonic() - started < 10
    assert [p.name for p in result.packages] == ["good"]
    [gap] = [s for s in result.skipped if s.outcome.value == "skipped"]
    assert gap.file == str(meta) and gap.kind.value == "package"


def test_egg_requires_that_cannot_be_read_is_a_gap(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    info = site / "legacy-1.0.egg-info"
    info.mkdir(parents=True)
    (info / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: legacy\nVersion: 1.0\n\n")
    (info / "requires.txt").symlink_to("/dev/zero")
    result = load_environment(str(site))
    assert [p.name for p in result.packages] == ["legacy"]
    [gap] = result.skipped
    assert gap.file == str(info / "requires.txt") and "not a regular file" in (gap.reason or "")


def test_running_marker_environment_is_packagings_own() -> None:
    """The audit computes this interpreter's marker environment itself (``packaging.markers`` is imported only when a
    marker is evaluated): it is exactly ``packaging``'s ``default_environment()``, key for key, and the target
    environment built on it is what it was when built on packaging's."""
    import platform

    from packaging.markers import default_environment

    from auditor.sources.markers import running_environment, target_environment

    expected = {key: str(value) for key, value in default_environment().items()}
    assert running_environment() == expected
    assert target_environment() == expected
    assert target_environment("3.9", "win_amd64") == {
        **expected, "python_version": "3.9", "python_full_version": "3.9.0", "sys_platform": "win32",
        "platform_system": "Windows", "os_name": "nt", "platform_machine": "AMD64"}
    assert expected["platform_machine"] == platform.machine()

"""``mlaudit fleet --ray`` against a real local Ray cluster on 127.0.0.1 (2 CPUs): the same reports as one run per
project, a sharded model store equal to ``mlaudit scan``, and kill-and-resume (driver and Ray worker SIGKILL).
Needs ``pip install '.[ray]'``; run with ``python -m pytest -m ray``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from tests.fleet.conftest import comparable, fleet_cli, load_index
from tests.fleet.generate import make_fleet, make_store
from tests.fleet.killing import kill_driver_then_resume, kill_worker_mid_run, records, reference_run

pytestmark = pytest.mark.ray
ray = pytest.importorskip("ray")
N = 40


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.fleet.raycluster import local_cluster

    with local_cluster(2, tmp_path_factory.mktemp("ray")) as running:
        yield running


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rayfleet")
    make_fleet(root / "projects", N)
    make_store(root, 400)
    return root


def _env() -> dict[str, str]:
    from tests.fleet.raycluster import ray_env

    return ray_env()


def test_ray_reports_equal_single_runs(cluster: Any, fleet: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(fleet)
    paths = [f"projects/svc-{i:04d}" for i in range(12)]
    done = fleet_cli([*paths, "--offline", "--scan", "store", "--shard-files", "50", "-o", str(tmp_path / "out"),
                      "--ray", cluster.address, "-q"], cwd=fleet, env=_env(), timeout=900)
    assert done.returncode in (1, 3), done.stderr
    index = load_index(tmp_path / "out")
    assert index["run"]["executor"] == "ray" and index["run"]["tasks"] == 12 + 8
    units = {u["path"]: u for u in index["units"]}
    for path in paths:
        code = main([path, "--offline", "--format", "json", "-o", str(tmp_path / "single.json")])
        assert units[path]["exit_code"] == code
        assert comparable((tmp_path / "out" / units[path]["report"]).read_text()) == \
            comparable((tmp_path / "single.json").read_text())
    assert main(["scan", "store", "--format", "json", "-o", str(tmp_path / "scan.json")]) == 1
    assert comparable((tmp_path / "out" / units["store"]["report"]).read_text()) == \
        comparable((tmp_path / "scan.json").read_text())
    assert done.returncode == index["exit_code"]


@pytest.fixture(scope="module")
def reference(cluster: Any, fleet: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    args = [*[f"projects/svc-{i:04d}" for i in range(N)], "--offline", "--ray", cluster.address]
    return reference_run(args, fleet, tmp_path_factory.mktemp("rayref") / "out", _env(), timeout=900)


def test_ray_driver_sigkill_then_rerun_does_only_the_missing(cluster: Any, fleet: Path, reference: dict[str, Any],
                                                            tmp_path: Path) -> None:
    args = [*[f"projects/svc-{i:04d}" for i in range(N)], "--offline", "--ray", cluster.address]
    kill_driver_then_resume(args, fleet, tmp_path / "out", _env(), N, reference, after=N // 4, timeout=900)


def test_ray_worker_sigkill_is_retried_by_ray(cluster: Any, fleet: Path, reference: dict[str, Any],
                                              tmp_path: Path) -> None:
    args = [*[f"projects/svc-{i:04d}" for i in range(N)], "--offline", "--ray", cluster.address]

    def a_worker(_driver: int) -> int | None:
        workers = cluster.task_workers()
        return workers[0] if workers else None

    kill_worker_mid_run(args, fleet, tmp_path / "out", _env(), reference, a_worker, timeout=900)
    assert len(records(tmp_path / "out")) == N

"""Kill-and-resume with the local pool, in real processes: a SIGKILLed driver loses and repeats nothing on rerun;
a SIGKILLed worker costs its project one attempt and the run ends with every answer right."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fleet.generate import make_fleet
from tests.fleet.killing import alive, children, kill_driver_then_resume, kill_worker_mid_run, reference_run

pytestmark = pytest.mark.slow
N = 60


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], dict[str, object]]:
    root = tmp_path_factory.mktemp("killfleet")
    make_fleet(root / "projects", N)
    args = [*[f"projects/svc-{i:04d}" for i in range(N)], "--offline", "--workers", "2"]
    return root, args, reference_run(args, root, root / "reference", dict(os.environ), timeout=600)


def test_driver_sigkill_then_rerun_does_only_the_missing(fleet: tuple[Path, list[str], dict[str, object]],
                                                        tmp_path: Path) -> None:
    root, args, reference = fleet
    kill_driver_then_resume(args, root, tmp_path / "out", dict(os.environ), N, reference,  # type: ignore[arg-type]
                            after=N // 4, timeout=600)


def test_worker_sigkill_is_retried_and_loses_nothing(fleet: tuple[Path, list[str], dict[str, object]],
                                                     tmp_path: Path) -> None:
    root, args, reference = fleet

    def a_worker(driver: int) -> int | None:
        live = [pid for pid in children(driver) if alive(pid)]
        return live[0] if live else None

    index = kill_worker_mid_run(args, root, tmp_path / "out", dict(os.environ), reference,  # type: ignore[arg-type]
                                a_worker, timeout=600)
    assert len(index["run"]["retried"]) <= 1
    # the killed worker was replaced: a worker that died before its first answer reports no memory, so the count of
    # started processes is the proof, not the memory table
    assert index["run"]["worker_processes"] >= 3

"""Fixtures of the fleet tests: a generated fleet, and each project's single-run JSON report to compare with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from tests.fleet.generate import make_fleet

ROOT = Path(__file__).resolve().parents[2]
RUN_DEPENDENT = ("generated_at", "timings")  # differ between any two runs of the same audit


def comparable(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text)
    for key in RUN_DEPENDENT:
        data.pop(key, None)
    return data


def single_run(argv: list[str], out: Path) -> int:
    """``mlaudit ARGS --format json -o OUT`` in-process: the reference a fleet report must equal."""
    return main([*argv, "--format", "json", "-o", str(out)])


def fleet_cli(args: list[str], *, cwd: Path, env: dict[str, str] | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``mlaudit fleet`` as a real process (what kill tests and Ray tests need)."""
    return subprocess.run([sys.executable, "-m", "auditor", "fleet", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env or dict(os.environ), check=False)


@pytest.fixture(scope="module")
def fleet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fleet")
    make_fleet(root / "projects", 24)
    return root


def project_names(fleet_dir: Path) -> list[str]:
    return sorted(p.name for p in (fleet_dir / "projects").iterdir())


def load_index(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "index.json").read_text())
    return data

"""The layering of docs/architecture.md is a machine-checked contract (``[tool.importlinter]`` in pyproject.toml,
``lint-imports`` in CI). These tests run ``lint-imports`` for real: on the tree as it is (kept), and on a copy of it
where a low layer imports a high one (broken, naming the import) -- so the contract is shown to bite, not only to
pass."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
LINT = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}  # the copy's ``auditor`` before any installed one
    return subprocess.run([LINT, "--no-cache", "--config", str(root / "pyproject.toml")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not Path(LINT).exists():
        pytest.fail("lint-imports is not installed: pip install -e '.[test]'")
    root = tmp_path_factory.mktemp("layers")
    shutil.copytree(ROOT / "auditor", root / "auditor", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    proc = _lint(tree)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


@pytest.mark.parametrize(("module", "line", "named"), [
    ("auditor/domain.py", "from auditor.pipeline import run_audit", "auditor.domain is not allowed to import auditor.pipeline"),
    ("auditor/sources/requirements.py", "from auditor.outputs.json_out import render",
     "auditor.sources is not allowed to import auditor.outputs"),
    ("auditor/outputs/terminal.py", "from auditor.models.pyrefs import RUNTIME_REFERENCE",
     "auditor.outputs is not allowed to import auditor.models"),
    ("auditor/options.py", "    from auditor.advisories.db import AdvisoryStore",
     "auditor.options is not allowed to import auditor.advisories"),
])
def test_a_low_layer_importing_a_high_one_breaks_the_contract(tree: Path, module: str, line: str,
                                                               named: str) -> None:
    path = tree / module
    original = path.read_text()
    # appended at the end (under TYPE_CHECKING when indented): a lazy or type-only import is a dependency too
    extra = f"\nif TYPE_CHECKING:  # noqa\n{line}\n" if line.startswith(" ") else f"\n{line}  # noqa\n"
    path.write_text(original + ("\nfrom typing import TYPE_CHECKING\n" if line.startswith(" ") else "") + extra)
    try:
        proc = _lint(tree)
    finally:
        path.write_text(original)
    assert proc.returncode != 0
    assert named in proc.stdout, proc.stdout[-3000:]


def test_every_module_of_auditor_is_in_a_layer() -> None:
    """A new top-level module or package must be placed in the contract, or it would escape it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    [layers] = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    listed = {name.strip() for layer in layers for name in layer.replace(":", "|").split("|")}
    package = ROOT / "auditor"
    modules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert sorted(modules - listed) == [] and sorted(listed - modules) == []

"""Bounds on what an audited tree can make mlaudit read and build (issue 26): YAML alias bombs, deep JSON/TOML/YAML,
oversized or special policy files. Each hostile file ends as a clear error or a skipped item naming the file —
never "internal error: RecursionError", never a run that grows without bound.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from auditor.models.configrefs import read_config

ROOT = Path(__file__).resolve().parents[2]


def alias_bomb(levels: int, fanout: int, key: str = "model_name_or_path") -> str:
    """The billion-laughs shape in YAML: each anchor a list of ``fanout`` aliases to the previous one."""
    lines = ["l0: &l0 [" + ", ".join(['"lol"'] * fanout) + "]"]
    for n in range(1, levels):
        lines.append(f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * fanout) + "]")
    lines.append(f"{key}: acme/model")
    return "\n".join(lines) + "\n"


def cli(*argv: str) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([*argv, "--format", "json", "-q"])
    text = out.getvalue()
    return code, json.loads(text) if text.strip() else {}, err.getvalue()


def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "requirements.txt").write_text("")
    return root


def skipped(report: dict[str, Any]) -> dict[str, str]:
    return {s["file"]: s["reason"] for s in report["skipped"]}


# -- YAML alias budget -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("levels", "fanout"), [(6, 10), (4, 30), (10, 4)])  # 10^6, 8.1 * 10^5, 10^6 nodes
def test_a_yaml_alias_bomb_in_a_training_config_is_a_skipped_item(levels: int, fanout: int) -> None:
    found = read_config(alias_bomb(levels, fanout), "configs/train.yaml", ".yaml")
    assert found.refs == []
    [gap] = found.skipped
    assert gap.file == "configs/train.yaml" and "alias bomb" in (gap.reason or "")


def test_yaml_anchors_a_real_config_uses_are_within_the_budget() -> None:
    text = ("defaults: &defaults\n  lr: 0.1\n  model_name_or_path: acme/base\n"
            + "".join(f"run{i}:\n  <<: *defaults\n  seed: {i}\n" for i in range(200)))
    found = read_config(text, "train.yaml", ".yaml")
    assert found.skipped == [] and {r.repo_id for r in found.refs} == {"acme/base"}


def test_a_recursive_alias_is_refused() -> None:
    from auditor.safeload import LoadError, compose_yaml

    with pytest.raises(LoadError, match="recursive alias"):
        compose_yaml("a: &a [1, *a]\n")


def test_a_700_byte_alias_bomb_in_a_project_and_a_model_card(tmp_path: Path) -> None:
    text = alias_bomb(9, 10)  # 10^9 nodes once expanded
    assert len(text.encode()) < 700
    root = project(tmp_path)
    (root / "configs").mkdir()
    (root / "configs" / "train.yaml").write_text(text)
    (root / "README.md").write_text("---\n" + text + "---\n# a card\n")
    code, report, err = cli(str(root), "--offline", "--python-version", "3.11")
    gaps = skipped(report)
    assert "alias bomb" in gaps[str(root / "configs" / "train.yaml")], gaps
    assert "alias bomb" in gaps[str(root / "README.md")], gaps
    assert report["complete"] is False and "internal error" not in err


def test_the_bomb_is_bounded_in_memory(tmp_path: Path) -> None:
    """The 10^9-node bomb parsed in a process limited to 1 GiB of address space: it ends (with the refusal) instead
    of being killed for memory."""
    script = ("import resource, sys\n"
              "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
              "from auditor.models.configrefs import read_config\n"
              "from tests.hostile.test_bounds import alias_bomb\n"
              "found = read_config(alias_bomb(9, 10), 'train.yaml', '.yaml')\n"
              "print(found.skipped[0].reason)\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0 and "alias bomb" in proc.stdout, proc.stderr[-2000:]


def test_the_budget_counts_expansions_not_bytes() -> None:
    from auditor.safeload import check_yaml_budget, compose_yaml, load_yaml

    [node] = compose_yaml("a: &a [1, 2, 3]\nb: [*a, *a, *a]\n")
    check_yaml_budget(node)  # a few reuses: fine
    assert load_yaml("a: &a [1, 2]\nb: *a\n") == {"a": [1, 2], "b": [1, 2]}


# -- depth -----------------------------------------------------------------------------------------------------
DEPTHS = [100_000, 300]


@pytest.mark.parametrize("depth", DEPTHS)
def test_deep_json_in_saved_configs_training_configs_and_notebooks(tmp_path: Path, depth: int) -> None:
    root = project(tmp_path)
    nested = "[" * depth + "]" * depth
    (root / "config.json").write_text('{"_name_or_path": "acme/m", "x": ' + nested + "}")
    (root / "train.json").write_text('{"model_name_or_path": "acme/m", "x": ' + nested + "}")
    (root / "nb.ipynb").write_text('{"cells": ' + nested + "}")
    (root / "train.yaml").write_text("model_name_or_path: acme/m\nx: " + nested + "\n")
    (root / "README.md").write_text("---\nbase_model: acme/m\nx: " + nested + "\n---\n")
    code, report, err = cli(str(root), "--offline", "--python-version", "3.11")
    assert "internal error" not in err and code == 0, err
    gaps = skipped(report)
    for name in ("config.json", "train.json", "nb.ipynb", "train.yaml", "README.md"):
        assert "nested too deeply" in gaps.get(str(root / name), ""), (name, gaps)


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("where", ["pyproject.toml", "mlaudit.toml"])
def test_a_deep_policy_file_is_a_clear_input_error(tmp_path: Path, depth: int, where: str) -> None:
    root = project(tmp_path)
    head = '[project]\nname = "x"\nversion = "1"\n' if where == "pyproject.toml" else ""
    (root / where).write_text(head + "[tool.other]\na = " + "[" * depth + "]" * depth + "\n")
    code, _, err = cli(str(root), "--offline")
    assert code == 2 and "internal error" not in err and where in err and "nested too deeply" in err, err


def test_shallow_documents_still_load() -> None:
    from auditor.safeload import LoadError, loads_json, loads_toml

    assert loads_json("[" * 150 + "]" * 150) is not None
    assert loads_toml("a = " + "[" * 150 + "]" * 150) is not None
    with pytest.raises(LoadError):
        loads_json("[" * 201 + "]" * 201)


# -- sizes and special files -----------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [5 << 20, 40 << 20])
def test_an_oversized_policy_file_is_refused(tmp_path: Path, size: int) -> None:
    root = project(tmp_path)
    (root / "mlaudit.toml").write_text('fail-on = "low"\n' + ("#" * 1023 + "\n") * (size // 1024))
    code, _, err = cli(str(root), "--offline")
    assert code == 2 and "mlaudit.toml" in err and "larger than" in err, err


@pytest.mark.parametrize("option", ["--config", "project"])
def test_a_policy_file_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path, option: str) -> None:
    root = project(tmp_path)
    fifo = root / "mlaudit.toml"
    os.mkfifo(fifo)

    def unblock() -> None:  # the old code blocked in open(); give it a writer so the test cannot hang
        try:
            fd = os.open(fifo, os.O_WRONLY)
            os.write(fd, b"fail-on = 'low'\n")
            os.close(fd)
        except OSError:
            pass

    timer = threading.Timer(10, unblock)
    timer.start()
    try:
        argv = [str(root), "--offline"] + (["--config", str(fifo)] if option == "--config" else [])
        code, _, err = cli(*argv)
    finally:
        timer.cancel()
    assert code == 2 and "not a regular file" in err, err


def test_read_bytes_is_bounded_even_for_devices() -> None:
    from auditor.safeload import LoadError, read_bytes

    with pytest.raises(LoadError, match="not a regular file"):
        read_bytes("/dev/zero")


@pytest.mark.parametrize("depth", [300, 100_000])
def test_input_toml_and_json_have_the_same_nesting_bound(depth: int) -> None:
    from auditor.errors import InputError
    from auditor.sources.tomlfile import parse_toml

    with pytest.raises(InputError, match="nested too deeply") as err:
        parse_toml("a = " + "[" * depth + "]" * depth + "\n", "poetry.lock")
    assert err.value.file == "poetry.lock"

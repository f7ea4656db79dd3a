"""References known only at run time are skipped (report incomplete) unless a models manifest declares them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.cli import main

CODE = 'import sys\nfrom transformers import AutoModel\nAutoModel.from_pretrained(sys.argv[1])\n'


def _audit(project: Path, capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    main(["--offline", str(project), "--format", "json", "--disable-check", "typosquat"])
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_run_time_reference_is_a_skipped_item(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "train.py").write_text(CODE)
    (tmp_path / "requirements.txt").write_text("")
    report = _audit(tmp_path, capsys)
    runtime = [s for s in report["skipped"] if "computed at run time" in s["reason"]]
    assert [(s["file"].endswith("train.py"), s["line"]) for s in runtime] == [(True, 3)]
    assert report["complete"] is False


def test_declared_models_stand_in_for_run_time_references(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "train.py").write_text(CODE)
    (tmp_path / "requirements.txt").write_text("")
    (tmp_path / "mlaudit.toml").write_text('models = ["acme/encoder@' + "a" * 40 + '"]\n')
    report = _audit(tmp_path, capsys)
    assert not [s for s in report["skipped"] if "computed at run time" in s["reason"]]
    assert any("computed at run time" in w and "train.py:3" in w for w in report["warnings"])
    assert [m["repo_id"] for m in report["models"]] == ["acme/encoder"]

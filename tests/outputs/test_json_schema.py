"""The JSON report's published contract (``data/report.schema.json``, shipped in the wheel) holds for real runs.

Scripts and release gates parse this output; the schema is what they may rely on within one ``schema_version``.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from auditor.cli import main
from auditor.domain import SCHEMA_VERSION
from auditor.outputs.json_out import render
from auditor.resources import data_file
from tests.outputs.fixture import empty_report, fixture_report

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(data_file("report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    return jsonschema.Draft202012Validator(schema)


def _errors(validator: jsonschema.Draft202012Validator, doc: object) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def test_fixture_reports_match_the_schema(validator: jsonschema.Draft202012Validator) -> None:
    for report in (fixture_report(), empty_report()):
        assert _errors(validator, json.loads(render(report))) == []


@pytest.mark.parametrize("argv", [
    ["--offline", "examples/demo"],
    ["scan", "examples/demo"],
])
def test_cli_runs_match_the_schema(argv: list[str], validator: jsonschema.Draft202012Validator,
                                   capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code = main([*argv, "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["findings"], "the demo project has findings of several kinds"
    assert _errors(validator, doc) == []


def test_a_scan_report_says_what_it_read(tmp_path: Path, validator: jsonschema.Draft202012Validator,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """``mlaudit scan``'s own result (files and bytes read, each file's format and verdict) is the report's typed
    ``model_scan`` record; an audit report of a project without model files has none."""
    (tmp_path / "a.npy").write_bytes(b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"
                                     .ljust(10 + 118, b" ") + b"\n" + b"\x00" * 4)
    (tmp_path / "b.pkl").write_bytes(b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.")
    assert main(["scan", str(tmp_path), "--format", "json", "-q"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert _errors(validator, doc) == []
    scan = doc["model_scan"]
    assert scan["files_scanned"] == 2
    assert scan["bytes_scanned"] == (tmp_path / "a.npy").stat().st_size + (tmp_path / "b.pkl").stat().st_size
    assert {(Path(f["path"]).name, f["verdict"]) for f in scan["files"]} == {("a.npy", "ok"), ("b.pkl", "findings")}
    assert "model_scan" not in json.loads(render(empty_report()))


def test_schema_rejects_a_report_that_breaks_the_contract(validator: jsonschema.Draft202012Validator) -> None:
    doc = json.loads(render(fixture_report()))
    doc["findings"][0]["severity"] = "severe"
    del doc["complete"]
    errors = _errors(validator, doc)
    assert any("severe" in e for e in errors) and any("complete" in e for e in errors)

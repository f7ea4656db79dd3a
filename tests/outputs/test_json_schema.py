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


def test_schema_rejects_a_report_that_breaks_the_contract(validator: jsonschema.Draft202012Validator) -> None:
    doc = json.loads(render(fixture_report()))
    doc["findings"][0]["severity"] = "severe"
    del doc["complete"]
    errors = _errors(validator, doc)
    assert any("severe" in e for e in errors) and any("complete" in e for e in errors)

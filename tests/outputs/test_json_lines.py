"""The JSON report is the report's data, one item per line (and written by the C encoder, not the indenting one)."""

from __future__ import annotations

import json

from auditor.outputs.json_out import render, report_dict
from tests.outputs.fixture import empty_report, fixture_report


def test_the_json_is_the_report_dict_one_item_per_line() -> None:
    for report in (fixture_report(), empty_report()):
        text = render(report)
        doc = report_dict(report)
        assert json.loads(text) == json.loads(json.dumps(doc, default=str))
        lines = text.splitlines()
        assert lines[0] == "{" and lines[-1] == "}" and text.endswith("}\n")
        for key, value in doc.items():
            if isinstance(value, list) and value:  # each package, finding, gap on a line of its own
                start = lines.index(f"  {json.dumps(key)}: [")
                items = lines[start + 1:start + 1 + len(value)]
                assert [json.loads(line.strip().rstrip(",")) for line in items] == json.loads(
                    json.dumps(value, default=str))


def test_hostile_text_stays_inside_its_line() -> None:
    report = fixture_report()
    report.warnings.append('line one\nline two "quoted" \u2028 and \\ backslash')
    text = render(report)
    assert json.loads(text)["warnings"][-1] == report.warnings[-1]
    assert all(line.startswith(("{", "}", "  ")) for line in text.rstrip("\n").split("\n"))

"""Markdown for PR comments: summary table, findings by severity, and text that cannot break out of its cell."""

from __future__ import annotations

import re

from auditor.outputs import get_renderer
from auditor.outputs.markdown import code, esc, render
from tests.outputs.conftest import check_golden
from tests.outputs.fixture import empty_report, fixture_report


def test_golden() -> None:
    check_golden("report.md", get_renderer("markdown")(fixture_report()))


def _cells(row: str) -> list[str]:
    """Split a GFM table row on unescaped pipes (what GitHub does)."""
    return re.split(r"(?<!\\)\|", row.strip())[1:-1]


def test_summary_and_groups_in_severity_order() -> None:
    text = render(fixture_report())
    assert "**❌ Failed:** 3 finding(s) at or above `high`." in text  # the unknown one fails closed
    assert "**❔ Unknown severity:** 1 finding(s) with no severity in any record count as high" in text
    assert "**⚠️ Incomplete:**" in text
    headings = re.findall(r"^### \S+ (\w+) \((\d+)\)$", text, flags=re.M)
    assert headings == [("Critical", "1"), ("High", "1"), ("Unknown", "1"), ("Medium", "1"), ("Low", "1"),
                        ("Info", "1")]
    assert "| ❔ unknown | 1 |" in text
    assert "severity: no severity in any record" in text and "base score 7.5 (high)" in text
    assert "PYSEC-2021-66" in text.split("Ignored by policy")[1]  # ignored: listed apart, not in the groups
    assert "`PYSEC-2021-66`" not in text.split("Ignored by policy")[0]


def test_every_table_row_keeps_its_column_count() -> None:
    text = render(fixture_report())
    for block in re.findall(r"((?:^\|.*\|$\n?)+)", text, flags=re.M):
        rows = block.strip().splitlines()
        widths = {len(_cells(r)) for r in rows}
        assert len(widths) == 1, rows


def test_hostile_text_is_inert() -> None:
    text = render(fixture_report())
    outside_code = re.sub(r"(`+).*?\1", "", text)  # code spans render literally; everything else must be escaped
    assert "<script" not in outside_code and "<img" not in outside_code and "<b>" not in outside_code
    assert "&lt;script&gt;" in text
    assert esc("a|b") == "a\\|b" and esc("`x`") == "\\`x\\`" and esc("line\nbreak") == "line break"
    assert esc("@everyone hi") != "@everyone hi"  # no mentions from strangers' text
    assert code("a`b") == "``a`b``" and "|" not in code("x|y") and code("") == ""


def test_clean_report() -> None:
    text = render(empty_report())
    assert "Incomplete" not in text and "###" not in text
    assert "| 🟥 critical | 0 |" in text

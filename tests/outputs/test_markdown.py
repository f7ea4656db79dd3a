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


def test_roll_up_then_collapsed_details() -> None:
    text = render(fixture_report())
    assert "**❌ FAILED** (exit 1): 3 finding(s) at or above high." in text  # the unknown one fails closed
    assert "**Findings:** 🟥 1 critical · 🟧 1 high · ❔ 1 unknown · 🟨 1 medium · 🟦 1 low · ⬜ 1 info" in text
    assert "**❔ Unknown severity:** 1 finding(s) with no severity in any record count as high" in text
    assert "**⚠️ Incomplete:** 2 item(s) not checked" in text
    headings = re.findall(r"^### (.*)$", text, flags=re.M)
    assert headings == ["Vulnerable packages (2, 2 advisories)", "Other findings (4 in 3 kinds)"]
    summaries = re.findall(r"<details><summary>(.*?)</summary>", text)
    assert summaries[:3] == ["🟥 typosquat: 1 (worst critical)", "🟨 unsafe-model: 2 (worst medium)",
                             "⬜ unpinned-revision: 1 (worst info)"]
    assert "Every advisory by package (2)" in summaries and "Ignored by policy (1)" in summaries
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
    assert "Incomplete" not in text and "###" not in text and "<details>" not in text
    assert "**Findings:** none" in text and "**Complete:**" in text

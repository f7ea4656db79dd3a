"""HTML risk report: self-contained, escaped everywhere, with the summary, table, tree, models and skipped items."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from auditor.domain import Finding, Package, Severity
from auditor.outputs import get_renderer
from auditor.outputs.html import render
from tests.outputs.conftest import check_golden
from tests.outputs.fixture import ATTR, CLOSE, SCRIPT, empty_report, fixture_report


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_bodies: list[str] = []
        self._in_script = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_bodies.append(data)
        else:
            self.text.append(data)


def _parse(text: str) -> _Collector:
    parser = _Collector()
    parser.feed(text)
    parser.close()
    return parser


def test_golden() -> None:
    check_golden("report.html", get_renderer("html")(fixture_report()))


def test_hostile_strings_are_escaped_everywhere() -> None:
    page = render(fixture_report())
    for payload in (SCRIPT, ATTR, CLOSE, "<img", "<b>bold</b>"):
        assert payload not in page
    parsed = _parse(page)
    assert [t for t, _ in parsed.tags if t == "script"] == ["script"]  # only our own inline script
    assert not any(t in ("img", "iframe", "object", "embed", "link") for t, _ in parsed.tags)
    for _tag, attrs in parsed.tags:
        assert not any(name.startswith("on") for name in attrs), attrs
    # the hostile text is still there, as text, for the reader
    text = "".join(parsed.text)
    assert SCRIPT in text and "weights" + ATTR + ".bin" in text
    assert "__pwned" not in "".join(parsed.script_bodies)  # the script carries no data


def test_self_contained_and_offline() -> None:
    """Nothing is loaded from elsewhere; the only outbound links are advisory references a reader may follow."""
    parsed = _parse(render(fixture_report()))
    for tag, attrs in parsed.tags:
        assert attrs.get("src") is None, (tag, attrs)
        href = attrs.get("href")
        if href is not None and not href.startswith("#"):
            assert tag == "a" and href.startswith("https://") and attrs.get("rel") == "noopener noreferrer"
    csp = [a for t, a in parsed.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in (csp[0]["content"] or "")


def test_findings_table_tree_models_and_skipped() -> None:
    report = fixture_report()
    parsed = _parse(render(report))
    rows = [a for t, a in parsed.tags if t == "tr" and "finding" in (a.get("class") or "")]
    assert len(rows) == len(report.findings) == 7
    assert sum(1 for a in rows if a["data-ignored"] == "1") == 1
    assert {a["data-severity"] for a in rows} == {s.value for s in Severity}
    assert sum(1 for t, a in parsed.tags if t == "tr" and a.get("class") == "model") == 3
    assert sum(1 for t, a in parsed.tags if t == "tr" and a.get("class") == "skipped") == 2
    text = " ".join(parsed.text)
    assert "demo-project 1.2.0 → flask 2.0.1 → werkzeug 2.0.0" in text  # dependency path
    assert "upgrade werkzeug to 2.2.3" in text and '"matched_by": [' in text  # fix and evidence
    assert "INCOMPLETE" in text and "stale" in text and "(2026-11-20, 3 day(s) before this run)" in text
    nodes = [a for t, a in parsed.tags if t == "g" and a.get("data-node")]
    full = {a["data-node"] for a in nodes}
    assert len(full) == 1 + len(report.packages) + len(report.models)  # the whole graph: root, packages, models


def test_complete_clean_report_says_so() -> None:
    page = render(empty_report())
    assert 'data-complete="true"' in page and 'id="no-findings"' in page
    assert 'id="graph-nothing-flagged"' in page and 'data-exit-code="0"' in page


def _matrix(page: str) -> dict[str, list[str]]:
    """The risk overview table: severity -> its cells (active, upgrade clears, no release fixes, other kinds)."""
    table = page.split('id="risk-matrix"', 1)[1].split("</table>", 1)[0]
    rows: dict[str, list[str]] = {}
    for row in re.findall(r'<tr data-severity="(\w+)">(.*?)</tr>', table):
        rows[row[0]] = re.findall(r'<td class="num">([^<]*)</td>', row[1])
    return rows


def test_overview_counts_by_severity_and_fixability_instead_of_a_score() -> None:
    """Two projects with the same number of findings read differently: what an upgrade clears, what no release
    does, what is not a version issue. No capped score that every real project saturates."""
    page = render(fixture_report())
    assert "risk-score" not in page and "risk score" not in page.lower()
    matrix = _matrix(page)
    assert matrix["high"] == ["1", "1", "", ""]  # werkzeug: an upgrade clears it
    assert matrix["unknown"] == ["1", "", "1", ""]  # torch: no release fixes it
    assert matrix["critical"] == ["1", "", "", "1"]  # the typosquat is not a version issue
    assert matrix["medium"] == ["1", "", "", "1"]  # the ignored jinja2 advisory is not counted
    assert 'id="card-vulnerable"><div class="n">2<' in page and 'id="card-fixable"><div class="n">1<' in page
    assert 'id="card-unfixed"><div class="n">1<' in page


def test_unknown_severity_is_its_own_level() -> None:
    report = empty_report()
    report.findings.append(Finding(kind="vulnerability", id="X-1", severity=Severity.UNKNOWN, message="m"))
    report.unknown_severity = Severity.LOW  # policy: unknown-severity = "low"
    parsed = _parse(render(report))
    levels = {a["data-severity"] for t, a in parsed.tags if t == "tr" and "data-severity" in a
              and "finding" not in (a.get("class") or "")}
    assert levels == {s.value for s in Severity}  # the overview counts every level, unknown included
    (row,) = [a for t, a in parsed.tags if t == "tr" and "finding" in (a.get("class") or "")]
    assert row["data-severity"] == "unknown"
    page = render(report)
    assert '<td data-sort="3"><span class="sev sev-unknown">unknown</span></td>' in page
    assert "count as low for the gate" in " ".join(parsed.text)


def test_advisory_text_references_and_severity_source() -> None:
    page = render(fixture_report())
    parsed = _parse(page)
    text = "".join(parsed.text)
    pysec = next(f for f in fixture_report().findings if f.id == "PYSEC-2023-62")
    assert pysec.details is not None
    assert text.count(pysec.details) == 1  # the full text, whole and once
    assert text.count(pysec.summary or "?") == 1 and page.count("full advisory text") == 2
    details = [t for t, _ in parsed.tags if t == "details"]
    assert details  # collapsible
    links = [a for t, a in parsed.tags if t == "a" and not (a.get("href") or "#").startswith("#")]
    assert [a["href"] for a in links] == ["https://example.invalid/advisories/PYSEC-2023-62",
                                          "https://example.invalid/pytorch/advisories/1"]
    assert all(a["rel"] == "noopener noreferrer" for a in links)
    # a reference that is not a plain http(s) URL (quotes, javascript:) stays text, escaped
    assert "javascript:alert(1)" in text and 'href="javascript' not in page
    assert "severity: CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H: base score 7.5 (high)" in text
    assert "severity: no severity in any record" in text
    assert "1 finding(s) with no severity in any record count as high for the gate (fail closed)" in text


def test_every_package_of_a_large_project_is_in_the_graph() -> None:
    report = empty_report()
    for i in range(400):
        report.add_package(Package(name=f"pkg{i}", version="1.0", direct=True))
    page = render(report)
    assert page.count('class="node k-package"') == 400


def test_invisible_and_bidi_characters_are_removed() -> None:
    report = fixture_report()
    report.add_package(Package(name="safe\u202egnp.exe", version="1.0\x07", direct=True))
    page = render(report)
    assert "\u202e" not in page and "\x07" not in page and "safegnp-exe 1.0" in page

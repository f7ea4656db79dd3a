"""The HTML report in a real browser (headless Chromium): hostile strings stay inert, the table and its
query-string filters work, and a screenshot is saved for a human look.

Runs with ``pytest -m browser``; skips cleanly when no ``chromium`` binary is installed (Debian: ``chromium``).
Set ``MLAUDIT_SCREENSHOT_DIR`` to keep the screenshots.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from auditor.domain import Finding, Package, Severity
from auditor.outputs.html import render
from tests.outputs.fixture import fixture_report

pytestmark = pytest.mark.browser

# Payloads that would leave a visible trace in the DOM if any of them ever ran.
DOM_SCRIPT = "<script>document.documentElement.setAttribute('data-pwned','script')</script>"
DOM_ATTR = "\" onmouseover=\"x\"><img src=x onerror=\"document.documentElement.setAttribute('data-pwned','img')\">"
DOM_CLOSE = "</script><script>document.documentElement.setAttribute('data-pwned','close')</script><!--"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("headless Chromium is not installed (apt-get install chromium)")


def _run(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)


@pytest.fixture
def page(tmp_path: Path) -> Path:
    report = fixture_report()
    report.add_package(Package(name="evil", version="1.0", direct=True,
                               metadata={"summary": DOM_SCRIPT + DOM_ATTR + DOM_CLOSE}))
    report.findings.append(Finding(kind="typosquat", id="MLA-TYPOSQUAT", severity=Severity.CRITICAL,
                                   message=f"evil {DOM_SCRIPT} {DOM_CLOSE}", package=("evil", "1.0"),
                                   fix=DOM_ATTR, evidence={"x": DOM_ATTR}, summary=DOM_CLOSE))
    report.models[0].card["description"] = DOM_SCRIPT
    report.skipped[0].reason = DOM_ATTR
    path = tmp_path / f"report{DOM_ATTR[:2]}.html"
    path.write_text(render(report), encoding="utf-8")
    return path


def _dom(page: Path, query: str, tmp_path: Path) -> str:
    result = _run(_chromium(), tmp_path / "profile", "--dump-dom", page.as_uri() + query)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "<table" in result.stdout
    return result.stdout


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(dom: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(dom)
    parser.close()
    return parser.tags


def _finding_rows(dom: str) -> list[str]:
    return re.findall(r"<tr class=\"finding[^>]*>", dom)


def test_hostile_strings_stay_inert_and_rows_are_all_there(page: Path, tmp_path: Path) -> None:
    dom = _dom(page, "", tmp_path)
    html_tag = re.search(r"<html[^>]*>", dom)
    assert html_tag is not None and "data-pwned" not in html_tag.group(0)  # no payload ran
    tags = _tags(dom)
    assert not [t for t, _ in tags if t in ("img", "iframe", "object", "embed")]
    assert not [a for _, a in tags if any(name.startswith("on") for name in a)]
    assert [t for t, _ in tags if t == "script"] == ["script"]  # only the report's own script
    rows = _finding_rows(dom)
    assert len(rows) == 8
    hidden = [r for r in rows if " hidden" in r]
    assert len(hidden) == 1 and 'data-ignored="1"' in hidden[0]  # ignored findings are hidden by default
    assert 'data-visible="7"' in dom
    # advisory references are the page's only outbound links, each without opener or referrer; the full text
    # sits in a closed <details>
    links = [a for t, a in tags if t == "a" and not (a.get("href") or "#").startswith("#")]
    assert links and all(a.get("rel") == "noopener noreferrer" and (a.get("href") or "").startswith("https://")
                         for a in links)
    assert [a for t, a in tags if t == "details" and a.get("class") == "advisory-text" and "open" not in a]


def test_query_string_filters_apply_on_load(page: Path, tmp_path: Path) -> None:
    dom = _dom(page, "?severity=critical", tmp_path)
    visible = [r for r in _finding_rows(dom) if " hidden" not in r]
    assert len(visible) == 2 and all('data-severity="critical"' in r for r in visible)
    dom = _dom(page, "?q=werkzeug", tmp_path)
    visible = [r for r in _finding_rows(dom) if " hidden" not in r]
    assert len(visible) == 1 and 'data-kind="vulnerability"' in visible[0]
    dom = _dom(page, "?kind=vulnerability&ignored=1", tmp_path)
    assert 'data-visible="3"' in dom
    dom = _dom(page, "?severity=unknown", tmp_path)
    visible = [r for r in _finding_rows(dom) if " hidden" not in r]
    assert len(visible) == 1 and 'data-severity="unknown"' in visible[0]


def test_screenshot(page: Path, tmp_path: Path) -> None:
    out_dir = Path(os.environ.get("MLAUDIT_SCREENSHOT_DIR") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    shot = out_dir / "mlaudit-report.png"
    result = _run(_chromium(), tmp_path / "profile", "--window-size=1300,2000", f"--screenshot={shot}",
                  page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

"""Property tests for hostile text and the parsers the owners' fuzz suites did not reach (``pytest -m fuzz``).

- ``textsafe.clean``: whatever the input, the output has no escape/control/bidi character, respects the limit and
  is stable when cleaned again.
- Every output format, fed reports whose strangers' fields (names, versions, messages, aliases, references,
  skipped lines, model ids, card fields) are arbitrary text: JSON/SARIF parse and keep the text, HTML gains no
  element, handler or ``javascript:`` link from the data, terminal and Markdown carry no control sequence.
- The model scanner on mutated NumPy headers and on zip archives (PyTorch layout) with arbitrary members: a
  result, never an exception.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from auditor.domain import Edge, Finding, Location, ModelRef, Package, Report, Severity, Skipped, package_node
from auditor.evidence import Details
from auditor.ledger import ItemKind
from auditor.outputs.html import render as render_html
from auditor.outputs.json_out import render as render_json
from auditor.outputs.markdown import render as render_markdown
from auditor.outputs.sarif import render as render_sarif
from auditor.outputs.terminal import print_report
from auditor.textsafe import clean
from tests.hostile.test_hostile_e2e import assert_html_inert, assert_markdown_inert

EXAMPLES = int(os.environ.get("MLAUDIT_FUZZ_EXAMPLES", "10000"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
# Renders are ~100x slower than a parser call: a tenth of the examples still covers the grammar of payloads.
RENDER = settings(max_examples=max(20, EXAMPLES // 10), deadline=None, suppress_health_check=list(HealthCheck))
pytestmark = pytest.mark.fuzz

FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
PIECES = ["<script>XSSMARK()</script>", "\"'><img src=x onerror=XSSMARK()>", "<svg/onload=XSSMARK()>", "`", "|",
          "\x1b[2J", "\x1b]0;t\x07", "\x1b]8;;http://x/\x1b\\", "\x9b", "\u202e", "../", "&amp;", "]]>", "<!--",
          "{{ x }}", "{%", "*_", "\n", "\r", "\t", "javascript:XSSMARK()", "\\", "\x00"]
hostile_text = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=6).map("".join)


@FUZZ
@given(st.text(), st.integers(min_value=2, max_value=300))
def test_clean_strips_every_control_sequence(text: str, limit: int) -> None:
    out = clean(text, limit)
    assert not FORBIDDEN.search(out), repr(out)
    assert len(out) <= limit
    assert clean(out, limit) == out


@FUZZ
@given(st.lists(st.sampled_from(PIECES), max_size=12).map("".join))
def test_clean_on_escape_soup(text: str) -> None:
    out = clean(text)
    assert "\x1b" not in out and "\x9b" not in out and not FORBIDDEN.search(out)


def hostile_report(name: str, version: str, message: str, alias: str, ref: str, line: str, repo: str) -> Report:
    report = Report(inputs=["requirements.txt"], root_name=name or "root", generated_at="2030-01-01T00:00:00+00:00")
    pkg = report.add_package(Package(name=f"p{name}", version=version or "1", direct=True,
                                     metadata={"summary": message, "home_page": ref}))
    report.edges.append(Edge("root", package_node(pkg.name), requirement=line, origin="resolver"))
    report.findings.append(Finding("vulnerability", f"PYSEC-{alias}", Severity.HIGH, message,
                                   package=(pkg.name, pkg.version), location=Location("requirements.txt", 1),
                                   aliases=[alias], references=[ref, f"javascript:{alias}"], fix=message,
                                   summary=message, evidence=Details.of({"text": message})))
    report.findings.append(Finding("unsafe-model", f"rule-{alias}", Severity.CRITICAL, message, path=f"{line}!{name}",
                                   evidence=Details.of({"items": [message]})))
    report.models.append(ModelRef(repo_id=repo or "a/b", revision=version, card={"license": message}))
    report.ledger.extend([Skipped(reason=message, file="requirements.txt", line=2, requirement=line,
                                  not_checked=[name], kind=ItemKind.REQUIREMENT)])
    report.warnings.append(message)
    return report


@RENDER
@given(hostile_text, hostile_text, hostile_text, hostile_text, hostile_text, hostile_text, hostile_text)
def test_every_format_stays_well_formed(name: str, version: str, message: str, alias: str, ref: str, line: str,
                                        repo: str) -> None:
    report = hostile_report(name, version, message, alias, ref, line, repo)
    doc = json.loads(render_json(report))
    assert doc["findings"][0]["message"] == message  # machine output keeps the text verbatim
    sarif = json.loads(render_sarif(report))
    assert sarif["runs"][0]["results"]
    assert_html_inert(render_html(report))
    markdown = render_markdown(report)
    assert_markdown_inert(markdown)
    assert not FORBIDDEN.search(markdown.replace("\n", "")), repr(markdown[:300])
    buf = io.StringIO()
    print_report(report, Console(file=buf, highlight=False, soft_wrap=False, width=120))
    assert not FORBIDDEN.search(buf.getvalue().replace("\n", "")), repr(buf.getvalue()[:300])


# -- scanner: NumPy headers and zip archives ---------------------------------------------------------------------

def _scan(tmp: Path, name: str, data: bytes) -> list[Finding]:
    from auditor.scan import scan_file_detailed

    path = tmp / name
    path.write_bytes(data)
    return scan_file_detailed(path).findings


def npy(header: bytes, payload: bytes, version: bytes = b"\x01\x00") -> bytes:
    return b"\x93NUMPY" + version + struct.pack("<H", len(header)) + header + payload


HEADERS = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda d, f, s: f"{{'descr': {d!r}, 'fortran_order': {f}, 'shape': {s}, }}".encode(),
              st.sampled_from(["|O", "<f4", "|u1", "<U3", "O", "|V8", "", "x" * 40]),
              st.sampled_from(["False", "True", "0", "None", "'x'"]),
              st.sampled_from(["(1,)", "()", "(0,)", "(2, 3)", "(-1,)", "(10**12,)", "'a'", "(1,"])),
)


@FUZZ
@given(HEADERS, st.binary(max_size=256), st.sampled_from([b"\x01\x00", b"\x02\x00", b"\x03\x00", b"\x09\x09"]))
def test_numpy_header_mutations(tmp_path_factory: pytest.TempPathFactory, header: bytes, payload: bytes,
                                version: bytes) -> None:
    tmp = tmp_path_factory.mktemp("npy")
    findings = _scan(tmp, "a.npy", npy(header, payload, version))
    assert all(isinstance(f, Finding) for f in findings)
    npz = io.BytesIO()
    with zipfile.ZipFile(npz, "w") as zf:
        zf.writestr("x.npy", npy(header, payload, version))
    assert all(isinstance(f, Finding) for f in _scan(tmp, "a.npz", npz.getvalue()))


MEMBER_NAMES = st.sampled_from(["archive/data.pkl", "archive/version", "archive/data/0", "data.pkl", "../evil.pkl",
                                "/abs/data.pkl", "a/b/c/data.pkl", "archive/data.pkl", "x\x1b[2J.pkl", "",
                                "archive/.data/serialization_id", "model.safetensors", "config.json"])


@FUZZ
@given(st.lists(st.tuples(MEMBER_NAMES, st.binary(max_size=128)), max_size=6), st.integers(0, 400),
       st.sampled_from(["m.pt", "m.pth", "m.bin", "m.zip", "m.keras", "m.joblib"]))
def test_zip_archives_with_arbitrary_members(tmp_path_factory: pytest.TempPathFactory,
                                             members: list[tuple[str, bytes]], cut: int, name: str) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for member, data in members:
            zf.writestr(member or "empty", data)
    data = buf.getvalue()
    tmp = tmp_path_factory.mktemp("zip")
    for blob in (data, data[: max(0, len(data) - cut)]):
        findings = _scan(tmp, name, blob)
        assert all(isinstance(f, Finding) for f in findings)

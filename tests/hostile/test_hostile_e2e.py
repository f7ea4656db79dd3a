"""Hostile content end to end: strangers' text (package metadata, advisory records, requirement lines, file names)
goes through a real audit into every output format, which must stay well-formed and inert.

The project is built by code:
- wheels whose METADATA carries HTML/``<script>``/attribute breakers, ANSI and OSC terminal sequences, bidi
  overrides, ``javascript:`` links, path-traversal-looking names and huge fields, served by a ``LocalIndex``,
  downloaded over HTTP and installed (unpacked) into a site-packages directory, audited with ``--env``;
- an advisory database (``mlaudit db update --from``) whose records for those packages carry the same payloads in
  summaries, details, aliases and references;
- a requirements file whose unresolvable lines (editable VCS, direct URLs) carry them into ``skipped`` entries.

Then: JSON parses and keeps the text verbatim, SARIF and CycloneDX (JSON + XML) validate against their schemas,
HTML has no element, attribute or ``javascript:`` link that came from the data, and terminal/Markdown text has no
raw control or escape sequence.
"""

from __future__ import annotations

import io
import json
import re
import urllib.request
import xml.etree.ElementTree as ET
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from cyclonedx.validation.xml import XmlValidator

from auditor.advisories.db import ensure_embedded_db
from tests.faults.harness import run_cli
from tests.support.index import IndexFile, LocalIndex

MARK = "XSSMARK"
SCRIPT = f"<script>{MARK}(1)</script>"
ATTR = f"\"'><img src=x onerror={MARK}(2)>"
SVG = f"<svg/onload={MARK}(3)>"
ANSI = "\x1b[2J\x1b[1;31mFAKE CLEAN\x1b[0m"
OSC = "\x1b]0;pwned-title\x07\x1b]8;;https://evil.invalid/\x1b\\click\x1b]8;;\x1b\\"
C1 = "\x9b31m\x90dcs\x9c"
BIDI = "\u202egnp.exe\u202c"
TRAVERSAL = "../../../../etc/passwd"
HOSTILE = f"{SCRIPT} {ATTR} {SVG} {ANSI} {OSC} {C1} {BIDI} {TRAVERSAL}"
HUGE = "A" * 200_000

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "outputs" / "schemas"


def metadata(name: str, version: str, **extra: str) -> bytes:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"{key}: {value}" for key, value in extra.items()]
    return ("\n".join(lines) + "\n\n").encode()


def wheel(dist: str, version: str, meta: bytes) -> tuple[str, bytes]:
    info = f"{dist}-{version}.dist-info"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{dist}/__init__.py", "")
        zf.writestr(f"{info}/METADATA", meta)
        zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{info}/RECORD", "")
        zf.writestr(f"{info}/REQUESTED", "")
    return f"{dist}-{version}-py3-none-any.whl", buf.getvalue()


# (dist folder name, METADATA): names and versions are what the metadata says, however hostile.
PACKAGES = [
    ("hostile_summary", "1.0", metadata(
        "hostile-summary", "1.0", Summary=HOSTILE.replace("\n", " "), **{"Home-page": f"javascript:{MARK}(4)"},
        Author=ANSI + OSC, License=SCRIPT)),
    ("hostile_name", "2.0", metadata(f"evil{SCRIPT}{ANSI}", f"2.0{ATTR}", Summary=BIDI)),
    ("huge_fields", "3.0", metadata("huge-fields", "3.0", Summary=HUGE, Author=HUGE)),
    ("x" * 150, "4.0", metadata("long-" + "n" * 5000, "4.0")),
]


def osv(rid: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": rid, "modified": "2030-01-01T00:00:00Z",
            "affected": [{"package": {"name": name, "ecosystem": "PyPI"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}], **extra}


ADVISORIES = [
    osv("PYSEC-2030-11", "hostile-summary", summary=HOSTILE, details=HUGE + HOSTILE,
        aliases=[f"CVE-2030-0001{ATTR}", f"GHSA-`{SVG}`|x"],
        references=[{"type": "WEB", "url": f"javascript:{MARK}(5)"}, {"type": "ADVISORY", "url": f"{ATTR}"}],
        database_specific={"severity": "HIGH"}),
    osv("PYSEC-2030-12", "huge-fields", summary=HUGE, details=SCRIPT),
    osv("MAL-2030-13", "hostile-summary", summary=f"malicious {SCRIPT} {ANSI}", details=OSC),
]


@pytest.fixture(scope="module")
def hostile_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site-packages directory populated by downloading the hostile wheels from a LocalIndex and unpacking them."""
    root = tmp_path_factory.mktemp("hostile-env")
    site = root / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    index = LocalIndex()
    for dist, version, meta in PACKAGES:
        filename, data = wheel(dist, version, meta)
        index._add(IndexFile(dist.replace("_", "-"), filename, data, meta))
    with index.serve() as url:
        base = url.rsplit("/simple", 1)[0]
        for item in index.files:
            with urllib.request.urlopen(f"{base}/files/{item.filename}", timeout=10) as resp:  # noqa: S310
                body = resp.read()
            with zipfile.ZipFile(io.BytesIO(body)) as zf:
                zf.extractall(site)
    return root


@pytest.fixture
def hostile_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    embedded = ensure_embedded_db()
    cache = tmp_path / "cache"
    (cache / "advisories").mkdir(parents=True)
    (cache / "advisories" / embedded.name).write_bytes(embedded.read_bytes())
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(cache))
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as zf:
        for record in ADVISORIES:
            zf.writestr(f"{record['id']}.json", json.dumps(record))
    outcome = run_cli(["db", "update", "--from", str(export)])
    assert outcome.code == 0, outcome.err


def hostile_requirements(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "requirements.txt").write_text(
        "# This file was autogenerated by uv via the following command:\n"  # a lock: no resolver runs
        f"-e git+https://127.0.0.1/repo.git#egg=vcs{MARK}&subdirectory=%3Cscript%3E\n"
        f"direct @ https://127.0.0.1/{MARK}%22%3E%3Cimg%20src%3Dx%20onerror%3D{MARK}(6)%3E.tar.gz\n"
        f"hostile-summary==1.0  # {SCRIPT} {ATTR}\n",
        encoding="utf-8")
    return project


# -- output checks ---------------------------------------------------------------------------------------------

_FORBIDDEN_TERMINAL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def assert_terminal_safe(text: str, where: str) -> None:
    bad = sorted({f"U+{ord(c):04X}" for c in _FORBIDDEN_TERMINAL.findall(text)})
    assert not bad, f"{where}: raw control/bidi characters reach the terminal: {bad}"
    assert "pwned-title" not in text or "\x1b]" not in text


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text.append(data)


def assert_html_inert(text: str) -> None:
    parser = _Collector()
    parser.feed(text)
    for tag, attrs in parser.tags:
        assert tag not in ("img", "svg") or not any(MARK in (v or "") for _, v in attrs), (tag, attrs)
        for name, value in attrs:
            assert not (name.startswith("on") and MARK in (value or "")), f"event handler from data: {tag} {name}"
            if name in ("href", "src", "action", "formaction", "xlink:href"):
                assert not (value or "").strip().lower().startswith(("javascript:", "data:", "vbscript:")), \
                    f"dangerous link from data: <{tag} {name}={value!r}>"
    assert not any(MARK in s for s in parser.script_text), "data reached a <script> element"
    assert "\x1b" not in text


def strip_code_spans(text: str) -> str:
    """The text outside CommonMark code spans: left to right, a backslash escapes the next character, a run of
    n backticks opens a span closed by the next run of exactly n backticks (no escapes inside a span)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            out.append(text[i:i + 2])
            i += 2
            continue
        if ch == "`":
            j = i
            while j < len(text) and text[j] == "`":
                j += 1
            run = text[i:j]
            k = j
            while True:
                k = text.find(run, k)
                if k < 0:
                    break
                if (k + len(run) >= len(text) or text[k + len(run)] != "`") and text[k - 1] != "`":
                    break
                k += len(run)
            if k < 0:  # no closing run: the backticks are literal
                out.append(run)
                i = j
                continue
            i = k + len(run)
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def assert_markdown_inert(text: str) -> None:
    """Outside code spans (where CommonMark shows HTML as text) no tag from the data may appear."""
    prose = strip_code_spans(text).lower()
    for tag in ("<script", "<img", "<svg"):
        at = prose.find(tag)
        assert at < 0, f"raw {tag} in Markdown outside a code span: {prose[max(0, at - 200):at + 100]!r}"


def assert_json_preserves(doc: dict[str, Any]) -> None:
    """Machine output keeps strangers' text verbatim (escaped by JSON itself): nothing is silently altered."""
    blob = json.dumps(doc, ensure_ascii=False)
    assert SCRIPT in blob and ATTR in blob


def validate_sarif(text: str) -> None:
    schema = json.loads((SCHEMA_DIR / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema)
    errors = sorted(validator.iter_errors(json.loads(text)), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


FORMATS = ("json", "sarif", "cyclonedx-json", "cyclonedx-xml", "html", "markdown")


def render_all(argv: list[str], tmp_path: Path, formats: tuple[str, ...] = FORMATS) -> dict[str, str]:
    outputs: dict[str, str] = {}
    for fmt in formats:
        target = tmp_path / f"report.{fmt}"
        outcome = run_cli([*argv, "-f", fmt, "-o", str(target), "-q", "--fail-on", "critical"])
        assert outcome.code in (0, 1), f"{fmt}: exit {outcome.code}: {outcome.err[-1500:]}"
        assert_terminal_safe(outcome.err, f"{fmt} stderr")
        outputs[fmt] = target.read_text(encoding="utf-8")
    terminal = run_cli([*argv, "-q", "-v", "--fail-on", "critical"])  # -v: every finding's text, in full
    assert terminal.code in (0, 1), terminal.err[-1500:]
    outputs["terminal"] = terminal.out
    assert_terminal_safe(terminal.err, "terminal stderr")
    return outputs


def check_outputs(outputs: dict[str, str]) -> dict[str, Any]:
    doc = json.loads(outputs["json"])
    assert isinstance(doc, dict)
    validate_sarif(outputs["sarif"])
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(outputs["cyclonedx-json"]) is None
    if "cyclonedx-xml" in outputs:
        assert XmlValidator(SchemaVersion.V1_6).validate_str(outputs["cyclonedx-xml"]) is None
        ET.fromstring(outputs["cyclonedx-xml"])  # noqa: S314 - our own output
    assert_html_inert(outputs["html"])
    assert_terminal_safe(outputs["terminal"], "terminal report")
    assert outputs["terminal"].strip(), "the terminal report is empty"
    assert_terminal_safe(outputs["markdown"], "markdown report")
    assert_markdown_inert(outputs["markdown"])
    return doc


def test_hostile_installed_environment(hostile_env: Path, hostile_db: None, tmp_path: Path) -> None:
    outputs = render_all(["--env", str(hostile_env), "--offline"], tmp_path)
    doc = check_outputs(outputs)
    assert_json_preserves(doc)
    names = {p["name"] for p in doc["packages"]}
    assert {"hostile-summary", "huge-fields"} <= names
    assert any(MARK.lower() in n for n in names), "the hostile package name did not reach the report"
    ids = {f["id"] for f in doc["findings"]}
    assert {"PYSEC-2030-11", "PYSEC-2030-12", "MAL-2030-13"} <= ids, ids
    assert "PYSEC-2030-11" in outputs["terminal"] and "PYSEC-2030-11" in outputs["html"]
    assert "FAKE CLEAN" in outputs["terminal"] and MARK in outputs["html"]  # the payloads did arrive, inert
    # huge fields are carried, not allowed to blow the human formats up
    assert len(outputs["terminal"]) < 200_000 and len(outputs["html"]) < 3_000_000


def test_hostile_requirement_lines(hostile_db: None, tmp_path: Path) -> None:
    project = hostile_requirements(tmp_path)
    outputs = render_all([str(project), "--offline"], tmp_path)
    doc = check_outputs(outputs)
    skipped = json.dumps(doc["skipped"])
    assert MARK in skipped, f"the unresolvable lines are not reported as skipped: {skipped[:500]}"
    assert doc["complete"] is False


# -- model cards from the Hub, and scanned file names --------------------------------------------------------------

def hostile_hub_repos() -> list[Any]:
    from tests.models.fakehub import FakeRepo

    pickle_bytes = b"\x80\x02cos\nsystem\nq\x00X\x05\x00\x00\x00touchq\x01\x85q\x02Rq\x03."  # never loaded
    card = {"license": SCRIPT, "license_name": ANSI, "license_link": f"javascript:{MARK}(8)",
            "pipeline_tag": ATTR + OSC, "library_name": SVG, "tags": [BIDI, HUGE[:5000]], "language": [TRAVERSAL],
            "base_model": "acme-ai/base-clean", "datasets": ["acme-ai/data-clean"],
            "extra_gated_prompt": HOSTILE}
    return [
        FakeRepo("acme-ai/hostile-card", card=card, tags=[f"license:{SCRIPT}"],
                 files={"README.md": f"---\nlicense: other\n---\n{HOSTILE}".encode(),
                        f"{TRAVERSAL}.bin": pickle_bytes, f"weights{ANSI}{SCRIPT}.pkl": pickle_bytes,
                        "config.json": json.dumps({"auto_map": {"AutoModel": f"modeling_{MARK}.X{SCRIPT}"}}).encode()},
                 config={"auto_map": {"AutoModel": f"modeling.{SCRIPT}{ANSI}"}}),
        FakeRepo("acme-ai/base-clean", files={"model.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "},
                 card={"license": ATTR}),
        FakeRepo("acme-ai/data-clean", kind="dataset", files={"x.parquet": b"PAR1"}, card={"license": OSC}),
    ]


def hub_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, formats: tuple[str, ...]) -> dict[str, str]:
    pytest.importorskip("auditor.models.hub")
    from tests.models.fakehub import FakeHub
    from tests.support.httpserver import LoopbackServer

    project = tmp_path / "ml"
    project.mkdir()
    (project / "requirements.txt").write_text("hostile-summary==1.0  # via -r requirements.in\n")  # a lock
    (project / "train.py").write_text("from transformers import AutoModel\n"
                                      "m = AutoModel.from_pretrained('acme-ai/hostile-card', trust_remote_code=True)\n")
    with LoopbackServer() as srv:
        FakeHub(srv, hostile_hub_repos())
        monkeypatch.setenv("HF_ENDPOINT", srv.url)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
        monkeypatch.delenv("HF_TOKEN", raising=False)
        return render_all([str(project), "--timeout", "5"], tmp_path, formats)


def test_hostile_model_cards_from_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hostile_db: None) -> None:
    outputs = hub_outputs(tmp_path, monkeypatch, tuple(f for f in FORMATS if f != "cyclonedx-xml"))
    doc = check_outputs(outputs)
    models = {m["repo_id"]: m for m in doc["models"]}
    assert "acme-ai/hostile-card" in models, list(models)
    assert MARK in json.dumps(models["acme-ai/hostile-card"]), "the hostile card did not reach the report"
    assert MARK in outputs["cyclonedx-json"], "the hostile card did not reach the SBOM's model card"


def test_hostile_model_cards_cyclonedx_xml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hostile_db: None) -> None:
    outputs = hub_outputs(tmp_path, monkeypatch, ("json", "cyclonedx-xml"))
    assert XmlValidator(SchemaVersion.V1_6).validate_str(outputs["cyclonedx-xml"]) is None


def test_hostile_file_names_in_a_scan(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    payload = b"\x80\x02cposix\nsystem\nq\x00X\x05\x00\x00\x00touchq\x01\x85q\x02Rq\x03."  # never loaded
    names = [f"weights{ANSI}.pkl", f"{SCRIPT}.pkl", f"a{ATTR}.pkl", f"b{BIDI}.pkl", f"c{OSC}.pkl"]
    names = [n.replace("/", "\u2215") for n in names]  # a file name cannot hold "/": use the division slash
    for name in names:
        (folder / name).write_bytes(payload)
    with zipfile.ZipFile(folder / "bundle.zip", "w") as zf:
        zf.writestr(f"{TRAVERSAL}.pkl", payload)
        zf.writestr(f"../{SCRIPT}/{ANSI}.pkl", payload)
    outputs: dict[str, str] = {}
    for fmt in ("json", "sarif", "html", "markdown"):
        target = tmp_path / f"scan.{fmt}"
        outcome = run_cli(["scan", str(folder), "-f", fmt, "-o", str(target), "-q"])
        assert outcome.code == 1, f"{fmt}: exit {outcome.code}: {outcome.err[-800:]}"
        outputs[fmt] = target.read_text(encoding="utf-8")
    terminal = run_cli(["scan", str(folder), "-q"])
    assert terminal.code == 1, terminal.err
    doc = json.loads(outputs["json"])
    paths = json.dumps([f.get("path") for f in doc["findings"]], ensure_ascii=False)
    assert SCRIPT.replace("/", "\u2215") in paths and TRAVERSAL in paths, paths[:800]  # every file is reported, named verbatim in JSON
    validate_sarif(outputs["sarif"])
    assert_html_inert(outputs["html"])
    assert_markdown_inert(outputs["markdown"])
    assert_terminal_safe(outputs["markdown"], "scan markdown")
    assert_terminal_safe(terminal.out, "scan terminal")
    assert_terminal_safe(terminal.err, "scan stderr")
    assert not (tmp_path / "etc").exists() and not (tmp_path.parent / "etc").exists()

"""Facts about pins and locks must be true (issue 23 rows 9 and 14):

- a requirement without ``--hash`` is never "hashes-pinned: true, hashes-verified: match" -- not even when the
  resolver kept an sdist-only release in the graph through a stand-in whose files come from the index;
- one lock's alternative versions of a name (uv's conflicting extras: a CPU and a CUDA build) are alternatives, not
  "conflicting pins", and an advisory matching both builds of one release is one finding naming both;
- ``conflicting-pins`` calls "pinned" only what an input pinned, and names the profiles.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from auditor.tools import uv_binary
from tests.support.index import LocalIndex


def audit(*argv: str) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["-q", "--python-version", "3.11", *argv])
    text = out.getvalue()
    return code, json.loads(text) if text.strip().startswith("{") else {}, err.getvalue()


@pytest.fixture(autouse=True)
def _private(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(tmp_path / "cache"))


def sbom_properties(sbom: dict[str, Any], name: str) -> dict[str, str]:
    [component] = [c for c in sbom["components"] if c.get("name") == name]
    return {p["name"]: p["value"] for p in component.get("properties", [])}


@pytest.mark.parametrize("dynamic", [True, False])
def test_an_sdist_only_pin_without_hash_is_not_hash_pinned(tmp_path: Path, dynamic: bool) -> None:
    if uv_binary() is None:
        pytest.skip("uv binary not available")
    ix = LocalIndex()
    sdist = ix.add_sdist("fairscale", "0.4.13", ["six"], dynamic=dynamic, sentinel=tmp_path / "RAN")
    ix.add_wheel("six", "1.16.0")
    req = tmp_path / "requirements.txt"
    with ix.serve() as url:
        req.write_text("fairscale==0.4.13\nsix==1.16.0\n")
        code, report, err = audit(str(req), "--index-url", url, "--format", "json")
        props = {p["name"]: p["properties"] for p in report["packages"]}
        assert props["fairscale"].get("hashes-pinned") == "false", props["fairscale"]
        assert "hashes-verified" not in props["fairscale"]
        code, sbom, err = audit(str(req), "--index-url", url, "--format", "cyclonedx")
        fair = sbom_properties(sbom, "fairscale")
        assert fair.get("mlaudit:hashes-pinned") == "false" and "mlaudit:hashes-verified" not in fair
        req.write_text(f"fairscale==0.4.13 --hash=sha256:{sdist.sha256}\nsix==1.16.0\n")  # pinned for real
        code, report, err = audit(str(req), "--index-url", url, "--format", "json")
        props = {p["name"]: p["properties"] for p in report["packages"]}
        assert (props["fairscale"]["hashes-pinned"], props["fairscale"]["hashes-verified"]) == ("true", "match")
    assert not (tmp_path / "RAN").exists()


LOCK = '''version = 1
revision = 2
requires-python = ">=3.10"

[[package]]
name = "demo"
version = "0.1"
source = {{ virtual = "." }}

[package.optional-dependencies]
cpu = [
    {{ name = "{name}", version = "{public}", source = {{ registry = "http://127.0.0.1:9/simple" }} }},
]
gpu = [
    {{ name = "{name}", version = "{local}", source = {{ registry = "http://127.0.0.1:9/gpu/simple" }} }},
]

[[package]]
name = "{name}"
version = "{public}"
source = {{ registry = "http://127.0.0.1:9/simple" }}
wheels = [
    {{ url = "http://127.0.0.1:9/files/{name}-{public}-py3-none-any.whl", hash = "sha256:{h1}" }},
]

[[package]]
name = "{name}"
version = "{local}"
source = {{ registry = "http://127.0.0.1:9/gpu/simple" }}
wheels = [
    {{ url = "http://127.0.0.1:9/gpu/files/{name}-{local}-py3-none-any.whl", hash = "sha256:{h2}" }},
]
'''


@pytest.mark.parametrize(("name", "public", "local"), [("django", "1.11.29", "1.11.29+cu128"),
                                                       ("jinja2", "2.10", "2.10+cpu")])
def test_a_locks_build_variants_are_alternatives_with_one_finding_per_advisory(tmp_path: Path, name: str,
                                                                               public: str, local: str) -> None:
    lock = tmp_path / "uv.lock"
    lock.write_text(LOCK.format(name=name, public=public, local=local, h1="1" * 64, h2="2" * 64))
    code, report, err = audit(str(lock), "--offline", "--format", "json")
    versions = {p["version"]: p for p in report["packages"] if p["name"] == name}
    assert set(versions) == {public, local}  # both builds audited
    assert "mlaudit:locked-alternatives" in versions[public]["properties"]
    assert not [w for w in report["warnings"] if w.startswith("conflicting-pins")]
    vulns = [f for f in report["findings"] if f["kind"] == "vulnerability" and f["package"]["name"] == name]
    ids = [f["id"] for f in vulns]
    assert vulns and len(ids) == len(set(ids))  # one finding per advisory, not one per local label
    assert all(f["package"]["version"] == public and local in f["message"] for f in vulns)
    assert all(f["evidence"]["variants"] == [public, local] for f in vulns)


def test_conflicting_pins_says_pinned_only_for_pins_and_names_the_profiles(tmp_path: Path) -> None:
    if uv_binary() is None:
        pytest.skip("uv binary not available")
    ix = LocalIndex()
    ix.add_wheel("django", "1.11.29")
    ix.add_wheel("django", "2.2.24")
    project = tmp_path / "p"
    (project / "requirements").mkdir(parents=True)
    (project / "requirements" / "old.txt").write_text("django==1.11.29\n")
    (project / "requirements" / "new.txt").write_text("django>=2\n")
    with ix.serve() as url:
        code, report, err = audit(str(project), "--index-url", url, "--format", "json")
        [warning] = [w for w in report["warnings"] if w.startswith("conflicting-pins")]
        assert "1.11.29 in requirements/old.txt (pinned at" in warning
        assert "2.2.24 in requirements/new.txt (resolved)" in warning
        assert "is pinned or resolved differently" in warning
        (project / "requirements" / "old.txt").write_text("django<2\n")
        code, report, err = audit(str(project), "--index-url", url, "--format", "json")
        [warning] = [w for w in report["warnings"] if w.startswith("conflicting-pins")]
        assert "is resolved differently" in warning and "pinned at" not in warning


def test_a_finding_never_cites_a_file_that_does_not_hold_its_version(tmp_path: Path) -> None:
    """Corpus P1 (text-generation-inference): aiohttp 3.11.18, pinned only in requirements_cuda.txt, was cited at
    uv.lock (the line of datasets, shared by both profiles), a file that locks aiohttp 3.11.12."""
    (tmp_path / "uv.lock").write_text(
        'version = 1\nrevision = 2\nrequires-python = ">=3.10"\n\n[[package]]\nname = "demo"\nversion = "0.1"\n'
        'source = { virtual = "." }\ndependencies = [\n    { name = "datasets" },\n]\n\n[[package]]\n'
        'name = "datasets"\nversion = "3.0.0"\nsource = { registry = "http://127.0.0.1:9/simple" }\n'
        'dependencies = [\n    { name = "aiohttp" },\n]\n\n[[package]]\nname = "aiohttp"\nversion = "3.11.12"\n'
        'source = { registry = "http://127.0.0.1:9/simple" }\n')
    (tmp_path / "requirements_cuda.txt").write_text(
        "# This file was autogenerated by uv via the following command:\n#    uv pip compile requirements.in\n"
        "aiohttp==3.11.18\n    # via datasets\ndatasets==3.0.0\n    # via -r requirements.in\n")
    code, report, err = audit(str(tmp_path), "--offline", "--format", "json")
    cited = {(f["package"]["version"], Path(f["location"]["file"]).name) for f in report["findings"]
             if f["package"]["name"] == "aiohttp"}
    assert cited == {("3.11.12", "uv.lock"), ("3.11.18", "requirements_cuda.txt")}


def test_many_names_at_different_versions_are_summarised_not_listed_one_by_one(tmp_path: Path) -> None:
    """Corpus P3 (text-generation-inference: 84 conflicting-pins lines): the first ten are said, the rest in one."""
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "cuda.txt").write_text("".join(f"pkg{i:02d}==1.0\n" for i in range(14)))
    (tmp_path / "requirements" / "rocm.txt").write_text("".join(f"pkg{i:02d}==2.0\n" for i in range(14)))
    code, report, err = audit(str(tmp_path), "--offline", "--format", "json")
    warnings = [w for w in report["warnings"] if w.startswith("conflicting-pins")]
    assert len(warnings) == 11
    assert "pinned at requirements/cuda.txt:1" in warnings[0]
    assert warnings[-1].startswith("conflicting-pins: 4 more names") and "pkg13" in warnings[-1]


def test_a_transitive_pin_in_a_compiled_lock_is_cited_at_its_own_line(tmp_path: Path) -> None:
    """Corpus P2: in a ``# via`` lock every package has its own line, the one a user edits."""
    lock = tmp_path / "requirements.txt"
    lock.write_text("# This file was autogenerated by uv via the following command:\n#    uv pip compile r.in\n"
                    "flask==1.1.2\n    # via -r r.in\njinja2==2.10\n    # via flask\n")
    code, report, err = audit(str(lock), "--offline", "--format", "json")
    lines = {f["location"]["line"] for f in report["findings"] if f["package"]["name"] == "jinja2"}
    assert lines == {5}


def test_a_pin_the_resolver_rejects_is_audited_and_the_chosen_version_explained(tmp_path: Path) -> None:
    """The data engineer's demo: jinja2==2.10 beside flask 1.1.2 (which needs jinja2>=2.10.1) was skipped while
    jinja2 3.1.6 appeared with no word of why; 2.10 itself was never audited."""
    if uv_binary() is None:
        pytest.skip("uv binary not available")
    ix = LocalIndex()
    ix.add_wheel("flask", "1.1.2", ["Jinja2>=2.10.1"])
    ix.add_wheel("jinja2", "2.10")
    ix.add_wheel("jinja2", "3.1.6")
    req = tmp_path / "requirements.txt"
    req.write_text("flask==1.1.2\njinja2==2.10\n")
    with ix.serve() as url:
        code, report, err = audit(str(req), "--index-url", url, "--format", "json")
    versions = {p["version"]: p for p in report["packages"] if p["name"] == "jinja2"}
    assert set(versions) == {"2.10", "3.1.6"}
    assert "mlaudit:rejected-pin" in versions["2.10"]["properties"]
    [skip] = [s for s in report["skipped"] if s.get("line") == 2]
    assert "jinja2>=2.10.1 is required" in skip["reason"] and "holds jinja2 3.1.6 instead" in skip["reason"]
    pinned = [f for f in report["findings"] if f["package"] == {"name": "jinja2", "version": "2.10"}]
    assert pinned and all(f["location"]["line"] == 2 for f in pinned)
    assert not [w for w in report["warnings"] if w.startswith("conflicting-pins")]

"""End to end through ``auditor.cli.main``: the demo offline, a project against the fake Hub, Hub failures."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from auditor.cli import main
from tests.models.fakehub import FakeHub, FakeRepo, commit_of
from tests.support.httpserver import closed_port_url

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"

# GLOBAL posix system, the argument, TUPLE1, REDUCE, STOP: would create the sentinel if anything unpickled it.
def _evil_pickle(sentinel: Path) -> bytes:
    command = f"touch {sentinel}".encode()
    return (b"\x80\x02cposix\nsystem\nX" + len(command).to_bytes(4, "little") + command + b"\x85R.")


def _run(args: list[str], out: Path) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main([*args, "--format", "json", "-o", str(out), "-q"])
    return code, json.loads(out.read_text()) if out.exists() else {}


def test_demo_offline(tmp_path: Path) -> None:
    code, report = _run(["--offline", str(DEMO)], tmp_path / "r.json")
    assert code == 1
    by_id = {(f["id"], (f.get("model") or {}).get("repo_id")): f for f in report["findings"]}
    remote = by_id[("MLA-MODEL-REMOTE-CODE", "facebo0k/opt-350m")]
    assert remote["severity"] == "high" and remote["location"]["line"] == 9
    assert remote["location"]["file"].endswith("train.py")
    assert ("MLA-HF-ORG-LOOKALIKE", "facebo0k/opt-350m") in by_id  # the typosquat check covers model orgs
    assert ("MLA-MODEL-UNPINNED", "stanfordnlp/imdb") in by_id
    models = {m["repo_id"]: m for m in report["models"]}
    assert models["stanfordnlp/imdb"]["kind"] == "dataset" and models["stanfordnlp/imdb"]["revision"] == "main"
    assert report["complete"] is False  # neither reference is in the local cache: said, not hidden
    assert {s["requirement"] for s in report["skipped"]} >= {"facebo0k/opt-350m", "stanfordnlp/imdb@main"}
    assert {(e["parent"], e["child"]) for e in report["edges"]} >= {("root", "hf-model:facebo0k/opt-350m")}


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    sentinel = tmp_path / "EXECUTED"
    root = tmp_path / "proj"
    root.mkdir()
    (root / "requirements.txt").write_text("")
    (root / "train.py").write_text(textwrap.dedent(f"""
        from pathlib import Path
        from transformers import AutoModel
        Path({str(sentinel)!r}).write_text("the audit ran project code")
        model = AutoModel.from_pretrained("acme-ai/evil", trust_remote_code=True)
    """))
    return root, sentinel


def test_project_against_the_fake_hub_with_fetch(project: tuple[Path, Path], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    root, sentinel = project
    evil = _evil_pickle(sentinel)
    repos = [FakeRepo("acme-ai/evil", files={"pytorch_model.bin": evil, "modeling_evil.py": b"import os\n"},
                      card={"license": "mit", "base_model": "acme-ai/parent"}),
             FakeRepo("acme-ai/parent", files={"model.safetensors": b"st"}, card={"license": "apache-2.0"})]
    from tests.support.httpserver import LoopbackServer

    with LoopbackServer() as server:
        FakeHub(server, repos)
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
        code, report = _run([str(root), "--fetch-models"], tmp_path / "r.json")
    assert code == 1
    models = {m["repo_id"]: m for m in report["models"]}
    assert models["acme-ai/evil"]["resolved_revision"] == commit_of("acme-ai/evil")
    assert models["acme-ai/parent"]["via"] == "acme-ai/evil"
    edges = {(e["parent"], e["child"], e["origin"]) for e in report["edges"]}
    assert ("hf-model:acme-ai/evil", "hf-model:acme-ai/parent", "hub") in edges
    ids = {f["id"] for f in report["findings"]}
    assert {"MLA-MODEL-REMOTE-CODE", "MLA-MODEL-PICKLE-ONLY", "MLA-MODEL-UNPINNED"} <= ids
    scanned = [f for f in report["findings"] if f.get("check") == "modelscan"]
    assert scanned and scanned[0]["severity"] == "critical"
    assert (scanned[0].get("model") or {}).get("repo_id") == "acme-ai/evil"
    assert not sentinel.exists()  # neither train.py nor the pickle was executed


def test_hub_unreachable_exits_3_naming_the_host(project: tuple[Path, Path], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    root, sentinel = project
    url = closed_port_url()
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    code = main([str(root), "--format", "json", "-q", "--timeout", "2"])
    assert code == 3
    err = capsys.readouterr().err
    assert "Hugging Face Hub" in err and url.split("//", 1)[1] in err
    assert not sentinel.exists()

"""Issue 23, corpus class S1: files that stand in for absent content (Git LFS pointers, git-annex pointers and
links, DVC outputs never pulled) are not corrupt model files. They are recognised by content, not scanned, and
listed with the command that fetches the content: skipped (the report is incomplete) when the user asked
``mlaudit scan`` for them, excluded (listed, not a gap) when a project audit found them in its checkout.

Every pointer here is written by the test from the Git LFS / git-annex specifications, never copied."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.domain import Report
from auditor.net import HttpClient, NetConfig
from auditor.options import AuditContext, AuditOptions
from auditor.scan import scan_file_detailed, scan_paths
from auditor.scan.placeholders import annex_pointer, lfs_pointer
from tests.scan import craft


def lfs(content: bytes = b"weights", *, eol: bytes = b"\n", version: str = "https://git-lfs.github.com/spec/v1",
        extra: bytes = b"") -> bytes:
    """A pointer as ``git lfs`` writes it: version first, other keys sorted, LF line ends."""
    oid = hashlib.sha256(content).hexdigest()
    lines = [f"version {version}".encode(), *([extra] if extra else []), f"oid sha256:{oid}".encode(),
             f"size {len(content) * 1000}".encode()]
    return eol.join(lines) + eol


def _project_ctx(project: Path) -> AuditContext:
    options = AuditOptions(paths=[str(project)], offline=True, project_dir=str(project), scan_models=True)
    return AuditContext(options=options, report=Report(), http=HttpClient(NetConfig()))


@pytest.mark.parametrize("name", ["model.safetensors", "pytorch_model.bin", "policy.pt", "llama.gguf",
                                  "model.onnx", "clf.pkl", "emb.npy", "weights.h5", "m.ckpt", "model.nemo"])
@pytest.mark.parametrize("pointer", [lfs(), lfs(eol=b"\r\n"), lfs(version="https://hawser.github.com/spec/v1"),
                                     lfs(extra=b"ext-0-foo sha256:" + b"a" * 64)],
                         ids=["lf", "crlf", "legacy-version", "extension"])
def test_named_lfs_pointer_is_a_gap_not_a_corrupt_model(tmp_path: Path, name: str, pointer: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(pointer)
    result = scan_paths([path])
    assert result.findings == []  # before: "invalid safetensors header ... loaders may crash" (high), or unknown format
    assert [s.reason for s in result.skipped] == [
        "Git LFS pointer: content not present (run `git lfs pull` to scan it)"]
    assert result.skipped[0].file == str(path) and result.excluded == [] and result.files_scanned == 0


def test_scan_command_reports_the_pointer_as_incomplete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "model.safetensors").write_bytes(lfs())
    assert main(["scan", str(tmp_path), "--format", "json", "--require-complete"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert report["complete"] is False and report["findings"] == []
    assert "git lfs pull" in report["skipped"][0]["reason"]


def test_project_audit_lists_pointers_as_excluded_and_stays_complete(tmp_path: Path) -> None:
    from auditor.checks.modelfiles import CHECK as MODELSCAN
    from auditor.checks.signing import CHECK as SIGNING

    project = tmp_path / "proj"
    artifacts = project / "artifacts" / "policy"
    artifacts.mkdir(parents=True)
    (artifacts / "model.safetensors").write_bytes(lfs(b"a"))
    (artifacts / "optimizer.pt").write_bytes(lfs(b"b"))
    (artifacts / "config.json").write_text("{}")
    ctx = _project_ctx(project)
    findings = list(MODELSCAN.run(ctx)) + list(SIGNING.run(ctx))
    ctx.report.ledger.settle()
    assert findings == []  # no "corrupt" model, and nothing to sign: the content is not in the checkout
    assert ctx.report.complete
    assert sorted((i.file, i.reason) for i in ctx.report.excluded) == [
        (str(artifacts / name), "Git LFS pointer: content not present (run `git lfs pull` to scan it)")
        for name in ("model.safetensors", "optimizer.pt")]


@pytest.mark.parametrize("data", [
    lfs()[:-1] + b"\nsize 12\n",  # a key twice
    lfs().replace(b"oid sha256:", b"oid sha1:"),
    lfs().replace(b"sha256:" + b"", b"sha256:zz", 1),  # not hex
    lfs() + b"note {{ cycler.__init__.__globals__.os.popen('id') }}\n",  # a value a template engine would run
    lfs() + b"#" * 1024,  # pointers are smaller than 1024 bytes
    b"version 1\noid sha256:" + b"a" * 64 + b"\nsize 3\n",  # not the spec's version
], ids=["duplicate-key", "other-hash", "not-hex", "template-value", "too-long", "other-version"])
def test_near_pointers_are_scanned_as_what_they_claim(tmp_path: Path, data: bytes) -> None:
    assert lfs_pointer(data) is None
    path = tmp_path / "model.safetensors"
    path.write_bytes(data)
    result = scan_paths([path])
    assert result.files_scanned == 1 and not any("LFS" in s.reason for s in result.skipped)
    assert any(f.id == "MLA-SAFETENSORS-INVALID" for f in result.findings)


def test_pointer_named_like_a_config_is_not_a_model_skip(tmp_path: Path) -> None:
    """A pointer is recognised whatever its name (a pointer for a tokenizer or a zip is no content either), and a
    real model that happens to be small is scanned."""
    (tmp_path / "archive.zip").write_bytes(lfs())
    real = tmp_path / "tiny.pkl"
    real.write_bytes(craft.unknown_call())
    result = scan_paths([tmp_path])
    assert [s.file for s in result.skipped] == [str(tmp_path / "archive.zip")]
    assert [f.id for f in result.findings] == ["MLA-PICKLE-UNKNOWN-GLOBAL"]


def test_git_annex_pointer_file_and_link(tmp_path: Path) -> None:
    key = "SHA256E-s1048576--" + "c" * 64 + ".safetensors"
    assert annex_pointer(f"/annex/objects/{key}\n".encode()) is not None
    assert annex_pointer(b"/annex/objects/not a key\n") is None
    unlocked = tmp_path / "model.safetensors"
    unlocked.write_bytes(f"/annex/objects/{key}\n".encode())
    result = scan_paths([unlocked])
    assert result.findings == [] and "git annex get" in result.skipped[0].reason
    locked = tmp_path / "locked.bin"
    os.symlink(f"../.git/annex/objects/Xx/Yy/{key}/{key}", locked)  # the object is absent: a dangling link
    collector = scan_file_detailed(locked)
    assert collector.placeholder is not None and collector.placeholder.size == 1048576
    assert collector.findings == [] and collector.skipped == []
    other = tmp_path / "dangling.bin"
    os.symlink("nowhere/else.bin", other)  # a dangling link that is no annex object: not readable, said so
    assert scan_file_detailed(other).skipped


def test_dvc_outputs_not_pulled_are_listed(tmp_path: Path) -> None:
    from auditor.checks.modelfiles import CHECK as MODELSCAN

    project = tmp_path / "proj"
    project.mkdir()
    (project / "model.pt.dvc").write_text("outs:\n- md5: " + "d" * 32 + "\n  size: 4096\n  path: model.pt\n")
    (project / "checkpoints.dvc").write_text("outs:\n- md5: " + "e" * 32 + ".dir\n  nfiles: 3\n  path: checkpoints\n")
    (project / "data.dvc").write_text("outs:\n- md5: " + "f" * 32 + ".dir\n  path: data\n")  # a dataset: no model
    (project / "escape.dvc").write_text("outs:\n- path: ../elsewhere/model.pt\n")  # outside this tree: not ours
    (project / "broken.dvc").write_text("outs: [unclosed\n")
    (project / "present.pt.dvc").write_text("outs:\n- path: present.pt\n")
    (project / "present.pt").write_bytes(craft.unknown_call())  # pulled: scanned as usual
    ctx = _project_ctx(project)
    findings = list(MODELSCAN.run(ctx))
    ctx.report.ledger.settle()
    assert ctx.report.complete
    assert sorted((Path(i.file or "").name, i.reason) for i in ctx.report.excluded) == [
        ("checkpoints", "DVC-tracked: content not present (run `dvc pull` to scan it); tracked by checkpoints.dvc"),
        ("model.pt", "DVC-tracked: content not present (run `dvc pull` to scan it); tracked by model.pt.dvc")]
    assert [Path(f.path or "").name for f in findings] == ["present.pt"]

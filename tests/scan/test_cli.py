"""``mlaudit scan`` end to end (in-process), the ``modelscan`` check inside an audit, and HF cache layouts."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from auditor.domain import ModelFile, ModelRef, Report, Severity
from auditor.net import HttpClient, NetConfig
from auditor.options import AuditContext, AuditOptions
from auditor.scan import scan_paths
from tests.scan import craft
from tests.support.fixtures import MODEL_CORPUS


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_scan_json_report_shape_and_exit_code(tmp_path: Path, sentinel: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "models"
    d.mkdir()
    (d / "bad.pkl").write_bytes(craft.os_system_p2(sentinel))
    craft.torch_zip(d / "bad.pt", craft.stack_global_exec(sentinel))
    (d / "ok.safetensors").write_bytes(craft.safetensors({"a": {"dtype": "F32", "shape": [1],
                                                               "data_offsets": [0, 4]}}, b"\x00" * 4))
    code, report = _json(capsys, ["scan", str(d)])
    assert code == 1
    assert report["schema_version"] and report["summary"]["failed"] is True
    paths = {f["path"] for f in report["findings"] if f["kind"] == "unsafe-model"}
    assert [f["path"] for f in report["findings"] if f["kind"] == "model-format"] == [str(d / "ok.safetensors")]
    assert paths == {str(d / "bad.pkl"), f"{d / 'bad.pt'}!archive/data.pkl"}
    crit = [f for f in report["findings"] if f["severity"] == "critical"]
    assert {f["evidence"]["callable"] for f in crit} == {"os.system", "builtins.exec"}
    assert all(f["check"] == "modelscan" and f["id"].startswith("MLA-") for f in report["findings"])


def test_scan_clean_exits_zero_and_missing_path_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ok = tmp_path / "model.safetensors"
    ok.write_bytes(craft.safetensors({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\x00" * 4))
    code, report = _json(capsys, ["scan", str(ok)])
    assert code == 0
    assert [(f["kind"], f["id"], f["severity"], f["evidence"]["format"]) for f in report["findings"]] == [
        ("model-format", "MLA-SAFE-FORMAT", "info", "safetensors")]
    assert main(["scan", str(tmp_path / "missing.pt")]) == 2
    assert "missing.pt" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["terminal", "sarif", "json", "html", "markdown"])
def test_scan_every_output_format_runs_nothing(fmt: str, tmp_path: Path, sentinel: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.pkl").write_bytes(craft.os_system_p0(sentinel))
    out = tmp_path / "report.out"
    assert main(["scan", str(tmp_path / "x.pkl"), "--format", fmt, "-o", str(out), "-q"]) == 1
    assert "MLA-PICKLE-EXEC" in out.read_text()


def test_fail_on_threshold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "m.pkl").write_bytes(craft.unknown_call())  # high, not critical
    assert main(["scan", str(tmp_path / "m.pkl"), "--fail-on", "critical", "-q"]) == 0
    assert main(["scan", str(tmp_path / "m.pkl"), "--fail-on", "high", "-q"]) == 1


def test_safetensors_twin_note(tmp_path: Path) -> None:
    d = tmp_path / "snap"
    d.mkdir()
    craft.torch_zip(d / "pytorch_model.bin", craft.benign_state_dict())
    (d / "model.safetensors").write_bytes(craft.safetensors({"a": {"dtype": "F32", "shape": [1],
                                                                   "data_offsets": [0, 4]}}, b"\x00" * 4))
    result = scan_paths([d])
    notes = [f for f in result.findings if f.id == "MLA-PICKLE-FORMAT"]
    assert len(notes) == 1 and notes[0].kind == "pickle-model" and notes[0].severity is Severity.INFO
    assert "prefer model.safetensors" in notes[0].message
    assert result.files_scanned == 2


def test_hf_cache_layout_scans_each_blob_once_under_its_snapshot_name(tmp_path: Path, sentinel: Path) -> None:
    repo = tmp_path / "hub" / "models--org--tiny"
    blobs = repo / "blobs"
    snap = repo / "snapshots" / ("a" * 40)
    blobs.mkdir(parents=True)
    snap.mkdir(parents=True)
    blob = blobs / ("b" * 64)
    craft.torch_zip(blob, craft.os_system_p2(sentinel))
    os.symlink(blob, snap / "pytorch_model.bin")
    result = scan_paths([tmp_path / "hub"])
    exec_f = [f for f in result.findings if f.id == "MLA-PICKLE-EXEC"]
    assert len(exec_f) == 1 and exec_f[0].path.startswith(str(snap / "pytorch_model.bin"))
    assert result.files_scanned == 1


def _ctx(project: Path, models: list[ModelRef] | None = None, scan: bool = True) -> AuditContext:
    options = AuditOptions(paths=[str(project)], offline=True, project_dir=str(project), scan_models=scan)
    report = Report(models=list(models or []))
    return AuditContext(options=options, report=report, http=HttpClient(NetConfig()))


def test_check_scans_project_files_and_hub_files(tmp_path: Path, sentinel: Path) -> None:
    from auditor.checks.modelfiles import CHECK

    project = tmp_path / "proj"
    (project / ".venv").mkdir(parents=True)
    (project / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    (project / ".venv" / "evil.pkl").write_bytes(craft.os_system_p2(sentinel))  # never walked
    (project / "ckpt").mkdir()
    (project / "ckpt" / "model.pt").write_bytes(craft.os_system_p0(sentinel))
    (project / "notes.md").write_bytes(craft.os_system_p0(sentinel))  # not a candidate extension
    hub = tmp_path / "hubfiles"
    hub.mkdir()
    craft.torch_zip(hub / "pytorch_model.bin", craft.runpy_payload(sentinel))
    ref = ModelRef(repo_id="org/tiny", revision="main", files=[ModelFile(path="pytorch_model.bin",
                                                                         local_path=str(hub / "pytorch_model.bin"))])
    ctx = _ctx(project, [ref])
    findings = list(CHECK.run(ctx))
    crit = [f for f in findings if f.severity is Severity.CRITICAL]
    assert {Path(f.path.split("!")[0]).name for f in crit} == {"model.pt", "pytorch_model.bin"}
    hub_f = [f for f in crit if "pytorch_model.bin" in (f.path or "")]
    assert hub_f[0].model == ("org/tiny", "main")
    assert ctx.report.model_scan is not None
    assert {Path(f.path.split("!")[0]).name for f in ctx.report.model_scan.files} >= {"model.pt", "pytorch_model.bin"}
    assert ctx.report.model_scan.files_scanned >= 2 and ctx.report.model_scan.bytes_scanned > 0
    assert list(CHECK.run(_ctx(project, [ref], scan=False))) == []


def test_demo_checkpoint_is_critical(capsys: pytest.CaptureFixture[str]) -> None:
    demo = Path(__file__).resolve().parents[2] / "examples" / "demo" / "checkpoint.pt"
    code, report = _json(capsys, ["scan", str(demo)])
    assert code == 1
    assert [(f["severity"], f["evidence"]["callable"]) for f in report["findings"]] == [("critical", "posix.system")]


def test_shared_dev_corpus_recall_and_false_positives() -> None:
    corpus = MODEL_CORPUS
    with open(corpus / "labels.tsv", newline="") as fh:
        labels = {row["file"]: row["label"] for row in csv.DictReader(fh, delimiter="\t")}
    result = scan_paths([corpus])
    flagged = {str(Path(f.path.split("!")[0]).relative_to(corpus)) for f in result.findings
               if f.severity.at_least(Severity.MEDIUM)}
    missed = sorted(f for f, lab in labels.items() if lab == "malicious" and f not in flagged)
    false_pos = sorted(f for f, lab in labels.items() if lab == "benign" and f in flagged)
    assert missed == [] and false_pos == []


def test_fifo_is_skipped_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.pt"
    os.mkfifo(fifo)
    result = scan_paths([fifo])
    assert result.findings == [] and [s.reason for s in result.skipped] == ["not a regular file"]

"""Issue 23, corpus class S3: notes about models only where there is a model. ``unsigned-model`` is for a model
release (a model format, a weights file name, model metadata, weights of meaningful size, a file named for a model),
never for data assets (a filter bank ``mel_filters.npz`` beside tokenizer files) or test fixtures (reference
tensors, cached responses under ``tests/``); ``pickle-model`` is for pickles that hold model content, never for a
pickle of plain data (no imports but containers and records), and in a project audit not for test fixtures.
Unsafe-content findings are unchanged everywhere, ``tests/`` included."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import pytest

from auditor.domain import Finding, Report
from auditor.net import HttpClient, NetConfig
from auditor.options import AuditContext, AuditOptions
from auditor.scan import scan_paths
from tests.scan import craft


def _ctx(project: Path) -> AuditContext:
    options = AuditOptions(paths=[str(project)], offline=True, project_dir=str(project), scan_models=True)
    return AuditContext(options=options, report=Report(), http=HttpClient(NetConfig()))


def _audit(project: Path) -> tuple[list[Finding], AuditContext]:
    from auditor.checks.modelfiles import CHECK as MODELSCAN
    from auditor.checks.signing import CHECK as SIGNING

    ctx = _ctx(project)
    findings = list(MODELSCAN.run(ctx)) + list(SIGNING.run(ctx))
    ctx.report.ledger.settle()
    return findings, ctx


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _npz(n_mels: int = 80) -> bytes:
    """A mel filter bank as ``np.savez_compressed`` lays it out (one float32 array per member)."""
    body = struct.pack(f"<{n_mels * 201}f", *([0.001] * (n_mels * 201)))
    return craft.zip_bytes([(f"mel_{n_mels}.npy", craft.npy("<f4", (n_mels, 201), body))])


def _unsigned(findings: list[Finding]) -> dict[str, str]:
    return {Path(f.path or "").name: f.evidence["release"] for f in findings if f.id == "MLA-MODEL-UNSIGNED"}


def test_data_assets_and_test_fixtures_are_no_model_release(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    assets = project / "pkg" / "assets"
    _write(assets / "mel_filters.npz", _npz())
    _write(assets / "gpt2.tiktoken", b"IQ== 0\nIg== 1\n")
    _write(project / "pkg" / "audio" / "mel_filters.npz", _npz(64))
    _write(project / "data" / "stats.npz", _npz(128))  # arrays of a dataset: no model by size alone
    _write(project / "data" / "cache.pkl", pickle.dumps({"rows": list(range(300_000))}, protocol=4))  # > 1 MiB
    ref = project / "tests" / "artifacts" / "policies" / "act"
    _write(ref / "actions.safetensors", craft.safetensors({"a": {"dtype": "F32", "shape": [2 ** 19],
                                                                 "data_offsets": [0, 2 ** 21]}}, bytes(2 ** 21)))
    _write(ref / "param_stats.safetensors", craft.safetensors({}, b""))
    _write(project / "tests" / "testdata" / "gguf_test_1.pkl", pickle.dumps({"choices": [{"text": "x"}]}))
    _write(project / "src" / "lib" / "test_data" / "tiny.pt", craft.benign_state_dict())
    findings, ctx = _audit(project)
    assert _unsigned(findings) == {}  # before: an unsigned-model note for every one of these folders
    assert [f for f in findings if f.kind == "pickle-model"] == []  # before: one per test pickle
    assert [f for f in findings if f.severity.rank > 0] == []
    assert ctx.report.complete


@pytest.mark.parametrize(("files", "why"), [
    ({"config.json": b"{}", "weights.bin": bytes(64)}, "model metadata beside the weights (config.json)"),
    ({"model.safetensors": b"x"}, "a weights file name (model.safetensors)"),
    ({"pytorch_model-00001-of-00002.bin": b"x"}, "a weights file name (pytorch_model-00001-of-00002.bin)"),
    ({"adapter_model.safetensors": b"x", "adapter_config.json": b"{}"}, "a weights file name"),
    ({"llama-7b.Q4_K_M.gguf": b"GGUF"}, "a model format (llama-7b.Q4_K_M.gguf)"),
    ({"encoder.pt": bytes(2 << 20)}, "weights of meaningful size (encoder.pt, 2097152 bytes)"),
    ({"classifier.pkl": b"\x80\x04N."}, "a file named for a model (classifier.pkl)"),
    ({"epoch=3-step=100.ckpt": b"x"}, "a model format (epoch=3-step=100.ckpt)"),
], ids=["metadata", "hf-name", "shard", "adapter", "gguf", "size", "model-name", "lightning"])
def test_model_releases_are_still_noted(tmp_path: Path, files: dict[str, bytes], why: str) -> None:
    from auditor.checks.signing import CHECK as SIGNING

    project = tmp_path / "proj"
    for name, data in files.items():
        _write(project / "release" / name, data)
    findings = list(SIGNING.run(_ctx(project)))
    assert list(_unsigned(findings)) == ["release"]
    assert _unsigned(findings)["release"].startswith(why)


def test_plain_data_pickles_get_no_pickle_model_note(tmp_path: Path) -> None:
    plain = _write(tmp_path / "responses.pkl", pickle.dumps({"choices": [{"text": "a", "logprobs": None}]}))
    ordered = _write(tmp_path / "vocab.pkl", craft.proto(2) + craft.global_("collections", "OrderedDict")
                     + b")R" + craft.binunicode("a") + b"K\x01s.")
    weights = _write(tmp_path / "weights.pkl", craft.benign_state_dict())
    estimator = _write(tmp_path / "estimator.pkl", craft.sklearn_like())
    notes = {Path(f.path or "").name for f in scan_paths([plain, ordered, weights, estimator]).findings
             if f.id == "MLA-PICKLE-FORMAT"}
    assert notes == {"weights.pkl", "estimator.pkl"}


def test_fixture_pickles_are_noted_only_when_named(tmp_path: Path) -> None:
    """In a project audit a checkpoint under tests/ is a fixture (no format note; its content is still scanned);
    named to ``mlaudit scan`` it is what the user asked about and gets the note."""
    project = tmp_path / "proj"
    fixture = _write(project / "tests" / "fixtures" / "tiny.pt", craft.benign_state_dict())
    shipped = _write(project / "models" / "tiny.pt", craft.benign_state_dict())
    evil = _write(project / "tests" / "fixtures" / "evil.pkl", craft.unknown_call())
    findings, _ = _audit(project)
    assert {Path(f.path or "").parent.name for f in findings if f.id == "MLA-PICKLE-FORMAT"} == {"models"}
    assert [Path(f.path or "").name for f in findings if f.id == "MLA-PICKLE-UNKNOWN-GLOBAL"] == ["evil.pkl"]
    assert [f.id for f in scan_paths([fixture]).findings] == ["MLA-PICKLE-FORMAT"]
    assert [f.id for f in scan_paths([shipped]).findings] == ["MLA-PICKLE-FORMAT"]
    assert [f.id for f in scan_paths([evil]).findings] == ["MLA-PICKLE-UNKNOWN-GLOBAL"]


@pytest.mark.parametrize(("rel", "fixture"), [
    ("tests/artifacts", True), ("src/pkg/tests/fixtures", True), ("test_data", True), ("unit_tests/x", True),
    ("integration_test", True), ("contest/models", False), ("latest", False), ("attestations", False),
    ("models/testament", False),
])
def test_fixture_directories_by_whole_component(rel: str, fixture: bool) -> None:
    from pathlib import PurePosixPath

    from auditor.scan.roles import fixture_dir

    assert (fixture_dir(PurePosixPath(rel)) is not None) is fixture

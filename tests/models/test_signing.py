"""Model signatures: ``mlaudit verify-model`` and the ``model-signing`` check, on the real signed fixture."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from auditor.checks.signing import CHECK
from auditor.cli import main
from auditor.domain import Severity
from tests.models.conftest import make_ctx
from tests.support.fixtures import MODELSIGN


@pytest.fixture
def signed(tmp_path: Path) -> Path:
    """A writable copy of the signed fixture: project/tiny-model + project/model.sig + keys."""
    src = MODELSIGN
    project = tmp_path / "project"
    shutil.copytree(src / "tiny-model", project / "tiny-model")
    shutil.copy(src / "model.sig", project / "model.sig")
    for name in ("public_key.pem", "wrong_public_key.pem"):
        shutil.copy(src / name, tmp_path / name)
    for path in [project, project / "tiny-model", *project.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return project


def _tamper(model: Path) -> None:
    weights = model / "weights.bin"
    data = bytearray(weights.read_bytes())
    data[1000] ^= 0xFF
    weights.write_bytes(bytes(data))


def _verify(project: Path, *extra: str) -> int:
    return main(["verify-model", str(project / "tiny-model"), "--signature", str(project / "model.sig"), *extra])


def test_verify_model_valid(signed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _verify(signed, "--key", str(signed.parent / "public_key.pem")) == 0
    assert "verified" in capsys.readouterr().out


def test_verify_model_tampered_copy_is_critical(signed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tamper(signed / "tiny-model")
    code = _verify(signed, "--key", str(signed.parent / "public_key.pem"), "--format", "json")
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    (finding,) = report["findings"]
    assert finding["kind"] == "signature-invalid" and finding["severity"] == "critical"
    assert "weights.bin" in finding["message"]


def test_verify_model_json_says_what_was_verified(signed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The verification is the report's typed ``signature`` record (schema-valid), verified or not."""
    import jsonschema

    from auditor.resources import data_file

    schema = json.loads(data_file("report.schema.json").read_text())
    assert _verify(signed, "--key", str(signed.parent / "public_key.pem"), "--format", "json") == 0
    ok = json.loads(capsys.readouterr().out)
    jsonschema.validate(ok, schema)
    assert ok["signature"]["verified"] is True and ok["signature"]["method"] == "key"
    assert ok["signature"]["model_dir"] == str(signed / "tiny-model") and ok["findings"] == []
    _tamper(signed / "tiny-model")
    assert _verify(signed, "--key", str(signed.parent / "public_key.pem"), "--format", "json") == 1
    bad = json.loads(capsys.readouterr().out)
    jsonschema.validate(bad, schema)
    assert bad["signature"]["verified"] is False and "weights.bin" in bad["signature"]["message"]


def test_verify_model_wrong_key_and_added_file(signed: Path) -> None:
    assert _verify(signed, "--key", str(signed.parent / "wrong_public_key.pem")) == 1
    (signed / "tiny-model" / "extra.txt").write_text("added after signing")
    assert _verify(signed, "--key", str(signed.parent / "public_key.pem")) == 1
    assert _verify(signed, "--key", str(signed.parent / "public_key.pem"), "--ignore-unsigned-files") == 0


@pytest.mark.parametrize("args", [
    [],  # no trust option
    ["--key", "missing.pem"],
    ["--identity", "someone@example.com"],  # no --identity-provider
    ["--key", "{model}/config.json"],  # not a PEM key
    ["--key", "{key}", "--identity", "x"],  # two trust options
    ["--certificate", "{key}"],  # a public key is not a certificate chain
    ["--certificate", "missing.pem"],
])
def test_verify_model_usage_errors(signed: Path, args: list[str]) -> None:
    filled = [a.format(model=signed / "tiny-model", key=signed.parent / "public_key.pem") for a in args]
    assert _verify(signed, *filled) == 2


def test_verify_model_missing_signature_is_usage(signed: Path) -> None:
    code = main(["verify-model", str(signed / "tiny-model"), "--signature", str(signed / "nope.sig"),
                 "--key", str(signed.parent / "public_key.pem")])
    assert code == 2


def _check(project: Path):  # type: ignore[no-untyped-def]
    ctx = make_ctx(project_dir=str(project))
    return list(CHECK.run(ctx)), ctx


def test_check_without_key_compares_the_signed_manifest(signed: Path) -> None:
    (signed / "other-model").mkdir()
    (signed / "other-model" / "model.safetensors").write_bytes(b"x")
    findings, ctx = _check(signed)
    by_id = {f.id: f for f in findings}
    assert by_id["MLA-MODEL-SIGNATURE-UNVERIFIED"].severity is Severity.INFO
    assert by_id["MLA-MODEL-SIGNATURE-UNVERIFIED"].path == str(signed / "tiny-model")
    unsigned = by_id["MLA-MODEL-UNSIGNED"]
    assert unsigned.path == str(signed / "other-model") and unsigned.severity is Severity.INFO
    assert len(findings) == 2 and ctx.report.skipped == ()

    _tamper(signed / "tiny-model")
    findings, _ = _check(signed)
    invalid = [f for f in findings if f.kind == "signature-invalid"]
    assert len(invalid) == 1 and invalid[0].severity is Severity.CRITICAL
    assert "hash mismatch for weights.bin" in invalid[0].message


def test_check_with_configured_key(signed: Path) -> None:
    shutil.copy(signed.parent / "public_key.pem", signed / "signing.pem")
    (signed / "mlaudit.toml").write_text('[model-signing]\nkey = "signing.pem"\n')
    findings, _ = _check(signed)
    assert findings == []  # verified: nothing to say

    shutil.copy(signed.parent / "wrong_public_key.pem", signed / "signing.pem")
    findings, _ = _check(signed)
    assert [f.id for f in findings] == ["MLA-MODEL-SIGNATURE-INVALID"]
    assert "Key mismatch" in findings[0].message


def test_check_configured_key_missing_is_recorded(signed: Path) -> None:
    (signed / "mlaudit.toml").write_text('[model-signing]\nkey = "absent.pem"\n')
    findings, ctx = _check(signed)
    assert findings == []
    assert any("absent.pem" in s.reason for s in ctx.report.skipped)


@pytest.mark.parametrize("payload", [
    {"subject": [{"name": "tiny-model"}], "predicate": "nope"},
    {"subject": [{"name": "tiny-model"}], "predicate": {"serialization": "files", "resources": []}},
    {"subject": [{"name": "tiny-model"}], "predicate": {"serialization": {"method": "files", "ignore_paths": 3},
                                                        "resources": [{"algorithm": "sha256", "name": 5}]}},
    {"subject": [{"name": "tiny-model"}], "predicate": {"serialization": {"method": "files"},
                                                        "resources": [{"algorithm": "sha256", "name": "../x",
                                                                       "digest": "00"}]}},
    {"subject": [{"name": "../../etc"}]},
    {"subject": "x"},
])
def test_check_survives_malformed_signatures(signed: Path, payload: dict) -> None:  # type: ignore[type-arg]
    import base64

    bundle = {"dsseEnvelope": {"payload": base64.b64encode(json.dumps(payload).encode()).decode()}}
    (signed / "model.sig").write_text(json.dumps(bundle))
    findings, ctx = _check(signed)
    kinds = {f.kind for f in findings}
    assert kinds <= {"signature-invalid", "unsigned-model"}
    assert findings or ctx.report.skipped  # never silent


def test_check_survives_garbage_signature_file(signed: Path) -> None:
    (signed / "model.sig").write_bytes(b"\x00\xffnot json")
    findings, ctx = _check(signed)
    assert any("which model directory" in s.reason for s in ctx.report.skipped)
    assert [f.kind for f in findings] == ["unsigned-model"]


def test_configured_key_with_malformed_bundle_is_invalid(signed: Path) -> None:
    shutil.copy(signed.parent / "public_key.pem", signed / "signing.pem")
    (signed / "mlaudit.toml").write_text('[model-signing]\nkey = "signing.pem"\n')
    (signed / "model.sig").write_text(json.dumps({"dsseEnvelope": {"payload": ""}, "mediaType": "x"}))
    findings, ctx = _check(signed)
    # the subject cannot be read, so the directory is not matched: recorded, and its weights reported unsigned
    assert any("which model directory" in s.reason for s in ctx.report.skipped)
    assert _verify(signed, "--key", str(signed / "signing.pem")) == 1


def test_a_linked_folder_added_to_a_signed_model_is_not_passed_over(signed: Path, tmp_path: Path) -> None:
    """The manifest comparison walks the directory with the project's one walk: files behind a link to a folder
    (added after signing) are unsigned entries, not invisible (issue 26)."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "extra_weights.bin").write_bytes(b"\x80\x02." * 10)
    (signed / "tiny-model" / "addon").symlink_to(outside, target_is_directory=True)
    findings, _ = _check(signed)
    [invalid] = [f for f in findings if f.id == "MLA-MODEL-SIGNATURE-INVALID"]
    assert "addon/extra_weights.bin" in invalid.message

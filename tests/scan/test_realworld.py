"""What the public corpora of other scanners showed (issue 17): silent cleans, damaged archives read only as
"could not read", false alarms on ordinary files, and severities that depended on the path taken. Each test
builds its file byte by byte (payloads would create the sentinel if they ever ran)."""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

import pytest

from auditor.domain import Finding, Severity
from auditor.scan import scan_file_detailed, scan_paths
from auditor.scan.allowlist import DANGEROUS, LOCAL, SAFE, UNKNOWN, classify
from auditor.scan.pickle_reader import read_pickle
from auditor.scan.stream import ByteSource
from tests.scan import benign_corpus, craft
from tests.security.payloads import damaged_zip, seven_zip


def _scan(path: Path) -> tuple[list[Finding], list[str]]:
    collector = scan_file_detailed(path)
    return collector.findings, [s.file or "" for s in collector.skipped]


def _critical_callables(findings: list[Finding]) -> set[str]:
    return {str(f.evidence.get("callable")) for f in findings
            if f.severity is Severity.CRITICAL and f.evidence is not None and f.evidence.get("callable")}


def _ids(findings: list[Finding], at_least: Severity = Severity.INFO) -> set[str]:
    return {f.id for f in findings if f.severity.at_least(at_least)}


# -- silent cleans ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("level", [1, 3, 6, 9])
def test_joblib_zlib_stream_of_every_level_is_opened(tmp_path: Path, sentinel: Path, level: int) -> None:
    path = tmp_path / "model.joblib"
    path.write_bytes(zlib.compress(craft.os_system_p2(sentinel), level))
    assert path.read_bytes()[:1] == b"\x78"
    findings, _ = _scan(path)
    assert "os.system" in _critical_callables(findings)
    assert any((f.path or "").endswith("model.joblib!model.joblib") for f in findings)


def test_7z_archive_members_are_scanned(tmp_path: Path, sentinel: Path) -> None:
    path = tmp_path / "weights.7z"
    path.write_bytes(seven_zip("model.pkl", craft.os_system_p2(sentinel)))
    findings, _ = _scan(path)
    assert "os.system" in _critical_callables(findings)
    inner = tmp_path / "torch.7z"
    inner.write_bytes(seven_zip("model.pt", craft.zip_bytes([("archive/data.pkl", craft.stack_global_exec(sentinel)),
                                                             ("archive/version", b"3\n")])))
    assert "builtins.exec" in _critical_callables(_scan(inner)[0])


def test_7z_bomb_is_refused_by_declared_size(tmp_path: Path) -> None:
    from auditor.scan.limits import Limits

    path = tmp_path / "big.7z"
    path.write_bytes(seven_zip("zeros.bin", b"\x00" * (1 << 20)))
    collector = scan_file_detailed(path, limits=Limits(max_archive_total=1 << 16))
    assert "MLA-ARCHIVE-BOMB" in _ids(collector.findings, Severity.HIGH)


@pytest.mark.parametrize("opener", [
    pytest.param(lambda s: b"(" + craft.binunicode("v" * 20000) + b"0" + craft.os_system_p0(s)[0:], id="p1-long-str"),
    pytest.param(lambda s: craft.proto(2) + b"C\xff" + b"x" * 255 + b"B" + (9000).to_bytes(4, "little")
                 + b"y" * 9000 + b"0" + craft.os_system_p2(s)[2:], id="p2-long-bytes"),
    pytest.param(lambda s: craft.string0("z" * 8000) + b"0" + craft.os_system_p0(s), id="p0-long-string"),
])
def test_payload_after_a_long_value_is_found(tmp_path: Path, sentinel: Path, opener) -> None:  # type: ignore[no-untyped-def]
    data = opener(sentinel)
    assert b"system" not in data[:4096]
    path = tmp_path / "vocab.bin"
    path.write_bytes(data)
    assert "os.system" in _critical_callables(_scan(path)[0])


@pytest.mark.parametrize("name", ["eval", "getattr"])
def test_malformed_after_a_dangerous_global_still_names_it(tmp_path: Path, name: str) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(craft.global_("builtins", name) + b"\xff\xfe garbage")
    findings, _ = _scan(path)
    assert f"builtins.{name}" in _critical_callables(findings)
    assert "MLA-PICKLE-MALFORMED" in _ids(findings)


def test_model_named_file_of_unknown_format_is_reported_and_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    path.write_bytes(b"\x07\x01random-bytes-not-a-model" + bytes(range(256)) * 4)
    findings, skipped = _scan(path)
    assert [(f.id, f.severity) for f in findings] == [("MLA-SCAN-UNKNOWN-FORMAT", Severity.INFO)]
    assert skipped == [str(path)]
    report = scan_paths([tmp_path])
    assert report.skipped and report.skipped[0].not_checked == ["model file scan"]


def test_unknown_member_named_like_a_model_inside_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(craft.zip_bytes([("ckpt/model.ckpt", b"\x07\x01opaque" * 10), ("README", b"hello")]))
    findings, skipped = _scan(path)
    assert _ids(findings) == {"MLA-SCAN-UNKNOWN-FORMAT"}
    assert skipped == [f"{path}!ckpt/model.ckpt"]


def test_unknown_bytes_under_an_ordinary_name_are_not_a_gap(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"\x07\x01 some binary notes")
    assert _scan(path) == ([], [])


# -- damaged archives read like loaders read them -----------------------------------------------------------
def _payload_zip(sentinel: Path) -> bytes:
    return craft.zip_bytes([("archive/data.pkl", craft.os_system_p2(sentinel)), ("archive/version", b"3\n")])


def _patch_central_name(data: bytes, old: bytes, new: bytes) -> bytes:
    pos = data.find(b"PK\x01\x02")
    name_at = data.find(old, pos)
    return data[:name_at] + new + data[name_at + len(new):]


@pytest.mark.parametrize("damage", ["encrypted-flag-and-crc", "flag-0x20", "flag-0x40", "central-name"])
def test_damaged_zip_reports_payload_at_its_severity_and_the_damage(tmp_path: Path, sentinel: Path,
                                                                     damage: str) -> None:
    data = _payload_zip(sentinel)
    if damage == "encrypted-flag-and-crc":
        data = damaged_zip(data)
    elif damage.startswith("flag-"):
        bit = int(damage[-4:], 16)
        out = bytearray(data)
        for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            out[out.find(sig) + at] |= bit
        data = bytes(out)
    else:
        data = _patch_central_name(data, b"archive/data.pkl", b"archive/data.pkX")
        data = _patch_central_name(data, b"archive/data.pkX", b"archive/data.pkl")  # premise: both parse
        local = data.find(b"archive/data.pkl")
        data = data[:local] + b"archive/dat4.pkl" + data[local + 16:]
    path = tmp_path / "model.pt"
    path.write_bytes(data)
    with pytest.raises((zipfile.BadZipFile, RuntimeError, NotImplementedError)):
        zipfile.ZipFile(io.BytesIO(data)).read("archive/data.pkl")  # premise: Python's zipfile refuses it
    findings, _ = _scan(path)
    assert "os.system" in _critical_callables(findings)
    damaged = [f for f in findings if f.id == "MLA-ARCHIVE-DAMAGED"]
    assert damaged and damaged[0].severity is Severity.MEDIUM and damaged[0].evidence["damage"]


def test_really_encrypted_member_is_a_gap_not_an_alarm(tmp_path: Path) -> None:
    data = bytearray(craft.zip_bytes([("secret/blob", bytes(range(256)) * 3)]))
    for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.find(sig) + at] |= 0x01
    path = tmp_path / "bundle.zip"
    path.write_bytes(bytes(data))
    findings, skipped = _scan(path)
    assert not _ids(findings, Severity.LOW) and "MLA-SCAN-UNVERIFIED" in _ids(findings)
    assert skipped == [f"{path}!secret/blob"]


def test_zip_without_central_directory_is_walked_by_local_headers(tmp_path: Path, sentinel: Path) -> None:
    data = _payload_zip(sentinel)
    path = tmp_path / "model.pt"
    path.write_bytes(data[: data.find(b"PK\x01\x02")])
    findings, _ = _scan(path)
    assert "os.system" in _critical_callables(findings) and "MLA-ARCHIVE-INVALID" in _ids(findings)


# -- false alarms on ordinary files -------------------------------------------------------------------------
def test_benign_corpus_layouts_scan_clean_and_complete(tmp_path: Path) -> None:
    """The regression corpus (byte-level layouts; real libraries where this venv has them) has no finding at
    low or above, nothing unrecognised and nothing skipped."""
    made = benign_corpus.build(tmp_path, bytes_only=False)
    assert len(made) >= 10
    result = scan_paths([tmp_path])
    loud = [(f.path, f.id, f.severity.value) for f in result.findings if f.severity.at_least(Severity.LOW)]
    assert loud == []
    assert result.skipped == []
    assert not [f for f in result.findings if f.id == "MLA-SCAN-UNKNOWN-FORMAT"]
    formats = {n.format for n in result.formats}
    assert {"torchscript", "zlib", "tf-fingerprint", "tf-savedmodel", "safetensors", "gguf"} <= formats


def _torchscript(extra: list[tuple[str, bytes]]) -> bytes:
    data_pkl = (craft.proto(2) + craft.global_("__torch__", "M") + b")\x81}" + craft.binunicode("sizes")
                + craft.global_("torch.jit._pickle", "build_intlist") + b"](K\x01e\x85Rsb.")
    return craft.zip_bytes([("m/data.pkl", data_pkl), ("m/constants.pkl", craft.proto(2) + b")."),
                            ("m/version", b"3\n"), *extra])


def test_torchscript_custom_ops_and_pickled_payloads_are_still_reported(tmp_path: Path, sentinel: Path) -> None:
    code = b"class M(Module):\n  def forward(self, x: Tensor) -> Tensor:\n    return ops.evil_ext.run(x)\n"
    path = tmp_path / "scripted.pt"
    path.write_bytes(_torchscript([("m/code/__torch__.py", code)]))
    findings, _ = _scan(path)
    custom = [f for f in findings if f.id == "MLA-TORCHSCRIPT-CUSTOM-OP"]
    assert custom and custom[0].evidence["namespace"] == "evil_ext" and custom[0].severity is Severity.MEDIUM
    assert not _ids(findings, Severity.HIGH)
    clean = tmp_path / "clean.pt"
    clean.write_bytes(_torchscript([("m/code/__torch__.py", b"def f(x: Tensor):\n  return ops.aten.relu(x)\n")]))
    assert not _ids(_scan(clean)[0], Severity.LOW)
    evil = tmp_path / "evil.pt"
    evil.write_bytes(_torchscript([("m/extra/payload.pkl", craft.os_system_p2(sentinel))]))
    assert "os.system" in _critical_callables(_scan(evil)[0])


def test_savedmodel_files_are_read_by_their_role(tmp_path: Path) -> None:
    fingerprint = b"".join(craft.pfield(n, 99 + n) for n in range(1, 6)) + craft.pfield(7, craft.onnx_model())
    sm = tmp_path / "sm"
    sm.mkdir()
    (sm / "saved_model.pb").write_bytes(craft.savedmodel(["MatMul"]))
    (sm / "fingerprint.pb").write_bytes(fingerprint)
    result = scan_paths([sm])
    assert not [f for f in result.findings if f.severity.at_least(Severity.LOW)]
    assert {n.format for n in result.formats} == {"tf-savedmodel", "tf-fingerprint"}
    alone = tmp_path / "fingerprint.pb"  # outside a SavedModel the same bytes are judged by content
    alone.write_bytes(fingerprint)
    assert {n.format for n in scan_file_detailed(alone).formats} != {"tf-fingerprint"}


def test_zip_whose_header_parses_as_a_pickle_call_is_not_a_polyglot(tmp_path: Path) -> None:
    data = craft.zip_bytes([("\n)R.x/data.pkl", craft.benign_state_dict()), ("\n)R.x/version", b"3\n")])
    res = read_pickle(ByteSource(io.BytesIO(data)))
    assert res.complete and any(ev.kind == "call" for ev in res.events)  # premise: offset 0 reads as a call
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(data)
    findings, _ = _scan(path)
    assert "MLA-POLYGLOT" not in _ids(findings) and not _ids(findings, Severity.MEDIUM)


def test_keras_h5_with_a_custom_model_class_matches_its_keras_twin(tmp_path: Path) -> None:
    config = {"class_name": "MyModel", "config": {"name": "m", "trainable": True}}
    findings, _ = _scan(craft.keras_h5(tmp_path / "model.h5", config))
    custom = [f for f in findings if f.id == "MLA-KERAS-CUSTOM-OBJECT"]
    assert custom and custom[0].severity is Severity.MEDIUM and custom[0].evidence["class_name"] == "MyModel"
    plain = craft.keras_config(False)
    assert not _ids(_scan(craft.keras_h5(tmp_path / "plain.h5", plain))[0], Severity.LOW)


# -- allow-list and severity by what is reached -------------------------------------------------------------
@pytest.mark.parametrize(("module", "name", "level"), [
    ("builtins", "len", SAFE), ("builtins", "sorted", SAFE), ("collections.abc", "Iterable", SAFE),
    ("typing", "Optional", SAFE), ("__future__", "annotations", SAFE), ("torch.jit._pickle", "build_intlist", SAFE),
    ("__torch__.torch.nn.modules.linear", "Linear", SAFE), ("typing", "get_type_hints", UNKNOWN),
    ("builtins", "eval", DANGEROUS), ("__main__", "MyTransformer", LOCAL), ("__main__", "Popen", UNKNOWN),
    ("__main__", "system", UNKNOWN),
])
def test_allow_list_levels(module: str, name: str, level: str) -> None:
    assert classify(module, name).level == level


@pytest.mark.parametrize(("module", "name", "reached"), [
    ("sklearn.utils._joblib", "os.system", "os.system"), ("logging", "os.system", "os.system"),
    ("torch._utils", "torch.load", "torch.load"), ("collections", "_sys.modules.get", "sys.modules.get"),
])
def test_attribute_walk_is_rated_by_what_it_reaches(tmp_path: Path, module: str, name: str, reached: str) -> None:
    verdict = classify(module, name)
    assert verdict.level == DANGEROUS and reached in verdict.reason
    path = tmp_path / "walk.pkl"
    path.write_bytes(craft.proto(4) + craft.frame(craft.stack_global(module, name) + craft.sbu("id") + b"\x85R."))
    assert f"{module}.{name}" in _critical_callables(_scan(path)[0])


def test_main_module_class_is_low_not_an_alarm(tmp_path: Path) -> None:
    path = tmp_path / "estimator.pkl"
    path.write_bytes(craft.proto(2) + craft.global_("__main__", "MyTransformer") + b")\x81}b.")
    findings, _ = _scan(path)
    assert [(f.id, f.severity) for f in findings] == [("MLA-PICKLE-LOCAL-CLASS", Severity.LOW)]


# -- found on the held-out sources --------------------------------------------------------------------------
def test_zipped_savedmodel_members_are_read_by_their_role(tmp_path: Path) -> None:
    import json

    layer = json.dumps(craft.keras_config(True))
    metadata = craft.pfield(1, craft.pfield(2, 1) + craft.pfield(3, "root") + craft.pfield(5, layer))
    fingerprint = b"".join(craft.pfield(n, 99 + n) for n in range(1, 6))
    members = [("sm/saved_model.pb", craft.savedmodel(["MatMul"])), ("sm/keras_metadata.pb", metadata),
               ("sm/fingerprint.pb", fingerprint), ("sm/variables/variables.index", b"\x00" * 40),
               ("sm/variables/variables.data-00000-of-00001", b"\x00" * 8)]
    path = tmp_path / "model.zip"
    path.write_bytes(craft.zip_bytes(members, compress=zipfile.ZIP_DEFLATED))
    findings, skipped = _scan(path)
    assert [f.path for f in findings if f.id == "MLA-KERAS-LAMBDA"] == [f"{path}!sm/keras_metadata.pb"]
    assert skipped == [] and "MLA-SCAN-UNKNOWN-FORMAT" not in _ids(findings)


@pytest.mark.parametrize(("op", "severity"), [("DistributedSave", Severity.CRITICAL),
                                              ("FixedLengthRecordDatasetV2", Severity.HIGH),
                                              ("SaveDatasetV2", Severity.CRITICAL)])
def test_tf_data_ops_that_touch_paths(tmp_path: Path, op: str, severity: Severity) -> None:
    sm = tmp_path / "sm"
    sm.mkdir()
    (sm / "saved_model.pb").write_bytes(craft.savedmodel(["Placeholder", op, "SaveV2", "RestoreV2"]))
    findings, _ = _scan(sm / "saved_model.pb")
    assert [(f.evidence["op"], f.severity) for f in findings if f.id == "MLA-TF-OP"] == [(op, severity)]

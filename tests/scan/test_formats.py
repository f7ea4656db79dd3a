"""Every non-raw-pickle format: containers, NumPy, Keras, TF, ONNX, GGUF, safetensors, archives."""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from auditor.model import Finding, Severity
from auditor.scan import scan_file, scan_file_detailed
from tests.scan import craft


def _worst(findings: list[Finding]) -> Severity | None:
    sev = [f.severity for f in findings if f.kind == "unsafe-model"]
    return max(sev, key=lambda s: s.rank) if sev else None


def _ids(findings: list[Finding]) -> set[str]:
    return {f.id for f in findings}


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


# -- PyTorch ------------------------------------------------------------------------------------------------
def test_torch_zip_payload_names_the_member(tmp_path: Path, sentinel: Path) -> None:
    p = craft.torch_zip(tmp_path / "model.pt", craft.os_system_p2(sentinel))
    findings = scan_file(p)
    exec_f = [f for f in findings if f.id == "MLA-PICKLE-EXEC"]
    assert exec_f and exec_f[0].path == f"{p}!archive/data.pkl"
    assert exec_f[0].severity is Severity.CRITICAL


def test_torch_zip_benign_custom_prefix_and_deflate(tmp_path: Path) -> None:
    p = craft.torch_zip(tmp_path / "ok.pth", craft.benign_state_dict(), prefix="my_model_v2",
                        compress=zipfile.ZIP_DEFLATED)
    collector = scan_file_detailed(p)
    assert _worst(collector.findings) is None
    assert collector.formats[0].format == "torch-zip"


def test_torch_zip_deflated_payload_and_custom_prefix(tmp_path: Path, sentinel: Path) -> None:
    p = craft.torch_zip(tmp_path / "m.bin", craft.stack_global_exec(sentinel), prefix="weird",
                        compress=zipfile.ZIP_DEFLATED)
    assert _worst(scan_file(p)) is Severity.CRITICAL


def test_duplicate_data_pkl_every_copy_scanned(tmp_path: Path, sentinel: Path) -> None:
    p = tmp_path / "dup.pt"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("archive/data.pkl", craft.os_system_p2(sentinel))
        with pytest.warns(UserWarning):
            zf.writestr("archive/data.pkl", craft.benign_state_dict())
    findings = scan_file(p)
    assert "MLA-ARCHIVE-DUPLICATE" in _ids(findings)
    assert any(f.id == "MLA-PICKLE-EXEC" and f.path.endswith("archive/data.pkl#0") for f in findings)


def test_torch_legacy_payload_and_benign(tmp_path: Path, sentinel: Path) -> None:
    benign = scan_file(_write(tmp_path, "old.pt", craft.torch_legacy(craft.benign_state_dict())))
    assert _worst(benign) is None
    bad = scan_file(_write(tmp_path, "bad.pt", craft.torch_legacy(craft.os_system_p2(sentinel))))
    assert _worst(bad) is Severity.CRITICAL
    assert [f.evidence["pickle_index"] for f in bad if f.id == "MLA-PICKLE-EXEC"] == [3]


def test_polyglot_pickle_then_zip(tmp_path: Path, sentinel: Path) -> None:
    clean_zip = craft.zip_bytes([("archive/data.pkl", craft.benign_state_dict())])
    findings = scan_file(_write(tmp_path, "poly.pt", craft.os_system_p2(sentinel) + clean_zip))
    assert {"MLA-POLYGLOT", "MLA-PICKLE-EXEC"} <= _ids(findings)


# -- NumPy / joblib -----------------------------------------------------------------------------------------
def test_npy_object_array_payload(tmp_path: Path, sentinel: Path) -> None:
    findings = scan_file(_write(tmp_path, "a.npy", craft.npy("|O", (1,), craft.os_system_p2(sentinel))))
    assert _worst(findings) is Severity.CRITICAL


def test_npy_numeric_and_npz(tmp_path: Path, sentinel: Path) -> None:
    numeric = craft.npy("<f4", (4,), struct.pack("<4f", 1, 2, 3, 4))
    assert scan_file(_write(tmp_path, "a.npy", numeric)) == []
    npz = craft.zip_bytes([("x.npy", numeric), ("meta.npy", craft.npy("|O", (1,), craft.os_system_p0(sentinel)))])
    findings = scan_file(_write(tmp_path, "a.npz", npz))
    assert any(f.path.endswith("a.npz!meta.npy") and f.severity is Severity.CRITICAL for f in findings)


def _joblib_stream(payload_after: bytes = b"") -> bytes:
    """joblib layout: a NumpyArrayWrapper, then the raw array bytes inline, then the rest of the pickle."""
    wrapper = (craft.stack_global("joblib.numpy_pickle", "NumpyArrayWrapper") + b")\x81"
               + b"}" + craft.sbu("subclass") + craft.stack_global("numpy", "ndarray")
               + craft.sbu("shape") + b"K\x03\x85" + craft.sbu("order") + craft.sbu("C")
               + craft.sbu("dtype") + craft.stack_global("numpy", "dtype") + craft.sbu("f8") + b"\x89\x88\x87R"
               + b"(K\x03" + craft.sbu("<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
               + craft.sbu("allow_mmap") + b"\x88" + craft.sbu("numpy_array_alignment_bytes") + b"K\x10"
               + b"ub")
    raw = b"\x03" + b"\xff" * 3 + struct.pack("<3d", 1, 2, 3)  # padding length byte + padding + 3 doubles
    tail = b"\x8c\x01x" + payload_after + b"\x86."
    return craft.proto(4) + wrapper + raw + tail


def test_joblib_inline_arrays_are_skipped_and_payload_after_them_found(tmp_path: Path, sentinel: Path) -> None:
    clean = scan_file(_write(tmp_path, "m.joblib", _joblib_stream(b"N")))
    assert _worst(clean) is None and not any(f.id == "MLA-PICKLE-MALFORMED" for f in clean)
    payload = craft.global_("os", "system") + craft.binunicode(str(sentinel)) + b"\x85R"
    bad = scan_file(_write(tmp_path, "b.joblib", _joblib_stream(payload)))
    assert any(f.evidence.get("callable") == "os.system" for f in bad)


def test_gzip_compressed_pickle(tmp_path: Path, sentinel: Path) -> None:
    findings = scan_file(_write(tmp_path, "m.pkl.gz", gzip.compress(craft.os_system_p2(sentinel))))
    assert any(f.path.endswith("m.pkl.gz!m.pkl") and f.severity is Severity.CRITICAL for f in findings)


# -- archives -----------------------------------------------------------------------------------------------
def test_zip_member_renamed_and_traversal(tmp_path: Path, sentinel: Path) -> None:
    data = craft.zip_bytes([("frame.bin", craft.os_system_p2(sentinel)), ("../../evil.txt", b"hi")])
    findings = scan_file(_write(tmp_path, "d.zip", data))
    assert "MLA-ARCHIVE-TRAVERSAL" in _ids(findings)
    assert any(f.path.endswith("d.zip!frame.bin") and f.id == "MLA-PICKLE-EXEC" for f in findings)


def test_tar_traversal_symlink_and_member_scan(tmp_path: Path, sentinel: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        payload = craft.os_system_p2(sentinel)
        info = tarfile.TarInfo("model/weights.bin")
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
        link = tarfile.TarInfo("model/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "../../../etc/passwd"
        tf.addfile(link)
        up = tarfile.TarInfo("../outside.txt")
        up.size = 0
        tf.addfile(up, io.BytesIO(b""))
    findings = scan_file(_write(tmp_path, "m.tar.gz", buf.getvalue()))
    assert len([f for f in findings if f.id == "MLA-ARCHIVE-TRAVERSAL"]) == 2
    assert any(f.path.endswith("!model/weights.bin") and f.severity is Severity.CRITICAL for f in findings)


def test_zip_bomb_declared_ratio_is_a_finding(tmp_path: Path) -> None:
    data = craft.zip_bytes([("big.bin", b"\x00" * (80 << 20))], compress=zipfile.ZIP_DEFLATED)
    assert len(data) < (1 << 20)
    findings = scan_file(_write(tmp_path, "bomb.zip", data))
    assert "MLA-ARCHIVE-BOMB" in _ids(findings)


def test_nesting_depth_is_bounded(tmp_path: Path, sentinel: Path) -> None:
    data = craft.os_system_p2(sentinel)
    for i in range(8):
        data = craft.zip_bytes([(f"layer{i}.zip" if i else "model.pkl", data)])
    findings = scan_file(_write(tmp_path, "deep.zip", data))
    assert "MLA-ARCHIVE-DEPTH" in _ids(findings)


# -- Keras / TF ---------------------------------------------------------------------------------------------
def test_keras_h5_lambda_and_benign(tmp_path: Path) -> None:
    bad = scan_file(craft.keras_h5(tmp_path / "bad.h5", craft.keras_config(True)))
    lam = [f for f in bad if f.id == "MLA-KERAS-LAMBDA"]
    assert lam and lam[0].severity is Severity.CRITICAL and lam[0].evidence["layer"] == "evil"
    assert scan_file(craft.keras_h5(tmp_path / "ok.h5", craft.keras_config(False))) == []


def test_keras_v3_lambda_and_custom_module(tmp_path: Path) -> None:
    bad = scan_file(craft.keras_v3(tmp_path / "bad.keras", craft.keras_config(True, custom_module="evil_pkg.layers")))
    assert {"MLA-KERAS-LAMBDA", "MLA-KERAS-CUSTOM-OBJECT"} <= _ids(bad)
    assert all(f.path.endswith("bad.keras!config.json") for f in bad if f.id.startswith("MLA-KERAS"))
    assert _worst(scan_file(craft.keras_v3(tmp_path / "ok.keras", craft.keras_config(False)))) is None


def test_tf_savedmodel_ops(tmp_path: Path) -> None:
    d = tmp_path / "sm"
    d.mkdir()
    bad = scan_file(_write(d, "saved_model.pb", craft.savedmodel(["Placeholder", "ReadFile", "PyFunc"])))
    assert {f.evidence["op"] for f in bad} == {"ReadFile", "PyFunc"}
    assert _worst(bad) is Severity.CRITICAL
    assert scan_file(_write(tmp_path, "saved_model.pb", craft.savedmodel(["Placeholder", "MatMul"]))) == []


# -- ONNX ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("location", ["../../etc/passwd", "/etc/shadow", "C:\\Windows\\win.ini", "a/../../b"])
def test_onnx_external_data_escape(tmp_path: Path, location: str) -> None:
    findings = scan_file(_write(tmp_path, "m.onnx", craft.onnx_model(external_location=location)))
    ext = [f for f in findings if f.id == "MLA-ONNX-EXTERNAL-PATH"]
    assert ext and ext[0].evidence["location"] == location


def test_onnx_benign_external_and_custom_domain(tmp_path: Path) -> None:
    assert scan_file(_write(tmp_path, "ok.onnx", craft.onnx_model(external_location="weights.bin"))) == []
    assert scan_file(_write(tmp_path, "ok2.onnx", craft.onnx_model())) == []
    custom = scan_file(_write(tmp_path, "c.onnx", craft.onnx_model(node_domain="com.evil.ops")))
    assert [f.evidence["domain"] for f in custom if f.id == "MLA-ONNX-CUSTOM-OP"] == ["com.evil.ops"]


# -- GGUF ---------------------------------------------------------------------------------------------------
SSTI = [
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ self._TemplateReference__context.joiner.__init__.__globals__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ lipsum|attr('__glo' ~ 'bals__') }}",
    "{{ x['__class__'] }}",
]


@pytest.mark.parametrize("template", SSTI)
def test_gguf_chat_template_ssti(tmp_path: Path, template: str) -> None:
    findings = scan_file(_write(tmp_path, "m.gguf", craft.gguf(template)))
    assert _worst(findings) is Severity.CRITICAL
    assert all(f.evidence["key"] == "tokenizer.chat_template" for f in findings)


def test_gguf_benign_chatml(tmp_path: Path) -> None:
    collector = scan_file_detailed(_write(tmp_path, "m.gguf", craft.gguf(craft.CHATML)))
    assert collector.findings == [] and collector.formats[0].format == "gguf"


@pytest.mark.parametrize("data", [
    craft.gguf(None, n_kv_override=1 << 40),
    craft.gguf(None, tensor_offset=1 << 40),
    craft.gguf(None)[:40],
    b"GGUF" + struct.pack("<I", 99) + b"\x00" * 16,
    craft.gguf(None, extra_kv=craft.gguf_string("x") + struct.pack("<I", 8) + struct.pack("<Q", 1 << 60),
               n_kv_extra=1),
])
def test_gguf_malformed_is_a_finding(tmp_path: Path, data: bytes) -> None:
    findings = scan_file(_write(tmp_path, "m.gguf", data))
    assert [f.id for f in findings] == ["MLA-GGUF-INVALID"]


# -- safetensors --------------------------------------------------------------------------------------------
def _st_ok() -> bytes:
    header = {"__metadata__": {"format": "pt"}, "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
              "b": {"dtype": "F16", "shape": [2, 2], "data_offsets": [8, 16]}}
    return craft.safetensors(header, b"\x00" * 16)


def test_safetensors_valid_is_safe_format(tmp_path: Path) -> None:
    collector = scan_file_detailed(_write(tmp_path, "model.safetensors", _st_ok()))
    assert collector.findings == [] and collector.formats[0].format == "safetensors"


@pytest.mark.parametrize("header,data,length,problem", [
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\x00" * 12, None, "overlap"),
    ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\x00" * 8, None, "beyond the data area"),
    ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\x00" * 8, None, "shape x dtype"),
    ({"a": {"dtype": "EVIL", "shape": [2], "data_offsets": [0, 8]}}, b"\x00" * 8, None, "unknown dtype"),
    ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 8]}}, b"\x00" * 8, None, "non-negative"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\x00" * 8, (1 << 63) + 5, "exceeds"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\x00" * 8, 10 ** 6, "past the end"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}, b"\x00" * 16, None, "hole"),
])
def test_safetensors_malformed(tmp_path: Path, header: dict[str, object], data: bytes, length: int | None,
                               problem: str) -> None:
    findings = scan_file(_write(tmp_path, "m.safetensors", craft.safetensors(header, data, length=length)))
    assert [f.id for f in findings] == ["MLA-SAFETENSORS-INVALID"]
    assert any(problem in p for p in findings[0].evidence["problems"])

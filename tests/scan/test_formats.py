"""Every non-raw-pickle format: containers, NumPy, Keras, TF, ONNX, GGUF, safetensors, archives."""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from auditor.domain import Finding, Severity
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
               + b"}(" + craft.sbu("subclass") + craft.stack_global("numpy", "ndarray")
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


# -- generalisation: containers and formats beyond the dev corpus ------------------------------------------
def test_h5_embedded_pickles_in_datasets_and_attributes(tmp_path: Path, sentinel: Path) -> None:
    import h5py
    import numpy as np

    p = tmp_path / "store.h5"
    with h5py.File(p, "w") as h5:
        h5.create_dataset("blob", data=np.frombuffer(craft.os_system_p2(sentinel), dtype="uint8"))
        rows = h5.create_dataset("rows", (2,), dtype=h5py.vlen_dtype(np.dtype("uint8")))
        rows[0] = np.frombuffer(b"plain", dtype="uint8")
        rows[1] = np.frombuffer(craft.stack_global_exec(sentinel), dtype="uint8")
        h5["blob"].attrs["meta"] = np.void(craft.os_system_p2(sentinel, "posix"))
    found = {(f.path.split("!", 1)[1], f.evidence["callable"]) for f in scan_file(p) if f.id == "MLA-PICKLE-EXEC"}
    assert found == {("/blob", "os.system"), ("/rows[1]", "builtins.exec"), ("/blob@meta", "posix.system")}


def test_lzma_alone_joblib_compression(tmp_path: Path, sentinel: Path) -> None:
    import lzma

    data = lzma.compress(craft.os_system_p2(sentinel), format=lzma.FORMAT_ALONE)
    findings = scan_file(_write(tmp_path, "m.joblib", data))
    assert _worst(findings) is Severity.CRITICAL


def test_keras_savedmodel_metadata_lambda(tmp_path: Path) -> None:
    import json

    layer = json.dumps(craft.keras_config(True))
    data = craft.pfield(1, craft.pfield(2, 1) + craft.pfield(3, "root") + craft.pfield(4, "_tf_keras_sequential")
                        + craft.pfield(5, layer))
    findings = scan_file(_write(tmp_path, "keras_metadata.pb", data))
    assert [f.id for f in findings] == ["MLA-KERAS-LAMBDA"] and findings[0].evidence["format"] == "keras-savedmodel"


def test_keras_savedmodel_metadata_invalid_json_is_reported_like_h5(tmp_path: Path) -> None:
    """Layer metadata that cannot be parsed is a layer nobody checked: a finding, as for an H5 model config,
    never a silent skip (a Lambda could hide there from the scanner but not from the loader's own parser)."""
    data = craft.pfield(1, craft.pfield(2, 1) + craft.pfield(4, "_tf_keras_layer") + craft.pfield(5, '{"class_name": '))
    findings = scan_file(_write(tmp_path, "keras_metadata.pb", data))
    assert [f.id for f in findings] == ["MLA-KERAS-INVALID"] and findings[0].severity is Severity.MEDIUM
    assert findings[0].evidence["format"] == "keras-savedmodel"


def test_frozen_graphdef_ops(tmp_path: Path) -> None:
    nodes = b"".join(craft.pfield(1, craft.pfield(1, f"n{i}") + craft.pfield(2, op))
                     for i, op in enumerate(["Placeholder", "WriteFile"]))
    findings = scan_file(_write(tmp_path, "frozen.pb", nodes + craft.pfield(4, craft.pfield(1, 1))))
    assert [f.evidence["op"] for f in findings] == ["WriteFile"]


def test_onnx_external_data_symlink_leaving_directory(tmp_path: Path) -> None:
    outside = tmp_path / "secret.bin"
    outside.write_bytes(b"\x00" * 8)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "weights.bin").symlink_to(outside)
    findings = scan_file(_write(model_dir, "m.onnx", craft.onnx_model(external_location="weights.bin")))
    assert [f.evidence.get("resolves_to") for f in findings] == [str(outside)]


def test_safetensors_duplicate_keys_and_promised_format(tmp_path: Path) -> None:
    raw = b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], ' \
          b'"data_offsets": [0, 4]}}'
    dup = scan_file(_write(tmp_path, "d.safetensors", struct.pack("<Q", len(raw)) + raw + b"\x00" * 4))
    assert "duplicate key" in dup[0].evidence["problems"][0]
    not_st = scan_file(_write(tmp_path, "e.safetensors", b'{"not": "a header"}'))
    assert [f.id for f in not_st] == ["MLA-SAFETENSORS-INVALID"]


def test_pickle_memory_bounds_hold_for_huge_containers() -> None:
    import resource

    from auditor.scan.limits import Limits
    from auditor.scan.pickle_reader import read_pickle
    from auditor.scan.stream import ByteSource

    item = craft.binunicode("x" * 300) + b"a"
    data = craft.proto(2) + b"]" + item * 300_000 + b"."
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res = read_pickle(ByteSource(io.BytesIO(data)), Limits(max_retained=1000, max_retained_bytes=1 << 20))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert res.complete and len(res.value.items) == 1000
    assert grown_mb < 50


@pytest.mark.parametrize("ref,expected", [
    ({"module": "builtins", "class_name": "function", "config": "exec", "registered_name": "function"},
     Severity.CRITICAL),
    ({"module": "os", "class_name": "function", "config": "system", "registered_name": "function"},
     Severity.CRITICAL),
    ({"module": "keras.utils", "class_name": "function", "config": "get_file", "registered_name": "function"},
     Severity.CRITICAL),
    ({"module": "mylib.acts", "class_name": "function", "config": "swishy", "registered_name": "function"},
     Severity.HIGH),
])
def test_keras_v3_function_references(tmp_path: Path, ref: dict[str, str], expected: Severity) -> None:
    config = craft.keras_config(False)
    layers = config["config"]["layers"]  # type: ignore[index]
    layers[1]["config"]["activation"] = ref
    findings = scan_file(craft.keras_v3(tmp_path / "f.keras", config))
    assert _worst(findings) is expected
    assert findings[0].evidence["module"] == ref["module"]


def test_keras_v3_builtin_activation_reference_is_clean(tmp_path: Path) -> None:
    config = craft.keras_config(False)
    config["config"]["layers"][1]["config"]["activation"] = {  # type: ignore[index]
        "module": "keras.activations", "class_name": "function", "config": "relu", "registered_name": "function"}
    assert _worst(scan_file(craft.keras_v3(tmp_path / "ok.keras", config))) is None


@pytest.mark.parametrize("template", ["{% include '/etc/passwd' %}", "{{ users|map('attr', '__class__')|list }}",
                                      "{% import 'os' as os %}"])
def test_gguf_template_file_and_map_tricks(tmp_path: Path, template: str) -> None:
    findings = scan_file(_write(tmp_path, "m.gguf", craft.gguf(template)))
    assert _worst(findings) in (Severity.HIGH, Severity.CRITICAL)


def test_nested_torch_bytes_loaded_by_storage_helper(tmp_path: Path, sentinel: Path) -> None:
    inner = craft.zip_bytes([("archive/data.pkl", craft.os_system_p2(sentinel))])
    data = (craft.proto(2) + craft.global_("torch.storage", "_load_from_bytes") + b"B"
            + struct.pack("<I", len(inner)) + inner + b"\x85R.")
    findings = scan_file(_write(tmp_path, "m.pt", data))
    assert any(f.evidence.get("callable") == "os.system" and "!<bytes loaded at offset" in f.path for f in findings)


def test_common_checkpoint_companions_are_clean(tmp_path: Path) -> None:
    """Training-args style objects: argparse.Namespace, pathlib paths, OrderedDict, torch dtypes."""
    data = (craft.proto(2) + craft.global_("argparse", "Namespace") + b")\x81}("
            + craft.binunicode("out") + craft.global_("pathlib", "PosixPath") + b"(" + craft.binunicode("runs")
            + b"tR" + craft.binunicode("dtype") + craft.global_("torch", "bfloat16") + b"ub.")
    assert _worst(scan_file(_write(tmp_path, "training_args.bin", data))) is None


def test_zip_after_unrecognised_prefix(tmp_path: Path, sentinel: Path) -> None:
    data = b"\x00JUNKJUNK" * 10 + craft.zip_bytes([("frame.bin", craft.os_system_p2(sentinel))])
    findings = scan_file(_write(tmp_path, "data.bin", data))
    assert {"MLA-POLYGLOT", "MLA-PICKLE-EXEC"} <= _ids(findings)


def test_zip_symlink_member_escaping(tmp_path: Path) -> None:
    p = tmp_path / "links.zip"
    with zipfile.ZipFile(p, "w") as zf:
        info = zipfile.ZipInfo("model/config.json")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "../../../home/user/.ssh/id_rsa")
        ok = zipfile.ZipInfo("model/alias.json")
        ok.external_attr = (0o120777 << 16)
        zf.writestr(ok, "config.json")
    findings = [f for f in scan_file(p) if f.id == "MLA-ARCHIVE-TRAVERSAL"]
    assert [f.evidence["member"] for f in findings] == ["model/config.json"]


@pytest.mark.parametrize("length", [93, 0x8B1F, 0x685A42])  # header lengths that spell lzma/gzip/bzip2 magics
def test_safetensors_header_length_colliding_with_compression_magic(tmp_path: Path, length: int) -> None:
    header = b'{"__metadata__": {}}'.ljust(length, b" ")
    findings = scan_file(_write(tmp_path, "m.safetensors", struct.pack("<Q", length) + header))
    assert findings == []


def test_safetensors_pickle_polyglot(tmp_path: Path, sentinel: Path) -> None:
    """A pickle whose 9th byte is '{' sniffs as safetensors; the pickle reading is scanned as well."""
    data = craft.proto(2) + b"NX\x05\x00\x00\x00{abcd0" + craft.os_system_p2(sentinel)[2:]
    assert data[8:9] == b"{"
    findings = scan_file(_write(tmp_path, "m.safetensors", data))
    assert {"MLA-POLYGLOT", "MLA-PICKLE-EXEC", "MLA-SAFETENSORS-INVALID"} <= _ids(findings)


@pytest.mark.parametrize("length", [0x280, 0x380, 0x480, 0x580])  # lengths whose first bytes spell PROTO 2..5
def test_safetensors_header_length_spelling_pickle_proto_is_not_a_polyglot(tmp_path: Path, length: int) -> None:
    header = b'{"__metadata__": {}}'.ljust(length, b" ")
    assert scan_file(_write(tmp_path, "m.safetensors", struct.pack("<Q", length) + header)) == []


def test_keras_config_with_escaped_keys_is_still_parsed(tmp_path: Path) -> None:
    import json

    raw = json.dumps(craft.keras_config(True)).replace('"class_name"', '"cl\\u0061ss_name"')
    raw = raw.replace('"Lambda"', '"L\\u0061mbda"')
    p = tmp_path / "k.keras"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("config.json", raw)
        zf.writestr("metadata.json", "{}")
    assert "MLA-KERAS-LAMBDA" in _ids(scan_file(p))
    assert scan_file(_write(tmp_path, "broken.json", b"{not json")) == []
    assert "MLA-KERAS-LAMBDA" in _ids(scan_file(_write(tmp_path, "model.json", raw.encode())))


@pytest.mark.parametrize("tensor_count", [0x2E00, 0xDB4301])
def test_gguf_whose_header_happens_to_parse_as_a_data_pickle_is_not_a_polyglot(tmp_path: Path,
                                                                              tensor_count: int) -> None:
    """Every GGUF file starts with 'G' (pickle BINFLOAT); a tensor count whose second byte is '.' (STOP) makes the
    header a complete pickle of one float. Bytes that can import nothing are not a polyglot worth a finding."""
    data = bytearray(craft.gguf(craft.CHATML))
    data[8:16] = struct.pack("<Q", tensor_count)
    path = tmp_path / "model.gguf"
    path.write_bytes(bytes(data))
    ids = _ids(scan_file(path))
    assert "MLA-POLYGLOT" not in ids and not any(i.startswith("MLA-PICKLE") for i in ids)


def test_safetensors_header_length_reading_as_ext1_pickle_is_not_a_polyglot(tmp_path: Path) -> None:
    """Length 0x2E5782 starts the file with 0x82 (EXT1), 'W', '.' (STOP): a 'pickle' that imports nothing."""
    path = _write(tmp_path, "m.safetensors", craft.safetensors({}, b"", length=0x2E5782))
    ids = _ids(scan_file(path))
    assert ids == {"MLA-SAFETENSORS-INVALID"}


@pytest.mark.parametrize("dtype", [[], {}, ["F32"], 3.5])
def test_safetensors_non_string_dtype_is_invalid_not_a_crash(tmp_path: Path, dtype: object) -> None:
    path = _write(tmp_path, "m.safetensors", craft.safetensors({"w": {"dtype": dtype, "shape": [1],
                                                                      "data_offsets": [0, 4]}}, b"\0" * 4))
    assert _ids(scan_file(path)) == {"MLA-SAFETENSORS-INVALID"}


def test_a_scanner_bug_on_one_file_is_reported_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A parser crash on one hostile file: a finding and a skipped item for it, the other files still scanned."""
    from auditor.scan import dispatch, scan_paths

    real = dispatch.scan_stream

    def flaky(f, state, *, name="", size=None, role=None):  # type: ignore[no-untyped-def]
        if name == "bad.pt":
            raise TypeError("synthetic parser bug")
        return real(f, state, name=name, size=size, role=role)

    monkeypatch.setattr(dispatch, "scan_stream", flaky)
    _write(tmp_path, "bad.pt", b"\x80\x04N.")
    _write(tmp_path, "evil.pkl", b"cos\nsystem\n(S'true'\ntR.")
    result = scan_paths([tmp_path])
    by_file = {(Path(f.path or "").name, f.id) for f in result.findings}
    assert ("bad.pt", "MLA-SCAN-ERROR") in by_file and ("evil.pkl", "MLA-PICKLE-EXEC") in by_file
    assert [Path(s.file or "").name for s in result.skipped] == ["bad.pt"]

"""Hostile-input properties: whatever the bytes, the readers return findings or a documented result, never an
exception, and never hang (Hypothesis; ``pytest -m fuzz``)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.domain import Finding
from auditor.scan import scan_file_detailed
from auditor.scan.gguf_scan import template_issues
from auditor.scan.keras_scan import check_config
from auditor.scan.pickle_reader import read_pickle
from auditor.scan.state import Collector, ScanState
from auditor.scan.stream import ByteSource
from tests.scan import craft

EXAMPLES = int(os.environ.get("MLAUDIT_FUZZ_EXAMPLES", "10000"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
pytestmark = pytest.mark.fuzz

_OPS = st.sampled_from([b"(", b".", b"0", b"1", b"2", b"N", b"\x88", b"K\x01", b"J\x00\x00\x00\x80", b"]", b"}",
                        b")", b"t", b"\x85", b"\x86", b"\x87", b"a", b"e", b"s", b"u", b"R", b"b", b"\x81", b"\x92",
                        b"\x93", b"\x94", b"h\x00", b"q\x00", b"cos\nsystem\n", b"\x8c\x02os", b"\x8c\x06system",
                        b"\x82\x01", b"Q", b"\x8f", b"\x90", b"\x91", b"o", b"ios\nsystem\n", b"\x95" + b"\x00" * 8,
                        b"\x8e\xff\xff\xff\xff\xff\xff\xff\x7f", b"X\xff\xff\xff\x7f", b"\x80\x05", b"\x80\x09"])


def _scan_bytes(tmp_path: Path, name: str, data: bytes) -> list[Finding]:
    p = tmp_path / name
    p.write_bytes(data)
    collector = scan_file_detailed(p)
    return collector.findings


@FUZZ
@given(st.lists(_OPS, max_size=60), st.binary(max_size=64))
def test_pickle_reader_never_raises(ops: list[bytes], tail: bytes) -> None:
    data = b"".join(ops) + tail
    res = read_pickle(ByteSource(io.BytesIO(data)))
    assert res.complete or res.error
    assert res.end <= len(data)


@FUZZ
@given(st.binary(max_size=2048))
def test_scan_random_bytes_never_raises(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    d = tmp_path_factory.mktemp("fz")
    for name in ("m.pkl", "m.onnx", "saved_model.pb", "m.gguf", "m.safetensors"):
        findings = _scan_bytes(d, name, data)
        assert all(f.kind in ("unsafe-model", "pickle-model") for f in findings)


@FUZZ
@given(st.integers(0, 2 ** 64 - 1), st.binary(max_size=256), st.integers(0, 200))
def test_gguf_mutations(tmp_path_factory: pytest.TempPathFactory, value: int, junk: bytes, at: int) -> None:
    base = bytearray(craft.gguf(craft.CHATML))
    at = max(4, min(at, len(base) - 8))  # keep the magic: the file stays a GGUF file
    base[at:at + 8] = value.to_bytes(8, "little")
    findings = _scan_bytes(tmp_path_factory.mktemp("g"), "m.gguf", bytes(base) + junk)
    assert all(f.id.startswith("MLA-GGUF") for f in findings)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                     lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                     max_leaves=30)


@FUZZ
@given(st.dictionaries(st.text(max_size=10), _JSON, max_size=6), st.integers(0, 2 ** 64 - 1), st.binary(max_size=64))
def test_safetensors_header_fuzz(tmp_path_factory: pytest.TempPathFactory, header: dict[str, object], length: int,
                                 data: bytes) -> None:
    d = tmp_path_factory.mktemp("s")
    for ln in (None, length):
        findings = _scan_bytes(d, "m.safetensors", craft.safetensors(header, data, length=ln))
        assert all(f.id == "MLA-SAFETENSORS-INVALID" for f in findings)


@FUZZ
@given(_JSON, st.sampled_from(["Lambda", "Dense", "__lambda__", None]), st.text(max_size=30))
def test_keras_config_fuzz(config: object, cls: str | None, module: str) -> None:
    state = ScanState("m.h5", Collector())
    check_config({"class_name": cls, "module": module, "config": config}, state, "H5 model_config")
    check_config(config, state, "config.json")
    assert all(f.id.startswith("MLA-KERAS") for f in state.collector.findings)


@FUZZ
@given(st.text(max_size=200))
def test_chat_template_fuzz(template: str) -> None:
    for hit in template_issues(template):
        assert hit.severity and hit.what


@FUZZ
@given(st.binary(max_size=512), st.integers(0, 300))
def test_onnx_mutations(tmp_path_factory: pytest.TempPathFactory, junk: bytes, at: int) -> None:
    base = bytearray(craft.onnx_model(external_location="w.bin"))
    at = min(at, len(base))
    data = bytes(base[:at]) + junk + bytes(base[at:])
    findings = _scan_bytes(tmp_path_factory.mktemp("o"), "m.onnx", data)
    assert all(f.kind == "unsafe-model" for f in findings)


@FUZZ
@given(st.binary(max_size=256))
def test_h5_garbage(tmp_path_factory: pytest.TempPathFactory, junk: bytes) -> None:
    data = b"\x89HDF\r\n\x1a\n" + junk
    findings = _scan_bytes(tmp_path_factory.mktemp("h"), "m.h5", data)
    assert all(f.id in ("MLA-H5-INVALID",) for f in findings)
    json.dumps([f.to_json() for f in findings], default=str)


# Whole-archive scans cost far more per example than one parser call: a tenth of the budget keeps CI's fuzz job
# within its minutes.
FUZZ_ARCHIVES = settings(max_examples=max(EXAMPLES // 10, 50), deadline=None,
                         suppress_health_check=list(HealthCheck))


def _no_scanner_error(findings: list[Finding]) -> None:
    assert not [f for f in findings if f.id == "MLA-SCAN-ERROR"], [f.message for f in findings]


_TORCH_ZIP = craft.zip_bytes([("archive/data.pkl", craft.benign_state_dict()), ("archive/version", b"3\n"),
                              ("archive/data/0", b"\x00" * 16)])


@FUZZ_ARCHIVES
@given(st.lists(st.tuples(st.integers(0, len(_TORCH_ZIP) - 1), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(0, len(_TORCH_ZIP)))
def test_zip_byte_flips_and_truncation(tmp_path_factory: pytest.TempPathFactory, flips: list[tuple[int, int]],
                                       cut: int) -> None:
    """Damaged archives (any header field, flags, sizes, offsets, names) are read like loaders read them or
    reported invalid; the loader-like member reader never raises out of the scan."""
    data = bytearray(_TORCH_ZIP)
    for at, value in flips:
        data[at] = value
    _no_scanner_error(_scan_bytes(tmp_path_factory.mktemp("z"), "m.pt", bytes(data[: max(cut, 30)])))


@FUZZ_ARCHIVES
@given(st.binary(max_size=512), st.integers(0, 200))
def test_7z_and_zlib_mutations(tmp_path_factory: pytest.TempPathFactory, junk: bytes, at: int) -> None:
    from tests.security.payloads import seven_zip

    d = tmp_path_factory.mktemp("c")
    for name, base in (("m.7z", seven_zip("m.pkl", craft.benign_state_dict())),
                       ("m.joblib", __import__("zlib").compress(craft.sklearn_like(), 3))):
        cut = min(at, len(base))
        _no_scanner_error(_scan_bytes(d, name, base[:cut] + junk + base[cut:]))

"""The pickle reader and its verdicts, one bypass technique at a time (crafted opcode by opcode)."""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.domain import Finding, Severity
from auditor.scan import scan_file
from auditor.scan.pickle_reader import read_pickle
from auditor.scan.stream import ByteSource
from tests.scan import craft


def _scan(tmp_path: Path, data: bytes, name: str = "model.pkl") -> list[Finding]:
    p = tmp_path / name
    p.write_bytes(data)
    return scan_file(p)


def _worst(findings: list[Finding]) -> Severity | None:
    sev = [f.severity for f in findings if f.kind == "unsafe-model"]
    return max(sev, key=lambda s: s.rank) if sev else None


def _callables(findings: list[Finding]) -> set[str]:
    return {f.evidence.get("callable") for f in findings if f.evidence is not None and f.evidence.get("callable")}


PAYLOADS: dict[str, tuple[Callable[[Path], bytes], str]] = {
    "p0-global-reduce": (craft.os_system_p0, "os.system"),
    "p2-posix": (lambda s: craft.os_system_p2(s, "posix"), "posix.system"),
    "p2-nt": (lambda s: craft.os_system_p2(s, "nt"), "nt.system"),
    "p4-stack-global-exec": (craft.stack_global_exec, "builtins.exec"),
    "p4-stack-global-eval": (lambda s: craft.stack_global_exec(s, "eval"), "builtins.eval"),
    "stack-global-from-memo": (craft.memo_stack_global, "os.system"),
    "getattr-import-module": (craft.getattr_chain, "builtins.getattr"),
    "operator-attrgetter": (craft.attrgetter_chain, "operator.attrgetter"),
    "runpy": (craft.runpy_payload, "runpy._run_code"),
    "inst": (craft.inst_payload, "os.system"),
    "obj": (craft.obj_payload, "os.system"),
    "newobj-ex": (craft.newobj_ex_payload, "subprocess.Popen"),
    "memo-hidden-callable": (craft.memo_hidden_callable, "os.system"),
    "nested-pickle-loads": (craft.nested_loads, "pickle.loads"),
}


@pytest.mark.parametrize("technique", sorted(PAYLOADS))
def test_payloads_are_critical_with_exact_callable(technique: str, tmp_path: Path, sentinel: Path) -> None:
    build, expected = PAYLOADS[technique]
    findings = _scan(tmp_path, build(sentinel))
    assert _worst(findings) is Severity.CRITICAL
    assert expected in _callables(findings)
    exec_findings = [f for f in findings if f.id == "MLA-PICKLE-EXEC"]
    assert all(isinstance(f.evidence["offset"], int) and f.evidence["opcode"] for f in exec_findings)
    assert all(f.path == str(tmp_path / "model.pkl") for f in findings)


def test_memo_stack_global_resolves_strings_from_memo(sentinel: Path) -> None:
    res = read_pickle(ByteSource(io.BytesIO(craft.memo_stack_global(sentinel))))
    imports = [ev.target.qualname for ev in res.events if ev.kind == "import"]
    calls = [ev for ev in res.events if ev.kind == "call"]
    assert imports == ["os.system"]
    assert calls and calls[0].args == (f"touch {sentinel}",)
    assert res.complete


def test_nested_pickle_payload_is_reported_too(tmp_path: Path, sentinel: Path) -> None:
    findings = _scan(tmp_path, craft.nested_loads(sentinel))
    nested = [f for f in findings if f.evidence.get("callable") == "os.system"]
    assert nested and nested[0].evidence.get("nested") == 1


def test_getattr_chain_is_a_dynamic_call(tmp_path: Path, sentinel: Path) -> None:
    findings = _scan(tmp_path, craft.getattr_chain(sentinel))
    dyn = [f for f in findings if f.id == "MLA-PICKLE-DYNAMIC"]
    assert dyn and "import_module('os')" in dyn[0].evidence["callable"]
    assert dyn[0].severity is Severity.CRITICAL


def test_build_setstate_gadget_flagged_without_deny_list(tmp_path: Path, sentinel: Path) -> None:
    findings = _scan(tmp_path, craft.build_setstate_unknown_callable(sentinel))
    gadget = [f for f in findings if f.id == "MLA-PICKLE-BUILD-GADGET"]
    assert gadget and gadget[0].evidence["attribute"] == "__setstate__"
    assert gadget[0].severity is Severity.CRITICAL
    assert "mytools.helpers.run_anything" in _callables(findings)


def test_extension_codes_are_high(tmp_path: Path) -> None:
    findings = _scan(tmp_path, craft.ext_payload())
    ext = [f for f in findings if f.id == "MLA-PICKLE-EXT"]
    assert ext and ext[0].evidence["ext_code"] == 1 and ext[0].severity is Severity.HIGH


def test_unknown_callable_called_is_high_and_imported_class_is_medium(tmp_path: Path) -> None:
    called = _scan(tmp_path, craft.unknown_call())
    assert _worst(called) is Severity.HIGH
    assert "mypackage.utils.do_things" in _callables(called)
    instantiated = _scan(tmp_path, craft.global_("mypackage", "Net") + b")\x81.", name="b.pkl")
    assert _worst(instantiated) is Severity.MEDIUM


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_benign_data_every_protocol_is_clean(protocol: int, tmp_path: Path) -> None:
    data = {"vocab": {"a": 1, "b": 2}, "layers": [1, 2.5, "x", (1, 2)], "ordered": OrderedDict(a=1),
            "set": {1, 2}, "frozen": frozenset({3}), "bytes": b"\x00\x01", "none": None, "big": 2 ** 70}
    findings = _scan(tmp_path, pickle.dumps(data, protocol=protocol))
    assert _worst(findings) is None
    assert [f.id for f in findings] == ["MLA-PICKLE-FORMAT"] or not findings


def test_benign_torch_and_sklearn_layouts_are_clean(tmp_path: Path) -> None:
    assert _worst(_scan(tmp_path, craft.benign_state_dict())) is None
    assert _worst(_scan(tmp_path, craft.sklearn_like(), name="m.joblib")) is None


def test_trailing_pickle_after_stop_is_scanned(tmp_path: Path, sentinel: Path) -> None:
    data = pickle.dumps({"a": 1}, protocol=2) + craft.os_system_p2(sentinel)
    findings = _scan(tmp_path, data)
    assert "os.system" in _callables(findings)
    assert any(f.id == "MLA-PICKLE-TRAILING" and f.severity is Severity.MEDIUM for f in findings)
    trailing_exec = [f for f in findings if f.evidence.get("callable") == "os.system"]
    assert trailing_exec[0].evidence["pickle_index"] == 1


def test_truncated_stream_still_reports_what_ran_before(tmp_path: Path, sentinel: Path) -> None:
    data = craft.os_system_p2(sentinel)[:-1]  # no STOP: the call still happens before the loader fails
    findings = _scan(tmp_path, data)
    assert "os.system" in _callables(findings)
    assert any(f.id == "MLA-PICKLE-MALFORMED" for f in findings)


def test_long_bytes_are_skipped_not_held(tmp_path: Path) -> None:
    blob = b"\x00" * (3 << 20)
    data = craft.proto(4) + b"\x8e" + len(blob).to_bytes(8, "little") + blob + b"."
    res = read_pickle(ByteSource(io.BytesIO(data)))
    assert res.complete and type(res.value).__name__ == "Blob"
    assert _worst(_scan(tmp_path, data)) is None


def test_misleading_extension_is_judged_by_content(tmp_path: Path, sentinel: Path) -> None:
    for name in ("model.safetensors", "vocab.txt", "weights.json"):
        findings = _scan(tmp_path, craft.os_system_p0(sentinel), name=name)
        assert _worst(findings) is Severity.CRITICAL, name


def test_opcode_budget_gives_a_finding(tmp_path: Path) -> None:
    from auditor.scan.limits import Limits
    from auditor.scan.pickle_scan import scan_pickle_stream
    from auditor.scan.state import Collector, ScanState

    state = ScanState("x.pkl", Collector(), Limits(max_pickle_ops=50))
    data = craft.proto(2) + b"N0" * 100 + b"N."
    scan_pickle_stream(io.BytesIO(data), state)
    assert [f.id for f in state.collector.findings] == ["MLA-PICKLE-LIMIT"]


def _real_objects() -> dict[str, object]:
    import numpy as np

    objs: dict[str, object] = {
        "numpy-array": np.arange(6, dtype="float32").reshape(2, 3),
        "structured": np.zeros(2, dtype=[("a", "<f4"), ("b", "<i8")]),
        "object-array": np.array([{"a": 1}, [1, 2]], dtype=object),
        "scalar": np.float32(3.0),
        "generator": np.random.default_rng(0),
        "random-state": np.random.RandomState(0),
        "range": range(3),
        "exception": ValueError("bad input"),
    }
    try:
        import scipy.sparse as sp

        objs["csr"] = sp.csr_matrix(np.eye(3))
    except ImportError:  # pragma: no cover
        pass
    return objs


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_real_library_pickles_are_not_flagged(protocol: int, tmp_path: Path) -> None:
    """Objects dumped (never loaded) by the real libraries: only allow-listed callables, nothing flagged >= high."""
    for name, obj in _real_objects().items():
        findings = _scan(tmp_path, pickle.dumps(obj, protocol=protocol), name=f"{name}.pkl")
        worst = _worst(findings)
        if name == "exception":
            assert worst is Severity.HIGH, name  # not an ML data type, but not execution machinery either
        else:
            assert worst is None, (name, [(f.id, f.evidence) for f in findings])


def test_cloudpickled_function_is_critical(tmp_path: Path) -> None:
    cloudpickle = pytest.importorskip("cloudpickle")
    findings = _scan(tmp_path, cloudpickle.dumps(lambda x: x + 1), name="fn.pkl")
    assert _worst(findings) is Severity.CRITICAL


def test_payload_after_many_benign_calls_is_found(tmp_path: Path, sentinel: Path) -> None:
    """Events stream into the analysis: nothing is lost after the first thousands of calls."""
    benign = craft.global_("collections", "OrderedDict") + b"q\x00" + b"0"
    body = craft.proto(2) + benign + b"]" + (b"h\x00)Ra" * 30_000)
    payload = craft.global_("os", "system") + craft.binunicode(str(sentinel)) + b"\x85Ra."
    findings = _scan(tmp_path, body + payload)
    assert [f.evidence["callable"] for f in findings if f.id == "MLA-PICKLE-EXEC"] == ["os.system"]


def test_memo_eviction_keeps_indices_and_flags_unresolved_imports() -> None:
    from auditor.scan.limits import Limits
    from auditor.scan.pickle_scan import scan_pickle_stream
    from auditor.scan.state import Collector, ScanState

    # memo 0 = 'os' (kept); entries 1..5 dropped by the bound; memo 6 = 'system' (dropped) fetched for STACK_GLOBAL
    body = craft.sbu("os") + b"\x94" + b"".join(craft.sbu(f"t{i}") + b"\x94" + b"0" for i in range(5)) + b"0"
    body += craft.sbu("system") + b"\x94" + b"0" + b"h\x00h\x06\x93" + b")R."
    state = ScanState("x.pkl", Collector(), Limits(max_memo=1))
    scan_pickle_stream(io.BytesIO(craft.proto(4) + body), state)
    ids = [f.id for f in state.collector.findings]
    assert ids == ["MLA-PICKLE-LIMIT"]


def test_distinct_callable_findings_are_capped(tmp_path: Path) -> None:
    body = craft.proto(2) + b"]" + b"".join(craft.global_(f"pkg{i}", "f") + b")Ra" for i in range(700)) + b"."
    findings = _scan(tmp_path, body)
    assert len(findings) == 501
    assert findings[-1].id == "MLA-PICKLE-LIMIT" and findings[-1].evidence["not_itemised"] == 400

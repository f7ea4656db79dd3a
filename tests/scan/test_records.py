"""Issue 23, corpus class S2: severity follows the effect a load has. Record classes of I/O libraries (a cached
``requests`` response, its cookie jar and policy, openai<1 response objects) rebuilt through the unpickler's
default object path run nothing; a *call* of a function with effects (``requests.get``, ``socket``,
``urllib.request.urlopen``) stays critical, and so does any other use of a record class (calling it, walking to
its methods, ``BUILD`` on the class itself). Unknown classes reconstructed as data are medium, said as such.

Fixtures are pickles of live ``requests`` objects (plain data: ``pickle.dumps`` runs nothing of theirs) and bytes
written opcode by opcode."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import requests

from auditor.domain import Finding, Severity
from auditor.scan import scan_paths
from tests.scan import craft

S = craft.sbu


def _scan(tmp_path: Path, data: bytes, name: str = "cached.pkl") -> list[Finding]:
    path = tmp_path / name
    path.write_bytes(data)
    return scan_paths([path]).findings


def _response() -> requests.Response:
    """What an eval harness caches: a response with headers, cookies, the request it answered and elapsed time."""
    session = requests.Session()
    prepared = session.prepare_request(requests.Request("POST", "http://127.0.0.1:9/v1/logprob", json={"q": 1}))
    response = requests.Response()
    response._content = b'{"logprob": -10.28, "num_tokens": 1}'
    response.status_code = 200
    response.headers["Content-Type"] = "application/json"
    response.url = prepared.url or ""
    response.encoding = "utf-8"
    response.reason = "OK"
    response.request = prepared
    response.cookies.set("session", "abc", domain="127.0.0.1")
    return response


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_cached_requests_responses_are_data(tmp_path: Path, protocol: int) -> None:
    data = pickle.dumps({"prompt": "x", "response": _response(), "history": [_response()]}, protocol=protocol)
    findings = _scan(tmp_path, data)
    # before: critical MLA-PICKLE-EXEC "network access" for Response, CaseInsensitiveDict, RequestsCookieJar, ...
    assert findings == []  # and no pickle-format note: records and containers are no model (class S3)


def test_records_written_by_hand_every_reconstruction_path(tmp_path: Path) -> None:
    policy = craft.stack_global("http.cookiejar", "DefaultCookiePolicy")
    newobj = craft.proto(4) + policy + b")\x81}" + S("netscape") + b"\x88sb."
    newobj_ex = craft.proto(4) + craft.stack_global("requests.structures", "CaseInsensitiveDict") + b")}\x92}b."
    reconstructor = (craft.global_("copyreg", "_reconstructor") + b"(" + craft.global_("requests.cookies",
                     "RequestsCookieJar") + craft.global_("__builtin__", "object") + b"NtR(dp0\nb.")
    newobj_fn = (craft.proto(2) + craft.global_("copyreg", "__newobj__") + b"(" + craft.global_("requests.models",
                 "PreparedRequest") + b"tR}b.")
    openai = (craft.proto(4) + craft.reduce_call(craft.stack_global("openai.openai_object", "OpenAIObject"),
                                                 S("cmpl-1"), S(""), b"N", S("user-1"))
              + b"}" + S("object") + S("text_completion") + b"sb.")
    for i, data in enumerate([newobj, newobj_ex, reconstructor, newobj_fn, openai]):
        assert _scan(tmp_path, data, f"r{i}.pkl") == [], i


@pytest.mark.parametrize("payload", [
    craft.reduce_call(craft.stack_global("requests", "get"), S("http://127.0.0.1:9/x")),
    craft.reduce_call(craft.stack_global("requests.api", "request"), S("GET"), S("http://127.0.0.1:9/x")),
    craft.reduce_call(craft.stack_global("socket", "create_connection"), b"(" + S("127.0.0.1") + b"K\x09t"),
    craft.reduce_call(craft.stack_global("urllib.request", "urlopen"), S("http://127.0.0.1:9/x")),
    # requests.Session().get(url): the method is reached through getattr
    craft.reduce_call(craft.reduce_call(craft.stack_global("builtins", "getattr"),
                                        craft.reduce_call(craft.stack_global("requests.sessions", "Session")),
                                        S("get")), S("http://127.0.0.1:9/x")),
    # a record class called as a function rather than rebuilt
    craft.reduce_call(craft.stack_global("requests.models", "Response")),
    # an attribute walk from a record class to a method
    craft.reduce_call(craft.stack_global("requests.models", "Response.iter_content"), b"K\x01"),
    # a function of a record module is no record
    craft.reduce_call(craft.stack_global("requests.models", "get_auth_from_url"), S("http://u:p@127.0.0.1")),
    # BUILD on the class itself (the gadget that turns the next call into attacker code)
    craft.stack_global("requests.models", "Response") + b"}" + S("__reduce__") + S("x") + b"sb",
    # a session is machinery, even rebuilt as data
    craft.stack_global("requests.sessions", "Session") + b")\x81}b",
], ids=["requests.get", "requests.request", "socket", "urlopen", "session-get", "record-called", "record-walk",
        "record-module-function", "build-on-class", "session-rebuilt"])
def test_network_calls_stay_critical(tmp_path: Path, payload: bytes) -> None:
    findings = _scan(tmp_path, craft.proto(4) + payload + b".")
    assert max(f.severity.rank for f in findings) == Severity.CRITICAL.rank


def test_a_record_beside_a_payload_does_not_hide_it(tmp_path: Path, sentinel: Path) -> None:
    data = pickle.dumps(_response(), protocol=2)[:-1] + b"0" + craft.os_system_p2(sentinel)[2:]
    findings = _scan(tmp_path, data)
    assert [f.evidence["callable"] for f in findings if f.severity is Severity.CRITICAL] == ["os.system"]


def test_record_constructor_with_computed_arguments_is_not_data(tmp_path: Path) -> None:
    """openai<1 objects pickle as ``OpenAIObject(id, key, ...)`` with literal arguments; a computed argument is not
    that shape and keeps the unknown-callable verdict."""
    data = craft.proto(4) + craft.reduce_call(craft.stack_global("openai.openai_object", "OpenAIObject"),
                                              craft.reduce_call(craft.stack_global("mypkg", "fetch"))) + b"."
    findings = _scan(tmp_path, data)
    assert {f.evidence["callable"]: f.severity for f in findings} == {
        "openai.openai_object.OpenAIObject": Severity.HIGH, "mypkg.fetch": Severity.HIGH}


@pytest.mark.parametrize("data", [
    craft.proto(4) + craft.stack_global("mylib.records", "Row") + b")\x81}" + S("a") + b"K\x01sb.",
    craft.global_("copyreg", "_reconstructor") + b"(" + craft.global_("mylib.records", "Row")
    + craft.global_("__builtin__", "object") + b"NtR(dp0\nb.",
], ids=["newobj", "reconstructor"])
def test_unknown_class_reconstructed_as_data_is_medium(tmp_path: Path, data: bytes) -> None:
    [finding] = _scan(tmp_path, data)
    assert finding.severity is Severity.MEDIUM and finding.evidence["reconstructed"] is True
    assert "as data" in finding.message and "mylib.records.Row" in finding.message


def test_unknown_class_called_stays_high(tmp_path: Path) -> None:
    data = craft.proto(4) + craft.reduce_call(craft.stack_global("mylib.records", "Row"), S("x")) + b"."
    [finding] = _scan(tmp_path, data)
    assert finding.severity is Severity.HIGH and "reconstructed" not in finding.evidence

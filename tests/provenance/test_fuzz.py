"""Hostile index answers never crash the provenance code: only its documented outcomes come out."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.errors import NetworkError
from auditor.pkgindex import parse_html_page, parse_json_page
from auditor.provenance.verify import MalformedProvenance, Verification, verify_provenance

EXAMPLES = int(os.environ.get("MLAUDIT_FUZZ_EXAMPLES", "10000"))

_KEYS = st.sampled_from(["files", "filename", "url", "hashes", "sha256", "provenance", "core-metadata", "yanked",
                          "alpha-1.0.tar.gz", "alpha-1.0-py3-none-any.whl"]) | st.text(max_size=12)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.sampled_from(
        ["alpha-1.0.tar.gz", "alpha-1.0-py3-none-any.whl", "http://[::1", "//x", "#sha256=zz"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=20,
)
_href = st.sampled_from(["alpha-1.0.tar.gz#sha256=AB", "http://[bad", "#", "?x=1", "../../f/alpha-1.0-py3-none-any.whl",
                         "javascript:alert(1)", ""]) | st.text(max_size=30)
_anchor = st.builds(lambda h, p, t: f'<a href="{h}" data-provenance="{p}">{t}</a>', _href, _href,
                    st.text(max_size=30))
_html = st.lists(_anchor | st.text(max_size=40), max_size=6).map("".join)
_provenance_like = st.fixed_dictionaries({
    "version": st.sampled_from([1, 2, "1"]),
    "attestation_bundles": st.lists(st.fixed_dictionaries({
        "publisher": st.fixed_dictionaries({"kind": st.sampled_from(["GitHub", "GitLab", "Google", "x"]),
                                            "repository": st.text(max_size=10), "workflow": st.text(max_size=10)}),
        "attestations": st.lists(_json, max_size=2)}), max_size=2),
})


@pytest.mark.fuzz
@settings(max_examples=EXAMPLES, deadline=None)
@given(body=st.one_of(_json.map(json.dumps), _provenance_like.map(json.dumps), st.binary(max_size=64).map(
    lambda b: b.decode("latin-1"))))
def test_verify_never_crashes(body: str) -> None:
    try:
        result = verify_provenance(body.encode("utf-8", "surrogatepass"), "alpha-1.0.tar.gz", "ab" * 32)
    except MalformedProvenance:
        return
    assert isinstance(result, Verification)
    assert not result.ok  # nothing random is a valid signature over this digest


@pytest.mark.fuzz
@settings(max_examples=EXAMPLES, deadline=None)
@given(data=_json, html=_html)
def test_page_parsers_never_crash(data: object, html: str) -> None:
    try:
        files = parse_json_page(data, "http://127.0.0.1:1/simple/alpha/")
    except NetworkError:
        assert not isinstance(data, dict)
    else:
        assert all(f.filename and f.url for f in files)
    for entry in parse_html_page(html, "http://127.0.0.1:1/simple/alpha/"):
        assert entry.url.startswith("http")

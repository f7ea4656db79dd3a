"""Hugging Face org look-alikes: case is not a trick on the Hub, separators and look-alike letters are."""

from __future__ import annotations

import pytest

from auditor.typosquat import Detector, hf_detector


@pytest.fixture(scope="module")
def hf() -> Detector:
    return hf_detector()


@pytest.mark.parametrize(("org", "target", "technique"), [
    ("meta-Ilama", "meta-llama", "homoglyph/digit"),
    ("facebo0k", "facebook", "homoglyph/digit"),
    ("mistral-ai", "mistralai", "separator"),
    ("mistral_ai", "mistralai", "separator"),
    ("meta_llama", "meta-llama", "separator"),
    ("googIe", "google", "homoglyph/digit"),
    ("microsofft", "microsoft", "edit1"),
    ("stabilityai-official", "stabilityai", "prefix/suffix-combo"),
    ("openai-community-2", "openai-community", "prefix/suffix-combo"),
])
def test_lookalike_orgs_flagged_with_target(hf: Detector, org: str, target: str, technique: str) -> None:
    r = hf.check(org)
    assert r.flagged, r
    assert r.target is not None and r.target.lower() == target
    assert r.technique == technique


@pytest.mark.parametrize("org", ["META-LLAMA", "Meta-Llama", "FACEBOOK", "qwen", "HuggingFaceH4", "HuggingFaceM4",
                                 "hf-internal-testing", "sentence-transformers", "intfloat"])
def test_listed_orgs_and_case_variants_are_genuine(hf: Detector, org: str) -> None:
    r = hf.check(org)
    assert not r.flagged and r.target is None


def test_unrelated_org_is_clean(hf: Detector) -> None:
    assert not hf.check("my-little-research-group").flagged


def test_hf_allowlist() -> None:
    assert not hf_detector(["Mistral-AI"]).check("mistral-ai").flagged

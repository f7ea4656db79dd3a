"""Name-attack detection: PyPI typosquats, look-alike Hugging Face orgs (the dependency-confusion check lives in
``auditor.checks.confusion``).

Entry points: ``pypi_detector(allowlist)`` / ``hf_detector(allowlist)`` return a ``Detector`` whose
``check(name) -> TyposquatResult``; the expensive candidate index is built once per process and shared.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from auditor.typosquat.detector import FLAG_THRESHOLD, HIGH_THRESHOLD, Detector, TyposquatResult
from auditor.typosquat.index import CandidateIndex
from auditor.typosquat.popular import PopularList, default_hf_orgs, default_pypi

__all__ = [
    "FLAG_THRESHOLD",
    "HIGH_THRESHOLD",
    "Detector",
    "PopularList",
    "TyposquatResult",
    "hf_detector",
    "pypi_detector",
]


@functools.lru_cache(maxsize=1)
def _pypi_index() -> CandidateIndex:
    return CandidateIndex.build(default_pypi())


@functools.lru_cache(maxsize=1)
def _hf_index() -> CandidateIndex:
    return CandidateIndex.build(default_hf_orgs())


def pypi_detector(allowlist: Iterable[str] = ()) -> Detector:
    """Detector over the shipped top-PyPI list (``data/top_pypi.tsv``)."""
    index = _pypi_index()
    return Detector(index.popular, allowlist=allowlist, index=index)


def hf_detector(allowlist: Iterable[str] = ()) -> Detector:
    """Detector over the shipped Hugging Face org list (``data/hf_orgs.tsv``)."""
    index = _hf_index()
    return Detector(index.popular, allowlist=allowlist, index=index)

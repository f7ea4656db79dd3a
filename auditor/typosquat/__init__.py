"""Name-attack detection: PyPI typosquats, look-alike Hugging Face orgs (the dependency-confusion check lives in
``auditor.checks.confusion``).

Entry points: ``pypi_detector(allowlist)`` / ``hf_detector(allowlist)`` return a ``Detector`` whose
``check(name, context=None) -> TyposquatResult``; the candidate index is built once per process and shared, and
kept in mlaudit's cache between runs (``store``: rebuilt when the list or the code deriving it changes).
``NameContext`` carries what a caller knows about the candidate's own record (not on the index, first upload,
releases, links); ``apply_context`` is the pure function that moves a result's score with it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from auditor.resources import data_file
from auditor.typosquat import store
from auditor.typosquat.context import NameContext, apply_context
from auditor.typosquat.detector import Detector
from auditor.typosquat.index import CandidateIndex
from auditor.typosquat.popular import HF_ORGS_FILE, TOP_PYPI_FILE, PopularList, default_hf_orgs, default_pypi
from auditor.typosquat.result import FLAG_THRESHOLD, HIGH_THRESHOLD, TyposquatResult

__all__ = [
    "FLAG_THRESHOLD",
    "HIGH_THRESHOLD",
    "Detector",
    "NameContext",
    "PopularList",
    "TyposquatResult",
    "apply_context",
    "hf_detector",
    "pypi_detector",
]


@functools.lru_cache(maxsize=1)
def _pypi_index() -> CandidateIndex:
    return store.load_or_build("pypi", data_file(TOP_PYPI_FILE),
                               lambda: CandidateIndex.build(default_pypi(), edit_index=False))


@functools.lru_cache(maxsize=1)
def _hf_index() -> CandidateIndex:
    return store.load_or_build("hf", data_file(HF_ORGS_FILE), lambda: CandidateIndex.build(default_hf_orgs()))


def pypi_detector(allowlist: Iterable[str] = ()) -> Detector:
    """Detector over the shipped top-PyPI list (``data/top_pypi.tsv``)."""
    index = _pypi_index()
    return Detector(index.popular, allowlist=allowlist, index=index)


def hf_detector(allowlist: Iterable[str] = ()) -> Detector:
    """Detector over the shipped Hugging Face org list (``data/hf_orgs.tsv``)."""
    index = _hf_index()
    return Detector(index.popular, allowlist=allowlist, index=index)

"""The candidate indexes kept in the cache: loaded unchanged, rebuilt when stale or corrupt, safe when runs race."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from auditor.resources import data_file
from auditor.typosquat import store
from auditor.typosquat.detector import Detector
from auditor.typosquat.index import CandidateIndex
from auditor.typosquat.popular import HF_ORGS_FILE, TOP_PYPI_FILE, load_hf_orgs, load_pypi

NAMES = ["reqeusts", "numpyy", "python-dateutil2", "tensorflow-gpu-nightly", "scikit-learnn", "torchvison",
         "requests", "colorama", "pytorch-lightning-utils", "pydantic-core"]


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / store.FOLDER


def _counting(build: object) -> tuple[list[int], object]:
    calls: list[int] = []

    def wrapped() -> CandidateIndex:
        calls.append(1)
        return build()  # type: ignore[operator, no-any-return]

    return calls, wrapped


def _same(a: CandidateIndex, b: CandidateIndex) -> None:
    assert a.popular.keys == b.popular.keys and a.popular.rank_of == b.popular.rank_of
    assert a.popular.display == b.popular.display and a.popular.weights == b.popular.weights
    assert a.skeletons == b.skeletons and a.token_sets == b.token_sets and a.prefix_family == b.prefix_family
    assert a.vocab == b.vocab and a.chars == b.chars
    assert a.edit_index_built == b.edit_index_built and a.deletes == b.deletes and a.segments == b.segments


@pytest.mark.parametrize(("kind", "filename", "loader", "edit_index"),
                         [("pypi", TOP_PYPI_FILE, load_pypi, False), ("hf", HF_ORGS_FILE, load_hf_orgs, True)])
def test_a_stored_index_is_the_built_one(kind: str, filename: str, loader: object, edit_index: bool,
                                         cache: Path) -> None:
    def build() -> CandidateIndex:
        return CandidateIndex.build(loader(), edit_index=edit_index)  # type: ignore[operator]

    calls, counted = _counting(build)
    first = store.load_or_build(kind, data_file(filename), counted)
    second = store.load_or_build(kind, data_file(filename), counted)
    assert calls == [1]  # the second run read the cache
    assert len(list(cache.glob(f"{kind}-*.marshal"))) == 1
    _same(first, second)
    fresh, stored = Detector(first.popular, index=first), Detector(second.popular, index=second)
    for name in NAMES:
        assert stored.check(name) == fresh.check(name)


def test_a_changed_list_gets_a_new_index_and_the_old_one_goes(tmp_path: Path, cache: Path) -> None:
    source = tmp_path / "top.tsv"
    source.write_bytes(data_file(TOP_PYPI_FILE).read_bytes())
    calls, counted = _counting(lambda: CandidateIndex.build(load_pypi(source), edit_index=False))
    store.load_or_build("pypi", source, counted)
    source.write_bytes(source.read_bytes() + b"99999\tzz-new-project\t1\n")
    index = store.load_or_build("pypi", source, counted)
    assert calls == [1, 1] and "zz-new-project" in index.popular.rank_of
    assert len(list(cache.glob("pypi-*.marshal"))) == 1


@pytest.mark.parametrize("damage", [b"", b"not marshal at all", b"\xe3\x00\x00\x00"])
def test_a_corrupt_file_is_rebuilt_and_rewritten(damage: bytes, cache: Path) -> None:
    source = data_file(HF_ORGS_FILE)
    calls, counted = _counting(lambda: CandidateIndex.build(load_hf_orgs()))
    good = store.load_or_build("hf", source, counted)
    [path] = cache.glob("hf-*.marshal")
    path.write_bytes(damage + path.read_bytes()[: len(path.read_bytes()) // 3] if damage else b"")
    again = store.load_or_build("hf", source, counted)
    assert calls == [1, 1]
    _same(good, again)
    assert store.load_or_build("hf", source, counted) is not None and calls == [1, 1]  # the rewrite reads back


def test_an_unwritable_cache_only_costs_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(blocker))
    calls, counted = _counting(lambda: CandidateIndex.build(load_hf_orgs()))
    assert store.load_or_build("hf", data_file(HF_ORGS_FILE), counted).popular.keys
    assert calls == [1]


def test_racing_processes_each_get_a_whole_index(cache: Path) -> None:
    """Four processes build into an empty cache at once: each renames a complete file, every one reads back."""
    code = ("import sys; from auditor.typosquat import pypi_detector as d; "
            "print(len(d().popular), d().check('reqeusts').target)")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert len(set(outs)) == 1 and outs[0].endswith("requests")
    assert len(list(cache.glob("pypi-*.marshal"))) == 1

    def must_not_build() -> CandidateIndex:
        raise AssertionError("the stored index did not read back")

    assert store.load_or_build("pypi", data_file(TOP_PYPI_FILE), must_not_build).popular.keys


def test_looked_up_names_are_kept_for_the_next_run(cache: Path) -> None:
    """The next audit of the same names looks none up again, and gets the same answers."""
    def build() -> CandidateIndex:
        return CandidateIndex.build(load_pypi(), edit_index=False)

    first = store.load_or_build("pypi", data_file(TOP_PYPI_FILE), build)
    fresh = Detector(first.popular, index=first)
    fresh.prefetch(NAMES)
    expected = [fresh.check(n) for n in NAMES]
    second = store.load_or_build("pypi", data_file(TOP_PYPI_FILE), build)
    assert set(first.near_cache) <= set(second.near_cache)
    looked_up: list[str] = []
    second.on_prefetch = lambda found: looked_up.extend(found)
    again = Detector(second.popular, index=second)
    again.prefetch(NAMES)
    assert looked_up == []
    assert [again.check(n) for n in NAMES] == expected
    [answers] = cache.glob("pypi-*.near.marshal")
    answers.write_bytes(b"garbage")  # a damaged file is no answers, not wrong ones
    assert store.load_or_build("pypi", data_file(TOP_PYPI_FILE), build).near_cache == {}

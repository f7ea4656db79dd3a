"""Per-technique unit tests of the PyPI detector against the shipped popularity list (hand-picked names)."""

from __future__ import annotations

import pytest

from auditor.typosquat import FLAG_THRESHOLD, Detector, PopularList, TyposquatResult, pypi_detector
from auditor.typosquat.confusables import keyboard_adjacent, skeleton
from auditor.typosquat.index import CandidateIndex


@pytest.fixture(scope="module")
def det() -> Detector:
    return pypi_detector()


def flagged_as(det: Detector, name: str, target: str, technique: str) -> TyposquatResult:
    r = det.check(name)
    assert r.flagged, (name, r)
    assert r.target == target, (name, r)
    assert r.technique == technique, (name, r)
    assert FLAG_THRESHOLD <= r.score <= 1.0
    assert r.reasons and r.reasons[0].startswith(technique)
    return r


@pytest.mark.parametrize(("name", "target"), [("reqeusts", "requests"), ("djnago", "django"),
                                              ("cryptograpyh", "cryptography")])
def test_transposition(det: Detector, name: str, target: str) -> None:
    flagged_as(det, name, target, "transposition")


@pytest.mark.parametrize(("name", "target"), [("flaskk", "flask"), ("urlllib3", "urllib3"),
                                              ("cryptograhy", "cryptography")])
def test_edit1_doubled_or_dropped(det: Detector, name: str, target: str) -> None:
    flagged_as(det, name, target, "edit1")


@pytest.mark.parametrize(("name", "target"), [("pythondateutil", "python-dateutil"), ("scikitlearn", "scikit-learn"),
                                              ("charsetnormalizer", "charset-normalizer")])
def test_separator_tricks(det: Detector, name: str, target: str) -> None:
    flagged_as(det, name, target, "separator")


def test_separator_substitution_is_the_same_project(det: Detector) -> None:
    # PEP 503: '-', '_' and '.' are one name on the index, so this is not a different project at all
    r = det.check("Python_DateUtil")
    assert not r.flagged and "popular" in r.reasons[0]


@pytest.mark.parametrize(("name", "target", "detail"), [
    ("requ3sts", "requests", "'3' for 'e'"),
    ("nurnpy", "numpy", "'rn' for 'm'"),
    ("djang0", "django", "'0' for 'o'"),
    ("fIask", "flask", "capital 'I' for 'l'"),
    ("b0t0core", "botocore", "'0' for 'o'"),
])
def test_homoglyph_and_digit_swaps(det: Detector, name: str, target: str, detail: str) -> None:
    r = flagged_as(det, name, target, "homoglyph/digit")
    assert detail in r.reasons[0]


def test_unicode_confusables(det: Detector) -> None:
    cyrillic = det.check("r\u0435quests")  # Cyrillic small ie
    assert cyrillic.flagged and cyrillic.target == "requests" and cyrillic.technique == "homoglyph/digit"
    assert any("non-ASCII" in reason for reason in cyrillic.reasons)
    fullwidth = det.check("\uff4e\uff55\uff4d\uff50\uff59")  # fullwidth "numpy": NFKC folds it
    assert fullwidth.flagged and fullwidth.target == "numpy"


@pytest.mark.parametrize(("name", "target"), [("numpy-install", "numpy"), ("pandas-nightly", "pandas"),
                                              ("install-matplotlib", "matplotlib"), ("python-boto3", "boto3")])
def test_prefix_suffix_combos(det: Detector, name: str, target: str) -> None:
    flagged_as(det, name, target, "prefix/suffix-combo")


def test_repeated_version_digit(det: Detector) -> None:
    r = det.check("urllib33")
    assert r.flagged and r.target == "urllib3"


def test_version_digits_alone_are_weak(det: Detector) -> None:
    # '<name>2' style successors are common genuine projects: scored, not flagged
    r = det.check("flask7")
    assert not r.flagged


@pytest.mark.parametrize(("name", "target"), [("nacos-python-sdk", "nacos-sdk-python"),
                                              ("python-alipay-sdk", "alipay-sdk-python")])
def test_reordered_tokens(det: Detector, name: str, target: str) -> None:
    flagged_as(det, name, target, "other")


def test_py_python_swap(det: Detector) -> None:
    flagged_as(det, "py-dateutil", "python-dateutil", "other")


@pytest.mark.parametrize("name", ["requests-oauthlib", "types-requests", "torchvision", "pytest-cov", "flask-login",
                                  "boto3", "boto", "Flask_Login", "PyYAML"])
def test_known_genuine_neighbours(det: Detector, name: str) -> None:
    r = det.check(name)
    assert not r.flagged and r.target is None


@pytest.mark.parametrize("name", ["flask-frobnicate", "pytest-frobnicator", "types-frobnicate", "django-widgetry",
                                  "sphinx-quuxdoc"])
def test_plugin_family_names_are_not_combosquats(det: Detector, name: str) -> None:
    assert not det.check(name).flagged


def test_reordering_meaningful_words_is_not_a_squat(det: Detector) -> None:
    # Re-ordering counts only when affix words move; two real words swapped is another project.
    assert not det.check("requests-toolbelt").flagged
    r = det.check("toolbelt-requests")
    assert not (r.flagged and r.technique == "other")


def test_allowlist(det: Detector) -> None:
    assert det.check("reqeusts").flagged
    allowed = pypi_detector(["Reqeusts"])
    r = allowed.check("reqeusts")
    assert not r.flagged and r.reasons == ["allowlisted by policy"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 300, "\u65e5\u672c\u8a9e", "bad name!", "\x1b[31mred", "-", "..."])
def test_bad_names_never_crash(det: Detector, name: str) -> None:
    r = det.check(name)
    assert r.name == name
    assert isinstance(r.flagged, bool) and 0.0 <= r.score <= 1.0
    assert r.reasons


def test_result_json_shape(det: Detector) -> None:
    doc = det.check("reqeusts").to_json()
    assert list(doc) == ["name", "flagged", "target", "score", "reasons"]


def test_popularity_gap_on_a_small_list() -> None:
    # A listed name is genuine whatever it resembles; a target far down the list weighs less than a top one.
    popular = PopularList(kind="pypi")
    for i, name in enumerate(["alphabetical", "zebrafishes", "alphabetica"]):
        popular.add(name, name, 1000 - i)
    small = Detector(popular, index=CandidateIndex.build(popular))
    assert not small.check("alphabetica").flagged  # listed itself
    r = small.check("zebrafihses")
    assert r.flagged and r.target == "zebrafishes"


def test_skeleton_and_keyboard_helpers() -> None:
    assert skeleton("Req-U3sts") == skeleton("requests")
    assert skeleton("meta-Ilama") == skeleton("meta-llama")
    assert skeleton("rnodel") == skeleton("model")
    assert keyboard_adjacent("q", "w") and keyboard_adjacent("g", "b") and not keyboard_adjacent("q", "p")


def test_index_finds_distance_two_without_full_scan(det: Detector) -> None:
    ids = det.index.within_two("cryptogrpahyy")
    assert det.popular.rank_of["cryptography"] - 1 in ids


def test_split_separator_flags_only_the_most_attacked_names(det: Detector) -> None:
    # splitting a name into its words is also how genuine alternatives are named: flagged for top-300 targets,
    # scored (so metadata signals can lift it) but not flagged further down the list
    top = det.check("url-lib3")
    assert top.flagged and top.target == "urllib3" and top.technique == "separator"
    lower = det.check("multiple-dispatch")
    assert not lower.flagged and lower.technique == "separator" and lower.score > 0.3


def test_edit2_swap_plus_edit_on_long_names(det: Detector) -> None:
    r = det.check("cryptogrpahyy")
    assert r.flagged and r.target == "cryptography" and r.technique == "edit2"


def test_edit2_needs_two_squat_like_edits(det: Detector) -> None:
    # two ordinary word changes on a long name are not enough
    r = det.check("cryptogravhx")
    assert not r.flagged


def test_metadata_boost_lifts_a_weak_candidate_but_never_creates_one(det: Detector) -> None:
    weak = det.check("multiple-dispatch")
    lifted = det.check("multiple-dispatch", boost=0.2, boost_reasons=["metadata: single release"])
    assert lifted.flagged and lifted.score > weak.score and "metadata: single release" in lifted.reasons
    nothing = det.check("zqxjv-frobnicator", boost=0.3, boost_reasons=["metadata: x"])
    assert not nothing.flagged and nothing.score == 0.0


def test_random_inputs_never_crash(det: Detector) -> None:
    import random

    rng = random.Random(1234)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_. IlO\u0430\u0435\u043e\uff41\u00e9\x00\x1b/\\"
    for _ in range(1500):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        r = det.check(name)
        assert 0.0 <= r.score <= 1.0 and isinstance(r.reasons, list)
        assert not r.flagged or r.target is not None

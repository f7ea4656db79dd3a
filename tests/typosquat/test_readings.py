"""The pieces under the detector: the edit alignment, the candidate index, the learned affix vocabulary, the
character model, and the fitted model file (hand-built inputs, brute-force comparisons)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from rapidfuzz.distance import OSA

from auditor.errors import InputError
from auditor.typosquat.affixes import AffixClass, AffixVocabulary, classify
from auditor.typosquat.edits import OpKind, align
from auditor.typosquat.features import FEATURES
from auditor.typosquat.index import EDIT2_MIN_LEN, CandidateIndex
from auditor.typosquat.naturalness import CharModel
from auditor.typosquat.popular import PopularList, default_pypi
from auditor.typosquat.scoring import parse_model, read_score_model


def test_alignment_agrees_with_osa_distance() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        a = "".join(rng.choice("abcd-") for _ in range(rng.randint(0, 9)))
        b = "".join(rng.choice("abcd-") for _ in range(rng.randint(0, 9)))
        ops = align(a, b)
        d = OSA.distance(a, b)
        assert (ops is None) == (d > 2), (a, b)
        if ops is not None:
            assert len(ops) == d, (a, b, ops)


def test_alignment_names_the_edits() -> None:
    ops = align("requests", "reqest")
    assert ops is not None and [op.kind for op in ops] == [OpKind.DEL, OpKind.DEL]
    swap = align("requests", "reqeusts")
    assert swap is not None and swap[0].kind is OpKind.SWAP and swap[0].describe() == "'ue' swapped to 'eu'"
    slip = align("pillow", "p8llow")
    assert slip is not None and slip[0].keyboard and slip[0].digit
    look = align("py-cord", "py-c0rd")
    assert look is not None and look[0].lookalike
    doubled = align("flask", "flaask")
    assert doubled is not None and doubled[0].doubled


def _small_list(names: list[str]) -> PopularList:
    popular = PopularList(kind="pypi")
    for i, name in enumerate(names):
        popular.add(name, name, 10_000 - i)
    return popular


def test_index_matches_brute_force_on_random_names() -> None:
    rng = random.Random(11)
    letters = "abcdefg"
    names = sorted({"".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(400)})
    idx = CandidateIndex.build(_small_list(names))
    checked = 0
    for _ in range(300):
        base = rng.choice(names)
        q = list(base)
        for _ in range(rng.randint(0, 2)):  # one or two random edits (no swaps: see the next test)
            p = rng.randrange(len(q) + 1)
            kind = rng.choice("sid")
            if kind == "s" and p < len(q):
                q[p] = rng.choice(letters)
            elif kind == "i":
                q.insert(p, rng.choice(letters))
            elif q and p < len(q):
                del q[p]
        query = "".join(q)
        expected = {}
        for i, key in enumerate(names):
            d = OSA.distance(query, key)
            if key != query and (d == 1 or (d == 2 and CandidateIndex._edit2_allowed(query, key))):
                expected[i] = d
        assert idx.near(query) == expected, query
        checked += 1
    assert checked == 300


def test_index_prefetch_gives_the_same_answers() -> None:
    popular = default_pypi()
    lazy = CandidateIndex.build(popular, edit_index=False)
    eager = CandidateIndex.build(popular)
    queries = ["reqeusts", "colorama", "pyinstalers", "cryptogrpahyy", "py-cordx", "nump", "zzzzzz"]
    lazy.prefetch(queries)
    for q in queries:
        assert lazy.near(q) == eager.near(q), q
    assert not lazy.edit_index_built


def test_two_edits_only_for_longer_names() -> None:
    idx = CandidateIndex.build(_small_list(["abcde", "abcdefgh"]))
    assert idx.near("abxye") == {}  # two edits of a five-letter name: too little of it left
    assert idx.near("abxyefgh") == {1: 2}
    assert EDIT2_MIN_LEN == 6


def test_affix_vocabulary_is_learned_from_the_list() -> None:
    popular = _small_list(["alpha", "alpha-core", "beta", "beta-core", "gamma", "gammacore", "delta", "delta-zeta",
                           "omega", "omega-client", "omegaclient2"])
    vocab = AffixVocabulary.learn(popular)
    assert vocab.count("core") >= 2  # added to alpha, beta (and glued to gamma)
    assert vocab.count("zeta") == 0  # once only: a word, not an affix
    assert classify("core", vocab, popular) is AffixClass.AFFIX
    assert classify("zeta", vocab, popular) is AffixClass.WORD
    assert classify("v3", vocab, popular) is AffixClass.VERSION
    assert classify("python", vocab, popular) is AffixClass.PY_MARKER
    assert classify("nightly", vocab, popular) is AffixClass.RELEASE


def test_affixes_after_a_plugin_family_head_are_not_learned() -> None:
    names = ["fam", *[f"fam-{w}" for w in ("one", "two", "three", "four", "five")], "one", "two", "base",
             "base-two"]
    vocab = AffixVocabulary.learn(_small_list(names))
    # fam- heads five listed names: fam-one is a plugin named "one", not fam plus an affix "one"
    assert vocab.separated.get("one", 0) == 0


def test_character_model_prefers_words_to_slips() -> None:
    model = CharModel.learn(["requests", "request", "quest", "pillow", "willow", "yellow", "follow", "hollow"])
    assert model.log_likelihood("pillow") > model.log_likelihood("pilkqw")
    assert model.log_likelihood("requests") > model.log_likelihood("reqxzsts")


def test_shipped_model_covers_every_feature() -> None:
    model = read_score_model()
    assert set(model.coefficients) == set(FEATURES)
    assert "fitted" in model.meta and "data" in model.meta


def test_model_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "model.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_score_model(bad)
    assert str(bad) in str(info.value.file)
    with pytest.raises(InputError):
        parse_model({"coefficients": {"no_such_feature": 1.0}, "intercept": 0}, "x.json")
    with pytest.raises(InputError):
        parse_model({"coefficients": [1.0], "intercept": 0}, "x.json")
    with pytest.raises(InputError):
        parse_model({"coefficients": {"log_rank": float("nan")}, "intercept": 0}, "x.json")
    missing = tmp_path / "absent.json"
    with pytest.raises(InputError):
        read_score_model(missing)
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({"coefficients": {"log_rank": -1.0}, "intercept": 2.0}), encoding="utf-8")
    assert read_score_model(ok).log_odds({"log_rank": 1.0}) == 1.0

"""The words a project name adds to another name, learned from the popularity list itself.

Combosquats add a word to a popular name (``requests-latest``, ``cryptographylib``, ``pythonhttpx``); genuine
projects do the same (``requests-oauthlib``, ``boto3-stubs``, ``pytest-cov``). Which added words are *generic*
(carry no meaning of their own beyond the base name) is read from how the popular projects are named: a token
counts as an affix in proportion to how many distinct popular names it is added to, with or without a separator
(``-core`` on 61 bases, ``-client`` on 29, glued ``py-`` on 62, ``aio-`` on 19). Nothing here comes from a list of
attack names; the scoring model decides how much each class of added word weighs.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from enum import Enum

from auditor.typosquat.popular import PopularList

MIN_BASES = 2  # an added token seen on fewer distinct popular bases is just a word, not a learned affix
FAMILY_HEAD_MIN = 5  # a first token shared by this many listed names heads a plugin family
MAX_AFFIX_LEN = 12
GLUED_MIN_CORE = 4  # a glued split needs a base of at least four characters (``py`` + ``yaml`` is not learned)

_VERSION_RE = re.compile(r"^(v?\d+([._-]?\d+)*|\d+[a-z]?)$")
PY_MARKERS = frozenset({"py", "python", "py3", "python3", "py2", "python2", "pypi"})

# Words that describe a release or an install step, not a feature. Popular projects rarely put them in a name
# (so the list cannot teach them), yet they are the words that make "the same project, newer/official" credible.
# They are a class of their own (the model weighs it) and, where an affix count is needed, count as
# ``RELEASE_WORD_COUNT`` bases.
RELEASE_WORDS = frozenset({
    "install", "installer", "setup", "nightly", "latest", "update", "updated", "upgrade", "official", "stable",
    "release", "new", "fixed", "patched", "secure", "full", "free", "real", "original", "fork", "pro", "plus",
})
RELEASE_WORD_COUNT = 30


class AffixClass(str, Enum):
    """What kind of word a name adds to its base name (ordered from most to least squat-like by construction
    of the features; the fitted model gives each its weight)."""

    VERSION = "version"  # digits or v-digits: requests2, httpx-v3
    PY_MARKER = "py-marker"  # py, python, py3: python-requests, stripepy
    RELEASE = "release"  # words about a release or install step: -latest, -nightly, install-
    AFFIX = "affix"  # a learned generic affix: -core, -client, -lib, -dev, -utils
    POPULAR = "popular"  # another popular project's name: requests-redis
    WORD = "word"  # any other word (the name says something of its own)


def tokens_of(key: str) -> list[str]:
    return [t for t in re.split(r"[-_.]+", key) if t]


def is_version_token(token: str) -> bool:
    return bool(_VERSION_RE.match(token))


@dataclass
class AffixVocabulary:
    """Token -> number of distinct popular base names it is added to (separated, glued)."""

    separated: dict[str, int] = field(default_factory=dict)
    glued: dict[str, int] = field(default_factory=dict)

    @classmethod
    def learn(cls, popular: PopularList) -> AffixVocabulary:
        listed = popular.rank_of
        heads: dict[str, int] = defaultdict(int)
        for key in popular.keys:
            toks = tokens_of(key)
            if len(toks) >= 2:
                heads[toks[0]] += 1
        sep_bases: dict[str, set[str]] = defaultdict(set)
        glued_bases: dict[str, set[str]] = defaultdict(set)
        for key in popular.keys:
            toks = tokens_of(key)
            for cut in range(1, len(toks)):
                head, tail = toks[:cut], toks[cut:]
                head_name, tail_name = "-".join(head), "-".join(tail)
                if head_name in listed and len(tail) <= 2 and heads[head[0]] < FAMILY_HEAD_MIN:
                    # <base>-<tok>: an affix; but after a plugin family's head (django-, pytest-) it is the
                    # plugin's own word (django-redis), not an affix
                    for t in tail:
                        sep_bases[t].add(head_name)
                if tail_name in listed and len(head) <= 2:
                    for t in head:
                        sep_bases[t].add(tail_name)
            for tok_pos, tok in enumerate(toks):
                if not (tok_pos == 0 or tok_pos == len(toks) - 1):
                    continue
                rest_before = toks[:tok_pos]
                rest_after = toks[tok_pos + 1:]
                for cut in range(2, len(tok) - 1):
                    left, right = tok[:cut], tok[cut:]
                    if tok_pos == len(toks) - 1:  # glued suffix: <base><affix>
                        base = "-".join([*rest_before, left])
                        if len(left) >= GLUED_MIN_CORE and base in listed:
                            glued_bases[right].add(base)
                    if tok_pos == 0:  # glued prefix: <affix><base>
                        base = "-".join([right, *rest_after])
                        if len(right) >= GLUED_MIN_CORE and base in listed:
                            glued_bases[left].add(base)
        vocab = cls()
        for table, source in ((vocab.separated, sep_bases), (vocab.glued, glued_bases)):
            for tok, bases in source.items():
                if len(bases) >= MIN_BASES and len(tok) <= MAX_AFFIX_LEN and not is_version_token(tok):
                    table[tok] = len(bases)
        return vocab

    def count(self, token: str) -> int:
        """Distinct popular bases the token is added to, separated or glued (the larger); release words count as
        ``RELEASE_WORD_COUNT``."""
        learned = max(self.separated.get(token, 0), self.glued.get(token, 0))
        return max(learned, RELEASE_WORD_COUNT) if token in RELEASE_WORDS else learned

    def glued_count(self, token: str) -> int:
        """Bases the token is glued to; two-letter pieces (``er``, ``io``) are word endings, not affixes."""
        if len(token) < 3:
            return 0
        return max(self.glued.get(token, 0), self.count(token))


def classify(token: str, vocab: AffixVocabulary, popular: PopularList) -> AffixClass:
    if is_version_token(token):
        return AffixClass.VERSION
    if token in PY_MARKERS:
        return AffixClass.PY_MARKER
    if token in RELEASE_WORDS:
        return AffixClass.RELEASE
    if vocab.count(token) >= MIN_BASES:
        return AffixClass.AFFIX
    if token in popular.rank_of and len(token) >= 4:
        return AffixClass.POPULAR
    return AffixClass.WORD

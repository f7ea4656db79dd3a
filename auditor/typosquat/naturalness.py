"""How natural a name reads as a project name: a character trigram model learned from the popular names.

Genuine projects near a popular name are made of words (``multiparty``, ``timelake``, ``json-lines``); a typing
slip or a squatter's edit usually leaves letter sequences no project name has (``py-cofd``, ``bip-utjls``,
``coloramqs``). The *drop* in log-likelihood from the popular name to the candidate is therefore a feature that
separates the two without any list of attack names: the model is learned from the popular list alone.

Interpolated trigram / bigram / unigram estimates with fixed weights; ``^`` and ``$`` mark the ends.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

_WEIGHTS = (0.6, 0.3, 0.1)
_FLOOR = 1e-4  # probability mass for characters never seen in that position at all


@dataclass
class CharModel:
    trigrams: Counter[str] = field(default_factory=Counter)
    bigrams: Counter[str] = field(default_factory=Counter)
    contexts2: Counter[str] = field(default_factory=Counter)  # two-character contexts of trigrams
    contexts1: Counter[str] = field(default_factory=Counter)  # one-character contexts of bigrams
    unigrams: Counter[str] = field(default_factory=Counter)
    total: int = 0

    @classmethod
    def learn(cls, names: Iterable[str]) -> CharModel:
        m = cls()
        padded = [f"^^{name}$" for name in names]
        m.trigrams.update(s[i - 2:i + 1] for s in padded for i in range(2, len(s)))
        # every position gives one trigram, one bigram (its last two characters) and one unigram (its last)
        for gram, n in m.trigrams.items():
            m.contexts2[gram[:2]] += n
            m.bigrams[gram[1:]] += n
            m.unigrams[gram[2]] += n
        for gram, n in m.bigrams.items():
            m.contexts1[gram[0]] += n
        m.total = sum(m.unigrams.values())
        return m

    def log_likelihood(self, name: str) -> float:
        """Natural log of the name's probability under the model (ends included)."""
        s = f"^^{name}$"
        w3, w2, w1 = _WEIGHTS
        total = 0.0
        for i in range(2, len(s)):
            c2 = self.contexts2.get(s[i - 2:i], 0)
            c1 = self.contexts1.get(s[i - 1], 0)
            p3 = self.trigrams.get(s[i - 2:i + 1], 0) / c2 if c2 else 0.0
            p2 = self.bigrams.get(s[i - 1:i + 1], 0) / c1 if c1 else 0.0
            p1 = self.unigrams.get(s[i], 0) / self.total if self.total else 0.0
            total += math.log(w3 * p3 + w2 * p2 + w1 * p1 + _FLOOR)
        return total

"""Candidate indexes over a popularity list, so one name costs a few dictionary look-ups, not 15,000 comparisons.

- ``exact``: the comparison key itself (a listed name is genuine by definition).
- ``skeleton``: look-alike form (separators, case, homoglyphs) -> names; equal skeletons = separator/homoglyph trick.
- ``deletes``: symmetric deletion neighbourhood (every name and each one-character deletion of it). Two strings
  at OSA distance 1 (one insertion, deletion, substitution or adjacent swap) always share an entry.
- ``segments``: pigeonhole partition index for distance 2 on long names: split a name of length L into three
  segments; a string within two edits keeps one segment intact, shifted by at most two positions.
  Both edit indexes are built on first use only: an audit of a few hundred names asks ``prefetch`` instead, one
  vectorised distance matrix (rapidfuzz ``cdist``), which is ~15x cheaper than building the indexes per process.
- ``token_sets``: multi-token names by their sorted token multiset (``py`` read as ``python``), for re-orderings.
- ``prefix_family`` / ``suffix_family``: how many listed names start with ``tok-`` / end with ``-tok``; a token that
  heads many listed names is a plugin family (``pytest-``, ``types-``), learned from the list itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz.distance import OSA

from auditor.typosquat.confusables import skeleton
from auditor.typosquat.popular import PopularList

EDIT2_MIN_LEN = 7


def tokens_of(key: str) -> list[str]:
    return [t for t in key.replace("_", "-").replace(".", "-").split("-") if t]


def token_set_key(tokens: list[str]) -> tuple[str, ...]:
    return tuple(sorted("python" if t == "py" else t for t in tokens))


def _partitions(length: int) -> list[tuple[int, int]]:
    """(start, size) of the three near-equal segments of a string of ``length``."""
    base, extra = divmod(length, 3)
    out: list[tuple[int, int]] = []
    start = 0
    for i in range(3):
        size = base + (1 if i < extra else 0)
        out.append((start, size))
        start += size
    return out


@dataclass
class CandidateIndex:
    popular: PopularList
    skeletons: dict[str, list[int]] = field(default_factory=dict)
    deletes: dict[str, list[int]] = field(default_factory=dict)
    segments: dict[tuple[int, int, str], list[int]] = field(default_factory=dict)
    token_sets: dict[tuple[str, ...], list[int]] = field(default_factory=dict)
    prefix_family: Counter[str] = field(default_factory=Counter)
    suffix_family: Counter[str] = field(default_factory=Counter)
    token_freq: Counter[str] = field(default_factory=Counter)
    near: dict[str, tuple[frozenset[int], frozenset[int]]] = field(default_factory=dict)  # prefetched answers
    edit_index_built: bool = False

    @classmethod
    def build(cls, popular: PopularList) -> CandidateIndex:
        idx = cls(popular=popular)
        for i, key in enumerate(popular.keys):
            idx.skeletons.setdefault(skeleton(key), []).append(i)
            toks = tokens_of(key)
            if len(toks) >= 2:
                idx.token_sets.setdefault(token_set_key(toks), []).append(i)
                idx.prefix_family[toks[0]] += 1
                idx.suffix_family[toks[-1]] += 1
            for t in set(toks):
                idx.token_freq[t] += 1
        return idx

    def _build_edit_index(self) -> None:
        for i, key in enumerate(self.popular.keys):
            seen = {key}
            self.deletes.setdefault(key, []).append(i)
            for p in range(len(key)):
                d = key[:p] + key[p + 1:]
                if d not in seen:
                    seen.add(d)
                    self.deletes.setdefault(d, []).append(i)
            if len(key) >= EDIT2_MIN_LEN:
                for s, (start, size) in enumerate(_partitions(len(key))):
                    self.segments.setdefault((len(key), s, key[start:start + size]), []).append(i)
        self.edit_index_built = True

    def prefetch(self, queries: Iterable[str]) -> None:
        """Answer ``within_one``/``within_two`` for a batch of keys with one distance matrix (same results)."""
        todo = [q for q in dict.fromkeys(queries) if q and q not in self.near]
        if not todo or self.edit_index_built:
            return
        import numpy as np  # only here: importing it costs ~0.2 s of every run's start-up
        from rapidfuzz import process

        keys = self.popular.keys
        matrix = process.cdist(todo, keys, scorer=OSA.distance, score_cutoff=2, dtype=np.int32, workers=-1)
        for q, row in zip(todo, matrix, strict=True):
            ones: set[int] = set()
            twos: set[int] = set()
            for i in np.flatnonzero(row <= 2).tolist():
                if row[i] == 1:
                    ones.add(i)
                elif row[i] == 2 and len(keys[i]) >= EDIT2_MIN_LEN and abs(len(keys[i]) - len(q)) <= 2:
                    twos.add(i)
            self.near[q] = (frozenset(ones), frozenset(twos))

    def within_one(self, q: str) -> set[int]:
        """Ids of listed names at OSA distance exactly 1 (insertion, deletion, substitution, adjacent swap)."""
        if q in self.near:
            return set(self.near[q][0])
        if not self.edit_index_built:
            self._build_edit_index()
        found: set[int] = set()
        variants = {q, *(q[:p] + q[p + 1:] for p in range(len(q)))}
        for v in variants:
            found.update(self.deletes.get(v, ()))
        keys = self.popular.keys
        return {i for i in found if keys[i] != q and OSA.distance(q, keys[i], score_cutoff=1) == 1}

    def within_two(self, q: str) -> set[int]:
        """Ids of listed names (length >= EDIT2_MIN_LEN) at OSA distance exactly 2."""
        if q in self.near:
            return set(self.near[q][1])
        if not self.edit_index_built:
            self._build_edit_index()
        found: set[int] = set()
        n = len(q)
        for length in range(max(EDIT2_MIN_LEN, n - 2), n + 3):
            for s, (start, size) in enumerate(_partitions(length)):
                for shift in range(-2, 3):
                    a = start + shift
                    if a < 0 or a + size > n:
                        continue
                    found.update(self.segments.get((length, s, q[a:a + size]), ()))
        keys = self.popular.keys
        return {i for i in found if OSA.distance(q, keys[i], score_cutoff=2) == 2}

    def is_family_head(self, token: str, minimum: int) -> bool:
        return self.prefix_family[token] >= minimum

    def is_family_tail(self, token: str, minimum: int) -> bool:
        return self.suffix_family[token] >= minimum

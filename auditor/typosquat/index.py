"""Candidate indexes over a popularity list, so one name costs a few dictionary look-ups, not 15,000 comparisons.

- ``skeletons``: look-alike form (separators, case, homoglyphs) -> names; equal skeletons = separator/homoglyph trick.
- ``deletes``: symmetric deletion neighbourhood of the names shorter than ``EDIT2_MIN_LEN`` (every name and each
  one-character deletion of it). Two strings at OSA distance 1 (one insertion, deletion, substitution or adjacent
  swap) always share an entry.
- ``segments``: pigeonhole partition index for the longer names, at one or two edits: split a name of length L
  into three segments; a string within two edits keeps one segment intact, shifted by at most two positions (the
  first and last segments stay anchored at the ends). Two adjacent swaps that straddle both segment borders are
  missed: a rare shape (10 of 3,372 dev-name pairs within two edits, none a labelled target).
- ``token_sets``: multi-token names by their sorted token multiset (``py`` read as ``python``), for re-orderings.
- ``prefix_family``: how many listed names start with ``tok-`` (or ``tok-tok-``...); a prefix that heads many listed
  names is a plugin family (``pytest-``, ``types-``, ``opentelemetry-instrumentation-``), learned from the list.
- ``vocab``: the affix vocabulary learned from how popular names extend each other (``affixes.py``).
- ``chars``: a character trigram model of the popular names (``naturalness.py``).

An audit of many names can call ``prefetch`` instead of using the edit indexes: each name is scored against the
listed names of a close length in one native rapidfuzz call, which answers the same questions without building them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rapidfuzz import process
from rapidfuzz.distance import OSA

from auditor.typosquat.affixes import AffixVocabulary, tokens_of
from auditor.typosquat.confusables import skeleton
from auditor.typosquat.naturalness import CharModel
from auditor.typosquat.popular import PopularList

EDIT2_MIN_LEN = 6  # two edits on a shorter name leave too little of it to say what it imitates
FAMILY_MIN = 5  # listed names sharing a first token before that token counts as a plugin family

__all__ = ["EDIT2_MIN_LEN", "FAMILY_MIN", "CandidateIndex", "token_set_key", "tokens_of"]


def token_set_key(tokens: list[str]) -> tuple[str, ...]:
    return tuple(sorted("python" if t == "py" else t for t in tokens))


def _partitions(length: int) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(start, size) of the three near-equal segments of a string of ``length``."""
    if length < len(_PARTITIONS):
        return _PARTITIONS[length]
    return _make_partitions(length)


def _make_partitions(length: int) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    base, extra = divmod(length, 3)
    sizes = [base + (1 if i < extra else 0) for i in range(3)]
    return (0, sizes[0]), (sizes[0], sizes[1]), (sizes[0] + sizes[1], sizes[2])


_PARTITIONS = [_make_partitions(n) for n in range(256)]


@dataclass
class CandidateIndex:
    popular: PopularList
    skeletons: dict[str, list[int]] = field(default_factory=dict)
    deletes: dict[str, list[int]] = field(default_factory=dict)
    segments: dict[int, tuple[dict[str, list[int]], dict[str, list[int]], dict[str, list[int]]]] = field(
        default_factory=dict)  # name length -> (first, middle, last segment -> ids)
    token_sets: dict[tuple[str, ...], list[int]] = field(default_factory=dict)
    prefix_family: Counter[str] = field(default_factory=Counter)
    vocab: AffixVocabulary = field(default_factory=AffixVocabulary)
    chars: CharModel = field(default_factory=CharModel)
    _natural: dict[int, float] = field(default_factory=dict)  # target id -> its log-likelihood (computed on use)
    near_cache: dict[str, dict[int, int]] = field(default_factory=dict)  # prefetched answers
    _by_length: dict[int, list[int]] = field(default_factory=dict)  # name length -> ids (for prefetch)
    _windows: dict[int, tuple[list[int], list[str]]] = field(default_factory=dict)
    edit_index_built: bool = False
    # told each batch of answers ``prefetch`` computed (``store`` keeps them for the next run)
    on_prefetch: Callable[[dict[str, dict[int, int]]], None] | None = None

    @classmethod
    def build(cls, popular: PopularList, *, edit_index: bool = True) -> CandidateIndex:
        """All indexes; ``edit_index=False`` leaves the two edit indexes to be built on first use (a caller that
        will ``prefetch`` its whole batch never needs them)."""
        idx = cls(popular=popular, vocab=AffixVocabulary.learn(popular), chars=CharModel.learn(popular.keys))
        for i, key in enumerate(popular.keys):
            idx.skeletons.setdefault(skeleton(key), []).append(i)
            toks = tokens_of(key)
            if len(toks) >= 2:
                idx.token_sets.setdefault(token_set_key(toks), []).append(i)
                idx.prefix_family[toks[0]] += 1
                for k in range(2, len(toks)):  # deeper heads: opentelemetry-instrumentation-, google-cloud-
                    idx.prefix_family["-".join(toks[:k])] += 1
        if edit_index:
            idx._build_edit_index()
        return idx

    def _build_edit_index(self) -> None:
        deletes = self.deletes
        segments = self.segments
        for i, key in enumerate(self.popular.keys):
            n = len(key)
            if n < EDIT2_MIN_LEN:  # longer names are found (at one edit too) through their segments
                deletes.setdefault(key, []).append(i)
                previous = ""
                for p in range(n):
                    if key[p] == previous:
                        continue  # deleting either letter of a doubled pair gives the same string
                    previous = key[p]
                    deletes.setdefault(key[:p] + key[p + 1:], []).append(i)
            else:
                tables = segments.get(n)
                if tables is None:
                    tables = segments[n] = ({}, {}, {})
                for s, (start, size) in enumerate(_partitions(n)):
                    tables[s].setdefault(key[start:start + size], []).append(i)
        self.edit_index_built = True

    def prefetch(self, queries: Iterable[str]) -> None:
        """Answer ``near`` for a batch of keys by scoring each against the listed names of a close length in one
        native call (exact OSA distances; same results as the indexes, without building them)."""
        todo = [q for q in dict.fromkeys(queries) if q and q not in self.near_cache]
        if not todo or self.edit_index_built:
            return
        keys = self.popular.keys
        for q in todo:
            ids, names = self._length_window(len(q))
            found: dict[int, int] = {}
            for _name, dist, j in process.extract(q, names, scorer=OSA.distance, score_cutoff=2, limit=None):
                i = ids[j]
                if dist == 1 or (dist == 2 and self._edit2_allowed(q, keys[i])):
                    found[i] = int(dist)
            self.near_cache[q] = found
        if self.on_prefetch is not None:
            self.on_prefetch({q: self.near_cache[q] for q in todo})

    def _length_window(self, length: int) -> tuple[list[int], list[str]]:
        """Ids and names of the listed names within two characters of ``length`` (no name further away in length is
        within two edits), built once per length."""
        window = self._windows.get(length)
        if window is None:
            if not self._by_length:
                for i, key in enumerate(self.popular.keys):
                    self._by_length.setdefault(len(key), []).append(i)
            ids = [i for n in range(length - 2, length + 3) for i in self._by_length.get(n, ())]
            window = self._windows[length] = (ids, [self.popular.keys[i] for i in ids])
        return window

    @staticmethod
    def _edit2_allowed(q: str, target: str) -> bool:
        return len(target) >= EDIT2_MIN_LEN and len(q) >= EDIT2_MIN_LEN - 1 and abs(len(target) - len(q)) <= 2

    def near(self, q: str) -> dict[int, int]:
        """Listed names within OSA distance 2 of ``q`` (distance 2 only for names of ``EDIT2_MIN_LEN``+): id ->
        distance. ``q`` itself (when listed) is not included."""
        cached = self.near_cache.get(q)
        if cached is not None:
            return dict(cached)
        if not self.edit_index_built:
            self._build_edit_index()
        keys = self.popular.keys
        found: dict[int, int] = {}
        ones: set[int] = set()
        deletes = self.deletes
        if len(q) <= EDIT2_MIN_LEN:  # only names shorter than EDIT2_MIN_LEN are in ``deletes``
            for v in {q, *(q[:p] + q[p + 1:] for p in range(len(q)))}:
                hit = deletes.get(v)
                if hit:
                    ones.update(hit)
        for i in ones:
            if keys[i] != q and OSA.distance(q, keys[i], score_cutoff=1) == 1:
                found[i] = 1
        n = len(q)
        if n >= EDIT2_MIN_LEN - 1:
            twos: set[int] = set()
            for length in range(max(EDIT2_MIN_LEN, n - 2), n + 3):
                tables = self.segments.get(length)
                if tables is None:
                    continue
                first, middle, last = tables
                (_s0, size0), (start1, size1), (_s2, size2) = _partitions(length)
                # an intact first segment sits at 0 and an intact last one at the end; only the middle one moves
                hit = first.get(q[:size0])
                if hit:
                    twos.update(hit)
                if n >= size2:
                    hit = last.get(q[n - size2:])
                    if hit:
                        twos.update(hit)
                for a in range(max(0, start1 - 2), min(start1 + 2, n - size1) + 1):
                    hit = middle.get(q[a:a + size1])
                    if hit:
                        twos.update(hit)
            twos.difference_update(found)
            if twos:
                ids = list(twos)
                for _key, dist, pos in process.extract(q, [keys[i] for i in ids], scorer=OSA.distance,
                                                       score_cutoff=2, limit=None):
                    i = ids[pos]
                    if dist == 1 or (dist == 2 and self._edit2_allowed(q, keys[i])):
                        found[i] = dist
        return found

    def target_log_likelihood(self, target: int) -> float:
        cached = self._natural.get(target)
        if cached is None:
            cached = self._natural[target] = self.chars.log_likelihood(self.popular.keys[target])
        return cached

    def is_family_head(self, token: str, minimum: int = FAMILY_MIN) -> bool:
        return self.prefix_family[token] >= minimum

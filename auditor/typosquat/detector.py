"""Does a name imitate a popular one? Several weak signals, each explained, combined into one 0-1 score.

Why not one edit-distance threshold: legitimate projects sit at distance 1 of popular ones all the time
(``contextlib3``, ``flask-logins``), while attackers favour a few mechanical edits (adjacent swaps, doubled or
dropped letters, look-alike characters, separator games, generic affixes such as ``-install`` or ``python-``).
So each candidate target gets a weight from *how* the name differs, then popularity adjusts it:

- a name that is itself in the popular list is genuine (never flagged; it may be more popular than any "target");
- a more popular target is a likelier target (rank factor); very short targets collide by chance (length factor);
- plugin families are learned from the list: a token that starts many listed names (``pytest-``, ``types-``,
  ``flask-``) marks ``<token>-<word>`` as ordinary plugin naming, not a combosquat;
- a name close to several popular names at once is probably an ordinary word, not aimed at one of them.

Scores >= ``FLAG_THRESHOLD`` are flagged; >= ``HIGH_THRESHOLD`` are high severity (see data/README.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import OSA, Levenshtein

from auditor.domain import canonical_name
from auditor.typosquat.confusables import (
    SEPARATORS,
    fold_unicode,
    is_homoglyph_pair,
    keyboard_adjacent,
    skeleton,
    strip_separators,
)
from auditor.typosquat.index import EDIT2_MIN_LEN, CandidateIndex, token_set_key, tokens_of
from auditor.typosquat.popular import PopularList

FLAG_THRESHOLD = 0.5
HIGH_THRESHOLD = 0.8
MAX_NAME_LENGTH = 200
FAMILY_MIN = 5  # listed names sharing a first token before that token counts as a plugin family

_PYPI_NAME_RE = re.compile(r"^([a-z0-9]|[a-z0-9][a-z0-9._-]*[a-z0-9])$", re.IGNORECASE)
_HF_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$", re.IGNORECASE)

# Affixes attackers add to a popular name. "strong": words that describe no feature ("install", "nightly");
# "generic": words that are also normal in genuine wrappers ("-sdk", "-api"), so they count less and not at all
# when the target is a plugin family.
STRONG_AFFIXES = frozenset({
    "install", "installer", "setup", "nightly", "official", "latest", "update", "updated", "upgrade", "secure",
    "free", "full", "real", "original",
})
GENERIC_AFFIXES = frozenset({
    "py", "python", "python3", "py3", "dev", "lib", "sdk", "api", "core", "client", "cli", "tool", "tools", "utils",
    "util", "package", "pkg", "module", "plus", "new", "pro", "fix", "fixed", "patched", "v2", "v3",
})
HF_AFFIXES = frozenset({
    "ai", "hf", "official", "team", "org", "inc", "labs", "lab", "research", "models", "model", "community",
    "huggingface", "llm", "ml", "io", "dev", "real",
})


@dataclass
class TyposquatResult:
    name: str  # as given
    flagged: bool
    target: str | None = None
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)
    technique: str | None = None
    target_rank: int | None = None
    candidate: str | None = None  # the nearest popular name even when not flagged (for metadata look-ups)

    def to_json(self) -> dict[str, Any]:
        """Exactly the CONVENTIONS.md shape for ``mlaudit typosquat --format json``."""
        return {"name": self.name, "flagged": self.flagged, "target": self.target, "score": self.score,
                "reasons": list(self.reasons)}


@dataclass
class _Candidate:
    target: int
    base: float
    technique: str
    reasons: list[str]
    edit_based: bool = True


def _quote(ch: str) -> str:
    return repr(ch)


class Detector:
    """Typosquat detector over one popularity list (PyPI projects or HF orgs).

    ``mode="pypi"`` compares PEP 503 names (separators ``-_.`` are one project); ``mode="hf"`` compares
    lower-cased org names (case is not significant on the Hub, but ``-``/``_``/``.`` are distinct names).
    """

    def __init__(self, popular: PopularList, *, allowlist: Iterable[str] = (), index: CandidateIndex | None = None):
        self.popular = popular
        self.mode = popular.kind
        self.index = index or CandidateIndex.build(popular)
        self.allowlist = {self._key(a) for a in allowlist if a.strip()}

    # -- normalisation -------------------------------------------------------------------------------------------
    def _key(self, name: str) -> str:
        name = name.strip()
        return canonical_name(name) if self.mode == "pypi" else name.lower()

    def _valid(self, name: str) -> bool:
        regex = _PYPI_NAME_RE if self.mode == "pypi" else _HF_NAME_RE
        return bool(regex.match(name))

    # -- public API ----------------------------------------------------------------------------------------------
    def prefetch(self, names: Iterable[str]) -> None:
        """Batch the edit-distance look-ups of ``names`` before calling ``check`` on each (same answers, faster)."""
        keys: list[str] = []
        for name in names:
            stripped = name.strip()
            if stripped and len(stripped) <= MAX_NAME_LENGTH:
                keys.append(self._key(fold_unicode(stripped)))
        self.index.prefetch(keys)

    def check(self, name: str, *, boost: float = 0.0, boost_reasons: list[str] | None = None) -> TyposquatResult:
        """Score one name. Never raises on odd input: empty/too long/non-ASCII names get an explained result.

        ``boost`` (from metadata signals) raises an existing candidate's score; it never creates one.
        """
        given = name
        stripped = name.strip()
        if not stripped:
            return TyposquatResult(given, False, reasons=["empty name: nothing to compare"])
        if len(stripped) > MAX_NAME_LENGTH:
            return TyposquatResult(given, False, reasons=[
                f"name is {len(stripped)} characters long (limit {MAX_NAME_LENGTH}); not a plausible package name, "
                "not compared"])
        notes: list[str] = []
        folded = stripped
        if not stripped.isascii():
            folded = fold_unicode(stripped)
            notes.append("contains non-ASCII characters (not a valid name on the index/Hub; read with look-alikes "
                         "mapped to Latin letters)")
        key = self._key(folded)
        if not folded.isascii() or not self._valid(folded):
            if not notes:
                notes.append("not a valid name (allowed: letters, digits, '-', '_', '.')")
        if key in self.allowlist:
            return TyposquatResult(given, False, reasons=["allowlisted by policy", *notes])
        if key in self.popular and not notes:
            rank = self.popular.rank_of[key]
            return TyposquatResult(given, False, reasons=[f"is itself a popular name (rank {rank})"])
        best = self._best_candidate(key, folded, stripped, exact_unicode=bool(notes) and key in self.popular)
        if best is None:
            return TyposquatResult(given, False, reasons=notes or ["no popular name nearby"])
        rank = best.target + 1
        score = best.base
        reasons = list(best.reasons)
        if boost and score >= 0.3:
            score = min(1.0, score + boost)
            reasons.extend(boost_reasons or [])
        score = round(max(0.0, min(1.0, score)), 3)
        flagged = score >= FLAG_THRESHOLD
        display = self.popular.display[best.target]
        return TyposquatResult(
            name=given, flagged=flagged, target=display if flagged else None,
            score=score, reasons=[*reasons, *notes], technique=best.technique,
            target_rank=rank, candidate=display,
        )

    # -- candidate generation ------------------------------------------------------------------------------------
    def _best_candidate(self, key: str, folded: str, original: str, *, exact_unicode: bool) -> _Candidate | None:
        cands: list[_Candidate] = []
        if exact_unicode:
            i = self.popular.rank_of[key] - 1
            cands.append(_Candidate(i, 0.95, "homoglyph/digit",
                                    ["homoglyph/digit: Unicode look-alike characters spell a popular name"], False))
        cands.extend(self._skeleton_candidates(key, original))
        cands.extend(self._edit_candidates(key))
        cands.extend(self._token_candidates(key))
        if not cands:
            return None
        ambiguous = len({c.target for c in cands if c.edit_based})
        best: _Candidate | None = None
        best_score = -1.0
        for c in cands:
            score = c.base * self._popularity_factor(c, key)
            if c.edit_based and ambiguous >= 3:
                score *= 0.8
            if score > best_score + 1e-9 or (abs(score - best_score) <= 1e-9 and best and c.target < best.target):
                best, best_score = c, score
        assert best is not None
        if best.edit_based and ambiguous >= 3:
            best.reasons.append(f"close to {ambiguous} popular names at once (less likely aimed at one)")
        best.base = best_score
        rank = best.target + 1
        best.reasons.append(f"target is rank {rank} of {len(self.popular)}")
        return best

    def _popularity_factor(self, c: _Candidate, key: str) -> float:
        rank = c.target + 1
        target = self.popular.keys[c.target]
        letters = sum(ch.isalpha() for ch in target)
        # Attackers aim at what people install: the further down the list, the likelier a chance resemblance.
        if rank <= 1000:
            f = 1.0
        elif rank <= 3000:
            f = 0.9
        elif rank <= 8000:
            f = 0.8
        else:
            f = 0.75
        if c.edit_based:
            letters = self._distinct_letters(key, target, letters)
            f *= 0.4 if letters <= 3 else 0.6 if letters == 4 else 0.8 if letters == 5 else 1.0
        else:
            f *= 0.6 if letters <= 3 else 0.9 if letters == 4 else 1.0
        return f

    def _distinct_letters(self, key: str, target: str, letters: int) -> int:
        """Letters outside a shared plugin-family head: ``pytest-pudb`` vs ``pytest-pdb`` is a 4-letter comparison."""
        toks = tokens_of(target)
        mine = tokens_of(key)
        if len(toks) >= 2 and mine and mine[0] == toks[0] and self.index.is_family_head(toks[0], FAMILY_MIN):
            return letters - sum(ch.isalpha() for ch in toks[0])
        return letters

    def _skeleton_candidates(self, key: str, original: str) -> list[_Candidate]:
        out: list[_Candidate] = []
        skel = skeleton(original)
        for i in self.index.skeletons.get(skel, ()):
            target = self.popular.keys[i]
            if target == key:
                continue
            if strip_separators(key) == strip_separators(target):
                diff = "joined" if len(strip_separators(key)) == len(key) else "different separators"
                base = 0.8 if self.mode == "hf" else 0.7
                if len(key) > len(target):
                    diff = "extra separator"
                    if self.mode == "pypi":
                        # json-schema / white-noise: splitting a name into its words is how many genuine
                        # alternatives are named; on its own (without metadata signals) it stays below the flag.
                        # The most attacked names (top 300) keep a flagging weight.
                        base = 0.52 if i < 300 else 0.48
                out.append(_Candidate(i, base, "separator",
                                      [f"separator: same letters as '{self.popular.display[i]}' with {diff}"], False))
                continue
            detail = _lookalike_detail(original, self.popular.display[i])
            out.append(_Candidate(i, 0.9, "homoglyph/digit",
                                  [f"homoglyph/digit: reads as '{self.popular.display[i]}' ({detail})"], False))
        return out

    def _edit_candidates(self, key: str) -> list[_Candidate]:
        out: list[_Candidate] = []
        for i in self.index.within_one(key):
            c = self._explain_edit(key, i)
            if c is not None:
                out.append(c)
        if not out and len(key) >= EDIT2_MIN_LEN - 2:
            for i in self.index.within_two(key):
                c = self._explain_edit(key, i)
                if c is not None:
                    out.append(c)
        return out

    def _explain_edit(self, key: str, i: int) -> _Candidate | None:
        target = self.popular.keys[i]
        osa = OSA.distance(key, target)
        lev = Levenshtein.distance(key, target)
        if osa == 1 and lev == 2:
            p = next(j for j in range(len(key)) if key[j] != target[j])
            return _Candidate(i, 0.9, "transposition",
                              [f"transposition: '{target[p:p + 2]}' swapped to '{key[p:p + 2]}'"])
        if lev == 1:
            w, technique, why = _op_weight(Levenshtein.editops(target, key)[0], target, key)
            if technique == "separator":
                return None  # explained (with word-boundary awareness) by the skeleton index
            return _Candidate(i, w, technique, [f"{technique}: {why}"])
        if osa == 2 and len(target) >= EDIT2_MIN_LEN:
            ops: list[Any] = list(Levenshtein.editops(target, key)) if lev == 2 else []
            if not ops:  # OSA 2 but Levenshtein 3: an adjacent swap plus one more edit
                w = 0.55 if len(target) >= 10 else 0.45
                return _Candidate(i, w, "edit2", ["edit2: an adjacent swap plus another edit"])
            parts = [_op_weight(op, target, key) for op in ops]
            if any(p[1] == "separator" for p in parts) and all(p[1] in ("separator", "homoglyph/digit") for p in parts):
                return None  # the skeleton index already explains these
            if min(p[0] for p in parts) < 0.6:
                return None  # two edits, one of them an ordinary word change: too weak to call
            w = sum(p[0] for p in parts) / len(parts) * (0.8 if len(target) >= 9 else 0.65)
            return _Candidate(i, w, "edit2", ["edit2: " + "; ".join(p[2] for p in parts)])
        return None

    def _token_candidates(self, key: str) -> list[_Candidate]:
        """Combosquats (generic affixes, version digits, popular+popular), re-ordered tokens, py/python swaps."""
        out: list[_Candidate] = []
        toks = tokens_of(key)
        rank_of = self.popular.rank_of
        sep = "-" if self.mode == "pypi" else None

        def lookup(tokens: list[str]) -> int | None:
            if not tokens:
                return None
            joined = "-".join(tokens) if sep else None
            if joined and joined in rank_of and joined != key:
                return rank_of[joined] - 1
            return None

        affixes = HF_AFFIXES if self.mode == "hf" else STRONG_AFFIXES | GENERIC_AFFIXES
        # 1. strip affixes from either end (one or more), e.g. install-pytest, pylint-py, microsoft-ai
        for lo in range(0, min(3, len(toks))):
            for hi in range(len(toks), max(lo, len(toks) - 3), -1):
                if lo == 0 and hi == len(toks):
                    continue
                core = toks[lo:hi]
                removed = toks[:lo] + toks[hi:]
                if not core or not all(t in affixes or t.isdigit() for t in removed):
                    continue
                tgt = self._lookup_core(core)
                if tgt is None:
                    continue
                out.append(self._combo(i=tgt, removed=removed, head=lo > 0, tail=hi < len(toks)))
        # 2. glued affixes: pyrequests / requestspy / requests2 / progressbar22
        head = toks[0] if toks else ""
        for prefix in ("python", "py"):
            if head.startswith(prefix) and len(head) > len(prefix) + 2:
                tgt = lookup([head[len(prefix):], *toks[1:]])
                if tgt is not None and not self.popular.keys[tgt].startswith(prefix):
                    out.append(_Candidate(tgt, 0.45, "prefix/suffix-combo", [
                        f"prefix/suffix-combo: '{self.popular.keys[tgt]}' with '{prefix}' glued in front"], False))
        tail = toks[-1] if toks else ""
        m = re.match(r"^(.*?[a-z])(\d+)$", tail)
        if m and len(toks) >= 1:
            stem, digits = m.group(1), m.group(2)
            for cut in range(1, len(digits) + 1):
                tgt = lookup([*toks[:-1], stem + digits[:-cut]] if cut < len(digits) else [*toks[:-1], stem])
                if tgt is not None:
                    target = self.popular.keys[tgt]
                    repeated = target[-1:].isdigit() and set(digits[len(digits) - cut:]) == {target[-1]}
                    w = 0.75 if repeated else 0.42
                    why = (f"repeats the version digit of '{target}'" if repeated
                           else f"'{target}' plus version-like digits '{digits[len(digits) - cut:]}'")
                    out.append(_Candidate(tgt, w, "prefix/suffix-combo", [f"prefix/suffix-combo: {why}"], False))
                    break
        # 3. popular name + another common word (not when the word heads a family of its own)
        if self.mode == "pypi" and len(toks) == 2:
            for pos in (0, 1):
                word, other = toks[pos], toks[1 - pos]
                tgt = lookup([word])
                if tgt is None or len(word) < 5 or other in affixes or other.isdigit():
                    continue
                if pos == 1 and self.index.is_family_head(other, FAMILY_MIN):
                    continue  # types-requests, django-redis: the first token is a plugin family
                if pos == 0 and self.index.is_family_head(word, FAMILY_MIN):
                    continue  # flask-kombu: a plugin of the first token
                if self.index.token_freq[other] < 20 or tgt >= 1000:
                    continue
                out.append(_Candidate(tgt, 0.45, "prefix/suffix-combo",
                                      [f"prefix/suffix-combo: '{self.popular.keys[tgt]}' plus the common word '{other}'"],
                                      False))
        # 4. re-ordered tokens and py/python swaps
        if len(toks) >= 2:
            for i in self.index.token_sets.get(token_set_key(toks), ()):
                target = self.popular.keys[i]
                if target == key or not _same_core_order(toks, tokens_of(target), affixes):
                    continue
                if tokens_of(target) == [("python" if t == "py" else t) for t in toks] or sorted(
                        tokens_of(target)) == sorted(toks) and tokens_of(target) != toks:
                    technique_why = ("other", f"re-ordered tokens of '{target}'")
                else:
                    technique_why = ("other", f"py/python swapped relative to '{target}'")
                out.append(_Candidate(i, 0.75, technique_why[0], [f"{technique_why[0]}: {technique_why[1]}"], False))
        swapped = [("python" if t == "py" else "py" if t == "python" else t) for t in toks]
        if swapped != toks:
            for variant in (swapped, [t for t in swapped if t not in ("py", "python")]):
                tgt = lookup(variant)
                if tgt is not None and tgt not in {c.target for c in out}:
                    out.append(_Candidate(tgt, 0.7, "other", [f"other: py/python swap of '{self.popular.keys[tgt]}'"],
                                          False))
        return out

    def _lookup_core(self, core: list[str]) -> int | None:
        rank_of = self.popular.rank_of
        if self.mode == "pypi":
            joined = "-".join(core)
            return rank_of[joined] - 1 if joined in rank_of else None
        for sep in ("-", "", "_", "."):
            joined = sep.join(core)
            if joined in rank_of:
                return rank_of[joined] - 1
        return None

    def _combo(self, *, i: int, removed: list[str], head: bool, tail: bool) -> _Candidate:
        target = self.popular.keys[i]
        words = [t for t in removed if not t.isdigit()]
        strong = any(t in STRONG_AFFIXES for t in words)
        python_added = any(t in ("py", "python", "python3", "py3") for t in words) and not (
            {"py", "python"} & set(tokens_of(target)))
        if self.mode == "hf":
            w = 0.75
        elif strong:
            w = 0.8
        elif python_added and not words[1:]:
            w = 0.65 if head else 0.55  # python-<target> / <target>-py: the classic pattern
            if tail and self.index.is_family_head(tokens_of(target)[0], FAMILY_MIN) and len(tokens_of(target)) > 1:
                w = 0.4  # pytest-docker-py: a plugin's own name variant
        else:
            w = 0.45  # -sdk / -api / -utils alone are ordinary wrapper names; metadata signals may raise it
        if not words:
            w = 0.75 if self.mode == "hf" else 0.42  # version digits: normal for packages, not for org names
        w -= 0.03 * (len(removed) - 1)  # the fewest added words is the likeliest reading
        where = "prefix" if head and not tail else "suffix" if tail and not head else "prefix and suffix"
        return _Candidate(i, w, "prefix/suffix-combo",
                          [f"prefix/suffix-combo: '{self.popular.display[i]}' with added {where} "
                           f"{', '.join(repr(t) for t in removed)}"], False)


def _op_weight(op: Any, target: str, name: str) -> tuple[float, str, str]:
    """Weight of one edit (target -> name): the edits typists and squatters make score high, meaningful ones low."""
    tag = op.tag
    if tag == "insert":
        p = op.dest_pos
        ch = name[p]
        left = name[p - 1] if p > 0 else ""
        right = name[p + 1] if p + 1 < len(name) else ""
        if ch in SEPARATORS:
            return 0.55, "separator", f"extra separator {_quote(ch)}"
        if ch.isdigit():
            if ch in (left, right):
                return 0.75, "edit1", f"repeated digit {_quote(ch)}"
            return 0.35, "edit1", f"added digit {_quote(ch)}"
        if ch in (left, right):
            return 0.9, "edit1", f"doubled letter {_quote(ch)}"
        if keyboard_adjacent(ch, left) or keyboard_adjacent(ch, right):
            return 0.45, "edit1", f"extra key {_quote(ch)} next to a neighbouring letter"
        return 0.42, "edit1", f"extra letter {_quote(ch)}"
    if tag == "delete":
        p = op.src_pos
        ch = target[p]
        if ch in SEPARATORS:
            return 0.6, "separator", f"dropped separator {_quote(ch)}"
        if ch.isdigit():
            return 0.3, "edit1", f"dropped digit {_quote(ch)}"
        doubled = (p > 0 and target[p - 1] == ch) or (p + 1 < len(target) and target[p + 1] == ch)
        if doubled:
            return 0.85, "edit1", f"dropped one of a doubled {_quote(ch)}"
        if 0 < p < len(target) - 1:
            return 0.8, "edit1", f"dropped letter {_quote(ch)}"
        return 0.55, "edit1", f"dropped {'first' if p == 0 else 'last'} letter {_quote(ch)}"
    a, b = target[op.src_pos], name[op.dest_pos]
    if is_homoglyph_pair(a, b):
        return 0.9, "homoglyph/digit", f"{_quote(b)} in place of look-alike {_quote(a)}"
    if a in SEPARATORS and b in SEPARATORS:
        return 0.7, "separator", f"separator {_quote(b)} in place of {_quote(a)}"
    if a.isdigit() or b.isdigit():
        return 0.3, "edit1", f"{_quote(b)} in place of {_quote(a)}"
    if keyboard_adjacent(a, b):
        return 0.45, "edit1", f"{_quote(b)} in place of adjacent key {_quote(a)}"
    return 0.4, "edit1", f"{_quote(b)} in place of {_quote(a)}"


def _lookalike_detail(name: str, target: str) -> str:
    """Name the look-alike swaps (``'0' for 'o'``, ``capital 'I' for 'l'``) for the reasons list."""
    swaps: list[str] = []
    a = strip_separators(fold_unicode(name))
    b = strip_separators(target)
    if not name.isascii():
        swaps.append("Unicode look-alike letters")
    if len(a) == len(b):
        for x, y in zip(a, b, strict=True):
            if x != y and x.lower() != y.lower():
                label = "capital 'I'" if x == "I" else repr(x)
                swaps.append(f"{label} for {y!r}")
            elif x == "I" and y == "l":
                swaps.append("capital 'I' for 'l'")
    else:
        for seq, letter in (("rn", "m"), ("vv", "w")):
            if seq in a.lower() and letter in b.lower():
                swaps.append(f"'{seq}' for '{letter}'")
    return ", ".join(dict.fromkeys(swaps)) or "look-alike characters"


def _same_core_order(name_tokens: list[str], target_tokens: list[str], affixes: frozenset[str]) -> bool:
    """Re-ordering counts as a squat only when affix words moved and the meaningful words kept their order:
    ``python-aliyun-sdk-core`` vs ``aliyun-python-sdk-core`` (yes); ``markdown-to-html`` vs ``html-to-markdown``
    or ``bcrypt-flask`` vs ``flask-bcrypt`` (different projects, no)."""
    def core(tokens: list[str]) -> list[str]:
        return [t for t in tokens if t not in affixes and not re.fullmatch(r"v?\d+", t)]

    return core(name_tokens) == core(target_tokens)

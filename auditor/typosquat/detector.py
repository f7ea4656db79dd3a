"""Does a name imitate a popular one? Every way it could (``features.py``), each scored by the fitted model
(``scoring.py``); the likeliest reading is the answer.

Why a fitted model over many readings, not one edit-distance threshold: genuine projects sit one edit from popular
ones all the time (``contextlib3``, ``white-noise``), while squats use a handful of mechanical techniques (swaps,
doubled, dropped or neighbouring keys, look-alike characters, separator games, generic words added to the name).
How much each technique, target popularity and target length weigh is learned from labelled names
(``bench/_typosquat_fit.py``), validated on later campaigns and unseen targets, and shipped as coefficients.

Fixed rules around the model: a name that is itself in the popular list is genuine (never flagged: it may be more
popular than any "target"); an allowlisted name is never flagged; ``context.py`` moves the score with facts about
the candidate's own record when a caller has them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from auditor.domain import canonical_name
from auditor.typosquat.confusables import fold_unicode
from auditor.typosquat.context import NameContext, apply_context
from auditor.typosquat.features import HOMOGLYPH, Reading, ReadingGenerator
from auditor.typosquat.index import CandidateIndex
from auditor.typosquat.popular import PopularList
from auditor.typosquat.result import FLAG_THRESHOLD, HIGH_THRESHOLD, TyposquatResult
from auditor.typosquat.scoring import ScoreModel, default_model

__all__ = ["FLAG_THRESHOLD", "HIGH_THRESHOLD", "MAX_NAME_LENGTH", "Detector", "TyposquatResult"]

MAX_NAME_LENGTH = 200

_PYPI_NAME_RE = re.compile(r"^([a-z0-9]|[a-z0-9][a-z0-9._-]*[a-z0-9])$", re.IGNORECASE)
_HF_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$", re.IGNORECASE)

# Words look-alike Hugging Face orgs add to a real org's name. The org list (a few hundred names) is too small to
# learn an affix vocabulary from, so these come from how orgs on the Hub are named (company suffixes, "ai", "hf").
HF_AFFIXES = frozenset({
    "ai", "hf", "official", "team", "org", "inc", "labs", "lab", "research", "models", "model", "community",
    "huggingface", "llm", "ml", "io", "dev", "real",
})

# Feature names the reasons list uses for the model's largest contributions.
_FEATURE_WORDS = {
    "log_rank": "target rank", "target_len_le4": "short target", "target_len_5": "5-letter target",
    "target_len_6": "6-letter target", "n_near": "near several popular names", "family_edit": "plugin-family name",
    "k_lookalike": "look-alike", "k_separator": "separator trick", "k_edit1": "one edit", "k_swap": "adjacent swap",
    "k_edit2": "two edits", "k_combo": "added words", "k_reorder": "re-ordered", "edit_ratio": "share of the name "
    "changed", "c_word": "a word of its own", "c_affix_log": "common affix", "c_target_family": "target has plugins",
    "r_core_moved": "its words re-ordered", "e_version": "another version number",
}


class Detector:
    """Typosquat detector over one popularity list (PyPI projects or HF orgs).

    ``mode="pypi"`` compares PEP 503 names (separators ``-_.`` are one project); ``mode="hf"`` compares
    lower-cased org names (case is not significant on the Hub, but ``-``/``_``/``.`` are distinct names).
    """

    def __init__(self, popular: PopularList, *, allowlist: Iterable[str] = (), index: CandidateIndex | None = None,
                 model: ScoreModel | None = None):
        self.popular = popular
        self.mode = popular.kind
        self.index = index or CandidateIndex.build(popular)
        self.model = model or default_model()
        self.allowlist = {self._key(a) for a in allowlist if a.strip()}
        self.generator = ReadingGenerator(self.index, separators_matter=self.mode == "hf",
                                          extra_affixes=HF_AFFIXES if self.mode == "hf" else frozenset())

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

    def readings(self, name: str) -> list[Reading]:
        """Every reading of ``name`` (unscored), for fitting and inspection; [] for names ``check`` never scores."""
        prepared = self._prepare(name)
        if isinstance(prepared, TyposquatResult):
            return []
        key, folded, stripped, notes = prepared
        return self._readings(key, stripped, bool(notes))

    def check(self, name: str, *, context: NameContext | None = None) -> TyposquatResult:
        """Score one name. Never raises on odd input: empty/too long/non-ASCII names get an explained result.

        ``context`` (facts about the candidate's own record) moves an existing reading's score; see context.py.
        """
        prepared = self._prepare(name)
        if isinstance(prepared, TyposquatResult):
            return prepared
        key, _folded, stripped, notes = prepared
        readings = self._readings(key, stripped, bool(notes))
        if not readings:
            return TyposquatResult(name, False, reasons=notes or ["no popular name nearby"])
        best, score = self._best(readings)
        display = self.popular.display[best.target]
        rank = best.target + 1
        score = round(score, 3)
        flagged = score >= FLAG_THRESHOLD
        reasons = [*best.reasons, f"target is rank {rank} of {len(self.popular)}", self._explain(best), *notes]
        result = TyposquatResult(
            name=name, flagged=flagged, target=display if flagged else None, score=score, reasons=reasons,
            technique=best.technique, target_rank=rank, candidate=display,
            target_downloads=self.popular.weights[best.target] if self.mode == "pypi" else None,
        )
        return apply_context(result, context)

    # -- internals -----------------------------------------------------------------------------------------------
    def _prepare(self, name: str) -> TyposquatResult | tuple[str, str, str, list[str]]:
        stripped = name.strip()
        if not stripped:
            return TyposquatResult(name, False, reasons=["empty name: nothing to compare"])
        if len(stripped) > MAX_NAME_LENGTH:
            return TyposquatResult(name, False, reasons=[
                f"name is {len(stripped)} characters long (limit {MAX_NAME_LENGTH}); not a plausible package name, "
                "not compared"])
        notes: list[str] = []
        folded = stripped
        if not stripped.isascii():
            folded = fold_unicode(stripped)
            notes.append("contains non-ASCII characters (not a valid name on the index/Hub; read with look-alikes "
                         "mapped to Latin letters)")
        key = self._key(folded)
        if (not folded.isascii() or not self._valid(folded)) and not notes:
            notes.append("not a valid name (allowed: letters, digits, '-', '_', '.')")
        if key in self.allowlist:
            return TyposquatResult(name, False, reasons=["allowlisted by policy", *notes])
        if key in self.popular and not notes:
            return TyposquatResult(name, False, reasons=[f"is itself a popular name (rank {self.popular.rank_of[key]})"])
        return key, folded, stripped, notes

    def _readings(self, key: str, original: str, unicode_notes: bool) -> list[Reading]:
        out = self.generator.readings(key, original)
        if unicode_notes and key in self.popular:
            # Unicode look-alikes that spell a listed name exactly: the strongest look-alike there is
            i = self.popular.rank_of[key] - 1
            features = self.generator.base_features(i, 1)
            features.update(k_lookalike=1.0, e_lookalike=1.0)
            out.append(Reading(i, HOMOGLYPH, features,
                               [f"{HOMOGLYPH}: Unicode look-alike characters spell '{self.popular.display[i]}'"]))
        return out

    def _best(self, readings: list[Reading]) -> tuple[Reading, float]:
        best = readings[0]
        best_score = -1.0
        for r in readings:
            p = self.model.probability(r.features)
            if p > best_score + 1e-12 or (abs(p - best_score) <= 1e-12 and r.target < best.target):
                best, best_score = r, p
        return best, best_score

    def _explain(self, reading: Reading) -> str:
        parts = self.model.contributions(reading.features)[:3]
        words = ", ".join(f"{_FEATURE_WORDS.get(n, n)} {v:+.1f}" for n, v in parts)
        return f"model log-odds: {self.model.log_odds(reading.features):+.2f}" + (f" ({words})" if words else "")

"""Candidate targets for one name, each read as a technique and described by a fixed set of numeric features.

A *reading* says how the name could have been made from one popular name: equal look-alike skeletons
(homoglyph or separator trick), at most two typing edits, the popular name plus added words (combosquat), or
its tokens re-ordered. Each reading becomes a feature vector (``FEATURES``: what kind of edit, how many, keyboard
and look-alike relations, the target's rank and length, the class of any added word, plugin-family context);
``scoring.py`` turns it into a probability with the fitted coefficients. A name can have several readings of
one target (``urllib33``: a doubled digit, or ``urllib3`` plus the version ``3``); the detector keeps the
likeliest.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from auditor.typosquat.affixes import (
    PY_MARKERS,
    RELEASE_WORD_COUNT,
    RELEASE_WORDS,
    AffixClass,
    classify,
    is_version_token,
)
from auditor.typosquat.confusables import SEPARATORS, fold_unicode, skeleton_variants, strip_separators
from auditor.typosquat.edits import EditOp, OpKind, align
from auditor.typosquat.index import CandidateIndex, token_set_key, tokens_of

SEPARATOR = "separator"
HOMOGLYPH = "homoglyph/digit"
TRANSPOSITION = "transposition"
EDIT1 = "edit1"
EDIT2 = "edit2"
COMBO = "prefix/suffix-combo"
OTHER = "other"

FEATURES: tuple[str, ...] = (
    # the target
    "log_rank",  # log10 of the target's rank (0 = most popular)
    "target_len_le4", "target_len_5", "target_len_6",  # short targets collide with ordinary words by chance
    "target_len_log",  # log2 of the target's letters and digits (longer: fewer chance neighbours)
    "n_near",  # log(1 + other popular names within two edits): an ordinary word sits near many
    "family_edit",  # name and target share a plugin-family head (pytest-, py-) and differ after it
    # the kind of reading (one of these is 1)
    "k_lookalike", "k_separator", "k_edit1", "k_swap", "k_edit2", "k_combo", "k_reorder",
    # the edits (counts)
    "e_sub", "e_ins", "e_del", "e_swap", "e_doubled", "e_keyboard", "e_lookalike", "e_digit", "e_separator",
    "e_edge", "e_vowel", "e_version", "edit_ratio",
    "unnatural",  # how much less natural the name reads than the target (character trigram log-likelihood drop)
    # separator tricks
    "sep_joined", "sep_split",
    # added words (combosquats)
    "c_version", "c_py", "c_release", "c_affix", "c_affix_log", "c_popular", "c_word", "c_glued", "c_prefix", "c_words",
    "c_target_family",
    # re-ordered tokens: the name's meaningful words (not only generic ones) changed order
    "r_core_moved",
)

_LETTERS_RE = re.compile(r"[a-z0-9]")
# Words that give a name a direction or a relation: re-ordering the words around them changes the meaning
# (``markdown-to-html`` converts the other way than ``html-to-markdown``), so it is never read as a re-order.
CONNECTORS = frozenset({"to", "2", "4", "from", "for", "and", "with", "in", "on", "of", "vs", "via", "into", "as"})
GENERIC_AFFIX_COUNT = 5  # an affix added to this many popular bases is a generic word (for re-ordering)


@dataclass
class Reading:
    """One way ``name`` could imitate the popular name with id ``target``."""

    target: int
    technique: str
    features: dict[str, float]
    reasons: list[str] = field(default_factory=list)


def _letters(key: str) -> int:
    return len(_LETTERS_RE.findall(key))


class ReadingGenerator:
    """Produces every reading of a name against one ``CandidateIndex`` (PyPI or Hugging Face orgs)."""

    def __init__(self, index: CandidateIndex, *, separators_matter: bool, extra_affixes: frozenset[str] = frozenset(),
                 glued_names: bool = True):
        self.index = index
        self.popular = index.popular
        self.separators_matter = separators_matter  # HF orgs: '-', '_', '.' make different names
        self.extra_affixes = extra_affixes
        vocab = index.vocab
        candidates = {*vocab.glued, *vocab.separated, *RELEASE_WORDS}
        self.glueable = frozenset({*PY_MARKERS, *extra_affixes, *(t for t in candidates if vocab.glued_count(t) >= 2)})
        self.glued_names = glued_names

    # -- shared ---------------------------------------------------------------------------------------------------
    def base_features(self, target: int, n_near: int) -> dict[str, float]:
        key = self.popular.keys[target]
        letters = _letters(key)
        return {
            "log_rank": math.log10(target + 1),
            "target_len_le4": float(letters <= 4),
            "target_len_5": float(letters == 5),
            "target_len_6": float(letters == 6),
            "target_len_log": math.log2(max(1, letters)),
            "n_near": math.log1p(max(0, n_near - 1)),
        }

    def readings(self, key: str, original: str) -> list[Reading]:
        out: list[Reading] = []
        near = self.index.near(key)
        n_near = len(near)
        seen_skeleton: set[int] = set()
        for r in self._skeleton_readings(key, original, n_near):
            seen_skeleton.add(r.target)
            out.append(r)
        for target, _dist in near.items():
            if target in seen_skeleton:
                continue
            edit = self._edit_reading(key, target, n_near)
            if edit is not None:
                out.append(edit)
        out.extend(self._combo_readings(key, n_near))
        out.extend(self._reorder_readings(key, n_near))
        return out

    # -- look-alike skeletons ---------------------------------------------------------------------------------------
    def _skeleton_readings(self, key: str, original: str, n_near: int) -> list[Reading]:
        out: list[Reading] = []
        seen: set[int] = set()
        for skel in skeleton_variants(original):
            for i in self.index.skeletons.get(skel, ()):
                target = self.popular.keys[i]
                if target == key or i in seen:
                    continue
                seen.add(i)
                f = self.base_features(i, n_near)
                if strip_separators(key) == strip_separators(target):
                    joined = sum(key.count(c) for c in "-_.") < sum(target.count(c) for c in "-_.")
                    split = len(key) > len(target)
                    f.update(k_separator=1.0, sep_joined=float(joined), sep_split=float(split))
                    how = "joined" if joined else "split by an extra separator" if split else "other separators"
                    out.append(Reading(i, SEPARATOR, f, [f"{SEPARATOR}: same letters as '{self.popular.display[i]}'"
                                                          f" ({how})"]))
                    continue
                changed = _lookalike_count(original, self.popular.display[i])
                f.update(k_lookalike=1.0, e_lookalike=float(changed))
                out.append(Reading(i, HOMOGLYPH, f, [f"{HOMOGLYPH}: reads as '{self.popular.display[i]}' "
                                                      f"({_lookalike_detail(original, self.popular.display[i])})"]))
        return out

    # -- typing edits ---------------------------------------------------------------------------------------------
    def _edit_reading(self, key: str, target_id: int, n_near: int) -> Reading | None:
        target = self.popular.keys[target_id]
        ops = align(target, key)
        if not ops:
            return None
        if not self.separators_matter and all(_separator_only(op) for op in ops):
            return None  # separators only: the skeleton reading explains it (or PEP 503 makes it one name)
        if len(ops) == 1 and _version_sibling(target, ops[0]):
            return None  # ``jax-cuda13-plugin`` / ``jax-cuda12-plugin``: another release line of the family
        f = self.base_features(target_id, n_near)
        if len(ops) == 1 and ops[0].kind is OpKind.SWAP:
            technique = TRANSPOSITION
            f["k_swap"] = 1.0
        elif len(ops) == 1:
            technique = EDIT1
            f["k_edit1"] = 1.0
        else:
            technique = EDIT2
            f["k_edit2"] = 1.0
        _edit_features(f, ops, target)
        drop = self.index.target_log_likelihood(target_id) - self.index.chars.log_likelihood(key)
        f["unnatural"] = max(-4.0, min(12.0, drop)) / 4.0
        f["family_edit"] = float(self._family_edit(key, target, ops))
        why = "; ".join(op.describe() for op in ops)
        return Reading(target_id, technique, f, [f"{technique}: {why}"])

    def _family_edit(self, key: str, target: str, ops: list[EditOp]) -> bool:
        toks = tokens_of(target)
        if len(toks) < 2 or not key.startswith(toks[0] + "-") or not self.index.is_family_head(toks[0]):
            return False
        return all(op.pos > len(toks[0]) for op in ops)

    # -- added words --------------------------------------------------------------------------------------------
    def _combo_readings(self, key: str, n_near: int) -> list[Reading]:
        toks = tokens_of(key)
        if not toks:
            return []
        out: dict[int, Reading] = {}
        # the name's tokens, with a glued affix split off the first and/or last token when one is learned; both
        # ends at once too (``pyrequestslite``: ``py`` + ``requests`` + ``lite``, ``pythonhttpx2``)
        variants: list[tuple[list[str], list[str], list[str], bool]] = [([], toks, [], False)]
        # ``pytest-virtualenv``, ``types-requests``: a plugin of that family, never an affix (glued or not) on the
        # rest; only readings whose base keeps the head remain (``pytest-xdist2``)
        plugin = len(toks) >= 2 and self._plugin_head(toks[0])
        heads: list[tuple[list[str], list[str]]] = []
        # a word of several that is itself a listed project (``ipython-pulumi``, ``pyyaml-keyring``) names that
        # project whole: it is never cut into a glued affix and a rest
        listed = [len(toks) >= 2 and len(t) >= 4 and t in self.popular.rank_of for t in toks]
        for cut in range(2, 2 if plugin or listed[0] else len(toks[0]) - 2):
            left, right = toks[0][:cut], toks[0][cut:]
            if self._glued_affix(left):
                heads.append(([left], [right, *toks[1:]]))
        for pre, rest in [([], toks), *heads]:
            if pre:
                variants.append((pre, rest, [], True))
            tail = rest[-1]
            whole = listed[-1] and len(rest) >= 2
            # a single glued digit is an edit of its own (``requests2``), read as a version only after a py join
            for cut in range(3, 3 if whole else len(tail) if pre else len(tail) - 1):
                left, right = tail[:cut], tail[cut:]
                if (len(right) >= 2 and self._glued_affix(right)) or is_version_token(right):
                    variants.append((pre, [*rest[:-1], left], [right], True))
        for pre_glued, core_toks, post_glued, glued in variants:
            n = len(core_toks)
            for lo in range(0, 1 if plugin else min(3, n)):
                for hi in range(n, max(lo, n - 3), -1):
                    if lo == 0 and hi == n and not glued:
                        continue
                    core = "-".join(core_toks[lo:hi])
                    target = self._lookup(core_toks[lo:hi])
                    if target is None or self.popular.keys[target] == key:
                        continue
                    prefix = [*pre_glued, *core_toks[:lo]]
                    suffix = [*core_toks[hi:], *post_glued]
                    # only a word glued onto the target's own name itself (``asyncpydantic``), not onto a word
                    # beside it (``keyring-cloudpyyaml``: ``pyyaml`` is glued to ``cloud``)
                    touching = [*(pre_glued if lo == 0 else []), *(post_glued if hi == n else [])]
                    r = self._combo(target, prefix, suffix, glued, n_near, core, glued_words=frozenset(touching))
                    if r is not None and (target not in out or _combo_rank(r) < _combo_rank(out[target])):
                        out[target] = r
        return list(out.values())

    def _glued_affix(self, token: str) -> bool:
        return token in self.glueable

    def _lookup(self, core: list[str]) -> int | None:
        rank_of = self.popular.rank_of
        seps = ("-", "", "_", ".") if self.separators_matter else ("-",)
        for sep in seps:
            joined = sep.join(core)
            if joined in rank_of:
                return rank_of[joined] - 1
        return None

    def _combo(self, target: int, prefix: list[str], suffix: list[str], glued: bool, n_near: int,
               core: str, *, glued_words: frozenset[str] = frozenset()) -> Reading | None:
        added = [*prefix, *suffix]
        if not added or len(added) > 3:
            return None
        # Plugin families and integrations name themselves with a separator (``pytest-virtualenv``,
        # ``fsspec-databricks``): the conventions below read only words the name separates. A family head or
        # another listed project's full name glued on without one (``asyncpydantic``, ``boto3pyyaml``) follows no
        # such convention and stays an added word: genuine projects rarely glue two projects' full names (no
        # genuine lockfile or young name and 8 of 10,956 dev negatives read this way: bench/results/typosquat.md).
        # ``glued_names=False`` restores the older reading (for benches).
        separated = [t for t in added if not (self.glued_names and t in glued_words)]
        if prefix and prefix[0] in separated and self._plugin_head(prefix[0]):
            return None  # ``pytest-virtualenv``, ``types-requests``, ``flask-redis``: a plugin of that family
        classes = [self._classify(t) for t in added]
        if sum(c is AffixClass.WORD for c in classes) > 1:
            return None  # two words of its own: a different project that mentions the target
        if any(c is AffixClass.POPULAR and t in self.popular.rank_of and t in separated
               for t, c in zip(added, classes, strict=True)):
            # ``fsspec-databricks``, ``pydantic-settings-pulumi``: another listed project's own name beside this
            # one names that project; the name bridges the two (an integration), it is not a generic word added
            # to either. Squats add words with no project of their own (``-utils``, ``-lite``, ``-helper``);
            # generic heads without a listed name (``async``, ``json``, ``types``) stay affixes.
            return None
        if suffix and not prefix and self._plugin_head(core) and any(
                c in (AffixClass.WORD, AffixClass.POPULAR) and t in separated
                for t, c in zip(added, classes, strict=True)):
            return None  # ``pytest-virtualenv``, ``flask-kombu``: the family's plugin for that word, not an affix
        f = self.base_features(target, n_near)
        f["k_combo"] = 1.0
        affix_counts = [self._affix_count(t) for t, c in zip(added, classes, strict=True) if c is AffixClass.AFFIX]
        f["c_version"] = float(sum(c is AffixClass.VERSION for c in classes))
        f["c_py"] = float(sum(c is AffixClass.PY_MARKER for c in classes))
        f["c_release"] = float(sum(c is AffixClass.RELEASE for c in classes))
        f["c_affix"] = float(len(affix_counts))
        f["c_affix_log"] = sum(math.log1p(n) for n in affix_counts) / len(affix_counts) if affix_counts else 0.0
        f["c_popular"] = float(sum(c is AffixClass.POPULAR for c in classes))
        f["c_word"] = float(sum(c is AffixClass.WORD for c in classes))
        f["c_glued"] = float(glued)
        f["c_prefix"] = float(bool(prefix))
        f["c_words"] = float(len(added))
        f["c_target_family"] = float(self.index.is_family_head(tokens_of(core)[0]))
        where = ("prefix" if prefix and not suffix else "suffix" if suffix and not prefix else "prefix and suffix")
        words = ", ".join(f"{t!r} ({c.value})" for t, c in zip(added, classes, strict=True))
        glue = " glued on" if glued else ""
        return Reading(target, COMBO, f, [f"{COMBO}: '{self.popular.display[target]}' with added {where}{glue} "
                                          f"{words}"])

    def _plugin_head(self, token: str) -> bool:
        """A first word that heads a plugin family of listed names (``pytest-``, ``flask-``, ``types-``,
        ``opentelemetry-``): a name it starts is that family's plugin for the rest, never the rest plus an affix.
        Python markers and release words head families too (``python-dateutil``) but stay affixes."""
        if self._classify(token) in (AffixClass.VERSION, AffixClass.PY_MARKER, AffixClass.RELEASE):
            return False
        return self.index.is_family_head(token)

    def _affix_count(self, token: str) -> int:
        if token in self.extra_affixes:
            return max(self.index.vocab.count(token), RELEASE_WORD_COUNT)
        return self.index.vocab.count(token)

    def _classify(self, token: str) -> AffixClass:
        if token in self.extra_affixes:
            return AffixClass.AFFIX
        found = classify(token, self.index.vocab, self.popular)
        if found is AffixClass.AFFIX and self.index.is_family_head(token):
            # ``pydantic-django``, ``botocore-types``: the head of another project's plugin family names that
            # project (an integration), not a generic word
            return AffixClass.POPULAR
        return found

    # -- re-ordered tokens --------------------------------------------------------------------------------------
    def _reorder_readings(self, key: str, n_near: int) -> list[Reading]:
        toks = tokens_of(key)
        out: list[Reading] = []
        if len(toks) < 2:
            return out
        ids = set(self.index.token_sets.get(token_set_key(toks), ()))
        swapped = [("python" if t == "py" else "py" if t == "python" else t) for t in toks]
        if swapped != toks:
            t = self._lookup(swapped)
            if t is not None:
                ids.add(t)
        for i in sorted(ids):
            target = self.popular.keys[i]
            if target == key:
                continue
            f = self.base_features(i, n_near)
            f["k_reorder"] = 1.0
            f["c_target_family"] = float(self.index.is_family_head(tokens_of(target)[0]))
            f["c_py"] = float(any(t in ("py", "python") for t in toks))
            moved = not self._same_core_order(toks, tokens_of(target))
            if moved and any(t in CONNECTORS for t in toks):
                continue  # ``markdown-to-html`` / ``html-to-markdown``: the other direction, another project
            if moved and sum(1 for t in toks if t in self.popular.rank_of or self.index.is_family_head(t)) >= 2:
                continue  # ``sqlalchemy-clickhouse`` / ``clickhouse-sqlalchemy``: two projects joined, either way
            f["r_core_moved"] = float(moved)
            how = "its words re-ordered" if moved else "generic words moved or py/python swapped"
            out.append(Reading(i, OTHER, f, [f"{OTHER}: the tokens of '{self.popular.display[i]}', {how}"]))
        return out

    def _same_core_order(self, name_tokens: list[str], target_tokens: list[str]) -> bool:
        """Re-ordering reads as a squat only when generic words moved and the meaningful words kept their order:
        ``python-aliyun-sdk-core`` / ``aliyun-python-sdk-core`` (yes); ``markdown-to-html`` / ``html-to-markdown``
        or ``bcrypt-flask`` / ``flask-bcrypt`` (different projects, no)."""
        def generic(token: str) -> bool:
            if self._classify(token) in (AffixClass.VERSION, AffixClass.PY_MARKER, AffixClass.RELEASE):
                return True
            return (self._affix_count(token) >= GENERIC_AFFIX_COUNT and token not in self.popular.rank_of
                    and not self.index.is_family_head(token))

        def core(tokens: list[str]) -> list[str]:
            return [t for t in tokens if not generic(t)]

        return core(name_tokens) == core(target_tokens)


def _version_sibling(target: str, op: EditOp) -> bool:
    """One digit for another in the version number that qualifies a name (``cuda12``/``cuda13``, ``cu11``,
    ``python2``/``python3`` after the first word): how a family names its release lines, not a slip. The first
    word's digits are the product's own name (``boto3``, ``s3transfer``) and stay a reading."""
    if op.kind is not OpKind.SUB or not op.version:
        return False
    start = target.rfind("-", 0, op.pos) + 1
    if start == 0:
        return False
    end = target.find("-", op.pos)
    token = target[start:end if end >= 0 else len(target)]
    head = token.rstrip("0123456789")
    return start + len(head) <= op.pos and (not head or head.isalpha())


def _separator_only(op: EditOp) -> bool:
    """The edit moves, adds or drops a separator and leaves the letters as they are. A letter traded for a separator
    (``tensor-low``) or a separator for a character (``scikit8learn``) changes the letters: a typing edit."""
    if op.kind is OpKind.SWAP:
        return any(c in SEPARATORS for c in op.old)
    return all(c in SEPARATORS for c in op.old + op.new)


def _combo_rank(r: Reading) -> tuple[float, float]:
    """Prefer the decomposition with the fewest words of its own, then the fewest added words."""
    return (r.features.get("c_word", 0.0), r.features.get("c_words", 0.0))


def _edit_features(f: dict[str, float], ops: list[EditOp], target: str) -> None:
    kinds = {OpKind.SUB: "e_sub", OpKind.INS: "e_ins", OpKind.DEL: "e_del", OpKind.SWAP: "e_swap"}
    for op in ops:
        f[kinds[op.kind]] = f.get(kinds[op.kind], 0.0) + 1.0
        for flag, name in ((op.doubled, "e_doubled"), (op.keyboard, "e_keyboard"), (op.lookalike, "e_lookalike"),
                           (op.digit, "e_digit"), (op.separator, "e_separator"), (op.edge, "e_edge"),
                           (op.vowel, "e_vowel"), (op.version, "e_version")):
            if flag:
                f[name] = f.get(name, 0.0) + 1.0
    f["edit_ratio"] = len(ops) / max(1, _letters(target))


def _lookalike_count(name: str, target: str) -> int:
    a = strip_separators(name).lower()
    b = strip_separators(target).lower()
    if len(a) != len(b):
        return max(1, abs(len(a) - len(b)))
    return max(1, sum(x != y for x, y in zip(a, b, strict=True)))


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

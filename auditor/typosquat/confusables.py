"""Look-alike characters: what a reader's eye confuses, reduced to one canonical spelling (a "skeleton").

Two names with the same skeleton differ only by separators, case or look-alike characters (``0``/``o``,
``1``/``l``/``i``, ``rn``/``m``, Cyrillic ``а``/Latin ``a``); that is a homoglyph or separator trick, not a
different word. The map is written from the shapes themselves (ASCII digits that read as letters, the Unicode
letters that render like Latin ones), not from any list of attack names.
"""

from __future__ import annotations

import re
import unicodedata

SEPARATORS = "-_."
_SEP_RE = re.compile(r"[-_.]+")

# ASCII digits and symbols read as letters (leetspeak-style and font look-alikes). The first letter of each entry
# is the skeleton's reading; digits that read as two letters (6: b/G, 9: g/q) also get their other reading when a
# name's look-alike variants are expanded (``skeleton_variants``).
DIGIT_READINGS: dict[str, tuple[str, ...]] = {
    "0": ("o",),
    "1": ("l",),
    "3": ("e",),
    "4": ("a",),
    "5": ("s",),
    "6": ("b", "g"),
    "7": ("t",),
    "8": ("b",),
    "9": ("g", "q"),
    "|": ("l",),
}
DIGIT_LOOKALIKES: dict[str, str] = {digit: letters[0] for digit, letters in DIGIT_READINGS.items()}
MAX_SKELETON_VARIANTS = 8  # 2 ** (ambiguous digits) grows fast; three ambiguous digits are plenty for a name

# Letters that are the same glyph in common fonts: i/l (and capital I) collapse onto "l".
LETTER_LOOKALIKES: dict[str, str] = {"i": "l", "I": "l"}

# Multi-letter shapes that read as one letter.
SEQUENCE_LOOKALIKES: tuple[tuple[str, str], ...] = (("rn", "m"), ("vv", "w"))

# Non-Latin letters that render like Latin ones (Cyrillic, Greek, IPA, Latin variants NFKC leaves alone).
UNICODE_LOOKALIKES: dict[str, str] = {
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "к": "k", "м": "m", "н": "h", "т": "t", "в": "b", "ո": "n",
    "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c", "Т": "t",
    "Х": "x", "У": "y", "І": "i", "Ј": "j", "Ѕ": "s",
    "α": "a", "ο": "o", "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "κ": "k", "ι": "i", "ε": "e", "χ": "x",
    "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i", "Κ": "k", "Μ": "m", "Ν": "n", "Ο": "o",
    "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x",
    "ı": "i", "ɡ": "g", "ɩ": "i", "ɑ": "a", "ɒ": "o", "ʏ": "y", "ℓ": "l", "ǀ": "l", "ꞁ": "l",
}

# Homoglyph pairs as single-character substitutions (for explaining an edit): both directions.
_PAIRS = [("0", "o"), ("1", "l"), ("1", "i"), ("l", "i"), ("3", "e"), ("4", "a"), ("5", "s"), ("6", "b"), ("6", "g"),
          ("7", "t"), ("8", "b"), ("9", "g"), ("9", "q")]
HOMOGLYPH_SUBSTITUTIONS: frozenset[tuple[str, str]] = frozenset(_PAIRS + [(b, a) for a, b in _PAIRS])

_KEYBOARD_ROWS = ("1234567890-", "qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_neighbours() -> dict[str, frozenset[str]]:
    """QWERTY adjacency: same row left/right, and the keys above/below (rows are offset by about half a key)."""
    pos: dict[str, tuple[int, int]] = {}
    for r, row in enumerate(_KEYBOARD_ROWS):
        for c, ch in enumerate(row):
            pos[ch] = (r, c)
    out: dict[str, set[str]] = {ch: set() for ch in pos}
    for a, (ra, ca) in pos.items():
        for b, (rb, cb) in pos.items():
            if a == b:
                continue
            if (ra == rb and abs(ca - cb) == 1) or (rb == ra + 1 and cb in (ca - 1, ca)) or (
                rb == ra - 1 and cb in (ca, ca + 1)
            ):
                out[a].add(b)
    return {k: frozenset(v) for k, v in out.items()}


KEYBOARD_NEIGHBOURS = _keyboard_neighbours()


def keyboard_adjacent(a: str, b: str) -> bool:
    return b in KEYBOARD_NEIGHBOURS.get(a, frozenset())


def is_homoglyph_pair(a: str, b: str) -> bool:
    return (a, b) in HOMOGLYPH_SUBSTITUTIONS


def fold_unicode(text: str) -> str:
    """NFKC (fullwidth, ligatures, compatibility forms), then map non-Latin look-alikes to Latin letters."""
    if text.isascii():  # NFKC and the look-alike map leave ASCII unchanged
        return text
    text = unicodedata.normalize("NFKC", text)
    return "".join(UNICODE_LOOKALIKES.get(ch, ch) for ch in text)


def strip_separators(text: str) -> str:
    return _SEP_RE.sub("", text)


_LETTER_TABLE = str.maketrans(LETTER_LOOKALIKES)
_DIGIT_TABLE = str.maketrans(DIGIT_LOOKALIKES)


def skeleton(text: str) -> str:
    """The canonical look-alike form: folded, lower-cased, separators removed, look-alike digits and letters merged.

    Capital ``I`` is mapped before lower-casing (it is the classic stand-in for ``l``), then ``i`` and ``l`` collapse.
    """
    text = fold_unicode(text).translate(_LETTER_TABLE).lower()
    text = strip_separators(text).translate(_DIGIT_TABLE)
    text = text.replace("i", "l")
    for seq, repl in SEQUENCE_LOOKALIKES:
        text = text.replace(seq, repl)
    return text


def skeleton_variants(text: str) -> set[str]:
    """Every skeleton ``text`` can read as: ``skeleton`` plus the second readings of ambiguous digits (6 as g,
    9 as q), at most ``MAX_SKELETON_VARIANTS``. A popular name is indexed under its single skeleton; a query is
    looked up under each of its variants."""
    folded = fold_unicode(text)
    spots = [i for i, ch in enumerate(folded) if len(DIGIT_READINGS.get(ch, ())) > 1][:3]
    if not spots:
        return {skeleton(folded)}
    variants: set[str] = set()
    for mask in range(1 << len(spots)):
        chars = list(folded)
        for bit, pos in enumerate(spots):
            chars[pos] = DIGIT_READINGS[folded[pos]][(mask >> bit) & 1]
        variants.add(skeleton("".join(chars)))
        if len(variants) >= MAX_SKELETON_VARIANTS:
            break
    return variants

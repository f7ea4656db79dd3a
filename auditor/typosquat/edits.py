"""The edits that turn a popular name into a candidate name, one by one (optimal string alignment: insertions,
deletions, substitutions and adjacent swaps), each described the way a typist or a squatter makes it.

Only the differing middle is aligned: the common prefix and suffix are stripped first (this keeps the distance
optimal), so a pair of names costs a few dozen cell updates however long they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from auditor.typosquat.confusables import SEPARATORS, is_homoglyph_pair, keyboard_adjacent

VOWELS = frozenset("aeiouy")


class OpKind(str, Enum):
    SUB = "substitution"
    INS = "insertion"
    DEL = "deletion"
    SWAP = "swap"


@dataclass(frozen=True)
class EditOp:
    kind: OpKind
    pos: int  # position in the target (for insertions: the target position the new character precedes)
    old: str  # target character(s) ("" for an insertion)
    new: str  # name character(s) ("" for a deletion)
    doubled: bool = False  # insertion repeating a neighbour / deletion of one of a doubled pair
    keyboard: bool = False  # substitution by, or insertion next to, an adjacent QWERTY key
    lookalike: bool = False  # substitution by a look-alike character (0/o, 1/l, 4/a, 8/b, ...)
    digit: bool = False  # a digit involved (and not a look-alike)
    separator: bool = False  # a separator involved
    edge: bool = False  # at the first or last character of the target
    vowel: bool = False  # a vowel replaced by another vowel
    version: bool = False  # a digit replaced by another digit: a sibling release line (cuda12/cuda13), not a slip

    def describe(self) -> str:
        o, n = repr(self.old), repr(self.new)
        if self.kind is OpKind.SWAP:
            return f"{o} swapped to {n}"
        if self.kind is OpKind.INS:
            what = ("doubled letter" if self.doubled else "extra key next to a neighbour" if self.keyboard
                    else "extra separator" if self.separator else "added digit" if self.digit else "extra letter")
            return f"{what} {n}"
        if self.kind is OpKind.DEL:
            where = " (first)" if self.pos == 0 else " (last)" if self.edge else ""
            what = "dropped one of a doubled" if self.doubled else "dropped separator" if self.separator else "dropped"
            return f"{what} {o}{where}"
        why = ("look-alike" if self.lookalike else "another version number" if self.version
               else "adjacent key" if self.keyboard else "other vowel" if self.vowel else "")
        return f"{n} in place of {o}" + (f" ({why})" if why else "")


def align(target: str, name: str, limit: int = 2) -> list[EditOp] | None:
    """The edits from ``target`` to ``name`` when there are at most ``limit`` of them, else None."""
    p = 0
    while p < len(target) and p < len(name) and target[p] == name[p]:
        p += 1
    s = 0
    while s < len(target) - p and s < len(name) - p and target[-1 - s] == name[-1 - s]:
        s += 1
    a = target[p:len(target) - s]
    b = name[p:len(name) - s]
    if abs(len(a) - len(b)) > limit:
        return None
    rows, cols = len(a) + 1, len(b) + 1
    big = limit + 1
    d = [[big] * cols for _ in range(rows)]
    for i in range(rows):
        d[i][0] = i
    for j in range(cols):
        d[0][j] = j
    for i in range(1, rows):
        lo, hi = max(1, i - limit), min(cols - 1, i + limit)
        for j in range(lo, hi + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            best = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, d[i - 2][j - 2] + 1)
            d[i][j] = best
    if d[rows - 1][cols - 1] > limit:
        return None
    ops: list[tuple[OpKind, int, str, str]] = []
    i, j = rows - 1, cols - 1
    while i > 0 or j > 0:
        here = d[i][j]
        if i > 0 and j > 0 and a[i - 1] == b[j - 1] and d[i - 1][j - 1] == here:
            i, j = i - 1, j - 1
        elif i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1] and d[i - 2][j - 2] == here - 1:
            ops.append((OpKind.SWAP, i - 2, a[i - 2:i], b[j - 2:j]))
            i, j = i - 2, j - 2
        elif i > 0 and j > 0 and d[i - 1][j - 1] == here - 1 and (
                is_homoglyph_pair(a[i - 1], b[j - 1]) or keyboard_adjacent(a[i - 1], b[j - 1])):
            ops.append((OpKind.SUB, i - 1, a[i - 1], b[j - 1]))  # among equal alignments, the telling one
            i, j = i - 1, j - 1
        elif j > 0 and d[i][j - 1] == here - 1:
            ops.append((OpKind.INS, i, "", b[j - 1]))
            j -= 1
        elif i > 0 and d[i - 1][j] == here - 1:
            ops.append((OpKind.DEL, i - 1, a[i - 1], ""))
            i -= 1
        else:
            ops.append((OpKind.SUB, i - 1, a[i - 1], b[j - 1]))
            i, j = i - 1, j - 1
    ops.reverse()
    return [_describe(kind, pos + p, old, new, target) for kind, pos, old, new in ops]


def _describe(kind: OpKind, pos: int, old: str, new: str, target: str) -> EditOp:
    last = len(target) - 1
    if kind is OpKind.SWAP:
        return EditOp(kind, pos, old, new, edge=pos == 0 or pos + 1 == last,
                      separator=any(c in SEPARATORS for c in old))
    if kind is OpKind.SUB:
        look = is_homoglyph_pair(old, new)
        version = old.isdigit() and new.isdigit()
        return EditOp(kind, pos, old, new, keyboard=keyboard_adjacent(old, new) and not version, lookalike=look,
                      digit=(old.isdigit() or new.isdigit()) and not look,
                      separator=old in SEPARATORS or new in SEPARATORS, edge=pos in (0, last),
                      vowel=old in VOWELS and new in VOWELS, version=version)
    if kind is OpKind.INS:
        left = target[pos - 1] if pos > 0 else ""
        right = target[pos] if pos < len(target) else ""
        return EditOp(kind, pos, old, new, doubled=new in (left, right),
                      keyboard=new not in (left, right) and (keyboard_adjacent(new, left)
                                                              or keyboard_adjacent(new, right)),
                      digit=new.isdigit(), separator=new in SEPARATORS, edge=pos == 0 or pos == len(target))
    left = target[pos - 1] if pos > 0 else ""
    right = target[pos + 1] if pos + 1 < len(target) else ""
    return EditOp(kind, pos, old, new, doubled=old in (left, right), digit=old.isdigit(),
                  separator=old in SEPARATORS, edge=pos in (0, last))

"""Choosing among a release's distribution files, shared by provenance checks and ``mlaudit repro``.

Why here: both need "the wheel pip would install on this interpreter" and must agree on it; neither owns the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def best_wheel(wheels: Sequence[T], filename: Callable[[T], str]) -> T:
    """The wheel whose best tag ranks highest for this interpreter (pip's order); the first one when no file name
    parses or none matches. ``wheels`` must not be empty."""
    from packaging.tags import sys_tags  # (and platform, logging, subprocess): only when there are wheels to rank
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    rank = {str(tag): i for i, tag in enumerate(sys_tags())}
    best: tuple[int, T] | None = None
    for wheel in wheels:
        try:
            tags = parse_wheel_filename(filename(wheel))[3]
        except InvalidWheelFilename:
            continue
        score = min((rank.get(str(t), len(rank)) for t in tags), default=len(rank))
        if best is None or score < best[0]:
            best = (score, wheel)
    return best[1] if best else wheels[0]


__all__ = ["best_wheel"]

"""Neutralise hostile text before it reaches a terminal.

Package names, summaries and model cards come from strangers; an ANSI/OSC escape in a summary could rewrite the
user's terminal (hide lines, fake a clean result, set the window title). Terminal output strips every control
character except newline and tab.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_ESCAPE_SEQ = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")


def clean(text: object, limit: int = 2000) -> str:
    """Remove escape sequences and control/bidi characters; shorten overly long fields."""
    value = str(text)
    value = _ESCAPE_SEQ.sub("", value)
    value = _CONTROL.sub("", value)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return value

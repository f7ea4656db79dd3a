"""TOML and JSON input loading with ``file:line`` errors, and best-effort line numbers for values.

tomllib reports "... (at line L, column C)" in its message; that becomes ``InputError(file, line)`` (exit 2).
tomllib does not return positions, so ``LineFinder`` finds the line where a quoted value or a key is written,
which is what findings point at (``location``).
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from auditor.errors import InputError
from auditor.safeload import LoadError, loads_json, loads_toml
from auditor.sources.textfile import read_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

_TOML_POS_RE = re.compile(r"\(at line (\d+), column (\d+)\)")


def parse_toml(text: str, path: str) -> dict[str, Any]:
    try:
        return loads_toml(text)  # bounded nesting (auditor.safeload): no RecursionError further down
    except LoadError as exc:
        raise InputError(f"malformed TOML: {exc.reason}", file=path, line=exc.line) from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = _TOML_POS_RE.search(message)
        line = int(m.group(1)) if m else text.count("\n") + 1
        reason = _TOML_POS_RE.sub("", message).strip()
        raise InputError(f"malformed TOML: {reason}", file=path, line=line) from None
    except RecursionError:
        raise InputError("malformed TOML: nested too deeply", file=path) from None


def load_toml(path: str) -> tuple[dict[str, Any], str]:
    text = read_text(path)
    return parse_toml(text, path), text


def load_json(path: str) -> tuple[Any, str]:
    text = read_text(path)
    try:
        return loads_json(text), text
    except LoadError as exc:
        raise InputError(f"malformed JSON: {exc.reason}", file=path, line=exc.line) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: {exc.msg} (column {exc.colno})", file=path, line=exc.lineno) from None
    except RecursionError:
        raise InputError("malformed JSON: nested too deeply", file=path) from None


class LineFinder:
    """Line numbers of values in a TOML/JSON text, searched forward from a starting point (a table header)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts = [0]
        for m in re.finditer("\n", text):
            self._starts.append(m.end())

    def line_at(self, offset: int) -> int:
        lo, hi = 0, len(self._starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    def offset_of_table(self, header: str) -> int:
        """Offset of ``[header]`` (or ``[[header]]``); 0 when absent."""
        m = re.search(r"^[ \t]*\[\[?[ \t]*" + re.escape(header) + r"[ \t]*\]\]?", self.text, re.M)
        return m.start() if m else 0

    def offset_of_quoted(self, value: str, start: int = 0) -> int | None:
        """Offset of the first ``"value"`` at or after ``start`` (JSON keys), else None."""
        pos = self.text.find(f'"{value}"', start)
        return pos if pos >= 0 else None

    def quoted(self, value: str, start: int = 0) -> int | None:
        """Line of the first ``"value"`` / ``'value'`` at or after ``start``."""
        for quote in ('"', "'"):
            pos = self.text.find(f"{quote}{value}{quote}", start)
            if pos >= 0:
                return self.line_at(pos)
        if start:
            return self.quoted(value, 0)
        return None

    def key(self, key: str, start: int = 0) -> int | None:
        """Line of ``key =`` (bare or quoted) at or after ``start``."""
        pattern = r"^[ \t]*(?:" + re.escape(key) + r"|\"" + re.escape(key) + r"\"|'" + re.escape(key) + r"')\s*="
        m = re.compile(pattern, re.M).search(self.text, start)
        if m is None and start:
            m = re.compile(pattern, re.M).search(self.text, 0)
        return self.line_at(m.start()) if m else None


def as_list(value: object) -> list[Any]:
    """``value`` when it is an array, else empty: for optional descriptive fields whose wrong type costs nothing."""
    return value if isinstance(value, list) else []


def as_dict(value: object) -> dict[str, Any]:
    """``value`` when it is a table, else empty (same use as ``as_list``)."""
    return value if isinstance(value, dict) else {}

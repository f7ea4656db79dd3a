"""External programs mlaudit drives, found in one place.

uv is a declared dependency (its wheel ships the binary); the resolver and the provenance/repro code both need it,
and neither should import the other to find it.
"""

from __future__ import annotations


def uv_binary() -> str | None:
    """Path of the uv binary shipped with the ``uv`` package, or None when it is missing (a broken install)."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


__all__ = ["uv_binary"]

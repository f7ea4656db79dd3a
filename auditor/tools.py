"""External programs mlaudit drives, found in one place.

uv is a declared dependency (its wheel ships the binary); the resolver and the provenance/repro code both need it,
and neither should import the other to find it.
"""

from __future__ import annotations

import os


def uv_binary() -> str | None:
    """Path of the uv binary shipped with the ``uv`` package, or None when it is missing (a broken install)."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


def environment_index_urls() -> list[str]:
    """The index pip/uv would use from their environment variables: ``UV_INDEX_URL`` first, then
    ``PIP_INDEX_URL`` (unset or empty ones left out). Callers let an explicit index override these."""
    return list(dict.fromkeys(u for u in (os.environ.get("UV_INDEX_URL"), os.environ.get("PIP_INDEX_URL")) if u))


__all__ = ["environment_index_urls", "uv_binary"]

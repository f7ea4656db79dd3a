"""Parsing what ``uv pip compile`` writes: requirements text with ``# via`` annotations, and PEP 751 pylock.toml.

The annotated text gives the pins and who pulled each one in (edges); pylock.toml gives each pin's files with
their URLs and hashes (artifacts, for the provenance and hash checks). uv 0.13.9 cannot put both in one output.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from auditor.domain import Artifact, canonical_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

_PIN_RE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*(?:==(?P<version>\S+)|@\s*(?P<url>\S+))")


@dataclass
class Pin:
    name: str  # PEP 503
    version: str
    via: list[str] = field(default_factory=list)  # parent names (PEP 503) or "-r FILE" / "-c FILE" entries
    url: str | None = None


def parse_annotated(text: str) -> list[Pin]:
    """Pins in output order; ``via`` keeps uv's entries ("-r /tmp/x/requirements.in", "alpha")."""
    pins: list[Pin] = []
    current: Pin | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if current is None:
                continue
            body = line.lstrip("#").strip()
            if body.startswith("via"):
                body = body[3:].strip()
            if body:
                current.via.append(_via_entry(body))
            continue
        if line.startswith("-"):
            continue
        m = _PIN_RE.match(line)
        if not m:
            current = None
            continue
        url = m["url"]
        version = m["version"] or _version_from_url(url) or ""
        current = Pin(canonical_name(m["name"]), version.split(";")[0].strip(), url=url)
        pins.append(current)
    return pins


def _via_entry(body: str) -> str:
    if body.startswith(("-r ", "-c ", "--override ", "-o ")):
        return body
    return canonical_name(re.split(r"[\[\s(]", body, maxsplit=1)[0])


def _version_from_url(url: str | None) -> str | None:
    if not url:
        return None
    name = PurePosixPath(unquote(urlsplit(url).path)).name
    if name.endswith(".whl"):
        parts = name[:-4].split("-")
        return parts[1] if len(parts) >= 5 else None
    return None


def parse_pylock(text: str) -> dict[str, list[Artifact]]:
    """``{name: [Artifact, ...]}`` from a PEP 751 lock (wheels and sdist of each package)."""
    data: dict[str, Any] = tomllib.loads(text)
    out: dict[str, list[Artifact]] = {}
    for pkg in data.get("packages", []):
        name = canonical_name(str(pkg.get("name", "")))
        arts: list[Artifact] = []
        for wheel in pkg.get("wheels", []) or []:
            arts.append(_artifact(wheel, "wheel"))
        if isinstance(pkg.get("sdist"), dict):
            arts.append(_artifact(pkg["sdist"], "sdist"))
        archive = pkg.get("archive")
        if isinstance(archive, dict):
            arts.append(_artifact(archive, "wheel" if str(archive.get("url", "")).endswith(".whl") else "sdist"))
        out[name] = arts
    return out


def _artifact(entry: dict[str, Any], kind: str) -> Artifact:
    url = entry.get("url")
    filename = entry.get("name") or (PurePosixPath(unquote(urlsplit(url).path)).name if url else "")
    hashes = {str(k): str(v) for k, v in (entry.get("hashes") or {}).items()}
    size = entry.get("size")
    return Artifact(filename=str(filename), url=url, hashes=hashes, kind=kind,
                    size=int(size) if isinstance(size, int) else None)

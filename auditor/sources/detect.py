"""Which reader handles a path, and what to read inside a project directory.

Discovery rule for a directory (documented in the README fragment and ``--help``):

1. a lockfile wins: ``uv.lock``, else ``poetry.lock``, else ``pylock.toml`` (else every ``pylock.*.toml``), else
   ``Pipfile.lock`` -- the first kind found in that order is read (the richest: uv.lock and poetry.lock carry
   dependency edges), the others are ignored;
2. otherwise every ``requirements*.txt`` in the directory (else every ``*.txt`` in a ``requirements/``
   sub-directory, else ``requirements*.in``) -- all are read, except files another one already includes with
   ``-r``; ``pyproject.toml`` then only names the project (name, version, metadata);
3. otherwise a ``Pipfile`` (no lock), else ``pyproject.toml`` with its dependencies.

A file's kind comes from its name (``uv.lock``, ``poetry.lock``, ``Pipfile.lock``, ``pylock*.toml``,
``pyproject.toml``), else from its content (TOML/JSON shape), else it is a requirements file.
"""

from __future__ import annotations

import re
from pathlib import Path

from auditor.errors import InputError
from auditor.sources.textfile import read_text

REQUIREMENTS = "requirements"
PYPROJECT = "pyproject.toml"
UV_LOCK = "uv.lock"
POETRY_LOCK = "poetry.lock"
PIPFILE_LOCK = "Pipfile.lock"
PYLOCK = "pylock.toml"
PIPFILE = "Pipfile"

_PYLOCK_NAME_RE = re.compile(r"^pylock\.[^.]+\.toml$")


def kind_of(path: str) -> str:
    """The input kind of ``path`` from its name, then its content."""
    name = Path(path).name
    if name == UV_LOCK:
        return UV_LOCK
    if name == POETRY_LOCK:
        return POETRY_LOCK
    if name == PIPFILE_LOCK:
        return PIPFILE_LOCK
    if name == PYLOCK or _PYLOCK_NAME_RE.match(name):
        return PYLOCK
    if name == PYPROJECT:
        return PYPROJECT
    if name == PIPFILE:
        return PIPFILE
    lower = name.lower()
    if lower.endswith((".toml", ".lock", ".json")):
        return _sniff(path)
    return REQUIREMENTS


def _sniff(path: str) -> str:
    """Tell lockfile formats apart by their keys when the file has another name (``locks/prod.lock``)."""
    text = read_text(path)
    head = text.lstrip()
    if head.startswith("{"):
        if '"_meta"' in text and ("pipfile-spec" in text or '"default"' in text):
            return PIPFILE_LOCK
        raise InputError("JSON file of unknown kind (expected Pipfile.lock)", file=path)
    if re.search(r"^lock-version\s*=", text, re.M) and re.search(r"^\[\[packages\]\]", text, re.M):
        return PYLOCK
    if re.search(r"^\[\[package\]\]", text, re.M):
        if re.search(r"^\[metadata\]", text, re.M) and re.search(r"content-hash", text):
            return POETRY_LOCK
        return UV_LOCK
    if re.search(r"^\[(project|tool\.poetry|dependency-groups)\]", text, re.M):
        return PYPROJECT
    if re.search(r"^\[\[packages\]\]", text, re.M):
        return PYLOCK
    return REQUIREMENTS


def discover(directory: str) -> list[str]:
    """The inputs to read inside a project directory (rule in the module docstring)."""
    root = Path(directory)
    for lock in (UV_LOCK, POETRY_LOCK):
        if (root / lock).is_file():
            return [str(root / lock)]
    pylock = root / PYLOCK
    if pylock.is_file():
        return [str(pylock)]
    named = sorted(p for p in root.glob("pylock.*.toml") if p.is_file() and _PYLOCK_NAME_RE.match(p.name))
    if named:
        return [str(p) for p in named]
    if (root / PIPFILE_LOCK).is_file():
        return [str(root / PIPFILE_LOCK)]
    reqs = sorted(p for p in root.glob("requirements*.txt") if p.is_file())
    if not reqs and (root / "requirements").is_dir():
        reqs = sorted(p for p in (root / "requirements").glob("*.txt") if p.is_file())
    if not reqs:
        reqs = sorted(p for p in root.glob("requirements*.in") if p.is_file())
    if reqs:
        return [str(p) for p in reqs]
    if (root / PIPFILE).is_file():
        return [str(root / PIPFILE)]
    if (root / PYPROJECT).is_file():
        return [str(root / PYPROJECT)]
    raise InputError("no requirements file, pyproject.toml or lockfile found in this directory "
                     "(looked for uv.lock, poetry.lock, pylock*.toml, Pipfile.lock, requirements*.txt, "
                     "requirements/*.txt, requirements*.in, Pipfile, pyproject.toml)", file=directory)


def project_file(directory: str) -> str | None:
    """``pyproject.toml`` beside discovered requirements files: read for the project's name and metadata only."""
    path = Path(directory) / PYPROJECT
    return str(path) if path.is_file() else None

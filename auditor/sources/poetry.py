"""Poetry's ``[tool.poetry]`` tables: dependencies, extras, groups and project identity, as PEP 508 requirements.

Constraints go through ``poetryspec`` (caret/tilde/wildcard -> PEP 440). The ``python`` key names the supported
interpreters, not a package, and is ignored. Dict entries may carry ``version``, ``extras``, ``markers``,
``python``, ``platform``, ``optional`` (only with a selected ``[tool.poetry.extras]`` entry), and ``git``/``path``/
``url`` (direct references, reported as skipped by the resolver). A list of dicts is several conditional
constraints. Groups: ``[tool.poetry.group.<name>.dependencies]`` and the old ``dev-dependencies`` (group ``dev``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from auditor.domain import Location, Requirement, canonical_name
from auditor.errors import InputError
from auditor.ledger import Item
from auditor.sources.poetryspec import PoetrySpecError, poetry_to_pep440, python_marker
from auditor.sources.tomlfile import LineFinder, as_list

ALL = {"all", "*", ":all:"}


def poetry_identity(poetry: dict[str, Any]) -> tuple[str | None, str | None, dict[str, str]]:
    name = poetry.get("name") if isinstance(poetry.get("name"), str) else None
    version = poetry.get("version") if isinstance(poetry.get("version"), str) else None
    meta: dict[str, str] = {}
    for key in ("description", "license", "homepage", "repository", "documentation"):
        value = poetry.get(key)
        if isinstance(value, str):
            meta[f"url:{key}" if key in ("homepage", "repository", "documentation") else key] = value
    authors = [a for a in as_list(poetry.get("authors")) if isinstance(a, str)]
    if authors:
        meta["authors"] = ", ".join(authors)
    return name, version, meta


def poetry_requirements(poetry: dict[str, Any], path: str, lines: LineFinder, extras: set[str], groups: set[str],
                        skipped: list[Item], *, main: bool = True) -> list[Requirement]:
    out: list[Requirement] = []
    if main:
        deps = poetry.get("dependencies") or {}
        selected_optional = _optional_selected(poetry, extras, path)
        out.extend(_table_requirements(deps, "tool.poetry.dependencies", path, lines, None, selected_optional))
    group_tables: dict[str, tuple[str, Any]] = {}
    group_root = poetry.get("group") or {}
    if not isinstance(group_root, dict):
        raise InputError("[tool.poetry.group] must be a table", file=path)
    for key, value in group_root.items():
        if not isinstance(value, dict):
            raise InputError(f"[tool.poetry.group.{key}] must be a table", file=path)
        group_tables[canonical_name(key)] = (f"tool.poetry.group.{key}.dependencies", value.get("dependencies") or {})
    wanted = set(group_tables) | ({"dev"} if poetry.get("dev-dependencies") else set()) if groups & ALL else groups
    for group in sorted(wanted & set(group_tables)):
        header, table = group_tables[group]
        out.extend(_table_requirements(table, header, path, lines, f"group:{group}", None))
    if "dev" in wanted and poetry.get("dev-dependencies"):  # Poetry < 1.2 spelling of the dev group
        out.extend(_table_requirements(poetry["dev-dependencies"], "tool.poetry.dev-dependencies", path, lines,
                                       "group:dev", None))
    return out


def _optional_selected(poetry: dict[str, Any], extras: set[str], path: str) -> set[str]:
    table = poetry.get("extras") or {}
    if not isinstance(table, dict):
        raise InputError("[tool.poetry.extras] must be a table", file=path)
    chosen: set[str] = set()
    for key, names in table.items():
        if (extras & ALL or canonical_name(key) in extras) and isinstance(names, list):
            chosen.update(canonical_name(str(n)) for n in names)
    return chosen


def _table_requirements(table: object, header: str, path: str, lines: LineFinder, group: str | None,
                        optional_ok: set[str] | None) -> list[Requirement]:
    if not isinstance(table, dict):
        raise InputError(f"[{header}] must be a table", file=path)
    start = lines.offset_of_table(header)
    out: list[Requirement] = []
    for key, spec in table.items():
        if canonical_name(key) == "python":
            continue
        line = lines.key(key, start)
        entries = spec if isinstance(spec, list) else [spec]
        for entry in entries:
            req = _one(key, entry, path, line)
            if req is None:
                continue
            optional = isinstance(entry, dict) and bool(entry.get("optional"))
            if optional and (optional_ok is None or req.name not in optional_ok):
                continue
            req.group = group
            out.append(req)
    return out


def _one(key: str, spec: object, path: str, line: int | None) -> Requirement | None:
    name = canonical_name(key)
    loc = Location(path, line)
    if isinstance(spec, str):
        return Requirement(name=name, raw=f"{key} = \"{spec}\"", specifier=_convert(spec, path, line), location=loc)
    if not isinstance(spec, dict):
        raise InputError(f"dependency {key!r}: expected a version string or a table", file=path, line=line)
    extras_value = spec.get("extras") or []
    if not isinstance(extras_value, list):
        raise InputError(f"dependency {key!r}: extras must be an array", file=path, line=line)
    extras = tuple(sorted(canonical_name(str(e)) for e in extras_value))
    markers: list[str] = []
    if isinstance(spec.get("markers"), str) and spec["markers"].strip():
        markers.append(f"({spec['markers'].strip()})")
    if isinstance(spec.get("python"), str):
        try:
            py = python_marker(spec["python"])
        except PoetrySpecError as exc:
            raise InputError(f"dependency {key!r}: python {exc}", file=path, line=line) from None
        if py:
            markers.append(f"({py})")
    if isinstance(spec.get("platform"), str):
        markers.append(f'sys_platform == "{spec["platform"]}"')
    marker = " and ".join(markers) if markers else None
    raw = f"{key} = {_inline(spec)}"
    url: str | None = None
    editable = bool(spec.get("develop"))
    if isinstance(spec.get("git"), str):
        ref = next((spec[k] for k in ("rev", "tag", "branch") if isinstance(spec.get(k), str)), None)
        git = spec["git"]
        url = (git if git.startswith("git+") else f"git+{git}") + (f"@{ref}" if ref else "")
        subdir = spec.get("subdirectory")
        url += f"#egg={key}" + (f"&subdirectory={subdir}" if isinstance(subdir, str) else "")
    elif isinstance(spec.get("path"), str):
        base = os.path.dirname(os.path.abspath(path))
        url = Path(os.path.normpath(os.path.join(base, spec["path"]))).as_uri()
    elif isinstance(spec.get("url"), str):
        url = spec["url"]
    version = spec.get("version", "")
    if not isinstance(version, str):
        raise InputError(f"dependency {key!r}: version must be a string", file=path, line=line)
    specifier = "" if url else _convert(version, path, line)
    return Requirement(name=name, raw=raw, specifier=specifier, extras=extras, marker=marker, location=loc, url=url,
                       editable=editable)


def _convert(constraint: str, path: str, line: int | None) -> str:
    try:
        return poetry_to_pep440(constraint)  # "a || b" becomes the range covering both (never narrower)
    except PoetrySpecError as exc:
        raise InputError(f"invalid Poetry constraint {constraint!r}: {exc}", file=path, line=line) from None


def _inline(spec: dict[str, Any]) -> str:
    parts = []
    for k, v in spec.items():
        parts.append(f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"')
    return "{ " + ", ".join(parts) + " }"

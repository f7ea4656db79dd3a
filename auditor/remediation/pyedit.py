"""Widening a ``pyproject.toml`` constraint that blocks a fix, as a text edit of that one string.

Which strings: the dependency arrays the resolver reads -- ``[project] dependencies``, ``[project.optional-
dependencies]``, ``[dependency-groups]`` and uv's ``dev-dependencies`` / ``constraint-dependencies`` /
``override-dependencies``. A string is edited only when it names the package and its specifier excludes the fix
(``torch>=2.0,<2.2`` with a fix in 2.3.1 becomes ``torch>=2.0,<2.4``); marker, extras and quoting stay.
Poetry's own syntax (``^1.2``) is not PEP 440: such a constraint is reported, not guessed at.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PkgRequirement

from auditor.domain import canonical_name
from auditor.remediation.reqtext import new_specifier, replace_spec, specifier_of

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

_STRING = re.compile(r"\"(?P<double>[^\"\n\\]*)\"|'(?P<single>[^'\n]*)'")


def dependency_strings(data: Mapping[str, Any]) -> set[str]:
    """Every requirement string of the arrays named in the module docstring."""
    out: set[str] = set()

    def add(value: object) -> None:
        if isinstance(value, list):
            out.update(v for v in value if isinstance(v, str))

    project = data.get("project")
    if isinstance(project, dict):
        add(project.get("dependencies"))
        optional = project.get("optional-dependencies")
        if isinstance(optional, dict):
            for value in optional.values():
                add(value)
    groups = data.get("dependency-groups")
    if isinstance(groups, dict):
        for value in groups.values():
            add(value)
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, dict) else None
    if isinstance(uv, dict):
        for key in ("dev-dependencies", "constraint-dependencies", "override-dependencies"):
            add(uv.get(key))
    return out


def _strings(text: str) -> Iterator[re.Match[str]]:
    return _STRING.finditer(text)


def widen_pyproject(text: str, targets: Mapping[str, str]) -> tuple[str, set[str]]:
    """``text`` with every dependency string that blocks a target widened; returns it and the target names whose
    strings now admit their target (widened or already admitting). Raises ``EditError`` (from ``reqtext``) for a
    blocking constraint that is not PEP 440."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return text, set()
    wanted = dependency_strings(data)
    pieces: list[str] = []
    last = 0
    admitted: set[str] = set()
    for m in _strings(text):
        group = "double" if m["double"] is not None else "single"
        body = m[group]
        if body not in wanted:
            continue
        try:
            req = PkgRequirement(body)
        except InvalidRequirement:
            continue
        name = canonical_name(req.name)
        to = targets.get(name)
        if to is None or req.url:
            continue
        spec = new_specifier(specifier_of(body), to)
        admitted.add(name)
        if spec is None:
            continue
        pieces += [text[last:m.start(group)], replace_spec(body, spec)]
        last = m.end(group)
    pieces.append(text[last:])
    return "".join(pieces), admitted


_LOCKED_FIELDS = frozenset({"version", "dependencies", "optional-dependencies"})


def declares_dynamic(text: str) -> bool:
    """Whether what a lock records of the project is computed by its build backend (its version or dependencies
    listed in ``[project] dynamic``, or no ``[project]`` table with a build system): reading it would run the
    backend. A dynamic ``readme`` or ``classifiers`` does not matter to a lock."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return True
    project = data.get("project")
    if isinstance(project, dict):
        dynamic = project.get("dynamic")
        return isinstance(dynamic, list) and bool(_LOCKED_FIELDS & {d for d in dynamic if isinstance(d, str)})
    return "build-system" in data


def workspace_members(text: str) -> list[str]:
    """``[tool.uv.workspace] members`` globs."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return []
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, dict) else None
    workspace = uv.get("workspace") if isinstance(uv, dict) else None
    members = workspace.get("members") if isinstance(workspace, dict) else None
    return [m for m in members if isinstance(m, str)] if isinstance(members, list) else []

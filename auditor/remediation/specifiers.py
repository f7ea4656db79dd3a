"""Widening a version specifier just enough to admit the fix: the user's other bounds stay as written.

Why minimal and clause by clause: ``torch>=1.13,<2.1`` says something about the project (an API it relies on); a
fix to 2.2.1 must lift the upper bound past 2.2.1 and nothing else. An upper bound keeps the precision the user
wrote (``<2.1`` becomes ``<2.3``, not ``<=2.2.1``, so later patch releases of the fixed minor still install); an
exact pin moves to the fix; an exclusion of the fix itself is dropped.
"""

from __future__ import annotations

from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.version import Version

from auditor.advisories.match import parse_version


def admits(specifier: str, version: str) -> bool:
    """Does ``specifier`` (PEP 440, possibly empty) allow ``version``? Pre-releases count as allowed."""
    try:
        return SpecifierSet(specifier).contains(version, prereleases=True)
    except InvalidSpecifier:
        return False


def widen(specifier: str, to: str) -> str | None:
    """``specifier`` changed only where a clause excludes ``to`` (rules in the module docstring); the text of the
    other clauses is kept as written. None when ``specifier`` is not PEP 440 (e.g. Poetry's ``^1.2``)."""
    target = parse_version(to)
    if target is None:
        return None
    if not specifier.strip():
        return specifier
    parts = specifier.split(",")
    out: list[str] = []
    for raw in parts:
        text = raw.strip()
        if not text:
            continue
        try:
            clause = Specifier(text)
        except InvalidSpecifier:
            return None
        if clause.contains(target, prereleases=True):
            out.append(raw)
            continue
        replaced = _widen_clause(clause, target)
        if replaced is None:
            return None
        if replaced:
            lead = raw[: len(raw) - len(raw.lstrip())]
            out.append(lead + replaced)
    return ",".join(out).strip()


def _widen_clause(clause: Specifier, target: Version) -> str | None:
    """The replacement of one clause that excludes ``target``: a new clause, "" to drop it, None if unknown."""
    op, version = clause.operator, clause.version
    if op == "===":
        return f"==={target}"
    if op == "==":
        if version.endswith(".*"):
            width = len(version[:-2].split("."))
            return "==" + ".".join(str(x) for x in _release(target, width)) + ".*"
        return f"=={target}"
    if op == "!=":
        return ""
    bound = parse_version(version.rstrip(".*"))
    if bound is None:
        return None
    if op == "<":
        return "<" + _next_at(target, len(bound.release))
    if op == "<=":
        return f"<={target}"
    if op == "~=":
        width = max(1, len(bound.release) - 1)
        return f">={version},<" + _next_at(target, width)
    if op in (">", ">="):
        return None  # a lower bound above the fix: the fix is older than what the project asks for
    return None


def _release(version: Version, width: int) -> list[int]:
    parts = list(version.release[:width])
    return parts + [0] * (width - len(parts))


def _next_at(version: Version, width: int) -> str:
    """The first version above ``version`` at ``width`` release components (``2.2.1`` at 2 -> ``2.3``)."""
    parts = _release(version, width)
    parts[-1] += 1
    return ".".join(str(x) for x in parts)

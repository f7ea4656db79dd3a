"""Poetry version constraints (caret, tilde, wildcard, ``||``) converted to PEP 440 specifiers.

Why: the resolver and the advisory matcher speak PEP 440 only. Poetry's ``^1.2`` means ``>=1.2,<2.0``; an
``A || B`` union has no PEP 440 form, so it becomes the smallest range covering both (never narrower than what
the user allowed, so no version that Poetry could pick is excluded).
"""

from __future__ import annotations

import re

from packaging.version import InvalidVersion, Version

_CLAUSE_RE = re.compile(r"^(?P<op>\^|~=|~|===|==|!=|<=|>=|<|>|=)?\s*(?P<ver>[A-Za-z0-9.*+!_-]+)$")


class PoetrySpecError(ValueError):
    """A constraint that is not valid Poetry syntax."""


def _release(text: str) -> list[int]:
    try:
        return list(Version(text.rstrip(".*").rstrip(".") or "0").release)
    except InvalidVersion as exc:
        raise PoetrySpecError(f"invalid version {text!r}") from exc


def _bump(release: list[int], index: int) -> str:
    parts = (release + [0] * (index + 1))[: index + 1]
    parts[index] += 1
    return ".".join(str(p) for p in parts)


def _clause(text: str) -> list[str]:
    m = _CLAUSE_RE.match(text.strip())
    if not m:
        raise PoetrySpecError(f"invalid constraint {text!r}")
    op, ver = m.group("op") or "", m.group("ver")
    if ver in ("*", "x", "X") and not op:
        return []
    if op == "^":
        release = _release(ver)
        first_nonzero = next((i for i, p in enumerate(release) if p != 0), len(release) - 1)
        return [f">={ver}", f"<{_bump(release, first_nonzero)}"]
    if op == "~":
        release = _release(ver)
        return [f">={ver}", f"<{_bump(release, 1 if len(release) >= 2 else 0)}"]
    if "*" in ver:
        if op not in ("", "==", "=", "!="):
            raise PoetrySpecError(f"wildcard with {op!r} in {text!r}")
        _release(ver)
        return [f"{'!=' if op == '!=' else '=='}{ver}"]
    if op in ("", "="):
        op = "=="
    try:
        Version(ver)
    except InvalidVersion as exc:
        raise PoetrySpecError(f"invalid version {ver!r}") from exc
    return [f"{op}{ver}"]


def _conjunction(text: str) -> list[str]:
    clauses: list[str] = []
    # "a, b" and "a b" both mean AND in Poetry; keep operators attached to their versions
    normalised = re.sub(r"(\^|~=|~|===|==|!=|<=|>=|<|>|=)\s+", r"\1", text)
    for part in re.split(r"[,\s]+", normalised.strip()):
        if part:
            clauses.extend(_clause(part))
    return clauses


def poetry_to_pep440(constraint: str) -> str:
    """``"^1.2"`` -> ``">=1.2,<2"``; ``"*"`` -> ``""``; raises ``PoetrySpecError`` on invalid input."""
    text = constraint.strip()
    if text in ("", "*"):
        return ""
    alternatives = [a for a in text.split("||")]
    if any(not a.strip() for a in alternatives):
        raise PoetrySpecError(f"empty alternative in {constraint!r}")
    converted = [_conjunction(a) for a in alternatives]
    if len(converted) == 1:
        return ",".join(converted[0])
    return ",".join(_hull(converted))


def _bounds(clauses: list[str]) -> tuple[tuple[Version, str] | None, tuple[Version, str] | None]:
    """(lowest-allowed bound, highest-allowed bound) of one conjunction, each as (version, operator)."""
    lower: tuple[Version, str] | None = None
    upper: tuple[Version, str] | None = None
    for clause in clauses:
        m = re.match(r"^(===|==|!=|<=|>=|<|>|~=)(.*)$", clause)
        if not m or "*" in m.group(2) or m.group(1) in ("!=", "~="):
            continue
        op, version = m.group(1), Version(m.group(2))
        if op in (">=", ">", "==", "===", "~="):
            candidate = (version, ">" if op == ">" else ">=")
            if lower is None or candidate[0] > lower[0]:
                lower = candidate
        if op in ("<", "<=", "==", "==="):
            candidate = (version, "<" if op == "<" else "<=")
            if upper is None or candidate[0] < upper[0]:
                upper = candidate
    return lower, upper


def _hull(alternatives: list[list[str]]) -> list[str]:
    """The smallest single range containing every alternative (lower/upper bounds only)."""
    bounds = [_bounds(c) for c in alternatives]
    out: list[str] = []
    lowers = [b[0] for b in bounds]
    if all(low is not None for low in lowers):
        low = min((x for x in lowers if x is not None), key=lambda x: x[0])
        out.append(f"{low[1]}{low[0]}")
    uppers = [b[1] for b in bounds]
    if all(up is not None for up in uppers):
        up = max((x for x in uppers if x is not None), key=lambda x: x[0])
        out.append(f"{up[1]}{up[0]}")
    return out


def python_marker(constraint: str, variable: str = "python_version") -> str | None:
    """Poetry's ``python = "^3.8"`` on a dependency as a PEP 508 marker (None: any Python)."""
    text = constraint.strip()
    if text in ("", "*"):
        return None
    alternatives = []
    for alternative in text.split("||"):
        clauses = _conjunction(alternative)
        if not clauses:
            return None
        alternatives.append(" and ".join(_marker_clause(c, variable) for c in clauses))
    if len(alternatives) == 1:
        return alternatives[0]
    return " or ".join(f"({a})" for a in alternatives)


def _marker_clause(clause: str, variable: str) -> str:
    m = re.match(r"^(===|==|!=|<=|>=|<|>|~=)(.*)$", clause)
    if not m:
        return f'{variable} == "{clause}"'
    return f'{variable} {m.group(1)} "{m.group(2)}"'

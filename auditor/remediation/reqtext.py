"""Editing requirements files as text: a pin moved, a bound widened, hashes replaced, a new pin inserted -- and
every other byte (comments, markers, extras, options, ``# via`` blocks, line endings) kept as the user wrote it.

Why text and not "parse and re-serialise": a requirements file is the user's document; a fix should show up in
review as the one or two lines it changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from auditor.domain import canonical_name
from auditor.remediation.specifiers import admits, widen

_NAME = re.compile(r"^(?P<lead>\s*)(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?P<extras>\[[^\]]*\])?")
_PIN = re.compile(r"^(===?\s*)\S+$")
_HASH = re.compile(r"\s*--hash[=\s]\s*\S+")

HashLookup = Callable[[str, str], list[str]]  # (name, version) -> ["sha256:<hex>", ...]


class EditError(Exception):
    """A line that cannot be rewritten safely (a specifier that is not PEP 440, hashes that cannot be had)."""


@dataclass
class Entry:
    """One requirement of a file: physical lines ``start..end`` (0-based, inclusive, continuations joined)."""

    start: int
    end: int
    name: str  # PEP 503
    hashed: bool


def split_lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _body(line: str) -> str:
    return line.rstrip("\r\n")


def _newline(line: str) -> str:
    return line[len(_body(line)):] or "\n"


def entries(lines: Sequence[str]) -> list[Entry]:
    """Requirement entries in file order (options, ``-r``/``-e`` lines and comments are not entries)."""
    out: list[Entry] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        while _body(lines[i]).endswith("\\") and i + 1 < len(lines):
            i += 1
        joined = " ".join(_body(ln).rstrip("\\") for ln in lines[start:i + 1])
        m = _NAME.match(lines[start])
        if not stripped.startswith("-") and m is not None and "@" not in joined.split(";")[0].split("#")[0]:
            out.append(Entry(start, i, canonical_name(m["name"]), "--hash" in joined))
        i += 1
    return out


def spec_region(line: str) -> tuple[int, int] | None:
    """Where the version specifier of a requirement line lies (``[start, end)``), after name and extras and
    before a marker, a comment, a pip option or a continuation."""
    m = _NAME.match(line)
    if m is None:
        return None
    pos = m.end()
    end = len(_body(line))
    for stop in (";", " #", "\t#", " --", "\t--", "\\"):
        idx = line.find(stop, pos)
        if idx != -1:
            end = min(end, idx)
    return pos, end


def specifier_of(line: str) -> str:
    region = spec_region(line)
    return line[region[0]:region[1]].strip() if region else ""


def replace_spec(line: str, new_spec: str) -> str:
    """``line`` with its specifier replaced, the whitespace around it kept."""
    region = spec_region(line)
    if region is None:
        raise EditError(f"not a requirement line: {line.strip()!r}")
    start, end = region
    old = line[start:end]
    lead = old[: len(old) - len(old.lstrip())]
    trail = old[len(old.rstrip()):] if old.strip() else (" " if line[end:end + 1] in (";", "#") else "")
    return line[:start] + lead + new_spec + trail + line[end:]


def new_specifier(spec: str, to: str) -> str | None:
    """The specifier the fix writes for ``to``: unchanged when it already admits it (None), else widened."""
    if spec and admits(spec, to):
        return None
    if not spec:
        return None
    widened = widen(spec, to)
    if widened is None:
        raise EditError(f"specifier {spec!r} excludes {to} and is not PEP 440, so it was not widened")
    return widened


def _hash_block(first: str, hashes: Sequence[str], indent: str) -> list[str]:
    nl = _newline(first)
    head = _HASH.sub("", _body(first)).rstrip().rstrip("\\").rstrip()
    out = [head + " \\" + nl]
    for i, digest in enumerate(hashes):
        tail = " \\" if i < len(hashes) - 1 else ""
        out.append(f"{indent}--hash={digest}{tail}{nl}")
    return out


def _indent_of(lines: Sequence[str], entry: Entry) -> str:
    if entry.end > entry.start:
        second = lines[entry.start + 1]
        return second[: len(second) - len(second.lstrip())] or "    "
    return "    "


def rewrite_entry(lines: list[str], entry: Entry, spec: str | None, version: str | None,
                  hashes: HashLookup | None) -> list[str]:
    """The entry's new lines: the specifier replaced by ``spec`` (None: kept) and, for a hashed entry, hashes of
    ``version`` (an exact pin) from ``hashes``."""
    block = lines[entry.start:entry.end + 1]
    first = block[0] if spec is None else replace_spec(block[0], spec)
    if not entry.hashed:
        return [first, *block[1:]]
    if version is None or hashes is None:
        raise EditError(f"{entry.name}: a hashed requirement needs an exact pin to regenerate its hashes")
    found = hashes(entry.name, version)
    if not found:
        raise EditError(f"{entry.name} {version}: the index lists no files with hashes for it")
    return _hash_block(first, sorted(found), _indent_of(lines, entry))


def edit_pins(text: str, targets: Mapping[str, str], hashes: HashLookup | None, *,
              only_exact: bool = False) -> tuple[str, list[str]]:
    """Move every requirement of a name in ``targets`` (name -> version) so that it admits that version: exact
    pins rewritten, blocking bounds widened, hashes regenerated. Returns the new text and the names it changed.
    ``only_exact``: touch exact pins only (a lock's lines)."""
    lines = split_lines(text)
    changed: list[str] = []
    for entry in reversed(entries(lines)):
        to = targets.get(entry.name)
        if to is None:
            continue
        spec = specifier_of(lines[entry.start])
        if only_exact and not spec.startswith("=="):
            continue
        pin = spec.startswith("==") and "*" not in spec and "," not in spec
        pinned = _PIN.match(spec)
        new = (pinned[1] + to if pinned else f"=={to}") if pin else new_specifier(spec, to)
        if pin and spec[2:].strip() == to:
            continue
        if new is None and not entry.hashed:
            continue
        lines[entry.start:entry.end + 1] = rewrite_entry(lines, entry, new, to if (pin or new) else None, hashes)
        changed.append(entry.name)
    return "".join(lines), sorted(set(changed))


def insert_pins(text: str, pins: Mapping[str, str], hashes: HashLookup | None, *, hashed: bool,
                via: Mapping[str, Sequence[str]]) -> str:
    """Add ``name==version`` entries (new dependencies of an upgrade) in name order, with hashes when the file
    has them and a ``# via`` annotation naming the packages that require them."""
    lines = split_lines(text)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n"
    nl = _newline(lines[0]) if lines else "\n"
    for name in sorted(pins, reverse=True):
        version = pins[name]
        block = [f"{name}=={version}{nl}"]
        if hashed:
            found = hashes(name, version) if hashes else []
            if not found:
                raise EditError(f"{name} {version}: the index lists no files with hashes for it")
            block = _hash_block(block[0], sorted(found), "    ")
        parents = [p for p in via.get(name, []) if not p.startswith("-")]
        if parents:
            block += [f"    # via {parents[0]}{nl}"] if len(parents) == 1 else \
                [f"    # via{nl}", *[f"    #   {p}{nl}" for p in parents]]
        found_entries = entries(lines)
        after = next((e for e in found_entries if e.name > name), None)
        if after is not None:
            at = after.start
        elif found_entries:
            last = found_entries[-1]
            at = last.end + 1
            while at < len(lines) and lines[at].startswith((" ", "\t")) and lines[at].strip().startswith("#"):
                at += 1
        else:
            at = len(lines)
        lines[at:at] = block
    return "".join(lines)


def header_command(text: str) -> str | None:
    """The command of a ``uv pip compile`` / ``pip-compile`` header (the line under "via/by the following
    command"), or None when the file has no such header."""
    head: list[str] = []
    for line in split_lines(text):
        if not line.lstrip().startswith("#") and line.strip():
            break
        head.append(_body(line))
    joined = "\n".join(head)
    if not re.search(r"autogenerated by (?:pip-compile|uv)\b", joined, re.I):
        return None
    seen = False
    for line in head:
        body = line.lstrip("#").strip()
        if "following command" in body:
            seen = True
            continue
        if seen and body:
            return body
    return None


def header_block(text: str) -> str:
    """The file's leading comment/blank lines (its header), exactly."""
    out: list[str] = []
    for line in split_lines(text):
        if line.strip() and not line.lstrip().startswith("#"):
            break
        out.append(line)
    return "".join(out)

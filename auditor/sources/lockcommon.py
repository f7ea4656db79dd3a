"""Small helpers the lockfile readers share: typed access to parsed TOML/JSON, artefacts, header line numbers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from auditor.domain import ROOT_NODE, Artifact, Edge, Package, Skipped, canonical_name
from auditor.errors import InputError
from auditor.ledger import ItemKind
from auditor.net import redact_url
from auditor.sources.base import SourceResult
from auditor.sources.tomlfile import load_toml


def table(value: object, path: str, what: str, line: int | None = None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a table", file=path, line=line)
    return value


def array(value: object, path: str, what: str, line: int | None = None) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{what} must be an array", file=path, line=line)
    return value


def string(value: object, path: str, what: str, line: int | None = None, *, required: bool = True) -> str:
    if isinstance(value, str) and (value or not required):
        return value
    if value is None and not required:
        return ""
    raise InputError(f"{what} must be a non-empty string", file=path, line=line)


def open_package_lock(path: str, kind: str) -> tuple[dict[str, Any], dict[str, Any], list[int], SourceResult]:
    """A TOML lock made of ``[[package]]`` tables and a ``[metadata]`` table (poetry.lock, pdm.lock): its data, its
    metadata, the line of each ``[[package]]`` header, and an empty locked result to fill. A file with neither
    table is not this kind of lock (an input error naming it)."""
    data, text = load_toml(path)
    metadata = table(data.get("metadata"), path, "[metadata]")
    if "package" not in data and not metadata:
        raise InputError(f"not a {kind} file (no [[package]] and no [metadata])", file=path, line=1)
    result = SourceResult(files=[path], resolved=True, kinds=[kind], is_lock=True)
    return data, metadata, header_lines(text, "package"), result


def package_entries(data: dict[str, Any], lines: list[int], path: str
                    ) -> Iterator[tuple[int | None, dict[str, Any], str, str]]:
    """Each ``[[package]]`` table of a poetry/pdm lock as (header line, table, PEP 503 name, version or "")."""
    for i, raw in enumerate(array(data.get("package"), path, "[[package]]")):
        line = lines[i] if i < len(lines) else None
        entry = table(raw, path, "[[package]]", line)
        name = canonical_name(string(entry.get("name"), path, "package name", line))
        version = string(entry.get("version"), path, f"{name}: version", line, required=False)
        yield line, entry, name, version


def header_lines(text: str, header: str) -> list[int]:
    """1-based line numbers of each ``[[header]]`` in order (tomllib keeps array order, so index i matches): a
    ``[[header]]`` with only spaces or tabs before it on its line.

    Why not one multi-line ``^``-anchored pattern: the regular expression engine then tries every position of the
    text (a 201-package uv.lock: ~5 ms); the header's own ``[[`` is searched for instead, and its line checked."""
    pattern = re.compile(r"\[\[[ \t]*" + re.escape(header) + r"[ \t]*\]\]")
    lines: list[int] = []
    count = 1
    last = 0
    for m in pattern.finditer(text):
        start = text.rfind("\n", 0, m.start()) + 1
        if text[start:m.start()].strip(" \t"):
            continue
        count += text.count("\n", last, start)
        last = start
        lines.append(count)
    return lines


def filename_of(url: str) -> str:
    try:
        path = urlsplit(url).path
    except ValueError:  # e.g. a malformed IPv6 host: the file name is still the last path segment
        path = url.split("?", 1)[0].split("#", 1)[0]
    return PurePosixPath(unquote(path)).name


def artifact(entry: dict[str, Any], kind: str, hashes: dict[str, str]) -> Artifact:
    url = entry.get("url") if isinstance(entry.get("url"), str) else None
    path = entry.get("path") if isinstance(entry.get("path"), str) else None
    name = entry.get("name") or entry.get("filename") or entry.get("file")
    filename = str(name) if isinstance(name, str) else filename_of(url or path or "")
    size = entry.get("size")
    return Artifact(filename=filename, url=url or path, hashes=hashes, kind=kind,
                    size=size if isinstance(size, int) and not isinstance(size, bool) else None)


def add_artifact(pkg: Package, item: dict[str, Any], kind: str, path: str, line: int | None) -> None:
    """One locked file of ``pkg`` (its ``hash = "algo:hex"`` recorded on the package too); a bad hash is exit 2."""
    hashes: dict[str, str] = {}
    h = item.get("hash")
    if isinstance(h, str):
        split = split_hash(h)
        if split is None:
            raise InputError(f"{pkg.name}: invalid hash {h!r}", file=path, line=line)
        hashes[split[0]] = split[1]
        add_hash(pkg, *split)
    pkg.artifacts.append(artifact(item, kind, hashes))


def split_hash(text: str) -> tuple[str, str] | None:
    """``"sha256:abc"`` -> ``("sha256", "abc")``; anything else None."""
    algo, sep, digest = text.partition(":")
    if not sep or not algo or not re.fullmatch(r"[0-9a-fA-F]+", digest):
        return None
    return algo.lower(), digest.lower()


def no_version(name: str, where: str, path: str, line: int | None) -> Skipped:
    """A locked entry without a version (VCS, local directory): nothing to audit by name and version."""
    return Skipped(reason=f"locked without a version ({where}): its name and version cannot be audited", file=path,
                   line=line, requirement=name, not_checked=[f"{name} and its dependencies"], kind=ItemKind.LOCKED_PACKAGE)


def add_hash(pkg: Package, algo: str, digest: str) -> None:
    text = f"{algo.lower()}:{digest.lower()}"
    if text not in pkg.hashes:
        pkg.hashes.append(text)


def sibling(path: str, name: str) -> str | None:
    candidate = Path(path).parent / name
    return str(candidate) if candidate.is_file() else None


def declared_names(pyproject: str) -> set[str] | None:
    """Every dependency name the sibling pyproject.toml declares (all extras and groups); None if unreadable."""
    from auditor.options import AuditOptions
    from auditor.sources.pyproject import load_pyproject

    try:
        src = load_pyproject(pyproject, AuditOptions(extras=["all"], groups=["all"]))
    except InputError:
        return None
    return {r.name for r in src.requirements}


def apply_identity(result: SourceResult, pyproject: str | None) -> None:
    if pyproject is None:
        return
    from auditor.sources.pyproject import project_identity

    name, version, metadata = project_identity(pyproject)
    result.root_name = result.root_name or name
    result.root_version = result.root_version or version
    for key, value in metadata.items():
        result.root_metadata.setdefault(key, value)


def mark_direct(result: SourceResult, direct: set[str] | None) -> None:
    """``direct`` names (None: unknown -> every package nothing else requires) become root edges."""
    children = {e.child for e in result.edges if e.parent != ROOT_NODE}
    from_root = {e.child for e in result.edges if e.parent == ROOT_NODE}
    for pkg in result.packages:
        if direct is not None:
            pkg.direct = pkg.name in direct
        else:
            pkg.direct = pkg.node_id not in children
        if pkg.direct and pkg.node_id not in from_root:
            from_root.add(pkg.node_id)
            result.edges.append(Edge(ROOT_NODE, pkg.node_id, requirement=pkg.name, origin="lockfile"))


def record_indexes(result: SourceResult, declared: list[str] | None = None) -> None:
    """The indexes the lock was resolved against (declared order first, then as packages name them), so that
    the dependency-confusion check sees a multi-index lock."""
    urls = [*(declared or []), *(p.index_url for p in result.packages if p.index_url)]
    unique = list(dict.fromkeys(u for u in urls if u))
    if unique:
        result.index_url = result.index_url or unique[0]
        result.extra_index_urls = [u for u in unique[1:] if u != result.index_url]
    for pkg in result.packages:  # packages end up in reports and SBOMs: never with a token in them
        if pkg.index_url:
            pkg.index_url = redact_url(pkg.index_url)


def register_locked(result: SourceResult, name: str, version: str, path: str, line: int | None) -> None:
    """One locked entry, registered as read (``auditor.ledger``): audited once its package is in the report."""
    result.register(ItemKind.LOCKED_PACKAGE, f"{name}=={version}" if version else name, file=path, line=line,
                    requirement=f"{name}=={version}" if version else name, package=name, version=version or None)


def register_sections(result: SourceResult, path: str, sections: list[str]) -> None:
    """The lock's sections (groups, extras, categories): each is accounted for like the packages in it."""
    for section in dict.fromkeys(sections):
        result.register(ItemKind.LOCK_SECTION, f"{path} [{section}]", file=path)

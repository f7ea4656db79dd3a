"""PEP 751 ``pylock.toml`` / ``pylock.<name>.toml``, read as already resolved.

Hashes, artefacts (wheels, sdist, archive) and index URLs come from each ``[[packages]]`` entry. PEP 751 does not
mark direct packages; when entries carry the optional ``dependencies`` arrays they give the edges and the direct
packages are those nothing else requires, otherwise every package counts as direct. Entries without a version
(VCS, local directories) become skipped entries.
"""

from __future__ import annotations

from typing import Any

from auditor.domain import Edge, Location, Package, canonical_name, package_node
from auditor.errors import InputError
from auditor.options import AuditOptions
from auditor.sources.base import SourceResult
from auditor.sources.lockcommon import (
    add_hash,
    apply_identity,
    array,
    artifact,
    header_lines,
    mark_direct,
    no_version,
    record_indexes,
    register_locked,
    sibling,
    string,
    table,
)
from auditor.sources.locked import Candidate, choose_versions
from auditor.sources.markers import target_environment
from auditor.sources.tomlfile import load_toml

SUPPORTED_MAJOR = 1


def load_pylock(path: str, options: AuditOptions) -> SourceResult:
    data, text = load_toml(path)
    lock_version = data.get("lock-version")
    if not isinstance(lock_version, str):
        raise InputError("not a PEP 751 lock file (no lock-version)", file=path, line=1)
    major = lock_version.split(".", 1)[0]
    if not major.isdigit() or int(major) != SUPPORTED_MAJOR:
        raise InputError(f"unsupported pylock lock-version {lock_version!r} (this mlaudit reads 1.x)", file=path,
                         line=1)
    lines = header_lines(text, "packages")
    result = SourceResult(files=[path], resolved=True, kinds=["pylock.toml"], is_lock=True)
    if isinstance(data.get("created-by"), str):
        result.root_metadata["lock:created-by"] = data["created-by"]
    env = target_environment(options.python_version, options.platform)
    candidates: list[Candidate] = []
    edges_of: dict[int, list[Edge]] = {}
    any_dependencies = False
    for i, raw in enumerate(array(data.get("packages"), path, "[[packages]]")):
        line = lines[i] if i < len(lines) else None
        entry = table(raw, path, "[[packages]]", line)
        name = canonical_name(string(entry.get("name"), path, "packages.name", line))
        version = string(entry.get("version"), path, f"{name}: version", line, required=False)
        register_locked(result, name, version, path, line)
        if not version:
            where = next((k for k in ("vcs", "directory", "archive") if k in entry), "no version")
            detail = table(entry.get(where), path, where, line) if where in entry else {}
            url = detail.get("url") or detail.get("path") or ""
            result.skipped.append(no_version(name, f"{where} {url}".strip(), path, line))
            continue
        pkg = Package(name=name, version=version, source="pylock.toml", location=Location(path, line))
        if isinstance(entry.get("index"), str):
            pkg.index_url = entry["index"]
        _files(entry, pkg, path, line)
        for kind in ("vcs", "directory", "archive"):
            if kind in entry:
                detail = table(entry.get(kind), path, f"{name}: {kind}", line)
                pkg.origin = f"{kind}: {detail.get('url') or detail.get('path') or ''}"
                if kind != "archive":
                    for art in pkg.artifacts:
                        art.verified = False
        marker = entry.get("marker") if isinstance(entry.get("marker"), str) else None
        pkg.markers = marker
        candidates.append(Candidate(pkg, marker))
        deps = array(entry.get("dependencies"), path, f"{name}: dependencies", line)
        any_dependencies = any_dependencies or bool(deps)
        edges: list[Edge] = []
        for dep in deps:
            item = table(dep, path, f"{name}: dependency", line)
            child = string(item.get("name"), path, f"{name}: dependency name", line)
            edges.append(Edge(package_node(name), package_node(child), requirement=canonical_name(child),
                              origin="lockfile"))
        edges_of[id(pkg)] = edges
    chosen, skipped = choose_versions(candidates, env, conflicts_are_skipped=False)
    result.packages.extend(chosen)
    result.skipped.extend(skipped)
    for pkg in chosen:
        result.edges.extend(edges_of.get(id(pkg), []))
    mark_direct(result, None if any_dependencies else {p.name for p in chosen})
    record_indexes(result)
    apply_identity(result, sibling(path, "pyproject.toml"))
    return result


def _hashes(item: dict[str, Any], pkg: Package, path: str, line: int | None) -> dict[str, str]:
    hashes = table(item.get("hashes"), path, f"{pkg.name}: hashes", line)
    out: dict[str, str] = {}
    for algo, digest in hashes.items():
        if not isinstance(digest, str) or not digest or not all(c in "0123456789abcdefABCDEF" for c in digest):
            raise InputError(f"{pkg.name}: invalid {algo} hash", file=path, line=line)
        out[str(algo).lower()] = digest.lower()
        add_hash(pkg, str(algo), digest)
    return out


def _files(entry: dict[str, Any], pkg: Package, path: str, line: int | None) -> None:
    for raw in array(entry.get("wheels"), path, f"{pkg.name}: wheels", line):
        item = table(raw, path, f"{pkg.name}: wheel", line)
        pkg.artifacts.append(artifact(item, "wheel", _hashes(item, pkg, path, line)))
    if "sdist" in entry:
        item = table(entry.get("sdist"), path, f"{pkg.name}: sdist", line)
        pkg.artifacts.append(artifact(item, "sdist", _hashes(item, pkg, path, line)))
    if "archive" in entry:
        item = table(entry.get("archive"), path, f"{pkg.name}: archive", line)
        url = str(item.get("url") or item.get("path") or "")
        pkg.artifacts.append(artifact(item, "wheel" if url.endswith(".whl") else "sdist",
                                      _hashes(item, pkg, path, line)))

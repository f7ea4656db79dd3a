"""``poetry.lock``, read as already resolved: packages, dependency edges, hashes, markers and source URLs.

Direct packages are the dependencies the sibling ``pyproject.toml`` declares (main, every group, every extra);
without one, every package that no other locked package requires. Packages from git/url/path sources keep their
locked version and are marked (``mlaudit:source``), their artefacts unverified.
"""

from __future__ import annotations

from typing import Any

from auditor.domain import Edge, Location, Package, canonical_name, package_node
from auditor.options import AuditOptions
from auditor.sources.base import SourceResult
from auditor.sources.lockcommon import (
    add_artifact,
    apply_identity,
    array,
    declared_names,
    mark_direct,
    no_version,
    open_package_lock,
    package_entries,
    record_indexes,
    register_locked,
    register_sections,
    sibling,
    table,
)
from auditor.sources.locked import Candidate, choose_versions
from auditor.sources.markers import target_environment
from auditor.sources.tomlfile import as_list


def load_poetry_lock(path: str, options: AuditOptions) -> SourceResult:
    data, metadata, lines, result = open_package_lock(path, "poetry.lock")
    sections: list[str] = []
    if isinstance(metadata.get("lock-version"), str):
        result.root_metadata["lock:lock-version"] = metadata["lock-version"]
    env = target_environment(options.python_version, options.platform)
    candidates: list[Candidate] = []
    deps_of: dict[int, list[Edge]] = {}
    for line, entry, name, version in package_entries(data, lines, path):
        source = table(entry.get("source"), path, f"{name}: source", line)
        register_locked(result, name, version, path, line)
        if not version:
            result.skipped.append(no_version(name, str(source.get("type", "unknown source")), path, line))
            continue
        pkg = Package(name=name, version=version, source="poetry.lock", location=Location(path, line))
        _files(entry, pkg, path, line)
        kind = source.get("type")
        if kind == "legacy" and isinstance(source.get("url"), str):
            pkg.index_url = source["url"]
        elif isinstance(kind, str) and kind in ("git", "url", "file", "directory"):
            ref = source.get("resolved_reference") or source.get("reference")
            pkg.origin = f"{kind}: {source.get('url', '')}" + (f"@{ref}" if ref else "")
            for art in pkg.artifacts:
                art.verified = False
        groups = [str(g) for g in as_list(entry.get("groups")) if isinstance(g, str)]
        if groups:
            pkg.properties["mlaudit:groups"] = ",".join(groups)
            sections.extend(groups)
        marker = entry.get("markers")
        marker_text = marker if isinstance(marker, str) else (
            " or ".join(f"({m})" for m in marker.values() if isinstance(m, str)) if isinstance(marker, dict) else None)
        pkg.markers = marker_text or None
        candidates.append(Candidate(pkg, marker_text or None))
        deps_of[id(pkg)] = _edges(entry, name, path, line)
    chosen, skipped = choose_versions(candidates, env, conflicts_are_skipped=False)
    result.skipped.extend(skipped)
    result.packages.extend(chosen)
    register_sections(result, path, sections)
    for pkg in chosen:
        result.edges.extend(deps_of.get(id(pkg), []))
    pyproject = sibling(path, "pyproject.toml")
    direct = declared_names(pyproject) if pyproject else None
    mark_direct(result, direct)
    record_indexes(result)
    apply_identity(result, pyproject)
    return result


def _files(entry: dict[str, Any], pkg: Package, path: str, line: int | None) -> None:
    for raw in array(entry.get("files"), path, f"{pkg.name}: files", line):
        item = table(raw, path, f"{pkg.name}: file", line)
        kind = "wheel" if str(item.get("file", "")).endswith(".whl") else "sdist"
        add_artifact(pkg, item, kind, path, line)


def _edges(entry: dict[str, Any], name: str, path: str, line: int | None) -> list[Edge]:
    out: list[Edge] = []
    for dep_name, spec in table(entry.get("dependencies"), path, f"{name}: dependencies", line).items():
        child = canonical_name(dep_name)
        for one in spec if isinstance(spec, list) else [spec]:
            if isinstance(one, str):
                out.append(Edge(package_node(name), package_node(child), requirement=f"{child} {one}".strip(),
                                origin="lockfile"))
                continue
            item = table(one, path, f"{name}: dependency {dep_name}", line)
            version = item.get("version") if isinstance(item.get("version"), str) else ""
            extras = [str(e) for e in as_list(item.get("extras")) if isinstance(e, str)]
            marker = item.get("markers") if isinstance(item.get("markers"), str) else None
            requirement = child + (f"[{','.join(extras)}]" if extras else "") + (f" {version}" if version else "")
            out.append(Edge(package_node(name), package_node(child), requirement=requirement, marker=marker,
                            origin="lockfile"))
    return out

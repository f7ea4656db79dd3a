"""``pdm.lock`` (PDM), read as already resolved like the other lockfiles: packages, groups, edges and hashes.

Format (lock_version 4.x): ``[metadata]`` with ``groups`` and ``lock_version``, then one ``[[package]]`` per locked
distribution with ``name``, ``version``, optional ``marker``, ``groups``, ``dependencies`` (PEP 508 strings) and
``files`` (``{file|url, hash}``). A package locked with extras appears once more with ``extras = [...]`` at the same
version: one package. Older locks (lock_version < 4) keep the files in ``[metadata.files]``, keyed ``"name
version"``. VCS/path entries without a version become skipped entries. Each group in ``metadata.groups`` is a lock
section accounted for in the ledger.
"""

from __future__ import annotations

from typing import Any

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PkgRequirement

from auditor.domain import Edge, Location, Package, canonical_name, package_node
from auditor.errors import InputError
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


def load_pdm_lock(path: str, options: AuditOptions) -> SourceResult:
    data, metadata, lines, result = open_package_lock(path, "pdm.lock")
    if isinstance(metadata.get("lock_version"), str):
        result.root_metadata["lock:lock-version"] = metadata["lock_version"]
    legacy_files = table(metadata.get("files"), path, "[metadata.files]")
    env = target_environment(options.python_version, options.platform)
    candidates: list[Candidate] = []
    deps_of: dict[tuple[str, str], list[Edge]] = {}  # by (name, version): an extras entry adds its own
    sections = [str(g) for g in as_list(metadata.get("groups")) if isinstance(g, str)]
    for line, entry, name, version in package_entries(data, lines, path):
        register_locked(result, name, version, path, line)
        if not version:
            where = next((f"{k}: {entry[k]}" for k in ("git", "hg", "svn", "bzr", "path", "url") if k in entry),
                         "no version")
            result.skipped.append(no_version(name, where, path, line))
            continue
        pkg = Package(name=name, version=version, source="pdm.lock", location=Location(path, line))
        files = array(entry.get("files"), path, f"{name}: files", line)
        if not files:
            files = array(legacy_files.get(f"{entry.get('name')} {version}"), path, f"{name}: files", line)
        for item in files:
            item = table(item, path, f"{name}: file", line)
            filename = str(item.get("file") or item.get("url") or "")
            add_artifact(pkg, item, "wheel" if filename.endswith(".whl") else "sdist", path, line)
        for kind in ("git", "hg", "svn", "bzr", "path", "url"):
            if isinstance(entry.get(kind), str):
                ref = entry.get("revision") or entry.get("ref")
                pkg.origin = f"{kind}: {entry[kind]}" + (f"@{ref}" if ref else "")
                for art in pkg.artifacts:
                    art.verified = False
        groups = [str(g) for g in as_list(entry.get("groups")) if isinstance(g, str)]
        if groups:
            pkg.properties["mlaudit:groups"] = ",".join(groups)
            sections.extend(groups)
        marker = entry.get("marker") if isinstance(entry.get("marker"), str) else None
        pkg.markers = marker
        candidates.append(Candidate(pkg, marker))
        deps_of.setdefault((name, version), []).extend(_edges(entry, name, path, line))
    chosen, skipped = choose_versions(candidates, env, conflicts_are_skipped=False)
    result.skipped.extend(skipped)
    result.packages.extend(chosen)
    register_sections(result, path, sections)
    locked = {pkg.name for pkg in chosen}
    for pkg in chosen:
        for edge in deps_of.get((pkg.name, pkg.version), []):
            if edge.child[len("pypi:"):] in locked and edge not in result.edges:  # not: deps for other targets
                result.edges.append(edge)
    pyproject = sibling(path, "pyproject.toml")
    direct = declared_names(pyproject) if pyproject else None
    mark_direct(result, direct)
    record_indexes(result)
    apply_identity(result, pyproject)
    return result


def _edges(entry: dict[str, Any], name: str, path: str, line: int | None) -> list[Edge]:
    """``dependencies = ["idna>=2.8", "exceptiongroup>=1.0.2; python_version < '3.11'"]`` as edges."""
    out: list[Edge] = []
    for dep in array(entry.get("dependencies"), path, f"{name}: dependencies", line):
        if not isinstance(dep, str):
            raise InputError(f"{name}: a dependency must be a string", file=path, line=line)
        try:
            parsed = PkgRequirement(dep)
        except InvalidRequirement as exc:
            raise InputError(f"{name}: invalid dependency {dep!r}: {str(exc).splitlines()[0]}", file=path,
                             line=line) from None
        child = canonical_name(parsed.name)
        if child == name:  # "coverage[toml]" depends on "coverage==7.13.5": the extra's own base package
            continue
        out.append(Edge(package_node(name), package_node(child), requirement=dep.split(";", 1)[0].strip(),
                        marker=str(parsed.marker) if parsed.marker else None, origin="lockfile"))
    return out

"""``uv.lock``: uv's universal lockfile, read as already resolved (no network, no uv run).

Workspace members (``source = { virtual | editable = ... }``) are the project: the member at ``.`` is the root,
its dependencies, optional dependencies and dev groups are the direct packages (edges carry ``extra == '...'`` /
``'<group>' in dependency_groups`` markers). Edges come from each package's ``dependencies``; hashes, artefacts and
the registry URL from ``wheels``/``sdist``/``source``. Several versions of one name: ``locked.choose_versions``.
"""

from __future__ import annotations

from typing import Any

from auditor.domain import ROOT_NODE, Edge, Location, Package, canonical_name, package_node
from auditor.errors import InputError
from auditor.options import AuditOptions
from auditor.sources.base import SourceResult
from auditor.sources.lockcommon import (
    add_artifact,
    apply_identity,
    array,
    header_lines,
    no_version,
    record_indexes,
    register_locked,
    register_sections,
    sibling,
    string,
    table,
)
from auditor.sources.locked import Candidate, choose_versions
from auditor.sources.markers import target_environment
from auditor.sources.tomlfile import as_list, load_toml

MEMBER_SOURCES = ("virtual", "editable")


def load_uv_lock(path: str, options: AuditOptions) -> SourceResult:
    data, text = load_toml(path)
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise InputError("not a uv.lock file (no integer `version`)", file=path, line=1)
    lines = header_lines(text, "package")
    entries = array(data.get("package"), path, "[[package]]")
    manifest = table(data.get("manifest"), path, "[manifest]")
    member_names = {canonical_name(str(m)) for m in array(manifest.get("members"), path, "manifest.members")}
    result = SourceResult(files=[path], resolved=True, kinds=["uv.lock"], is_lock=True)
    env = target_environment(options.python_version, options.platform)

    parsed: list[tuple[dict[str, Any], Package, int | None]] = []
    root: tuple[dict[str, Any], Package] | None = None
    members: list[Package] = []
    for i, raw in enumerate(entries):
        line = lines[i] if i < len(lines) else None
        entry = table(raw, path, "[[package]]", line)
        name = canonical_name(string(entry.get("name"), path, "package name", line))
        source = table(entry.get("source"), path, f"{name}: source", line)
        pkg_version = string(entry.get("version"), path, f"{name}: version", line, required=False)
        pkg = Package(name=name, version=pkg_version, source="uv.lock", location=Location(path, line))
        is_member = name in member_names or any(k in source for k in MEMBER_SOURCES)
        if is_member:
            if root is None and any(source.get(k) == "." for k in MEMBER_SOURCES):
                root = (entry, pkg)
            else:
                members.append(pkg)
                register_locked(result, name, pkg_version, path, line)
            parsed.append((entry, pkg, line))
            continue
        register_locked(result, name, pkg_version, path, line)
        _files(entry, pkg, path, line)
        if isinstance(source.get("registry"), str):
            pkg.index_url = source["registry"]
        for kind in ("git", "url", "path", "directory"):
            if isinstance(source.get(kind), str):
                pkg.origin = f"{kind}: {source[kind]}"
                for art in pkg.artifacts:
                    art.verified = False
        if not pkg.version:
            result.skipped.append(no_version(pkg.name, _where(source), path, line))
            continue
        parsed.append((entry, pkg, line))

    if root is None and len(members) == 1 and not member_names:
        root_entry = next(e for e, p, _ in parsed if p is members[0])
        root = (root_entry, members.pop())
    member_set = {id(p) for p in members} | ({id(root[1])} if root else set())
    candidates = [Candidate(p, _resolution_marker(e)) for e, p, _ in parsed if id(p) not in member_set]
    for pkg in members:
        pkg.direct = True
        pkg.origin = "workspace member"
        candidates.append(Candidate(pkg))
    chosen, skipped = choose_versions(candidates, env, conflicts_are_skipped=False)
    result.skipped.extend(skipped)
    chosen_ids = {id(p) for p in chosen}

    for entry, pkg, line in parsed:
        if root is not None and pkg is root[1]:
            parent = ROOT_NODE
        elif id(pkg) in chosen_ids:
            parent = package_node(pkg.name)
        else:
            continue
        result.edges.extend(_edges(entry, parent, path, line))
    direct = {e.child for e in result.edges if e.parent == ROOT_NODE}
    for pkg in chosen:
        pkg.direct = pkg.direct or pkg.node_id in direct
        if pkg.direct and pkg.node_id not in direct:
            result.edges.append(Edge(ROOT_NODE, pkg.node_id, requirement=pkg.name, origin="lockfile"))
    result.packages.extend(chosen)
    if root is not None:
        result.root_name, result.root_version = root[1].name, root[1].version or None
        register_sections(result, path, [*table(root[0].get("optional-dependencies"), path, "extras").keys(),
                                         *table(root[0].get("dev-dependencies"), path, "groups").keys()])
    record_indexes(result)
    apply_identity(result, sibling(path, "pyproject.toml"))
    return result


def _resolution_marker(entry: dict[str, Any]) -> str | None:
    markers = [str(m) for m in as_list(entry.get("resolution-markers")) if isinstance(m, str)]
    if not markers:
        return None
    return markers[0] if len(markers) == 1 else " or ".join(f"({m})" for m in markers)


def _files(entry: dict[str, Any], pkg: Package, path: str, line: int | None) -> None:
    items: list[tuple[dict[str, Any], str]] = []
    sdist = entry.get("sdist")
    if sdist is not None:
        items.append((table(sdist, path, f"{pkg.name}: sdist", line), "sdist"))
    for wheel in array(entry.get("wheels"), path, f"{pkg.name}: wheels", line):
        items.append((table(wheel, path, f"{pkg.name}: wheel", line), "wheel"))
    for item, kind in items:
        add_artifact(pkg, item, kind, path, line)


def _edges(entry: dict[str, Any], parent: str, path: str, line: int | None) -> list[Edge]:
    out: list[Edge] = []
    groups: list[tuple[list[Any], str | None]] = [(array(entry.get("dependencies"), path, "dependencies", line), None)]
    for extra, deps in table(entry.get("optional-dependencies"), path, "optional-dependencies", line).items():
        groups.append((array(deps, path, f"optional-dependencies.{extra}", line), f"extra == '{extra}'"))
    for group, deps in table(entry.get("dev-dependencies"), path, "dev-dependencies", line).items():
        groups.append((array(deps, path, f"dev-dependencies.{group}", line), f"'{group}' in dependency_groups"))
    for deps, condition in groups:
        for raw in deps:
            dep = table(raw, path, "dependency", line)
            name = canonical_name(string(dep.get("name"), path, "dependency name", line))
            extras = [str(e) for e in as_list(dep.get("extra")) if isinstance(e, str)]
            marker = dep.get("marker") if isinstance(dep.get("marker"), str) else None
            combined = " and ".join(f"({m})" for m in (condition, marker) if m) if condition and marker else (
                condition or marker)
            requirement = name + (f"[{','.join(extras)}]" if extras else "")
            if isinstance(dep.get("version"), str):
                requirement += f"=={dep['version']}"
            out.append(Edge(parent, package_node(name), requirement=requirement, marker=combined, origin="lockfile"))
    return out


def _where(source: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in source.items()) or "unknown source"

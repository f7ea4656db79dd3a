"""``Pipfile.lock`` (pipenv), read as already resolved: every category (``default``, ``develop``, custom ones).

Each category is its own dependency profile (``default`` the main one, the others as sections): pipenv installs
``develop`` on top of ``default`` with its own pins, so ``requests`` may be 2.32.3 in one and 2.19.0 in the other,
and each version is audited. Pipfile.lock records no dependency edges, so the graph is root -> direct package only. Direct packages are those
the sibling ``Pipfile`` declares; without one, every locked package counts as direct (nothing says otherwise).
VCS/path/file entries (no ``==`` version) become skipped entries with the reason.
"""

from __future__ import annotations

from typing import Any

from auditor.domain import Location, Package, canonical_name
from auditor.errors import InputError
from auditor.ledger import ItemKind
from auditor.options import AuditOptions
from auditor.sources.base import SourceResult
from auditor.sources.lockcommon import (
    add_hash,
    mark_direct,
    no_version,
    record_indexes,
    register_locked,
    sibling,
    split_hash,
)
from auditor.sources.locked import Candidate, choose_versions
from auditor.sources.markers import target_environment
from auditor.sources.tomlfile import LineFinder, load_json, load_toml


def load_pipfile_lock(path: str, options: AuditOptions) -> SourceResult:
    data, text = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("_meta"), dict):
        raise InputError("not a Pipfile.lock (no \"_meta\" object)", file=path, line=1)
    lines = LineFinder(text)
    meta: dict[str, Any] = data["_meta"]
    raw_sources = meta.get("sources") or []
    if not isinstance(raw_sources, list):
        raise InputError("\"_meta\".\"sources\" must be an array", file=path, line=lines.quoted("sources"))
    sources = {str(s.get("name")): str(s.get("url")) for s in raw_sources
               if isinstance(s, dict) and isinstance(s.get("url"), str)}
    pipfile = sibling(path, "Pipfile")
    declared = _pipfile_names(pipfile) if pipfile else None
    env = target_environment(options.python_version, options.platform)
    results: list[tuple[str, SourceResult]] = []
    for category, section in data.items():
        if category == "_meta":
            continue
        if not isinstance(section, dict):
            raise InputError(f"\"{category}\" must be an object", file=path, line=lines.quoted(category))
        result = SourceResult(files=[path], resolved=True, kinds=["Pipfile.lock"], is_lock=True)
        result.register(ItemKind.LOCK_SECTION, f"{path} [{category}]", file=path)
        candidates = _category(data, category, section, path, lines, sources, result)
        chosen, skipped = choose_versions(candidates, env, conflicts_are_skipped=False)
        result.packages.extend(chosen)
        result.skipped.extend(skipped)
        record_indexes(result, list(sources.values()))
        mark_direct(result, declared if declared is not None else {p.name for p in chosen})
        results.append((category, result))
    if not results:
        empty = SourceResult(files=[path], resolved=True, kinds=["Pipfile.lock"], is_lock=True)
        empty.warnings.append(f"{path}: no package categories: nothing is locked")
        return empty
    main_index = next((i for i, (c, _) in enumerate(results) if c == "default"), 0)
    main = results.pop(main_index)[1]
    main.sections = results
    return main


def _category(data: dict[str, Any], category: str, section: dict[str, Any], path: str, lines: LineFinder,
              sources: dict[str, str], result: SourceResult) -> list[Candidate]:
    """The locked packages of one category as candidates (registered in ``result``'s ledger items)."""
    candidates: list[Candidate] = []
    start_line = lines.quoted(category)
    cursor = max(lines.text.find(f'"{category}"'), 0)
    for raw_name, raw in section.items():
        name = canonical_name(str(raw_name))
        found = lines.offset_of_quoted(str(raw_name), cursor)  # keys come in file order: search onwards
        if found is not None:
            cursor = found + 1
        line = lines.line_at(found) if found is not None else start_line
        if not isinstance(raw, dict):
            raise InputError(f"{category}.{raw_name} must be an object", file=path, line=line)
        version = raw.get("version")
        pinned = version[2:].strip() if isinstance(version, str) and version.startswith("==") else ""
        register_locked(result, name, pinned, path, line)
        if not pinned:
            where = next((f"{k}: {raw[k]}" for k in ("git", "hg", "svn", "bzr", "path", "file") if k in raw),
                         f"version {version!r}")
            result.skipped.append(no_version(name, where, path, line))
            continue
        pkg = Package(name=name, version=pinned, source="Pipfile.lock", location=Location(path, line))
        hashes = raw.get("hashes") or []
        if not isinstance(hashes, list):
            raise InputError(f"{category}.{raw_name}: hashes must be an array", file=path, line=line)
        for h in hashes:
            split = split_hash(h) if isinstance(h, str) else None
            if split is None:
                raise InputError(f"{category}.{raw_name}: invalid hash {h!r}", file=path, line=line)
            add_hash(pkg, *split)
        index = raw.get("index")
        pkg.index_url = sources.get(str(index)) if index else None
        marker = raw.get("markers") if isinstance(raw.get("markers"), str) else None
        pkg.markers = marker
        extras = raw.get("extras")
        if isinstance(extras, list):
            pkg.extras = tuple(str(e) for e in extras)
        pkg.properties["mlaudit:groups"] = category
        candidates.append(Candidate(pkg, marker))
    return candidates


def _pipfile_names(pipfile: str) -> set[str] | None:
    """Names the Pipfile declares in any package category; None when it cannot be read (then: all direct)."""
    try:
        data, _ = load_toml(pipfile)
    except InputError:
        return None
    names: set[str] = set()
    for key, value in data.items():
        if key in ("source", "requires", "scripts", "pipenv") or not isinstance(value, dict):
            continue
        names.update(canonical_name(str(n)) for n in value)
    return names

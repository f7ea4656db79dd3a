"""``pyproject.toml``: PEP 621 dependencies and optional dependencies, PEP 735 dependency groups, Poetry.

Read as TOML, never built or imported. Which groups are read: the project's dependencies always; optional
dependencies named by ``--extra`` (``--extra all``: every one); PEP 735 / Poetry groups named by ``--group``
(``--group all``: every one). Dependencies declared ``dynamic`` (computed by the build backend) cannot be read
without running it: that is reported as a skipped entry, not guessed.
"""

from __future__ import annotations

from typing import Any

from auditor.domain import Location, Requirement, Skipped, canonical_name
from auditor.errors import InputError
from auditor.ledger import ItemKind
from auditor.options import AuditOptions
from auditor.sources.base import SourceResult
from auditor.sources.poetry import poetry_identity, poetry_requirements
from auditor.sources.tomlfile import LineFinder, as_dict, as_list, load_toml

ALL = {"all", "*", ":all:"}


def load_pyproject(path: str, options: AuditOptions) -> SourceResult:
    data, text = load_toml(path)
    lines = LineFinder(text)
    result = SourceResult(files=[path])
    result.root_name, result.root_version, result.root_metadata = identity(data)
    project = _table(data.get("project"), path, "project")
    poetry = _table(_table(data.get("tool"), path, "tool").get("poetry"), path, "tool.poetry")
    groups = _table(data.get("dependency-groups"), path, "dependency-groups")
    if not project and not poetry and not groups and "uv" not in _table(data.get("tool"), path, "tool"):
        raise InputError("no [project], [tool.poetry] or [dependency-groups] table: no dependencies declared here",
                         file=path)
    wanted_extras = {canonical_name(e) for e in options.extras}
    wanted_groups = {canonical_name(g) for g in options.groups}
    if project:
        _pep621(project, path, lines, wanted_extras, result)
        _setuptools_dynamic_files(data, path, options, result)
    if poetry and not _has_pep621_dependencies(project):
        result.requirements.extend(poetry_requirements(poetry, path, lines, wanted_extras, wanted_groups,
                                                       result.skipped))
    elif poetry and wanted_groups:
        result.requirements.extend(poetry_requirements(poetry, path, lines, set(), wanted_groups, result.skipped,
                                                       main=False))
    uv_dev = _table(_table(data.get("tool"), path, "tool").get("uv"), path, "tool.uv").get("dev-dependencies")
    if isinstance(uv_dev, list) and "dev" not in {canonical_name(k) for k in groups}:
        groups = {**groups, "dev": uv_dev}  # uv's legacy spelling of the dev group
    if groups:
        result.requirements.extend(_dependency_groups(groups, path, lines, wanted_groups))
    _check_unknown(path, data, wanted_extras, wanted_groups)
    if not result.requirements and not result.skipped:
        result.warnings.append(f"{path}: declares no dependencies (for the selected extras/groups): nothing to "
                               f"resolve; use --extra/--group to include optional ones")
    result.resolved = not result.requirements
    return result


def _setuptools_dynamic_files(data: dict[str, Any], path: str, options: AuditOptions, result: SourceResult) -> None:
    """``dynamic = ["dependencies"]`` with ``[tool.setuptools.dynamic] dependencies = {file = [...]}``: setuptools
    reads those requirements files -- so does this reader, statically (nothing is built), and the "dynamic, not read"
    gap is closed by them."""
    from pathlib import Path

    from auditor.sources.markers import target_environment
    from auditor.sources.requirements import load_requirements

    tool = as_dict(data.get("tool"))
    dynamic = as_dict(as_dict(tool.get("setuptools")).get("dynamic"))
    spec = dynamic.get("dependencies")
    files = spec.get("file") if isinstance(spec, dict) else None
    names = [files] if isinstance(files, str) else [f for f in files if isinstance(f, str)] if isinstance(
        files, list) else []
    gap = next((s for s in result.skipped if s.requirement == 'dynamic = ["dependencies"]'), None)
    if gap is None or not names:
        return
    result.skipped.remove(gap)
    for name in names:
        file = str(Path(path).parent / name)
        try:
            sub = load_requirements(file, target_environment(options.python_version, options.platform))
        except InputError as exc:
            result.skipped.append(Skipped(
                reason=f"[project] dependencies are read from {name} (tool.setuptools.dynamic), which could not be "
                       f"read: {exc}", file=path, line=gap.line, requirement=gap.requirement,
                not_checked=["the project's runtime dependencies"], kind=ItemKind.REQUIREMENT))
            continue
        result.files.extend(f for f in sub.files if f not in result.files)
        result.requirements.extend(sub.requirements)
        result.constraints.extend(sub.constraints)
        result.skipped.extend(sub.skipped)
        result.items.extend(sub.items)
        result.index_url = result.index_url or sub.index_url
        result.extra_index_urls.extend(u for u in sub.extra_index_urls if u not in result.extra_index_urls)


def _has_pep621_dependencies(project: dict[str, Any]) -> bool:
    return "dependencies" in project or "dependencies" in as_list(project.get("dynamic"))


def _table(value: object, path: str, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"[{name}] must be a table", file=path)
    return value


def _requirement(text: object, path: str, line: int | None, group: str | None) -> Requirement:
    loc = Location(path, line)
    if not isinstance(text, str):
        raise InputError(f"dependency must be a string, not {type(text).__name__}", file=path, line=line)
    # imported here: a lock's audit reads only the project's identity from its pyproject.toml, and packaging's
    # PEP 508 parser (its tokenizer, markers and specifiers) was a tenth of a uv.lock re-audit's start-up
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as PkgRequirement

    try:
        parsed = PkgRequirement(text)
    except InvalidRequirement as exc:
        raise InputError(f"invalid requirement {text!r}: {str(exc).splitlines()[0] if str(exc) else exc}",
                         file=path, line=line) from None
    return Requirement(name=canonical_name(parsed.name), raw=text, specifier=str(parsed.specifier),
                       extras=tuple(sorted(parsed.extras)), marker=str(parsed.marker) if parsed.marker else None,
                       location=loc, url=parsed.url or None, group=group)


def _string_list(value: object, path: str, line: int | None, what: str) -> list[object]:
    if not isinstance(value, list):
        raise InputError(f"{what} must be an array", file=path, line=line)
    return value


def _pep621(project: dict[str, Any], path: str, lines: LineFinder, extras: set[str],
            result: SourceResult) -> None:
    start = lines.offset_of_table("project")
    dynamic = project.get("dynamic") or []
    if not isinstance(dynamic, list):
        raise InputError("[project] dynamic must be an array", file=path, line=lines.key("dynamic", start))
    own = canonical_name(str(project.get("name", ""))) if project.get("name") else None
    if "dependencies" in dynamic:
        result.skipped.append(Skipped(
            reason="[project] dependencies are dynamic (computed by the build backend): not read, because that "
                   "would mean running the project's build code", file=path, line=lines.key("dynamic", start),
            requirement="dynamic = [\"dependencies\"]", not_checked=["the project's runtime dependencies"], kind=ItemKind.REQUIREMENT))
    deps = project.get("dependencies", [])
    for item in _string_list(deps, path, lines.key("dependencies", start), "[project] dependencies"):
        result.requirements.append(_requirement(item, path, lines.quoted(str(item), start), None))
    optional = project.get("optional-dependencies") or {}
    if not isinstance(optional, dict):
        raise InputError("[project.optional-dependencies] must be a table", file=path)
    by_name = {canonical_name(k): (k, v) for k, v in optional.items()}
    if "optional-dependencies" in dynamic and extras:
        result.skipped.append(Skipped(
            reason="[project] optional-dependencies are dynamic: not read without running the build backend",
            file=path, line=lines.key("dynamic", start), requirement="dynamic = [\"optional-dependencies\"]",
            not_checked=[f"extra {e}" for e in sorted(extras)], kind=ItemKind.REQUIREMENT))
        return
    selected = set(by_name) if extras & ALL else set(extras)
    opt_start = lines.offset_of_table("project.optional-dependencies") or start
    done: set[str] = set()
    queue = sorted(selected & set(by_name))
    while queue:
        extra = queue.pop(0)
        if extra in done:
            continue
        done.add(extra)
        key, items = by_name[extra]
        for item in _string_list(items, path, lines.key(key, opt_start), f"optional-dependencies.{key}"):
            req = _requirement(item, path, lines.quoted(str(item), opt_start), f"extra:{key}")
            if own and req.name == own:  # "myproj[cpu]" inside an extra: the project's own extras
                queue.extend(e for e in req.extras if e in by_name)
                continue
            result.requirements.append(req)


def _dependency_groups(groups: dict[str, Any], path: str, lines: LineFinder, wanted: set[str]) -> list[Requirement]:
    """PEP 735 groups, with ``{include-group = "..."}`` expanded (cycles are an input error)."""
    by_name = {canonical_name(k): (k, v) for k, v in groups.items()}
    start = lines.offset_of_table("dependency-groups")
    selected = sorted(by_name) if wanted & ALL else sorted(wanted & set(by_name))
    out: list[Requirement] = []
    seen_reqs: set[tuple[str, int | None]] = set()

    def expand(name: str, stack: tuple[str, ...]) -> None:
        if name in stack:
            raise InputError(f"dependency group cycle: {' -> '.join([*stack, name])}", file=path,
                             line=lines.key(by_name[name][0], start))
        if name not in by_name:
            raise InputError(f"include-group {name!r} names no dependency group", file=path,
                             line=lines.key(by_name[stack[-1]][0], start) if stack else None)
        key, items = by_name[name]
        for item in _string_list(items, path, lines.key(key, start), f"dependency-groups.{key}"):
            if isinstance(item, dict):
                include = item.get("include-group")
                if not isinstance(include, str) or set(item) != {"include-group"}:
                    raise InputError(f"dependency-groups.{key}: a table entry must be {{include-group = \"...\"}}",
                                     file=path, line=lines.key(key, start))
                expand(canonical_name(include), (*stack, name))
                continue
            req = _requirement(item, path, lines.quoted(str(item), start), f"group:{key}")
            marker = (req.raw, req.location.line if req.location else None)
            if marker not in seen_reqs:
                seen_reqs.add(marker)
                out.append(req)

    for group in selected:
        expand(group, ())
    return out


def _check_unknown(path: str, data: dict[str, Any], extras: set[str], groups: set[str]) -> None:
    """``--extra``/``--group`` naming nothing in this file is a usage mistake worth an exit 2, not silence."""
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    assert isinstance(project, dict)
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    assert isinstance(tool, dict)
    poetry = tool.get("poetry") if isinstance(tool.get("poetry"), dict) else {}
    assert isinstance(poetry, dict)
    known_extras = {canonical_name(k) for k in as_dict(project.get("optional-dependencies"))}
    known_extras |= {canonical_name(k) for k in as_dict(poetry.get("extras"))}
    known_groups = {canonical_name(k) for k in as_dict(data.get("dependency-groups"))}
    uv = tool.get("uv") if isinstance(tool.get("uv"), dict) else {}
    assert isinstance(uv, dict)
    if uv.get("dev-dependencies"):
        known_groups.add("dev")
    known_groups |= {canonical_name(k) for k in as_dict(poetry.get("group"))}
    if poetry.get("dev-dependencies"):
        known_groups.add("dev")
    dynamic = as_list(project.get("dynamic"))
    missing_extras = sorted(extras - known_extras - ALL) if "optional-dependencies" not in dynamic else []
    if missing_extras:
        raise InputError(f"--extra {', '.join(missing_extras)}: no such optional-dependency group "
                         f"(available: {', '.join(sorted(known_extras)) or 'none'})", file=path)
    missing_groups = sorted(groups - known_groups - ALL)
    if missing_groups:
        raise InputError(f"--group {', '.join(missing_groups)}: no such dependency group "
                         f"(available: {', '.join(sorted(known_groups)) or 'none'})", file=path)


def identity(data: dict[str, Any]) -> tuple[str | None, str | None, dict[str, str]]:
    """The project's name, version and metadata (licence, authors, URLs) from [project] or [tool.poetry]."""
    project = data.get("project")
    metadata: dict[str, str] = {}
    name: str | None = None
    version: str | None = None
    if isinstance(project, dict):
        name = str(project["name"]) if isinstance(project.get("name"), str) else None
        version = str(project["version"]) if isinstance(project.get("version"), str) else None
        if isinstance(project.get("description"), str):
            metadata["description"] = project["description"]
        lic = project.get("license")
        if isinstance(lic, str):
            metadata["license"] = lic
        elif isinstance(lic, dict) and isinstance(lic.get("text"), str):
            metadata["license"] = lic["text"]
        elif isinstance(lic, dict) and isinstance(lic.get("file"), str):
            metadata["license"] = f"see {lic['file']}"
        authors = [_person(a) for a in as_list(project.get("authors")) if isinstance(a, dict)]
        if any(authors):
            metadata["authors"] = ", ".join(a for a in authors if a)
        if isinstance(project.get("requires-python"), str):
            metadata["requires-python"] = project["requires-python"]
        urls = project.get("urls")
        if isinstance(urls, dict):
            for key, value in urls.items():
                if isinstance(value, str):
                    metadata[f"url:{key}"] = value
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    if isinstance(poetry, dict):
        p_name, p_version, p_meta = poetry_identity(poetry)
        name = name or p_name
        version = version or p_version
        for key, value in p_meta.items():
            metadata.setdefault(key, value)
    return name, version, metadata


def _person(entry: dict[str, Any]) -> str:
    name = entry.get("name") if isinstance(entry.get("name"), str) else ""
    email = entry.get("email") if isinstance(entry.get("email"), str) else ""
    return f"{name} <{email}>" if name and email else str(name or email)


def project_identity(path: str) -> tuple[str | None, str | None, dict[str, str]]:
    """Name, version, metadata of the project whose pyproject.toml is at ``path`` (dependencies not read)."""
    try:
        data, _ = load_toml(path)
    except InputError:  # the user pointed at requirements files; a broken pyproject beside them only costs a name
        return None, None, {}
    return identity(data)


def extras_and_groups(path: str) -> tuple[list[str], list[str]]:
    """The optional-dependency extras and the dependency groups ``pyproject.toml`` declares (PEP 621, PEP 735,
    Poetry, uv's legacy dev list), as written."""
    try:
        data, _ = load_toml(path)
    except InputError:
        return [], []
    project = as_dict(data.get("project"))
    tool = as_dict(data.get("tool"))
    poetry = as_dict(tool.get("poetry"))
    extras = [*as_dict(project.get("optional-dependencies")), *as_dict(poetry.get("extras"))]
    groups = [*as_dict(data.get("dependency-groups")), *as_dict(poetry.get("group"))]
    if as_dict(tool.get("uv")).get("dev-dependencies") or poetry.get("dev-dependencies"):
        groups.append("dev")
    return list(dict.fromkeys(extras)), list(dict.fromkeys(groups))

"""``Pipfile`` (pipenv's input, without its lock): ``[packages]`` and, with ``--group dev``/``all``,
``[dev-packages]`` and other categories. Versions are PEP 440 already (``"*"`` means any)."""

from __future__ import annotations

from typing import Any

from auditor.domain import Location, Requirement, canonical_name
from auditor.errors import InputError
from auditor.options import AuditOptions
from auditor.sources.base import SourceResult
from auditor.sources.tomlfile import LineFinder, as_list, load_toml

NOT_CATEGORIES = {"source", "requires", "scripts", "pipenv"}
ALL = {"all", "*", ":all:"}


def load_pipfile(path: str, options: AuditOptions) -> SourceResult:
    data, text = load_toml(path)
    lines = LineFinder(text)
    result = SourceResult(files=[path], kinds=["Pipfile"])
    raw_sources = data.get("source") or []
    if not isinstance(raw_sources, list):
        raise InputError("[[source]] must be an array of tables", file=path, line=lines.key("source"))
    sources = [s for s in raw_sources if isinstance(s, dict) and isinstance(s.get("url"), str)]
    if sources:
        result.index_url = str(sources[0]["url"])
        result.extra_index_urls = [str(s["url"]) for s in sources[1:]]
    wanted = {canonical_name(g) for g in options.groups}
    for category, table in data.items():
        if category in NOT_CATEGORIES:
            continue
        if not isinstance(table, dict):
            raise InputError(f"[{category}] must be a table", file=path, line=lines.key(category))
        group = "dev" if category == "dev-packages" else category
        if category != "packages" and not (wanted & ALL or canonical_name(group) in wanted):
            continue
        start = lines.offset_of_table(category)
        for name, spec in table.items():
            result.requirements.append(_requirement(str(name), spec, path, lines.key(str(name), start),
                                                    None if category == "packages" else f"group:{group}"))
    result.resolved = not result.requirements
    return result


def _requirement(name: str, spec: Any, path: str, line: int | None, group: str | None) -> Requirement:
    loc = Location(path, line)
    key = canonical_name(name)
    if isinstance(spec, str):
        return Requirement(name=key, raw=f'{name} = "{spec}"', specifier=_specifier(spec), location=loc, group=group)
    if not isinstance(spec, dict):
        raise InputError(f"{name}: expected a version string or a table", file=path, line=line)
    extras = tuple(sorted(str(e) for e in as_list(spec.get("extras")) if isinstance(e, str)))
    marker = spec.get("markers") if isinstance(spec.get("markers"), str) else None
    url: str | None = None
    for vcs in ("git", "hg", "svn", "bzr"):
        if isinstance(spec.get(vcs), str):
            ref = spec.get("ref")
            url = f"{vcs}+{spec[vcs]}" + (f"@{ref}" if isinstance(ref, str) else "") + f"#egg={name}"
    for local in ("path", "file"):
        if url is None and isinstance(spec.get(local), str):
            url = str(spec[local])
    version = spec.get("version", "*")
    return Requirement(name=key, raw=f"{name} = {spec!r}", specifier="" if url else _specifier(str(version)),
                       extras=extras, marker=marker, location=loc, url=url, editable=bool(spec.get("editable")),
                       group=group)


def _specifier(text: str) -> str:
    return "" if text.strip() in ("*", "") else text.strip()

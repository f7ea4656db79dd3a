"""Input sources: read what the user points at, natively, into one ``SourceResult``.

``load_inputs`` handles files and project directories (discovery rule in ``auditor.sources.detect``);
``load_environment`` reads an installed environment's ``*.dist-info`` metadata. Nothing here imports or runs
the audited project. Several inputs are merged; the result is ``resolved`` only when every input already is.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import cast

from auditor.domain import Artifact, Package, Requirement, Skipped
from auditor.errors import InputError
from auditor.ledger import ItemKind, Outcome
from auditor.options import AuditOptions
from auditor.sources import detect
from auditor.sources.base import SourceResult
from auditor.sources.markers import marker_holds, target_environment
from auditor.sources.textfile import read_text

__all__ = ["SourceResult", "account", "load_environment", "load_inputs", "load_file"]

Loader = Callable[[str, AuditOptions], SourceResult]


def load_inputs(paths: list[str], options: AuditOptions) -> SourceResult:
    """Every profile of every path (files or project directories; none: the current directory) as one flat result,
    for library callers; the pipeline audits the profiles separately (``auditor.sources.project``)."""
    from auditor.sources.project import load_project

    return load_project(paths, options).merged()


def load_file(path: str, options: AuditOptions) -> SourceResult:
    """One input file, by kind (``detect.kind_of``), with every input item registered (``account``)."""
    kind = detect.kind_of(path)
    if kind != detect.REQUIREMENTS and not read_text(path).strip():
        raise InputError(f"empty file: nothing is declared or locked here (supported: {detect.SUPPORTED})", file=path)
    result = _loader(kind)(path, options)
    if not result.kinds:
        result.kinds = [kind] * max(1, len(result.files))
    env = target_environment(options.python_version, options.platform)
    for one in (result, *(section for _, section in result.sections)):
        account(one, env)
        if one.resolved:
            _direct_references_of_resolved(one, options)
    return result


def account(result: SourceResult, env: dict[str, str]) -> None:
    """Register what a reader took in and did not register itself: each file read, each requirement (a line whose
    marker excludes the target is excluded, listed, and not resolved)."""
    files = {i.file for i in result.items if i.kind is ItemKind.INPUT_FILE}
    for file in result.files:
        if file not in files:
            files.add(file)
            result.register(ItemKind.INPUT_FILE, file, file=file)
    registered = {(i.file, i.line) for i in result.items if i.kind is ItemKind.REQUIREMENT}
    kept: list[Requirement] = []
    for req in result.requirements:
        loc = req.location
        key = (loc.file if loc else None, loc.line if loc else None)
        if key in registered and loc is not None and loc.line:
            kept.append(req)
            continue
        item = result.register(ItemKind.REQUIREMENT, req.raw, file=key[0], line=key[1], requirement=req.raw,
                               package=req.name, version=req.pinned_version)
        if not result.resolved and req.marker and not req.constraint and not marker_holds(req.marker, env, req.extras):
            item.outcome = Outcome.EXCLUDED
            item.reason = f"marker excludes the target ({req.marker}): not installed there, not resolved"
            continue
        kept.append(req)
    result.requirements = kept


def load_environment(path: str | None, options: AuditOptions | None = None) -> SourceResult:
    """An installed environment (a venv/prefix or a site-packages directory); None: the running interpreter."""
    from auditor.sources.environment import load_environment as _load

    return _load(path, options)


# Readers by input kind, imported only when a file of that kind is read.
_LOADERS: dict[str, tuple[str, str]] = {
    detect.PYPROJECT: ("auditor.sources.pyproject", "load_pyproject"),
    detect.UV_LOCK: ("auditor.sources.uvlock", "load_uv_lock"),
    detect.POETRY_LOCK: ("auditor.sources.poetrylock", "load_poetry_lock"),
    detect.PIPFILE_LOCK: ("auditor.sources.pipfilelock", "load_pipfile_lock"),
    detect.PIPFILE: ("auditor.sources.pipfile", "load_pipfile"),
    detect.PYLOCK: ("auditor.sources.pylock", "load_pylock"),
    detect.PDM_LOCK: ("auditor.sources.pdmlock", "load_pdm_lock"),
    detect.SETUP_CFG: ("auditor.sources.setupfiles", "load_setup"),
    detect.SETUP_PY: ("auditor.sources.setupfiles", "load_setup"),
}


def _loader(kind: str) -> Loader:
    if kind == detect.REQUIREMENTS:
        return _load_requirements
    if kind not in _LOADERS:
        raise InputError(f"unsupported input kind {kind}")
    module_name, function = _LOADERS[kind]
    return cast(Loader, getattr(importlib.import_module(module_name), function))


def _load_requirements(path: str, options: AuditOptions) -> SourceResult:
    from auditor.sources.requirements import load_requirements

    return load_requirements(path, target_environment(options.python_version, options.platform))


def _direct_references_of_resolved(merged: SourceResult, options: AuditOptions) -> None:
    """In an already-resolved input no resolver runs: URL/VCS/path/``-e`` lines are reported here instead.

    A direct wheel URL names its project and version in the file name: that pin is audited (its artefact marked
    unverified, nothing was fetched); everything else becomes a skipped entry with the reason.
    """
    from auditor.sources.direct import unresolvable_reason

    versions = {p.name: p.version for p in merged.packages}
    for req in merged.requirements:
        if not (req.url or req.editable) or req.constraint:
            continue
        loc = req.location
        why = unresolvable_reason(req, allow_build=options.allow_build) if req.editable or not _is_wheel(req) else None
        if why is None and _is_wheel(req) and req.pinned_version:
            if req.name not in versions:
                versions[req.name] = req.pinned_version
                merged.packages.append(_wheel_package(req))
                continue
            if versions[req.name] == req.pinned_version:
                continue
            merged.skipped.append(Skipped(
                reason=f"conflicting pin: the wheel URL says {req.name} {req.pinned_version}, another line pins "
                       f"{versions[req.name]}; only {versions[req.name]} is audited",
                file=loc.file if loc else None, line=loc.line if loc else None, requirement=req.raw,
                not_checked=[f"{req.name} {req.pinned_version}"], kind=ItemKind.REQUIREMENT))
            continue
        merged.skipped.append(Skipped(
            reason=why or "direct reference: not resolved in an already-resolved input",
            file=loc.file if loc else None, line=loc.line if loc else None, requirement=req.raw,
            not_checked=[f"{req.name} and its dependencies"], kind=ItemKind.REQUIREMENT))


def _is_wheel(req: Requirement) -> bool:
    return bool(req.url) and str(req.url).split("#", 1)[0].split("?", 1)[0].endswith(".whl")


def _wheel_package(req: Requirement) -> Package:
    url = str(req.url)
    filename = url.split("#", 1)[0].split("?", 1)[0].rsplit("/", 1)[-1]
    hashes = {h.split(":", 1)[0]: h.split(":", 1)[1] for h in req.hashes}
    artifact = Artifact(filename=filename, url=url, hashes=hashes, kind="wheel", verified=False)
    return Package(name=req.name, version=req.pinned_version or "", direct=True, source="direct-url",
                   hashes=list(req.hashes), markers=req.marker, extras=req.extras, location=req.location,
                   artifacts=[artifact], properties={"mlaudit:artifact-verified": "false"})

"""Code-free resolution: turn a project's requirements into exact pins and edges for the target environment.

``resolve`` is what the pipeline calls. Already-resolved inputs (lockfiles, fully pinned files, environments) are
returned as they are, with no network and no subprocess. Everything else goes to uv's resolver (binary-only unless
``--allow-build``), with pip's ``--dry-run --report`` as the fallback.
"""

from __future__ import annotations

from auditor.domain import Package, Requirement, Skipped
from auditor.errors import ResolutionError
from auditor.ledger import Item, ItemKind
from auditor.options import AuditContext, AuditOptions
from auditor.resolve.base import Resolution
from auditor.resolve.target import indexes_for
from auditor.sources.base import SourceResult
from auditor.sources.direct import unresolvable_reason

__all__ = ["Resolution", "load_resolver", "resolve"]

BUILD_WARNING = ("--allow-build: the resolver was allowed to build source distributions, which runs code from "
                 "those packages")


def load_resolver() -> None:
    """Import the resolver's modules now, before the pipeline starts its warm-up thread.

    Both are CPU work under one interpreter lock: importing the uv driver while the warm-up thread loads the checks
    delayed uv's start by ~80-90 ms of a ~0.5 s resolve + audit of a small file (issue 25); imported first, uv starts
    at once and the warm-up overlaps uv's run, which mostly waits on the index.
    """
    import auditor.resolve.uvdriver  # noqa: F401  -- imported for its side effect: loaded modules
    import auditor.tools  # noqa: F401


def resolve(src: SourceResult, options: AuditOptions, ctx: AuditContext) -> Resolution:
    """Exact pins, edges and artifacts for ``src``; culprit requirements become ``Skipped`` entries."""
    if src.resolved:
        return Resolution(packages=list(src.packages), edges=list(src.edges), resolver="")
    constraints = [*src.constraints, *[r for r in src.requirements if r.constraint]]
    requirements: list[Requirement] = []
    skipped: list[Item] = []
    kept_pins: list[Package] = []
    for req in src.requirements:
        if req.constraint:
            continue
        why = unresolvable_reason(req, allow_build=options.allow_build)
        if why is None and options.offline and req.url and not req.url.startswith("file:"):
            why = "direct URL: not fetched offline (rerun without --offline to resolve it)"
            if req.pinned_version:  # a wheel URL names its version: audited from the name, like online
                kept_pins.append(Package(name=req.name, version=req.pinned_version, direct=True, source="direct-url",
                                         location=req.location, markers=req.marker, resolved=False))
                why += f"; {req.name} {req.pinned_version} audited from the wheel's name"
        if why:
            loc = req.location
            skipped.append(Skipped(reason=why, file=loc.file if loc else None, line=loc.line if loc else None,
                                   requirement=req.raw, not_checked=[f"{req.name} and its dependencies"],
                                   kind=ItemKind.REQUIREMENT))
        else:
            requirements.append(req)
    if not requirements:
        return Resolution(packages=[*src.packages, *kept_pins], edges=list(src.edges), skipped=skipped, resolver="")
    indexes = indexes_for(src, options)
    from auditor.resolve.uvdriver import UvResolver
    from auditor.tools import uv_binary

    uv = uv_binary() if options.resolver in ("auto", "uv") else None
    if uv is None and options.resolver == "uv":
        raise ResolutionError("the uv resolver was requested but the uv binary is not available")
    if uv is not None:
        result = UvResolver(requirements, constraints, options, ctx, indexes, uv).resolve()
    else:
        from auditor.resolve.pipfallback import pip_resolve

        result = pip_resolve(requirements, constraints, options, indexes)
    from auditor.resolve.fallback import find_fallbacks

    find_fallbacks(result, requirements, ctx)
    result.skipped = [*skipped, *result.skipped]
    result.packages = [*src.packages, *kept_pins, *result.packages]
    result.edges = [*src.edges, *result.edges]
    if options.allow_build:
        result.warnings.append(BUILD_WARNING)
    return result

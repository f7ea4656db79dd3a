"""Binary-only fallbacks: the resolver chose an old wheel because the newer releases ship only sdists.

Why: resolution is binary-only (building an sdist runs its code), so for ``deepspeed`` -- whose recent releases are
sdists -- uv silently picks a 2020 dev wheel. ``pip install deepspeed`` would build and install the newest release
instead, and that is what needs auditing. For each requirement that is not an exact pin (``--online``: every
resolved package) the index page says whether a newer version satisfying it exists with no wheel at all; if so the
report says so (a skipped item naming both versions) and the newer version joins the report as a pin, so the
pin-level checks (advisories, malicious) run on what pip would actually install. Its dependencies are not resolved
(that would need its build): the item keeps the report incomplete.
"""

from __future__ import annotations

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from auditor.domain import Package, Requirement, Skipped
from auditor.errors import NetworkError
from auditor.ledger import ItemKind
from auditor.options import AuditContext
from auditor.pkgindex import ProjectPage, fetch_pages
from auditor.resolve.base import Resolution

SOURCE = "sdist-only"


def newest_sdist_only(page: ProjectPage, spec: str, resolved: str) -> str | None:
    """The newest version after ``resolved`` that satisfies ``spec``, is not yanked and has only sdists."""
    try:
        specifier = SpecifierSet(spec)
        current = Version(resolved)
    except (InvalidSpecifier, InvalidVersion):
        return None
    best: tuple[Version, str] | None = None
    for text in page.versions():
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        if version <= current or (version.is_prerelease and not specifier.prereleases and not current.is_prerelease):
            continue
        if not specifier.contains(version, prereleases=True):
            continue
        files = page.files_of(text)
        if not files or any(f.kind == "wheel" for f in files) or all(f.yanked for f in files):
            continue
        if best is None or version > best[0]:
            best = (version, text)
    return best[1] if best else None


def find_fallbacks(resolution: Resolution, requirements: list[Requirement], ctx: AuditContext) -> None:
    """Add the sdist-only versions pip would install (rules in the module docstring) to ``resolution``."""
    if ctx.options.offline or ctx.options.allow_build or resolution.resolver != "uv":
        return
    specs = {r.name: r.specifier for r in requirements if not r.url and not r.pinned_version}
    wanted = [p for p in resolution.packages if p.resolved and p.version and p.source == "resolver"
              and (p.name in specs or ctx.options.online)]
    if not wanted:
        return
    try:
        pages = fetch_pages(ctx, wanted)
    except NetworkError as exc:
        resolution.warnings.append(f"sdist-only releases not looked up ({exc}): the versions pip would build from "
                                   "source were not compared with the resolved wheels")
        return
    for package in wanted:
        page = pages.get(package.name)
        newer = newest_sdist_only(page, specs.get(package.name, ""), package.version) if page else None
        if newer is None:
            continue
        loc = package.location
        resolution.packages.append(Package(
            name=package.name, version=newer, direct=package.direct, source=SOURCE, location=loc,
            markers=package.markers, resolved=False,
            properties={"mlaudit:binary-only-fallback": f"{package.name} {package.version} (wheel) was resolved; "
                                                        f"{newer} ships only an sdist"}))
        resolution.skipped.append(Skipped(
            reason=f"binary-only resolution chose {package.name} {package.version}, the newest release with a "
                   f"wheel; pip would build and install {newer} from its sdist: {newer} is audited from its pin "
                   "(advisories, malicious), its dependencies were not resolved (--allow-build resolves them, "
                   "running its build code)",
            file=loc.file if loc else None, line=None, requirement=f"{package.name}=={newer}",
            not_checked=[f"dependencies of {package.name} {newer}"], kind=ItemKind.PACKAGE,
            subject=f"{package.name} {newer}"))


__all__ = ["SOURCE", "find_fallbacks", "newest_sdist_only"]

"""Static dependency metadata from an sdist, read out of the archive without building or running anything.

PEP 643: an sdist whose ``PKG-INFO`` has Metadata-Version >= 2.2 and does not list ``Requires-Dist`` under
``Dynamic`` states its dependencies for good; failing that, a ``[project] dependencies`` table in its
``pyproject.toml`` that is not marked ``dynamic`` does too. Anything else would need the build backend, i.e.
running the package's code, which mlaudit does only with ``--allow-build``. Members are read in memory with a
size cap; nothing is extracted to disk.
"""

from __future__ import annotations

import hashlib
import io
import sys
from dataclasses import dataclass, field
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import parse_sdist_filename
from packaging.version import InvalidVersion, Version

from auditor.domain import Artifact, canonical_name
from auditor.errors import MlauditError
from auditor.options import AuditContext

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MAX_SDIST_BYTES = 64 * 1024 * 1024
MAX_MEMBER_BYTES = 1024 * 1024
SERVICE = "package index"


@dataclass
class SdistMetadata:
    name: str
    version: str
    artifact: Artifact
    static: bool
    requires: list[str] = field(default_factory=list)
    origin: str = ""  # "PKG-INFO" | "pyproject.toml" | why it is dynamic


def read_static_requires(data: bytes, filename: str) -> tuple[bool, list[str], str]:
    """``(static, requires, where)`` for sdist bytes; ``where`` names the file used or why none could be."""
    members = read_members(data, filename)
    pkg_info = members.get("PKG-INFO")
    if pkg_info is not None:
        from email.parser import HeaderParser  # here: only an sdist-only pin reads one (issue 25, start-up)

        headers = HeaderParser().parsestr(pkg_info.decode("utf-8", "replace"))
        try:
            meta_version = Version(headers.get("Metadata-Version", "0"))
        except InvalidVersion:
            meta_version = Version("0")
        dynamic = {d.strip().lower() for d in headers.get_all("Dynamic") or []}
        if meta_version >= Version("2.2") and "requires-dist" not in dynamic:
            return True, [str(r).strip() for r in headers.get_all("Requires-Dist") or []], "PKG-INFO"
    pyproject = members.get("pyproject.toml")
    if pyproject is not None:
        try:
            project: Any = tomllib.loads(pyproject.decode("utf-8", "replace")).get("project")
        except tomllib.TOMLDecodeError:
            project = None
        if isinstance(project, dict) and "dependencies" not in (project.get("dynamic") or []):
            deps = project.get("dependencies")
            if isinstance(deps, list) and all(isinstance(d, str) for d in deps):
                return True, list(deps), "pyproject.toml"
    return False, [], "dependencies are dynamic (PEP 643)"


def read_members(data: bytes, filename: str) -> dict[str, bytes]:
    """The top-level ``PKG-INFO`` and ``pyproject.toml`` (``top/NAME``), each at most MAX_MEMBER_BYTES."""
    import tarfile  # here, like zipfile: only an sdist-only pin is read (issue 25, the resolver's start-up)
    import zipfile

    wanted = {"PKG-INFO", "pyproject.toml"}
    out: dict[str, bytes] = {}
    if filename.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                parts = info.filename.strip("/").split("/")
                if len(parts) == 2 and parts[1] in wanted and info.file_size <= MAX_MEMBER_BYTES:
                    out.setdefault(parts[1], zf.read(info))
        return out
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
        for member in tf:
            parts = member.name.strip("/").split("/")
            if len(parts) == 2 and parts[1] in wanted and member.isfile() and member.size <= MAX_MEMBER_BYTES:
                fh = tf.extractfile(member)
                if fh is not None:
                    out.setdefault(parts[1], fh.read(MAX_MEMBER_BYTES))
    return out


def find_sdist(ctx: AuditContext, index_urls: list[str], name: str, version: str | None,
               specifier: str = "") -> Artifact | None:
    """The sdist of ``name`` (``version``, or the newest matching ``specifier``) on the first index that has one
    (its page read by the run's one index client, ``pkgindex``)."""
    from auditor.pkgindex import project_page

    for index in index_urls:
        page = project_page(ctx, name, index)
        if page is None:
            continue
        best: tuple[Version, Artifact] | None = None
        for f in page.files:
            if f.kind != "sdist" or f.project != page.name or f.version is None:
                continue
            try:
                sd_version = Version(f.version)
            except InvalidVersion:
                continue
            if version is not None and sd_version != Version(version):
                continue
            if version is None and specifier and not _matches(specifier, sd_version):
                continue
            art = Artifact(filename=f.filename, url=f.url, hashes={"sha256": f.sha256} if f.sha256 else {},
                           kind="sdist")
            if best is None or sd_version > best[0]:
                best = (sd_version, art)
        if best is not None:
            return best[1]
    return None


def _matches(specifier: str, version: Version) -> bool:
    try:
        return SpecifierSet(specifier).contains(version, prereleases=True)
    except InvalidSpecifier:
        return True


def sdist_metadata(ctx: AuditContext, index_urls: list[str], name: str, version: str | None,
                   specifier: str = "") -> SdistMetadata | None:
    """Fetch the sdist from the index (through ``ctx.http``) and read its static dependencies; None: no sdist."""
    art = find_sdist(ctx, index_urls, name, version, specifier)
    if art is None or art.url is None:
        return None
    resp = ctx.http.get(art.url, service=SERVICE)
    data = resp.content
    if len(data) > MAX_SDIST_BYTES:
        raise MlauditError(f"sdist {art.filename} is larger than {MAX_SDIST_BYTES} bytes")
    expected = art.hashes.get("sha256")
    if expected and hashlib.sha256(data).hexdigest() != expected.lower():
        return SdistMetadata(name, version or "", art, False, [], "sdist hash does not match the index")
    art.size = len(data)
    art.verified = bool(expected)
    _, sd_version = parse_sdist_filename(art.filename)
    import tarfile
    import zipfile

    try:
        static, requires, where = read_static_requires(data, art.filename)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        return SdistMetadata(name, str(sd_version), art, False, [], f"unreadable sdist ({exc})")
    return SdistMetadata(canonical_name(name), str(sd_version), art, static, requires, where)

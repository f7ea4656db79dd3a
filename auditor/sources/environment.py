"""An installed environment, read from its ``*.dist-info`` / ``*.egg-info`` metadata files -- never imported.

``--env VENV`` reads ``lib/python*/site-packages`` (posix), ``Lib/site-packages`` (Windows) under VENV, or VENV
itself when it is a site-packages directory. Edges come from ``Requires-Dist`` entries whose markers hold for that
environment's Python and platform (an ``extra == "x"`` marker only when a parent requested that extra). A package
is direct when nothing installed requires it, or when pip marked it ``REQUESTED`` (uv marks every package, so
its mark is ignored).

``--env`` without a value reads the running interpreter's ``sys.path``, minus mlaudit itself and its runtime
dependency closure -- except those packages something else the user installed also requires.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PkgRequirement

from auditor.domain import ROOT_NODE, Edge, Location, Package, Skipped, canonical_name, package_node
from auditor.errors import InputError
from auditor.ledger import Item, ItemKind
from auditor.options import AuditOptions
from auditor.sources.base import SourceResult
from auditor.sources.markers import marker_holds, target_environment

SELF = "mlaudit"
_PYDIR_RE = re.compile(r"^python(\d+)\.(\d+)t?$")
MAX_METADATA_BYTES = 16 * 1024 * 1024
MAX_SMALL_FILE = 1024 * 1024  # INSTALLER, direct_url.json, pyvenv.cfg


@dataclass
class Installed:
    """One installed distribution, as its metadata describes it."""

    name: str
    version: str
    requires: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    path: str = ""
    requested: bool = False
    direct_url: str | None = None


def site_packages_dirs(path: str) -> tuple[list[Path], str | None, bool]:
    """(site-packages dirs, Python version "X.Y" when the layout says, Windows layout?) under ``path``."""
    root = Path(path)
    if not root.exists():
        raise InputError("no such environment directory", file=path)
    if not root.is_dir():
        raise InputError("--env needs a directory (a virtual environment, a prefix or a site-packages dir)",
                         file=path)
    if _has_metadata(root):
        m = _PYDIR_RE.match(root.parent.name)
        return [root], (f"{m.group(1)}.{m.group(2)}" if m else _cfg_version(root)), root.parent.name == "Lib"
    found: list[tuple[Path, str | None, bool]] = []
    for lib in ("lib", "lib64"):
        for pydir in sorted((root / lib).glob("python*")) if (root / lib).is_dir() else []:
            m = _PYDIR_RE.match(pydir.name)
            for sub in ("site-packages", "dist-packages"):
                if (pydir / sub).is_dir():
                    found.append((pydir / sub, f"{m.group(1)}.{m.group(2)}" if m else None, False))
    windows = root / "Lib" / "site-packages"
    if windows.is_dir() and not any(f[0].resolve() == windows.resolve() for f in found):
        found.append((windows, None, True))
    unique: list[tuple[Path, str | None, bool]] = []
    seen: set[Path] = set()
    for entry in found:
        real = entry[0].resolve()
        if real not in seen:
            seen.add(real)
            unique.append(entry)
    if not unique:
        raise InputError("no site-packages directory found (looked for lib/python*/site-packages and "
                         "Lib/site-packages, or *.dist-info directly inside)", file=path)
    version = next((v for _, v, _ in unique if v), None) or _cfg_version(root)
    return [d for d, _, _ in unique], version, any(w for _, _, w in unique)


def read_bounded(path: Path, limit: int) -> bytes:
    """A regular file's bytes, at most ``limit`` of them: a metadata file that is a link to ``/dev/zero``, a FIFO
    or a huge file is refused (``OSError`` saying why) instead of read for ever or into memory whole."""
    info = path.stat()  # follows links: what would be read
    if not stat.S_ISREG(info.st_mode):
        raise OSError(errno.EINVAL, "not a regular file (a device, pipe or socket)")
    if info.st_size > limit:
        raise OSError(errno.EFBIG, f"larger than the {limit:,}-byte limit ({info.st_size:,} bytes)")
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:  # grew since stat
        raise OSError(errno.EFBIG, f"larger than the {limit:,}-byte limit")
    return data


def _cfg_version(root: Path) -> str | None:
    for candidate in (root / "pyvenv.cfg", root.parent / "pyvenv.cfg", root.parent.parent / "pyvenv.cfg"):
        try:
            text = read_bounded(candidate, MAX_SMALL_FILE).decode("utf-8", "replace")
        except OSError:
            continue
        m = re.search(r"^\s*(?:version|version_info)\s*=\s*(\d+)\.(\d+)", text, re.M)
        if m:
            return f"{m.group(1)}.{m.group(2)}"
    return None


def _has_metadata(directory: Path) -> bool:
    try:
        return any(e.name.endswith((".dist-info", ".egg-info")) for e in os.scandir(directory))
    except OSError:
        return False


def read_installed(dirs: list[Path], skipped: list[Item]) -> dict[str, Installed]:
    """Every distribution in ``dirs`` (first wins, like ``sys.path``), keyed by PEP 503 name."""
    out: dict[str, Installed] = {}
    for directory in dirs:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if not entry.name.endswith((".dist-info", ".egg-info")):
                continue
            dist = _read_one(Path(entry.path), skipped)
            if dist is not None and dist.name not in out:
                out[dist.name] = dist
    return out


def _read_one(info: Path, skipped: list[Item]) -> Installed | None:
    if info.name.endswith(".dist-info"):
        meta_file = info / "METADATA"
    elif info.is_dir():
        meta_file = info / "PKG-INFO"
    else:
        meta_file = info  # a single-file .egg-info
    try:
        raw = read_bounded(meta_file, MAX_METADATA_BYTES)
    except OSError as exc:
        skipped.append(Skipped(reason=f"installed distribution without readable metadata ({meta_file.name}: "
                                      f"{exc.strerror or exc})", file=str(meta_file), not_checked=[info.name],
                               kind=ItemKind.PACKAGE))
        return None
    headers = HeaderParser().parsestr(raw.decode("utf-8", errors="replace"))
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        skipped.append(Skipped(reason="installed distribution metadata lacks Name or Version", file=str(meta_file),
                               not_checked=[info.name], kind=ItemKind.PACKAGE))
        return None
    requires = [str(r) for r in headers.get_all("Requires-Dist") or []]
    if info.name.endswith(".egg-info") and info.is_dir():
        requires.extend(_egg_requires(info / "requires.txt", skipped))
    metadata: dict[str, str] = {}
    for header, key in (("Summary", "summary"), ("License-Expression", "license"), ("License", "license"),
                        ("Home-page", "home_page"), ("Author", "author"), ("Author-email", "author_email")):
        value = headers.get(header)
        if value and key not in metadata and value.strip() not in ("UNKNOWN", ""):
            metadata[key] = str(value).strip()[:500]
    direct_url = None
    try:
        data = json.loads(read_bounded(info / "direct_url.json", MAX_SMALL_FILE).decode("utf-8"))
        if isinstance(data, dict) and isinstance(data.get("url"), str):
            direct_url = data["url"]
    except (OSError, ValueError):
        pass
    return Installed(canonical_name(str(name)), str(version).strip(), requires, metadata, str(info),
                     _requested(info), direct_url)


def _requested(info: Path) -> bool:
    """PEP 376 ``REQUESTED``: pip writes it for what the user asked for; uv writes it for every package."""
    if not (info / "REQUESTED").exists():
        return False
    try:
        installer = read_bounded(info / "INSTALLER", MAX_SMALL_FILE).decode("utf-8", "replace").strip().lower()
    except OSError:
        installer = ""
    return installer != "uv"


def _egg_requires(path: Path, skipped: list[Item]) -> list[str]:
    """setuptools' ``requires.txt``: plain lines, then ``[extra:marker]`` sections."""
    try:
        text = read_bounded(path, MAX_METADATA_BYTES).decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    except OSError as exc:
        skipped.append(Skipped(reason=f"dependencies not read ({path.name}: {exc.strerror or exc})", file=str(path),
                               not_checked=[f"dependencies of {path.parent.name}"], kind=ItemKind.PACKAGE))
        return []
    out: list[str] = []
    section_marker: str | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            extra, _, marker = line[1:-1].partition(":")
            parts = [f'extra == "{extra}"'] if extra else []
            if marker:
                parts.append(f"({marker})")
            section_marker = " and ".join(parts) or None
            continue
        out.append(f"{line}; {section_marker}" if section_marker else line)
    return out


def dependency_edges(installed: dict[str, Installed], env: dict[str, str]) -> list[Edge]:
    """Edges whose markers hold in ``env``; extras propagate from the requirement that asked for them."""
    requested: dict[str, set[str]] = {name: set() for name in installed}
    parsed: dict[str, list[PkgRequirement]] = {}
    for name, dist in installed.items():
        reqs: list[PkgRequirement] = []
        for text in dist.requires:
            try:
                reqs.append(PkgRequirement(text))
            except InvalidRequirement:
                continue
        parsed[name] = reqs
    edges: dict[tuple[str, str], Edge] = {}
    pending = list(installed)
    while pending:
        name = pending.pop()
        extras = requested[name]
        for req in parsed[name]:
            child = canonical_name(req.name)
            if child not in installed or child == name:
                continue
            marker = str(req.marker) if req.marker else None
            if not marker_holds(marker, env, tuple(extras)):
                continue
            edges.setdefault((name, child), Edge(package_node(name), package_node(child), requirement=str(req),
                                                  marker=marker, origin="installed-metadata"))
            new = {canonical_name(e) for e in req.extras} - requested[child]
            if new:
                requested[child] |= new
                pending.append(child)
    return list(edges.values())


def load_environment(path: str | None, options: AuditOptions | None = None) -> SourceResult:
    skipped: list[Item] = []
    if path:
        dirs, version, windows = site_packages_dirs(path)
        env = target_environment(version, "win_amd64" if windows else None) if (version or windows) else \
            target_environment()
        root_name = Path(path).resolve().name or "environment"
    else:
        dirs = [Path(p) for p in sys.path if p and os.path.isdir(p)]
        env = target_environment()
        root_name = Path(sys.prefix).name or "environment"
    installed = read_installed(dirs, skipped)
    edges = dependency_edges(installed, env)
    if not path:
        installed, edges = _without_self(installed, edges)
    has_parent = {e.child for e in edges}
    result = SourceResult(files=[path or sys.prefix], skipped=skipped, resolved=True, root_name=root_name,
                          kinds=["environment"])
    for name, dist in sorted(installed.items()):
        direct = dist.requested or package_node(name) not in has_parent
        pkg = Package(name=name, version=dist.version, direct=direct, source="environment",
                      location=Location(dist.path), metadata=dict(dist.metadata))
        if dist.direct_url:
            pkg.properties["mlaudit:direct-url"] = dist.direct_url
        result.packages.append(pkg)
        if direct:
            result.edges.append(Edge(ROOT_NODE, package_node(name), requirement=f"{name}=={dist.version}",
                                     origin="installed-metadata"))
    result.edges.extend(edges)
    return result


def _without_self(installed: dict[str, Installed], edges: list[Edge]) -> tuple[dict[str, Installed], list[Edge]]:
    """Drop mlaudit and its runtime closure, keeping what something else installed also needs."""
    if SELF not in installed:
        return installed, edges
    children: dict[str, set[str]] = {}
    for edge in edges:
        children.setdefault(edge.parent, set()).add(edge.child)
    runtime = _runtime_closure(installed)
    user = [package_node(n) for n in installed if n not in runtime]
    needed: set[str] = set()
    stack = list(user)
    while stack:
        node = stack.pop()
        for child in children.get(node, ()):
            if child not in needed:
                needed.add(child)
                stack.append(child)
    drop = {package_node(n) for n in runtime} - needed - set(user)
    kept = {n: d for n, d in installed.items() if package_node(n) not in drop}
    return kept, [e for e in edges if e.parent not in drop and e.child not in drop]


def _runtime_closure(installed: dict[str, Installed]) -> set[str]:
    """mlaudit and what it needs at run time (no extras), for this interpreter."""
    env = target_environment()
    closure = {SELF}
    stack = [SELF]
    while stack:
        name = stack.pop()
        for text in installed[name].requires:
            try:
                req = PkgRequirement(text)
            except InvalidRequirement:
                continue
            child = canonical_name(req.name)
            holds = marker_holds(str(req.marker) if req.marker else None, env)
            if holds and child in installed and child not in closure:
                closure.add(child)
                stack.append(child)
    return closure

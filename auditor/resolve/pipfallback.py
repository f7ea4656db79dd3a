"""Fallback resolver: ``pip install --dry-run --report`` (binary-only), used when uv is unavailable or asked for.

pip's installation report carries each chosen distribution's metadata, so edges are computed here from
``requires_dist`` with the target's marker environment. No per-requirement degradation: pip's errors are not
structured enough to name culprits reliably, so a failure raises ``ResolutionError`` with pip's message.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from typing import Any

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PkgRequirement

from auditor.domain import ROOT_NODE, Artifact, Edge, Package, Requirement, canonical_name, package_node
from auditor.errors import ResolutionError
from auditor.options import AuditOptions
from auditor.resolve.base import Resolution
from auditor.resolve.messages import clean
from auditor.resolve.target import Indexes, target_python
from auditor.resolve.uvdriver import requirement_line

_MANYLINUX_RE = re.compile(r"^(?:(?P<arch1>x86_64|aarch64|i686)-manylinux_(?P<maj1>\d+)_(?P<min1>\d+)"
                           r"|manylinux_(?P<maj2>\d+)_(?P<min2>\d+)_(?P<arch2>x86_64|aarch64|i686))$")
_LEGACY = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}


def pip_platforms(platform: str) -> list[str]:
    """pip's ``--platform`` takes exact tags, so a manylinux target expands to every older glibc level too."""
    m = _MANYLINUX_RE.match(platform)
    if not m:
        return [uv_to_wheel_tag(platform)]
    arch = m["arch1"] or m["arch2"]
    major, minor = int(m["maj1"] or m["maj2"]), int(m["min1"] or m["min2"])
    tags: list[str] = []
    for level in range(minor, 4, -1) if major == 2 else []:
        tags.append(f"manylinux_2_{level}_{arch}")
        if level in _LEGACY:
            tags.append(f"{_LEGACY[level]}_{arch}")
    return tags + [f"linux_{arch}"] if tags else [platform]


def uv_to_wheel_tag(platform: str) -> str:
    return {"x86_64-pc-windows-msvc": "win_amd64", "i686-pc-windows-msvc": "win32",
            "aarch64-pc-windows-msvc": "win_arm64", "x86_64-unknown-linux-gnu": "linux_x86_64",
            "aarch64-apple-darwin": "macosx_11_0_arm64", "x86_64-apple-darwin": "macosx_10_12_x86_64"}.get(
        platform, platform)


def pip_resolve(requirements: list[Requirement], constraints: list[Requirement], options: AuditOptions,
                indexes: Indexes) -> Resolution:
    with tempfile.TemporaryDirectory(prefix="mlaudit-pip-") as tmp:
        reqs = f"{tmp}/requirements.in"
        with open(reqs, "w", encoding="utf-8") as fh:
            fh.writelines(requirement_line(r) + "\n" for r in requirements)
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-", "--ignore-installed",
               "--disable-pip-version-check", "--no-input", "--target", f"{tmp}/target", "-r", reqs,
               "--timeout", str(options.net.timeout), "--retries", str(options.net.retries)]
        if not options.allow_build:
            cmd += ["--only-binary", ":all:"]
        if constraints:
            cons = f"{tmp}/constraints.txt"
            with open(cons, "w", encoding="utf-8") as fh:
                fh.writelines(requirement_line(c) + "\n" for c in constraints)
            cmd += ["-c", cons]
        if options.python_version:
            cmd += ["--python-version", options.python_version]
        if options.platform:
            for tag in pip_platforms(options.platform):
                cmd += ["--platform", tag]
        if indexes.index_url:
            cmd += ["--index-url", indexes.index_url]
        for url in indexes.extra_index_urls:
            cmd += ["--extra-index-url", url]
        for url in indexes.find_links:
            cmd += ["--find-links", url]
        if options.offline:
            cmd += ["--no-index"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=max(5.0, options.net.deadline),
                              check=False)
    if proc.returncode != 0:
        raise ResolutionError(f"pip could not resolve the requirements: {clean(proc.stderr)}")
    try:
        report = json.loads(proc.stdout)
    except ValueError as exc:
        raise ResolutionError("pip returned an unreadable installation report") from exc
    return report_to_resolution(report, requirements, options)


def report_to_resolution(report: dict[str, Any], requirements: list[Requirement],
                         options: AuditOptions) -> Resolution:
    """Packages, hashes and edges from a pip installation report (``pip install --report``)."""
    env: dict[str, str] = {k: str(v) for k, v in default_environment().items()}
    py = target_python(options)
    env["python_version"] = py
    env["python_full_version"] = py if py.count(".") >= 2 else f"{py}.0"
    by_name: dict[str, Requirement] = {}
    for req in requirements:
        by_name.setdefault(req.name, req)
    installs: list[dict[str, Any]] = report.get("install", [])
    names = {canonical_name(i["metadata"]["name"]) for i in installs}
    packages: list[Package] = []
    edges: list[Edge] = []
    for item in installs:
        meta = item["metadata"]
        name = canonical_name(meta["name"])
        info = item.get("download_info") or {}
        hashes = (info.get("archive_info") or {}).get("hashes") or {}
        url = str(info.get("url", ""))
        art = Artifact(filename=url.rsplit("/", 1)[-1], url=url or None, hashes=dict(hashes),
                       kind="wheel" if url.endswith(".whl") else "sdist")
        direct = bool(item.get("requested"))
        found = by_name.get(name)
        packages.append(Package(name=name, version=str(meta["version"]), direct=direct, source="resolver",
                                hashes=[f"sha256:{hashes['sha256']}"] if "sha256" in hashes else [],
                                artifacts=[art], location=found.location if found and direct else None,
                                markers=found.marker if found else None,
                                metadata={"pinned_hashes": list(found.hashes) if found else []}))
        if direct:
            edges.append(Edge(ROOT_NODE, package_node(name), requirement=found.raw if found else name,
                              marker=found.marker if found else None, origin="resolver"))
        extras = item.get("requested_extras") or [""]
        for dep in meta.get("requires_dist") or []:
            try:
                parsed = PkgRequirement(dep)
            except InvalidRequirement:
                continue
            child = canonical_name(parsed.name)
            if child not in names:
                continue
            if parsed.marker is not None and not any(parsed.marker.evaluate({**env, "extra": e}) for e in extras):
                continue
            edges.append(Edge(package_node(name), package_node(child), requirement=dep,
                              marker=str(parsed.marker) if parsed.marker else None, origin="resolver"))
    return Resolution(packages=packages, edges=edges, resolver="pip")

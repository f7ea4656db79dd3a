"""Where and for what a resolution happens: index URLs, target Python and platform, uv's environment.

Kept apart from the resolver driver so that the rules (configuration first, then the requirements file, then the
pip/uv environment variables, else the resolver's own default; never a hard-coded index host) live in one place.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field

from auditor.cache import cache_dir
from auditor.options import AuditOptions
from auditor.sources.base import SourceResult
from auditor.tools import environment_index_urls

# Wheel platform tags users pass (``--platform win_amd64``) mapped to uv's ``--python-platform`` targets.
_FIXED_PLATFORMS = {
    "win_amd64": "x86_64-pc-windows-msvc",
    "win32": "i686-pc-windows-msvc",
    "win_arm64": "aarch64-pc-windows-msvc",
    "linux_x86_64": "x86_64-unknown-linux-gnu",
    "linux_aarch64": "aarch64-unknown-linux-gnu",
}
_MANYLINUX_RE = re.compile(r"^manylinux_?(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>x86_64|aarch64)$")
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_MACOS_RE = re.compile(r"^macosx_\d+_\d+_(?P<arch>x86_64|arm64|universal2)$")


def uv_platform(platform: str) -> str:
    """Translate a wheel platform tag into uv's target name; uv's own names pass through unchanged."""
    tag = platform.strip().lower().replace("-", "_") if "_" in platform and "-" not in platform else platform.strip()
    if tag in _FIXED_PLATFORMS:
        return _FIXED_PLATFORMS[tag]
    for legacy, (major, minor) in _LEGACY_MANYLINUX.items():
        if tag.startswith(legacy + "_"):
            return f"{tag[len(legacy) + 1:]}-manylinux_{major}_{minor}"
    m = _MANYLINUX_RE.match(tag)
    if m:
        return f"{m['arch']}-manylinux_{m['major']}_{m['minor']}"
    m = _MACOS_RE.match(tag)
    if m:
        return "aarch64-apple-darwin" if m["arch"] == "arm64" else "x86_64-apple-darwin"
    return platform


@dataclass
class Indexes:
    """The index configuration one resolution uses (``index_url`` None: the resolver's default)."""

    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    no_index: bool = False  # the requirements file said --no-index: only --find-links locations are used

    def all_urls(self) -> list[str]:
        return [u for u in [self.index_url, *self.extra_index_urls] if u]


def indexes_for(src: SourceResult, options: AuditOptions) -> Indexes:
    """Options beat the requirements file, which beats ``UV_INDEX_URL``/``PIP_INDEX_URL``/``PIP_EXTRA_INDEX_URL``."""
    env = os.environ
    index = options.index_url or src.index_url or next(iter(environment_index_urls()), None)
    extras = [*options.extra_index_urls, *src.extra_index_urls]
    if not extras:
        extras = (env.get("UV_EXTRA_INDEX_URL") or env.get("PIP_EXTRA_INDEX_URL") or "").split()
    if src.no_index and not options.index_url:
        return Indexes(None, [], list(dict.fromkeys(src.find_links)), no_index=True)
    return Indexes(index, list(dict.fromkeys(u for u in extras if u)), list(dict.fromkeys(src.find_links)))


def target_python(options: AuditOptions) -> str:
    return options.python_version or f"{sys.version_info.major}.{sys.version_info.minor}"


def uv_interpreter(options: AuditOptions) -> list[str]:
    """The ``--python`` argument of a ``uv pip compile`` run: mlaudit's own interpreter, unless uv must find one.

    Why: without ``--python``, uv looks for an interpreter matching ``--python-version`` on every run (through
    ``PATH``; behind version-manager shims that is a chain of shell scripts, ~0.2-0.3 s per run, twice per
    resolution). With ``--python-version`` and ``--python-platform`` given, the interpreter does not change the
    answer of a binary-only resolution: uv replaces its version markers with the target's and its platform markers
    and wheel tags with the platform's (the same pins and messages on the eval inputs, for 3.9 and 3.12 targets,
    Linux and Windows platforms). Only ``--allow-build`` keeps uv's own choice: a source build runs on that
    interpreter, which should then be the target's version."""
    if options.allow_build and (options.python_version is not None or options.platform is not None):
        return []
    return ["--python", sys.executable] if sys.executable else []


def uv_environment(options: AuditOptions) -> dict[str, str]:
    """The environment uv runs with: our cache, our timeouts, nothing inherited that changes the answer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    env["UV_CACHE_DIR"] = str(cache_dir() / "uv")
    env["UV_HTTP_TIMEOUT"] = str(max(1, round(options.net.timeout)))
    env["UV_HTTP_RETRIES"] = str(max(0, options.net.retries))
    env["UV_NO_PROGRESS"] = "1"
    env["NO_COLOR"] = "1"
    for keep in ("UV_NO_CACHE", "UV_NATIVE_TLS", "UV_INSECURE_HOST"):
        if keep in os.environ:
            env[keep] = os.environ[keep]
    return env

"""PEP 508 marker evaluation for the audit's target environment (``--python-version``, ``--platform``).

Why: already-resolved inputs (universal ``uv pip compile`` output, lockfiles) may list packages for other Pythons
or platforms, sometimes two versions of one package under disjoint markers; the audit keeps the ones that apply to
the target, like the resolver would for an unpinned input.
"""

from __future__ import annotations

import os
import platform as _platform
import re
import sys

_WINDOWS = {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt"}
_MACOS = {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix"}
_LINUX = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"}


def running_environment() -> dict[str, str]:
    """PEP 508's marker environment of this interpreter: what ``packaging.markers.default_environment()`` gives
    (tests/sources hold them equal), without importing ``packaging.markers`` (its tokenizer and ``packaging.tags``
    were ~4 % of a re-audit's start-up, for inputs that mostly carry no marker). Markers are still evaluated by
    ``packaging`` (``marker_holds``), imported when one is."""
    info = sys.implementation.version
    implementation_version = f"{info.major}.{info.minor}.{info.micro}"
    if info.releaselevel != "final":
        implementation_version += info.releaselevel[0] + str(info.serial)
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": implementation_version,
        "os_name": os.name,
        "platform_machine": _platform.machine(),
        "platform_release": _platform.release(),
        "platform_system": _platform.system(),
        "platform_version": _platform.version(),
        "python_full_version": _platform.python_version(),
        "platform_python_implementation": _platform.python_implementation(),
        "python_version": ".".join(_platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def target_environment(python_version: str | None = None, platform: str | None = None) -> dict[str, str]:
    """The marker environment of the target: the running interpreter, overridden by the requested target."""
    env = running_environment()
    if python_version:
        parts = python_version.strip().split(".")
        env["python_version"] = ".".join(parts[:2])
        env["python_full_version"] = python_version if len(parts) >= 3 else f"{'.'.join(parts[:2])}.0"
    if platform:
        tag = platform.strip().lower()
        if tag.startswith("win") or "windows" in tag:
            env.update(_WINDOWS)
        elif "mac" in tag or "darwin" in tag or "apple" in tag:
            env.update(_MACOS)
        elif "linux" in tag:
            env.update(_LINUX)
        machine = _machine(tag)
        if machine:
            env["platform_machine"] = machine
    return env


def _machine(tag: str) -> str | None:
    if "arm64" in tag or "aarch64" in tag:
        return "arm64" if ("mac" in tag or "darwin" in tag or "apple" in tag) else (
            "ARM64" if "win" in tag else "aarch64")
    if "x86_64" in tag or "amd64" in tag:
        return "AMD64" if "win" in tag else "x86_64"
    if re.search(r"i[3-6]86|win32", tag):
        return "x86" if "win" in tag else "i686"
    return None


def marker_holds(marker: str | None, env: dict[str, str], extras: tuple[str, ...] | set[str] = ()) -> bool:
    """True when ``marker`` is absent or holds in ``env`` (for any of ``extras``; none: ``extra == ""``).

    An unparsable marker holds: the package is kept and audited rather than silently dropped.
    """
    if not marker:
        return True
    from packaging.markers import InvalidMarker, Marker

    try:
        parsed = Marker(marker)
    except InvalidMarker:
        return True
    for extra in (tuple(extras) or ("",)):
        try:
            if parsed.evaluate({**env, "extra": extra}):
                return True
        except Exception:  # noqa: BLE001 - packaging raises assorted errors on odd comparisons; keep the package
            return True
    return False


_EXTRA_RE = re.compile(r"""\bextra\s*==\s*['"]([^'"]+)['"]|['"]([^'"]+)['"]\s+in\s+(?:extras|dependency_groups)""")


def marker_extras(marker: str | None) -> list[str]:
    """Extra / dependency-group names a marker tests (``extra == 'cu118'``, ``'dev' in dependency_groups``)."""
    if not marker:
        return []
    return list(dict.fromkeys(a or b for a, b in _EXTRA_RE.findall(marker)))


def marker_holds_for_some_extra(marker: str | None, env: dict[str, str]) -> bool:
    """True when ``marker`` holds for the target with one of the extras/groups it names selected."""
    names = marker_extras(marker)
    if not names or not marker:
        return marker_holds(marker, env)
    from packaging.markers import InvalidMarker, Marker

    try:
        parsed = Marker(marker)
    except InvalidMarker:
        return True
    for name in names:
        try:
            if parsed.evaluate({**env, "extra": name, "extras": frozenset({name}),
                                "dependency_groups": frozenset({name})}):
                return True
        except Exception:  # noqa: BLE001 - an environment key this packaging version does not know: keep it
            return True
    return False

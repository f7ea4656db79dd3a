"""Rebuild a published wheel from its sdist and compare (``mlaudit repro``). THIS RUNS THE PROJECT'S BUILD CODE.

It is never part of an audit: only the ``repro`` command calls it, because building an sdist executes the
project's build backend and ``setup.py``. The build happens in a throw-away virtual environment whose build
requirements come only from the configured index (``--index-url`` of that index and nothing else: no user or site
pip configuration, no extra indexes, no find-links), with the backend pinned to the version in the wheel's
``WHEEL`` ``Generator:`` line, ``SOURCE_DATE_EPOCH`` set, and, while the backend runs, proxies pointed at a
closed loopback port and pip's index switched off so that well-behaved build code cannot fetch anything. (This is
containment, not a sandbox: arbitrary build code can still open sockets itself.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name as canonical_name

from auditor.errors import InputError, MlauditError
from auditor.provenance.compare import DIFFERS, Comparison, compare_wheels
from auditor.provenance.results import result_path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

NOT_FROM_SOURCE = "not-reproducible-from-source"
BUILD_FAILED = "build-failed"
DEFAULT_BACKEND = "setuptools.build_meta:__legacy__"
DEFAULT_REQUIRES = ["setuptools>=40.8.0"]
MIN_EPOCH = 315532800  # 1980-01-01: zip cannot store earlier dates
DEAD_PROXY = "http://127.0.0.1:9"
MAX_MEMBER = 200_000_000

# Generator names (``WHEEL`` file) -> the distribution that provides that build backend.
_GENERATORS = {
    "bdist-wheel": "wheel",
    "flit": "flit-core",
    "uv": "uv-build",
}
_GENERATOR_RE = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*\(?\s*v?(?P<version>\d[^\s()]*)\s*\)?")


@dataclass
class Generator:
    raw: str
    distribution: str | None = None  # PEP 503 name of the backend distribution
    version: str | None = None

    @property
    def pin(self) -> str | None:
        return f"{self.distribution}=={self.version}" if self.distribution and self.version else None


def parse_generator(wheel_file: str) -> Generator:
    """The ``Generator:`` line of a ``WHEEL`` file, mapped to the backend distribution and version."""
    for line in wheel_file.splitlines():
        if line.lower().startswith("generator:"):
            raw = line.split(":", 1)[1].strip()
            m = _GENERATOR_RE.match(raw)
            if not m:
                return Generator(raw)
            name = canonical_name(m["name"])
            return Generator(raw, _GENERATORS.get(name, name), m["version"])
    return Generator("")


def wheel_generator(wheel: bytes) -> Generator:
    import zipfile  # the archive modules are imported by what reads archives, not by every import of this module

    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        for name in zf.namelist():
            parts = name.split("/")
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "WHEEL":
                return parse_generator(zf.read(name).decode("utf-8", "replace"))
    return Generator("")


def wheel_epoch(wheel: bytes) -> int:
    """A ``SOURCE_DATE_EPOCH`` matching the published wheel: its newest zip entry time, read as UTC (what
    setuptools/wheel/flit/hatchling write when SOURCE_DATE_EPOCH was set)."""
    import zipfile

    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        newest = max((i.date_time for i in zf.infolist()), default=(1980, 1, 1, 0, 0, 0))
    stamp = int(dt.datetime(*newest, tzinfo=dt.timezone.utc).timestamp())
    return max(MIN_EPOCH, stamp)


def pinned_requires(requires: list[str], generator: Generator) -> list[str]:
    """The sdist's build requirements with the backend pinned to the generator's version."""
    pin = generator.pin
    if pin is None:
        return list(requires)
    out: list[str] = []
    replaced = False
    for text in requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            out.append(text)
            continue
        if canonical_name(req.name) == generator.distribution:
            extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
            out.append(f"{req.name}{extras}=={generator.version}")
            replaced = True
        else:
            out.append(text)
    if not replaced:
        out.append(pin)
    return out


@dataclass
class BuildSystem:
    requires: list[str]
    backend: str
    backend_path: list[str] = field(default_factory=list)


def build_system(source: Path) -> BuildSystem:
    pyproject = source / "pyproject.toml"
    if not pyproject.is_file():
        return BuildSystem(list(DEFAULT_REQUIRES), DEFAULT_BACKEND)
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"sdist pyproject.toml is not valid TOML: {exc}", file="pyproject.toml") from exc
    table = data.get("build-system") or {}
    requires = [str(r) for r in table.get("requires", DEFAULT_REQUIRES)]
    return BuildSystem(requires, str(table.get("build-backend") or DEFAULT_BACKEND),
                       [str(p) for p in table.get("backend-path", [])])


def extract_sdist(data: bytes, filename: str, dest: Path) -> Path:
    """Unpack safely (no absolute paths, no ``..``, no links outside) and return the single top directory."""
    import tarfile
    import zipfile

    dest.mkdir(parents=True, exist_ok=True)
    if filename.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                _check_member(info.filename)
            zf.extractall(dest)
    else:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
            for member in tf.getmembers():
                _check_member(member.name)
                if member.size > MAX_MEMBER:
                    raise InputError(f"sdist member {member.name} is too large", file=filename)
            if hasattr(tarfile, "data_filter"):
                tf.extractall(dest, filter="data")
            else:  # pragma: no cover - Python without PEP 706
                tf.extractall(dest, members=[m for m in tf.getmembers() if m.isfile() or m.isdir()])  # noqa: S202
    tops = [p for p in dest.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise InputError("sdist does not have exactly one top-level directory", file=filename)
    return tops[0]


def _check_member(name: str) -> None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise InputError(f"sdist member with an unsafe path: {name}")


# The PEP 517 front end that runs inside the build venv: print requirements, or build the wheel.
_HOOK_RUNNER = r"""
import importlib, json, os, sys
mode, backend_spec, paths, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
for p in reversed(paths):
    sys.path.insert(0, os.path.abspath(p))
module, _, obj = backend_spec.partition(":")
backend = importlib.import_module(module)
for attr in filter(None, obj.split(".")):
    backend = getattr(backend, attr)
if mode == "requires":
    hook = getattr(backend, "get_requires_for_build_wheel", None)
    print(json.dumps(list(hook({})) if hook else []))
else:
    print(json.dumps({"wheel": backend.build_wheel(out, {})}))
"""


@dataclass
class BuildResult:
    wheel: bytes | None
    filename: str | None
    log: str
    requires: list[str]


def _run(cmd: list[str], *, cwd: Path | None, env: dict[str, str], timeout: float, log: list[str]) -> str:
    log.append("$ " + " ".join(cmd))
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise _BuildError(f"timed out after {timeout:.0f}s: {' '.join(cmd[:3])} ...") from exc
    log.append(proc.stdout[-4000:])
    log.append(proc.stderr[-4000:])
    if proc.returncode != 0:
        raise _BuildError(f"{' '.join(cmd[:4])} ... exited {proc.returncode}")
    return proc.stdout


class _BuildError(Exception):
    pass


def _uv() -> str:
    from auditor.tools import uv_binary

    uv = uv_binary()
    if uv is None:
        raise MlauditError("the uv binary is needed to create the isolated build environment")
    return uv


def _base_env(work: Path) -> dict[str, str]:
    from auditor.cache import cache_dir

    keep = ("PATH", "SYSTEMROOT", "TMPDIR", "TEMP", "TMP", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "UV_NATIVE_TLS")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update({"UV_CACHE_DIR": str(cache_dir() / "uv"), "HOME": str(work / "home"), "LC_ALL": "C.UTF-8", "TZ": "UTC", "PYTHONHASHSEED": "0",
                "PYTHONDONTWRITEBYTECODE": "1", "UV_NO_CONFIG": "1", "PIP_CONFIG_FILE": os.devnull,
                "UV_NO_PROGRESS": "1", "NO_COLOR": "1"})
    (work / "home").mkdir(exist_ok=True)
    return env


def build_wheel(sdist: bytes, sdist_name: str, generator: Generator, index_url: str, epoch: int, work: Path,
                *, timeout: float = 600.0, python: str | None = None, exclude_newer: str | None = None) -> BuildResult:
    """Build the sdist's wheel in a fresh venv under ``work`` (see the module docstring for the isolation).

    ``exclude_newer`` (the published wheel's upload time) keeps the other, unpinned build requirements at the
    versions that existed when the wheel was published, as the original build saw them."""
    log: list[str] = []
    source = extract_sdist(sdist, sdist_name, work / "src")
    system = build_system(source)
    requires = pinned_requires(system.requires, generator)
    uv = _uv()
    env = _base_env(work)
    venv = work / "venv"
    out = work / "dist"
    out.mkdir(exist_ok=True)
    py = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    install = [uv, "pip", "install", "--no-config", "--python", str(py), "--index-url", index_url,
               "--only-binary", ":all:"]
    if exclude_newer:
        install += ["--exclude-newer", exclude_newer]
    build_env = {**env, "SOURCE_DATE_EPOCH": str(epoch), "PIP_NO_INDEX": "1", "UV_OFFLINE": "1",
                 "http_proxy": DEAD_PROXY, "https_proxy": DEAD_PROXY, "HTTP_PROXY": DEAD_PROXY,
                 "HTTPS_PROXY": DEAD_PROXY, "ALL_PROXY": DEAD_PROXY, "all_proxy": DEAD_PROXY}
    runner = work / "hooks.py"
    runner.write_text(_HOOK_RUNNER)
    hook_args = [system.backend, json.dumps(system.backend_path), str(out)]
    try:
        _run([uv, "venv", "--no-config", "--python", python or sys.executable, str(venv)], cwd=work, env=env,
             timeout=timeout, log=log)
        _run([*install, *requires], cwd=work, env=env, timeout=timeout, log=log)
        extra = json.loads(_run([str(py), str(runner), "requires", *hook_args], cwd=source, env=build_env,
                                timeout=timeout, log=log).strip().splitlines()[-1])
        extra = [str(r) for r in extra if str(r) not in requires]
        if extra:
            extra = pinned_requires(extra, generator) if generator.pin else extra
            _run([*install, *extra], cwd=work, env=env, timeout=timeout, log=log)
        built = json.loads(_run([str(py), str(runner), "wheel", *hook_args], cwd=source, env=build_env,
                                timeout=timeout, log=log).strip().splitlines()[-1])
    except (_BuildError, ValueError, IndexError) as exc:
        log.append(f"build failed: {exc}")
        return BuildResult(None, None, "\n".join(s for s in log if s), requires)
    name = str(built["wheel"])
    return BuildResult((out / name).read_bytes(), name, "\n".join(s for s in log if s), [*requires, *extra])


@dataclass
class ReproResult:
    name: str
    version: str
    result: str  # identical | identical-content | differs | not-reproducible-from-source | build-failed
    wheel: str | None = None
    wheel_sha256: str | None = None
    sdist: str | None = None
    sdist_sha256: str | None = None
    generator: str | None = None
    build_requires: list[str] = field(default_factory=list)
    source_date_epoch: int | None = None
    exclude_newer: str | None = None
    index: str | None = None
    comparison: Comparison | None = None
    rebuilt_wheel: str | None = None
    rebuilt_sha256: str | None = None
    log_tail: str | None = None
    reason: str | None = None

    @property
    def slsa(self) -> str:
        from auditor.provenance.summary import NEITHER, REPRODUCIBLE, REPRODUCIBLE_RESULTS

        return REPRODUCIBLE if self.result in REPRODUCIBLE_RESULTS else NEITHER

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "version": self.version, "result": self.result, "slsa": self.slsa,
            "wheel": {"filename": self.wheel, "sha256": self.wheel_sha256},
            "sdist": {"filename": self.sdist, "sha256": self.sdist_sha256} if self.sdist else None,
            "generator": self.generator, "build_requires": self.build_requires,
            "source_date_epoch": self.source_date_epoch, "exclude_newer": self.exclude_newer,
            "rebuilt": {"filename": self.rebuilt_wheel, "sha256": self.rebuilt_sha256} if self.rebuilt_wheel else None,
        }
        if self.comparison is not None:
            out["comparison"] = self.comparison.to_json()
        if self.reason:
            out["reason"] = self.reason
        if self.log_tail:
            out["log_tail"] = self.log_tail
        return out


def reproduce(name: str, version: str, wheel: tuple[str, bytes], sdist: tuple[str, bytes] | None, index_url: str,
              *, epoch: int | None = None, timeout: float = 600.0, keep: Path | None = None,
              exclude_newer: str | None = None) -> ReproResult:
    """Rebuild ``wheel`` from ``sdist`` and compare; ``sdist`` None gives ``not-reproducible-from-source``."""
    wheel_name, wheel_data = wheel
    generator = wheel_generator(wheel_data)
    result = ReproResult(name=name, version=version, result=NOT_FROM_SOURCE, wheel=wheel_name,
                         wheel_sha256=hashlib.sha256(wheel_data).hexdigest(), generator=generator.raw or None,
                         index=index_url, exclude_newer=exclude_newer)
    if sdist is None:
        result.reason = "the index has no sdist for this version: the wheel cannot be rebuilt from source"
        return result
    result.sdist, result.sdist_sha256 = sdist[0], hashlib.sha256(sdist[1]).hexdigest()
    result.source_date_epoch = epoch if epoch is not None else wheel_epoch(wheel_data)
    with tempfile.TemporaryDirectory(prefix="mlaudit-repro-") as tmp:
        work = keep if keep is not None else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        built = build_wheel(sdist[1], sdist[0], generator, index_url, result.source_date_epoch, work,
                            timeout=timeout, exclude_newer=exclude_newer)
    result.build_requires = built.requires
    if built.wheel is None:
        result.result = BUILD_FAILED
        result.log_tail = built.log[-6000:]
        result.reason = "the sdist could not be built (see log_tail)"
        return result
    result.rebuilt_wheel = built.filename
    result.rebuilt_sha256 = hashlib.sha256(built.wheel).hexdigest()
    result.comparison = compare_wheels(wheel_data, built.wheel)
    result.result = result.comparison.result
    if result.result == DIFFERS and built.filename != wheel_name:
        result.reason = f"the rebuild produced {built.filename}, not {wheel_name}"
    return result


def save_result(result: ReproResult) -> Path:
    """Remember a rebuild so later audits can show the package as ``reproducible`` (SLSA-style summary)."""
    from auditor.cache import atomic_write

    path = result_path(result.name, result.version)
    atomic_write(path, json.dumps(result.to_json(), sort_keys=True).encode("utf-8"))
    return path



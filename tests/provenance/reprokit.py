"""Source trees, sdists and "published" wheels for the ``repro`` tests, built in code with real backends.

The backends (flit_core, setuptools) are wheels fetched once per session with the machine's own ``pip download``
from its configured index (the only non-loopback step, which is why the tests using them are marked ``slow``);
after that everything is served by a ``LocalIndex`` on 127.0.0.1, which is also the only index the rebuild sees.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from auditor.provenance.repro import Generator, build_wheel
from tests.support.index import IndexFile, LocalIndex, normalise

BACKENDS = ["flit_core", "setuptools"]

FLIT_PYPROJECT = """[build-system]
requires = ["flit_core>=3.2,<5"]
build-backend = "flit_core.buildapi"

[project]
name = "{name}"
version = "{version}"
description = "a deterministic test package"
"""

SETUPTOOLS_PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "{version}"
"""

# A build step that embeds the build time into the package: the classic non-reproducible build.
STAMP_SETUP = """import time
from pathlib import Path
from setuptools import setup
from setuptools.command.build_py import build_py


class StampedBuild(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "{module}" / "_stamp.py"
        target.write_text(f"BUILT_AT_NS = {{time.time_ns()}}\\n")


setup(packages=["{module}"], cmdclass={{"build_py": StampedBuild}})
"""


def fetch_backends(dest: Path) -> list[Path]:
    """The backend wheels, downloaded once into ``dest`` with pip's own configuration."""
    have = sorted(dest.glob("*.whl"))
    if len(have) >= len(BACKENDS):
        return have
    dest.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                           "--disable-pip-version-check", "-q", "-d", str(dest), *BACKENDS],
                          capture_output=True, text=True, timeout=300, check=False)
    wheels = sorted(dest.glob("*.whl"))
    if proc.returncode != 0 or len(wheels) < len(BACKENDS):
        pytest.skip(f"build backends not available from the configured pip index: {proc.stderr[-300:]}")
    return wheels


def make_sdist(name: str, version: str, files: dict[str, str]) -> tuple[str, bytes]:
    dist = normalise(name).replace("-", "_")
    top = f"{dist}-{version}"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for path, text in {"PKG-INFO": meta, **files}.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size = len(data)
            info.mtime = 1577836800
            tf.addfile(info, io.BytesIO(data))
    return f"{top}.tar.gz", buf.getvalue()


def flit_sdist(name: str, version: str, body: str = "VALUE = 1\n") -> tuple[str, bytes]:
    module = normalise(name).replace("-", "_")
    return make_sdist(name, version, {"pyproject.toml": FLIT_PYPROJECT.format(name=name, version=version),
                                      f"{module}/__init__.py": f'"""Test package {name}."""\n{body}'})


def stamped_sdist(name: str, version: str) -> tuple[str, bytes]:
    module = normalise(name).replace("-", "_")
    return make_sdist(name, version, {"pyproject.toml": SETUPTOOLS_PYPROJECT.format(name=name, version=version),
                                      "setup.py": STAMP_SETUP.format(module=module),
                                      f"{module}/__init__.py": "VALUE = 2\n"})


def index_with_backends(backends: list[Path]) -> LocalIndex:
    index = LocalIndex()
    for wheel in backends:
        index.files.append(IndexFile(normalise(wheel.name.split("-")[0]), wheel.name, wheel.read_bytes()))
    return index


def publish(index: LocalIndex, url: str, sdist: tuple[str, bytes], work: Path, *, epoch: int = 1600000000,
            with_sdist: bool = True) -> tuple[str, bytes]:
    """Build the "published" wheel from ``sdist`` with the real backend and add both to the index."""
    built = build_wheel(sdist[1], sdist[0], Generator(""), url, epoch, work)
    assert built.wheel is not None and built.filename is not None, built.log
    project = normalise(built.filename.split("-")[0])
    index.files.append(IndexFile(project, built.filename, built.wheel))
    if with_sdist:
        index.files.append(IndexFile(project, sdist[0], sdist[1]))
    return built.filename, built.wheel

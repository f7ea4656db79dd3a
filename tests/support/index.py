"""A real, local Python package index for tests: wheels and sdists built in code, served on 127.0.0.1.

Why: resolution, provenance and hash checks must be tested against an index that speaks the real protocols
(PEP 503 HTML, PEP 691 JSON, PEP 658 ``.metadata`` files, sha256 URL fragments) without touching the internet.

Usage::

    index = LocalIndex(tmp_path)
    index.add_wheel("alpha", "1.0", requires=["beta>=2"])
    index.add_wheel("beta", "2.1")
    index.add_sdist("gamma", "0.3", requires=["beta"], dynamic=False, sentinel=tmp_path / "RAN")
    with index.serve() as url:          # url == "http://127.0.0.1:PORT/simple"
        ...                              # uv pip compile --index-url {url} ...
        index.fail_with(500)             # every index request now answers 500
        index.hang(5.0)                  # ... or sleeps 5 s before answering
        index.healthy()                  # back to normal

Wheels are valid (METADATA, WHEEL, RECORD with hashes); sdists contain ``PKG-INFO``, ``pyproject.toml`` and a
``setup.py`` that writes ``sentinel`` if anything ever runs it, so tests can prove no audited code ran.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.httpserver import LoopbackServer, Request, Response

JSON_CT = "application/vnd.pypi.simple.v1+json"


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class IndexFile:
    """One distribution file served by the index."""

    project: str  # PEP 503 name
    filename: str
    data: bytes
    metadata: bytes | None = None  # core metadata, served as ``<file>.metadata`` (PEP 658) when set
    requires_python: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _metadata(name: str, version: str, requires: Sequence[str], requires_python: str | None,
              metadata_version: str = "2.1", dynamic: Sequence[str] = ()) -> str:
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {name}", f"Version: {version}"]
    lines += [f"Dynamic: {field}" for field in dynamic]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {req}" for req in requires]
    return "\n".join(lines) + "\n\n"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest},{len(data)}"


def build_wheel(name: str, version: str, requires: Sequence[str] = (), *, python_tag: str = "py3",
                abi_tag: str = "none", platform_tag: str = "any",
                requires_python: str | None = None) -> tuple[str, bytes, bytes]:
    """Return ``(filename, wheel bytes, METADATA bytes)`` of a minimal valid wheel."""
    dist = re.sub(r"[-_.]+", "_", name).lower()
    info = f"{dist}-{version}.dist-info"
    metadata = _metadata(name, version, requires, requires_python).encode()
    wheel_file = (f"Wheel-Version: 1.0\nGenerator: mlaudit-tests\nRoot-Is-Purelib: true\n"
                  f"Tag: {python_tag}-{abi_tag}-{platform_tag}\n").encode()
    members = {f"{dist}/__init__.py": b"", f"{info}/METADATA": metadata, f"{info}/WHEEL": wheel_file}
    record = "".join(f"{path},{_record_hash(data)}\n" for path, data in members.items()) + f"{info}/RECORD,,\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in [*members.items(), (f"{info}/RECORD", record.encode())]:
            zf.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), data)
    filename = f"{dist}-{version}-{python_tag}-{abi_tag}-{platform_tag}.whl"
    return filename, buf.getvalue(), metadata


def build_sdist(name: str, version: str, requires: Sequence[str] = (), *, dynamic: bool = False,
                sentinel: Path | None = None, pkg_info: bool = True,
                metadata_version: str = "2.2") -> tuple[str, bytes]:
    """Return ``(filename, .tar.gz bytes)``.

    ``dynamic=False``: PKG-INFO (Metadata-Version ``metadata_version``) lists ``requires`` statically and
    pyproject.toml declares them in ``[project] dependencies``. ``dynamic=True``: PKG-INFO says
    ``Dynamic: Requires-Dist`` and pyproject.toml lists ``dependencies`` under ``dynamic``. ``setup.py`` writes
    ``sentinel`` when executed (it never should be).
    """
    dist = re.sub(r"[-_.]+", "_", name).lower()
    top = f"{dist}-{version}"
    dyn = ("Requires-Dist",) if dynamic else ()
    info = _metadata(name, version, () if dynamic else requires, None, metadata_version, dyn)
    deps = ", ".join(f'"{r}"' for r in requires)
    if dynamic:
        project = f'[project]\nname = "{name}"\nversion = "{version}"\ndynamic = ["dependencies"]\n'
    else:
        project = f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = [{deps}]\n'
    pyproject = '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n' + project
    target = repr(str(sentinel)) if sentinel else "None"
    setup_py = (f"import pathlib\nTARGET = {target}\nif TARGET:\n    pathlib.Path(TARGET).write_text('ran')\n"
                f"from setuptools import setup\nsetup(name={name!r}, version={version!r}, "
                f"install_requires={list(requires)!r})\n")
    members = {f"{top}/pyproject.toml": pyproject, f"{top}/setup.py": setup_py}
    if pkg_info:
        members[f"{top}/PKG-INFO"] = info
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for path, text in members.items():
            data = text.encode()
            ti = tarfile.TarInfo(path)
            ti.size = len(data)
            ti.mtime = 1577836800
            tf.addfile(ti, io.BytesIO(data))
    return f"{top}.tar.gz", buf.getvalue()


class LocalIndex:
    """Build distributions into memory and serve them as a simple index (see module docstring)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root  # optional: files are also written there (for --find-links style tests)
        self.files: list[IndexFile] = []
        self.server: LoopbackServer | None = None
        self._status: int | None = None
        self._delay = 0.0
        self._authorization: str | None = None
        self.refused: list[Request] = []  # requests answered 401 for lacking the required credentials

    # -- content ---------------------------------------------------------------------------------------------
    def add_wheel(self, name: str, version: str, requires: Sequence[str] = (), *, python_tag: str = "py3",
                  abi_tag: str = "none", platform_tag: str = "any", requires_python: str | None = None,
                  pep658: bool = True) -> IndexFile:
        filename, data, metadata = build_wheel(name, version, requires, python_tag=python_tag, abi_tag=abi_tag,
                                               platform_tag=platform_tag, requires_python=requires_python)
        return self._add(IndexFile(normalise(name), filename, data, metadata if pep658 else None, requires_python))

    def add_sdist(self, name: str, version: str, requires: Sequence[str] = (), *, dynamic: bool = False,
                  sentinel: Path | None = None, pkg_info: bool = True, metadata_version: str = "2.2") -> IndexFile:
        filename, data = build_sdist(name, version, requires, dynamic=dynamic, sentinel=sentinel,
                                     pkg_info=pkg_info, metadata_version=metadata_version)
        return self._add(IndexFile(normalise(name), filename, data))

    def _add(self, item: IndexFile) -> IndexFile:
        self.files.append(item)
        if self.root is not None:
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / item.filename).write_bytes(item.data)
        return item

    # -- faults ----------------------------------------------------------------------------------------------
    def fail_with(self, status: int) -> None:
        """Every request answers ``status`` until ``healthy()``."""
        self._status = status

    def hang(self, seconds: float) -> None:
        """Every request sleeps ``seconds`` before answering until ``healthy()``."""
        self._delay = seconds

    def require_credentials(self, user: str, token: str) -> None:
        """A private index: every request must carry ``Authorization: Basic user:token``, else 401 (and the
        request is kept in ``refused``). Serve it as ``http://user:token@127.0.0.1:PORT/simple``."""
        self._authorization = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()

    def authorised(self, req: Request) -> bool:
        if self._authorization is None:
            return True
        return {k.lower(): v for k, v in req.headers.items()}.get("authorization") == self._authorization

    def guarded(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """``handler`` behind the credential check (for extra routes a test adds to ``server``)."""
        def check(req: Request) -> Response:
            if not self.authorised(req):
                self.refused.append(req)
                return Response(401, b"credentials required",
                                {"Content-Type": "text/plain", "WWW-Authenticate": 'Basic realm="private"'})
            return handler(req)
        return check

    def healthy(self) -> None:
        self._status = None
        self._delay = 0.0

    # -- serving ---------------------------------------------------------------------------------------------
    @contextmanager
    def serve(self) -> Iterator[str]:
        """Start the server; yield the simple index URL (no trailing slash). Stopping it = index down."""
        server = LoopbackServer()
        server.route("GET", r"/simple/?", self.guarded(self._root_page))
        server.route("GET", r"/simple/(?P<name>[^/]+)/?", self.guarded(self._project_page))
        server.route("GET", r"/files/(?P<file>[^/]+)", self.guarded(self._file))
        self.server = server
        with server:
            yield f"{server.url}/simple"
        self.server = None

    def _faulty(self) -> Response | None:
        if self._status is not None:
            return Response(self._status, b"injected failure", {"Content-Type": "text/plain"}, delay=self._delay)
        return None

    def _wants_json(self, req: Request) -> bool:
        accept = {k.lower(): v for k, v in req.headers.items()}.get("accept", "")
        return JSON_CT in accept and "text/html" not in accept.split(JSON_CT)[0]

    def _root_page(self, req: Request) -> Response:
        faulty = self._faulty()
        if faulty:
            return faulty
        projects = sorted({f.project for f in self.files})
        if self._wants_json(req):
            body = {"meta": {"api-version": "1.0"}, "projects": [{"name": p} for p in projects]}
            return Response(200, body, {"Content-Type": JSON_CT}, delay=self._delay)
        links = "".join(f'<a href="/simple/{p}/">{p}</a>\n' for p in projects)
        return Response(200, f"<!DOCTYPE html><html><body>{links}</body></html>", {"Content-Type": "text/html"},
                        delay=self._delay)

    def _project_page(self, req: Request) -> Response:
        faulty = self._faulty()
        if faulty:
            return faulty
        assert req.match is not None
        name = normalise(req.match.group("name"))
        files = [f for f in self.files if f.project == name]
        if not files:
            return Response(404, b"not found", {"Content-Type": "text/plain"}, delay=self._delay)
        if self._wants_json(req):
            entries = []
            for f in files:
                entry: dict[str, object] = {"filename": f.filename, "url": f"/files/{f.filename}",
                                            "hashes": {"sha256": f.sha256}}
                if f.requires_python:
                    entry["requires-python"] = f.requires_python
                if f.metadata is not None:
                    entry["core-metadata"] = {"sha256": hashlib.sha256(f.metadata).hexdigest()}
                entries.append(entry)
            body = {"meta": {"api-version": "1.0"}, "name": name, "files": entries}
            return Response(200, body, {"Content-Type": JSON_CT}, delay=self._delay)
        links = []
        for f in files:
            attrs = f'href="/files/{f.filename}#sha256={f.sha256}"'
            if f.requires_python:
                attrs += f' data-requires-python="{html.escape(f.requires_python)}"'
            if f.metadata is not None:
                attrs += f' data-core-metadata="sha256={hashlib.sha256(f.metadata).hexdigest()}"'
            links.append(f"<a {attrs}>{f.filename}</a><br/>\n")
        page = f"<!DOCTYPE html><html><body><h1>{name}</h1>\n{''.join(links)}</body></html>"
        return Response(200, page, {"Content-Type": "text/html"}, delay=self._delay)

    def _file(self, req: Request) -> Response:
        faulty = self._faulty()
        if faulty:
            return faulty
        assert req.match is not None
        wanted = req.match.group("file")
        for f in self.files:
            if f.filename == wanted:
                return Response(200, f.data, {"Content-Type": "application/octet-stream"}, delay=self._delay)
            if f.metadata is not None and wanted == f"{f.filename}.metadata":
                return Response(200, f.metadata, {"Content-Type": "text/plain"}, delay=self._delay)
        return Response(404, b"not found", {"Content-Type": "text/plain"}, delay=self._delay)

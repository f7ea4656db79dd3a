"""Shared pieces for the provenance tests: the real PEP 740 fixture, a LocalIndex that also serves an Integrity
API (``/integrity/{project}/{version}/{filename}/provenance``, the layout the check derives from ``.../simple``),
and a live ``AuditContext`` over a report of packages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from auditor.domain import Package, Report
from auditor.net import HttpClient, NetConfig
from auditor.options import AuditContext, AuditOptions
from tests.support.fixtures import PROVENANCE
from tests.support.httpserver import LoopbackServer, Request, Response
from tests.support.index import IndexFile, LocalIndex, normalise

SDIST = "pypi_attestations-0.0.19.tar.gz"
PROJECT = "pypi-attestations"
VERSION = "0.0.19"


@dataclass
class Fixture:
    root: Path

    def data(self, name: str) -> bytes:
        return (self.root / name).read_bytes()


@pytest.fixture
def prov_fixture() -> Fixture:
    return Fixture(PROVENANCE)


@dataclass
class IntegrityIndex:
    """A LocalIndex plus an Integrity API on the same host: provenance by filename, or a status to answer."""

    index: LocalIndex
    provenance: dict[str, bytes] = field(default_factory=dict)
    status: int | None = None  # answer every integrity request with this status
    url: str = ""
    server: LoopbackServer | None = None  # kept after the index stops, for request-log assertions

    def add_file(self, project: str, filename: str, data: bytes, provenance: bytes | None = None) -> IndexFile:
        item = IndexFile(normalise(project), filename, data)
        self.index.files.append(item)
        if provenance is not None:
            self.provenance[filename] = provenance
        return item

    def _integrity(self, req: Request) -> Response:
        assert req.match is not None
        if self.status is not None:
            return Response(self.status, b"injected", {"Content-Type": "text/plain"})
        body = self.provenance.get(req.match.group("file"))
        if body is None:
            return Response(404, b'{"message": "not found"}', {"Content-Type": "application/json"})
        return Response(200, body, {"Content-Type": "application/vnd.pypi.integrity.v1+json"})

    def integrity_requests(self) -> list[Request]:
        assert self.server is not None
        return self.server.requests_to("/integrity/")


def integrity_index() -> IntegrityIndex:
    """A fresh index: add files, then ``with serve(idx) as url``."""
    return IntegrityIndex(LocalIndex())


@contextmanager
def serve(idx: IntegrityIndex) -> Iterator[str]:
    with idx.index.serve() as url:
        assert idx.index.server is not None
        idx.index.server.route("GET", r"/integrity/(?P<project>[^/]+)/(?P<version>[^/]+)/(?P<file>[^/]+)/provenance",
                               idx._integrity)
        idx.url = url
        idx.server = idx.index.server
        yield url


def make_context(index_url: str | None, packages: list[Package], *, online: bool = True, offline: bool = False,
                 **kwargs: object) -> AuditContext:
    net = NetConfig(timeout=3.0, retries=0, backoff=0.01, deadline=60.0)
    options = AuditOptions(index_url=index_url, net=net, online=online, offline=offline, **kwargs)  # type: ignore[arg-type]
    report = Report()
    for package in packages:
        report.add_package(package)
    return AuditContext(options=options, report=report, http=HttpClient(net))


def flip_last_byte(data: bytes) -> bytes:
    out = bytearray(data)
    out[-1] ^= 0x01
    return bytes(out)


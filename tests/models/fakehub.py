"""A fake Hugging Face Hub on 127.0.0.1, serving the routes huggingface_hub really calls.

- ``GET /api/models/{repo}/revision/{rev}`` and ``/api/datasets/...`` (``?blobs=true``): repo info with
  ``sha``, ``siblings`` (size, blobId, ``lfs`` with sha256), ``cardData``, ``gated``, ``config``, ``tags``;
- ``HEAD``/``GET /{repo}/resolve/{rev}/{file}`` (``/datasets/{repo}/...``): ``X-Repo-Commit``, ``ETag``; LFS files
  answer 302 with ``Location`` to ``/lfs/{sha256}`` plus ``X-Linked-Etag``/``X-Linked-Size``, as the Hub does;
- a missing repo answers 404 with ``X-Error-Code: RepoNotFound``, a gated one 403 ``GatedRepo``, a missing
  revision 404 ``RevisionNotFound``.
Repos are generated in code (``FakeRepo``); every request is logged by ``LoopbackServer``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from tests.support.httpserver import LoopbackServer, Request, Response

LFS_SUFFIXES = (".bin", ".pt", ".pth", ".safetensors", ".ckpt", ".h5", ".pkl", ".parquet")


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's blob id


def commit_of(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()  # noqa: S324 - a stable fake commit id


@dataclass
class FakeRepo:
    repo_id: str
    kind: str = "model"
    files: dict[str, bytes] = field(default_factory=dict)
    card: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    gated: bool | str = False
    branches: dict[str, str] = field(default_factory=dict)  # branch/tag -> commit
    tags: list[str] = field(default_factory=list)
    disabled: bool = False  # taken down by the Hub: 403 "Access to this resource is disabled."

    def __post_init__(self) -> None:
        if not self.branches:
            self.branches = {"main": commit_of(self.repo_id)}

    def commit(self, revision: str) -> str | None:
        if revision in self.branches:
            return self.branches[revision]
        return revision if revision in self.branches.values() else None

    def info(self, revision: str) -> dict[str, Any]:
        siblings = []
        for path, data in self.files.items():
            entry: dict[str, Any] = {"rfilename": path, "size": len(data), "blobId": git_sha1(data)}
            if path.endswith(LFS_SUFFIXES):
                entry["lfs"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "pointerSize": 134}
            siblings.append(entry)
        body: dict[str, Any] = {"id": self.repo_id, "_id": "x" * 24, "sha": self.commit(revision), "private": False,
                                "gated": self.gated, "disabled": False, "siblings": siblings,
                                "tags": list(self.tags), "lastModified": "2026-01-01T00:00:00.000Z"}
        if self.card is not None:
            body["cardData"] = self.card
        if self.config is not None:
            body["config"] = self.config
        return body


class FakeHub:
    def __init__(self, server: LoopbackServer, repos: list[FakeRepo]) -> None:
        self.server = server
        self.repos = {(r.kind, r.repo_id): r for r in repos}
        self.blobs: dict[str, bytes] = {}
        self.fail_status: int | None = None  # answer every API call with this status
        self.corrupt: dict[str, bytes] = {}  # sha256 -> other bytes served for that LFS blob (same length)
        for repo in repos:
            for data in repo.files.values():
                self.blobs[hashlib.sha256(data).hexdigest()] = data
        repo_re = r"(?P<repo>[^/]+/[^/]+|[^/]+)"
        for kind, prefix in (("model", "/api/models/"), ("dataset", "/api/datasets/")):
            server.route("GET", prefix + repo_re + r"/revision/(?P<rev>[^/]+)", self._info(kind))
            server.route("GET", prefix + repo_re, self._info(kind))
        for method in ("GET", "HEAD"):
            server.route(method, "/" + repo_re + r"/resolve/(?P<rev>[^/]+)/(?P<file>.+)", self._resolve("model"))
            server.route(method, "/datasets/" + repo_re + r"/resolve/(?P<rev>[^/]+)/(?P<file>.+)",
                         self._resolve("dataset"))
            server.route(method, r"/lfs/(?P<sha>[0-9a-f]{64})", self._lfs)

    @property
    def url(self) -> str:
        return self.server.url

    def _lookup(self, kind: str, req: Request) -> tuple[FakeRepo | None, str | None, Response | None]:
        assert req.match is not None
        repo = self.repos.get((kind, req.match.group("repo")))
        if repo is None:
            return None, None, Response.json({"error": "Repository not found"}, 404, **{"X-Error-Code": "RepoNotFound"})
        if repo.disabled:
            return None, None, Response.json({"error": "Access to this resource is disabled."}, 403,
                                             **{"X-Error-Message": "Access to this resource is disabled."})
        if repo.gated and "authorization" not in {k.lower() for k in req.headers}:
            return None, None, Response.json({"error": "Access to this repo is restricted"}, 403,
                                             **{"X-Error-Code": "GatedRepo"})
        groups = req.match.groupdict()
        revision = groups.get("rev") or "main"
        commit = repo.commit(revision)
        if commit is None:
            return None, None, Response.json({"error": "Invalid rev id"}, 404, **{"X-Error-Code": "RevisionNotFound"})
        return repo, commit, None

    def _info(self, kind: str) -> Any:
        def handler(req: Request) -> Response:
            if self.fail_status is not None:
                return Response.json({"error": "unavailable"}, self.fail_status)
            repo, _, error = self._lookup(kind, req)
            if error is not None or repo is None:
                return error or Response(500)
            assert req.match is not None
            return Response.json(repo.info(req.match.groupdict().get("rev") or "main"))
        return handler

    def _resolve(self, kind: str) -> Any:
        def handler(req: Request) -> Response:
            repo, commit, error = self._lookup(kind, req)
            if error is not None or repo is None or commit is None:
                return error or Response(500)
            assert req.match is not None
            path = req.match.group("file")
            data = repo.files.get(path)
            if data is None:
                return Response.json({"error": "Entry not found"}, 404, **{"X-Error-Code": "EntryNotFound"})
            headers = {"X-Repo-Commit": commit}
            if path.endswith(LFS_SUFFIXES):
                sha = hashlib.sha256(data).hexdigest()
                # a CDN-like other host name (as the real Hub's LFS redirects), so HEAD does not follow it
                cdn = self.url.replace("127.0.0.1", "localhost")
                headers.update({"Location": f"{cdn}/lfs/{sha}", "X-Linked-Etag": f'"{sha}"',
                                "X-Linked-Size": str(len(data)), "ETag": f'"{git_sha1(data)}"'})
                return Response(302, b"", headers)
            headers["ETag"] = f'"{git_sha1(data)}"'
            return Response(200, data, headers)
        return handler

    def _lfs(self, req: Request) -> Response:
        assert req.match is not None
        data = self.corrupt.get(req.match.group("sha")) or self.blobs.get(req.match.group("sha"))
        if data is None:
            return Response(404, b"no such blob")
        return Response(200, data, {"ETag": f'"{req.match.group("sha")}"'})

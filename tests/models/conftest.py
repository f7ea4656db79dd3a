from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.domain import Report
from auditor.models.refs import ModelScan, scan_project
from auditor.net import HttpClient, NetConfig
from auditor.options import AuditContext, AuditOptions
from tests.models.fakehub import FakeHub, FakeRepo
from tests.support.httpserver import LoopbackServer

PICKLE_BYTES = b"\x80\x02}q\x00."  # an empty dict, protocol 2: never loaded by the audit


def standard_repos() -> list[FakeRepo]:
    return [
        FakeRepo("acme-ai/chat-7b", files={"config.json": b'{"model_type": "llama"}', "pytorch_model.bin": PICKLE_BYTES,
                                           "README.md": b"---\nlicense: apache-2.0\n---\n"},
                 card={"license": "apache-2.0", "base_model": "acme-ai/base-7b", "datasets": ["acme-ai/corpus"]},
                 branches={"main": "1" * 40, "v1.0": "2" * 40}),
        FakeRepo("acme-ai/base-7b", files={"model.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ",
                                           "pytorch_model.bin": PICKLE_BYTES, "modeling_base.py": b"import os\n"},
                 card={"license": "cc-by-nc-4.0", "base_model": "acme-ai/root-model"},
                 config={"auto_map": {"AutoModel": "modeling_base.BaseModel"}}),
        FakeRepo("acme-ai/root-model", files={"model.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "},
                 tags=["license:mit"]),
        FakeRepo("acme-ai/corpus", kind="dataset", files={"data/train.parquet": b"PAR1...."},
                 card={"license": "cc-by-4.0"}),
        FakeRepo("acme-ai/gated", files={"model.safetensors": b"x"}, gated="manual"),
        FakeRepo("acme-ai/taken-down", files={"model.safetensors": b"x"}, disabled=True),
    ]


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    with LoopbackServer() as server:
        hub = FakeHub(server, standard_repos())
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
        yield hub


def make_ctx(**options: object) -> AuditContext:
    opts = AuditOptions(**options)  # type: ignore[arg-type]
    opts.net = NetConfig(timeout=5, retries=1, backoff=0.0, max_backoff=0.0)
    return AuditContext(options=opts, report=Report(), http=HttpClient(opts.net, sleep=lambda _s: None))


def write_project(root: Path, files: dict[str, str]) -> ModelScan:
    """Write ``files`` (dedented) under ``root`` and scan the tree for model references."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return scan_project(root)


def write_notebook(path: Path, cells: list[str]) -> list[str]:
    """A notebook of code ``cells`` at ``path``; returns its raw lines (what a reader's editor shows)."""
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                     "source": c.splitlines(keepends=True)} for c in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1))
    return path.read_text().splitlines()

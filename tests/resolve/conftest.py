"""Shared helpers for the resolver tests: requirements as a source would produce them, and a live context."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.requirements import Requirement as PkgRequirement

from auditor.domain import Location, Report, Requirement, canonical_name
from auditor.net import HttpClient, NetConfig
from auditor.options import AuditContext, AuditOptions
from auditor.sources.base import SourceResult


def make_requirements(lines: list[str], file: str = "requirements.txt") -> list[Requirement]:
    out = []
    for number, text in enumerate(lines, start=1):
        parsed = PkgRequirement(text)
        out.append(Requirement(name=canonical_name(parsed.name), raw=text, specifier=str(parsed.specifier),
                               extras=tuple(sorted(parsed.extras)), marker=str(parsed.marker) if parsed.marker else None,
                               url=parsed.url, location=Location(file, number)))
    return out


Context = Callable[..., tuple[SourceResult, AuditOptions, AuditContext]]


@pytest.fixture
def audit_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    """``audit_context(index_url, lines, **options)`` -> (source, options, ctx); uv's cache is private to the test."""
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(tmp_path / "cache"))

    def build(index_url: str, lines: list[str], **kwargs: object) -> tuple[SourceResult, AuditOptions, AuditContext]:
        net = NetConfig(timeout=3.0, retries=0, backoff=0.01, deadline=60.0)
        kwargs.setdefault("python_version", "3.11")
        options = AuditOptions(index_url=index_url, net=net, **kwargs)  # type: ignore[arg-type]
        ctx = AuditContext(options=options, report=Report(), http=HttpClient(net))
        return SourceResult(files=["requirements.txt"], requirements=make_requirements(lines)), options, ctx

    return build

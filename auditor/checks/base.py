"""The contract of a check: read the report and graph, return findings. A check never prints or exits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from auditor.domain import Finding
from auditor.options import AuditContext


class Check(Protocol):
    name: str

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        """Return findings; record what could not be checked with ``ctx.skip``/``ctx.incomplete``."""
        ...

"""Run-wide settings and the context object handed to every stage.

``AuditOptions`` is what the CLI (or a library caller) decided; ``AuditContext`` adds the live pieces a stage
needs (HTTP client, report being built, graph, progress sink) so that stages do not reach for globals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditor.domain import Report, Severity, Skipped
from auditor.net import HttpClient, NetConfig

if TYPE_CHECKING:
    import networkx as nx

    from auditor.policy import Policy


@dataclass
class AuditOptions:
    paths: list[str] = field(default_factory=list)
    env_path: str | None = None
    python_version: str | None = None  # target interpreter, e.g. "3.11"; None: the running one
    platform: str | None = None  # target platform tag, e.g. "x86_64-manylinux_2_28"; None: this machine
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    offline: bool = False  # no network at all: locked/pinned inputs only, local data only
    online: bool = False  # also query online services (OSV API, integrity API, index JSON)
    allow_build: bool = False  # opt in to building sdists during resolution (runs their code)
    extras: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    fail_on: Severity | None = Severity.LOW
    require_complete: bool = False
    fetch_models: bool = False
    scan_models: bool = True
    disabled_checks: set[str] = field(default_factory=set)
    net: NetConfig = field(default_factory=NetConfig)
    policy: Policy | None = None
    exclude_newer: str | None = None  # resolver cut-off (RFC 3339), for reproducible resolutions
    resolver: str = "auto"  # "auto" | "uv" | "pip"
    project_dir: str | None = None


ProgressFn = Callable[[str], None]


def _no_progress(_message: str) -> None:
    return None


@dataclass
class AuditContext:
    """What a stage may use. Checks read ``report``/``graph`` and return findings; they never print."""

    options: AuditOptions
    report: Report
    http: HttpClient
    graph: nx.DiGraph | None = None
    progress: ProgressFn = _no_progress
    extras: dict[str, Any] = field(default_factory=dict)  # per-run caches shared between checks

    def skip(self, reason: str, *, file: str | None = None, line: int | None = None,
             requirement: str | None = None, not_checked: list[str] | None = None) -> None:
        self.report.skipped.append(
            Skipped(reason=reason, file=file, line=line, requirement=requirement, not_checked=not_checked or [])
        )

    def incomplete(self, reason: str) -> None:
        """Record that something could not be checked; the report is then ``complete: false``."""
        if reason not in self.report.incomplete_reasons:
            self.report.incomplete_reasons.append(reason)

"""Run-wide settings and the context object handed to every stage.

``AuditOptions`` is what the CLI (or a library caller) decided; ``AuditContext`` adds the live pieces a stage
needs (HTTP client, report being built, graph, progress sink) so that stages do not reach for globals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditor.baseline import Baseline
from auditor.domain import Package, Report, Severity, Skipped
from auditor.ledger import ItemKind
from auditor.net import HttpClient, NetConfig
from auditor.projectwalk import PathFilter

if TYPE_CHECKING:
    import networkx as nx

    from auditor.advisories.db import AdvisoryStore
    from auditor.models.hubstate import HubState
    from auditor.models.settings import ModelSettings
    from auditor.policy import Policy
    from auditor.provenance.pages import ProjectPage
    from auditor.remediation.model import RemediationPlan


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
    project_dir: str | None = None  # the project's code root (model references are searched there)
    profiles: list[str] = field(default_factory=list)  # --profile NAME / all; empty: every profile found
    exclude: list[str] = field(default_factory=list)  # .gitignore-style patterns left out of the project walk
    baseline: Baseline | None = None  # --baseline: findings of an earlier report (the gate counts only new ones)
    verify_fixes: bool = False  # re-resolve and re-audit the planned upgrades (``mlaudit fix``, --verify-fixes)


ProgressFn = Callable[[str], None]


def no_progress(_message: str) -> None:
    return None


@dataclass
class RunCaches:
    """What stages compute once per run and share, by name and type (no string-keyed bag).

    Each field has one owner module that fills it on first use; a fleet worker may hand the same advisory store to
    many runs (it is read-only).
    """

    advisory_store: AdvisoryStore | None = None  # advisories.runtime
    osv_online: dict[tuple[str, str], list[dict[str, Any]]] | None = None  # advisories.runtime (--online answers)
    model_settings: ModelSettings | None = None  # models.settings
    hub_state: HubState | None = None  # models.hubstate
    project_pages: dict[tuple[str, str], ProjectPage | None] = field(default_factory=dict)  # provenance.pages
    default_index: str | None = None  # provenance.pages: the resolver's default index, asked once
    remediation: RemediationPlan | None = None  # remediation.stage: the plan ``mlaudit fix`` applies


@dataclass
class AuditContext:
    """What a stage may use. Checks read ``report``/``graph`` and return findings; they never print."""

    options: AuditOptions
    report: Report
    http: HttpClient
    graph: nx.DiGraph | None = None
    progress: ProgressFn = no_progress
    caches: RunCaches = field(default_factory=RunCaches)  # per-run results shared between stages
    index_urls: list[str] = field(default_factory=list)  # effective package indexes, credentials included
    # Each profile's own indexes as pip would use them for that profile alone: [primary, *extras], None standing for
    # the default index (nothing configured). One profile's --extra-index-url never applies to another's packages.
    profile_indexes: dict[str, list[str | None]] = field(default_factory=dict)

    def indexes_for(self, package: Package) -> list[str | None] | None:
        """The indexes that apply to ``package``: those of the profiles it belongs to (every profile's when it
        names none: a single-profile run), in order; None when no profile recorded any (a library caller)."""
        if not self.profile_indexes:
            return None
        names = [p for p in package.profiles if p in self.profile_indexes] or list(self.profile_indexes)
        return list(dict.fromkeys(u for name in names for u in self.profile_indexes[name]))

    def skip(self, reason: str, *, kind: ItemKind, subject: str | None = None, file: str | None = None,
             line: int | None = None, requirement: str | None = None, not_checked: list[str] | None = None) -> None:
        """Record an item that could not be checked (the report is then ``complete: false``)."""
        self.report.ledger.extend([Skipped(reason=reason, file=file, line=line, requirement=requirement,
                                           not_checked=not_checked, kind=kind, subject=subject)])

    def incomplete(self, kind: ItemKind, subject: str, reason: str) -> None:
        """Record a gap that is not an input line (a service, a check, a hash comparison): one entry per subject."""
        if any(item.reason == reason for item in self.report.ledger.of_subject(kind, subject)):
            return
        self.report.ledger.record_skipped(kind, subject, reason)


def project_filter(options: AuditOptions) -> PathFilter:
    """The path filter of a project audit: ``options.exclude``, with the patterns only the audited project's own
    policy wrote marked unaccepted (what they leave out is a gap: a project cannot hide its own files)."""
    policy = options.policy
    if policy is None or not policy.from_project or not policy.exclude:
        return PathFilter.of(options.exclude)
    caller = list(options.exclude)
    for pattern in policy.exclude:
        if pattern in caller:
            caller.remove(pattern)
    return PathFilter.of(options.exclude, unaccepted=set(policy.exclude) - set(caller), source=policy.source)

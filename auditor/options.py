"""Run-wide settings and the context object handed to every stage.

``AuditOptions`` is what the CLI (or a library caller) decided; ``AuditContext`` adds the live pieces a stage
needs (HTTP client, report being built, progress sink) so that stages do not reach for globals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from auditor.baseline import Baseline
from auditor.domain import Package, Report, Severity, Skipped
from auditor.ledger import ItemKind
from auditor.net import HttpClient, NetConfig
from auditor.projectwalk import PathFilter

if TYPE_CHECKING:
    from auditor.policy import Policy

T = TypeVar("T")


@dataclass(frozen=True)
class AuditRequest:
    """What the user asked of an audit before any policy file is read: the audit's flags, typed (one command line,
    or one ``mlaudit fleet`` run for many projects, where it travels to every worker unchanged).
    ``runconfig.options_for(request, paths)`` finds the project's policy and merges it into ``AuditOptions`` once.
    """

    env_path: str | None = None  # --env: audit an installed environment ("" for this interpreter)
    python_version: str | None = None
    platform: str | None = None
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    offline: bool = False
    online: bool = False
    allow_build: bool = False
    extras: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    exclude_newer: str | None = None
    resolver: str = "auto"
    net: NetConfig = field(default_factory=NetConfig)
    config: str | None = None  # --config: the policy file (else the project's own is looked for)
    fail_on: Severity | None = None  # None: the policy's, else low
    require_complete: bool = False
    fetch_models: bool = False
    disable: tuple[str, ...] = ()  # --disable-check names (validated by the command line)
    exclude: tuple[str, ...] = ()  # --exclude patterns
    sbom_vex: bool = False
    baseline: Baseline | None = None
    verify_fixes: bool = False

    def key_fields(self) -> dict[str, Any]:
        """Every choice as plain JSON values (``mlaudit fleet`` content keys: a changed flag is a changed key)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, NetConfig):
                value = {k: getattr(value, k) for k in value.__dataclass_fields__}
            elif isinstance(value, Severity):
                value = value.value
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Baseline):
                value = value.file
            out[name] = value
        return out


@dataclass
class AuditOptions:
    """One run's effective settings. ``fail_on``, ``require_complete``, ``disabled_checks`` and ``exclude`` are the
    merged result of the request and the policy (``runconfig.options_for``); the pipeline reads them and never
    merges ``policy`` again (it applies the policy's ignores, allowlists and ``require-*`` rules)."""

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


@dataclass(frozen=True, eq=False)
class CacheSlot(Generic[T]):
    """A typed place in ``RunCaches``, declared as a constant by the one module that fills it (``STORE:
    CacheSlot[AdvisoryStore] = CacheSlot("advisory store")``): the type travels with the slot, so this module need
    not import the stages whose results it carries (it sits below all of them)."""

    name: str

    def __repr__(self) -> str:
        return f"CacheSlot({self.name!r})"


class RunCaches:
    """What stages compute once per run and share, by slot (typed, no string-keyed bag).

    Each slot has one owner module that fills it on first use; a fleet worker may hand the same values (an
    advisory store, index pages) to many runs by putting them into each run's caches.
    """

    def __init__(self) -> None:
        self._values: dict[CacheSlot[Any], Any] = {}

    def get(self, slot: CacheSlot[T]) -> T | None:
        return cast("T | None", self._values.get(slot))

    def put(self, slot: CacheSlot[T], value: T) -> T:
        self._values[slot] = value
        return value

    def setdefault(self, slot: CacheSlot[T], make: Callable[[], T]) -> T:
        """The slot's value, made and stored on first use."""
        if slot not in self._values:
            self._values[slot] = make()
        return cast("T", self._values[slot])


@dataclass
class AuditContext:
    """What a stage may use. Checks read ``report`` and return findings; they never print (the dependency graph is
    built once, after every check: ``auditor.graph``)."""

    options: AuditOptions
    report: Report
    http: HttpClient
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

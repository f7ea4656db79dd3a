"""The one data model every stage speaks: sources and resolvers produce ``Package``/``Edge``/``ModelRef``,
checks produce ``Finding``, outputs read a ``Report``.

Everything here is plain dataclasses with ``to_json()`` helpers so that the JSON report (``CONVENTIONS.md``) is
derived from one place, and outputs never re-interpret the data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any

from auditor.errors import EXIT_CLEAN, EXIT_INCOMPLETE, EXIT_POLICY
from auditor.evidence import Evidence
from auditor.kinds import FindingKind
from auditor.ledger import GapKind, Item, ItemKind, Ledger, Outcome

SCHEMA_VERSION = "2.0"
# Package property: several versions of one name that one lock installs under different choices (uv's conflicting
# extras ``cpu`` / ``cu128``): alternatives of one lock, each audited -- not a conflict between inputs.
LOCKED_ALTERNATIVES = "mlaudit:locked-alternatives"

_NORMALISE_RE = re.compile(r"[-_.]+")


@lru_cache(maxsize=65536)
def canonical_name(name: str) -> str:
    """PEP 503 normalisation: the only spelling used for comparisons, graph nodes and report keys.

    Memoised (a pure function of a string): every stage normalises the same few hundred names again and again
    (~15,000 calls in a re-audit of a 201-package lock, ~4 % of its CPU before)."""
    return _NORMALISE_RE.sub("-", name).lower()


class Severity(str, Enum):
    """Finding severity (CONVENTIONS.md "Severity"). Iteration order is display order: ``unknown`` comes right
    after ``high`` because that is where the gate puts it by default.

    ``unknown`` is its own level: an advisory whose records carry no CVSS vector and no severity word. It is never
    shown as another level; for ordering and for the gate it ranks as ``high`` (a gate fails closed on what it does
    not know) unless the policy says otherwise (``unknown-severity``, see ``at_least``).
    """

    CRITICAL = "critical"
    HIGH = "high"
    UNKNOWN = "unknown"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Order for sorting and the default gate: critical 4 ... info 0; ``unknown`` ranks as ``high``."""
        return _SEVERITY_RANK[self]

    @property
    def known(self) -> bool:
        return self is not Severity.UNKNOWN

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Accept the record/CLI spelling of a level ("HIGH", "moderate", "Critical", "unknown")."""
        word = text.strip().lower()
        word = {"moderate": "medium", "important": "high", "none": "info", "negligible": "info"}.get(word, word)
        return cls(word)

    @classmethod
    def from_cvss_score(cls, score: float) -> Severity:
        """CONVENTIONS.md: >= 9.0 critical, >= 7.0 high, >= 4.0 medium, > 0 low, else info."""
        if score >= 9.0:
            return cls.CRITICAL
        if score >= 7.0:
            return cls.HIGH
        if score >= 4.0:
            return cls.MEDIUM
        if score > 0:
            return cls.LOW
        return cls.INFO

    def gate_level(self, unknown_as: Severity | None = None) -> Severity:
        """The known level this severity counts as for a gate: itself, or ``unknown_as`` (default ``high``)."""
        if self is Severity.UNKNOWN:
            level = unknown_as or Severity.HIGH
            return Severity.HIGH if level is Severity.UNKNOWN else level
        return self

    def at_least(self, other: Severity, unknown_as: Severity | None = None) -> bool:
        """``self >= other`` with ``unknown`` on either side counted as ``unknown_as`` (default ``high``)."""
        return self.gate_level(unknown_as).rank >= other.gate_level(unknown_as).rank


_SEVERITY_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.UNKNOWN: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}
KNOWN_SEVERITIES = tuple(s for s in Severity if s is not Severity.UNKNOWN)


@dataclass(frozen=True)
class Location:
    """Where in an input a thing came from: a file and, when known, a 1-based line."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line}


@dataclass
class Requirement:
    """One requirement as the user wrote it, before resolution.

    ``name`` is PEP 503-normalised; ``raw`` keeps the original text for messages and SARIF.
    ``url`` is set for direct references (``name @ https://...``); such lines are normally skipped.
    """

    name: str
    raw: str
    specifier: str = ""
    extras: tuple[str, ...] = ()
    marker: str | None = None
    location: Location | None = None
    hashes: tuple[str, ...] = ()
    url: str | None = None
    editable: bool = False
    constraint: bool = False
    group: str | None = None

    @property
    def pinned_version(self) -> str | None:
        """The version of an exact ``==X`` / ``===X`` pin without wildcard, else None."""
        spec = self.specifier.strip()
        if "," in spec:
            return None
        for op in ("===", "=="):
            if spec.startswith(op):
                version = spec[len(op) :].strip()
                if version and "*" not in version:
                    return version
        return None


@dataclass
class Artifact:
    """A concrete distribution file (wheel or sdist) of a package version."""

    filename: str
    url: str | None = None
    hashes: dict[str, str] = field(default_factory=dict)
    kind: str = "wheel"  # "wheel" | "sdist"
    size: int | None = None
    verified: bool | None = None  # None: not checked; False: unverifiable (e.g. direct URL not fetched)

    def to_json(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "url": self.url,
            "hashes": dict(self.hashes),
            "kind": self.kind,
            "size": self.size,
        }


@dataclass
class Package:
    """A resolved Python distribution: one name (PEP 503) at one exact version."""

    name: str
    version: str
    direct: bool = False
    source: str = ""  # where the pin came from: "requirements", "uv.lock", "resolver", "environment", ...
    hashes: list[str] = field(default_factory=list)  # "sha256:<hex>" strings known for this package
    markers: str | None = None
    extras: tuple[str, ...] = ()
    location: Location | None = None  # the input line of a direct requirement
    index_url: str | None = None
    artifacts: list[Artifact] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)  # summary, license, home page, authors, ...
    properties: dict[str, str] = field(default_factory=dict)  # check results surfaced in SBOMs (never read back)
    # Facts one stage states and another acts on, typed (outputs show them under their SBOM property names):
    unclaimed: bool = False  # resolve: the index has no project of this name (the unclaimed-name check reports it)
    required_by: list[str] = field(default_factory=list)  # resolve: for an unclaimed name, who requires it
    origin: str | None = None  # sources: a lock's non-index source ("git: URL@ref", "path: ...", "workspace member")
    resolved: bool = True  # False: audited from its pin only (could not be resolved/built)
    profiles: list[str] = field(default_factory=list)  # dependency profiles holding this version (when several)
    node: str = ""  # graph node, version-qualified by ``Report.add_package`` when the name has several versions

    @property
    def node_id(self) -> str:
        return self.node or package_node(self.name)

    def surfaced_properties(self) -> dict[str, str]:
        """``properties`` with the typed facts under the names outputs have always shown them by."""
        out = dict(self.properties)
        if self.origin:
            out["mlaudit:source"] = self.origin
        if self.unclaimed:
            out["mlaudit:unclaimed"] = "true"
        if self.required_by:
            out["mlaudit:required-by"] = ", ".join(self.required_by)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "direct": self.direct,
            "source": self.source,
            "hashes": list(self.hashes),
            "location": self.location.to_json() if self.location else None,
            "resolved": self.resolved,
            "artifacts": [a.to_json() for a in self.artifacts],
            "metadata": dict(self.metadata),
            "properties": self.surfaced_properties(),
            **({"profiles": list(self.profiles)} if self.profiles else {}),
        }


ROOT_NODE = "root"


def package_node(name: str, version: str | None = None) -> str:
    """``pypi:name``; ``pypi:name@version`` for a name the report holds at several versions."""
    return f"pypi:{canonical_name(name)}" + (f"@{version}" if version is not None else "")


def model_node(repo_id: str, kind: str = "model") -> str:
    return f"hf-{kind}:{repo_id}"


@dataclass
class Edge:
    """parent -> child in the dependency graph, with the requirement and marker that made it."""

    parent: str
    child: str
    requirement: str = ""
    marker: str | None = None
    origin: str = ""  # "lockfile", "resolver", "via-annotation", "sdist-static-metadata", "hub", ...

    def to_json(self) -> dict[str, Any]:
        return {
            "parent": self.parent,
            "child": self.child,
            "requirement": self.requirement,
            "marker": self.marker,
            "origin": self.origin,
        }


@dataclass
class ModelFile:
    """A file inside a model/dataset repository."""

    path: str
    size: int | None = None
    sha256: str | None = None
    local_path: str | None = None


@dataclass
class ModelRef:
    """A reference to a Hugging Face model or dataset found in the project (code, config, card, manifest)."""

    repo_id: str
    kind: str = "model"  # "model" | "dataset"
    revision: str | None = None  # as written by the user (None: default branch)
    location: Location | None = None
    origin: str = ""  # "code", "config.json", "adapter_config.json", "model-card", "manifest"
    trust_remote_code: bool | None = None
    resolved_revision: str | None = None  # commit sha when resolved on the Hub
    files: list[ModelFile] = field(default_factory=list)
    license: str | None = None
    gated: bool | None = None
    base_models: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    card: dict[str, Any] = field(default_factory=dict)
    local_path: str | None = None
    via: str | None = None  # repo_id of the model that referenced this one (base model chain)
    code_repos: list[str] = field(default_factory=list)  # repos whose code its auto_map runs (``org/repo--mod.Cls``)
    # Further places that reference the same repo, kind and revision: the Hub is asked once, but every place is
    # reported (an unpinned load in b.py is not hidden by the same load in a.py).
    more_locations: list[Location] = field(default_factory=list)
    # Where a place's value is loaded, when that is another line (a caller's argument, an option's default, a
    # constant): place -> the loading calls. ``revision=`` is added there, so findings name them.
    loaded_at: dict[Location, list[Location]] = field(default_factory=dict)

    @property
    def node_id(self) -> str:
        return model_node(self.repo_id, self.kind)

    def to_json(self) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id,
            "kind": self.kind,
            "revision": self.revision,
            "resolved_revision": self.resolved_revision,
            "file": self.location.file if self.location else None,
            "line": self.location.line if self.location else None,
            "origin": self.origin,
            "trust_remote_code": self.trust_remote_code,
            "license": self.license,
            "gated": self.gated,
            "base_models": list(self.base_models),
            "datasets": list(self.datasets),
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files],
            "via": self.via,
            "more_locations": [{"file": loc.file, "line": loc.line} for loc in self.more_locations],
        }


@dataclass
class RemoteCodeSite:
    """A place in the project that can load a model with ``trust_remote_code`` on (code or a training config).

    ``models``: the Hub repos the project's own values bring to it; ``runtime``: what picks a model at run time
    when any model can reach it (None when the project's values are all there is); ``guards``: the conditions on
    the path to it; ``because``: how ``True`` gets there. Found by ``auditor.models``, reported by the models check.
    """

    location: Location
    models: list[str] = field(default_factory=list)
    runtime: str | None = None
    guards: list[str] = field(default_factory=list)
    because: str = ""
    bounded: bool = True  # False: the flag itself is computed at run time and could not be shown to be False
    function: str | None = None
    revision: str | None = None
    lines: list[int] = field(default_factory=list)  # further lines of the same function merged into this site
    # The flag is off unless an operator turns it on (a command-line option, a config key, an environment variable,
    # a caller's argument): remote code *can* be enabled at run time here -- a finding of its own, at low.
    opt_in: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"file": self.location.file, "line": self.location.line, "lines": list(self.lines),
                "models": list(self.models), "runtime": self.runtime, "guards": list(self.guards),
                "because": self.because, "bounded": self.bounded, "function": self.function,
                "revision": self.revision, "opt_in": self.opt_in}


@dataclass
class Finding:
    """One problem, produced by a check. Checks never print; outputs never decide."""

    kind: FindingKind
    id: str  # advisory id or rule id
    severity: Severity
    message: str
    package: tuple[str, str] | None = None  # (name, version)
    model: tuple[str, str | None] | None = None  # (repo_id, revision)
    path: str | None = None  # a file (model scanner)
    location: Location | None = None
    paths: list[list[str]] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    evidence: Evidence | None = None  # typed per kind (auditor/evidence.py); JSON via ``to_json``
    fix: str | None = None
    fixed_versions: list[str] = field(default_factory=list)
    check: str = ""
    ignored: str | None = None  # reason, when a policy ignore applies
    summary: str | None = None
    details: str | None = None  # the advisory's full text (OSV ``details``), shown once and whole by the HTML report
    references: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)  # the dependency profiles it applies to (when several)
    new: bool | None = None  # with --baseline: not in the baseline report (None: no baseline was given)

    def __post_init__(self) -> None:
        # A kind outside the contract is a programming error, caught where the finding is made, not in an output.
        self.kind = FindingKind(self.kind)

    @property
    def subject(self) -> str:
        """What the finding is about, as every output names it: ``name version``, ``org/model@rev`` or a path."""
        if self.package is not None:
            return f"{self.package[0]} {self.package[1]}"
        if self.model is not None:
            return self.model[0] + (f"@{self.model[1]}" if self.model[1] else "")
        return self.path or ""

    @property
    def all_ids(self) -> list[str]:
        return [self.id, *[a for a in self.aliases if a != self.id]]

    @property
    def baseline_key(self) -> tuple[str, str, str]:
        """``(kind, id, package name | model repo_id | path)`` (CONVENTIONS.md "Baseline"): the version is not part
        of it, so an upgrade that leaves an advisory open does not make it new."""
        if self.package is not None:
            subject = canonical_name(self.package[0])
        elif self.model is not None:
            subject = self.model[0]
        else:
            subject = self.path or ""
        return (self.kind.value, self.id, subject)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind.value,
            "id": self.id,
            "aliases": list(self.aliases),
            "severity": self.severity.value,
            "message": self.message,
        }
        if self.package is not None:
            out["package"] = {"name": self.package[0], "version": self.package[1]}
        if self.model is not None:
            out["model"] = {"repo_id": self.model[0], "revision": self.model[1]}
        if self.path is not None:
            out["path"] = self.path
        out["location"] = self.location.to_json() if self.location else None
        out["paths"] = [list(p) for p in self.paths]
        out["evidence"] = self.evidence.to_json() if self.evidence is not None else None
        out["fix"] = self.fix
        if self.fixed_versions:
            out["fixed_versions"] = list(self.fixed_versions)
        if self.summary:
            out["summary"] = self.summary
        if self.details:
            out["details"] = self.details
        if self.references:
            out["references"] = list(self.references)
        out["check"] = self.check
        if self.ignored is not None:
            out["ignored"] = self.ignored
        if self.profiles:
            out["profiles"] = list(self.profiles)
        if self.new is not None:
            out["new"] = self.new
        return out


class Skipped(Item):
    """A ledger item that could not be checked, with why: nothing is dropped silently.

    A constructor for the common case (a stage found a gap): ``kind`` says what kind of item it is, ``subject``
    names it (default: the requirement text or the file).
    """

    def __init__(self, reason: str, file: str | None = None, line: int | None = None,
                 requirement: str | None = None, not_checked: list[str] | None = None, *, kind: ItemKind,
                 subject: str | None = None, gap: GapKind | None = None) -> None:
        super().__init__(kind=kind, subject=subject or requirement or file or kind.value, file=file, line=line,
                         requirement=requirement, outcome=Outcome.SKIPPED, reason=reason,
                         not_checked=list(not_checked or []), gap=gap)


class Excluded(Item):
    """A ledger item that does not apply to the target (a marker excludes it, the user excluded its path)."""

    def __init__(self, reason: str, file: str | None = None, line: int | None = None,
                 requirement: str | None = None, *, kind: ItemKind, subject: str | None = None) -> None:
        super().__init__(kind=kind, subject=subject or requirement or file or kind.value, file=file, line=line,
                         requirement=requirement, outcome=Outcome.EXCLUDED, reason=reason)


@dataclass
class PolicyNote:
    """Where the run's policy came from and what in it switches checks off or accepts findings.

    Why every output shows it: a policy file inside the audited tree (``mlaudit.toml``, ``[tool.mlaudit]`` in the
    audited ``pyproject.toml``) is written by whoever wrote the project; a project must not be able to switch off
    its own audit without the report saying so. ``origin`` is ``audited-project`` for such a file and ``caller``
    for ``--config``; a caller's file is authoritative, and the project file it displaced is named in
    ``not_applied``."""

    file: str | None = None
    origin: str | None = None  # "audited-project" | "caller" | None (no policy file)
    disables: list[str] = field(default_factory=list)  # checks or finding kinds the file turns off
    ignores: list[dict[str, str | None]] = field(default_factory=list)  # {id, package, reason, expires}
    excludes: list[str] = field(default_factory=list)  # path patterns left out of the model walks
    allowlists: dict[str, list[str]] = field(default_factory=dict)  # typosquat / hf-org names never flagged
    fail_on: str | None = None  # the gate level the file sets
    unknown_severity: str | None = None
    disabled_by_caller: list[str] = field(default_factory=list)  # --disable-check
    not_applied: list[str] = field(default_factory=list)  # project policy files that --config displaced

    @property
    def from_project(self) -> bool:
        return self.origin == "audited-project"

    @property
    def weakens(self) -> bool:
        """Whether the file turns anything off, accepts findings or lowers the gate."""
        return bool(self.disables or self.ignores or self.excludes or any(self.allowlists.values())
                    or self.fail_on or self.unknown_severity)

    def summary(self) -> str:
        """One line for people: which file, from where, and what it turns off (empty when there is nothing to say)."""
        parts: list[str] = []
        if self.file:
            where = "from the audited project" if self.from_project else "given with --config"
            what: list[str] = []
            if self.disables:
                what.append("disables " + ", ".join(self.disables))
            if self.ignores:
                what.append(f"ignores {len(self.ignores)} finding id(s) ("
                            + ", ".join(str(i["id"]) for i in self.ignores[:5])
                            + (", ..." if len(self.ignores) > 5 else "") + ")")
            if self.excludes:
                what.append("excludes paths " + ", ".join(self.excludes[:5]) + (", ..." if len(self.excludes) > 5 else ""))
            for name, values in self.allowlists.items():
                if values:
                    what.append(f"allowlists {len(values)} {name} name(s)")
            if self.fail_on:
                what.append(f"sets fail-on {self.fail_on}")
            if self.unknown_severity:
                what.append(f"sets unknown-severity {self.unknown_severity}")
            parts.append(f"{self.file} ({where})" + (": " + "; ".join(what) if what else ""))
        if self.disabled_by_caller:
            parts.append("--disable-check " + ", ".join(self.disabled_by_caller))
        if self.not_applied:
            parts.append("not applied (--config given): " + ", ".join(self.not_applied))
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "origin": self.origin, "disables": list(self.disables),
                "ignores": [dict(i) for i in self.ignores], "excludes": list(self.excludes),
                "allowlists": {k: list(v) for k, v in self.allowlists.items()}, "fail_on": self.fail_on,
                "unknown_severity": self.unknown_severity, "disabled_by_caller": list(self.disabled_by_caller),
                "not_applied": list(self.not_applied)}


@dataclass
class DataSource:
    """Provenance of a dataset the audit relied on (advisory DB, popularity list)."""

    name: str
    source: str
    date: str | None = None
    records: int | None = None
    stale: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "date": self.date, "records": self.records,
                "stale": self.stale}


@dataclass
class Remediation:
    """An upgrade that clears findings of one package version (CONVENTIONS.md "Remediation").

    Computed by the remediation stage, rendered by outputs (the roll-up's "upgrade to" column) and applied by
    ``mlaudit fix``. ``to`` is None when no release clears any of the package's advisories; ``verified`` is True only
    when the upgraded set was re-resolved and re-audited; ``reason`` says why an upgrade was not verified or does not
    resolve with the rest of its profile.
    """

    package: tuple[str, str]  # (name, version) as audited
    to: str | None
    clears: list[str] = field(default_factory=list)
    remains: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    verified: bool = False
    reason: str | None = None
    # "upgrade" (``to`` set), "remove" (a malicious package: no release is safe), "none" (no release clears the
    # advisories, or the upgrade does not resolve with the rest of its profile: ``reason`` says which)
    action: str = "upgrade"

    def to_json(self) -> dict[str, Any]:
        return {"package": {"name": self.package[0], "version": self.package[1]}, "to": self.to,
                "clears": list(self.clears), "remains": list(self.remains), "profiles": list(self.profiles),
                "verified": self.verified, "action": self.action, **({"reason": self.reason} if self.reason else {})}


@dataclass(frozen=True)
class GateResult:
    """The verdict of a run, decided once (``Report.gate``) and read by the CLI, every output, ``sbom``, ``scan``,
    ``verify-model`` and fleet: the exit code, why in words, how many findings fail the threshold, and whether the
    report is complete. Nothing else decides an exit code."""

    exit_code: int
    reason: str
    failing: int = 0  # active findings at/above fail_on (with a baseline: new ones); > 0 is the JSON's ``failed``
    complete: bool = True  # every item audited or excluded (the ledger's answer)

    @property
    def findings_failed(self) -> bool:
        return self.failing > 0


@dataclass(frozen=True)
class ScannedFile:
    """What the model-file scanner found one file (or archive member, ``outer!member``) to be: its format and
    verdict (``ok``, ``findings`` or ``unreadable``)."""

    path: str
    format: str
    verdict: str = "ok"

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "format": self.format, "verdict": self.verdict}


@dataclass
class ModelScanSummary:
    """What a model-file scan read, beside its findings and gaps: the files and bytes, and each file's format and
    verdict. Filled by ``mlaudit scan`` (and ``fleet --scan``) and by the audit's model-file check; ``None`` on a
    report where no model file was scanned."""

    files: list[ScannedFile] = field(default_factory=list)
    files_scanned: int = 0
    bytes_scanned: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"files_scanned": self.files_scanned, "bytes_scanned": self.bytes_scanned,
                "files": [f.to_json() for f in self.files]}


@dataclass(frozen=True)
class SignatureVerification:
    """The result of ``mlaudit verify-model``: which directory and signature, whether it verified, by which method
    (key, certificate, sigstore) and the verifier's message. A failed verification is also a finding (the gate
    reads the findings); this is the record of what was verified."""

    model_dir: str
    signature: str
    verified: bool
    method: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"model_dir": self.model_dir, "signature": self.signature, "verified": self.verified,
                "method": self.method, "message": self.message}


@dataclass(frozen=True)
class RenderOptions:
    """How a report is shown -- never what it says: the rendering switches are not part of the audit's result (a
    ``Report`` renders the same facts in every format; these only choose what a format includes)."""

    sbom_vex: bool = False  # --sbom-vex: the SBOM carries the findings as vulnerabilities
    verbose: bool = False  # -v: the terminal lists every finding and gap in full


@dataclass
class Report:
    """Everything one run learned. Built by the pipeline, decided on by policy, rendered by outputs."""

    inputs: list[str] = field(default_factory=list)
    root_name: str = "project"
    root_version: str | None = None
    # Keyed by PEP 503 name; a name held at several versions (two profiles pin it differently) is keyed
    # ``name@version`` for each of them, and its graph nodes are version-qualified (``Report.add_package``).
    packages: dict[str, Package] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    models: list[ModelRef] = field(default_factory=list)
    remote_code_sites: list[RemoteCodeSite] = field(default_factory=list)  # models: where remote code may run
    findings: list[Finding] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    data_sources: list[DataSource] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    target: dict[str, str] = field(default_factory=dict)  # python_version, platform
    # Run facts that outputs show; each has one owner stage (named in the comment).
    root_metadata: dict[str, str] = field(default_factory=dict)  # sources: the project's own metadata
    indexes: list[str] = field(default_factory=list)  # pipeline: package indexes, display form (redacted)
    resolver: str = ""  # resolve: which resolver ran ("uv", "pip"), empty for already-resolved inputs
    require_complete: bool = False  # CLI/policy: an incomplete report fails the gate (exit 3)
    hash_summary: dict[str, Any] | None = None  # hashes check: how many pins were compared, and how
    provenance_summary: dict[str, Any] | None = None  # provenance check: SLSA-style levels
    # Results of the commands other than the audit, each its own type (None when that command did not run):
    model_scan: ModelScanSummary | None = None  # mlaudit scan, and the audit's model-file check
    signature: SignatureVerification | None = None  # mlaudit verify-model
    fail_on: Severity | None = None
    unknown_severity: Severity = Severity.HIGH  # policy: the level an ``unknown`` severity gates as (fail closed)
    generated_at: str | None = None  # ISO timestamp; outputs may normalise it for golden files
    # pipeline: the dependency profiles audited ({name, files, packages, status}); one profile is the usual case
    profiles: list[dict[str, Any]] = field(default_factory=list)
    # remediation stage: one upgrade per package version with findings an upgrade can clear
    remediation: list[Remediation] = field(default_factory=list)
    baseline: str | None = None  # --baseline: the report file findings were compared with (``Finding.new``)
    policy: PolicyNote | None = None  # CLI/pipeline: the policy file and what it turns off (shown by every output)
    _qualified: dict[str, int] = field(default_factory=dict, repr=False, compare=False)  # see add_package
    _indexed: int = field(default=0, repr=False, compare=False)

    @property
    def complete(self) -> bool:
        """False when anything was skipped or could not be checked (CONVENTIONS.md ``complete``): read off the
        ledger, never set by a stage."""
        return self.ledger.complete

    @property
    def skipped(self) -> tuple[Item, ...]:
        """Items that could not be checked (and pending ones: a run that has not settled is not complete).
        A tuple, so that a stage cannot append to a copy: gaps are recorded in ``ledger``."""
        return tuple(i for i in self.ledger if i.outcome in (Outcome.SKIPPED, Outcome.PENDING))

    @property
    def excluded(self) -> tuple[Item, ...]:
        """Items considered and left out for the target or by the user, listed so a reader sees them."""
        return tuple(self.ledger.with_outcome(Outcome.EXCLUDED))

    @property
    def incomplete_reasons(self) -> tuple[Item, ...]:
        """One structured reason (kind, subject, reason) per gap; empty exactly when ``complete``."""
        return self.skipped

    def add_package(self, package: Package) -> Package:
        """Insert a package, or merge it into the entry of the same name *and version* (direct-ness, hashes,
        profiles accumulate). A second version of a name gets an entry of its own: both are audited, and both are
        keyed ``name@version`` with version-qualified graph nodes so that edges and paths stay unambiguous."""
        key = canonical_name(package.name)
        package.name = key
        existing = self.package_for(key, package.version)
        if existing is not None:
            existing.direct = existing.direct or package.direct
            for h in package.hashes:
                if h not in existing.hashes:
                    existing.hashes.append(h)
            for profile in package.profiles:
                if profile not in existing.profiles:
                    existing.profiles.append(profile)
            if existing.location is None:
                existing.location = package.location
            return existing
        qualified = self._qualified_names()
        first = self.packages.get(key)
        if first is None and not qualified.get(key):
            self.packages[key] = package
        else:
            if first is not None:  # the name's first version: now one of several, so qualified too
                del self.packages[key]
                first.node = package_node(key, first.version)
                self.packages[f"{key}@{first.version}"] = first
                qualified[key] = qualified.get(key, 0) + 1
            package.node = package_node(key, package.version)
            self.packages[f"{key}@{package.version}"] = package
            qualified[key] = qualified.get(key, 0) + 1
        self._indexed = len(self.packages)
        return package

    def _qualified_names(self) -> dict[str, int]:
        """Names held in ``name@version`` form, counted: an index, so that adding N packages is linear (100,000
        locked packages once took minutes). Rebuilt when ``packages`` was changed other than by ``add_package``."""
        if self._indexed != len(self.packages):
            self._qualified = {}
            for k, p in self.packages.items():
                if "@" in k:
                    self._qualified[p.name] = self._qualified.get(p.name, 0) + 1
            self._indexed = len(self.packages)
        return self._qualified

    def package_for(self, name: str, version: str) -> Package | None:
        """The entry of ``name`` at ``version`` (PEP 503 name), if the report holds it."""
        key = canonical_name(name)
        single = self.packages.get(key)
        if single is not None:
            return single if single.version == version else None
        return self.packages.get(f"{key}@{version}")

    def version_origin(self, package: Package) -> str:
        """How this version came into the report, in words that never call a resolver's choice a pin: ``locked at
        uv.lock:12``, ``pinned at requirements.txt:3`` (the input line says ``==`` that version), ``resolved from
        torch>=2 at requirements.txt:3``, or ``resolved for PROFILE``. Read from the ledger item of the package's
        input line, so the words follow what the input says."""
        loc = package.location
        if loc is not None and loc.line:
            if self.ledger.registered(ItemKind.LOCKED_PACKAGE, loc.file, loc.line) is not None:
                return f"locked at {loc}"
            item = self.ledger.registered(ItemKind.REQUIREMENT, loc.file, loc.line)
            if item is not None:
                text = " ".join((item.requirement or item.subject).split())
                if re.search(r"===?\s*" + re.escape(package.version) + r"(?![\w.+-])", text):
                    return f"pinned at {loc}"
                return f"resolved from {text} at {loc}"
        if package.profiles:
            return f"resolved for {', '.join(package.profiles)}"
        return f"from {package.source}" if package.source else "resolved"

    def package_at(self, node: str) -> Package | None:
        """The package behind a graph node id (``pypi:name`` or ``pypi:name@version``, the report's own keys)."""
        if node.startswith("pypi:"):
            hit = self.packages.get(node[len("pypi:"):])
            if hit is not None and hit.node_id == node:
                return hit
        for package in self.packages.values():
            if package.node_id == node:
                return package
        return None

    def active_findings(self) -> list[Finding]:
        return [f for f in self.findings if f.ignored is None]

    def failing_findings(self) -> list[Finding]:
        """Active findings at or above ``fail_on``; with a baseline, only the new ones (the gate of a PR is what it
        introduced, CONVENTIONS.md "Baseline")."""
        if self.fail_on is None:
            return []
        threshold = self.fail_on
        return [f for f in self.active_findings()
                if f.new is not False and f.severity.at_least(threshold, self.unknown_severity)]

    def failed_services(self) -> list[Item]:
        """Service items that failed during the run (the report is still written; the exit code is 3)."""
        return [i for i in self.ledger if i.kind is ItemKind.SERVICE and i.outcome is Outcome.SKIPPED]

    def gate(self) -> GateResult:
        """The exit code (0 clean, 1 a finding at/above the threshold is not ignored, 3 a service failed or an
        incomplete report when completeness is required) and its reason: the one gate the CLI and every output
        read (``pipeline.exit_code_for`` returns its code)."""
        complete = self.complete
        failing = len(self.failing_findings())

        def verdict(code: int, reason: str) -> GateResult:
            return GateResult(code, reason, failing=failing, complete=complete)

        services = self.failed_services()
        if services:
            return verdict(EXIT_INCOMPLETE, f"could not complete: {services[0].subject} failed"
                           + (f" (and {len(services) - 1} more service(s))" if len(services) > 1 else ""))
        if self.require_complete and not complete:
            return verdict(EXIT_INCOMPLETE, f"incomplete ({len(self.skipped)} item(s) not checked) and "
                                            "completeness is required")
        threshold = self.fail_on.value if self.fail_on else ""
        new = " new" if self.baseline is not None else ""
        if failing:
            return verdict(EXIT_POLICY, f"{failing}{new} finding(s) at or above {threshold}")
        if self.fail_on is None:
            return verdict(EXIT_CLEAN, "no gate (no --fail-on)")
        return verdict(EXIT_CLEAN, f"no{new} finding at or above {threshold}")

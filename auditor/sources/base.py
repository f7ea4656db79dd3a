"""The contract every input reader fulfils.

A source reads one file (or an environment) natively, never by importing or running the project, and says
either "these are requirements still to resolve" or "this is an already-resolved set" (a lockfile, a fully pinned
requirements file, an installed environment). Lines it cannot use become ``Skipped`` entries with file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.domain import Edge, ModelRef, Package, Requirement
from auditor.ledger import Item, ItemKind


@dataclass
class SourceResult:
    """What one input contributed."""

    files: list[str] = field(default_factory=list)
    requirements: list[Requirement] = field(default_factory=list)  # still to resolve (or pins to audit)
    constraints: list[Requirement] = field(default_factory=list)
    packages: list[Package] = field(default_factory=list)  # already resolved (lockfile/env/pinned file)
    edges: list[Edge] = field(default_factory=list)
    skipped: list[Item] = field(default_factory=list)  # outcomes (skipped/excluded) of input items
    models: list[ModelRef] = field(default_factory=list)
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    resolved: bool = False  # True: ``packages``/``edges`` are the complete graph, no resolver needed
    root_name: str | None = None
    root_version: str | None = None
    root_metadata: dict[str, str] = field(default_factory=dict)
    pip_options: list[str] = field(default_factory=list)  # other pip options of requirements files ("--pre", ...)
    no_index: bool = False  # a requirements file said --no-index
    kinds: list[str] = field(default_factory=list)  # input kind of each file read ("requirements", "uv.lock", ...)
    warnings: list[str] = field(default_factory=list)  # worth telling the user, not a gap in the audit
    # Every input item this source took in (files, requirement lines, lock sections and packages), registered
    # when read so that the ledger can account for each one (``auditor.ledger``); outcomes may already be final.
    items: list[Item] = field(default_factory=list)
    # Further dependency profiles this input holds besides its main one (a Pipfile.lock ``develop`` category, a
    # lock's alternative versions for one extra): ``(section name, its own result)``.
    sections: list[tuple[str, SourceResult]] = field(default_factory=list)
    is_lock: bool = False  # a lock per CONVENTIONS "Inputs" (hashes, ``# via``, a lock tool's header, a lockfile)

    def register(self, kind: ItemKind, subject: str, *, file: str | None = None, line: int | None = None,
                 requirement: str | None = None, package: str | None = None,
                 version: str | None = None) -> Item:
        """Register one input item as read (pending until the pipeline records its outcome)."""
        item = Item(kind=kind, subject=subject, file=file, line=line, requirement=requirement, package=package,
                    version=version)
        self.items.append(item)
        return item

    def merge(self, other: SourceResult) -> None:
        self.files.extend(other.files)
        self.requirements.extend(other.requirements)
        self.constraints.extend(other.constraints)
        self.packages.extend(other.packages)
        self.edges.extend(other.edges)
        self.skipped.extend(other.skipped)
        self.items.extend(other.items)
        self.sections.extend(other.sections)
        self.models.extend(other.models)
        if other.index_url and not self.index_url:
            self.index_url = other.index_url
        for url in other.extra_index_urls:
            if url not in self.extra_index_urls:
                self.extra_index_urls.append(url)
        for url in other.find_links:
            if url not in self.find_links:
                self.find_links.append(url)
        for option in other.pip_options:
            if option not in self.pip_options:
                self.pip_options.append(option)
        self.no_index = self.no_index or other.no_index
        self.kinds.extend(other.kinds)
        for warning in other.warnings:
            if warning not in self.warnings:
                self.warnings.append(warning)
        self.root_name = self.root_name or other.root_name
        self.root_version = self.root_version or other.root_version
        for key, value in other.root_metadata.items():
            self.root_metadata.setdefault(key, value)

"""The completeness ledger: every input item the audit took in, and how it ended.

Why a ledger: ``complete: true`` is a promise to a release gate that nothing the inputs name was left unchecked.
A flag that stages set by hand can be forgotten; an account cannot. Each item a stage takes in (an input file, a
requirement line, a lockfile section or package, a model reference, a scanned file, a pinned hash, a service the
audit depends on) is registered here and must end in exactly one outcome:

- ``audited``: every enabled check ran on it against the data it needs;
- ``skipped``: it could not be checked, with the reason, its ``file:line`` and what was therefore not checked;
- ``excluded``: it does not apply to the target (a marker that excludes it, a path the user excluded), listed so
  a reader sees it was considered.

An item still ``pending`` when the run settles is a bug in a stage, and is turned into a ``skipped`` item saying so,
so the report is incomplete rather than silently clean. ``complete`` and ``incomplete_reasons`` are derived from the
ledger only; no stage sets them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class ItemKind(str, Enum):
    """What an item is; names the ``kind`` of an incomplete reason."""

    INPUT_FILE = "input-file"
    REQUIREMENT = "requirement"
    LOCK_SECTION = "lock-section"
    LOCKED_PACKAGE = "locked-package"
    PACKAGE = "package"
    HASHES = "hashes"
    MODEL_REFERENCE = "model-reference"
    MODEL_FILE = "model-file"
    SERVICE = "service"
    CHECK = "check"


class Outcome(str, Enum):
    PENDING = "pending"
    AUDITED = "audited"
    SKIPPED = "skipped"
    EXCLUDED = "excluded"


UNSETTLED_REASON = "no stage recorded an outcome for this item (treated as not audited)"


class GapKind(str, Enum):
    """What kind of gap a skipped item is, where another stage acts on it: matched by value, never by the wording of
    ``reason`` (which is for people and may change)."""

    RUNTIME_REFERENCE = "runtime-reference"  # a model/dataset reference whose value is only known at run time


@dataclass
class Item:
    """One thing the audit took in. ``subject`` names it for people (``six==1.16.0``, ``org/model``, a path)."""

    kind: ItemKind
    subject: str
    file: str | None = None
    line: int | None = None
    requirement: str | None = None  # the input text that named it, when there is one
    outcome: Outcome = Outcome.PENDING
    reason: str | None = None
    not_checked: list[str] = field(default_factory=list)
    # What the item names, for the reconciliation that marks it audited (not part of the JSON contract):
    package: str | None = None  # PEP 503 name of the package the item brings in
    version: str | None = None  # its exact version, when the input fixes one (a lock entry, an ``==`` pin)
    profile: str | None = None  # the dependency profile the item belongs to
    gap: GapKind | None = None  # the kind of gap, for a skip another stage acts on

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "subject": self.subject,
            "file": self.file,
            "line": self.line,
            "requirement": self.requirement,
            "reason": self.reason,
            "not_checked": list(self.not_checked),
        }

    @property
    def where(self) -> str:
        """``file:line`` (or the file alone) for messages; empty when the item has no place in an input."""
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or ""


class Ledger:
    """The account of items. Outcomes only move forward: pending -> one final outcome; a skip is never undone.

    Settling twice is allowed and idempotent; an item that was skipped stays skipped even if a later stage would
    have marked it audited (what could not be checked once is not made whole by a partial second look).
    """

    def __init__(self) -> None:
        self._items: list[Item] = []
        self._ids: set[int] = set()
        self._by_line: dict[tuple[ItemKind, str, int], list[Item]] = {}
        self._by_subject: dict[tuple[ItemKind, str], list[Item]] = {}

    def _append(self, item: Item) -> None:
        self._items.append(item)
        self._ids.add(id(item))
        if item.file and item.line:
            self._by_line.setdefault((item.kind, item.file, item.line), []).append(item)
        self._by_subject.setdefault((item.kind, item.subject), []).append(item)

    def __iter__(self) -> Iterator[Item]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, kind: ItemKind, subject: str, *, file: str | None = None, line: int | None = None,
            requirement: str | None = None, package: str | None = None, version: str | None = None,
            profile: str | None = None) -> Item:
        """Register an item taken in; it stays ``pending`` until a stage records its outcome."""
        item = Item(kind=kind, subject=subject, file=file, line=line, requirement=requirement, package=package,
                    version=version, profile=profile)
        self._append(item)
        return item

    def registered(self, kind: ItemKind, file: str | None, line: int | None,
                   profile: str | None = None) -> Item | None:
        """The item registered for ``file:line`` (an input line has one item of each kind), if any."""
        if not file or not line:
            return None
        for item in self._by_line.get((kind, file, line), []):
            if profile is None or item.profile is None or item.profile == profile:
                return item
        return None

    def of_subject(self, kind: ItemKind, subject: str) -> list[Item]:
        """The items of ``kind`` about ``subject`` (an index: a check recording one gap per package of a 100,000
        package lock must not scan the whole ledger each time)."""
        return list(self._by_subject.get((kind, subject), ()))

    def audited(self, item: Item) -> Item:
        if item.outcome is Outcome.PENDING:
            item.outcome = Outcome.AUDITED
        return item

    def skip(self, item: Item, reason: str, not_checked: Iterable[str] = ()) -> Item:
        if item.outcome in (Outcome.PENDING, Outcome.AUDITED):
            item.outcome = Outcome.SKIPPED
            item.reason = reason
            item.not_checked = list(not_checked)
        return item

    def exclude(self, item: Item, reason: str) -> Item:
        if item.outcome is Outcome.PENDING:
            item.outcome = Outcome.EXCLUDED
            item.reason = reason
        return item

    def record_skipped(self, kind: ItemKind, subject: str, reason: str, *, file: str | None = None,
                       line: int | None = None, requirement: str | None = None,
                       not_checked: Iterable[str] = ()) -> Item:
        """Register an item and skip it in one step (a stage found a gap it had not registered earlier)."""
        return self.skip(self.add(kind, subject, file=file, line=line, requirement=requirement), reason, not_checked)

    def record_host_failure(self, subject: str, host: str, reason: str, what: str) -> Item:
        """A service whose host is down: one ``service`` item per host however many stages needed it (the first
        names the service and the failure; every stage that could not complete because of it is in its
        ``not_checked``)."""
        suffix = f"({host})"
        for item in self._items:
            if item.kind is ItemKind.SERVICE and item.subject.endswith(suffix):
                if what not in item.not_checked:
                    item.not_checked.append(what)
                return item
        return self.record_skipped(ItemKind.SERVICE, subject, reason, not_checked=[what])

    def record_excluded(self, kind: ItemKind, subject: str, reason: str, *, file: str | None = None,
                        line: int | None = None, requirement: str | None = None) -> Item:
        return self.exclude(self.add(kind, subject, file=file, line=line, requirement=requirement), reason)

    def record_audited(self, kind: ItemKind, subject: str, *, file: str | None = None, line: int | None = None,
                       requirement: str | None = None) -> Item:
        return self.audited(self.add(kind, subject, file=file, line=line, requirement=requirement))

    def extend(self, items: Iterable[Item]) -> None:
        """Take over items another stage (a source, a resolver, a scanner) registered in its own result.

        A final outcome that a stage recorded for an input line already registered (the resolver skipping a
        requirement line the source registered) lands on the registered item instead of counting the line twice:
        one line, one item. Several reasons for one line are kept, joined.
        """
        for item in items:
            if id(item) in self._ids:
                continue
            if item.outcome is not Outcome.PENDING:
                target = self.registered(item.kind, item.file, item.line, item.profile)
                if target is not None:
                    self._apply(target, item)
                    continue
            self._append(item)

    def _apply(self, target: Item, outcome: Item) -> None:
        if outcome.outcome is Outcome.SKIPPED:
            if target.outcome is Outcome.SKIPPED and target.reason and outcome.reason \
                    and outcome.reason not in target.reason:
                target.reason = f"{target.reason}; {outcome.reason}"
                target.not_checked = list(dict.fromkeys([*target.not_checked, *outcome.not_checked]))
            else:
                self.skip(target, outcome.reason or UNSETTLED_REASON, outcome.not_checked)
            target.gap = target.gap or outcome.gap
        elif outcome.outcome is Outcome.EXCLUDED:
            self.exclude(target, outcome.reason or "excluded")
        elif outcome.outcome is Outcome.AUDITED:
            self.audited(target)

    def settle(self) -> None:
        """End of the run: whatever no stage accounted for becomes a skipped item naming the gap."""
        for item in self._items:
            if item.outcome is Outcome.PENDING:
                self.skip(item, UNSETTLED_REASON)

    def with_outcome(self, outcome: Outcome) -> list[Item]:
        return [i for i in self._items if i.outcome is outcome]

    @property
    def complete(self) -> bool:
        """True only when nothing was skipped and nothing is left pending."""
        return all(i.outcome in (Outcome.AUDITED, Outcome.EXCLUDED) for i in self._items)

    def counts(self) -> dict[str, dict[str, int]]:
        """Items by kind and outcome: ``{"requirement": {"audited": 10, "skipped": 1}, ...}``."""
        table: dict[str, Counter[str]] = {}
        for item in self._items:
            table.setdefault(item.kind.value, Counter())[item.outcome.value] += 1
        return {kind: dict(sorted(c.items())) for kind, c in sorted(table.items())}


__all__ = ["GapKind", "Item", "ItemKind", "Ledger", "Outcome", "UNSETTLED_REASON"]

"""What a finding shows as its ``evidence``, typed.

Why typed: evidence once was ``Any``, and the severity-provenance contract travelled inside it as dict keys that
outputs read back with ``isinstance`` guards. Now every finding's evidence is an ``Evidence``: the JSON object of
the report (``to_json``, unchanged contract), plus the facts other stages act on as typed attributes --
``severity_basis`` (where the severity came from) and ``upgrade`` (the package-wide upgrade of an advisory) -- which
are ``None`` for every kind that has none, so a reader never needs to know the subclass.

- ``AdvisoryEvidence``: a ``vulnerability`` (OSV match: how, which ranges and records, the severity's basis, the
  upgrade that clears every advisory of the package).
- ``MaliciousEvidence``: a ``malicious`` finding (listed version or reused name, the MAL records).
- ``Details``: every other kind's facts, JSON values only (names, scores, offsets, files): shown, never read back.

A read-only mapping view of ``to_json`` is kept for tooling and tests (``finding.evidence["callable"]``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TypeAlias

JsonValue: TypeAlias = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]
JsonObject: TypeAlias = dict[str, JsonValue]


def json_value(value: object) -> JsonValue:
    """``value`` as JSON data: scalars as they are, sequences as lists, mappings with their keys as strings,
    anything else by its text (evidence is for reading, never for executing)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [json_value(v) for v in items]
    return str(value)


def json_object(value: Mapping[str, object]) -> JsonObject:
    return {str(k): json_value(v) for k, v in value.items()}


@dataclass(frozen=True)
class SeverityBasis:
    """Where a finding's severity came from (CONVENTIONS.md "Severity"); every output names it from here."""

    text: str  # the provenance line: the CVSS vector and score, the record's word, or "no severity in any record"
    level: str | None = None  # the level it gave ("high", "unknown", ...); None: a fixed severity (malicious)
    source: str | None = None  # "cvss", "record" or "none" (advisories.match.SeveritySource)
    record: str | None = None  # the record that carried it
    cvss_vector: str | None = None
    cvss_score: float | None = None
    word: str | None = None  # the record's severity word, as written
    other_vectors: tuple[tuple[str, float], ...] = ()  # the record's lower-scored vectors
    also: tuple[JsonObject, ...] = ()  # what the other records of a merged finding said

    def to_json(self) -> JsonObject:
        out: JsonObject = {"severity_source": self.text}
        if self.level is not None:
            severity: JsonObject = {"level": self.level, "source": self.source}
            if self.record is not None:
                severity["record"] = self.record
            if self.other_vectors:
                severity["other_vectors"] = [{"vector": v, "score": s} for v, s in self.other_vectors]
            if self.word:
                severity["word"] = self.word
            if self.also:
                severity["also"] = [dict(a) for a in self.also]
            out["severity"] = severity
        if self.cvss_vector:
            out["cvss"] = {"vector": self.cvss_vector, "score": self.cvss_score}
        return out


class Evidence(Mapping[str, JsonValue]):
    """Base of every finding's evidence: its JSON object, and typed attributes that are ``None`` unless the kind
    has them."""

    def to_json(self) -> JsonObject:
        raise NotImplementedError

    @property
    def severity_basis(self) -> SeverityBasis | None:
        return None

    @property
    def upgrade(self) -> str | None:
        return None

    def with_variants(self, versions: list[str]) -> Evidence:
        """The same evidence naming the builds of one release it covers (``2.10.0`` and ``2.10.0+cu128``); only
        the kinds decided by name and release carry them."""
        return self

    def __getitem__(self, key: str) -> JsonValue:
        return self.to_json()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_json())

    def __len__(self) -> int:
        return len(self.to_json())


@dataclass(frozen=True, eq=False)
class AdvisoryEvidence(Evidence):
    """A ``vulnerability``: how the version matched (``versions`` list, ``range``), the matching ranges and records,
    the severity's basis, and the package-wide upgrade (the smallest release no advisory affects)."""

    matched_by: tuple[str, ...]
    ranges: tuple[JsonObject, ...]
    records: tuple[str, ...]
    basis: SeverityBasis
    package_upgrade: str | None = None
    version_readings: tuple[JsonObject, ...] = ()  # non-PEP 440 event values that decided the match, and how read
    variants: tuple[str, ...] = ()  # the builds of the release it covers, when several

    @property
    def severity_basis(self) -> SeverityBasis | None:
        return self.basis

    @property
    def upgrade(self) -> str | None:
        return self.package_upgrade

    def with_variants(self, versions: list[str]) -> Evidence:
        return replace(self, variants=tuple(versions))

    def to_json(self) -> JsonObject:
        out: JsonObject = {"matched_by": list(self.matched_by), "ranges": [dict(r) for r in self.ranges],
                           "records": list(self.records), **self.basis.to_json()}
        if self.package_upgrade is not None:
            out["upgrade"] = self.package_upgrade
        if self.version_readings:
            out["version_readings"] = [dict(r) for r in self.version_readings]
        if self.variants:
            out["variants"] = list(self.variants)
        return out


@dataclass(frozen=True, eq=False)
class MaliciousEvidence(Evidence):
    """A ``malicious`` finding: whether this version itself is listed, the records, and when it was published."""

    version_listed: bool
    listed_in: tuple[str, ...]
    records: tuple[str, ...]
    published: str | None
    basis: SeverityBasis
    variants: tuple[str, ...] = ()

    @property
    def severity_basis(self) -> SeverityBasis | None:
        return self.basis

    def with_variants(self, versions: list[str]) -> Evidence:
        return replace(self, variants=tuple(versions))

    def to_json(self) -> JsonObject:
        out: JsonObject = {"version_listed": self.version_listed, "listed_in": list(self.listed_in),
                           "records": list(self.records), "published": self.published, **self.basis.to_json()}
        if self.variants:
            out["variants"] = list(self.variants)
        return out


@dataclass(frozen=True, eq=False)
class Details(Evidence):
    """The facts of a finding whose evidence is shown and never acted on (typosquat readings, scanner opcodes,
    hashes compared, Hub files, ...): JSON values only."""

    facts: JsonObject = field(default_factory=dict)

    @classmethod
    def of(cls, facts: Mapping[str, object]) -> Details:
        return cls(json_object(facts))

    def to_json(self) -> JsonObject:
        return dict(self.facts)


__all__ = ["AdvisoryEvidence", "Details", "Evidence", "JsonObject", "JsonValue", "MaliciousEvidence", "SeverityBasis",
           "json_object", "json_value"]

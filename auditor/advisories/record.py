"""An OSV record as the advisories package hands it out: typed fields for what other stages read.

The database and the OSV API give records as JSON; the matcher inside this package (``match``, ``findings``)
evaluates their ranges and events from that JSON (hostile data, validated as it is read). What leaves the package --
to the checks, the remediation planner, the outputs -- is an ``OsvRecord``: ``id``, ``aliases``, ``withdrawn``,
``published``, ``modified``, ``summary``, ``details`` and ``references`` as typed attributes (bad types read as
absent, never as an exception). It is still a read-only mapping of the JSON, so the matcher takes it as it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


@dataclass(frozen=True, eq=False)
class OsvRecord(Mapping[str, object]):
    """One OSV record (schema 1.x): its JSON, and typed attributes for the fields other stages read."""

    data: Mapping[str, object]

    @classmethod
    def of(cls, data: Mapping[str, object]) -> OsvRecord:
        return data if isinstance(data, OsvRecord) else cls(data)

    @property
    def id(self) -> str:
        return _text(self.data.get("id")) or ""

    @property
    def aliases(self) -> tuple[str, ...]:
        raw = self.data.get("aliases")
        return tuple(a for a in (_text(x) for x in raw) if a) if isinstance(raw, list) else ()

    @property
    def ids(self) -> frozenset[str]:
        """The record's id and its aliases."""
        return frozenset({i for i in (self.id, *self.aliases) if i})

    @property
    def withdrawn(self) -> str | None:
        """When the record was withdrawn (it then applies to nothing), else None."""
        value = self.data.get("withdrawn")
        return _text(value) or ("withdrawn" if value and not isinstance(value, str) else None)

    @property
    def published(self) -> str | None:
        return _text(self.data.get("published"))

    @property
    def modified(self) -> str | None:
        return _text(self.data.get("modified"))

    @property
    def summary(self) -> str | None:
        return _text(self.data.get("summary"))

    @property
    def details(self) -> str | None:
        return _text(self.data.get("details"))

    @property
    def references(self) -> tuple[str, ...]:
        raw = self.data.get("references")
        urls = (_text(r.get("url")) if isinstance(r, Mapping) else None for r in raw) if isinstance(raw, list) else ()
        return tuple(u for u in urls if u)

    def __getitem__(self, key: str) -> object:
        return self.data[key]

    def get(self, key: str, default: object = None, /) -> object:
        return self.data.get(key, default)  # the matcher reads many fields: no KeyError round trip per read

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def records_of(items: list[Mapping[str, object]] | list[dict[str, object]]) -> list[OsvRecord]:
    return [OsvRecord.of(i) for i in items]


__all__ = ["OsvRecord", "records_of"]

"""Exact OSV evaluation for PyPI: is version V of package N affected by this record?

Why hand-written and not "a specifier check": the OSV schema defines its own algorithm (events sorted by version,
``introduced``/``fixed``/``last_affected``/``limit``, explicit ``versions`` lists, affected if in the list OR in a
range) and the data has quirks that naive evaluation gets wrong (unsorted events, versions outside their own range,
invalid versions). Decisions documented here and in ``data/README.md``:

- a local version (``1.0+cpu``) is matched as its public version (``1.0``): a local build carries the same code;
- an event value that is not a valid PEP 440 version (``2.6.0-NA``, ``2.6.0-cu124``, ``7.2.0-12.1``) is read the way
  the ecosystem orders it: its longest PEP 440 prefix ending at a word boundary (``2.6.0``, ``2.6.0``,
  ``7.2.0-12`` = ``7.2.0.post12``), a date as its release segment (``2024-09-25`` = ``2024.9.25``); the finding's
  evidence names every such reading. Skipping it instead would let a range never end (every later release
  "affected"). A closing event (``fixed``/``last_affected``/``limit``) with no version in it at all leaves its range
  unevaluated (``unreadable_events`` names it, the check warns); a candidate version that is not valid PEP 440 can
  only match a ``versions`` entry by exact string;
- ``GIT`` (and ``SEMVER``) ranges are not evaluated: PyPI versions are ordered by PEP 440 only;
- withdrawn records and affected entries of other ecosystems never match.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any

from packaging.version import InvalidVersion, Version

from auditor.advisories.record import OsvRecord
from auditor.domain import Severity, canonical_name
from auditor.evidence import JsonObject, json_object

ECOSYSTEM = "PyPI"

Record = Mapping[str, Any]


def _as_list(value: Any) -> list[Any]:
    """OSV arrays as lists; anything else (malformed data) as empty, so bad records cannot crash a run."""
    return value if isinstance(value, list) else []


def is_malicious_record(record: Record) -> bool:
    """A MAL- record, or an advisory that aliases one (e.g. a GitHub malware advisory): reported as ``malicious``."""
    if str(record.get("id", "")).startswith("MAL-"):
        return True
    aliases = record.get("aliases")
    return isinstance(aliases, list) and any(isinstance(a, str) and a.startswith("MAL-") for a in aliases)


@lru_cache(maxsize=65536)
def parse_version(text: str) -> Version | None:
    """PEP 440 parse, ``None`` when invalid (data and inputs hold non-PEP 440 strings; they must never crash)."""
    try:
        return Version(text)
    except (InvalidVersion, TypeError):
        return None


@lru_cache(maxsize=16384)
def _public(text: str) -> Version | None:
    """The candidate version as compared: its public part (local label dropped)."""
    v = parse_version(text)
    if v is None or v.local is None:
        return v
    return parse_version(v.public)


@dataclass(frozen=True)
class RecordMatch:
    """How one record matched one (package, version)."""

    record: Record
    matched_by: tuple[str, ...]  # subset of ("range", "versions"), in that order
    fixed_versions: tuple[str, ...]  # every ``fixed`` of the record's ECOSYSTEM ranges for this package
    ranges: list[JsonObject] = field(default_factory=list)  # the matching ranges' events, for evidence
    readings: tuple[EventReading, ...] = ()  # non-PEP 440 event values of the matching ranges and how they were read

    @property
    def id(self) -> str:
        return str(self.record.get("id", ""))


_EVENT_ORDER = {"introduced": 0, "last_affected": 1, "fixed": 2}
_CLOSING = frozenset({"fixed", "last_affected", "limit"})
_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")


@dataclass(frozen=True)
class EventReading:
    """How an event value that is not PEP 440 was read (``read_as`` None: no version in it; the range is then not
    evaluated when the event closes it)."""

    kind: str
    value: str
    read_as: str | None
    how: str

    def to_evidence(self, record: str) -> JsonObject:
        return {"record": record, "event": self.kind, "value": self.value, "read_as": self.read_as, "how": self.how}


def _boundaries(text: str) -> list[int]:
    """Prefix lengths that end a word: before a separator (``-._+``) or where digits meet letters; longest first."""
    ends = [len(text)]
    for i in range(len(text) - 1, 0, -1):
        here, before = text[i], text[i - 1]
        if here in "-._+" or (here.isalnum() and before.isalnum() and here.isdigit() != before.isdigit()):
            ends.append(i)
    return ends


@lru_cache(maxsize=4096)
def read_event_value(text: str) -> tuple[Version | None, str]:
    """An event value as a version: ``(version, "")`` when it is PEP 440; else the reading and how it was made, or
    ``(None, why)`` when there is no version in it.

    Why a prefix and not "skip it": ``last_affected: 2.6.0-NA`` skipped leaves ``introduced: 0`` open, so the newest
    release would be "affected". Tools and indexes order such strings by their leading release (``2.6.0-cu124`` is a
    build of 2.6.0), which is what the longest PEP 440 prefix gives; a prefix is cut only at a word boundary so
    ``2.6.0-cu124`` never reads as ``2.6.0-c`` (= ``2.6.0rc0``).
    """
    parsed = parse_version(text)
    if parsed is not None:
        return parsed, ""
    cleaned = text.strip().replace("\\", "")
    if cleaned != text and (parsed := parse_version(cleaned)) is not None:
        return parsed, f"not a PEP 440 version; read as {cleaned!r} (stray characters removed)"
    date = _DATE.match(cleaned)
    if date is not None:
        release = ".".join(str(int(part)) for part in date.groups())
        return Version(release), f"a date, not a PEP 440 version; read as the release {release}"
    for end in _boundaries(cleaned):
        prefix = cleaned[:end]
        starts = prefix.lstrip("vV")[:1]
        if starts.isdigit() and len(prefix) - len(prefix.lstrip("vV")) <= 1 and (parsed := parse_version(prefix)):
            return parsed, f"not a PEP 440 version; read as its longest PEP 440 prefix {prefix!r} ({parsed})"
    return None, "not a PEP 440 version and no version prefix in it"


def _event_kind(event: Mapping[str, Any]) -> tuple[str, str] | None:
    for kind in ("introduced", "fixed", "last_affected", "limit"):
        value = event.get(kind)
        if isinstance(value, str):
            return kind, value
    return None


@dataclass(frozen=True)
class CompiledRange:
    """One ECOSYSTEM range with its events parsed and sorted once (evaluation is then a short walk).

    ``walk`` holds ``(bound, order, kind)`` sorted by version; ``bound`` is ``None`` for ``introduced: "0"``,
    which the schema defines as sorting before *every* version (``Version("0")`` would not: ``0a1`` and
    ``0.dev0`` sort below it).
    """

    walk: tuple[tuple[Version | None, int, str], ...]
    limits: tuple[Version | None, ...]  # None = a value containing "*" (infinity)
    fixed: tuple[str, ...]
    events: tuple[Mapping[str, Any], ...]
    readings: tuple[EventReading, ...] = ()  # every non-PEP 440 event value and how it was read
    evaluable: bool = True  # False: a closing event has no version in it (the range's end is unknown)

    def affects(self, version: Version) -> bool:
        """The schema's ``IncludedInRanges`` for one range: ``BeforeLimits`` (below at least one ``limit``, no
        limit = ``*``), then the events walked in version order.

        Ties at one version keep introduced < last_affected < fixed, so ``introduced X`` + ``fixed X`` affects
        nothing at X.
        """
        if not self.evaluable:
            return False
        if self.limits and not any(lim is None or version < lim for lim in self.limits):
            return False
        affected = False
        for bound, _order, kind in self.walk:
            if kind == "introduced":
                if bound is None or version >= bound:
                    affected = True
            elif bound is None:
                continue
            elif kind == "fixed":
                if version >= bound:
                    affected = False
            elif version > bound:  # last_affected
                affected = False
        return affected


    def affected_among(self, ordered: Sequence[Version]) -> list[bool]:
        """``affects`` for each of ``ordered`` (ascending) in one pass: an event applies to every version from the
        first one past its bound on, so the answer is each event's state laid over the tail it applies to, in walk
        order (``O(events log n)`` comparisons instead of ``O(events n)``)."""
        n = len(ordered)
        if not self.evaluable or n == 0:
            return [False] * n
        end = n
        if self.limits and all(lim is not None for lim in self.limits):
            end = bisect_left(ordered, max(lim for lim in self.limits if lim is not None))
        states = [False] * n
        for bound, _order, kind in self.walk:
            if bound is None:
                if kind != "introduced":
                    continue  # only ``introduced: 0`` has no bound; another event without one never applies
                start = 0
            elif kind == "last_affected":
                start = bisect_right(ordered, bound)  # the bound itself is still affected
            else:
                start = bisect_left(ordered, bound)
            if start < n:
                states[start:] = [kind == "introduced"] * (n - start)
        if end < n:
            states[end:] = [False] * (n - end)
        return states


def _walk_key(item: tuple[Version | None, int, str]) -> tuple[int, Version, int]:
    bound, order, _kind = item
    return (0, _ZERO, order) if bound is None else (1, bound, order)


_ZERO = Version("0")


def compile_range(events: Sequence[Mapping[str, Any]]) -> CompiledRange:
    walk: list[tuple[Version | None, int, str]] = []
    limits: list[Version | None] = []
    readings: list[EventReading] = []
    evaluable = True
    for event in events:
        kv = _event_kind(event)
        if kv is None:
            continue
        kind, value = kv
        if (kind == "limit" and "*" in value) or (kind == "introduced" and value == "0"):
            parsed = None
        else:
            parsed, how = read_event_value(value)
            if how:
                readings.append(EventReading(kind, value, None if parsed is None else str(parsed), how))
            if parsed is None:
                # an unreadable start narrows the range (skipped); an unreadable end would widen it to every later
                # release, so the range is not evaluated at all (and the check says so)
                evaluable = evaluable and kind not in _CLOSING
                continue
        if kind == "limit":
            limits.append(parsed)
            continue
        walk.append((parsed, _EVENT_ORDER[kind], kind))
    walk.sort(key=_walk_key)
    fixed = tuple(str(e["fixed"]) for e in events if isinstance(e.get("fixed"), str))
    return CompiledRange(tuple(walk), tuple(limits), fixed, tuple(events), tuple(readings), evaluable)


def range_affects(events: Sequence[Mapping[str, Any]], version: Version) -> bool:
    """Is ``version`` inside this ECOSYSTEM range's events (see ``CompiledRange.affects``)?"""
    return compile_range(events).affects(version)


# A version already written in PEP 440 normal form, without leading zeros: its equality key can be read off the
# text. Anything else (epochs, local labels, separators, "v" prefixes, leading zeros) is parsed.
_NORMAL_FORM = re.compile(r"(\d+(?:\.\d+)*)((?:(?:a|b|rc)\d+)?(?:\.post\d+)?(?:\.dev\d+)?)")
_LEADING_ZERO = re.compile(r"(?<!\d)0\d")
_TRAILING_ZEROS = re.compile(r"(?:\.0+)+$")


@lru_cache(maxsize=65536)
def equality_key(text: str) -> str | None:
    """A string equal for exactly the PEP 440-equal public versions (``1.0`` = ``1.0.0`` = ``1.0+cpu``), ``None`` for
    an invalid version. Why not ``Version`` objects: ``versions`` lists hold ~60,000 entries in a large audit, and
    reading the key off normal-form text is several times cheaper than parsing and hashing each one."""
    m = _NORMAL_FORM.fullmatch(text)
    if m is not None and not _LEADING_ZERO.search(text):
        return _TRAILING_ZEROS.sub("", m.group(1)) + m.group(2)
    v = _public(text)
    if v is None:
        return None
    release = _TRAILING_ZEROS.sub("", ".".join(str(n) for n in v.release))
    suffix = "".join([f"{v.pre[0]}{v.pre[1]}" if v.pre else "", f".post{v.post}" if v.post is not None else "",
                      f".dev{v.dev}" if v.dev is not None else ""])
    return (f"{v.epoch}!" if v.epoch else "") + release + suffix


def listing_key(text: str) -> str:
    """How a version is looked up in a ``versions`` list: its equality key, or (an invalid version, which can only
    match the same string) the text itself, marked so it cannot collide with a key."""
    return equality_key(text) or "\0" + text


# The listing keys of an entry's ``versions``, computed once when the advisory index is built and stored in the
# entry under this name: space-framed (``" k1 k2 "``; a space needs no escape in JSON, so the string decodes at
# copy speed), so a look-up is one substring search and no set of tens of thousands of keys is built per run. The suffix names the key derivation: a change to ``equality_key`` must
# bump it (an index built with other keys then falls back to computing them from ``versions``).
LISTED_FIELD = "mlaudit:listing-keys-1"


def stored_listing_keys(versions: object) -> str | None:
    """The value stored under ``LISTED_FIELD`` for an entry's ``versions`` (``None``: store nothing, the list is
    not a list, or a key holds the frame character, a space)."""
    if not isinstance(versions, list):
        return None
    keys = sorted({listing_key(v) for v in versions if isinstance(v, str)})
    if any(" " in k for k in keys):
        return None
    return " " + " ".join(keys) + " " if keys else ""


@dataclass(frozen=True)
class CompiledEntry:
    """One ``affected`` entry for the package: its ``versions`` list as listing keys, its ranges."""

    keys: frozenset[str]
    ranges: tuple[CompiledRange, ...]
    framed: str | None = None  # the index's stored keys (``LISTED_FIELD``); when set, ``keys`` is not built

    def listed(self, key: str) -> bool:
        if self.framed is None:
            return key in self.keys
        # no stored key holds a space, so a key that does cannot be listed (and must not match across a frame)
        return " " not in key and f" {key} " in self.framed


def _compile_entry(entry: Mapping[str, Any], indexed: bool = False) -> CompiledEntry:
    framed = entry.get(LISTED_FIELD) if indexed else None
    if isinstance(framed, str) and (not framed or (framed[0] == " " and framed[-1] == " ")):
        keys: frozenset[str] = frozenset()
    else:
        framed = None
        keys = frozenset(listing_key(v) for v in _as_list(entry.get("versions")) if isinstance(v, str))
    ranges: list[CompiledRange] = []
    for rng in _as_list(entry.get("ranges")):
        if isinstance(rng, Mapping) and rng.get("type") == "ECOSYSTEM":
            ranges.append(compile_range([e for e in _as_list(rng.get("events")) if isinstance(e, Mapping)]))
    return CompiledEntry(keys, tuple(ranges), framed)


# Compiled forms keyed by the record object's identity; the cache holds the record itself so the id cannot be
# reused by another object while the entry lives. Warm runs (records cached by the index) skip all parsing.
_COMPILED: dict[tuple[int, str], tuple[Record, tuple[CompiledEntry, ...]]] = {}
_COMPILED_MAX = 50000


def compiled_entries(record: Record, name: str) -> tuple[CompiledEntry, ...]:
    key = (id(record), name)
    hit = _COMPILED.get(key)
    if hit is not None and hit[0] is record:
        return hit[1]
    indexed = isinstance(record, OsvRecord) and record.indexed
    compiled = tuple(_compile_entry(e, indexed) for e in affected_entries(record, name))
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    _COMPILED[key] = (record, compiled)
    return compiled


def affected_entries(record: Record, name: str) -> list[Mapping[str, Any]]:
    """The record's ``affected`` entries for PyPI package ``name`` (PEP 503 compared)."""
    out: list[Mapping[str, Any]] = []
    for entry in _as_list(record.get("affected")):
        if not isinstance(entry, Mapping):
            continue
        pkg = entry.get("package") or {}
        if not isinstance(pkg, Mapping) or pkg.get("ecosystem") != ECOSYSTEM:
            continue
        pkg_name = pkg.get("name")
        if isinstance(pkg_name, str) and canonical_name(pkg_name) == name:
            out.append(entry)
    return out


def match_record(record: Record, name: str, version_text: str) -> RecordMatch | None:
    """Does ``record`` affect ``name`` (PEP 503) at ``version_text``? ``None`` when not (or withdrawn)."""
    if record.get("withdrawn"):
        return None
    name = canonical_name(name)
    version = _public(version_text)
    key = listing_key(version_text)
    by_versions = False
    by_range = False
    fixed: set[str] = set()
    ranges: list[JsonObject] = []
    readings: list[EventReading] = []
    for entry in compiled_entries(record, name):
        if entry.listed(key):
            by_versions = True
        for rng in entry.ranges:
            fixed.update(rng.fixed)
            if version is not None and rng.affects(version):
                by_range = True
                ranges.append({"type": "ECOSYSTEM", "events": [json_object(e) for e in rng.events]})
                readings.extend(r for r in rng.readings if r not in readings)
    if not (by_range or by_versions):
        return None
    matched_by = tuple(kind for kind, hit in (("range", by_range), ("versions", by_versions)) if hit)
    return RecordMatch(record, matched_by, tuple(sort_versions(fixed)), ranges, tuple(readings))


def unreadable_events(record: Record, name: str) -> list[EventReading]:
    """The closing events of the record's ranges for ``name`` that hold no version at all (their ranges are not
    evaluated): the caller says so instead of reporting nothing silently."""
    if record.get("withdrawn"):
        return []
    return [r for entry in compiled_entries(record, canonical_name(name)) for rng in entry.ranges
            if not rng.evaluable for r in rng.readings if r.read_as is None and r.kind in _CLOSING]


def record_affects(record: Record, name: str, version_text: str) -> bool:
    """Like ``match_record`` without building evidence (used to test many candidate upgrades)."""
    if record.get("withdrawn"):
        return False
    version = _public(version_text)
    key = listing_key(version_text)
    for entry in compiled_entries(record, canonical_name(name)):
        if entry.listed(key):
            return True
        if version is not None and any(rng.affects(version) for rng in entry.ranges):
            return True
    return False


@dataclass(frozen=True)
class Candidates:
    """Versions to ask many records about (``affected_candidates``), read once: each one's listing key, and the
    parseable ones' public versions in ascending order."""

    texts: tuple[str, ...]
    keys: tuple[str, ...]  # listing keys, aligned with ``texts``
    ordered: tuple[Version, ...]  # public versions, ascending
    ordered_texts: tuple[str, ...]  # the text of each of ``ordered``

    @classmethod
    def of(cls, candidates: Iterable[str]) -> Candidates:
        texts = tuple(dict.fromkeys(candidates))
        parsed = sorted((v, c) for c in texts if (v := _public(c)) is not None)
        return cls(texts, tuple(listing_key(c) for c in texts), tuple(v for v, _c in parsed),
                   tuple(c for _v, c in parsed))


def affected_candidates(record: Record, name: str, candidates: Sequence[str] | Candidates) -> frozenset[str]:
    """The ``candidates`` that ``record`` affects: ``record_affects`` for many versions of one package at once.

    Why: choosing an upgrade asks every record of a package about every candidate release (~10,000 pairs in a
    200-package audit); asked one pair at a time, each pair paid the name's normalisation, the compiled entries'
    look-up, the candidate's parse and a walk of every range again. Here the candidates are read once (pass a
    ``Candidates`` to share that between records), each range is laid over them in one sorted pass
    (``CompiledRange.affected_among``), and the answer is the same set ``record_affects`` gives pair by pair.
    """
    if not isinstance(candidates, Candidates):
        candidates = Candidates.of(candidates)
    if record.get("withdrawn") or not candidates.texts:
        return frozenset()
    entries = compiled_entries(record, canonical_name(name))
    if not entries:
        return frozenset()
    hit: set[str] = set()
    for entry in entries:
        if entry.framed != "" and (entry.framed is not None or entry.keys):
            hit.update(c for c, key in zip(candidates.texts, candidates.keys, strict=True) if entry.listed(key))
        for rng in entry.ranges:
            hit.update(c for c, affected in zip(candidates.ordered_texts, rng.affected_among(candidates.ordered),
                                                strict=True) if affected)
    return frozenset(hit)


def sort_versions(versions: Iterable[str]) -> list[str]:
    """PEP 440 order, invalid strings last (in string order)."""
    items = list(versions)
    valid = sorted((v for v in items if parse_version(v) is not None), key=lambda v: parse_version(v) or Version("0"))
    invalid = sorted(v for v in items if parse_version(v) is None)
    return valid + invalid


# --- severity -------------------------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def cvss_base_score(vector: str) -> float | None:
    """The base score of a CVSS v3.x or v4 vector (``cvss`` library), ``None`` when the vector cannot be scored."""
    from cvss import CVSS3, CVSS4, CVSSError

    try:
        if vector.startswith("CVSS:4"):
            return float(CVSS4(vector).base_score)
        if vector.startswith("CVSS:3"):
            return float(CVSS3(vector).base_score)
    except (CVSSError, ValueError, KeyError, IndexError, TypeError, ArithmeticError):
        return None
    return None


# The base score of a CVSS v3/v4 block, computed when the advisory index is built and stored in the block under this
# name (``null``: the vector cannot be scored), so a run neither imports nor runs the CVSS calculator (~11 ms for a
# 200-package audit). Bump the suffix when the scoring changes (the embedded index's fingerprint names it too).
SCORE_FIELD = "mlaudit:cvss-base-score-1"


def stored_score(block: Mapping[str, Any]) -> tuple[bool, float | None]:
    """``(True, score)`` to store under ``SCORE_FIELD`` for a severity block, ``(False, None)`` for a block that
    has no scorable kind or vector (nothing stored)."""
    vector = _vector_of(block)
    if vector is None or block.get("type") not in ("CVSS_V3", "CVSS_V4"):
        return False, None
    return True, cvss_base_score(vector)


def _block_score(block: Mapping[str, Any], vector: str, indexed: bool) -> float | None:
    if indexed and SCORE_FIELD in block:
        stored = block[SCORE_FIELD]
        if stored is None or (isinstance(stored, float) and 0.0 <= stored <= 10.0):
            return stored
    return cvss_base_score(vector)


class SeveritySource(str, Enum):
    """Where a finding's severity came from (CONVENTIONS.md "Severity")."""

    CVSS = "cvss"  # a CVSS v3.x/v4 vector, scored
    RECORD = "record"  # the record's own severity word (GHSA ``database_specific.severity``)
    NONE = "none"  # no record of the finding carries a usable severity: ``unknown``


@dataclass(frozen=True)
class SeverityInfo:
    """One record's severity and its provenance, for the finding's evidence."""

    severity: Severity
    source: SeveritySource
    record: str = ""  # the id of the record that carried it
    score: float | None = None
    vector: str | None = None
    word: str | None = None  # the severity word as written in the record
    unusable: tuple[str, ...] = ()  # vectors or words present but not usable (unscorable, unknown word, CVSS v2)
    other_vectors: tuple[tuple[str, float], ...] = ()  # the record's lower-scored vectors, (vector, score)

    def describe(self) -> str:
        """The evidence line: the vector and score, the word and where it was, or that there was none."""
        if self.source is SeveritySource.CVSS:
            text = f"{self.vector}: base score {self.score:.1f} ({self.severity.value}), from {self.record}"
            if self.other_vectors:
                text += " (the highest of its vectors; also " + ", ".join(
                    f"{vector}: {score:.1f}" for vector, score in self.other_vectors) + ")"
            return text
        if self.source is SeveritySource.RECORD:
            return f"severity {self.word!r} in {self.record} (database_specific.severity): {self.severity.value}"
        text = "no severity in any record"
        if self.unusable:
            text += " (present but not usable: " + "; ".join(self.unusable) + ")"
        return text


def _vector_of(block: Mapping[str, Any]) -> str | None:
    vector = block.get("score")
    if not isinstance(vector, str) or not vector.strip():
        return None
    vector = vector.strip()
    if not vector.startswith("CVSS:"):  # a bare metrics string under a typed block: the type says which
        vector = ("CVSS:4.0/" if block.get("type") == "CVSS_V4" else "CVSS:3.1/") + vector
    return vector


def record_severity(record: Record, name: str | None = None) -> SeverityInfo:
    """CONVENTIONS.md: from a CVSS v3/v4 base score (the highest when a record has several vectors); else the
    record's own severity word (GHSA ``database_specific.severity``, MODERATE = medium); else ``unknown``.

    CVSS v2 vectors are not used (the conventions score v3/v4 only); they are named in the evidence instead.
    """
    rid = str(record.get("id", ""))
    indexed = isinstance(record, OsvRecord) and record.indexed
    blocks: list[Any] = list(_as_list(record.get("severity")))
    if name is not None:
        for entry in affected_entries(record, canonical_name(name)):
            blocks.extend(_as_list(entry.get("severity")))
    scored: list[tuple[float, str]] = []
    unusable: list[str] = []
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        vector = _vector_of(block)
        if vector is None:
            continue
        if kind not in ("CVSS_V3", "CVSS_V4"):
            unusable.append(f"{rid}: {kind} {vector}")
            continue
        score = _block_score(block, vector, indexed)
        if score is None:
            unusable.append(f"{rid}: unscorable {vector}")
            continue
        if (score, vector) not in scored:
            scored.append((score, vector))
    if scored:
        # several vectors (v3.1 and v4 of one advisory often disagree): the highest counts, the gate fails closed
        scored.sort(key=lambda sv: -sv[0])
        score, vector = scored[0]
        return SeverityInfo(Severity.from_cvss_score(score), SeveritySource.CVSS, rid, score, vector,
                            other_vectors=tuple((v, s) for s, v in scored[1:]))
    spec = record.get("database_specific")
    word = spec.get("severity") if isinstance(spec, Mapping) else None
    if isinstance(word, str) and word.strip():
        try:
            level = Severity.parse(word)
        except ValueError:
            level = Severity.UNKNOWN
        if level.known:
            return SeverityInfo(level, SeveritySource.RECORD, rid, word=word.strip())
        unusable.append(f"{rid}: severity word {word.strip()!r}")
    return SeverityInfo(Severity.UNKNOWN, SeveritySource.NONE, rid, unusable=tuple(unusable))


def combined_severity(infos: Sequence[SeverityInfo]) -> SeverityInfo:
    """A merged finding's severity: the highest known across its records; ``unknown`` only when none has one.

    A CVSS score beats a word at the same level (it is the more specific evidence)."""
    known = [i for i in infos if i.severity.known]
    if known:
        return max(known, key=lambda i: (i.severity.rank, i.source is SeveritySource.CVSS, i.score or 0.0))
    return SeverityInfo(Severity.UNKNOWN, SeveritySource.NONE, ",".join(i.record for i in infos),
                        unusable=tuple(u for i in infos for u in i.unusable))

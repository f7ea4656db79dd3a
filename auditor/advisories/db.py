"""The advisory index: OSV records in SQLite, keyed by PEP 503 name, so a run reads only its packages' records.

Two databases can exist in ``cache_dir()/advisories``:

- the **embedded** one, built on first use from the snapshot shipped in ``data/`` (PyPA advisories + OpenSSF
  malicious packages). Its file name carries a fingerprint of the shipped files, so a new mlaudit release with new
  data builds a new index instead of reading a stale one;
- the **updated** one, written by ``mlaudit db update`` from OSV's PyPI export (or ``--from`` a file). When present
  it is used for vulnerabilities when it holds any (an export of MAL- records only keeps the shipped advisories),
  and its MAL- records are used *beside* the shipped ones: a name once published as malware stays known even when
  the export is older than the mlaudit release (a record present in both counts once, the later ``modified`` wins).

Every build writes a temporary file and renames it into place: a reader never sees a half-built index.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from auditor.advisories.freshness import STALE_DAYS, age_days, is_stale, stale_data_warning
from auditor.advisories.match import (
    LISTED_FIELD,
    SCORE_FIELD,
    is_malicious_record,
    stored_listing_keys,
    stored_score,
)
from auditor.advisories.record import OsvRecord
from auditor.cache import atomic_write, cache_dir
from auditor.digest import sha256_file
from auditor.domain import DataSource, canonical_name
from auditor.errors import IncompleteError, MlauditError
from auditor.resources import data_file

SCHEMA = "4"  # 3: records keep their full ``details`` text; 4: a ``versions`` list stored as its listing keys only
READABLE_SCHEMAS = frozenset({"3", "4"})  # a 3 index keeps both forms of a list; its stored keys are used the same
UPDATED_DB_NAME = "osv-pypi.sqlite"
EMBEDDED_ADVISORIES = ("advisories", "pypa-osv.jsonl.gz")
EMBEDDED_META = ("advisories", "db-meta.json")
EMBEDDED_MALICIOUS = ("malicious_pypi_osv.jsonl.gz",)
EMBEDDED_SOURCE = "PyPA advisory database (github.com/pypa/advisory-database), shipped snapshot"
MALICIOUS_SOURCE = "OpenSSF malicious-packages (MAL- records), shipped snapshot"
_KEEP = ("id", "aliases", "summary", "details", "published", "modified", "withdrawn", "severity", "references")
MAX_RECORD_REFERENCES = 200  # a hostile record cannot make every lookup parse an unbounded list


def advisories_dir() -> Path:
    path = cache_dir() / "advisories"
    path.mkdir(parents=True, exist_ok=True)
    return path


def updated_db_path() -> Path:
    return advisories_dir() / UPDATED_DB_NAME


# --- building ----------------------------------------------------------------------------------------------------


def slim_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """What matching, severity and reports need (the advisory's full text included: reports show it whole);
    drops IOCs, credits and other database-specific data, so a lookup parses little else."""
    out: dict[str, Any] = {k: record[k] for k in _KEEP if k in record}
    if "severity" in out:
        out["severity"] = _scored(out["severity"])
    spec = record.get("database_specific")
    if isinstance(spec, Mapping) and isinstance(spec.get("severity"), str):
        out["database_specific"] = {"severity": spec["severity"]}
    affected: list[dict[str, Any]] = []
    for entry in record.get("affected") or []:
        if not isinstance(entry, Mapping):
            continue
        slim = {k: entry[k] for k in ("package", "ranges", "versions", "severity") if k in entry}
        if "severity" in slim:
            slim["severity"] = _scored(slim["severity"])
        listed = stored_listing_keys(entry.get("versions"))
        if listed is not None:
            # the keys replace the list: matching reads only them (``match.CompiledEntry``), and the list was three
            # quarters of what a re-audit decoded (~60,000 version strings for 201 packages). A list whose keys
            # cannot be stored stays as it is.
            slim.pop("versions", None)
            slim[LISTED_FIELD] = listed
        affected.append(slim)
    out["affected"] = affected
    if isinstance(out.get("references"), list):
        out["references"] = [r for r in out["references"] if isinstance(r, Mapping)][:MAX_RECORD_REFERENCES]
    return out


def _scored(blocks: Any) -> Any:
    """Severity blocks with their CVSS base score stored beside the vector (``match.SCORE_FIELD``)."""
    if not isinstance(blocks, list):
        return blocks
    out: list[Any] = []
    for block in blocks:
        if isinstance(block, Mapping):
            scorable, score = stored_score(block)
            block = {k: v for k, v in block.items() if k != SCORE_FIELD}  # only this build's scores are kept
            if scorable:
                block[SCORE_FIELD] = score
        out.append(block)
    return out


def record_names(record: Mapping[str, Any]) -> set[str]:
    """The PEP 503 names of the PyPI packages a record affects."""
    names: set[str] = set()
    for entry in record.get("affected") or []:
        pkg = entry.get("package") if isinstance(entry, Mapping) else None
        if isinstance(pkg, Mapping) and pkg.get("ecosystem") == "PyPI" and isinstance(pkg.get("name"), str):
            names.add(canonical_name(pkg["name"]))
    return names


@dataclass
class BuildCounts:
    records: int = 0
    vulnerabilities: int = 0
    malicious: int = 0
    withdrawn: int = 0
    packages: int = 0
    newest_modified: str = ""
    newest_malicious_modified: str = ""
    malicious_packages: int = 0  # distinct names with a malicious-package record
    mal_published_first: str = ""  # the ``published`` range of the MAL- records (the malware feed itself)
    mal_published_last: str = ""
    newest_mal_modified: str = ""  # the MAL- feed's snapshot date (GitHub malware advisories aliasing one excluded)

    def note_malicious(self, record: Mapping[str, Any]) -> None:
        if not str(record.get("id", "")).startswith("MAL-"):
            return
        published, modified = record.get("published"), record.get("modified")
        if isinstance(published, str) and published:
            self.mal_published_first = min(self.mal_published_first or published, published)
            self.mal_published_last = max(self.mal_published_last, published)
        if isinstance(modified, str):
            self.newest_mal_modified = max(self.newest_mal_modified, modified)


def build_index(target: Path, records: Iterable[Mapping[str, Any]], meta: Mapping[str, str]) -> BuildCounts:
    """Index ``records`` into a new SQLite file and atomically move it to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    counts = BuildCounts()
    names_seen: set[str] = set()
    malicious_names: set[str] = set()
    try:
        conn = sqlite3.connect(tmp)
        try:
            conn.executescript(
                "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                "CREATE TABLE records(id TEXT PRIMARY KEY, malicious INTEGER NOT NULL, withdrawn INTEGER NOT NULL,"
                " body TEXT NOT NULL);"
                "CREATE TABLE names(name TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY(name, id)) WITHOUT ROWID;"
            )
            rows: list[tuple[str, int, int, str]] = []
            name_rows: list[tuple[str, str]] = []
            for record in records:
                rid = record.get("id")
                if not isinstance(rid, str) or not rid:
                    continue
                malicious = is_malicious_record(record)
                withdrawn = bool(record.get("withdrawn"))
                counts.records += 1
                counts.withdrawn += withdrawn
                if malicious:
                    counts.malicious += 1
                    counts.note_malicious(record)
                else:
                    counts.vulnerabilities += 1
                modified = record.get("modified")
                if isinstance(modified, str):
                    counts.newest_modified = max(counts.newest_modified, modified)
                    if malicious:
                        counts.newest_malicious_modified = max(counts.newest_malicious_modified, modified)
                rows.append((rid, int(malicious), int(withdrawn), json.dumps(slim_record(record),
                                                                            separators=(",", ":"))))
                for name in record_names(record):
                    name_rows.append((name, rid))
                    names_seen.add(name)
                    if malicious:
                        malicious_names.add(name)
            conn.executemany("INSERT OR REPLACE INTO records VALUES (?,?,?,?)", rows)
            conn.executemany("INSERT OR IGNORE INTO names VALUES (?,?)", name_rows)
            counts.packages = len(names_seen)
            counts.malicious_packages = len(malicious_names)
            all_meta = {
                **meta,
                "schema": SCHEMA,
                "records": str(counts.records),
                "vulnerabilities": str(counts.vulnerabilities),
                "malicious": str(counts.malicious),
                "withdrawn": str(counts.withdrawn),
                "packages": str(counts.packages),
                "newest_modified": counts.newest_modified,
                "newest_malicious_modified": counts.newest_malicious_modified,
                "malicious_packages": str(counts.malicious_packages),
                "mal_published_first": counts.mal_published_first,
                "mal_published_last": counts.mal_published_last,
                "newest_mal_modified": counts.newest_mal_modified,
                "built_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            conn.executemany("INSERT OR REPLACE INTO meta VALUES (?,?)", sorted(all_meta.items()))
            conn.commit()
        finally:
            conn.close()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return counts


def iter_jsonl_gz(path: Path) -> Iterator[dict[str, Any]]:
    import gzip  # building an index only

    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                obj = json.loads(line)
                if isinstance(obj, dict):
                    yield obj


# --- the embedded snapshot ------------------------------------------------------------------------------------

_FP_CACHE: dict[tuple[str, int, int], str] = {}
DIGESTS_NAME = "shipped-digests.json"  # in ``advisories_dir()``: the shipped files' digests by their stat


def _file_digest(path: Path) -> str:
    """The sha256 of a shipped file, remembered by its stat (path, size, mtime, inode, ctime) in this process and in
    the cache folder: hashing the 4 MB of shipped data cost every run ~3 ms, for a fingerprint that changes only
    when the files are replaced (a reinstall gives them new stats; Python trusts the same for its byte code)."""
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _FP_CACHE:
        stat_key = f"{path}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}|{st.st_ctime_ns}"
        stored = _stored_digests()
        digest = stored.get(stat_key)
        if not (isinstance(digest, str) and len(digest) == 64):
            digest = sha256_file(path)
            _store_digest(stored, stat_key, digest)
        _FP_CACHE[key] = digest
    return _FP_CACHE[key]


def _stored_digests() -> dict[str, Any]:
    try:
        loaded = json.loads((advisories_dir() / DIGESTS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _store_digest(stored: dict[str, Any], stat_key: str, digest: str) -> None:
    """Best effort: a cache folder that cannot be written only means hashing again next run."""
    path_prefix = stat_key.split("|", 1)[0] + "|"
    kept = {k: v for k, v in stored.items() if not k.startswith(path_prefix)}  # one entry per file
    kept[stat_key] = digest
    try:
        atomic_write(advisories_dir() / DIGESTS_NAME, json.dumps(kept, sort_keys=True).encode("utf-8"))
    except (OSError, MlauditError):
        return


def embedded_sources() -> tuple[Path, Path, Path]:
    return data_file(*EMBEDDED_ADVISORIES), data_file(*EMBEDDED_MALICIOUS), data_file(*EMBEDDED_META)


def embedded_fingerprint() -> str:
    digest = hashlib.sha256(f"{SCHEMA} {LISTED_FIELD} {SCORE_FIELD}".encode())  # an index without today's stored keys is rebuilt
    for path in embedded_sources():
        digest.update(path.name.encode() + b"\0" + _file_digest(path).encode())
    return digest.hexdigest()[:20]


def _embedded_meta() -> dict[str, Any]:
    meta_path = embedded_sources()[2]
    try:
        loaded = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def ensure_embedded_db(folder: Path | None = None) -> Path:
    """The embedded index for the shipped data, built now if this fingerprint has none yet."""
    advisories, malicious, _meta = embedded_sources()
    for path in (advisories, malicious):
        if not path.is_file():
            raise IncompleteError(f"shipped advisory data is missing: {path.name} (broken installation?)")
    fp = embedded_fingerprint()
    folder = folder or advisories_dir()
    target = folder / f"embedded-{fp}.sqlite"
    if target.is_file():
        return target
    info = _embedded_meta()
    date = str(info.get("commit_date") or info.get("latest_modified") or "")[:10]

    def records() -> Iterator[dict[str, Any]]:
        yield from iter_jsonl_gz(advisories)
        yield from iter_jsonl_gz(malicious)

    meta = {"kind": "embedded", "source": EMBEDDED_SOURCE, "date": date, "fingerprint": fp,
            "commit": str(info.get("commit", "")), "licence": str(info.get("licence", ""))}
    build_index(target, records(), meta)
    for old in folder.glob("embedded-*.sqlite"):
        if old != target:
            old.unlink(missing_ok=True)
    return target


# --- reading ---------------------------------------------------------------------------------------------------


@dataclass
class AdvisoryDB:
    """One open index. Lookups are by PEP 503 name and return full (slimmed) OSV records."""

    path: Path
    conn: sqlite3.Connection
    meta: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    memo: dict[tuple[str, bool], list[OsvRecord]] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Path) -> AdvisoryDB:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError:
            conn.close()
            raise
        if meta.get("schema") not in READABLE_SCHEMAS:
            conn.close()
            raise sqlite3.DatabaseError(f"built by another mlaudit version (index schema {meta.get('schema')!r}, "
                                        f"this version reads {sorted(READABLE_SCHEMAS)})")
        return cls(path, conn, meta)

    def count(self, key: str) -> int:
        try:
            return int(self.meta.get(key, "0"))
        except ValueError:
            return 0

    def lookup(self, name: str, *, malicious: bool) -> list[OsvRecord]:
        return self.lookup_many([name], malicious=malicious)[canonical_name(name)]

    def malicious_keys(self) -> tuple[set[str], set[str]]:
        """The ids and the PEP 503 names of every malicious-package record (several stores are counted as one)."""
        with self.lock:
            ids = {row[0] for row in self.conn.execute("SELECT id FROM records WHERE malicious = 1")}
            names = {row[0] for row in self.conn.execute(
                "SELECT DISTINCT n.name FROM names n JOIN records r ON r.id = n.id WHERE r.malicious = 1")}
        return ids, names

    def malicious_dates(self) -> tuple[str, str, str]:
        """(first published, last published, newest modified) of the MAL- records, from the index's meta; an index
        built before these were kept reads them from its records once."""
        keys = ("mal_published_first", "mal_published_last", "newest_mal_modified")
        if all(k in self.meta for k in keys):
            return self.meta[keys[0]], self.meta[keys[1]], self.meta[keys[2]]
        counts = BuildCounts()
        with self.lock:
            for (body,) in self.conn.execute("SELECT body FROM records WHERE malicious = 1"):
                counts.note_malicious(json.loads(body))
        self.meta.update(zip(keys, (counts.mal_published_first, counts.mal_published_last,
                                    counts.newest_mal_modified), strict=True))
        return counts.mal_published_first, counts.mal_published_last, counts.newest_mal_modified

    def lookup_many(self, names: Iterable[str], *, malicious: bool) -> dict[str, list[OsvRecord]]:
        """All records of several names, one SQL query per 500 names; answers are memoised for the life of this
        (immutable: updates replace the file) database, so a second audit in one process parses nothing."""
        wanted = sorted({canonical_name(n) for n in names})
        with self.lock:
            missing = [n for n in wanted if (n, malicious) not in self.memo]
            for start in range(0, len(missing), 500):
                chunk = missing[start:start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self.conn.execute(
                    f"SELECT n.name, r.id, r.body FROM names n JOIN records r ON r.id = n.id "
                    f"WHERE n.name IN ({marks}) AND r.malicious = ?",
                    (*chunk, int(malicious)),
                ).fetchall()
                # ordered by id here rather than by SQL's ORDER BY, which copied every body (1.5 MB for 201
                # packages) through a temporary B-tree; the same order (SQLite compares TEXT as UTF-8 bytes, which
                # order as Python orders code points)
                rows.sort(key=_by_id)
                found: dict[str, list[OsvRecord]] = {n: [] for n in chunk}
                for name, _rid, body in rows:
                    found[name].append(OsvRecord(json.loads(body), indexed=True))
                for name, records in found.items():
                    self.memo[(name, malicious)] = records
            return {n: list(self.memo[(n, malicious)]) for n in wanted}


def _by_id(row: tuple[str, str, str]) -> str:
    return row[1]


_OPEN: dict[tuple[str, int, int], AdvisoryDB] = {}


def _open_cached(path: Path) -> AdvisoryDB:
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_ino)
    db = _OPEN.get(key)
    if db is None:
        db = AdvisoryDB.open(path)
        _OPEN[key] = db
    return db


@dataclass(frozen=True)
class MaliciousFacts:
    """What the malicious-package data in use holds (``db status``, the report's data source)."""

    records: int
    names: int
    published_first: str | None
    published_last: str | None
    date: str | None  # the feed's snapshot: its newest ``modified``


@dataclass
class AdvisoryStore:
    """The databases in use for this run: one for vulnerabilities; for MAL- records ``mal_db`` and, beside it,
    ``mal_extra`` (the shipped records when an updated database brought its own: both are read)."""

    vulns_db: AdvisoryDB
    mal_db: AdvisoryDB
    warnings: list[str] = field(default_factory=list)
    mal_extra: tuple[AdvisoryDB, ...] = ()
    facts: MaliciousFacts | None = field(default=None, init=False, repr=False)  # computed once, on first use

    @property
    def updated(self) -> bool:
        return self.vulns_db.meta.get("kind") == "updated"

    @property
    def mal_dbs(self) -> tuple[AdvisoryDB, ...]:
        return (self.mal_db, *(db for db in self.mal_extra if db is not self.mal_db))

    def vulnerabilities(self, name: str) -> list[OsvRecord]:
        return self.vulns_db.lookup(name, malicious=False)

    def malicious(self, name: str) -> list[OsvRecord]:
        return self.malicious_many([name])[canonical_name(name)]

    def vulnerabilities_many(self, names: Iterable[str]) -> dict[str, list[OsvRecord]]:
        return self.vulns_db.lookup_many(names, malicious=False)

    def malicious_many(self, names: Iterable[str]) -> dict[str, list[OsvRecord]]:
        """Every database's MAL- records per name; one copy per id (the later ``modified``; a tie keeps the first
        database's, i.e. the updated one's)."""
        wanted = list(names)
        merged = self.mal_db.lookup_many(wanted, malicious=True)
        for extra in self.mal_dbs[1:]:
            for name, records in extra.lookup_many(wanted, malicious=True).items():
                if records:
                    merged[name] = _merge_by_id(merged.get(name, []), records)
        return merged

    def advisory_source(self) -> DataSource:
        meta = self.vulns_db.meta
        date = meta.get("date") or meta.get("newest_modified", "")[:10] or None
        return DataSource(name="advisories", source=meta.get("source", "?"), date=date,
                          records=self.vulns_db.count("vulnerabilities"), stale=is_stale(date, STALE_DAYS))

    def _malicious_date(self) -> str | None:
        """The malicious-package data's snapshot date: the newest MAL- ``modified`` over its databases (an index
        built before that was kept: its newest malicious ``modified``, then its date). Meta only, no query."""
        newest = [db.meta.get("newest_mal_modified") or db.meta.get("newest_malicious_modified", "")
                  for db in self.mal_dbs]
        return max(newest, default="")[:10] or self.mal_db.meta.get("date") or None

    def _published_range(self) -> tuple[str | None, str | None]:
        firsts = [first for db in self.mal_dbs if (first := db.malicious_dates()[0])]
        lasts = [last for db in self.mal_dbs if (last := db.malicious_dates()[1])]
        return min(firsts, default="")[:10] or None, max(lasts, default="")[:10] or None

    def _malicious_count(self) -> int:
        """Distinct malicious-package records in use: one database's count is in its meta (no query); several are
        united by id (a record in both counts once)."""
        if len(self.mal_dbs) == 1:
            return self.mal_db.count("malicious")
        return len(set().union(*(db.malicious_keys()[0] for db in self.mal_dbs)))

    def malicious_facts(self) -> MaliciousFacts:
        """Everything ``db status`` shows about the malicious-package data (the name count costs a query per
        database, so audits, which need only the count and dates, do not ask for it)."""
        if self.facts is None:
            if len(self.mal_dbs) == 1 and "malicious_packages" in self.mal_db.meta:
                names = self.mal_db.count("malicious_packages")
            else:
                names = len(set().union(*(db.malicious_keys()[1] for db in self.mal_dbs)))
            self.facts = MaliciousFacts(self._malicious_count(), names, *self._published_range(),
                                        self._malicious_date())
        return self.facts

    def malicious_source(self) -> DataSource:
        date = self._malicious_date()
        sources = [MALICIOUS_SOURCE if db.meta.get("kind") == "embedded" else db.meta.get("source", "?")
                   for db in self.mal_dbs]
        return DataSource(name="malicious packages", source=" + ".join(dict.fromkeys(sources)), date=date,
                          records=self._malicious_count(), stale=is_stale(date, STALE_DAYS))

    def age_days(self) -> int | None:
        """Days since the advisory data's snapshot date (None when the date is unknown)."""
        date = self.advisory_source().date
        return age_days(date) if date else None

    def stale_warning(self, *, stale_after_days: int = STALE_DAYS, extra: Iterable[DataSource] = ()) -> str | None:
        """The stale-data warning for this store's data (and ``extra`` sources, e.g. the popular names), or None."""
        return stale_data_warning([self.advisory_source(), self.malicious_source(), *extra],
                                  stale_after_days=stale_after_days)


def _merge_by_id(first: list[OsvRecord], second: list[OsvRecord]) -> list[OsvRecord]:
    by_id = {r.id: r for r in first}
    for record in second:
        kept = by_id.get(record.id)
        if kept is None or (record.modified or "") > (kept.modified or ""):
            by_id[record.id] = record
    return [by_id[k] for k in sorted(by_id)]


def known_malicious(names: Iterable[str]) -> dict[str, list[str]]:
    """MAL- ids (non-withdrawn) per PEP 503 name, for callers outside an audit (``mlaudit typosquat NAME``)."""
    store = open_store()
    found = store.malicious_many(names)
    return {name: ids for name, records in found.items()
            if (ids := sorted(str(r.get("id")) for r in records if not r.get("withdrawn")))}


def _open_embedded(warnings: list[str]) -> AdvisoryDB:
    """The embedded index; a damaged file (disk full, killed copy) is rebuilt once instead of failing the run, and
    a cache dir that cannot be written (read-only home in CI) gets a throw-away index for this process."""
    try:
        path = ensure_embedded_db()
        try:
            return _open_cached(path)
        except sqlite3.DatabaseError:
            path.unlink(missing_ok=True)
            return _open_cached(ensure_embedded_db())
    except OSError as exc:
        folder = Path(tempfile.mkdtemp(prefix="mlaudit-advisories-"))
        atexit.register(shutil.rmtree, folder, True)
        warnings.append(f"the cache dir cannot hold the advisory index ({exc.__class__.__name__}: {exc}); using a "
                        "temporary index for this run (set MLAUDIT_CACHE_DIR to a writable folder)")
        return _open_cached(ensure_embedded_db(folder))


def open_store() -> AdvisoryStore:
    """The databases to use now: the updated one when present and readable (for vulnerabilities when it holds any;
    its MAL- records beside the shipped ones), else the embedded snapshot."""
    warnings: list[str] = []
    updated: AdvisoryDB | None = None
    try:
        path: Path | None = updated_db_path()
    except OSError:
        path = None  # no usable cache dir: no updated DB either (the embedded index says why)
    if path is not None and path.is_file():
        try:
            updated = _open_cached(path)
        except (sqlite3.DatabaseError, OSError) as exc:
            warnings.append(f"the updated advisory database {path} is unreadable ({exc}); using the shipped "
                            "snapshot. Run `mlaudit db update` again.")
    embedded = _open_embedded(warnings)
    if updated is None:
        return AdvisoryStore(embedded, embedded, warnings)
    vulns = updated if updated.count("vulnerabilities") > 0 else embedded
    if updated.count("malicious") > 0:
        return AdvisoryStore(vulns, updated, warnings, mal_extra=(embedded,))
    return AdvisoryStore(vulns, embedded, warnings)

"""The output folder: one JSON report per unit, one record per finished unit, and what a rerun needs to resume.

Layout (``OUTDIR``)::

    index.json            the fleet view (``aggregate``), rebuilt at the end of every run
    fleet.html            the same as a page
    reports/<uid>.json    each unit's report: byte for byte the JSON of ``mlaudit PATH --format json``
    .fleet/records/<uid>.json        how the unit ended, under which key, and facts for the fleet view
    .fleet/shards/<uid>/<n>.json     a store's finished shards, until the store's report is written
    .fleet/digests.sqlite            file digests by stat signature (``keys.DigestMemo``)
    .fleet/lock                      held by the driver that is writing here

Loss-free: a unit's report is written atomically, then its record (atomically, naming the report's digest), so a
kill at any point leaves either a finished unit or a missing one, never a half-written one; a rerun reuses a unit
only when its record has the same key and its report is the one the record names.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import IO, Any

from auditor.cache import atomic_write
from auditor.errors import UsageError

RECORD_VERSION = 1


class ResultStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.reports = root / "reports"
        self.meta = root / ".fleet"
        self.records = self.meta / "records"
        self.shards = self.meta / "shards"
        self._lock: IO[bytes] | None = None
        for folder in (self.reports, self.records, self.shards):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageError(f"cannot create the output folder: {exc.strerror or exc}", file=str(folder)) \
                    from exc

    def lock(self) -> None:
        """One driver per folder: a second one would interleave records. The lock dies with its process."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return
        handle = (self.meta / "lock").open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise UsageError("another mlaudit fleet run is writing to this output folder",
                             file=str(self.root)) from None
        self._lock = handle

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # -- units ------------------------------------------------------------------------------------------------
    def record(self, uid: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.records / f"{uid}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("version") == RECORD_VERSION else None

    def finished(self, uid: str, key: str) -> dict[str, Any] | None:
        """The unit's record when it finished under ``key`` and its report is intact; else None (redo it)."""
        rec = self.record(uid)
        if rec is None or rec.get("key") != key:
            return None
        report = rec.get("report")
        if report:
            try:
                data = (self.root / report).read_bytes()
            except OSError:
                return None
            if hashlib.sha256(data).hexdigest() != rec.get("report_sha256"):
                return None
        return rec

    def save(self, uid: str, record: dict[str, Any], report: str | None) -> dict[str, Any]:
        """Write the report (when there is one), then the record that names it."""
        rec = dict(record, version=RECORD_VERSION, report=None, report_sha256=None)
        if report is not None:
            data = report.encode("utf-8")
            atomic_write(self.reports / f"{uid}.json", data, output=True)
            rec["report"] = f"reports/{uid}.json"
            rec["report_sha256"] = hashlib.sha256(data).hexdigest()
        else:
            (self.reports / f"{uid}.json").unlink(missing_ok=True)  # a stale report of an older key
        atomic_write(self.records / f"{uid}.json", json.dumps(rec, ensure_ascii=False, sort_keys=True).encode())
        return rec

    # -- shards of a store ------------------------------------------------------------------------------------
    def _shard_path(self, uid: str, index: int) -> Path:
        return self.shards / uid / f"{index:06d}.json"

    def shard(self, uid: str, index: int, key: str) -> str | None:
        """A finished shard's encoded scan result when it was made under ``key``."""
        try:
            data = json.loads(self._shard_path(uid, index).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("result"), str):
            return None
        result: str = data["result"]
        return result

    def save_shard(self, uid: str, index: int, key: str, result: str) -> None:
        atomic_write(self._shard_path(uid, index), json.dumps({"key": key, "result": result}).encode())

    def write_top(self, name: str, text: str) -> Path:
        path = self.root / name
        atomic_write(path, text.encode("utf-8"), output=True)
        return path

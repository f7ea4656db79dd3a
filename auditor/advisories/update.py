"""``mlaudit db update``: replace the advisory index with OSV's current PyPI export, or keep the old one.

The export is downloaded to a temporary file, every member is parsed as OSV JSON while a new index is built
beside the old one, and only a complete, non-empty index is renamed over the previous database. A 500, a reset
connection, a truncated body or a corrupt zip raises (exit 3) and leaves the good database untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.advisories.db import BuildCounts, advisories_dir, build_index, updated_db_path
from auditor.errors import IncompleteError, InputError, NetworkError
from auditor.net import HttpClient, host_of

DEFAULT_EXPORT_URL = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
SERVICE = "OSV export"
CHUNK = 1 << 16
MAX_MEMBER_BYTES = 32 << 20  # one OSV record is kilobytes; a huge member is a corrupt or hostile zip
TEMP_PREFIX = ".osv-"  # downloads and staging indexes; anything with it is a leftover when no update runs
LOCK_NAME = "update.lock"


class ExportError(IncompleteError):
    """The export could not be used (not a zip, a member that is not OSV JSON, no records)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{SERVICE}: {message}")  # say which service gave the unusable data, as network errors do


def export_url(url: str | None = None) -> str:
    """``--url``, else ``MLAUDIT_OSV_URL``, else OSV's documented PyPI export."""
    return url or os.environ.get("MLAUDIT_OSV_URL") or DEFAULT_EXPORT_URL


def download(http: HttpClient, url: str, dest: Path) -> int:
    """Stream ``url`` to ``dest``; a body shorter than its Content-Length or a dropped connection raises."""
    import requests  # here, not at the top: the stale-data warning imports this module on every offline run

    resp = http.get(url, service=SERVICE, stream=True)
    written = 0
    try:
        with open(dest, "wb") as fh:
            for chunk in resp.iter_content(CHUNK):
                fh.write(chunk)
                written += len(chunk)
    except (requests.exceptions.RequestException, OSError) as exc:
        raise NetworkError(f"download interrupted after {written} bytes: {exc}", service=SERVICE,
                           host=host_of(url)) from exc
    finally:
        resp.close()
    expected = resp.headers.get("content-length")
    if expected and expected.isdigit() and int(expected) != written and "content-encoding" not in resp.headers:
        raise NetworkError(f"truncated download: {written} of {expected} bytes", service=SERVICE, host=host_of(url))
    if written == 0:
        raise NetworkError("empty download", service=SERVICE, host=host_of(url))
    return written


def iter_export(path: Path, label: str) -> Iterator[dict[str, Any]]:
    """Every member of the zip as an OSV object; anything else raises ``ExportError``."""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                if info.file_size > MAX_MEMBER_BYTES:
                    raise ExportError(f"{label}: member {info.filename} is {info.file_size} bytes (limit "
                                      f"{MAX_MEMBER_BYTES}): not an OSV record")
                try:
                    obj = json.loads(archive.read(info))
                except ValueError as exc:
                    raise ExportError(f"{label}: member {info.filename} is not JSON ({exc})") from exc
                if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not obj["id"]:
                    raise ExportError(f"{label}: member {info.filename} is not an OSV record (no id)")
                if not isinstance(obj.get("affected", []), list):
                    raise ExportError(f"{label}: member {info.filename} has a malformed 'affected'")
                yield obj
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise ExportError(f"{label}: not a valid zip archive ({exc})") from exc


@dataclass
class UpdateResult:
    path: Path
    source: str
    counts: BuildCounts


def install_export(zip_path: Path, source: str) -> UpdateResult:
    """Index a downloaded/local export and swap it in only when complete and non-empty."""
    final = updated_db_path()
    fd, staging_name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}staging.", suffix=".sqlite", dir=advisories_dir())
    os.close(fd)
    staging = Path(staging_name)
    try:
        counts = build_index(staging, iter_export(zip_path, source), {"kind": "updated", "source": source})
        if counts.records == 0:
            raise ExportError(f"{source}: the export holds no OSV records")
        if counts.packages == 0:  # e.g. another ecosystem's export: installing it would make every audit "clean"
            raise ExportError(f"{source}: the export holds no records for PyPI packages (wrong ecosystem?)")
        # ``date`` is the snapshot's newest ``modified``: the export's own age, not the download time.
        conn = sqlite3.connect(staging)
        try:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('date', ?)", (counts.newest_modified[:10],))
            conn.commit()
        finally:
            conn.close()
        _fsync(staging)  # the rename below must never publish a file whose bytes are still only in memory
        os.replace(staging, final)
        _fsync_dir(final.parent)
    finally:
        staging.unlink(missing_ok=True)
    return UpdateResult(final, source, counts)


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def update_lock() -> Iterator[None]:
    """One ``db update`` at a time per cache dir. Holding the lock also proves that temporary files left in the
    folder belong to an update that was killed (the OS drops a dead process's lock), so they are removed here."""
    folder = advisories_dir()
    with open(folder / LOCK_NAME, "a+b") as lock:
        try:
            import fcntl
        except ImportError:  # no advisory locks on this platform: only old leftovers are safe to remove
            _remove_leftovers(folder, min_age=3600.0)
            yield
            return
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise IncompleteError("another `mlaudit db update` is running on this cache; try again when it "
                                  "has finished") from exc
        try:
            _remove_leftovers(folder, min_age=0.0)
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _remove_leftovers(folder: Path, *, min_age: float) -> None:
    now = time.time()
    for path in folder.iterdir():
        if not (path.name.startswith(TEMP_PREFIX) or path.name.startswith(f".{TEMP_PREFIX}")
                or path.name.startswith(f".{updated_db_path().name}.")):
            continue
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime >= min_age:
                path.unlink()


def update_db(http: HttpClient, *, url: str | None = None, from_file: str | None = None) -> UpdateResult:
    """Download (or read) an export, index it and swap it in; on any failure the previous database stays."""
    if from_file is not None:
        path = Path(from_file)
        if not path.is_file():
            raise InputError(f"no such file: {from_file}")
        with update_lock():
            return install_export(path, str(path.name))
    source = export_url(url)
    with update_lock():
        fd, tmp_name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}download.", suffix=".zip", dir=advisories_dir())
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            download(http, source, tmp)
            return install_export(tmp, source)
        finally:
            tmp.unlink(missing_ok=True)

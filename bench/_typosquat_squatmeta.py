"""Squats' own metadata, read statically from a public corpus of malicious PyPI files (a helper of
``bench/typosquat.py``; the ``_`` keeps ``bench/run.py`` from running it on its own).

Why: the index forgets a removed squat, so the audit-time evaluation could only *assume* what a live squat's record
said (its summary, home page and project links: copied from the imitated project, or absent). The corpus named in
``bench/typosquat_squatmeta.tsv`` (a bare git copy given with ``--mirrors``, never committed) keeps the files the
squats were published as; each sdist's ``PKG-INFO`` and each wheel's ``METADATA`` is the metadata the index showed
for that release. Nothing is extracted to disk and nothing is run: one member of each archive is read into memory
(size-capped) and parsed as mail headers, as the index parses it.

What is read, per file: name, version, summary, home page, project URLs, author and maintainer, whether a long
description is present. A file without such a member (a bare tarball: ``setup.py`` only) is counted, not guessed.
Only those three facts an audit scores are used downstream (summary, links); the rest is reported as evidence.
"""

from __future__ import annotations

import csv
import email.parser
import email.policy
import io
import json
import re
import subprocess
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "bench" / "typosquat_squatmeta.tsv"
MEMBER_CAP = 1 << 20  # a metadata member larger than this is not metadata
ARCHIVE_CAP = 64 << 20


@dataclass
class SquatFile:
    """One published file of the corpus and the metadata it carried."""

    path: str
    name: str  # the corpus folder's name (the project name as published)
    version: str
    kind: str  # sdist / wheel / other
    added: str  # when the corpus added the file (git author date, ISO)
    metadata: bool = False  # a PKG-INFO / METADATA member was found and parsed
    summary: str = ""
    home_page: str = ""
    project_urls: dict[str, str] = field(default_factory=dict)
    author: str = ""
    author_email: str = ""
    has_description: bool = False

    def info(self) -> dict[str, object]:
        """The fields of an index JSON document's ``info`` that an audit reads, as this file published them."""
        return {"summary": self.summary, "home_page": self.home_page, "project_urls": dict(self.project_urls) or None}


def read_manifest(path: Path = MANIFEST) -> dict[str, str]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [row for row in csv.DictReader(fh, delimiter="\t") if row.get("repo")]
    assert len(rows) == 1, "one corpus"
    return rows[0]


def _git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(git_dir), *args], capture_output=True, check=True,
                          timeout=600).stdout


def _added_dates(git_dir: Path, commit: str) -> dict[str, str]:
    """path -> the date the corpus first added it (one ``git log`` over the history)."""
    out: dict[str, str] = {}
    day = ""
    for raw in _git(git_dir, "log", "--diff-filter=A", "--format=@%aI", "--name-only", commit).decode(
            "utf-8", "replace").splitlines():
        if raw.startswith("@"):
            day = raw[1:]
        elif raw.strip():
            out[raw.strip()] = day  # newest first: the oldest add wins below
    return out


def _kind(path: str) -> str:
    if path.endswith(".whl"):
        return "wheel"
    if path.endswith((".tar.gz", ".tgz", ".zip", ".tar.bz2")):
        return "sdist"
    return "other"


def _member(blob: bytes, path: str) -> bytes | None:
    """The PKG-INFO (sdist: at the archive's top folder) or METADATA (wheel: in ``*.dist-info``) member, read into
    memory; None when the archive has none or cannot be read."""
    try:
        if path.endswith((".whl", ".zip")):
            with zipfile.ZipFile(io.BytesIO(blob)) as zf:
                names = [i for i in zf.infolist() if not i.is_dir() and i.file_size <= MEMBER_CAP and (
                    re.fullmatch(r"[^/]+\.dist-info/METADATA", i.filename)
                    or re.fullmatch(r"[^/]+/PKG-INFO", i.filename))]
                return zf.read(names[0]) if names else None
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as tf:
            for info in tf:
                if info.isfile() and info.size <= MEMBER_CAP and re.fullmatch(r"[^/]+/PKG-INFO", info.name):
                    fh = tf.extractfile(info)  # a file object over the member's bytes in memory; nothing on disk
                    return fh.read() if fh else None
    except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile, ValueError, KeyError):
        return None
    return None


def _parse(raw: bytes, row: SquatFile) -> None:
    msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=False)

    def header(key: str) -> str:
        value = msg.get(key)
        text = str(value) if value is not None else ""
        return "" if text.strip().upper() == "UNKNOWN" else " ".join(text.split())

    row.metadata = True
    row.summary = header("Summary")
    row.home_page = header("Home-page")
    for value in msg.get_all("Project-URL") or []:
        label, _, url = str(value).partition(",")
        if url.strip():
            row.project_urls[label.strip()] = url.strip()
    row.author, row.author_email = header("Author"), header("Author-email")
    body = msg.get_payload()
    description = header("Description") or (body if isinstance(body, str) else "")
    row.has_description = bool(description.strip()) and description.strip().upper() != "UNKNOWN"


def read_corpus(git_dir: Path, commit: str) -> Iterator[SquatFile]:
    """Every package file of the corpus at ``commit`` with the metadata it carried."""
    added = _added_dates(git_dir, commit)
    listing = _git(git_dir, "ls-tree", "-r", "-l", commit).decode("utf-8", "replace").splitlines()
    for line in listing:
        meta, _, path = line.partition("\t")
        parts = meta.split()
        if len(parts) < 4 or parts[1] != "blob" or path.count("/") != 2:
            continue
        name, version, _file = path.split("/")
        row = SquatFile(path, name, version, _kind(path), added.get(path, ""))
        size = int(parts[3]) if parts[3].isdigit() else 0
        if row.kind != "other" and 0 < size <= ARCHIVE_CAP:
            raw = _member(_git(git_dir, "cat-file", "blob", parts[2]), path)
            if raw is not None:
                _parse(raw, row)
        yield row


def load(mirrors: Path, cache: Path) -> tuple[list[SquatFile], str]:
    """The corpus's files (cached as JSON lines under ``cache`` by commit), and a note for the report."""
    from bench._common import mirror_git_dir

    row = read_manifest()
    git_dir = mirror_git_dir(mirrors, row["repo"])
    cached = cache / f"squatmeta-{row['commit'][:12]}.jsonl"
    if cached.is_file():
        files = [SquatFile(**json.loads(line)) for line in cached.read_text(encoding="utf-8").splitlines()]
    else:
        if not git_dir.is_dir():
            return [], f"squat metadata corpus not measured: no copy of {row['repo']} in --mirrors"
        files = list(read_corpus(git_dir, row["commit"]))
        cache.mkdir(parents=True, exist_ok=True)
        cached.write_text("".join(json.dumps(asdict(f)) + "\n" for f in files), encoding="utf-8")
    with_meta = sum(f.metadata for f in files)
    return files, (f"{row['repo']} at {row['commit'][:12]}: {len(files)} files, {with_meta} with a PKG-INFO/METADATA "
                   "member")

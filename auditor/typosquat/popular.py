"""The ranked popularity lists the detectors compare against (PyPI projects, Hugging Face orgs).

Loaded once per process from the shipped ``data/`` files; a missing or malformed file is an ``InputError`` naming
the file, never an empty list (an empty list would make every name look "clean").
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass, field
from pathlib import Path

from auditor.domain import canonical_name
from auditor.errors import InputError
from auditor.resources import data_file

TOP_PYPI_FILE = "top_pypi.tsv"
HF_ORGS_FILE = "hf_orgs.tsv"


@dataclass
class PopularList:
    """Names in rank order (rank 1 first) with a popularity weight (downloads, or references for HF orgs).

    ``keys`` are the comparison spelling (PEP 503 for PyPI, lower case for HF orgs); ``display`` keeps the
    spelling to show (HF orgs keep their most frequent capitalisation).
    """

    kind: str  # "pypi" | "hf"
    keys: list[str] = field(default_factory=list)
    display: list[str] = field(default_factory=list)
    weights: list[int] = field(default_factory=list)
    source: str = ""
    rank_of: dict[str, int] = field(default_factory=dict)  # key -> 1-based rank

    def add(self, key: str, display: str, weight: int) -> None:
        if key in self.rank_of:
            return
        self.keys.append(key)
        self.display.append(display)
        self.weights.append(weight)
        self.rank_of[key] = len(self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: object) -> bool:
        return key in self.rank_of


def _read_tsv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
    except OSError as exc:
        raise InputError(f"cannot read popularity list: {exc}", file=str(path)) from exc
    if not rows:
        raise InputError("popularity list is empty", file=str(path))
    return rows


def load_pypi(path: Path | None = None) -> PopularList:
    path = path or data_file(TOP_PYPI_FILE)
    out = PopularList(kind="pypi", source=str(path.name))
    for lineno, row in enumerate(_read_tsv(path), start=2):
        try:
            name, downloads = row["name"], int(row["downloads"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed row ({exc})", file=str(path), line=lineno) from exc
        key = canonical_name(name)
        out.add(key, key, downloads)
    return out


def load_hf_orgs(path: Path | None = None) -> PopularList:
    """HF orgs ordered by how many source repositories reference them (the README's popularity-like order)."""
    path = path or data_file(HF_ORGS_FILE)
    rows = _read_tsv(path)
    parsed: list[tuple[int, int, str]] = []
    for lineno, row in enumerate(rows, start=2):
        try:
            parsed.append((int(row["n_source_repos"]), int(row["n_model_ids"]), row["org"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed row ({exc})", file=str(path), line=lineno) from exc
    parsed.sort(key=lambda t: (-t[0], -t[1], t[2].lower()))
    out = PopularList(kind="hf", source=str(path.name))
    for repos, ids, org in parsed:
        out.add(org.lower(), org, repos * 1000 + ids)
    return out


@functools.lru_cache(maxsize=2)
def default_pypi() -> PopularList:
    return load_pypi()


@functools.lru_cache(maxsize=2)
def default_hf_orgs() -> PopularList:
    return load_hf_orgs()

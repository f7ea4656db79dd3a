"""The candidate indexes, kept in mlaudit's cache between runs and rebuilt only when what they derive from changes.

Why: building the PyPI and Hugging Face indexes (affix vocabulary, character model, skeletons, token sets, edit
index) took about 0.4 s of CPU on every audit -- a third of an offline re-audit of a 200-package lock -- to derive
the same tables from the same shipped files. They depend on nothing else: the popularity list's bytes and the code
that derives the tables. The cache key is the fingerprint of both (the list file, the source of every module that
builds an index, the Python version whose ``marshal`` format holds them), so a new list, an upgrade or an edit of
the derivation gets a new file, never a stale index.

Safe by construction: a file is written whole under a temporary name and renamed (``cache.atomic_write``), so two
runs that build at once each rename a complete file and a reader never sees half of one; a file that does not read
back as the expected tables (truncated, corrupt, another format) is ignored and rebuilt; a cache that cannot be
written costs only the rebuild. ``marshal`` holds plain tables (dicts, lists, strings, numbers): loading it runs
nothing, and the file lives in the user's own cache folder.
"""

from __future__ import annotations

import hashlib
import marshal
import sys
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from auditor.cache import atomic_write, cache_dir
from auditor.typosquat import affixes, confusables, index, naturalness, popular
from auditor.typosquat.affixes import AffixVocabulary
from auditor.typosquat.index import CandidateIndex
from auditor.typosquat.naturalness import CharModel
from auditor.typosquat.popular import PopularList

FORMAT = 2  # the layout of the stored tables (``_tables``); the derivation's own changes are in the fingerprint
FOLDER = "typosquat"
MAX_ANSWERS = 50_000  # names whose look-alike candidates are kept between runs
_DERIVING = (affixes, confusables, index, naturalness, popular, sys.modules[__name__])


def fingerprint(source: Path) -> str:
    """What the index of ``source`` derives from: the list's bytes, the deriving code, the marshal format."""
    digest = hashlib.sha256()
    digest.update(f"format {FORMAT} python {sys.version_info[:2]} marshal {marshal.version}\n".encode())
    digest.update(source.read_bytes())
    for module in _DERIVING:
        code = getattr(module, "__file__", None)
        digest.update(Path(code).read_bytes() if code else module.__name__.encode())
    return digest.hexdigest()[:32]


def load_or_build(kind: str, source: Path, build: Any) -> CandidateIndex:
    """The index of ``source`` from the cache, else ``build()`` (a ``CandidateIndex``) stored for the next run.
    The names a run looked up (``prefetch``) are kept too, so the next audit of the same lock looks up none."""
    try:
        key = fingerprint(source)
        folder = cache_dir() / FOLDER
    except OSError:
        return build()  # type: ignore[no-any-return]
    path = folder / f"{kind}-{key}.marshal"
    idx = _read(path, kind) or _store(path, folder, kind, build)
    answers = folder / f"{kind}-{key}.near.marshal"
    idx.near_cache.update(_read_answers(answers, len(idx.popular)))
    idx.on_prefetch = lambda found: _add_answers(answers, found, len(idx.popular))
    return idx


def _store(path: Path, folder: Path, kind: str, build: Any) -> CandidateIndex:
    built: CandidateIndex = build()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(path, marshal.dumps(_tables(built)))
        for old in folder.glob(f"{kind}-*.marshal"):  # the indexes of lists and code this install no longer has
            if old != path and not old.name.startswith(path.stem):
                old.unlink(missing_ok=True)
    except (OSError, ValueError):
        pass  # an unwritable cache costs the next run the build, nothing else
    return built


def _read_answers(path: Path, listed: int) -> dict[str, dict[int, int]]:
    """Stored ``near`` answers (name -> listed id -> distance); anything unexpected reads as none."""
    try:
        answers = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if not isinstance(answers, dict):
        return {}
    good: dict[str, dict[int, int]] = {}
    for name, found in answers.items():
        if not (isinstance(name, str) and isinstance(found, dict)):
            return {}
        if not all(isinstance(i, int) and 0 <= i < listed and d in (1, 2) for i, d in found.items()):
            return {}
        good[name] = found
    return good


def _add_answers(path: Path, found: dict[str, dict[int, int]], listed: int) -> None:
    """Merge a run's new answers into the stored ones (a racing run's own may be lost: recomputed, never wrong);
    bounded so that one huge lock does not make every later small audit read a large file."""
    if not found:
        return
    answers = _read_answers(path, listed)
    if len(answers) >= MAX_ANSWERS:
        return
    answers.update(found)
    try:
        atomic_write(path, marshal.dumps(answers))
    except (OSError, ValueError):
        pass


def _read(path: Path, kind: str) -> CandidateIndex | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        return _index(marshal.loads(data), kind)
    except (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None  # not the tables this code wrote: rebuilt (and rewritten)


K = TypeVar("K")
_TOKENS = "\x1f"  # joins a token-set key's tokens in a packed table (listed names hold no control characters)


class PackedTable(Mapping[K, list[int]]):
    """A read-only ``key -> ids`` table as it is stored: the keys' texts sorted, one flat array of ids, and where
    each key's ids end in it. A look-up is a binary search.

    Why: the same table as a dict of ~15,000 small lists took ~6 ms to unmarshal on every run (the skeletons; ~5 ms
    the token sets), for the few hundred look-ups an audit makes; these three objects load in well under a
    millisecond. Answers are the dict's: the same keys, the same ids in the same order.
    """

    __slots__ = ("_texts", "_ids", "_ends", "_joined")

    def __init__(self, texts: list[str], ids: array[int], ends: array[int], joined: bool) -> None:
        self._texts, self._ids, self._ends, self._joined = texts, ids, ends, joined

    @classmethod
    def pack(cls, table: Mapping[Any, Sequence[int]], *, joined: bool) -> tuple[list[str], bytes, bytes] | None:
        """The stored form of ``table`` (``joined``: tuple keys of tokens), ``None`` when a key cannot be packed."""
        rows: list[tuple[str, Sequence[int]]] = []
        for key, ids in table.items():
            if joined:
                if not (isinstance(key, tuple) and all(isinstance(t, str) and _TOKENS not in t for t in key)):
                    return None
                rows.append((_TOKENS.join(key), ids))
            elif isinstance(key, str):
                rows.append((key, ids))
            else:
                return None
        rows.sort(key=lambda row: row[0])
        flat, ends = array("I"), array("I")
        for _text, ids in rows:
            flat.extend(ids)
            ends.append(len(flat))
        return [text for text, _ids in rows], flat.tobytes(), ends.tobytes()

    @classmethod
    def unpack(cls, stored: Any, *, joined: bool, listed: int) -> PackedTable[Any]:
        texts, raw_ids, raw_ends = stored
        ids, ends = array("I"), array("I")
        ids.frombytes(raw_ids)
        ends.frombytes(raw_ends)
        if not (isinstance(texts, list) and len(texts) == len(ends) and (not ends or ends[-1] == len(ids))
                and (not ids or max(ids) < listed)):
            raise ValueError("packed table does not hold together")
        return cls(texts, ids, ends, joined)

    def _find(self, key: object) -> int:
        if self._joined:
            if not isinstance(key, tuple) or not all(isinstance(t, str) for t in key):
                return -1
            text = _TOKENS.join(key)
        elif isinstance(key, str):
            text = key
        else:
            return -1
        i = bisect_left(self._texts, text)
        return i if i < len(self._texts) and self._texts[i] == text else -1

    def __getitem__(self, key: K) -> list[int]:
        i = self._find(key)
        if i < 0:
            raise KeyError(key)
        return self._ids[self._ends[i - 1] if i else 0:self._ends[i]].tolist()

    def __contains__(self, key: object) -> bool:
        return self._find(key) >= 0

    def __iter__(self) -> Iterator[K]:
        for text in self._texts:
            yield tuple(text.split(_TOKENS)) if self._joined else text  # type: ignore[misc]

    def __len__(self) -> int:
        return len(self._texts)


def _tables(idx: CandidateIndex) -> dict[str, Any]:
    pop = idx.popular
    skeletons = PackedTable.pack(idx.skeletons, joined=False)
    token_sets = PackedTable.pack(idx.token_sets, joined=True)
    if skeletons is None or token_sets is None:
        raise ValueError("a table key cannot be packed")
    return {
        "format": FORMAT, "kind": pop.kind, "source": pop.source,
        # most names show as their key: only the others are stored (a second list of 15,000 strings cost ~2 ms)
        "keys": pop.keys, "display": {i: d for i, (k, d) in enumerate(zip(pop.keys, pop.display, strict=True))
                                      if d != k},
        "weights": pop.weights,
        "skeletons": skeletons, "token_sets": token_sets, "prefix_family": dict(idx.prefix_family),
        "separated": idx.vocab.separated, "glued": idx.vocab.glued,
        "chars": [dict(idx.chars.trigrams), dict(idx.chars.bigrams), dict(idx.chars.contexts2),
                  dict(idx.chars.contexts1), dict(idx.chars.unigrams), idx.chars.total],
        "edit_index": idx.edit_index_built, "deletes": idx.deletes,
        "segments": {n: list(tables) for n, tables in idx.segments.items()},
    }


def _index(tables: Any, kind: str) -> CandidateIndex:
    if not isinstance(tables, dict) or tables.get("format") != FORMAT or tables.get("kind") != kind:
        raise ValueError("not a stored candidate index of this kind")
    keys, weights = tables["keys"], tables["weights"]
    if not (isinstance(keys, list) and len(keys) == len(weights) and keys):
        raise ValueError("popularity list columns disagree")
    display = list(keys)
    for i, shown in tables["display"].items():
        display[i] = str(shown)
    pop = PopularList(kind=kind, keys=keys, display=display, weights=weights, source=str(tables["source"]),
                      rank_of=dict(zip(keys, range(1, len(keys) + 1), strict=True)))
    trigrams, bigrams, contexts2, contexts1, unigrams, total = tables["chars"]
    chars = CharModel(trigrams=Counter(trigrams), bigrams=Counter(bigrams), contexts2=Counter(contexts2),
                      contexts1=Counter(contexts1), unigrams=Counter(unigrams), total=int(total))
    idx = CandidateIndex(popular=pop,
                         skeletons=PackedTable.unpack(tables["skeletons"], joined=False, listed=len(keys)),
                         token_sets=PackedTable.unpack(tables["token_sets"], joined=True, listed=len(keys)),
                         prefix_family=Counter(tables["prefix_family"]),
                         vocab=AffixVocabulary(separated=dict(tables["separated"]), glued=dict(tables["glued"])),
                         chars=chars)
    if tables["edit_index"]:
        idx.deletes = dict(tables["deletes"])
        idx.segments = {int(n): (t[0], t[1], t[2]) for n, t in tables["segments"].items()}
        idx.edit_index_built = True
    return idx


__all__ = ["FORMAT", "PackedTable", "fingerprint", "load_or_build"]

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
from collections import Counter
from pathlib import Path
from typing import Any

from auditor.cache import atomic_write, cache_dir
from auditor.typosquat import affixes, confusables, index, naturalness, popular
from auditor.typosquat.affixes import AffixVocabulary
from auditor.typosquat.index import CandidateIndex
from auditor.typosquat.naturalness import CharModel
from auditor.typosquat.popular import PopularList

FORMAT = 1  # the layout of the stored tables (``_tables``); the derivation's own changes are in the fingerprint
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


def _tables(idx: CandidateIndex) -> dict[str, Any]:
    pop = idx.popular
    return {
        "format": FORMAT, "kind": pop.kind, "source": pop.source,
        "keys": pop.keys, "display": pop.display, "weights": pop.weights,
        "skeletons": idx.skeletons, "token_sets": idx.token_sets, "prefix_family": dict(idx.prefix_family),
        "separated": idx.vocab.separated, "glued": idx.vocab.glued,
        "chars": [dict(idx.chars.trigrams), dict(idx.chars.bigrams), dict(idx.chars.contexts2),
                  dict(idx.chars.contexts1), dict(idx.chars.unigrams), idx.chars.total],
        "edit_index": idx.edit_index_built, "deletes": idx.deletes,
        "segments": {n: list(tables) for n, tables in idx.segments.items()},
    }


def _index(tables: Any, kind: str) -> CandidateIndex:
    if not isinstance(tables, dict) or tables.get("format") != FORMAT or tables.get("kind") != kind:
        raise ValueError("not a stored candidate index of this kind")
    keys, display, weights = tables["keys"], tables["display"], tables["weights"]
    if not (isinstance(keys, list) and len(keys) == len(display) == len(weights) and keys):
        raise ValueError("popularity list columns disagree")
    pop = PopularList(kind=kind, keys=keys, display=display, weights=weights, source=str(tables["source"]),
                      rank_of={key: rank for rank, key in enumerate(keys, start=1)})
    trigrams, bigrams, contexts2, contexts1, unigrams, total = tables["chars"]
    chars = CharModel(trigrams=Counter(trigrams), bigrams=Counter(bigrams), contexts2=Counter(contexts2),
                      contexts1=Counter(contexts1), unigrams=Counter(unigrams), total=int(total))
    idx = CandidateIndex(popular=pop, skeletons=dict(tables["skeletons"]), token_sets=dict(tables["token_sets"]),
                         prefix_family=Counter(tables["prefix_family"]),
                         vocab=AffixVocabulary(separated=dict(tables["separated"]), glued=dict(tables["glued"])),
                         chars=chars)
    if tables["edit_index"]:
        idx.deletes = dict(tables["deletes"])
        idx.segments = {int(n): (t[0], t[1], t[2]) for n, t in tables["segments"].items()}
        idx.edit_index_built = True
    return idx


__all__ = ["FORMAT", "fingerprint", "load_or_build"]

"""What counts as a Hugging Face repo id, and how the spellings people use map to one.

Loaders accept both Hub ids (``org/name``, legacy ``gpt2``) and local paths (``./models/x``, ``/data/ckpt``);
only the former are supply-chain dependencies. Library prefixes (timm/open_clip ``hf-hub:org/name``) and
``hf://`` URIs (pandas/polars/fsspec) name Hub repos too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

from auditor.resources import data_file

# The Hub's own rule for a repo name part: letters, digits, '-', '_', '.', at most 96 characters, no '--'/'..'
# (https://huggingface.co/docs/huggingface_hub validators: REPO_ID_REGEX).
_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_REPO_ID_RE = re.compile(rf"^(?:{_PART}/)?{_PART}$")
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
_SHORT_COMMIT_RE = re.compile(r"^(?=[0-9a-f]*[0-9])[0-9a-f]{7,39}$")
_HF_PREFIXES = ("hf-hub:", "hf_hub:")
LEGACY_IDS_FILE = "hf_legacy_ids.tsv"
_FILE_SUFFIXES = (".py", ".json", ".yaml", ".yml", ".txt", ".csv", ".bin", ".pt", ".pth", ".ckpt", ".safetensors",
                  ".onnx", ".gguf", ".pkl", ".h5", ".parquet", ".jsonl", ".tsv", ".zip", ".tar", ".gz", ".md")


def is_commit(revision: str | None) -> bool:
    """A full 40-hex commit sha: the only revision that cannot move under the user."""
    return bool(revision) and COMMIT_RE.match(revision or "") is not None


def is_pinned(revision: str | None) -> bool:
    """A commit, full or abbreviated (``revision="d05c1cb"``: seven or more hex digits name a commit, as git
    abbreviates them; no branch or tag is spelled like that in practice): it cannot move under the user."""
    return is_commit(revision) or (bool(revision) and _SHORT_COMMIT_RE.match(revision or "") is not None)


def looks_like_repo_id(text: str) -> bool:
    """True for ``org/name`` or a legacy single-segment id; False for paths, URLs and file names."""
    if not text or len(text) > 200 or text != text.strip():
        return False
    if text.startswith((".", "/", "~", "\\")) or "\\" in text or ":" in text:
        return False
    if "--" in text or ".." in text:
        return False
    if text.lower().endswith(_FILE_SUFFIXES):
        return False
    return _REPO_ID_RE.match(text) is not None


def strip_hub_prefix(text: str) -> str | None:
    """``hf-hub:org/name`` -> ``org/name`` (timm, open_clip); None when the prefix is absent."""
    for prefix in _HF_PREFIXES:
        if text.startswith(prefix):
            return text[len(prefix):]
    return None


@dataclass(frozen=True)
class HubUri:
    repo_id: str
    kind: str
    revision: str | None


def parse_hf_uri(text: str) -> HubUri | None:
    """``hf://datasets/org/name@rev/path`` or ``hf://org/name/file`` -> the repo it reads from."""
    if not text.startswith("hf://"):
        return None
    rest = text[len("hf://"):]
    kind = "model"
    for prefix, name in (("datasets/", "dataset"), ("models/", "model"), ("spaces/", "space")):
        if rest.startswith(prefix):
            kind, rest = name, rest[len(prefix):]
            break
    if kind == "space" or rest.startswith("buckets/"):
        return None  # a Space is an app, a bucket is storage: neither is a model or dataset repo
    parts = rest.split("/")
    if len(parts) < 2:
        return None
    org, name = parts[0], parts[1]
    revision = None
    if "@" in name:
        name, revision = name.split("@", 1)
    repo_id = f"{org}/{name}"
    return HubUri(repo_id, kind, revision or None) if looks_like_repo_id(repo_id) else None


def hub_endpoints() -> tuple[str, ...]:
    """The Hub's address(es): ``HF_ENDPOINT`` as the audited code would read it now, and huggingface_hub's own."""
    from huggingface_hub import constants  # imported only when a URL is read

    found = (os.environ.get("HF_ENDPOINT") or "", constants.ENDPOINT)
    return tuple(dict.fromkeys(e.rstrip("/") for e in found if e))


def parse_hub_file_url(text: str, endpoints: tuple[str, ...]) -> HubUri | None:
    """``<endpoint>/org/name/blob/<rev>/<file>`` (``resolve``; ``/datasets/...``): a file of a Hub repo, the way
    diffusers' ``from_single_file`` takes a checkpoint -> that repo at that revision. Another host is not the Hub."""
    rest = next((text[len(e) + 1:] for e in endpoints if text.startswith(e + "/")), None)
    if rest is None:
        return None
    kind = "model"
    if rest.startswith("datasets/"):
        kind, rest = "dataset", rest[len("datasets/"):]
    parts = rest.split("/")
    if len(parts) < 5 or parts[2] not in ("blob", "resolve") or not parts[3]:
        return None
    repo_id = f"{parts[0]}/{parts[1]}"
    return HubUri(repo_id, kind, unquote(parts[3])) if looks_like_repo_id(repo_id) else None


def split_manifest_entry(text: str) -> tuple[str, str, str | None]:
    """``"dataset:org/name@rev"`` / ``"org/name@rev"`` / ``"org/name"`` -> (kind, repo_id, revision)."""
    kind = "model"
    body = text.strip()
    for prefix in ("dataset:", "datasets/", "model:", "models/"):
        if body.startswith(prefix):
            kind = "dataset" if prefix.startswith("dataset") else "model"
            body = body[len(prefix):]
            break
    revision: str | None = None
    if "@" in body:
        body, revision = body.split("@", 1)
        revision = revision.strip() or None
    return kind, body.strip(), revision


# -- is this string a Hub reference at all? ---------------------------------------------------------------------
# Why by class and not by list of examples: a loader's argument is a Hub repo, a local path, a placeholder in an
# example or test, or a name some other registry resolves (an evaluation harness's backend "hf", a timm
# architecture). Only the first is a supply-chain dependency; the others are kept listed (excluded, with why), so
# that nothing a loader is given goes unaccounted.

# Words that stand for "fill in your own" in docs, examples and tests (compared per org/name, case-insensitive).
PLACEHOLDER_ORGS = frozenset({
    "orgname", "org-name", "org_name", "organization", "organisation", "my-org", "my_org", "myorg",
    "your-org", "your_org", "yourorg", "your-org-name", "your-organization", "user", "username", "user-name",
    "user_name", "your-username", "your_username", "yourusername", "your-name", "your_name", "your-hf-username",
    "hf-username", "hf_username", "namespace", "owner", "some-org", "someone", "somebody", "someuser", "some-user",
    "foo", "bar", "baz", "xxx", "xxxx", "yyy", "abc", "path", "test", "tests", "fake", "dummy", "mock", "example",
    "examples", "sample", "placeholder", "model-org", "your", "my",
})
PLACEHOLDER_NAMES = frozenset({
    "model", "model-name", "model_name", "modelname", "model-id", "model_id", "my-model", "my_model", "mymodel",
    "your-model", "your_model", "your-model-name", "your_model_name", "some-model", "some_model", "repo",
    "repo-name", "repo_name", "reponame", "repo-id", "repo_id", "name", "foo", "bar", "baz", "xxx", "xxxx", "yyy",
    "dataset", "dataset-name", "dataset_name", "my-dataset", "my_dataset", "your-dataset", "your_dataset",
    "some-dataset", "placeholder", "example", "dummy", "fake", "checkpoint", "adapter", "my-adapter",
    "your-adapter", "to",
})
# Words a test or an example uses for a made-up name (only there: elsewhere they may be parts of real names).
FIXTURE_WORDS = frozenset({"test", "tests", "testing", "fake", "dummy", "mock", "synthetic", "foo", "bar", "baz",
                           "example", "sample", "nonexistent", "non-existent", "does-not-exist", "invalid", "acme",
                           "victim", "attacker", "evil", "some", "someone", "owner", "user", "unknown", "unused"})
# First path segments that are directories a run writes or reads (``outputs/run1``), not Hub organisations.
LOCAL_DIRS = frozenset({
    "model", "models", "checkpoint", "checkpoints", "ckpt", "ckpts", "output", "outputs", "out", "save", "saves",
    "saved", "saved_models", "saved_model", "save_dir", "results", "result", "runs", "run", "logs", "log", "tmp",
    "temp", "data", "weights", "pretrained", "pretrained_models", "cache", "exp", "exps", "experiments", "artifacts",
    "local", "trained", "finetuned", "fine-tuned", "merged", "exported", "export", "dist", "build", "assets",
    "resources", "work_dirs", "work_dir", "workdir", "lightning_logs", "wandb", "mlruns",
})
# Dataset names ``load_dataset`` resolves to its packaged builders (local files), not Hub repos.
PACKAGED_BUILDERS = frozenset({
    "csv", "json", "parquet", "text", "arrow", "pandas", "sql", "imagefolder", "audiofolder", "videofolder",
    "webdataset", "xml", "generator", "spark", "cache", "pdffolder", "niftifolder", "hdf5", "lance", "eval",
})
_PLACEHOLDER_MARK_RE = re.compile(r"[<>{}$%*\s]|\.\.\.|^_+$|^x+$", re.I)
_WORD_SPLIT_RE = re.compile(r"[-_.]")
_MISSING_MARKS = ("nonexist", "non-exist", "non_exist", "does-not-exist", "not-exist", "missing-repo",
                  "no-such")  # a test asserting a name does not exist
_FILLER_WORDS = frozenset({"org", "user", "model", "repo", "name", "id", "hub", "hf", "data", "dataset"})
_FIXTURE_PARTS = frozenset({"test", "tests", "testing", "docs", "doc", "fixtures", "fixture", "examples", "example",
                            "notebooks", "tutorials"})
HF_ORGS_FILE = "hf_orgs.tsv"


@dataclass(frozen=True)
class Reading:
    """What a string given where a model or dataset is named turned out to be: a Hub repo (``repo_id``, normalised),
    or not one (``why_not``: a local path, a placeholder, a name another registry resolves)."""

    repo_id: str | None
    why_not: str | None = None
    local: bool = False  # a path on disk (a local model: the project's own files)


def fixture_context(path_parts: tuple[str, ...]) -> bool:
    """A file in tests, docs, examples, notebooks or benchmarks: made-up names are common there, so names made of
    fixture words (``test/cpu``, ``fake-org/model``) are placeholders, not Hub repos."""
    name = path_parts[-1].lower() if path_parts else ""
    if name.startswith("test_") or name.endswith(("_test.py", "_tests.py")) or name == "conftest.py":
        return True
    return any(part.lower() in _FIXTURE_PARTS for part in path_parts[:-1])


@lru_cache(maxsize=1)
def legacy_ids() -> dict[str, frozenset[str]]:
    """The Hub's legacy single-name repos (``gpt2``, ``bert-base-uncased``, ``imdb``, ``squad``), by kind: since
    every new repo needs a namespace, a single name is a Hub repo only when it is one of these."""
    out: dict[str, set[str]] = {"model": set(), "dataset": set()}
    try:
        lines = data_file(LEGACY_IDS_FILE).read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    for line in lines[1:]:
        kind, _, name = line.partition("\t")
        if kind in out and name.strip():
            out[kind].add(name.strip().lower())
    return {kind: frozenset(names) for kind, names in out.items()}


@lru_cache(maxsize=1)
def known_orgs() -> frozenset[str]:
    """Organisations the Hugging Face ecosystem's own code references (``data/hf_orgs.tsv``): genuine, so never
    read as placeholders (``hf-internal-testing`` is a real org of test models)."""
    try:
        lines = data_file(HF_ORGS_FILE).read_text(encoding="utf-8").splitlines()
    except OSError:
        return frozenset()
    return frozenset(line.split("\t")[1].lower() for line in lines[1:] if line.count("\t") >= 2)


def _words(part: str) -> set[str]:
    return {w for w in _WORD_SPLIT_RE.split(part.lower()) if w}


def read_reference(text: str, kind: str = "model", *, fixture: bool = False,
                   is_local: Callable[[str], bool] | None = None, single_name_org: str | None = None) -> Reading:
    """Decide whether ``text``, given to a loader as a model/dataset name, names a Hub repo.

    A Hub id is ``org/name`` (a trailing ``/`` is dropped: loaders treat ``Org/Model/`` as ``Org/Model``) or one of
    the Hub's legacy single names; an ``hf-hub:`` prefix is read through. Not a Hub repo: a path (``./ckpt``,
    ``/data/x``, ``outputs/run1``, an existing directory of the project), a file name, a placeholder
    (``my-org/my-model``, ``path/to/model``, ``<model>``, ``${MODEL}``; in tests and examples also ``test/cpu``), any
    other single name (a backend such as ``hf``/``vllm``, a registry key, a directory created at run time).
    """
    raw = text
    text = text.strip()
    prefixed = strip_hub_prefix(text)
    text = prefixed if prefixed is not None else text
    shown = raw.strip()[:120]
    if not text:
        return Reading(None, "an empty name")
    if _PLACEHOLDER_MARK_RE.search(text):
        return Reading(None, f"{shown!r} is a placeholder or template, not a Hub repo")
    if text.startswith((".", "/", "~", "\\")) or "\\" in text or re.match(r"^[A-Za-z]:[/\\]", text) or \
            "://" in text or text.startswith("file:"):
        return Reading(None, f"{shown!r} is a local path or URL, not a Hub repo", local=True)
    if is_local is not None and is_local(text):
        return Reading(None, f"{shown!r} is a directory or file of the project (a local model), not a Hub repo",
                       local=True)
    trimmed = text.rstrip("/")
    parts = trimmed.split("/")
    words = set().union(*(_words(p) for p in parts))
    name_words = _words(parts[-1])
    placeholder = not (len(parts) == 2 and parts[0].lower() in known_orgs()) and (
        any(p.lower() in PLACEHOLDER_ORGS | PLACEHOLDER_NAMES or {"your", "my"} & _words(p) for p in parts[:-1])
        or (len(parts) > 1 and parts[-1].lower() in PLACEHOLDER_NAMES) or "your" in name_words
        or (fixture and (any(_words(p) <= FIXTURE_WORDS | _FILLER_WORDS for p in parts)
                         or any(m in trimmed.lower() for m in _MISSING_MARKS))))
    if len(parts) > 2:
        if placeholder or "path" in words:
            return Reading(None, f"{shown!r} is a placeholder path, not a Hub repo")
        return Reading(None, f"{shown!r} is a relative path (more than org/name), not a Hub repo", local=True)
    if trimmed.lower().endswith(_FILE_SUFFIXES):
        return Reading(None, f"{shown!r} is a file name, not a Hub repo", local=True)
    if _REPO_ID_RE.match(trimmed) is None or "--" in trimmed or ".." in trimmed or ":" in trimmed:
        return Reading(None, f"{shown!r} is not a valid Hub repo id")
    if placeholder:
        return Reading(None, f"{shown!r} is a placeholder name, not a Hub repo")
    if len(parts) == 2:
        if parts[0].lower() in LOCAL_DIRS and parts[0].lower() not in known_orgs():
            return Reading(None, f"{shown!r} is a relative path ({parts[0]}/ is a directory a run writes or reads), "
                                 "not a Hub repo", local=True)
        return Reading(trimmed)
    name = trimmed.lower()
    if kind == "dataset":
        if name in PACKAGED_BUILDERS:
            return Reading(None, f"{shown!r} is a packaged dataset builder (reads local files), not a Hub repo")
        if name in legacy_ids()["dataset"]:
            return Reading(trimmed)
        return Reading(None, f"{shown!r} is a single name that is not one of the Hub's legacy datasets (a Hub id is "
                             "org/name): a local builder or directory, a registry name or a placeholder")
    if single_name_org:
        return Reading(f"{single_name_org}/{trimmed}")
    if name in legacy_ids()["model"]:
        return Reading(trimmed)
    return Reading(None, f"{shown!r} is a single name that is not one of the Hub's legacy models (a Hub id is "
                         "org/name): a backend or registry name, a local directory created at run time, or a "
                         "placeholder")


__all__ = ["COMMIT_RE", "FIXTURE_WORDS", "HubUri", "LEGACY_IDS_FILE", "LOCAL_DIRS", "PACKAGED_BUILDERS", "Reading",
           "fixture_context", "is_commit", "is_pinned", "known_orgs", "legacy_ids", "looks_like_repo_id", "parse_hf_uri",
           "read_reference", "split_manifest_entry", "strip_hub_prefix"]

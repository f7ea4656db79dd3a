"""What counts as a Hugging Face repo id, and how the spellings people use map to one.

Loaders accept both Hub ids (``org/name``, legacy ``gpt2``) and local paths (``./models/x``, ``/data/ckpt``);
only the former are supply-chain dependencies. Library prefixes (timm/open_clip ``hf-hub:org/name``) and
``hf://`` URIs (pandas/polars/fsspec) name Hub repos too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The Hub's own rule for a repo name part: letters, digits, '-', '_', '.', at most 96 characters, no '--'/'..'
# (https://huggingface.co/docs/huggingface_hub validators: REPO_ID_REGEX).
_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_REPO_ID_RE = re.compile(rf"^(?:{_PART}/)?{_PART}$")
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
_HF_PREFIXES = ("hf-hub:", "hf_hub:")
_FILE_SUFFIXES = (".py", ".json", ".yaml", ".yml", ".txt", ".csv", ".bin", ".pt", ".pth", ".ckpt", ".safetensors",
                  ".onnx", ".gguf", ".pkl", ".h5", ".parquet", ".jsonl", ".tsv", ".zip", ".tar", ".gz", ".md")


def is_commit(revision: str | None) -> bool:
    """A full 40-hex commit sha: the only revision that cannot move under the user."""
    return bool(revision) and COMMIT_RE.match(revision or "") is not None


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
    if kind == "space":
        return None
    parts = rest.split("/")
    if len(parts) < 2:
        return None
    org, name = parts[0], parts[1]
    revision = None
    if "@" in name:
        name, revision = name.split("@", 1)
    repo_id = f"{org}/{name}"
    return HubUri(repo_id, kind, revision or None) if looks_like_repo_id(repo_id) else None


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

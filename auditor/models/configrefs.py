"""Model and dataset references in training and serving configs: YAML, JSON and TOML.

Most fine-tuning projects name their models in configs, not in code: LLaMA-Factory and axolotl YAML
(``model_name_or_path``, ``base_model``, ``trust_remote_code: true``), HF Trainer argument JSON, torchtune and
lit-gpt recipes, serving configs (``model_id``, ``tokenizer_name``). A reference is the value of a *model key*
that looks like a Hub id and is not a local path or a placeholder; the ``revision`` and ``trust_remote_code`` of the
same mapping (or an enclosing one) come along. Line numbers are exact: YAML is read with ``yaml.compose`` and the
safe loader's resolver (node tree with marks; nothing is constructed, no tag runs code), JSON and TOML values are
found back in the text.

Precision over recall on purpose: keys that name where a trained model is *pushed* (``hub_model_id``,
``output_dir``) are not dependencies; single-segment names (``gpt2``) count only under the keys that always
name a model to load; values such as ``path_to_model``, ``<your-model>``, ``${MODEL}`` or ``saves/llama3/lora``
are not references.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from auditor.domain import Location, ModelRef, RemoteCodeSite, Skipped
from auditor.ledger import ItemKind
from auditor.models.repoid import looks_like_repo_id, strip_hub_prefix
from auditor.safeload import compose_yaml, loads_json, loads_toml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ORIGIN = "training-config"
CONFIG_SUFFIXES = (".yaml", ".yml", ".json", ".toml")
# Keys that always name a model (or tokenizer) to load (a local path under one of them is a local model).
STRONG_KEYS = frozenset({
    "model_name_or_path", "base_model", "base_model_name_or_path", "pretrained_model_name_or_path",
    "tokenizer_name", "tokenizer_name_or_path", "model_id", "base_model_id", "adapter_name_or_path",
    "teacher_model_name_or_path", "ref_model", "reward_model", "tokenizer_config",
    "base_model_config",
})
# The Hugging Face argument names: only under these does a single-segment legacy id (``gpt2``) count.
LEGACY_ID_KEYS = frozenset({"model_name_or_path", "pretrained_model_name_or_path", "base_model",
                            "base_model_name_or_path", "tokenizer_name", "tokenizer_name_or_path"})
# Other keys that name a model: an ``org/name`` value counts (``reward_model``, ``vision_tower``, ``draft_model``).
_MODEL_KEY_RE = re.compile(r"^(?:[a-z0-9]+_)*(?:model|tokenizer|processor|encoder|tower|adapter)"
                           r"(?:_name)?(?:_or_path|_id|_path)?$")
NOT_DEPENDENCIES = frozenset({"hub_model_id", "output_dir", "push_to_hub_model_id", "save_model", "export_dir",
                              "output_model", "model_type", "tokenizer_type", "model_class", "model_max_length",
                              "output_model_name"})
DATASET_KEYS = frozenset({"dataset_name", "dataset_name_or_path", "hf_dataset"})
DATASET_LISTS = frozenset({"datasets", "test_datasets", "pretraining_dataset"})  # axolotl: - path: org/name
REVISION_KEYS = ("revision", "model_revision")
TRUST_KEYS = ("trust_remote_code", "trust-remote-code")
_PLACEHOLDER_RE = re.compile(
    r"(?:^|[/_-])(?:path|your|my|xxx+|todo|changeme|placeholder|example|local|dummy|none|null)(?:$|[/_-])"
    r"|[<>{}$%*]|^(?:model|models|tokenizer|base|checkpoint|ckpt|output|outputs|saves?)(?:$|/)", re.I)
# A file mentioning none of these cannot hold a reference: not parsed.
_PREFILTER_RE = re.compile(r"model|tokenizer|dataset|trust.remote.code|processor|encoder|tower|adapter", re.I)
# Files that are configs of tools, packages and data, never of models.
SKIP_NAMES = frozenset({
    "package.json", "package-lock.json", "tsconfig.json", "jsconfig.json", ".pre-commit-config.yaml",
    "pyproject.toml", "mlaudit.toml", "poetry.lock", "cargo.toml", "mkdocs.yml", "mkdocs.yaml",
    "environment.yml", "environment.yaml", "docker-compose.yml", "docker-compose.yaml", "codecov.yml",
    ".readthedocs.yaml", ".readthedocs.yml", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "vocab.json", "generation_config.json", "preprocessor_config.json", "dataset_info.json", "citation.cff",
    "config.json", "adapter_config.json", "pylock.toml", "uv.lock", ".markdownlint.yaml", "ruff.toml",
    ".ruff.toml", "setup.cfg", "requirements.yaml",
})
SKIP_DIR_PARTS = frozenset({".github", ".gitlab", ".circleci", "node_modules"})


@dataclass
class ConfigRefs:
    refs: list[ModelRef]
    sites: list[RemoteCodeSite]
    skipped: list[Skipped]


def is_config_file(rel_parts: tuple[str, ...], name: str) -> bool:
    lower = name.lower()
    if not lower.endswith(CONFIG_SUFFIXES) or lower in SKIP_NAMES or lower.endswith((".schema.json", ".lock")):
        return False
    return not (SKIP_DIR_PARTS & set(rel_parts))


def may_hold_models(text: str) -> bool:
    return _PREFILTER_RE.search(text) is not None


def is_model_key(key: str) -> bool:
    key = key.lower().replace("-", "_")
    if key in NOT_DEPENDENCIES:
        return False
    return key in STRONG_KEYS or _MODEL_KEY_RE.match(key) is not None


def hub_value(key: str, value: object, is_local: Any = None) -> str | None:
    """The Hub id a model key's value names, or None (not a string, a path, a placeholder, a URL)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    prefixed = strip_hub_prefix(text)
    text = prefixed if prefixed is not None else text
    if not text or not looks_like_repo_id(text) or _PLACEHOLDER_RE.search(text):
        return None
    if "/" not in text and key.lower().replace("-", "_") not in LEGACY_ID_KEYS:
        return None
    if "/" not in text and not re.search(r"[a-z]", text, re.I):
        return None
    if is_local is not None and is_local(text):
        return None
    return text


# -- a format-independent view: (key, value, line, children) ------------------------------------------------------
@dataclass
class _Entry:
    key: str
    value: object  # scalar (str/bool/int/float/None), or None for a container
    line: int | None
    children: list[_Entry] | None  # mapping entries; a list is a mapping keyed "0", "1", ...


def read_config(text: str, shown: str, suffix: str, is_local: Any = None) -> ConfigRefs:
    """References in one config file. A malformed file is a skipped entry (it might be a config we should read)."""
    out = ConfigRefs([], [], [])
    try:
        roots = list(_entries(text, suffix))
    except (yaml.YAMLError, ValueError, tomllib.TOMLDecodeError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 1) if mark is not None else getattr(exc, "lineno", None)
        message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        out.skipped.append(Skipped(reason=f"cannot parse {suffix.lstrip('.').upper()} ({message}); model "
                                          "references in it not read", file=shown, line=line,
                                   kind=ItemKind.INPUT_FILE))
        return out
    for root in roots:
        _walk(root.children or [], shown, out, None, is_local, in_datasets=False)
    return out


def _walk(entries: list[_Entry], shown: str, out: ConfigRefs, inherited: tuple[bool, int | None] | None,
          is_local: Any, in_datasets: bool) -> None:
    scalars = {e.key.lower().replace("-", "_"): e for e in entries if e.children is None}
    trust = inherited
    for key in TRUST_KEYS:
        entry = scalars.get(key.replace("-", "_"))
        if entry is not None and isinstance(entry.value, bool):
            trust = (entry.value, entry.line)
    revision = next((scalars[k].value for k in REVISION_KEYS if k in scalars and isinstance(scalars[k].value, str)),
                    None)
    models: list[str] = []
    local = False  # a model key names a local directory: remote code from it is the project's own files
    for entry in entries:
        if entry.children is not None:
            continue
        key = entry.key.lower().replace("-", "_")
        kind = None
        if in_datasets and key == "path" or key in DATASET_KEYS:
            kind = "dataset"
            repo = hub_value("model_name_or_path", entry.value, is_local)
            repo = repo if repo is not None and "/" in repo else None
        elif is_model_key(key):
            kind = "model"
            repo = hub_value(key, entry.value, is_local)
        else:
            continue
        if repo is None:
            local = local or (kind == "model" and key in STRONG_KEYS and isinstance(entry.value, str)
                              and bool(entry.value.strip()))
            continue
        flag = trust[0] if trust is not None and kind == "model" else None
        out.refs.append(ModelRef(repo_id=repo, kind=kind, revision=revision if isinstance(revision, str) else None,
                                 location=Location(shown, entry.line), origin=ORIGIN, trust_remote_code=flag))
        if kind == "model":
            models.append(repo)
    own_trust = trust is not None and trust is not inherited
    if own_trust and trust is not None and trust[0] and (models or not local):
        out.sites.append(RemoteCodeSite(
            location=Location(shown, trust[1]), models=models,
            runtime=None if models else "any model chosen at run time (the config names none)",
            because="trust_remote_code: true", revision=revision if isinstance(revision, str) else None))
    for entry in entries:
        if entry.children is not None:
            key = entry.key.lower().replace("-", "_")
            _walk(entry.children, shown, out, trust, is_local,
                  in_datasets=key in DATASET_LISTS or (in_datasets and key.isdigit()))


def _entries(text: str, suffix: str) -> Iterator[_Entry]:
    """Parsed with the bounded loaders (``auditor.safeload``): an alias budget for YAML, a nesting bound for all
    three, so the recursive walk above never meets an alias bomb or a structure deep enough to overflow."""
    if suffix in (".yaml", ".yml"):
        for node in compose_yaml(text):
            yield _yaml(node, "")
    elif suffix == ".json":
        data = loads_json(text)
        yield _located("", data, text, [0, 1])
    else:
        data = loads_toml(text)
        yield _located("", data, text, [0, 1])


_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_INT = "tag:yaml.org,2002:int"


def _yaml(node: yaml.Node, key: str) -> _Entry:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        children = []
        for k, v in node.value:
            name = str(k.value) if isinstance(k, yaml.ScalarNode) else "?"
            child = _yaml(v, name)
            if child.children is None:
                child.line = k.start_mark.line + 1
            children.append(child)
        return _Entry(key, None, line, children)
    if isinstance(node, yaml.SequenceNode):
        return _Entry(key, None, line, [_yaml(v, str(i)) for i, v in enumerate(node.value)])
    value: object = node.value
    if node.tag == _BOOL:
        value = str(node.value).lower() in ("true", "yes", "on", "y")
    elif node.tag == _NULL:
        value = None
    elif node.tag == _INT:
        value = None  # numbers are never references
    return _Entry(key, value, line, None)


def _located(key: str, data: object, text: str, cursor: list[int]) -> _Entry:
    """JSON/TOML values with their lines, found back in the text in document order (``cursor`` moves forward)."""
    if isinstance(data, dict):
        return _Entry(key, None, None, [_located(str(k), v, text, cursor) for k, v in data.items()])
    if isinstance(data, list):
        return _Entry(key, None, None, [_located(str(i), v, text, cursor) for i, v in enumerate(data)])
    line = None
    if isinstance(data, (str, bool)) and key and not key.isdigit() and (
            is_model_key(key) or key.lower().replace("-", "_") in (*TRUST_KEYS, *DATASET_KEYS, "path")):
        match = re.compile(rf"[\"']?{re.escape(key)}[\"']?\s*[:=]").search(text, cursor[0])
        if match is not None:
            line = cursor[1] + text.count("\n", cursor[0], match.start())
            cursor[0], cursor[1] = match.end(), line + text.count("\n", match.start(), match.end())
    return _Entry(key, data, line, None)


__all__ = ["ConfigRefs", "ORIGIN", "hub_value", "is_config_file", "is_model_key", "may_hold_models", "read_config"]

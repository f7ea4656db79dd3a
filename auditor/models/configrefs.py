"""Model and dataset references in training and serving configs: YAML, JSON and TOML.

Most fine-tuning projects name their models in configs, not in code: LLaMA-Factory and axolotl YAML
(``model_name_or_path``, ``base_model``, ``trust_remote_code: true``), HF Trainer argument JSON, torchtune and
lit-gpt recipes, serving configs (``model_id``, ``tokenizer_name``). A reference is the value of a *model key*
that looks like a Hub id and is not a local path or a placeholder; the ``revision`` and ``trust_remote_code`` of the
same mapping (or an enclosing one) come along. Line numbers are exact: YAML is read with ``yaml.compose`` and the
safe loader's resolver (node tree with marks; nothing is constructed, no tag runs code), JSON and TOML values are
found back in the text.

Precision over recall on purpose: keys that name where a trained model is *pushed* (``hub_model_id``,
``output_dir``) are not dependencies; values such as ``path_to_model``, ``<your-model>``, ``${MODEL}`` or
``saves/llama3/lora`` are not Hub references (``auditor.models.repoid.read_reference``) -- under a key that always
names a model to load, or when they look like ``org/name``, they are listed as excluded items with why.

Editor and tool configs (``.devcontainer/devcontainer.json``, VS Code settings, ``tsconfig*.json``) are JSON with
comments (JSONC): they are read leniently, and one that still does not parse is listed as excluded, never a gap.
A training config that does not parse is a gap (skipped, the report incomplete).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditor.domain import Excluded, Location, ModelRef, RemoteCodeSite, Skipped
from auditor.ledger import ItemKind
from auditor.models.configfiles import is_config_file
from auditor.models.repoid import Reading, fixture_context, read_reference
from auditor.safeload import compose_yaml, loads_json, loads_toml

if TYPE_CHECKING:
    import yaml
if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ORIGIN = "training-config"
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
# Keys of a mapping that describes a model served behind an API (its ``model`` is the API's model name).
API_KEYS = frozenset({"provider", "api_base", "base_url", "api_key", "api_key_env", "endpoint", "openai_api_base",
                      "api_type", "api_version", "model_provider", "litellm_provider"})
DATASET_KEYS = frozenset({"dataset_name", "dataset_name_or_path", "hf_dataset"})
DATASET_LISTS = frozenset({"datasets", "test_datasets", "pretraining_dataset"})  # axolotl: - path: org/name
REVISION_KEYS = ("revision", "model_revision")
TRUST_KEYS = ("trust_remote_code", "trust-remote-code")
_PLACEHOLDER_RE = re.compile(r"^(?:todo|changeme|tbd|none|null|nil|n/?a)$", re.I)
# A file mentioning none of these cannot hold a reference: not parsed.
_PREFILTER_RE = re.compile(r"model|tokenizer|dataset|trust.remote.code|processor|encoder|tower|adapter", re.I)
# Editor and tool configuration (JSON with comments), never a training config.
EDITOR_DIR_PARTS = frozenset({".devcontainer", ".vscode", ".idea", ".zed", ".fleet", ".theia"})
_EDITOR_NAME_RE = re.compile(r"^(?:[tj]sconfig(?:\.[\w-]+)*\.json|\.?(?:eslintrc|babelrc|prettierrc|stylelintrc|swcrc)"
                             r"(?:\.json)?|devcontainer\.json|[\w.-]+\.code-workspace|biome\.jsonc?|deno\.jsonc?|"
                             r"turbo\.json|renovate\.json5?|\.renovaterc(?:\.json)?|launch\.json|"
                             r"components\.json|nx\.json|lerna\.json|vercel\.json|tslint\.json)$", re.I)


@dataclass
class ConfigRefs:
    refs: list[ModelRef]
    sites: list[RemoteCodeSite]
    skipped: list[Skipped]
    excluded: list[Excluded] = field(default_factory=list)


def editor_config(rel_parts: tuple[str, ...], name: str) -> bool:
    """An editor's or a JavaScript/TypeScript tool's configuration: JSONC, never a model's or a run's config."""
    return bool(EDITOR_DIR_PARTS & set(rel_parts)) or _EDITOR_NAME_RE.match(name) is not None


def may_hold_models(text: str) -> bool:
    return _PREFILTER_RE.search(text) is not None


def is_model_key(key: str) -> bool:
    key = key.lower().replace("-", "_")
    if key in NOT_DEPENDENCIES:
        return False
    return key in STRONG_KEYS or _MODEL_KEY_RE.match(key) is not None


def hub_value(key: str, value: object, is_local: Any = None) -> str | None:
    """The Hub id a model key's value names, or None (not a string, a path, a placeholder, a URL)."""
    reading = read_value(key, value, is_local)
    return reading.repo_id if reading is not None else None


def read_value(key: str, value: object, is_local: Any = None, kind: str = "model",
               fixture: bool = False) -> Reading | None:
    """What a model key's value is (``read_reference``); None for what is no name at all (not a string, empty,
    ``null``/``TODO``-style fillers)."""
    if not isinstance(value, str) or not value.strip() or _PLACEHOLDER_RE.match(value.strip()):
        return None
    reading = read_reference(value, kind, fixture=fixture, is_local=is_local)
    if reading.repo_id is not None and "/" not in reading.repo_id and \
            key.lower().replace("-", "_") not in LEGACY_ID_KEYS and kind == "model":
        return Reading(None, f"{value.strip()[:120]!r} is a single name under {key!r}, a key that does not always "
                             "name a Hub model")
    return reading


# -- a format-independent view: (key, value, line, children) ------------------------------------------------------
@dataclass
class _Entry:
    key: str
    value: object  # scalar (str/bool/int/float/None), or None for a container
    line: int | None
    children: list[_Entry] | None  # mapping entries; a list is a mapping keyed "0", "1", ...


def read_config(text: str, shown: str, suffix: str, is_local: Any = None, *, parts: tuple[str, ...] = (),
                editor: bool = False) -> ConfigRefs:
    """References in one config file. A malformed file is a skipped entry (it might be a config we should read);
    an editor's JSONC is read leniently, and left out, listed, when even that fails."""
    out = ConfigRefs([], [], [])
    if suffix == ".json" and (editor or _has_comments(text)):
        text = strip_jsonc(text)
    import yaml  # here, not at module level: most runs read no YAML config (issue 25, start-up)

    try:
        roots = list(_entries(text, suffix))
    except (yaml.YAMLError, ValueError, tomllib.TOMLDecodeError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 1) if mark is not None else getattr(exc, "lineno", None)
        message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        if editor:
            out.excluded.append(Excluded(reason=f"an editor or tool configuration, not a training config (and not "
                                                f"valid JSONC: {message}); not read for model references",
                                         file=shown, line=line, kind=ItemKind.INPUT_FILE))
            return out
        out.skipped.append(Skipped(reason=f"cannot parse {suffix.lstrip('.').upper()} ({message}); model "
                                          "references in it not read", file=shown, line=line,
                                   kind=ItemKind.INPUT_FILE))
        return out
    context = _Context(shown, out, is_local, fixture_context(parts) if parts else False)
    for root in roots:
        _walk(root.children or [], context, None, in_datasets=False)
    return out


@dataclass
class _Context:
    shown: str
    out: ConfigRefs
    is_local: Any
    fixture: bool


def _has_comments(text: str) -> bool:
    return "//" in text or "/*" in text


def strip_jsonc(text: str) -> str:
    """JSON with comments (``//``, ``/* */``) and trailing commas, as editors write it, turned into JSON with the
    same lines (comments become spaces; strings are left alone)."""
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
            continue
        if ch == '"':
            in_string = True
            out.append(ch)
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append("".join(c if c == "\n" else " " for c in text[i:end]))
            i = end
        else:
            out.append(ch)
            i += 1
    return re.sub(r",(\s*[}\]])", r" \1", "".join(out))


def _walk(entries: list[_Entry], ctx: _Context, inherited: tuple[bool, int | None] | None,
          in_datasets: bool) -> None:
    shown, out, is_local = ctx.shown, ctx.out, ctx.is_local
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
    # ``{"provider": ..., "model": "google/gemini-2.0-flash-001"}``: a model an API serves, not a Hub download
    api = bool(API_KEYS & set(scalars))
    for entry in entries:
        if entry.children is not None:
            continue
        key = entry.key.lower().replace("-", "_")
        kind = None
        if in_datasets and key == "path" or key in DATASET_KEYS:
            kind = "dataset"
            if key == "dataset_name" and isinstance(entry.value, str) and "/" not in entry.value:
                continue  # a subset of ``dataset_path`` in evaluation configs, not a repo (nor a legacy one)
            reading = read_value("model_name_or_path", entry.value, is_local, "dataset", ctx.fixture)
        elif is_model_key(key) and not (api and key not in STRONG_KEYS):
            kind = "model"
            reading = read_value(key, entry.value, is_local, "model", ctx.fixture)
        else:
            continue
        repo = reading.repo_id if reading is not None else None
        if repo is None:
            local = local or (kind == "model" and key in STRONG_KEYS and isinstance(entry.value, str)
                              and bool(entry.value.strip()))
            if reading is not None and reading.why_not and isinstance(entry.value, str) and (
                    key in STRONG_KEYS or key in DATASET_KEYS or "/" in entry.value):
                value = entry.value.strip()[:120]
                out.excluded.append(Excluded(reason=f"{reading.why_not}: not a {kind} dependency to look up on "
                                                    "the Hub", file=shown, line=entry.line, requirement=value,
                                             kind=ItemKind.MODEL_REFERENCE, subject=value))
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
            _walk(entry.children, ctx, trust, in_datasets=key in DATASET_LISTS or (in_datasets and key.isdigit()))


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
    import yaml

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


__all__ = ["ConfigRefs", "ORIGIN", "editor_config", "hub_value", "is_config_file", "is_model_key", "may_hold_models",
           "read_config", "read_value", "strip_jsonc"]

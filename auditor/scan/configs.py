"""Model configs that name code: Hydra/OmegaConf ``_target_`` (and torchtune's ``_component_``), HyperPyYAML tags
(``!new:``/``!name:``/``!apply:``) and PyYAML ``!!python/...`` tags, wherever a model keeps a config: NeMo's
``model_config.yaml`` inside a ``.nemo`` tar, YAML/JSON files beside the weights, safetensors ``__metadata__``.

Loading such a model calls ``hydra.utils.instantiate`` (or the library's equivalent) on the config: the dotted
path is imported and called with the config's arguments (CVE-2025-23304 in NeMo). A config is therefore judged like
a pickle's imports: the library's own classes (by module prefix) are silent, callables that run processes, touch
files, fetch from the network or import by name are critical/high, anything else is named at medium. Documents are
*composed*, never constructed (``yaml.compose``: tags are recorded, nothing is built), and aliases are shared
nodes walked once, so an alias bomb costs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from auditor.domain import Severity
from auditor.kinds import ScanRule
from auditor.scan.allowlist import DANGEROUS, SAFE, classify
from auditor.scan.state import ScanState

# Keys whose string value a config loader imports and calls.
TARGET_KEYS = ("_target_", "_component_")
# Hydra's other special keys: they change how a target is called but name nothing themselves.
HYDRA_KEYS = ("_partial_", "_args_", "_recursive_", "_convert_")

# Libraries whose own classes model configs instantiate (module prefixes). A target inside them is the library
# building its model; a target anywhere else is code the file chose.
LIBRARY_PREFIXES = (
    "nemo.", "megatron.core.", "torch.nn.", "torch.optim.", "torch.utils.data.", "torch.distributions.",
    "torchvision.", "torchaudio.", "torchmetrics.", "torchtune.", "lightning.", "pytorch_lightning.",
    "lightning_fabric.", "transformers.", "timm.", "sam2.", "uni2ts.", "gluonts.", "monai.", "speechbrain.",
    "einops.", "sklearn.", "open_clip.", "diffusers.", "peft.", "omegaconf.", "numpy.", "scipy.", "math.",
)
# Callables inside those libraries (or anywhere) that resolve another name, load another file or fetch one.
_RESOLVERS = frozenset({"hydra.utils.get_method", "hydra.utils.get_class", "hydra.utils.get_object",
                        "hydra.utils.call", "hydra.utils.instantiate", "hydra._internal.utils._locate",
                        "omegaconf.OmegaConf.register_new_resolver", "pydoc.locate", "operator.attrgetter"})
_FETCH_LEAVES = frozenset({"from_pretrained", "restore_from", "load_from_checkpoint", "hf_hub_download",
                           "snapshot_download", "load_state_dict_from_url", "download_url", "download_url_to_file",
                           "get_file", "urlretrieve", "from_config_file", "load_checkpoint", "load_model",
                           "load_weights", "from_file"})
_WRITE_LEAVES = frozenset({"save", "save_pretrained", "save_to", "to_csv", "dump", "write", "write_text",
                           "write_bytes", "savez", "save_checkpoint"})
# HyperPyYAML (speechbrain) and PyYAML python tags that import/call what follows them.
_TAG_PREFIXES = ("!new:", "!name:", "!apply:", "!module:", "tag:yaml.org,2002:python/object/apply:",
                 "tag:yaml.org,2002:python/object/new:", "tag:yaml.org,2002:python/object:",
                 "tag:yaml.org,2002:python/name:", "tag:yaml.org,2002:python/module:")
_MAX_NODES = 2_000_000
_MAX_EMBEDDED = 4  # config strings holding configs (JSON inside safetensors metadata, inside JSON ...)


@dataclass(frozen=True)
class TargetVerdict:
    severity: Severity | None  # None: the library's own class, nothing to report
    why: str


def judge_target(target: str) -> TargetVerdict:
    """How loud a config naming ``target`` (a dotted callable) should be, by what calling it does."""
    name = target.strip()
    if not name or "." not in name:
        return TargetVerdict(Severity.MEDIUM, "a callable without a module path (resolved from the loader's "
                                              "globals or builtins)")
    leaf = name.rsplit(".", 1)[-1]
    if name in _RESOLVERS:
        return TargetVerdict(Severity.CRITICAL, "resolves and calls another name given in the config "
                                                "(arbitrary import)")
    module, _, attr = name.rpartition(".")
    verdict = classify(module, attr)
    first = classify(name.split(".", 1)[0], name.split(".", 1)[1] if "." in name else name)
    if verdict.level == DANGEROUS or first.level == DANGEROUS:
        why = verdict.reason if verdict.level == DANGEROUS else first.reason
        return TargetVerdict(Severity.CRITICAL, why)
    if verdict.level == SAFE:
        return TargetVerdict(None, "a plain data type")
    if leaf in _FETCH_LEAVES:
        return TargetVerdict(Severity.HIGH, "loads or fetches another model file or URL named in the config")
    if leaf in _WRITE_LEAVES:
        return TargetVerdict(Severity.HIGH, "writes files")
    if name.startswith(LIBRARY_PREFIXES) or name.split(".", 1)[0] == "torch" and leaf[:1].isupper():
        return TargetVerdict(None, "a class of the model's own library")
    return TargetVerdict(Severity.MEDIUM, "code outside the model libraries' own classes: whatever is importable "
                                          "under this name runs when the config is instantiated")


@dataclass
class ConfigHit:
    target: str
    where: str  # path inside the document (``model/encoder/_target_``)
    how: str  # "_target_" | "_component_" | tag text
    partial: bool = False
    args: str = ""


def walk_json(value: Any) -> Iterator[ConfigHit]:
    """Targets in a parsed JSON document (iterative: depth is not a recursion risk)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    seen = 0
    while stack:
        node, where, embedded = stack.pop()
        seen += 1
        if seen > _MAX_NODES:
            return
        if isinstance(node, _YamlDoc):
            yield from walk_yaml(node.roots)
            continue
        if isinstance(node, dict):
            for key in TARGET_KEYS:
                target = node.get(key)
                if isinstance(target, str):
                    yield ConfigHit(target, f"{where}/{key}", key, node.get("_partial_") is True,
                                    _short(node.get("_args_")))
                elif target is not None:
                    yield ConfigHit(repr(target)[:120], f"{where}/{key}", key)
            for k, v in node.items():
                stack.append((v, f"{where}/{k}", embedded))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                stack.append((v, f"{where}[{i}]", embedded))
        elif isinstance(node, str) and embedded < _MAX_EMBEDDED and mentions_target(node):
            inner = parse_embedded(node)
            if inner is not None:
                stack.append((inner, where, embedded + 1))


_MARKERS = (*TARGET_KEYS, "!new:", "!name:", "!apply:", "!module:", "!!python/", "tag:yaml.org,2002:python/")


def mentions_target(text: str) -> bool:
    return any(marker in text for marker in _MARKERS)


def parse_embedded(text: str) -> Any:
    """A config kept as a string value (safetensors metadata, a JSON field holding YAML): JSON, else YAML nodes."""
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.loads(stripped)
        except (ValueError, RecursionError):
            pass
    try:
        return _YamlDoc(compose_all(stripped))
    except ConfigError:
        return None


class ConfigError(Exception):
    """The text is not YAML (or is too large/deep to compose)."""


@dataclass
class _YamlDoc:
    roots: list[Any]


def compose_all(text: str) -> list[Any]:
    """YAML documents as node graphs (no object is constructed; tags are kept as written)."""
    import yaml

    try:
        return list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise ConfigError(str(exc)[:200]) from exc


def walk_yaml(roots: list[Any]) -> Iterator[ConfigHit]:
    """Targets and code tags in composed YAML; each node is visited once (aliases share nodes)."""
    import yaml

    visited: set[int] = set()
    stack: list[tuple[Any, str, int]] = [(r, "", 0) for r in reversed(roots) if r is not None]
    while stack:
        node, where, embedded = stack.pop()
        if isinstance(node, _YamlDoc):
            stack.extend((r, where, embedded) for r in reversed(node.roots) if r is not None)
            continue
        if isinstance(node, (dict, list, str)):
            yield from walk_json(node) if not isinstance(node, str) else ()
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        if len(visited) > _MAX_NODES:
            return
        tag = str(getattr(node, "tag", "") or "")
        for prefix in _TAG_PREFIXES:
            if tag.startswith(prefix):
                yield ConfigHit(tag[len(prefix):], where or "/", prefix.replace("tag:yaml.org,2002:", "!!"))
                break
        if isinstance(node, yaml.MappingNode):
            items = {}
            for key, value in node.value:
                k = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
                items[k] = value
                stack.append((value, f"{where}/{k}", embedded))
            for key in TARGET_KEYS:
                target = items.get(key)
                if isinstance(target, yaml.ScalarNode):
                    partial = items.get("_partial_")
                    args = items.get("_args_")
                    yield ConfigHit(str(target.value), f"{where}/{key}", key,
                                    isinstance(partial, yaml.ScalarNode) and str(partial.value).lower() == "true",
                                    _short(_node_text(args)))
        elif isinstance(node, yaml.SequenceNode):
            for i, value in enumerate(node.value):
                stack.append((value, f"{where}[{i}]", embedded))
        elif isinstance(node, yaml.ScalarNode) and embedded < _MAX_EMBEDDED and isinstance(node.value, str) \
                and "\n" in node.value and mentions_target(node.value):
            inner = parse_embedded(node.value)
            if inner is not None:
                stack.append((inner, where, embedded + 1))


def _node_text(node: Any) -> Any:
    import yaml

    if isinstance(node, yaml.ScalarNode):
        return node.value
    if isinstance(node, yaml.SequenceNode):
        return [_node_text(v) for v in node.value[:6]]
    return None


def _short(value: Any) -> str:
    return "" if value is None else repr(value)[:160]


def report_hits(hits: Iterator[ConfigHit], state: ScanState, fmt: str) -> int:
    """One finding per distinct (target, verdict) with the config paths where it appears; returns the count."""
    merged: dict[str, tuple[TargetVerdict, list[ConfigHit]]] = {}
    for hit in hits:
        verdict = judge_target(hit.target)
        if verdict.severity is None:
            continue
        merged.setdefault(hit.target, (verdict, []))[1].append(hit)
        if len(merged) > 500:
            break
    for target, (verdict, where) in merged.items():
        first = where[0]
        severity = verdict.severity or Severity.MEDIUM
        via = "a YAML tag" if first.how.startswith("!") else f"its {first.how} key"
        state.add(ScanRule.CONFIG_TARGET, severity,
                  f"model config names the callable {target!r} via {via} at {first.where}: loading the model "
                  f"instantiates it ({verdict.why})",
                  {"format": fmt, "callable": target, "config_path": first.where,
                   "config_paths": [h.where for h in where[:20]], "key": first.how, "partial": first.partial,
                   "arguments": first.args, "why": verdict.why},
                  fix="Do not load this model (NeMo restore_from, hydra.utils.instantiate, ...) until the config is "
                      "reviewed; remove or replace the target.")
    return len(merged)


def scan_yaml_text(text: str, state: ScanState, fmt: str = "yaml-config") -> bool:
    """A YAML (or JSON) config; False when it does not parse as YAML (recorded as a gap by the caller)."""
    try:
        roots = compose_all(text)
    except ConfigError as exc:
        state.add(ScanRule.CONFIG_INVALID, Severity.MEDIUM, f"config could not be parsed as YAML ({exc}); the "
                  "callables it names are unverified", {"format": fmt, "error": str(exc)})
        state.gap(f"config not parsed ({str(exc)[:120]}): callables it names not checked")
        return False
    state.note_format(fmt)
    report_hits(walk_yaml(roots), state, fmt)
    _yaml_templates(roots, state, fmt)
    return True


_TEMPLATE_KEYS = ("chat_template", "chat_template_jinja", "default_chat_template")


def _yaml_templates(roots: list[Any], state: ScanState, fmt: str) -> None:
    """Chat templates kept in a YAML config (training configs carry ``chat_template_jinja``): the template
    analysis, for top-level string values."""
    import yaml

    from auditor.scan.templates import check_templates

    pairs = []
    for root in roots:
        if isinstance(root, yaml.MappingNode):
            for key, value in root.value:
                if isinstance(key, yaml.ScalarNode) and str(key.value) in _TEMPLATE_KEYS \
                        and isinstance(value, yaml.ScalarNode) and isinstance(value.value, str) \
                        and ("{{" in value.value or "{%" in value.value):
                    pairs.append((str(key.value), value.value))
    check_templates(pairs, state, fmt)


def scan_json_value(value: Any, state: ScanState, fmt: str) -> int:
    return report_hits(walk_json(value), state, fmt)

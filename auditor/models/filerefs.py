"""Model and dataset references in non-code files: saved configs, PEFT adapter configs, model cards, the manifest.

- ``config.json`` ``_name_or_path`` (what a saved model was fine-tuned from) and ``auto_map`` entries of the form
  ``org/repo--module.Class`` (custom code fetched from another repo: remote code by construction);
- ``adapter_config.json`` ``base_model_name_or_path`` (+ ``revision``);
- ``README.md`` model-card YAML front matter: ``base_model`` and ``datasets``;
- ``models = [...]`` in ``mlaudit.toml`` or ``[tool.mlaudit]`` of ``pyproject.toml``: for models the code cannot
  show (``"org/name@rev"``, ``"dataset:org/name"``, or tables ``{repo = "...", revision = "...", kind = "dataset",
  trust-remote-code = true}``).

Each reader returns refs and skipped entries; a malformed file is a skipped entry, never an exception.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditor.domain import Location, ModelRef, Skipped
from auditor.ledger import ItemKind
from auditor.models.repoid import looks_like_repo_id, split_manifest_entry, strip_hub_prefix
from auditor.safeload import LoadError, load_yaml, loads_json, loads_toml

if TYPE_CHECKING:
    pass
if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
MANIFEST_KEYS = ("repo", "repo_id", "id", "name")


@dataclass
class FileRefs:
    refs: list[ModelRef] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def line_of(text: str, needle: str, start: int = 0) -> int | None:
    """1-based line of the first occurrence of ``needle`` at or after character ``start``."""
    index = text.find(needle, start)
    return text.count("\n", 0, index) + 1 if index >= 0 else None


def _hub_id(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    stripped = strip_hub_prefix(value)
    candidate = stripped if stripped is not None else value
    return candidate if looks_like_repo_id(candidate) and "/" in candidate else None


def read_config_json(text: str, shown: str, name: str) -> FileRefs:
    out = FileRefs()
    try:
        data = loads_json(text)
    except ValueError as exc:  # a LoadError (nested too deeply) is one
        out.skipped.append(Skipped(reason=f"invalid JSON ({exc}); model references in it not read", file=shown, kind=ItemKind.INPUT_FILE))
        return out
    if not isinstance(data, dict):
        return out
    origin = name
    if name == "adapter_config.json":
        key = "base_model_name_or_path"
        revision = data.get("revision") if isinstance(data.get("revision"), str) else None
    else:
        key, revision = "_name_or_path", None
    repo = _hub_id(data.get(key))
    if repo is not None:
        out.refs.append(ModelRef(repo_id=repo, revision=revision, location=Location(shown, line_of(text, f'"{key}"')),
                                 origin=origin))
    auto_map = data.get("auto_map")
    if isinstance(auto_map, dict):
        for value in auto_map.values():
            for entry in value if isinstance(value, list) else [value]:
                if isinstance(entry, str) and "--" in entry:
                    remote = _hub_id(entry.split("--", 1)[0])
                    if remote is not None:
                        out.refs.append(ModelRef(repo_id=remote, location=Location(shown, line_of(text, entry)),
                                                 origin=origin, trust_remote_code=True))
    return out


def front_matter(text: str) -> dict[str, Any] | None:
    """The model card's YAML metadata; None without front matter. Raises ``yaml.YAMLError``."""
    match = _FRONT_MATTER_RE.match(text)
    if match is None:
        return None
    data = load_yaml(match.group(1))  # bounded: alias budget and nesting (LoadError, a ValueError)
    return data if isinstance(data, dict) else {}


def read_model_card(text: str, shown: str) -> FileRefs:
    import yaml  # here, not at module level: most runs read no model card (issue 25, start-up)

    out = FileRefs()
    try:
        found = front_matter(text)
    except LoadError as exc:
        out.skipped.append(Skipped(reason=f"model-card YAML {exc.reason}", file=shown, kind=ItemKind.INPUT_FILE))
        return out
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        out.skipped.append(Skipped(reason=f"invalid model-card YAML: {str(exc).splitlines()[0]}", file=shown,
                                   line=(mark.line + 2) if mark is not None else None, kind=ItemKind.INPUT_FILE))
        return out
    if found is None:
        return out
    meta = found
    end = text.find("\n---", 3)
    for key, kind in (("base_model", "model"), ("datasets", "dataset")):
        values = meta.get(key)
        items = values if isinstance(values, list) else [values] if values is not None else []
        key_at = text.find(f"{key}:", 0, end if end > 0 else None)
        for item in items:
            repo = _hub_id(item)
            if repo is None:
                continue
            line = line_of(text, repo, max(key_at, 0)) or line_of(text, f"{key}:")
            out.refs.append(ModelRef(repo_id=repo, kind=kind, location=Location(shown, line), origin="model-card"))
    return out


def read_manifest(text: str, shown: str, in_pyproject: bool) -> FileRefs:
    """``models = [...]`` of mlaudit.toml / ``[tool.mlaudit]``. TOML errors are the policy loader's to report."""
    out = FileRefs()
    try:
        data: Any = loads_toml(text)
    except LoadError as exc:
        out.skipped.append(Skipped(reason=f"{exc.reason}; the declared models list in it not read", file=shown,
                                   kind=ItemKind.INPUT_FILE))
        return out
    except tomllib.TOMLDecodeError:
        return out
    if in_pyproject:
        tool = data.get("tool")
        data = tool.get("mlaudit") if isinstance(tool, dict) else None
        if not isinstance(data, dict):
            return out
    entries = data.get("models")
    if entries is None:
        return out
    models_line = line_of(text, "models")
    if not isinstance(entries, list):
        out.skipped.append(Skipped(reason="'models' must be a list of \"org/name@revision\" strings or tables",
                                   file=shown, line=models_line, kind=ItemKind.INPUT_FILE))
        return out
    for entry in entries:
        ref, problem = _manifest_entry(entry)
        needle = ref.repo_id if ref is not None else (entry if isinstance(entry, str) else "")
        line = (line_of(text, needle, text.find("models")) if needle else None) or models_line
        if ref is None:
            out.skipped.append(Skipped(reason=f"manifest entry not understood: {problem}", file=shown, line=line,
                                       requirement=str(entry)[:120], kind=ItemKind.INPUT_FILE))
            continue
        ref.location = Location(shown, line)
        out.refs.append(ref)
    return out


def _manifest_entry(entry: object) -> tuple[ModelRef | None, str]:
    trust: bool | None = None
    if isinstance(entry, str):
        kind, repo, revision = split_manifest_entry(entry)
    elif isinstance(entry, dict):
        repo_value = next((entry[k] for k in MANIFEST_KEYS if k in entry), None)
        if not isinstance(repo_value, str):
            return None, "a table needs repo = \"org/name\""
        kind_value = entry.get("kind", entry.get("type", "model"))
        if kind_value not in ("model", "dataset"):
            return None, f"kind must be model or dataset, not {kind_value!r}"
        kind, repo, revision = split_manifest_entry(repo_value)
        kind = str(kind_value) if "kind" in entry or "type" in entry else kind
        rev_value = entry.get("revision", entry.get("rev", revision))
        revision = rev_value if isinstance(rev_value, str) and rev_value else revision
        trust_value = entry.get("trust-remote-code", entry.get("trust_remote_code"))
        trust = trust_value if isinstance(trust_value, bool) else None
    else:
        return None, f"expected a string or table, got {type(entry).__name__}"
    if not looks_like_repo_id(repo):
        return None, f"{repo!r} is not a Hugging Face repo id (org/name)"
    return ModelRef(repo_id=repo, kind=kind, revision=revision, origin="manifest", trust_remote_code=trust), ""

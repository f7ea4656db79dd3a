"""Bounded reading and parsing of the small structured files an audited tree supplies (policies, configs, model
cards, saved model configs, notebooks, signature bundles).

Why one helper: those files are written by whoever wrote the project. Each reader used to bring its own limits,
or none: a ``config.json`` of 100,000 nested brackets ended the run with "internal error: RecursionError", a
700-byte YAML alias bomb expanded to 10^9 nodes, a policy file named ``/dev/zero`` was read for ever. Here every
read has a size limit and refuses what is not a regular file, every parse has a nesting bound, and YAML has an
alias budget; each refusal is a ``LoadError`` (a ``ValueError``) with a reason a report can show next to the file.

- ``read_bytes``/``read_text``: a regular file of at most ``limit`` bytes (FIFOs and devices are never opened for
  reading before they are known to be regular files).
- ``loads_json``/``loads_toml``: the parsers of the standard library, with ``RecursionError`` turned into a
  ``LoadError`` and a nesting bound (``MAX_DEPTH``) checked on the result, so the recursive code downstream
  (reference walkers, policy parsing) never meets a structure deep enough to overflow the stack.
- ``compose_yaml``/``load_yaml``: PyYAML's safe composer, then an alias budget: the size of the document with
  every alias expanded is computed on the node graph (each distinct node once) and must stay below
  ``max(ALIAS_FLOOR, ALIAS_RATIO * distinct nodes)``; a recursive alias is refused too.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

MAX_CONFIG_BYTES = 4 << 20  # a policy, config, card or bundle larger than this is not one
MAX_DEPTH = 200  # nesting levels of a JSON/TOML/YAML document; real configs stay below 20
ALIAS_FLOOR = 10_000  # expanded YAML nodes always allowed
ALIAS_RATIO = 10  # and up to this many times the document's distinct nodes (merge keys reuse small anchors)


class Refusal(str, Enum):
    """Why a file was refused, for callers that word it their own way (never by matching ``reason``)."""

    NOT_REGULAR = "not-regular"  # a pipe, socket, device or folder
    TOO_LARGE = "too-large"
    OTHER = "other"  # missing, unreadable, not UTF-8, nested too deeply, not parsed


class LoadError(ValueError):
    """A file refused or not parsed, with a reason fit for a report (``line`` when one is known)."""

    def __init__(self, reason: str, line: int | None = None, *, refusal: Refusal = Refusal.OTHER) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.refusal = refusal


def read_bytes(path: str | Path, limit: int = MAX_CONFIG_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; ``LoadError`` otherwise (missing, unreadable, a
    FIFO/device/socket, too large). The size is checked on the open file and the read is bounded, so a file that
    grows (or lies about its size) while it is read cannot take more than ``limit + 1`` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise LoadError("no such file") from None
    except (OSError, ValueError) as exc:
        raise LoadError(f"cannot read: {_why(exc)}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise LoadError("not a regular file (a pipe, socket, device or folder): not read", refusal=Refusal.NOT_REGULAR)
        if info.st_size > limit:
            raise LoadError(f"larger than {limit} bytes ({info.st_size}): not read", refusal=Refusal.TOO_LARGE)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise LoadError(f"cannot read: {_why(exc)}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise LoadError(f"larger than {limit} bytes: not read", refusal=Refusal.TOO_LARGE)
    return data


def read_text(path: str | Path, limit: int = MAX_CONFIG_BYTES) -> str:
    """``read_bytes`` decoded as UTF-8 (a BOM is allowed)."""
    data = read_bytes(path, limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(f"not UTF-8 text (byte 0x{data[exc.start]:02x})",
                        line=data.count(b"\n", 0, exc.start) + 1) from None


def loads_json(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` with a nesting bound. Malformed JSON raises ``json.JSONDecodeError`` (a ``ValueError``)."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise LoadError(f"JSON nested too deeply (more than {max_depth} levels): not read") from None
    _check_depth(data, max_depth, "JSON")
    return data


def loads_toml(text: str, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """``tomllib.loads`` with a nesting bound. Malformed TOML raises ``tomllib.TOMLDecodeError``."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except RecursionError:
        raise LoadError(f"TOML nested too deeply (more than {max_depth} levels): not read") from None
    _check_depth(data, max_depth, "TOML")
    return data


def compose_yaml(text: str, max_depth: int = MAX_DEPTH) -> list[yaml.Node]:
    """The node graphs of every document (aliases are shared nodes, never copies), within the alias budget and
    the nesting bound. Malformed YAML raises ``yaml.YAMLError``."""
    if _flow_depth(text) > max_depth:  # PyYAML's scanner is quadratic in flow nesting: refused before it runs
        raise LoadError(f"YAML nested too deeply (more than {max_depth} levels): not read")
    loader = yaml.SafeLoader(text)
    try:
        nodes: list[yaml.Node] = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                nodes.append(node)
    except RecursionError:
        raise LoadError(f"YAML nested too deeply (more than {max_depth} levels): not read") from None
    finally:
        loader.dispose()
    for node in nodes:
        check_yaml_budget(node, max_depth)
    return nodes


def load_yaml(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """One YAML document as Python data (``yaml.safe_load``), composed and checked by ``compose_yaml`` first."""
    nodes = compose_yaml(text, max_depth)
    if not nodes:
        return None
    if len(nodes) > 1:
        raise LoadError("expected a single YAML document")
    constructor = yaml.SafeLoader("")
    try:
        return constructor.construct_document(nodes[0])
    except RecursionError:
        raise LoadError(f"YAML nested too deeply (more than {max_depth} levels): not read") from None
    finally:
        constructor.dispose()


def check_yaml_budget(root: yaml.Node, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a node graph whose alias expansion would exceed the budget, that nests deeper than ``max_depth``,
    or that contains itself (a recursive alias). Iterative: each distinct node is visited once."""
    expanded: dict[int, int] = {}  # node id -> size with aliases expanded
    depth: dict[int, int] = {}  # node id -> nesting below it
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            on_path.discard(key)
            expanded[key] = 1 + sum(expanded[id(c)] for c in children)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            if depth[key] > max_depth:
                raise LoadError(f"YAML nested too deeply (more than {max_depth} levels): not read",
                                line=node.start_mark.line + 1)
            continue
        if key in expanded:
            continue
        if key in on_path:
            raise LoadError("YAML alias refers to the node that contains it (a recursive alias): not read",
                            line=node.start_mark.line + 1)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in expanded)
    budget = max(ALIAS_FLOOR, ALIAS_RATIO * len(expanded))
    if expanded[id(root)] > budget:
        raise LoadError(f"YAML aliases expand to {expanded[id(root)]:,} nodes from {len(expanded):,} written (an "
                        f"alias bomb; the budget is {budget:,}): not read")


_BRACKETS = re.compile(r"[\[\]{}]")


def _flow_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in the text (quotes not honoured: an over-estimate, never an under-one)."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(text):
        if match.group(0) in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif depth:
            depth -= 1
    return deepest


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_depth(data: object, max_depth: int, what: str) -> None:
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            items: list[object] = list(value.values())
        elif isinstance(value, list):
            items = value
        else:
            continue
        if level > max_depth:
            raise LoadError(f"{what} nested too deeply (more than {max_depth} levels): not read")
        stack.extend((v, level + 1) for v in items)


def _why(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(exc).__name__


__all__ = ["ALIAS_FLOOR", "ALIAS_RATIO", "LoadError", "MAX_CONFIG_BYTES", "MAX_DEPTH", "check_yaml_budget",
           "compose_yaml", "load_yaml", "loads_json", "loads_toml", "read_bytes", "read_text"]

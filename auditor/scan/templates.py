"""Chat templates wherever a tokenizer keeps them: ``tokenizer_config.json`` ``chat_template`` (one string, or a list
of named templates), ``chat_template.json`` (processors), standalone ``chat_template.jinja`` and other ``*.jinja``
files of a tokenizer directory. Each is a Jinja2 program that serving stacks render; the analysis is the one used
for GGUF templates (``gguf_scan.template_issues``: parsed, never rendered).
"""

from __future__ import annotations

import re
from typing import Any

from auditor.kinds import ScanRule
from auditor.scan.gguf_scan import template_issues
from auditor.scan.state import ScanState

_MAX_TEMPLATES = 64


def templates_of(doc: Any) -> list[tuple[str, str]]:
    """(name, template) pairs of a tokenizer/processor config's ``chat_template`` entry."""
    if not isinstance(doc, dict):
        return []
    value = doc.get("chat_template")
    if isinstance(value, str):
        return [("chat_template", value)]
    out: list[tuple[str, str]] = []
    if isinstance(value, list):
        for i, entry in enumerate(value[:_MAX_TEMPLATES]):
            if isinstance(entry, dict) and isinstance(entry.get("template"), str):
                out.append((f"chat_template[{entry.get('name', i)!s:.60}]", entry["template"]))
            elif isinstance(entry, str):
                out.append((f"chat_template[{i}]", entry))
    elif isinstance(value, dict):
        for name, template in list(value.items())[:_MAX_TEMPLATES]:
            if isinstance(template, str):
                out.append((f"chat_template[{str(name)[:60]}]", template))
    return out


def check_templates(pairs: list[tuple[str, str]], state: ScanState, fmt: str, *, parsed_only: bool = False) -> int:
    """Findings for each template. ``parsed_only``: the text was recognised by content, so only a template Jinja2
    parses is judged (words in arbitrary text that fails to parse prove nothing)."""
    found = 0
    for key, template in pairs:
        for hit in template_issues(template):
            if parsed_only and not hit.parsed:
                continue
            found += 1
            state.add(ScanRule.CHAT_TEMPLATE, hit.severity,
                      f"chat template {key} {hit.what}: rendering it can run code in runtimes that use an "
                      "unsandboxed Jinja2 environment", {"format": fmt, "key": key, **hit.evidence},
                      fix="Do not use this model's chat template; replace it with a reviewed template.")
    return found


def looks_like_chat_template(text: str) -> bool:
    """A chat template whatever the file is called: a Jinja2 loop over the conversation (``{% for ... in messages
    %}``) or the message/role vocabulary inside Jinja2 delimiters."""
    if "{%" not in text and "{{" not in text:
        return False
    return bool(_CHAT_LOOP.search(text) or _CHAT_EXPR.search(text))


_CHAT_LOOP = re.compile(r"\{%-?\s*for\s+\w+\s+in\s+(?:messages|conversation|loop_messages)\b")
_CHAT_EXPR = re.compile(r"\{\{-?[^}]*\b(?:message|messages)\s*(?:\[|\.)\s*['\"]?(?:role|content)\b")

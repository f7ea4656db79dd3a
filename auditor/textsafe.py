"""Neutralise hostile text before it reaches a terminal.

Package names, summaries and model cards come from strangers; an ANSI/OSC escape in a summary could rewrite the
user's terminal (hide lines, fake a clean result, set the window title). Terminal output strips every control
character except newline and tab.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_ESCAPE_SEQ = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")


def clean(text: object, limit: int = 2000) -> str:
    """Remove escape sequences and control/bidi characters; shorten overly long fields."""
    value = str(text)
    value = _ESCAPE_SEQ.sub("", value)
    value = _CONTROL.sub("", value)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return value


# -- secrets in URLs -------------------------------------------------------------------------------------------
# The one redactor of the project (``auditor.net.redact_url`` is this function): every URL a report, an SBOM, a
# SARIF log or a message repeats goes through it. Requests are always built from the configured URLs themselves,
# never from this display form (a private index needs its token).
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s\"'<>`]+")
_USERINFO = re.compile(r"[^/@\s?#]+@")
# Fragment keys whose values are names or public digests (``#egg=pkg&subdirectory=src``, ``#sha256=...``): kept.
_PUBLIC_FRAGMENT_KEYS = frozenset({"egg", "subdirectory", "md5", "sha1", "sha224", "sha256", "sha384", "sha512"})
_MIN_SECRET = 4  # shorter values are not worth hiding and would mangle ordinary text
# value that came from an environment variable -> the text that named it, for the run in progress (a fleet worker
# audits many projects in one process: one project's variables must not rewrite another's report)
_SECRETS: ContextVar[dict[str, str] | None] = ContextVar("mlaudit_secrets", default=None)


@contextmanager
def secret_scope() -> Iterator[None]:
    """The run whose environment values ``register_secret`` remembers (nested scopes share the outer one)."""
    if _SECRETS.get() is not None:
        yield
        return
    token = _SECRETS.set({})
    try:
        yield
    finally:
        _SECRETS.reset(token)


def register_secret(value: str, placeholder: str) -> None:
    """Remember, for the run in progress, that ``value`` came from the environment (``${MY_TOKEN}`` expanded in a
    requirements file): every redacted text shows ``placeholder`` instead, wherever the value turns up (an index
    URL, a resolver's message). Outside a run (``secret_scope``) nothing is remembered."""
    secrets = _SECRETS.get()
    if secrets is not None and len(value) >= _MIN_SECRET and value != placeholder:
        secrets[value] = placeholder


def redact_url(text: str) -> str:
    """Text (a URL, a requirement line, a message holding several URLs) fit to be repeated in a report:

    - credentials (``https://user:token@host/``) become ``***@``;
    - every query value is dropped, its key kept (``?token=***&X-Amz-Signature=***``); a bare query item
      (``?SECRET``) is dropped too;
    - fragment values likewise, except the public ones pip reads (``#egg=``, ``#subdirectory=``, hash digests);
    - any value that came from an environment variable is shown as the ``${VAR}`` that named it.
    """
    secrets = _SECRETS.get()
    if secrets:
        for value in sorted(secrets, key=len, reverse=True):
            if value in text:
                text = text.replace(value, secrets[value])
    if "://" not in text:
        return text
    return _URL.sub(_redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    url = match.group(0)
    core = url.rstrip(".,;:!)]}")  # sentence punctuation after a URL is not part of it
    return _redact_one(core) + url[len(core):]


def _redact_one(url: str) -> str:
    scheme, _, rest = url.partition("://")
    m = _USERINFO.match(rest)
    if m:
        rest = "***@" + rest[m.end():]
    body, hash_sign, fragment = rest.partition("#")
    path, question, query = body.partition("?")
    out = scheme + "://" + path
    if question:
        out += "?" + _redact_pairs(query, frozenset())
    if hash_sign:
        out += "#" + _redact_pairs(fragment, _PUBLIC_FRAGMENT_KEYS)
    return out


def _redact_pairs(text: str, public: frozenset[str]) -> str:
    if not text:
        return text
    parts = []
    for pair in text.split("&"):
        key, eq, value = pair.partition("=")
        if eq:
            parts.append(pair if key.lower() in public or not value else f"{key}=***")
        elif public:  # a fragment without "=": an anchor (``#L10``, ``#readme``), not a value
            parts.append(pair)
        else:
            parts.append("***" if pair else pair)
    return "&".join(parts)

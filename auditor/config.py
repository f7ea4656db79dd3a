"""Policy files: ``mlaudit.toml`` (top-level keys) or ``[tool.mlaudit]`` in ``pyproject.toml``.

Strict on purpose: a typo in a gate's configuration (``fial-on``, ``expires = "2025-13-01"``) must stop the run with
exit 2 naming the file, the key and (when it can be found) the line, instead of silently gating on defaults.

Example::

    [tool.mlaudit]
    fail-on = "high"
    unknown-severity = "high"            # how an advisory with no severity at all gates (default: high)
    disable = ["typosquat"]              # finding kinds or check names (validated)
    exclude = ["tests/**", "docs/"]      # .gitignore-style paths left out of model discovery and scans
    typosquat-allowlist = ["reqeusts"]
    hf-org-allowlist = ["my-org"]
    internal-prefixes = ["acme-"]
    require-attestation = false
    require-safetensors = true
    require-complete = true
    require-hashes = false               # every distribution must be pinned by hash
    stale-after-days = 30                # warn when local advisory / malicious-package data is older (days)

    [tool.mlaudit.checks]
    dependency-confusion = false

    [[tool.mlaudit.ignore]]
    id = "PYSEC-2023-62"
    reason = "not reachable: we never parse multipart"
    expires = 2026-06-30
    package = "werkzeug"
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import sys
from pathlib import Path
from typing import Any

from auditor.domain import KNOWN_SEVERITIES, Severity, canonical_name
from auditor.errors import ConfigError
from auditor.kinds import disable_names, unknown_disable_names
from auditor.policy import IgnoreRule, Policy
from auditor.safeload import LoadError, loads_toml, read_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

POLICY_FILE = "mlaudit.toml"
KNOWN_KEYS = (
    "fail-on", "unknown-severity", "disable", "checks", "ignore", "typosquat-allowlist", "hf-org-allowlist",
    "internal-prefixes", "require-attestation", "require-safetensors", "require-complete", "require-hashes", "exclude",
    "models", "model-use", "model-signing",  # read by auditor.models.settings
    "stale-after-days",
)
IGNORE_KEYS = ("id", "reason", "expires", "package")
_BOOL_KEYS = {"require-attestation": "require_attestation", "require-safetensors": "require_safetensors",
              "require-complete": "require_complete", "require-hashes": "require_hashes"}


def find_policy_file(project_dir: Path | None) -> tuple[Path, bool] | None:
    """(path, is_pyproject) of the policy for a project: ``mlaudit.toml`` wins over ``[tool.mlaudit]``."""
    if project_dir is None:
        return None
    candidate = project_dir / POLICY_FILE
    if os.path.lexists(candidate):  # a FIFO or folder of that name is the policy too: refused, not passed over
        return candidate, False
    pyproject = project_dir / "pyproject.toml"
    if os.path.lexists(pyproject):
        return pyproject, True
    return None


def load_policy(project_dir: Path | None, explicit: Path | None = None) -> Policy:
    """The policy of a run (an empty ``Policy`` when there is none). Raises ``ConfigError`` on a bad file.

    ``explicit`` (``--config``) is the caller's own file and is authoritative: the audited project's policy files
    are then not applied, and are named in ``not_applied`` so the report says so. Without it the project's own
    file applies, marked ``audited-project``: it cannot switch the audit off without every output saying so."""
    not_applied = _project_policies(project_dir)
    if explicit is not None:
        if not os.path.lexists(explicit):
            raise ConfigError("policy file not found", file=str(explicit))
        found: tuple[Path, bool] | None = (explicit, explicit.name == "pyproject.toml")
        origin = "caller"
    else:
        found = find_policy_file(project_dir)
        origin = "audited-project"
    policy = _load_found(found)
    if found is not None:
        policy.origin = origin
        chosen = os.path.realpath(found[0])
        policy.not_applied = [p for p in not_applied if os.path.realpath(p) != chosen]
    return policy


def _project_policies(project_dir: Path | None) -> list[str]:
    """The audited project's policy files that hold a policy: ``mlaudit.toml``, ``[tool.mlaudit]`` of its
    ``pyproject.toml`` (named, not applied, when a caller's ``--config`` or the project's ``mlaudit.toml`` wins)."""
    if project_dir is None:
        return []
    found: list[str] = []
    if os.path.lexists(project_dir / POLICY_FILE):
        found.append(str(project_dir / POLICY_FILE))
    pyproject = project_dir / "pyproject.toml"
    try:
        text = read_text(pyproject)
    except LoadError:
        return found
    if re.search(r"^\s*\[\s*tool\s*\.\s*mlaudit\b|^\s*mlaudit\s*=", text, re.M):
        found.append(str(pyproject))
    return found


def _load_found(found: tuple[Path, bool] | None) -> Policy:
    if found is None:
        return Policy()
    path, is_pyproject = found
    text = _read(path)
    try:
        data = loads_toml(text)
    except LoadError as exc:
        raise ConfigError(exc.reason, file=str(path), line=exc.line) from None
    except tomllib.TOMLDecodeError as exc:
        line = _decode_error_line(str(exc))
        raise ConfigError(f"invalid TOML: {exc}", file=str(path), line=line) from exc
    if is_pyproject:
        tool = data.get("tool", {})
        section = tool.get("mlaudit") if isinstance(tool, dict) else None
        if section is None:
            return Policy(source=None)
        if not isinstance(section, dict):
            raise ConfigError("[tool.mlaudit] must be a table", file=str(path), line=_line_of(text, "mlaudit"))
        return parse_policy(section, path=path, text=text, prefix="tool.mlaudit")
    return parse_policy(data, path=path, text=text, prefix="")


def parse_policy(data: dict[str, Any], *, path: Path, text: str = "", prefix: str = "") -> Policy:
    """Validate and convert one policy table; ``prefix`` is how the table is named in messages."""
    def fail(key: str, message: str) -> ConfigError:
        shown = f"{prefix}.{key}" if prefix else key
        return ConfigError(f"key '{shown}': {message}", file=str(path), line=_locate(text, key, prefix))

    policy = Policy(source=str(path))
    for key in data:
        if key not in KNOWN_KEYS:
            hint = difflib.get_close_matches(key.replace("_", "-"), KNOWN_KEYS, n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else f" (known keys: {', '.join(KNOWN_KEYS)})"
            raise fail(key, f"unknown key{suggestion}")

    if "fail-on" in data:
        value = data["fail-on"]
        if not isinstance(value, str):
            raise fail("fail-on", f"expected a severity string, got {_type(value)}")
        try:
            policy.fail_on = Severity.parse(value)
        except ValueError:
            raise fail("fail-on", f"unknown severity {value!r} (use one of: "
                                  f"{', '.join(s.value for s in Severity)})") from None

    if "unknown-severity" in data:
        policy.unknown_severity = _known_severity(data["unknown-severity"], fail)

    if "stale-after-days" in data:
        days = data["stale-after-days"]
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise fail("stale-after-days", f"expected a whole number of days (0 or more), got {days!r}")
        policy.stale_after_days = days

    policy.disabled_kinds = set(_str_list(data, "disable", fail))
    unknown = unknown_disable_names(policy.disabled_kinds)
    if unknown:
        raise fail("disable", f"unknown check or finding kind {', '.join(map(repr, unknown))} "
                              f"(valid: {', '.join(disable_names())})")
    checks = data.get("checks")
    if checks is not None:
        if not isinstance(checks, dict):
            raise fail("checks", f"expected a table of name = true/false, got {_type(checks)}")
        for name, enabled in checks.items():
            if not isinstance(enabled, bool):
                raise fail(f"checks.{name}", f"expected true or false, got {_type(enabled)}")
            if unknown_disable_names([name]):
                raise fail(f"checks.{name}", f"unknown check or finding kind (valid: {', '.join(disable_names())})")
            if not enabled:
                policy.disabled_kinds.add(name)
    policy.declared_disabled = set(policy.disabled_kinds)
    policy.exclude = _str_list(data, "exclude", fail)

    policy.typosquat_allowlist = {canonical_name(n) for n in _str_list(data, "typosquat-allowlist", fail)}
    policy.hf_org_allowlist = {n.lower() for n in _str_list(data, "hf-org-allowlist", fail)}
    policy.internal_prefixes = _str_list(data, "internal-prefixes", fail)
    for key, attr in _BOOL_KEYS.items():
        if key in data:
            if not isinstance(data[key], bool):
                raise fail(key, f"expected true or false, got {_type(data[key])}")
            setattr(policy, attr, data[key])

    ignores = data.get("ignore", [])
    if not isinstance(ignores, list):
        raise fail("ignore", f"expected an array of tables ([[{prefix + '.' if prefix else ''}ignore]]), "
                             f"got {_type(ignores)}")
    for index, entry in enumerate(ignores):
        policy.ignores.append(_ignore_rule(entry, index, fail))
    return policy


def _known_severity(value: object, fail: Any) -> Severity:
    """``unknown-severity``: the known level that an advisory without any severity counts as for the gate."""
    choices = ", ".join(s.value for s in KNOWN_SEVERITIES)
    if not isinstance(value, str):
        raise fail("unknown-severity", f"expected a severity string ({choices}), got {_type(value)}")
    try:
        level = Severity.parse(value)
    except ValueError:
        level = None
    if level is None or not level.known:
        raise fail("unknown-severity", f"{value!r} is not a known level (use one of: {choices})")
    return level


def _ignore_rule(entry: object, index: int, fail: Any) -> IgnoreRule:
    name = f"ignore[{index}]"
    if not isinstance(entry, dict):
        raise fail(name, f"expected a table with id and reason, got {_type(entry)}")
    for key in entry:
        if key not in IGNORE_KEYS:
            raise fail(f"{name}.{key}", f"unknown key (known: {', '.join(IGNORE_KEYS)})")
    ident = entry.get("id")
    if not isinstance(ident, str) or not ident.strip():
        raise fail(f"{name}.id", "required: the advisory or rule id to ignore")
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise fail(f"{name}.reason", f"required: say why {ident} is accepted")
    package = entry.get("package")
    if package is not None and (not isinstance(package, str) or not package.strip()):
        raise fail(f"{name}.package", f"expected a package name, got {_type(package)}")
    return IgnoreRule(id=ident.strip(), reason=reason.strip(), expires=_date(entry.get("expires"), name, fail),
                      package=canonical_name(package) if package else None)


def _date(value: object, name: str, fail: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise fail(f"{name}.expires", f"invalid date {value!r} (use YYYY-MM-DD)")
    raise fail(f"{name}.expires", f"expected a date (YYYY-MM-DD), got {_type(value)}")


def _str_list(data: dict[str, Any], key: str, fail: Any) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(key, f"expected a list of strings, got {_type(value)}")
    return [v.strip() for v in value if v.strip()]


def _type(value: object) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__)


def _read(path: Path) -> str:
    """The policy file's text, bounded (``auditor.safeload``): a FIFO or a huge file is an error, not a hang."""
    try:
        return read_text(path)
    except LoadError as exc:
        raise ConfigError(f"cannot read policy file: {exc.reason}", file=str(path), line=exc.line) from None


def _line_of(text: str, key: str) -> int | None:
    """The first line that assigns ``key`` or opens a table whose name ends with it."""
    return _find(text.splitlines(), 0, None, key)


def _locate(text: str, key: str, prefix: str) -> int | None:
    """Best effort line of a (possibly nested) key: ``fail-on``, ``checks.typosquat``, ``ignore[2].expires``."""
    if not text:
        return None
    lines = text.splitlines()
    start = 0
    if prefix:  # search from the policy's own table on, so a same-named key of another tool is not blamed
        header = _find(lines, 0, None, prefix, header_only=True)
        start = (header - 1) if header else 0
    match = re.fullmatch(r"ignore\[(\d+)\](?:\.(.+))?", key)
    if match:
        index, sub = int(match.group(1)), match.group(2)
        headers = [n for n, line in enumerate(lines[start:], start=start)
                   if re.match(r"^\s*\[\[[^\]]*\bignore\]\]", line)]
        if index < len(headers):
            first = headers[index]
            end = next((n for n in range(first + 1, len(lines)) if re.match(r"^\s*\[", lines[n])), len(lines))
            if sub:
                found = _find(lines, first + 1, end, sub)
                if found:
                    return found
            return first + 1
        return _find(lines, start, None, "ignore")
    head, _, sub = key.partition(".")
    if sub:
        table = _find(lines, start, None, head, header_only=True)
        if table:
            found = _find(lines, table, None, sub)
            if found:
                return found
        return _find(lines, start, None, head)
    return _find(lines, start, None, key)


def _find(lines: list[str], start: int, end: int | None, key: str, header_only: bool = False) -> int | None:
    escaped = re.escape(key)
    header = rf"^\s*\[\[?\s*([^\]]*\.)?{escaped}\s*\]\]?"
    assign = rf"^\s*[\"']?{escaped}[\"']?\s*="
    pattern = re.compile(header if header_only else f"{header}|{assign}")
    for number in range(start, len(lines) if end is None else end):
        if pattern.search(lines[number]):
            return number + 1
    return None


def _decode_error_line(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None

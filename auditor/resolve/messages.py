"""Reading uv's error text: which requirement made the resolution fail, and why.

uv explains a failed resolution in prose ("Because foo==1.0 has no usable wheels and you require foo==1.0 ...").
We only need the culprit's name, the version when stated, and a cleaned reason; everything else stays in prose.
The patterns were taken from uv 0.13.9 answering a local test index (tests/resolve exercise each one). uv has no
structured error output for ``pip compile``, so the reading is bounded by version: ``TESTED_UV`` is the range the
real-uv tests pass on (measured: 0.12.14 to 0.13.9; 0.12.13 and older misread some failures), the ``uv`` dependency
in pyproject.toml is pinned to it, and a run with another uv says so in the report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet

from auditor.domain import canonical_name

# uv versions whose error messages the real-uv tests (tests/resolve, tests/core/test_completeness_rows.py) were run
# against and read right; pyproject.toml's ``uv`` requirement is exactly this range (a test keeps them equal).
TESTED_UV = SpecifierSet(">=0.12.14,<0.14")

# A name starts where no other name, version or operator character precedes it: "foo>=0.2.6 has no usable wheels"
# names foo, never "0.2.6" (which once became a skipped "requirement" 0-2-6).
_NAME = r"(?<![\w.=<>!~*+-])(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?"
_VERSION = r"(?:==(?P<version>[^\s,]+)|[<>!~=]=?[^\s,]+(?:,[<>!~=]=?[^\s,]+)*)?"

NO_WHEEL = "no-wheel"
NOT_FOUND = "not-found"
NOT_CACHED = "not-cached"
NO_VERSION = "no-version"
CONFLICT = "conflict"
URL = "url"
PYTHON = "requires-python"
OTHER = "other"


@dataclass(frozen=True)
class Culprit:
    name: str  # PEP 503
    kind: str
    reason: str
    version: str | None = None
    url: str | None = None


NOT_CACHED_REASON = "offline, and not in the resolver cache: its dependencies were not resolved"

PATTERNS: list[tuple[str, re.Pattern[str], str]] = [
    (NO_WHEEL, re.compile(rf"all versions of {_NAME} have no usable wheels"), "no usable wheels (only sdists)"),
    (NO_WHEEL, re.compile(rf"{_NAME}{_VERSION} has no usable wheels"), "no usable wheels (only an sdist)"),
    (NO_WHEEL, re.compile(rf"{_NAME}{_VERSION} has no wheels with a matching (?P<what>[A-Za-z ]+?tag)"),
     "no wheel for the target ({what})"),
    (NOT_FOUND, re.compile(rf"{_NAME} was not found in the package registry"), "not found on the index"),
    (NOT_CACHED, re.compile(rf"{_NAME} was not found in the cache"), NOT_CACHED_REASON),
    (NO_VERSION, re.compile(rf"there is no version of {_NAME}{_VERSION}"), "no such version on the index"),
    (NOT_CACHED, re.compile(rf"{_NAME}{_VERSION} needs to be downloaded from a registry"),
     "offline, and this version is not in the resolver cache (it would have to be downloaded from the index): "
     "not resolved"),
    (PYTHON, re.compile(rf"{_NAME}{_VERSION} depends on Python(?P<what>[^\s,]+)"),
     "needs Python{what}, not the target version"),
    (NO_VERSION, re.compile(rf"only {_NAME}==(?P<what>[^\s,]+) is available and you require"),
     "no version on the index satisfies it (only {what} is available)"),
]
# "... we can conclude that you require bcrypt>=3.1.3. And because you require bcrypt<3, ...": a requirement of the
# user that conflicts with what another requirement needs.
_NEEDED_RE = re.compile(rf"conclude that you require {_NAME}(?P<a>[=<>!~][^\s,]*(?:,[=<>!~][^\s,]*)*)\.?\s+"
                        rf"And because you require (?P<name2>[A-Za-z0-9._-]+)(?P<b>[=<>!~][^\s,]*(?:,[=<>!~][^\s,]*)*)")
_CONFLICT_RE = re.compile(rf"you require {_NAME}(?P<a>[=<>!~][^\s,]*) and (?P<name2>[A-Za-z0-9._-]+)(?P<b>[=<>!~][^\s,]*)")
_URL_RE = re.compile(r"Failed to (?:download|fetch|build)[^`]*`(?P<name>[^\s`@]+) @ (?P<url>[^`\s]+)`")
_GENERIC_RE = re.compile(rf"Because {_NAME}{_VERSION} (?P<what>has an? [^,]+?|is [^,]+?) and you require")
_HINT_RE = re.compile(r"^hint: (?P<text>.+)$", re.MULTILINE)


def clean(text: str, limit: int = 400) -> str:
    """uv's message on one line, without the ``error:``/``cause:`` scaffolding."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    lines = [re.sub(r"^(error|cause|hint):\s*", "", ln) for ln in lines]
    out = " ".join(lines)
    return out if len(out) <= limit else out[: limit - 1] + "…"


# Words of uv's prose that the patterns could take for a package name.
_PROSE = frozenset({"there", "only", "all", "you", "your", "we", "because", "and", "the", "version", "versions",
                    "python", "package", "packages", "requirements", "it", "this", "that", "no", "any"})


def plausible_name(name: str) -> bool:
    """A culprit must look like a package: not a word of the prose, not a bare version number."""
    return name not in _PROSE and not re.fullmatch(r"[0-9][0-9.-]*", name)


def untested_uv() -> str | None:
    """The installed uv's version when it lies outside ``TESTED_UV`` (its messages may be read wrong), else None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("uv")
    except PackageNotFoundError:
        return None
    return None if TESTED_UV.contains(installed, prereleases=True) else installed


def find_culprits(stderr: str) -> list[Culprit]:
    """Every requirement uv blames in ``stderr``, in the order it names them (no duplicates)."""
    found: dict[tuple[str, str], Culprit] = {}
    for kind, pattern, template in PATTERNS:
        for m in pattern.finditer(stderr):
            name = canonical_name(m["name"])
            if not plausible_name(name) or (kind, name) in found:
                continue
            reason = template.format(what=m.groupdict().get("what") or "")
            version = m.groupdict().get("version")
            found[(kind, name)] = Culprit(name, kind, _with_hint(stderr, name, reason), version)
    for m in _CONFLICT_RE.finditer(stderr):
        if canonical_name(m["name"]) == canonical_name(m["name2"]) and plausible_name(canonical_name(m["name"])):
            name = canonical_name(m["name"])
            reason = f"conflicting requirements: {name}{m['a']} and {name}{m['b']}"
            found[(CONFLICT, name)] = Culprit(name, CONFLICT, reason)
    for m in _NEEDED_RE.finditer(stderr):
        name = canonical_name(m["name"])
        if name == canonical_name(m["name2"]) and plausible_name(name):
            needed, given = m["a"].rstrip("."), m["b"].rstrip(".")
            reason = f"conflicts with what the other requirements need: {name}{needed} is required, {name}{given} given"
            found.setdefault((CONFLICT, name), Culprit(name, CONFLICT, reason))
    for m in _URL_RE.finditer(stderr):
        name = canonical_name(m["name"])
        last = [ln for ln in stderr.strip().splitlines() if "cause:" in ln]
        why = last[-1].split("cause:", 1)[1].strip() if last else "download failed"
        found[(URL, name)] = Culprit(name, URL, f"direct URL could not be fetched: {why}", url=m["url"])
    named = {name for _, name in found}
    for m in _GENERIC_RE.finditer(stderr):
        name = canonical_name(m["name"])
        if name not in named and plausible_name(name):
            named.add(name)
            found[(OTHER, name)] = Culprit(name, OTHER, _with_hint(stderr, name, m["what"]), m["version"])
    return list(found.values())


def _with_hint(stderr: str, name: str, reason: str) -> str:
    for m in _HINT_RE.finditer(stderr):
        if f"`{name}`" in m["text"].lower() and "building from source is disabled" not in m["text"]:
            return f"{reason}: {m['text'].strip()}"
    return reason


def parents_of(stderr: str, name: str) -> list[str]:
    """Packages uv says depend on ``name`` ("all versions of gamma depend on staticsd", "x==1 depends on y")."""
    pattern = re.compile(rf"(?:versions of )?(?<![\w.=<>!~*+-])(?P<parent>[A-Za-z0-9][A-Za-z0-9._-]*)(?:[=<>!~]=?[^\s,]+)?"
                         rf" depends? on {re.escape(name)}\b", re.IGNORECASE)
    return list(dict.fromkeys(c for c in (canonical_name(m["parent"]) for m in pattern.finditer(stderr))
                              if plausible_name(c)))


def user_requires(stderr: str, name: str) -> bool:
    """Whether uv's explanation blames a requirement of the user's on ``name`` ("you require torch==2.10.0"): when
    it does not, a missing version of ``name`` is what a dependency asked for, not the user's line."""
    return any(canonical_name(m["name"]) == name for m in re.finditer(rf"you require {_NAME}", stderr))


def missing_spec(stderr: str, name: str) -> str | None:
    """The requirement uv found no version for ("there is no version of torch==2.10.0+cpu" -> that text)."""
    for m in re.finditer(rf"there is no version of (?P<spec>{_NAME}[^\s,]*)", stderr):
        if canonical_name(m["name"]) == name:
            return m["spec"]
    return None


# the transport failures uv reports (reqwest/hyper wording, uv 0.4 to 0.13): the host did not answer at all, as
# opposed to an HTTP status, which is an answer
_TRANSPORT_RE = re.compile(r"operation timed out|timed out|connection refused|dns error|failed to lookup address|"
                           r"tcp connect error|connection reset|network is unreachable|no route to host|"
                           r"error sending request", re.IGNORECASE)
_STATUS_RE = re.compile(r"HTTP status (?:client|server) error|status code \d{3}|\b[45]\d\d (?:Not Found|Forbidden|"
                        r"Unauthorized|Internal Server Error|Bad Gateway|Service Unavailable)", re.IGNORECASE)


def transport_failure(text: str) -> bool:
    """Whether uv's message says a host did not answer (timeout, refused, unknown name) rather than answered with
    an error status."""
    return bool(_TRANSPORT_RE.search(text)) and not _STATUS_RE.search(text)


def failed_index_url(stderr: str) -> str | None:
    """The URL uv could not fetch when the failure is about the index rather than a requirement."""
    m = re.search(r"Failed to fetch: `?(?P<url>https?://[^\s`]+)`?", stderr)
    if m:
        return m["url"]
    m = re.search(r"for url \((?P<url>https?://[^)\s]+)\)", stderr)
    return m["url"] if m else None

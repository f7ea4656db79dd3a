"""pip requirements files, natively: the whole pip syntax, never by running pip or the project.

Handles ``-r``/``-c`` includes (relative to the including file, cycles detected), markers, extras, ``--hash``,
index options, the other pip options, line continuations, ``${VAR}`` expansion (pip's form only), comments, BOM
and CRLF. URL/VCS/local-path/``-e`` lines become ``Requirement`` objects with ``url``/``editable`` set so that the
resolver reports them as skipped with a reason. An invalid line is an ``InputError`` naming ``file:line``.

A file is a **lock** (``CONVENTIONS.md`` "Inputs") only when it says so: every requirement an exact ``==`` pin and
either each one carries ``--hash`` (pip's hash-checking mode installs nothing unlisted) or the file was written by a
lock tool (``# via`` annotations, or the ``pip-compile`` / ``uv pip compile`` header). A lock is audited as given,
offline too: its pins become ``Package`` objects and its ``# via`` annotations edges. Any other file -- a hand-written
``torch==2.1.0`` list included -- names only direct requirements: its pins are kept and their dependencies resolved.

Every requirement line is registered as a ledger item when read; a line whose marker excludes the audit's target is
registered as excluded (listed, so a reader sees it was considered) and not resolved.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from auditor.domain import (
    ROOT_NODE,
    Edge,
    Excluded,
    Location,
    Package,
    Requirement,
    Skipped,
    canonical_name,
    package_node,
)
from auditor.errors import InputError
from auditor.ledger import Item, ItemKind, Outcome
from auditor.net import redact_url
from auditor.sources.base import SourceResult
from auditor.sources.locked import Candidate, choose_versions
from auditor.sources.markers import marker_holds
from auditor.sources.textfile import read_text
from auditor.textsafe import register_secret

# pip's rules, written here. pip's comment regex ``(^|\s+)#.*$`` is quadratic on long runs of whitespace, so
# comments are found with ``comment_start`` instead (same semantics, linear).
_ENV_VAR_RE = re.compile(r"\$\{([A-Z0-9_]+)\}")
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_VIA_START_RE = re.compile(r"^#\s*via(?:\s+(?P<rest>.*))?$")
_VIA_ITEM_RE = re.compile(r"^#\s{2,}(?P<item>\S.*)$")
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"  # a PEP 508 project name
_NAME_RE = re.compile("^" + _NAME)
# A pin in the form locks and compiled requirements write (``numpy==1.26.4``, ``x==2.0.post1``): a PEP 508 name and
# one ``==`` on a PEP 440 version in normal form. ``packaging`` reads it as that name, that specifier text, no
# extras, marker or URL (tests/sources hold the two readings equal); everything else is read by ``packaging``.
_SIMPLE_PIN = re.compile(rf"(?P<name>{_NAME})[ \t]*==[ \t]*"
                         r"(?P<version>[0-9]+(?:\.[0-9]+)*(?:(?:a|b|rc)[0-9]+)?(?:\.post[0-9]+)?(?:\.dev[0-9]+)?)")
_ROOT_VIA_RE = re.compile(r"\((?:pyproject\.toml|setup\.py|setup\.cfg)\)\s*$")

URL_SCHEMES = {"http", "https", "file", "ftp"}
VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
VCS_SCHEMES = {"git", "hg", "svn", "bzr"}
ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar.lz")
HASH_ALGORITHMS = {"sha256", "sha384", "sha512"}

# pip options a requirements file may contain: name -> takes a value.
_FILE_OPTIONS: dict[str, bool] = {
    "-r": True, "--requirement": True, "-c": True, "--constraint": True, "-e": True, "--editable": True,
    "-i": True, "--index-url": True, "--extra-index-url": True, "--no-index": False, "-f": True,
    "--find-links": True, "--no-binary": True, "--only-binary": True, "--prefer-binary": False,
    "--require-hashes": False, "--pre": False, "--trusted-host": True, "--use-feature": True,
    # per-requirement options
    "--hash": True, "--config-settings": True, "-C": True, "--global-option": True, "--install-option": True,
}
_PER_REQUIREMENT = {"--hash", "--config-settings", "-C", "--global-option", "--install-option"}
_ALIASES = {"--requirement": "-r", "--constraint": "-c", "--editable": "-e", "--index-url": "-i",
            "--find-links": "-f", "-C": "--config-settings"}
# ``-r`` nesting deeper than this is not a real project: an input error naming the file, never a RecursionError.
MAX_INCLUDE_DEPTH = 64
# Requirements (and constraints) one file may bring in, includes counted. The largest real lock holds a few thousand
# pins; an audit stays linear far beyond that (bench/lockscale.py: 100,000 packages), and past this bound a file is
# refused at the line that crosses it instead of taking minutes and gigabytes.
MAX_REQUIREMENTS = 100_000
# The first lines a lock tool writes (pip-compile, ``uv pip compile``): such a file is a lock (CONVENTIONS "Inputs").
_LOCK_HEADER_RE = re.compile(r"^#\s*This file (?:is|was) autogenerated by (?:pip-compile|uv)\b", re.I | re.M)


@dataclass
class Via:
    """What ``# via`` annotations say about one pin: parent packages, and whether an input file named it."""

    parents: list[str] = field(default_factory=list)
    from_input: bool = False
    annotated: bool = False


@dataclass
class Entry:
    """One requirement line, with its ``# via`` annotation (pip-compile/uv output)."""

    requirement: Requirement
    via: Via = field(default_factory=Via)


@dataclass
class RequirementsFile:
    """Everything read from one top-level requirements file and its ``-r``/``-c`` includes."""

    files: list[str] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    constraints: list[Requirement] = field(default_factory=list)
    skipped: list[Item] = field(default_factory=list)
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    pip_options: list[str] = field(default_factory=list)
    no_index: bool = False
    lock_header: bool = False  # the top file starts with a pip-compile / uv pip compile header


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Join ``\\`` continuations like pip (a comment line ends a continuation); yield (first line number, text)."""
    buffer: list[str] = []
    start = 0
    for number, line in enumerate(text.split("\n"), 1):
        is_comment = line.lstrip().startswith("#")
        if not line.endswith("\\") or is_comment:
            if is_comment:
                line = " " + line
            if buffer:
                buffer.append(line)
                yield start, "".join(buffer)
                buffer = []
            else:
                yield number, line
        else:
            if not buffer:
                start = number
            buffer.append(line.strip("\\"))
    if buffer:
        yield start, "".join(buffer)


def comment_start(line: str) -> int | None:
    r"""Where pip's ``(^|\s+)#.*$`` would match: the whitespace run before the first ``#`` that starts the line or
    follows whitespace (so ``url#egg=x`` is not a comment)."""
    pos = line.find("#")
    while pos >= 0:
        if pos == 0 or line[pos - 1].isspace():
            start = pos
            while start > 0 and line[start - 1].isspace():
                start -= 1
            return start
        pos = line.find("#", pos + 1)
    return None


def expand_env(text: str, env: Mapping[str, str]) -> str:
    """pip's ``${VAR}`` expansion: upper-case names only; unset or empty variables are left as written."""
    def repl(match: re.Match[str]) -> str:
        value = env.get(match.group(1))
        if value:
            register_secret(value, match.group(0))  # reports show ${VAR}, never its value (textsafe.redact_url)
        return value if value else match.group(0)

    return _ENV_VAR_RE.sub(repl, text)


def is_url(text: str) -> bool:
    m = _SCHEME_RE.match(text)
    if not m or len(m.group(1)) == 1:  # "C:" is a Windows drive, not a scheme
        return False
    scheme = m.group(1).lower()
    return scheme in URL_SCHEMES or scheme in VCS_SCHEMES or scheme.startswith(VCS_PREFIXES)


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or text.startswith(".")


def _is_archive(text: str) -> bool:
    return text.lower().endswith(ARCHIVE_SUFFIXES)


class _Parser:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.out = RequirementsFile()
        self.stack: list[str] = []
        self.seen: set[tuple[str, bool]] = set()

    def parse(self, path: str, *, constraint: bool, origin: Location | None) -> None:
        real = os.path.realpath(path)
        if real in self.stack:
            where = origin or Location(path)
            raise InputError(f"recursive include: {path} is already being read", file=where.file, line=where.line)
        if (real, constraint) in self.seen:
            return  # the same file included twice (a diamond, not a cycle): read once
        if len(self.stack) >= MAX_INCLUDE_DEPTH:
            where = origin or Location(path)
            raise InputError(f"-r/-c includes nested more than {MAX_INCLUDE_DEPTH} levels deep (at {path})",
                             file=where.file, line=where.line)
        self.seen.add((real, constraint))
        try:
            text = read_text(path)
        except InputError as exc:
            if origin is not None and exc.message == "no such file":
                raise InputError(f"included file not found: {path}", file=origin.file, line=origin.line) from None
            raise
        if not self.stack and _LOCK_HEADER_RE.search("\n".join(text.split("\n", 12)[:12])):
            self.out.lock_header = True
        self.out.files.append(path)
        self.stack.append(real)
        try:
            self._parse_text(text, path, constraint)
        finally:
            self.stack.pop()

    def _parse_text(self, text: str, path: str, constraint: bool) -> None:
        last: Entry | None = None
        in_via_block = False
        for number, raw in logical_lines(text):
            stripped = raw.strip()
            if stripped.startswith("#"):
                if last is not None:
                    in_via_block = self._annotation(stripped, last, in_via_block)
                continue
            in_via_block = False
            cut = comment_start(raw)
            comment = raw[cut:].strip() if cut is not None else None
            written = (raw if cut is None else raw[:cut]).strip()
            line = expand_env(written, self.env).strip()
            if not line:
                continue
            loc = Location(path, number)
            entry = self._line(line, loc, constraint, written)
            if entry is not None:
                last = entry
                if comment and not constraint:
                    self._annotation(comment, entry, False)
            elif not constraint:
                last = None

    def _annotation(self, comment: str, entry: Entry, in_block: bool) -> bool:
        """Feed one comment line to the ``# via`` reader; returns whether a multi-line via block continues."""
        start = _VIA_START_RE.match(comment)
        if start:
            entry.via.annotated = True
            rest = (start.group("rest") or "").strip()
            if not rest:
                return True
            for item in rest.split(","):  # old pip-compile: "# via a, b"
                self._via_item(item.strip(), entry.via)
            return False
        item = _VIA_ITEM_RE.match(comment)
        if in_block and item:
            self._via_item(item.group("item").strip(), entry.via)
            return True
        return False

    @staticmethod
    def _via_item(item: str, via: Via) -> None:
        if not item:
            return
        if item.startswith(("-r ", "--requirement ")) or _ROOT_VIA_RE.search(item):
            via.from_input = True
            return
        if item.startswith("-"):  # "-c constraints.txt", "--override overrides.txt": not a parent
            return
        m = _NAME_RE.match(item)
        if m:
            name = canonical_name(m.group(0))
            if name not in via.parents:
                via.parents.append(name)

    def _line(self, line: str, loc: Location, constraint: bool, written: str | None = None) -> Entry | None:
        """One logical line (``${VAR}`` expanded); ``written`` is the line as written, whose requirement text is
        what reports show: an environment value is used for the request, never repeated."""
        args, opts = _split_args_options(line)
        options, ignored = _parse_options(opts, loc)
        for token in ignored:
            shown = redact_url(token)  # a dropped URL may carry credentials, like any other line
            self.out.skipped.append(Excluded(
                reason=f"pip ignores {shown!r} here: an argument after an option on the same line is dropped by "
                       "pip's requirements-file parser, so this line does not install it (write the requirement "
                       "before the options, or on a line of its own)",
                file=loc.file, line=loc.line, requirement=shown, kind=ItemKind.REQUIREMENT))
        for name, value in options:
            if name in _PER_REQUIREMENT:
                if not args:
                    raise InputError(f"{name} must follow a requirement on the same line", file=loc.file,
                                     line=loc.line)
                continue
            if name in ("-r", "-c"):
                self._include(value, loc, constraint=constraint or name == "-c")
            elif name == "-e":
                if constraint:
                    raise InputError("editable requirements are not allowed as constraints", file=loc.file,
                                     line=loc.line)
                req = parse_requirement(value, loc, editable=True)
                return self._add(req, constraint)
            else:
                self._file_option(name, value, loc)
        if not args:
            return None
        req = parse_requirement(args, loc)
        if written is not None and written != line:
            req.raw = redact_url(_split_args_options(written)[0])
        req.hashes = tuple(_hashes(options, loc))
        return self._add(req, constraint)

    def _add(self, req: Requirement, constraint: bool) -> Entry:
        if len(self.out.entries) + len(self.out.constraints) >= MAX_REQUIREMENTS:
            loc = req.location
            raise InputError(f"more than {MAX_REQUIREMENTS:,} requirements (with the files it includes): not a real "
                             "project's requirements file; refused before reading further", file=loc.file if loc
                             else None, line=loc.line if loc else None)
        entry = Entry(req)
        if constraint:
            req.constraint = True
            self.out.constraints.append(req)
        else:
            self.out.entries.append(entry)
        return entry

    def _include(self, target: str, loc: Location, *, constraint: bool) -> None:
        if is_url(target):
            self.out.skipped.append(Skipped(
                reason="requirements file given by URL: not fetched, its requirements are not audited",
                file=loc.file, line=loc.line, requirement=f"{'-c' if constraint else '-r'} {target}",
                not_checked=[target], kind=ItemKind.INPUT_FILE))
            return
        if "\x00" in target:
            raise InputError(f"invalid file name in {'-c' if constraint else '-r'} (NUL byte)", file=loc.file,
                             line=loc.line)
        base = os.path.dirname(loc.file)
        path = target if os.path.isabs(target) else os.path.normpath(os.path.join(base, target))
        self.parse(path, constraint=constraint, origin=loc)

    def _file_option(self, name: str, value: str, loc: Location) -> None:
        out = self.out
        if name == "-i":
            out.index_url = out.index_url or value
        elif name == "--extra-index-url":
            if value not in out.extra_index_urls:
                out.extra_index_urls.append(value)
        elif name == "-f":
            value = _find_links(value, loc)
            if value not in out.find_links:
                out.find_links.append(value)
        elif name == "--no-index":
            out.no_index = True
        else:
            text = f"{name}={value}" if _FILE_OPTIONS[name] else name
            if text not in out.pip_options:
                out.pip_options.append(text)


def _find_links(value: str, loc: Location) -> str:
    """A ``--find-links`` location: a URL, or a directory/file relative to the requirements file.

    pip reads ``-foo==1.0`` as ``-f oo==1.0``; a location that is neither a URL nor an existing path is almost
    always such a typo, and is reported at its line instead of failing later inside the resolver."""
    if is_url(value):
        return value
    path = value if os.path.isabs(value) else os.path.normpath(os.path.join(os.path.dirname(loc.file), value))
    if not os.path.exists(path):
        hint = f" (pip reads '-f{value}' as --find-links {value}; a requirement cannot start with '-')" \
            if not _looks_like_path(value) else ""
        raise InputError(f"--find-links {value!r}: not a URL and no such file or directory{hint}", file=loc.file,
                         line=loc.line)
    return path


def _split_args_options(line: str) -> tuple[str, str]:
    """pip's rule: the requirement is every space-separated token before the first one starting with ``-``."""
    tokens = line.split(" ")
    for i, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:i]).strip(), " ".join(tokens[i:]).strip()
    return line.strip(), ""


def _parse_options(text: str, loc: Location) -> tuple[list[tuple[str, str]], list[str]]:
    """The options of a line's option part, and the bare arguments among them.

    pip parses the option part with optparse and drops its leftover arguments (``--only-binary=:all: nuimo==0.1.0``
    installs nothing): they are returned so the caller lists them as not installed, instead of failing a file pip
    accepts or auditing a package pip would not install."""
    if not text:
        return [], []
    try:
        tokens = shlex.split(text, posix=True)
    except ValueError as exc:
        raise InputError(f"cannot parse options: {exc}", file=loc.file, line=loc.line) from None
    out: list[tuple[str, str]] = []
    ignored: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token == "--":  # optparse: the end of the options; what follows are arguments, dropped as well
            ignored.extend(tokens[i:])
            break
        if not token.startswith("-") or token == "-":
            ignored.append(token)
            continue
        name, value = token, None
        if token.startswith("--") and "=" in token:
            name, value = token.split("=", 1)
        elif not token.startswith("--") and len(token) > 2:
            name, value = token[:2], token[2:]
        if name not in _FILE_OPTIONS:
            raise InputError(f"unknown pip option {name}", file=loc.file, line=loc.line)
        if _FILE_OPTIONS[name]:
            if value is None:
                if i >= len(tokens):
                    raise InputError(f"option {name} needs a value", file=loc.file, line=loc.line)
                value = tokens[i]
                i += 1
        elif value is not None:
            raise InputError(f"option {name} takes no value", file=loc.file, line=loc.line)
        out.append((_ALIASES.get(name, name), value or ""))
    return out, ignored


def _hashes(options: list[tuple[str, str]], loc: Location) -> list[str]:
    hashes: list[str] = []
    for name, value in options:
        if name != "--hash":
            continue
        algo, sep, digest = value.partition(":")
        if not sep or algo.lower() not in HASH_ALGORITHMS or not re.fullmatch(r"[0-9a-fA-F]+", digest):
            raise InputError(f"invalid --hash {value!r} (expected sha256:<hex>, sha384:<hex> or sha512:<hex>)",
                             file=loc.file, line=loc.line)
        text = f"{algo.lower()}:{digest.lower()}"
        if text not in hashes:
            hashes.append(text)
    return hashes


def parse_requirement(text: str, loc: Location, *, editable: bool = False) -> Requirement:
    """One requirement as pip reads it: a PEP 508 string, or a URL / VCS URL / local path (direct reference).

    ``url`` keeps the URL as written (the resolver may need its credentials); ``raw`` has them redacted.
    """
    req = _parse_requirement(text.strip(), loc, editable=editable)
    req.raw = redact_url(req.raw)
    return req


def _parse_requirement(text: str, loc: Location, *, editable: bool) -> Requirement:
    url_form = is_url(text)
    marker_sep = "; " if url_form else ";"
    body, marker = text, None
    if marker_sep in text and (url_form or _looks_like_path(text.split(";", 1)[0]) or editable):
        body, marker_text = text.split(marker_sep, 1)
        marker = marker_text.strip() or None
        body = body.strip()
    if url_form or editable or (_looks_like_path(body) and not _pep508_url(body)) or (
            _is_archive(body) and not _pep508_url(body)):
        req = _direct_reference(body, loc, editable=editable, raw=text)
        if marker:
            req.marker = _checked_marker(marker, loc)
        return req
    pin = _SIMPLE_PIN.fullmatch(text)
    if pin is not None:  # ``name==1.2.3``: what packaging would read, without its tokenizer (or its import)
        return Requirement(name=canonical_name(pin["name"]), raw=text, specifier="==" + pin["version"], extras=(),
                           marker=None, location=loc, url=None)
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as PkgRequirement

    try:
        parsed = PkgRequirement(text)
    except InvalidRequirement as exc:
        raise InputError(f"invalid requirement {redact_url(text)!r}: {_first_line(str(exc))}", file=loc.file,
                         line=loc.line) from None
    specifier = str(parsed.specifier)
    if parsed.url and not specifier:
        specifier = _wheel_pin(parsed.url, loc)
    return Requirement(
        name=canonical_name(parsed.name), raw=text, specifier=specifier,
        extras=tuple(sorted(parsed.extras)), marker=str(parsed.marker) if parsed.marker else None, location=loc,
        url=parsed.url or None,
    )


def _wheel_pin(url: str, loc: Location) -> str:
    """``==<version>`` from a direct wheel URL's file name (the wheel names its version), else ``""``."""
    filename = PurePosixPath(unquote(_split_url(url, loc).path)).name
    if not filename.endswith(".whl"):
        return ""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename  # (and packaging.tags): file names only

    try:
        return f"=={parse_wheel_filename(filename)[1]}"
    except InvalidWheelFilename as exc:
        raise InputError(f"invalid wheel file name {filename!r}: {exc}", file=loc.file, line=loc.line) from None


def _pep508_url(text: str) -> bool:
    """``name @ url``: a PEP 508 direct reference, which packaging parses itself."""
    head, sep, _ = text.partition("@")
    return bool(sep) and not _looks_like_path(head.strip()) and bool(_NAME_RE.fullmatch(head.split("[")[0].strip()))


def _checked_marker(marker: str, loc: Location) -> str:
    from packaging.markers import InvalidMarker, Marker

    try:
        return str(Marker(marker))
    except InvalidMarker as exc:
        raise InputError(f"invalid marker {marker!r}: {_first_line(str(exc))}", file=loc.file,
                         line=loc.line) from None


def _direct_reference(body: str, loc: Location, *, editable: bool, raw: str) -> Requirement:
    """A URL, VCS URL or local path; the name comes from ``#egg=``, the wheel/sdist file name or the path."""
    extras: tuple[str, ...] = ()
    opening = body.rfind("[") if body.endswith("]") and not is_url(body) else -1
    if opening >= 0 and "]" not in body[opening + 1:-1]:  # "./pkg[gpu,cli]"
        extras = tuple(sorted(e.strip() for e in body[opening + 1:-1].split(",") if e.strip()))
        body = body[:opening]
    local = ""
    if is_url(body):
        url = body
    else:
        local = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(loc.file)), body))
        url = Path(local).as_uri()
    parts = _split_url(url, loc)
    fragment = parse_qs(parts.fragment)
    name, specifier = "", ""
    egg = (fragment.get("egg") or [""])[0]
    filename = re.split(r"[\\/]", local.rstrip("/\\"))[-1] if local else PurePosixPath(unquote(parts.path)).name
    if egg:
        em = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[([^\]]*)\])?$", egg)
        if em:
            name = em.group(1)
            if em.group(2) and not extras:
                extras = tuple(sorted(e.strip() for e in em.group(2).split(",") if e.strip()))
    from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

    if filename.endswith(".whl"):
        try:
            wname, wversion, _, _ = parse_wheel_filename(filename)
        except InvalidWheelFilename as exc:
            raise InputError(f"invalid wheel file name {filename!r}: {exc}", file=loc.file, line=loc.line) from None
        name, specifier = str(wname), f"=={wversion}"
    elif not name and _is_archive(filename):
        try:
            sname, sversion = parse_sdist_filename(filename)
            name, specifier = str(sname), f"=={sversion}"
        except InvalidSdistFilename:
            name = filename.split("-", 1)[0]
    if not name:
        stem = filename or PurePosixPath(parts.path.rstrip("/")).name
        stem = stem.split("@", 1)[0]
        name = stem[:-4] if stem.endswith(".git") else stem
    name = canonical_name(name) if name else "unknown"
    return Requirement(name=name, raw=("-e " if editable else "") + raw, specifier=specifier, extras=extras,
                       location=loc, url=url, editable=editable)


def _split_url(url: str, loc: Location) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError as exc:
        raise InputError(f"invalid URL {redact_url(url)!r}: {exc}", file=loc.file, line=loc.line) from None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def read_requirements(path: str, env: Mapping[str, str] | None = None, *, origin: Location | None = None,
                      constraint: bool = False) -> RequirementsFile:
    """Parse ``path`` and everything it includes."""
    parser = _Parser(os.environ if env is None else env)
    parser.parse(path, constraint=constraint, origin=origin)
    return parser.out


def is_fully_pinned(entries: list[Entry]) -> bool:
    """Every requirement an exact ``==`` pin (direct references are skipped entries and do not count)."""
    return all(e.requirement.pinned_version or e.requirement.url or e.requirement.editable for e in entries)


def is_lock(parsed: RequirementsFile) -> bool:
    """CONVENTIONS "Inputs": every requirement pinned with ``==`` and either hashed or written by a lock tool."""
    pins = [e for e in parsed.entries if not (e.requirement.url or e.requirement.editable)]
    if not pins or not is_fully_pinned(parsed.entries):
        return False
    if all(e.requirement.hashes for e in pins):
        return True
    return parsed.lock_header or any(e.via.annotated for e in parsed.entries)


def load_requirements(path: str, target_env: dict[str, str], env: Mapping[str, str] | None = None) -> SourceResult:
    """A ``SourceResult`` for one requirements file: a lock is already resolved, anything else still to resolve."""
    parsed = read_requirements(path, env)
    result = SourceResult(
        files=parsed.files, constraints=parsed.constraints, skipped=parsed.skipped, index_url=parsed.index_url,
        extra_index_urls=parsed.extra_index_urls, find_links=parsed.find_links, pip_options=parsed.pip_options,
        no_index=parsed.no_index,
    )
    for file in parsed.files:
        result.register(ItemKind.INPUT_FILE, file, file=file)
    lock = is_lock(parsed)
    for entry in parsed.entries:
        req = entry.requirement
        loc = req.location
        item = result.register(ItemKind.REQUIREMENT, req.raw, file=loc.file if loc else None,
                               line=loc.line if loc else None, requirement=req.raw, package=req.name,
                               version=req.pinned_version)
        missing = _missing_local_file(req)
        if missing:
            item.outcome, item.reason = Outcome.SKIPPED, f"local file does not exist: {missing}"
            item.not_checked = [f"{req.name} and its dependencies"]
            continue
        if not lock and req.marker and not marker_holds(req.marker, target_env, req.extras):
            item.outcome = Outcome.EXCLUDED
            item.reason = f"marker excludes the target ({req.marker}): not installed there, not resolved"
            continue
        result.requirements.append(req)
    if lock:
        result.resolved = result.is_lock = True
        kept = {id(r) for r in result.requirements}
        _pins_to_packages([e for e in parsed.entries if id(e.requirement) in kept], target_env, result)
    return result


def _missing_local_file(req: Requirement) -> str | None:
    """A ``./dist/x.whl`` / local path requirement whose file is not there: nothing can be installed from it."""
    if not req.url or not req.url.startswith("file:"):
        return None
    local = unquote(urlsplit(req.url).path)
    if os.name == "nt" and re.match(r"^/[A-Za-z]:", local):  # pragma: no cover - Windows drive paths
        local = local[1:]
    return None if os.path.exists(local) else local


def _pins_to_packages(entries: list[Entry], target_env: dict[str, str], result: SourceResult) -> None:
    """Pins become packages (one version per name, ``locked.choose_versions``); ``# via`` lines become edges."""
    direct_refs = {e.requirement.name for e in entries if e.requirement.url or e.requirement.editable}
    pinned = [e for e in entries if not (e.requirement.url or e.requirement.editable)]
    names = {e.requirement.name for e in pinned}
    candidates: list[Candidate] = []
    vias: dict[tuple[str, str], Via] = {}
    for entry in pinned:
        req, via = entry.requirement, entry.via
        version = req.pinned_version or ""
        parents = [p for p in via.parents if p in names and p != req.name]
        direct = via.from_input or any(p in direct_refs for p in via.parents) or not parents
        candidates.append(Candidate(Package(
            name=req.name, version=version, direct=direct, source="requirements", hashes=list(req.hashes),
            markers=req.marker, extras=req.extras, location=req.location), req.marker, req.raw))
        known = vias.setdefault((req.name, version), Via(annotated=via.annotated))
        known.annotated = known.annotated or via.annotated
        known.from_input = known.from_input or direct
        known.parents.extend(p for p in parents if p not in known.parents)
    packages, skipped = choose_versions(candidates, target_env, item_kind=ItemKind.REQUIREMENT)
    result.packages.extend(packages)
    result.skipped.extend(skipped)
    for pkg in packages:
        via = vias[(pkg.name, pkg.version)]
        if not via.annotated:
            continue  # the graph hangs direct packages off the root by itself
        if via.from_input:
            result.edges.append(Edge(ROOT_NODE, package_node(pkg.name), requirement=f"{pkg.name}=={pkg.version}",
                                     marker=pkg.markers, origin="via-annotation"))
        for parent in via.parents:
            result.edges.append(Edge(package_node(parent), package_node(pkg.name), requirement=pkg.name,
                                     marker=pkg.markers, origin="via-annotation"))

"""``setup.cfg`` and ``setup.py``: setuptools' ``install_requires`` and ``extras_require``, read statically.

Why: many ML projects still declare their dependencies only there (``install_requires = django==1.11.0``); read
as nothing, an audit of such a project said "clean" without having looked. Nothing is executed: ``setup.cfg`` is
read as the INI file setuptools reads (``file:`` directives included), ``setup.py`` is parsed with ``ast`` and only
literals are taken -- a list of strings, a module-level name bound once to one, ``+`` of such lists, a ``**dict``
literal. Anything computed is never evaluated: when its expression (or a module-level function it calls) names a
requirements file beside ``setup.py`` (``open("requirements.txt")``, ``parse_requirements("requirements.txt")``),
that file is read as the requirements -- a superset of what the code may select, said in a warning -- and otherwise
the declaration is a skipped item naming the line (the report is then incomplete, never silently clean).

Which sections are read follows ``pyproject.toml``: ``install_requires`` always, ``extras_require`` for the extras
named by ``--extra`` (``all``: every one); unselected extras are listed as excluded by the project model.
``setup_requires``/``tests_require`` are listed as excluded: they are not installed with the project.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PkgRequirement

from auditor.domain import Excluded, Location, Requirement, Skipped, canonical_name
from auditor.errors import InputError
from auditor.ledger import ItemKind
from auditor.options import AuditOptions
from auditor.sources.base import SourceResult
from auditor.sources.textfile import read_text

SETUP_PY = "setup.py"
SETUP_CFG = "setup.cfg"
ALL = {"all", "*", ":all:"}
NOT_INSTALLED = ("setup_requires", "tests_require")
# A whole declaration (``install_requires=...``) is an input-file section: its own ledger item, never merged with
# the item of a requirement written on the same line (``setup(install_requires=["a"], tests_require=["b"])``).
SECTION = ItemKind.LOCK_SECTION
MAX_NAME_DEPTH = 16  # NAME -> NAME -> ... chains followed through module-level assignments


@dataclass
class Declared:
    """One requirement list as found: its items (text, line) or, when it is computed, why it was not read."""

    key: str  # "install_requires", "extras_require[gpu]"
    line: int | None
    items: list[tuple[str, int | None]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # requirements files it reads (``file:``, ``open("...")``)
    computed: str | None = None  # the expression's source, when it is not a literal
    exact: bool = True  # False: ``files`` were read as a superset of what computed code selects


@dataclass
class SetupInfo:
    install: list[Declared] = field(default_factory=list)
    extras: dict[str, Declared] = field(default_factory=dict)
    extras_computed: Declared | None = None  # ``extras_require=<not a literal>``
    other: list[Declared] = field(default_factory=list)  # setup_requires, tests_require
    name: str | None = None
    version: str | None = None
    unreadable: str | None = None  # why the file could not be read at all


def is_setup_file(path: str) -> bool:
    return Path(path).name in (SETUP_PY, SETUP_CFG)


def read_setup(path: str) -> SetupInfo:
    """What ``path`` declares, by kind; a file that cannot be parsed comes back with ``unreadable`` set."""
    text = read_text(path)
    return _read_cfg(text, path) if Path(path).name == SETUP_CFG else _read_py(text, path)


def declares_dependencies(path: str) -> bool:
    """Whether a setup file declares any requirement list (literal or computed), or cannot be read (then it is a
    profile, so that the reason is reported)."""
    try:
        info = read_setup(path)
    except InputError:
        return True
    return bool(info.unreadable or info.install or info.extras or info.extras_computed)


def setup_extras(path: str) -> list[str]:
    """The extras a setup file declares (for the profiles/excluded listing of unselected ones)."""
    try:
        return list(read_setup(path).extras)
    except InputError:
        return []


def load_setup(path: str, options: AuditOptions) -> SourceResult:
    """One profile: ``install_requires`` and the selected extras as requirements still to resolve."""
    info = read_setup(path)
    result = SourceResult(files=[path], kinds=[Path(path).name])
    result.root_name, result.root_version = info.name, info.version
    if info.unreadable:
        result.skipped.append(Skipped(reason=f"{info.unreadable}: its dependencies were not read", file=path,
                                      not_checked=["the dependencies it declares"], kind=ItemKind.INPUT_FILE))
        result.resolved = True
        return result
    wanted = {canonical_name(e) for e in options.extras}
    selected = [d for name, d in info.extras.items() if wanted & ALL or canonical_name(name) in wanted]
    for declared in [*info.install, *selected]:
        _take(declared, path, options, result)
    if info.extras_computed is not None and wanted:
        _take(info.extras_computed, path, options, result)
    elif info.extras_computed is not None:  # listed, like pyproject extras nobody selected
        result.skipped.append(Excluded(
            reason=f"extras_require is computed ({info.extras_computed.computed}): optional dependencies, none "
                   "selected (with --extra they are reported as not read)", file=path,
            line=info.extras_computed.line, kind=SECTION, subject=f"{path} [extras_require]"))
    for declared in info.other:
        result.skipped.append(Excluded(
            reason=f"{declared.key}: build/test-time requirements, not installed with the project", file=path,
            line=declared.line, kind=SECTION, subject=f"{path} [{declared.key}]"))
    if not result.requirements and not any(isinstance(s, Skipped) for s in result.skipped):
        result.warnings.append(f"{path}: declares no dependencies (for the selected extras): nothing to resolve")
    result.resolved = not result.requirements
    return result


def _take(declared: Declared, path: str, options: AuditOptions, result: SourceResult) -> None:
    group = declared.key.split("[", 1)[1].rstrip("]") if "[" in declared.key else None
    for text, line in declared.items:
        req = _requirement(text, path, line, group, result)
        if req is not None:
            result.requirements.append(req)
    for file in declared.files:
        _read_requirements_file(file, path, declared, options, result)
    if declared.computed is not None and not declared.files:
        result.skipped.append(Skipped(
            reason=f"{declared.key} is computed ({declared.computed}): not evaluated, mlaudit never runs setup.py; "
                   "the requirements it produces were not read", file=path, line=declared.line,
            requirement=f"{declared.key}={declared.computed}", not_checked=[f"the requirements of {declared.key}"],
            kind=SECTION, subject=f"{path} [{declared.key}]"))


def _read_requirements_file(file: str, path: str, declared: Declared, options: AuditOptions,
                            result: SourceResult) -> None:
    from auditor.sources.markers import target_environment
    from auditor.sources.requirements import load_requirements

    try:
        sub = load_requirements(file, target_environment(options.python_version, options.platform))
    except InputError as exc:
        result.skipped.append(Skipped(reason=f"{declared.key} reads {file}, which could not be read: {exc}",
                                      file=path, line=declared.line, requirement=declared.key,
                                      not_checked=[f"the requirements of {declared.key}"], kind=SECTION,
                                      subject=f"{path} [{declared.key}]"))
        return
    if not declared.exact:
        result.warnings.append(f"{path}:{declared.line}: {declared.key} is computed ({declared.computed}); the "
                               f"requirements file it reads, {file}, was audited whole (never evaluated; a superset "
                               "of what the code may select)")
    result.files.extend(f for f in sub.files if f not in result.files)
    result.requirements.extend(sub.requirements)
    result.constraints.extend(sub.constraints)
    result.skipped.extend(sub.skipped)
    result.items.extend(sub.items)
    for url in sub.extra_index_urls:
        if url not in result.extra_index_urls:
            result.extra_index_urls.append(url)
    result.index_url = result.index_url or sub.index_url
    result.find_links.extend(u for u in sub.find_links if u not in result.find_links)


def _requirement(text: str, path: str, line: int | None, group: str | None,
                 result: SourceResult) -> Requirement | None:
    try:
        parsed = PkgRequirement(text)
    except InvalidRequirement as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid"
        result.skipped.append(Skipped(reason=f"not a valid requirement ({first}): not audited", file=path, line=line,
                                      requirement=text, not_checked=[text], kind=ItemKind.REQUIREMENT))
        return None
    return Requirement(name=canonical_name(parsed.name), raw=text, specifier=str(parsed.specifier),
                       extras=tuple(sorted(parsed.extras)), marker=str(parsed.marker) if parsed.marker else None,
                       location=Location(path, line), url=parsed.url or None,
                       group=f"extra:{group}" if group else None)


# -- setup.cfg ---------------------------------------------------------------------------------------------------
_SECTION_RE = re.compile(r"^\[(?P<name>[^\]]+)\]\s*$")
_KEY_RE = re.compile(r"^(?P<key>[^=:\s][^=:]*?)\s*[=:]\s*(?P<value>.*)$")


def _ini(text: str) -> dict[str, dict[str, tuple[int, list[tuple[str, int]]]]]:
    """configparser's reading of ``text`` with line numbers: section -> key -> (key line, value lines). Keys are
    lower-cased with ``-`` as ``_`` (setuptools accepts both spellings)."""
    sections: dict[str, dict[str, tuple[int, list[tuple[str, int]]]]] = {}
    current: dict[str, tuple[int, list[tuple[str, int]]]] | None = None
    values: list[tuple[str, int]] | None = None
    key_indent = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        indent = len(raw) - len(raw.lstrip())
        if values is not None and indent > key_indent:
            values.append((stripped, number))
            continue
        section = _SECTION_RE.match(stripped)
        if section and indent == 0:
            current = sections.setdefault(section["name"].strip(), {})
            values = None
            continue
        m = _KEY_RE.match(stripped)
        if m and current is not None:
            key = m["key"].strip().lower().replace("-", "_")
            values = [(m["value"].strip(), number)] if m["value"].strip() else []
            current[key] = (number, values)
            key_indent = indent
        else:
            values = None
    return sections


def _cfg_list(lines: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """setuptools' ``_parse_list_semicolon``: one item per line, or ``;``-separated on one line; no comments."""
    if len(lines) == 1 and ";" in lines[0][0]:
        text, number = lines[0]
        parts = [(p.strip(), number) for p in text.split(";")]
    else:
        parts = [(re.sub(r"\s+#.*$", "", t).strip(), n) for t, n in lines]
    return [(t, n) for t, n in parts if t and not t.startswith("#")]


def _read_cfg(text: str, path: str) -> SetupInfo:
    sections = _ini(text)
    info = SetupInfo()
    metadata = sections.get("metadata", {})
    if "name" in metadata and metadata["name"][1]:
        info.name = metadata["name"][1][0][0]
    if "version" in metadata and metadata["version"][1] and not metadata["version"][1][0][0].startswith(("attr:",
                                                                                                         "file:")):
        info.version = metadata["version"][1][0][0]
    opts = sections.get("options", {})
    if "install_requires" in opts:
        info.install.append(_cfg_declared("install_requires", *opts["install_requires"], path))
    for key in NOT_INSTALLED:
        if key in opts:
            info.other.append(Declared(key, opts[key][0]))
    for extra, (line, values) in sections.get("options.extras_require", {}).items():
        info.extras[extra] = _cfg_declared(f"extras_require[{extra}]", line, values, path)
    return info


def _cfg_declared(key: str, line: int, values: list[tuple[str, int]], path: str) -> Declared:
    declared = Declared(key, line)
    joined = " ".join(t for t, _ in values)
    if joined.startswith("file:"):
        base = Path(path).parent
        declared.files = [str(base / f.strip()) for f in joined[len("file:"):].split(",") if f.strip()]
        return declared
    declared.items = list(_cfg_list(values))
    return declared


# -- setup.py ----------------------------------------------------------------------------------------------------
def _read_py(text: str, path: str) -> SetupInfo:
    info = SetupInfo()
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        info.unreadable = f"not valid Python 3 (line {exc.lineno}: {exc.msg})"
        return info
    except (RecursionError, MemoryError, ValueError) as exc:
        info.unreadable = f"cannot be parsed ({type(exc).__name__})"
        return info
    reader = _PyReader(tree, text, path)
    for call in reader.setup_calls():
        reader.read_call(call, info)
    return info


class _PyReader:
    """Literals out of a parsed ``setup.py`` (never executed)."""

    def __init__(self, tree: ast.Module, text: str, path: str) -> None:
        self.tree = tree
        self.text = text
        self.base = Path(path).parent
        self.assigned: dict[str, list[ast.AST]] = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        for node in tree.body:
            self._collect(node)

    def _collect(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.assigned.setdefault(target.id, []).append(node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            self.assigned.setdefault(node.target.id, []).append(node.value)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            self.assigned.setdefault(node.target.id, []).append(node)  # changed after binding: not a literal
        elif isinstance(node, ast.FunctionDef):
            self.functions[node.name] = node
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    self._collect(child)

    def setup_calls(self) -> list[ast.Call]:
        calls = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if name == "setup":
                    calls.append(node)
        return calls

    def read_call(self, call: ast.Call, info: SetupInfo) -> None:
        keywords: list[tuple[str, ast.expr, int]] = []
        for kw in call.keywords:
            if kw.arg is not None:
                keywords.append((kw.arg, kw.value, kw.value.lineno))
                continue
            mapping = self._resolve(kw.value, 0)  # setup(**config)
            if isinstance(mapping, ast.Dict):
                for k, v in zip(mapping.keys, mapping.values, strict=True):
                    if isinstance(k, ast.Constant) and isinstance(k.value, str):
                        keywords.append((k.value, v, v.lineno))
        for key, value, line in keywords:
            if key == "install_requires":
                info.install.append(self._declared(key, value, line))
            elif key in NOT_INSTALLED:
                info.other.append(Declared(key, line))
            elif key == "extras_require":
                mapping = self._resolve(value, 0)
                if not isinstance(mapping, ast.Dict) or any(not (isinstance(k, ast.Constant) and isinstance(
                        k.value, str)) for k in mapping.keys):
                    info.extras_computed = self._declared(key, value, line)
                    continue
                for k, v in zip(mapping.keys, mapping.values, strict=True):
                    extra = str(k.value) if isinstance(k, ast.Constant) else ""
                    info.extras[extra] = self._declared(f"extras_require[{extra}]", v, v.lineno)
            elif key == "name" and isinstance(value, ast.Constant) and isinstance(value.value, str):
                info.name = value.value
            elif key == "version" and isinstance(value, ast.Constant) and isinstance(value.value, str):
                info.version = value.value

    def _declared(self, key: str, value: ast.expr, line: int) -> Declared:
        declared = Declared(key, line)
        items = self._strings(value, 0)
        if items is not None:
            declared.items = items
            return declared
        resolved = self._resolve(value, 0)
        if isinstance(resolved, ast.Constant) and isinstance(resolved.value, str):  # one string, a line per item
            declared.items = [(t.strip(), resolved.lineno + i) for i, t in enumerate(resolved.value.split("\n"))
                              if t.strip() and not t.strip().startswith("#")]
            return declared
        segment = ast.get_source_segment(self.text, value) or type(value).__name__
        declared.computed = " ".join(segment.split())[:120]
        declared.files = self._files_named(value)
        declared.exact = False
        return declared

    def _resolve(self, node: ast.expr, depth: int) -> ast.expr:
        """A module-level name bound exactly once, followed to its value (not past ``MAX_NAME_DEPTH`` links)."""
        while isinstance(node, ast.Name) and depth < MAX_NAME_DEPTH:
            bound = self.assigned.get(node.id, [])
            value = bound[0] if len(bound) == 1 else None
            if not isinstance(value, ast.expr):
                return node
            node, depth = value, depth + 1
        return node

    def _strings(self, node: ast.expr, depth: int) -> list[tuple[str, int | None]] | None:
        """A list/tuple of string literals (names and ``+`` followed); None if anything in it is computed."""
        if depth > MAX_NAME_DEPTH:
            return None
        node = self._resolve(node, depth)
        if isinstance(node, (ast.List, ast.Tuple)):
            out: list[tuple[str, int | None]] = []
            for elt in node.elts:
                if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                    out.append((elt.value, elt.lineno))
                elif isinstance(elt, ast.Starred):
                    inner = self._strings(elt.value, depth + 1)
                    if inner is None:
                        return None
                    out.extend(inner)
                else:
                    return None
            return out
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self._strings(node.left, depth + 1), self._strings(node.right, depth + 1)
            return None if left is None or right is None else left + right
        return None

    def _files_named(self, node: ast.expr) -> list[str]:
        """Requirements files beside setup.py that a computed expression names, directly or in a module-level
        function it calls (``open("requirements.txt")``, ``read_reqs()`` whose body opens one)."""
        from auditor.sources.detect import is_requirement_like

        scopes: list[ast.AST] = [self._resolve(node, 0)]
        for sub in ast.walk(scopes[0]):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in self.functions:
                scopes.append(self.functions[sub.func.id])
        found: list[str] = []
        for scope in scopes:
            for sub in ast.walk(scope):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and len(sub.value) < 256:
                    candidate = self.base / sub.value
                    if "\n" not in sub.value and candidate.is_file() and is_requirement_like(candidate) \
                            and str(candidate) not in found:
                        found.append(str(candidate))
        return found


__all__ = ["SETUP_CFG", "SETUP_PY", "declares_dependencies", "is_setup_file", "load_setup", "read_setup",
           "setup_extras"]

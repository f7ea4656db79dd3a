"""The project's Python files as one searchable whole: texts, parse trees, imports, definitions, call sites.

Why project-wide: the value that reaches a loader is often written elsewhere -- a dataclass of arguments in
``hparams.py``, an argparse option in ``shared.py``, a caller in another module passing the model name. The index
answers "which files mention this word" with a regex over the texts and parses only those files, so a project of
thousands of files costs a walk and a few searches, not thousands of parses. Nothing is imported or run.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
_IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TEXT_BUDGET = 200_000_000
# Text tests for "can this file give attribute X a value" (a superset of what the parse tree will show).
_ANNOTATED_RE = re.compile(r"^[ \t]+([A-Za-z_]\w*)\s*:(?!=)", re.M)
_CONSTANT_RE = re.compile(r"^[ \t]+([A-Z][A-Z0-9_]*)\s*=", re.M)
_FLAG_RE = re.compile(r"[\"']--?([A-Za-z_][\w-]*)[\"']")
_DEST_RE = re.compile(r"dest\s*=\s*[\"']([A-Za-z_]\w*)[\"']")
_ATTR_ASSIGN_RE = re.compile(r"\.([A-Za-z_]\w*)\s*(?::[^=\n]*)?=(?!=)")
# Import statements, read off the text (one line each; a parenthesised name list continues on later lines, and
# only its module counts then): enough to know which files a script can reach without parsing the project.
_IMPORT_RE = re.compile(r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+([^\n#]*)|import[ \t]+([^\n#]+))", re.M)
_FLAG_KWARG_RE = re.compile(r"\b(\w*remote_code)\s*=(?!=)")  # ``Config(trust_remote_code=True)``
_SETATTR_RE = re.compile(r"setattr\s*\([^)]*?[\"']([A-Za-z_]\w*)[\"']")  # characters of source kept in memory; beyond it, texts are read again when needed


@dataclass
class PyFile:
    """One Python source of the project. ``shown`` is the name used in locations; ``module`` its dotted name."""

    path: Path | None
    shown: str
    module: str
    base: Path | None = None  # directory local paths in it are resolved against
    text: str | None = None
    _tree: ast.Module | None = None
    _parsed: bool = False
    _scopes: list[tuple[tuple[int, int], tuple[int, int], ast.AST]] | None = None
    _defs: dict[str, list[FunctionNode]] | None = None
    _classes: dict[str, list[ast.ClassDef]] | None = None
    _mocked: list[tuple[int, int]] | None = None
    _calls: dict[str, list[ast.Call]] | None = None
    _imports: dict[str, tuple[str, str | None]] | None = None  # alias -> (module, name or None)
    _facts: AttrFacts | None = None
    _text_names: tuple[frozenset[str], frozenset[str]] | None = None

    @property
    def imports(self) -> dict[str, tuple[str, str | None]]:
        if self._imports is None:
            self._index()
        return self._imports or {}

    def may_declare(self, attr: str) -> bool:
        """Can this file declare ``attr`` (an annotated class field, an UPPER_CASE class constant, an argparse
        option)? Read off the text, so that files that only read it are not parsed for the question."""
        return attr in self._names()[0]

    def may_assign(self, attr: str) -> bool:
        """Can this file assign ``x.attr = ...`` or ``setattr(x, "attr", ...)``?"""
        return attr in self._names()[1]

    def _names(self) -> tuple[frozenset[str], frozenset[str]]:
        if self._text_names is None:
            source = self.source() or ""
            declared = set(_ANNOTATED_RE.findall(source)) | set(_CONSTANT_RE.findall(source))
            declared |= {flag.replace("-", "_") for flag in _FLAG_RE.findall(source)}
            declared |= set(_DEST_RE.findall(source))
            assigned = set(_ATTR_ASSIGN_RE.findall(source)) | set(_SETATTR_RE.findall(source))
            assigned |= set(_FLAG_KWARG_RE.findall(source))
            self._text_names = (frozenset(declared), frozenset(assigned))
        return self._text_names

    def facts(self) -> AttrFacts:
        """Where this file declares or assigns attributes, by attribute name."""
        if self._facts is None:
            self._index()
        return self._facts or AttrFacts()

    def tree(self) -> ast.Module | None:
        """The parse tree, or None when the file does not parse (the reader reports that itself)."""
        if not self._parsed:
            self._parsed = True
            source = self.source()
            if source is None:
                return None
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self._tree = ast.parse(source, filename=self.shown)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                self._tree = None
        return self._tree

    def source(self) -> str | None:
        if self.text is not None:
            return self.text
        if self.path is None:
            return None
        try:
            return self.path.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError):
            return None

    def _index(self) -> None:
        """One walk over the tree: definitions and calls by name, imports, attribute facts."""
        self._defs, self._calls, self._imports, self._classes = {}, {}, {}, {}
        self._facts = AttrFacts()
        tree = self.tree()
        if tree is None:
            return
        stack: list[ast.AST] = [tree]
        while stack:
            node = stack.pop()
            for name in node._fields:
                value = getattr(node, name, None)
                if isinstance(value, ast.AST):
                    stack.append(value)
                elif isinstance(value, list):
                    stack.extend(item for item in value if isinstance(item, ast.AST))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self._defs.setdefault(node.name, []).append(node)
            elif isinstance(node, ast.ClassDef):
                self._classes.setdefault(node.name, []).append(node)
            elif isinstance(node, ast.Call):
                called = call_name(node)
                if called:
                    self._calls.setdefault(called, []).append(node)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                self._import(node)
            self._facts.see(node)

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        imports = self._imports if self._imports is not None else {}
        if isinstance(node, ast.Import):
            for alias in node.names:
                imports[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0], None)
        else:
            module = _absolute(self.module, node.module or "", node.level)
            for alias in node.names:
                if alias.name != "*":
                    imports[alias.asname or alias.name] = (module, alias.name)

    def owner(self, func: ast.AST) -> ast.ClassDef | None:
        """The class whose body defines ``func`` (None for a function outside a class)."""
        scopes = self.enclosing(func)
        if scopes and isinstance(scopes[0], ast.ClassDef) and func in scopes[0].body:
            return scopes[0]
        return None

    def defs(self, name: str) -> list[FunctionNode]:
        if self._defs is None:
            self._index()
        return (self._defs or {}).get(name, [])

    def mocked_lines(self) -> list[tuple[int, int]]:
        """Line ranges of test code that replaces the Hub or a loader with a double: ``with patch(...)`` bodies,
        functions decorated with ``@patch``, functions that ``monkeypatch.setattr``/``mocker.patch`` or install a
        double by assignment (``sys.modules[...] = ...``, ``mod.Loader = FakeLoader``), tests that request a pytest
        fixture of this file that does so, and helpers of this file called only from such code. A model named
        there is a fixture of the double, not a download."""
        if self._mocked is not None:
            return self._mocked
        out: list[tuple[int, int]] = []
        tree = self.tree()
        funcs: list[FunctionNode] = []
        for node in ast.walk(tree) if tree is not None else ():
            if isinstance(node, (ast.With, ast.AsyncWith)) and any(_is_patch(i.context_expr) for i in node.items):
                out.append((node.lineno, node.end_lineno or node.lineno))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                funcs.append(node)
        patched = [n for n in funcs if _patches(n)]
        # a fixture that patches is in force in every test that requests it by parameter name, and a helper of
        # this file that installs a double does so for the function that calls it
        changed = True
        while changed:
            fixtures = {n.name for n in patched if any(_is_fixture(d) for d in n.decorator_list)}
            helpers = {n.name for n in patched} - fixtures
            more = [n for n in funcs if n not in patched and (fixtures & _params(n) or any(
                isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id in helpers
                for c in ast.walk(n)))]
            patched += more
            changed = bool(more)
        out += [(n.lineno, n.end_lineno or n.lineno) for n in patched]
        # a module-level helper whose every call in this file runs under a double runs under it too
        top = [n for n in (tree.body if tree is not None else [])
               if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n not in patched]
        calls: dict[str, list[int]] = {}
        for node in ast.walk(tree) if tree is not None and top else ():
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                calls.setdefault(node.func.id, []).append(node.lineno)
        changed = True
        while changed:
            changed = False
            for n in list(top):
                lines = calls.get(n.name, [])
                if lines and all(any(a <= ln <= b for a, b in out) for ln in lines):
                    out.append((n.lineno, n.end_lineno or n.lineno))
                    top.remove(n)
                    changed = True
        self._mocked = out
        return out

    def classes_named(self, name: str) -> list[ast.ClassDef]:
        if self._classes is None:
            self._index()
        return (self._classes or {}).get(name, [])

    def calls_named(self, name: str) -> list[ast.Call]:
        if self._calls is None:
            self._index()
        return (self._calls or {}).get(name, [])

    def _scope_list(self) -> list[tuple[tuple[int, int], tuple[int, int], ast.AST]]:
        """(start, end, definition) of every function and class, from a walk over statements only (cheap: the
        expressions inside are not visited)."""
        if self._scopes is None:
            self._scopes = []
            tree = self.tree()
            stack: list[ast.AST] = list(tree.body) if tree is not None else []
            while stack:
                stmt = stack.pop()
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    end = (stmt.end_lineno or stmt.lineno, stmt.end_col_offset or 0)
                    self._scopes.append(((stmt.lineno, stmt.col_offset), end, stmt))
                for name in ("body", "orelse", "finalbody", "handlers", "cases"):
                    for child in getattr(stmt, name, None) or []:
                        if isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
                            stack.append(child)
        return self._scopes

    def enclosing(self, node: ast.AST) -> list[ast.AST]:
        """Enclosing function and class definitions, innermost first (a decorator is outside its function)."""
        if node is self._tree:
            return []
        start = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
        end = (getattr(node, "end_lineno", None) or start[0], getattr(node, "end_col_offset", None) or start[1])
        found = [(scope_start, scope) for scope_start, scope_end, scope in self._scope_list()
                 if scope is not node and scope_start <= start and end <= scope_end]
        return [scope for _, scope in sorted(found, key=lambda item: item[0], reverse=True)]

    def enclosing_function(self, node: ast.AST) -> FunctionNode | None:
        for scope in self.enclosing(node):
            if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return scope
        return None

    def calls_on_lines(self, lines: set[int]) -> list[ast.Call]:
        """Calls that start or end on one of ``lines``, found by visiting only the statements that span them."""
        tree = self.tree()
        out: list[ast.Call] = []
        if tree is None or not lines:
            return out
        stack: list[ast.AST] = list(tree.body)
        while stack:
            stmt = stack.pop()
            first: int = getattr(stmt, "lineno", 0) or 0
            last: int = getattr(stmt, "end_lineno", None) or first
            if not any(first <= line <= last for line in lines):
                continue
            for node in own_nodes(stmt, lambdas=True):
                if isinstance(node, ast.Call):
                    end = getattr(node, "end_lineno", None) or node.lineno
                    if any(line in lines for line in range(node.lineno, end + 1)):
                        out.append(node)
            for name in ("body", "orelse", "finalbody", "handlers", "cases", "decorator_list"):
                for child in getattr(stmt, name, None) or []:
                    if isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
                        stack.append(child)
                    elif isinstance(child, ast.expr):
                        stack.append(ast.Expr(value=child, lineno=child.lineno, end_lineno=child.end_lineno,
                                              col_offset=child.col_offset))
        out.sort(key=lambda call: (call.lineno, call.col_offset))
        return out


@dataclass
class AttrFacts:
    """Statements that give an attribute a value: class-body fields, argparse options (by ``dest``), and
    assignments ``x.attr = ...`` / ``setattr(x, "attr", ...)``."""

    fields: dict[str, list[tuple[ast.ClassDef, ast.stmt]]] = field(default_factory=dict)
    options: dict[str, list[ast.Call]] = field(default_factory=dict)
    assignments: dict[str, list[ast.AST]] = field(default_factory=dict)
    # ``Config(trust_remote_code=True)``: a remote-code flag given to a call by keyword (the call may build the
    # object whose attribute a loader reads)
    flag_keywords: dict[str, list[ast.Call]] = field(default_factory=dict)

    def see(self, node: ast.AST) -> None:
        """Note ``node`` if it gives an attribute a value (called for every node of a file's one walk)."""
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                for name in _field_names(stmt):
                    self.fields.setdefault(name, []).append((node, stmt))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute):
                    self.assignments.setdefault(target.attr, []).append(node)
        elif isinstance(node, ast.Call):
            called = call_name(node)
            if called == "add_argument" and isinstance(node.func, ast.Attribute):
                dest = argparse_dest(node)
                if dest:
                    self.options.setdefault(dest, []).append(node)
            elif called == "setattr" and len(node.args) == 3 and isinstance(node.args[1], ast.Constant) and \
                    isinstance(node.args[1].value, str):
                self.assignments.setdefault(node.args[1].value, []).append(node)
            for kw in node.keywords:
                if kw.arg is not None and "remote_code" in kw.arg:
                    self.flag_keywords.setdefault(kw.arg, []).append(node)


_DOUBLE_NAME = re.compile(r"^_*(?:fake|mock|stub|dummy)", re.IGNORECASE)
_DOUBLE_FACTORIES = frozenset({"Mock", "MagicMock", "AsyncMock", "NonCallableMock", "create_autospec"})


def _params(node: FunctionNode) -> set[str]:
    return {a.arg for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]}


def _is_fixture(decorator: ast.expr) -> bool:
    """``@pytest.fixture`` / ``@fixture`` / ``@pytest.fixture(...)``."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (dotted(target) or "").split(".")[-1] == "fixture"


def _is_double(value: ast.expr) -> bool:
    """A value that is a test double by its name or its maker: ``FakeLoader``, ``_fake_download``,
    ``MagicMock(...)``."""
    if isinstance(value, ast.Call):
        return (dotted(value.func) or "").split(".")[-1] in _DOUBLE_FACTORIES or _is_double(value.func)
    if isinstance(value, ast.Lambda):
        return False
    name = (dotted(value) or "").split(".")[-1]
    return bool(name) and bool(_DOUBLE_NAME.match(name))


def _patches(node: FunctionNode) -> bool:
    """Does this function put a double in place of real code (see ``PyFile.mocked_lines``)?"""
    params = _params(node)
    if any(_is_patch(d) for d in node.decorator_list) or any(
            p.startswith(("fake_", "mock_", "mocked_", "stub_", "patched_")) for p in params):
        return True
    doubles = params & {"monkeypatch", "mocker"}
    for c in ast.walk(node):
        # a patcher made outside a ``with`` line (``p = patch(...)``, ``patch(...).start()``): the whole function
        if isinstance(c, ast.Call) and _is_patch(c) and not any(
                isinstance(w, (ast.With, ast.AsyncWith)) and any(i.context_expr is c for i in w.items)
                for w in ast.walk(node)):
            return True
        if doubles and isinstance(c, ast.Call) and (
                isinstance(c.func, ast.Attribute) and dotted(c.func.value) in ("monkeypatch", "mocker", "mocker.patch")
                # a helper given the monkeypatch fixture patches on the test's behalf
                or any(isinstance(a, ast.Name) and a.id in doubles for a in c.args)):
            return True
        if isinstance(c, ast.Assign):
            for t in c.targets:
                # ``sys.modules["diffusers"] = ...`` or ``diffusers.Pipeline = FakePipeline``
                if isinstance(t, ast.Subscript) and dotted(t.value) == "sys.modules" or (
                        isinstance(t, ast.Attribute) and dotted(t.value) not in ("self", "cls", None)
                        and _is_double(c.value)):
                    return True
    return False


def _is_patch(node: ast.expr) -> bool:
    """``patch(...)``, ``mock.patch.object(...)``, ``mocker.patch(...)`` (a call or a decorator)."""
    target = node.func if isinstance(node, ast.Call) else node
    name = dotted(target) or ""
    return name.split(".")[-1] == "patch" or ".patch." in f".{name}." or name.endswith(("patch.object",
                                                                                        "patch.dict"))


def _field_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return [stmt.target.id]
    if isinstance(stmt, ast.Assign):
        return [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    return []


def argparse_dest(call: ast.Call) -> str | None:
    """The attribute an ``add_argument`` call fills: ``dest=``, else the first long flag, else the first name."""
    for kw in call.keywords:
        if kw.arg == "dest" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
            return kw.value.value
    flags = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    chosen = next((f for f in flags if f.startswith("--")), flags[0] if flags else None)
    return chosen.lstrip("-").replace("-", "_") if chosen else None


def _imported_modules(source: str, current: str) -> list[str]:
    """Dotted names a file's import statements can load: ``from a.b import c`` gives ``a.b`` and ``a.b.c``."""
    out: list[str] = []
    for match in _IMPORT_RE.finditer(source):
        origin, names, plain = match.group(1), match.group(2), match.group(3)
        if plain is not None:
            out.extend(part.split(" as ")[0].strip() for part in plain.split(","))
            continue
        level = len(origin) - len(origin.lstrip("."))
        module = _absolute(current, origin.lstrip("."), level)
        if module:
            out.append(module)
        for name in (names or "").strip().strip("()\\").split(","):
            name = name.split(" as ")[0].strip(" ()")
            if name.isidentifier():
                out.append(f"{module}.{name}" if module else name)
    return [m for m in out if m]


def _absolute(current: str, module: str, level: int) -> str:
    if level == 0:
        return module
    parts = current.split(".")[:-level] if current else []
    return ".".join([*parts, module] if module else parts)


def module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@dataclass
class CallSite:
    file: PyFile
    call: ast.Call
    function: FunctionNode | None  # the function the call is in (None: module level)


class PyProject:
    """Every Python file of one project (or a single file, for notebook cells and fuzzing)."""

    def __init__(self, files: list[PyFile]) -> None:
        self.files = files
        self._by_module: dict[str, list[PyFile]] = {}
        for f in files:
            self._by_module.setdefault(f.module, []).append(f)
        self._kept = 0
        self._words: dict[str, list[PyFile]] | None = None
        self._modules: dict[str, list[PyFile]] = {}
        self._defs: dict[str, list[tuple[PyFile, FunctionNode, ast.ClassDef | None]]] = {}
        self._calls: dict[str, list[CallSite]] = {}
        self._declaring: dict[str, list[PyFile]] = {}
        self._class_defs: dict[str, list[tuple[PyFile, ast.ClassDef]]] = {}
        self._by_shown: dict[str, PyFile] | None = None
        self._edges: dict[str, list[PyFile]] | None = None  # shown -> project files it imports
        self._closures: dict[str, frozenset[str]] = {}
        self._scopes: dict[str, frozenset[str]] = {}

    def keep_text(self, f: PyFile, text: str) -> None:
        """Keep a text that was read anyway, while the budget lasts."""
        if self._kept + len(text) <= TEXT_BUDGET:
            f.text = text
            self._kept += len(text)

    def with_word(self, word: str) -> list[PyFile]:
        """Files whose text contains ``word`` as a whole identifier (an index of identifiers, built on first use:
        one pass over the texts instead of one per question)."""
        if self._words is None:
            self._words = {}
            for f in self.files:
                source = f.source()
                if source is None:
                    continue
                for token in set(_IDENTIFIER_RE.findall(source)):
                    self._words.setdefault(token, []).append(f)
        return self._words.get(word, [])

    def declaring(self, attr: str) -> list[PyFile]:
        """Files that may name ``attr``: as an identifier, or as a command-line flag (``--base-model`` fills
        ``base_model``)."""
        cached = self._declaring.get(attr)
        if cached is None:
            cached = list(self.with_word(attr))
            if "_" in attr:
                flag = attr.replace("_", "-")
                seen = {id(f) for f in cached}
                cached += [f for f in self.files if id(f) not in seen and flag in (f.source() or "")]
            self._declaring[attr] = cached
        return cached

    def resolve(self, f: PyFile, dotted: str) -> list[PyFile]:
        """The files ``import dotted`` in ``f`` loads: the exact module; else the one beside ``f`` (a script's
        directory is first on ``sys.path``: ``from utils import x`` in ``examples/sft/train.py`` is
        ``examples/sft/utils.py``, not every ``utils.py`` of the project); else every module the name ends with."""
        found = self.modules(dotted)
        if len(found) < 2 or self._by_module.get(dotted):
            return found
        here = f.module.rsplit(".", 1)[0] if "." in f.module else ""
        for prefix in (here, here.rsplit(".", 1)[0] if "." in here else ""):
            near = self._by_module.get(f"{prefix}.{dotted}" if prefix else dotted)
            if near:
                return near
        return found

    def modules(self, dotted: str) -> list[PyFile]:
        """Files that ``import dotted`` can mean: exact module, or one whose dotted name ends with it (projects are
        often audited from a parent directory, or run with ``src/`` on the path)."""
        cached = self._modules.get(dotted)
        if cached is None:
            exact = self._by_module.get(dotted)
            suffix = "." + dotted
            cached = exact or [f for m, fs in self._by_module.items() if m.endswith(suffix) for f in fs]
            self._modules[dotted] = cached
        return cached

    def file(self, shown: str) -> PyFile | None:
        if self._by_shown is None:
            self._by_shown = {f.shown: f for f in self.files}
        return self._by_shown.get(shown)

    def classes(self, name: str) -> list[tuple[PyFile, ast.ClassDef]]:
        """Definitions of classes called ``name``."""
        cached = self._class_defs.get(name)
        if cached is not None:
            return cached
        pattern = re.compile(rf"\bclass\s+{re.escape(name)}\b")
        out = [(f, node) for f in self.with_word(name) if pattern.search(f.source() or "")
               for node in f.classes_named(name)]
        self._class_defs[name] = out
        return out

    def functions(self, name: str) -> list[tuple[PyFile, FunctionNode, ast.ClassDef | None]]:
        """Definitions of functions or methods called ``name`` (with their class)."""
        cached = self._defs.get(name)
        if cached is not None:
            return cached
        out: list[tuple[PyFile, FunctionNode, ast.ClassDef | None]] = []
        pattern = re.compile(rf"\bdef\s+{re.escape(name)}\b")
        for f in self.with_word(name):
            if not pattern.search(f.source() or ""):
                continue
            for node in f.defs(name):
                out.append((f, node, f.owner(node)))
        self._defs[name] = out
        return out

    def calls(self, name: str) -> list[CallSite]:
        """Calls ``name(...)`` or ``x.name(...)`` anywhere in the project."""
        cached = self._calls.get(name)
        if cached is not None:
            return cached
        out: list[CallSite] = []
        pattern = re.compile(rf"\b{re.escape(name)}\s*\(")
        for f in self.with_word(name):
            if not pattern.search(f.source() or ""):
                continue
            for node in f.calls_named(name):
                out.append(CallSite(f, node, f.enclosing_function(node)))
        self._calls[name] = out
        return out

    def callers(self, f: PyFile, func: FunctionNode, owner: ast.ClassDef | None) -> list[CallSite]:
        """Call sites that can reach ``func``: in the same file, in files that import it (or its class) by name,
        and ``module.func(...)`` through an imported module. A method is reached through ``self``/``cls``/its
        class, or by name when one class in the project defines it (``_receiver_fits``); ``__init__`` through
        calls of its class."""
        constructor = owner is not None and func.name == "__init__"
        name = owner.name if constructor and owner is not None else func.name
        unique = len(self.functions(func.name)) == 1 and func.name not in COMMON_METHODS
        out: list[CallSite] = []
        for site in self.calls(name):
            if site.function is func:
                continue  # recursion adds nothing the other callers do not
            target = site.call.func
            site.file.tree()
            if owner is not None and not constructor:
                if isinstance(target, ast.Attribute) and _receiver_fits(target.value, owner, unique, site.file is f):
                    out.append(site)
                continue
            if site.file is f:
                out.append(site)
            elif isinstance(target, ast.Name):
                imported = site.file.imports.get(target.id)
                if imported and imported[1] == name and (self._is_module_of(imported[0], f) or
                                                         self._reexports(imported[0], f)):
                    out.append(site)
            elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and \
                    target.value.id in site.file.imports:
                module, member = site.file.imports[target.value.id]
                if self._is_module_of(f"{module}.{member}" if member else module, f):
                    out.append(site)
        return out

    def scope(self, f: PyFile) -> frozenset[str]:
        """The files whose values can reach ``f`` at run time: every entry point (a file no project file imports)
        whose imports reach ``f``, with everything those entry points import. Two scripts that import nothing of
        each other never share values: an option declared in one is not the other's (``shown`` names)."""
        cached = self._scopes.get(f.shown)
        if cached is not None:
            return cached
        edges = self._import_edges()
        importers: dict[str, list[str]] = {}
        for source, targets in edges.items():
            for target in targets:
                importers.setdefault(target.shown, []).append(source)
        roots: set[str] = set()
        seen = {f.shown}
        stack = [f.shown]
        while stack:
            current = stack.pop()
            above = [g for g in importers.get(current, []) if g != current]
            if not above:
                roots.add(current)
            for g in above:
                if g not in seen:
                    seen.add(g)
                    stack.append(g)
        if not roots:  # an import cycle with no way in: the cycle is the program
            roots = seen
        out: set[str] = set()
        for root in roots:
            out |= self._closure(root)
        self._scopes[f.shown] = frozenset(out)
        return self._scopes[f.shown]

    def _closure(self, shown: str) -> frozenset[str]:
        cached = self._closures.get(shown)
        if cached is not None:
            return cached
        edges = self._import_edges()
        seen = {shown}
        stack = [shown]
        while stack:
            for g in edges.get(stack.pop(), []):
                if g.shown not in seen:
                    seen.add(g.shown)
                    stack.append(g.shown)
        self._closures[shown] = frozenset(seen)
        return self._closures[shown]

    def _import_edges(self) -> dict[str, list[PyFile]]:
        if self._edges is None:
            self._edges = {}
            for f in self.files:
                targets: list[PyFile] = []
                package = f.shown.endswith("__init__.py")  # ``from . import x`` in a package's own __init__
                for dotted_name in _imported_modules(f.source() or "", f"{f.module}.__init__" if package else f.module):
                    for g in self.resolve(f, dotted_name):
                        if g is not f and g not in targets:
                            targets.append(g)
                self._edges[f.shown] = targets
        return self._edges

    @staticmethod
    def _reexports(package: str, f: PyFile) -> bool:
        """``from trl import GRPOTrainer`` where ``trl/trainer/grpo_trainer.py`` defines it: a package re-exports
        its modules' names (often lazily, which the text cannot show)."""
        return bool(package) and f.module.startswith(package + ".")

    def _is_module_of(self, dotted: str, f: PyFile) -> bool:
        return f in self.modules(dotted)


COMMON_METHODS = frozenset({"get", "load", "run", "update", "call", "forward", "generate", "predict", "apply",
                            "save", "open", "read", "write", "build", "create", "setup", "main", "__call__"})


def _receiver_fits(receiver: ast.expr, owner: ast.ClassDef, unique: bool, same_file: bool) -> bool:
    """``self.m()``/``cls.m()`` in the class's file, ``Owner.m()``, ``Owner(...).m()``; any other receiver only
    for a method name that one class in the project defines and that not every library uses (``get``, ``load``)."""
    if isinstance(receiver, ast.Name) and receiver.id in ("self", "cls"):
        return same_file
    if isinstance(receiver, ast.Name) and receiver.id == owner.name:
        return True
    if isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Name) and receiver.func.id == owner.name:
        return True
    return False if not unique else True


def call_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def own_nodes(node: ast.AST, *, lambdas: bool = False) -> Iterator[ast.AST]:
    """Nodes of an expression or statement, not descending into nested definitions (nor lambdas, unless asked)."""
    stop: tuple[type[ast.AST], ...] = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    if not lambdas:
        stop = (*stop, ast.Lambda)
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, stop) and not isinstance(child, ast.stmt):
                stack.append(child)


__all__ = ["AttrFacts", "CallSite", "argparse_dest", "FunctionNode", "PyFile", "PyProject", "call_name", "dotted", "module_name", "own_nodes"]

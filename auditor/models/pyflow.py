"""Which values reach a call: a small abstract interpreter over Python's ``ast`` (nothing is imported or run).

A function (or module) body is executed statement by statement on *value sets* (``auditor.models.values``):
an assignment replaces what a name holds, ``if``/``else`` run on copies that are joined afterwards, loops run
twice, ``return``/``raise`` end a path. So only the assignments on the paths that reach a call count, an
``if 'mpt' in name:`` narrows ``name`` inside its branch (the default ``"facebook/opt-125m"`` does not reach a
call guarded by it), and every call remembers the conditions on its path (``Guard``).

Where a value comes from outside the body:
- parameters: the default, joined with the arguments of the function's callers in the project
  (``PyProject.callers``, a few levels deep); with no caller, the default stands for the caller's choice;
- ``obj.attr``: declarations of ``attr`` (dataclass and class fields, argparse options: in the same file, else
  in the modules it imports, else anywhere in the project) joined with the assignments ``x.attr = value`` /
  ``setattr`` in the same file and the modules it imports -- anywhere in the project for ``trust_remote_code``
  itself (a ``True`` set anywhere counts);
- imported names: the module-level value in the imported project module;
- ``os.getenv(NAME, default)`` / ``os.environ.get``: the default, overridable by the operator.

Bounded on purpose (``MAX_DEPTH`` levels of callers, ``MAX_KNOWN`` constants per value): past a bound the value
is unknown, never guessed.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from auditor.domain import Location
from auditor.models.pyindex import FunctionNode, PyFile, PyProject, call_name, dotted, own_nodes
from auditor.models.values import (
    MAX_KNOWN,
    NOTHING,
    TOO_MANY,
    Guard,
    Known,
    Lazy,
    Open,
    Truth,
    Val,
    const,
    dict_val,
    force,
    join,
    map_strings,
    option,
    unknown,
)

MAX_DEPTH = 3  # levels of callers followed for a parameter's value
DOWNLOADED = "<downloaded>"  # a local path that a Hub download returned (the download itself is the reference)
OBJECT = "<object>"  # a literal object (list, dict, lambda): not a model name
OPT_IN_WORDS = ("remote_code", "remote-code")
GETENV = frozenset({"os.getenv", "getenv", "os.environ.get", "environ.get"})
DOWNLOADERS = frozenset({"snapshot_download", "hf_hub_download", "cached_path", "cached_file",
                         "try_to_load_from_cache"})
NAMESPACES = frozenset({"SimpleNamespace", "Namespace", "EasyDict", "edict", "AttrDict", "Box", "DotMap"})
CLICK_PARAMS = frozenset({"option", "argument"})  # @click.option / @click.argument (also asyncclick, rich_click)
TYPER_PARAMS = frozenset({"Option", "Argument"})  # typer.Option(...) / typer.Argument(...) as a default
STRING_METHODS: dict[str, Callable[[str], str]] = {"lower": str.lower, "upper": str.upper, "strip": str.strip,
                                                   "casefold": str.casefold, "rstrip": str.rstrip,
                                                   "lstrip": str.lstrip}


Check = Callable[[object], "bool | None"]


@dataclass
class State:
    """Values of names on one path, the expressions narrowed by conditions, and the conditions themselves."""

    env: dict[str, Val] = field(default_factory=dict)
    refined: dict[str, Val] = field(default_factory=dict)  # ast.dump of an expression -> its narrowed value
    guards: tuple[Guard, ...] = ()
    dead: bool = False
    # Substring tests on a value the analysis cannot see (``'mpt' in model_name.lower()``, where ``model_name``
    # was derived from the model id at run time): (check, branch taken). Model names that fail one cannot be what
    # reaches a call on this path -- name-based dispatch in ML code tests the model's own name.
    name_checks: tuple[tuple[Check, bool], ...] = ()

    def copy(self) -> State:
        return State(dict(self.env), dict(self.refined), self.guards, self.dead, self.name_checks)

    def admits(self, value: object) -> bool:
        """Can a model named ``value`` take this path, as far as the substring tests on it can tell?"""
        for check, positive in self.name_checks:
            result = check(value)
            if result is not None and bool(result) != positive:
                return False
        return True


def join_states(a: State, b: State) -> State:
    if a.dead:
        return b.copy()
    if b.dead:
        return a.copy()
    env = {}
    for name in a.env.keys() | b.env.keys():
        left, right = a.env.get(name), b.env.get(name)
        if left is right and left is not None:
            env[name] = left  # untouched on both paths (a parameter not yet asked for stays unasked)
        else:
            env[name] = join(left, right) if left is not None and right is not None else (left or right or NOTHING)
    refined = {k: join(v, b.refined[k]) for k, v in a.refined.items() if k in b.refined}
    guards = tuple(g for g, h in zip(a.guards, b.guards, strict=False) if g is h)
    checks = tuple(c for c, d in zip(a.name_checks, b.name_checks, strict=False) if c is d)
    return State(env, refined, guards, name_checks=checks)


@dataclass
class Run:
    """What one body's execution recorded: the state before each call and each attribute assignment."""

    at: dict[int, State] = field(default_factory=dict)
    final: State = field(default_factory=State)


class Analyzer:
    """Value analysis over one project; runs are cached per body."""

    def __init__(self, project: PyProject) -> None:
        self.project = project
        self._runs: dict[int, Run] = {}
        self._function_runs: dict[tuple[int, int], Run] = {}
        self._running: set[int] = set()
        self._params: dict[tuple[int, str, int], Val] = {}
        self._attrs: dict[tuple[str, str], Val] = {}
        self._facts: dict[tuple[str, str], list[Val]] = {}
        self._imports: dict[str, list[PyFile]] = {}
        self._depth = 0

    # -- entry points ----------------------------------------------------------------------------------------
    def state_at(self, f: PyFile, node: ast.AST) -> State | None:
        """The state before ``node`` (a call or an attribute assignment) runs; None when no path reaches it."""
        func = f.enclosing_function(node)
        run = self.run_function(f, func) if func is not None else self.run_module(f)
        return run.at.get(id(node))

    def run_module(self, f: PyFile) -> Run:
        tree = f.tree()
        key = id(tree)
        cached = self._runs.get(key)
        if cached is not None:
            return cached
        run = Run()
        if tree is None or key in self._running:
            return run
        self._running.add(key)
        try:
            run.final = _Exec(self, f, run, None).block(tree.body, State())
        finally:
            self._running.discard(key)
        self._runs[key] = run
        return run

    def run_function(self, f: PyFile, func: FunctionNode) -> Run:
        """A function body run on its parameters' values; cached per caller depth, as a run deep in a search sees
        its parameters cut short by ``MAX_DEPTH`` (a shallower search must not reuse that)."""
        key = id(func)
        cached = self._function_runs.get((key, self._depth))
        if cached is not None:
            return cached
        run = Run()
        if key in self._running:
            return run
        self._running.add(key)
        try:
            start = State(env={**self._closure(f, func), **self._parameters(f, func)})
            run.final = _Exec(self, f, run, func).block(func.body, start)
        finally:
            self._running.discard(key)
        self._function_runs[(key, self._depth)] = run
        return run

    def _closure(self, f: PyFile, func: FunctionNode) -> dict[str, Val]:
        """A nested function sees its enclosing function's names as they are where it is defined."""
        outer = f.enclosing_function(func)
        if outer is None or id(outer) in self._running:
            return {}
        run = self.run_function(f, outer)
        at = run.at.get(id(func))
        return dict((at or run.final).env)

    def module_value(self, f: PyFile, name: str) -> Val | None:
        tree = f.tree()
        if tree is None or id(tree) in self._running:
            return None
        return self.run_module(f).final.env.get(name)

    # -- parameters --------------------------------------------------------------------------------------------
    def _parameters(self, f: PyFile, func: FunctionNode) -> dict[str, Val]:
        args = func.args
        env: dict[str, Val] = {}
        names = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
        for name in names:
            env[name] = Lazy(thunk=partial(self.param_value, f, func, name))
        if args.vararg is not None:
            env[args.vararg.arg] = unknown(f"*{args.vararg.arg}", Open.PARAM)
        if args.kwarg is not None:
            env[args.kwarg.arg] = unknown(f"**{args.kwarg.arg}", Open.PARAM)
        return env

    def param_value(self, f: PyFile, func: FunctionNode, name: str) -> Val:
        # keyed by depth too: a value cut short by ``MAX_DEPTH`` deep in one search is not the value a
        # shallower search would find (its callers' constants would be lost)
        key = (id(func), name, self._depth)
        cached = self._params.get(key)
        if cached is not None:
            return cached
        value = self._param_value(f, func, name)
        self._params[key] = value
        return value

    def _param_value(self, f: PyFile, func: FunctionNode, name: str) -> Val:
        args = func.args
        positional = [*args.posonlyargs, *args.args]
        method = bool(positional) and positional[0].arg in ("self", "cls") and f.owner(func) is not None
        if method and positional[0].arg == name:
            return unknown(name)
        cli = self._cli_option(f, func, name)
        if cli is not None:
            return cli  # a click/typer command's parameter: the command line fills it
        default = self._default(f, func, name)
        label = f"{name}, a parameter of {func.name}()"
        if self._depth >= MAX_DEPTH:
            return option(default, label) if default is not None else unknown(label, Open.PARAM)
        callers = self.project.callers(f, func, f.owner(func))
        values: list[Val] = []
        index = next((i for i, a in enumerate(positional) if a.arg == name), None)
        constructor = method and func.name == "__init__"
        if default is not None:
            values.append(default)  # the project's own value, whoever else calls (configs instantiate classes too)
        for site in callers:
            passed = self._argument(site.call, name, index, method, constructor)
            if passed is _NOT_PASSED:
                continue
            if passed is None:  # forwarded by *args/**kwargs: still a caller's choice, not a computed value
                values.append(unknown(f"{label} (passed by *args/**kwargs)", Open.PARAM))
                continue
            state = self._caller_state(site.file, site.call)
            if state is None:
                continue
            assert isinstance(passed, ast.expr)
            self._depth += 1
            try:
                got = self.eval(site.file, passed, state)
            finally:
                self._depth -= 1
            values.append(got.with_site(Location(site.file.shown, site.call.lineno), entry=_may_name(passed, got)))
        if not callers:
            return option(default, label) if default is not None else unknown(label, Open.PARAM)
        return join(*values) if values else unknown(label, Open.PARAM)

    def _cli_option(self, f: PyFile, func: FunctionNode, name: str) -> Val | None:
        """A parameter filled from the command line by click (``@click.option("--model", default=...)``,
        ``@click.argument("model")``) or typer (``model: str = typer.Option(None)``): its default, which the
        operator may override -- and with no default (``None``, ``...``, ``required=True``), the operator's choice."""
        for deco in func.decorator_list:
            if not isinstance(deco, ast.Call) or call_name(deco) not in CLICK_PARAMS:
                continue
            names = [a.value for a in deco.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if click_dest(names) != name:
                continue
            default = next((k.value for k in deco.keywords if k.arg == "default"), None)
            flag = next((n for n in names if n.startswith("-")), names[0] if names else name)
            is_flag = any(k.arg == "is_flag" and isinstance(k.value, ast.Constant) and k.value.value is True
                          for k in deco.keywords)
            value = self.eval(f, default, self._outer_state(f, func)) if default is not None else const(
                False if is_flag else None)
            return option(value, f"{flag} (a command-line option)")
        args = func.args
        positional = [*args.posonlyargs, *args.args]
        defaults = dict(zip([a.arg for a in positional[len(positional) - len(args.defaults):]], args.defaults,
                            strict=False))
        defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=False) if d is not None})
        expr = defaults.get(name)
        if not isinstance(expr, ast.Call) or call_name(expr) not in TYPER_PARAMS:
            return None
        first = expr.args[0] if expr.args else next((k.value for k in expr.keywords if k.arg == "default"), None)
        if first is None or (isinstance(first, ast.Constant) and first.value is Ellipsis):
            value = const(None)
        else:
            value = self.eval(f, first, self._outer_state(f, func))
        return option(value, f"--{name.replace('_', '-')} (a command-line option)")

    def _caller_state(self, f: PyFile, call: ast.Call) -> State | None:
        self._depth += 1
        try:
            return self.state_at(f, call)
        finally:
            self._depth -= 1

    def _default(self, f: PyFile, func: FunctionNode, name: str) -> Val | None:
        args = func.args
        positional = [*args.posonlyargs, *args.args]
        defaults = dict(zip([a.arg for a in positional[len(positional) - len(args.defaults):]], args.defaults,
                            strict=False))
        for arg, kw in zip(args.kwonlyargs, args.kw_defaults, strict=False):
            if kw is not None:
                defaults[arg.arg] = kw
        expr = defaults.get(name)
        if expr is None:
            return None
        outer = self._outer_state(f, func)
        return self.eval(f, expr, outer)

    def _outer_state(self, f: PyFile, func: FunctionNode) -> State:
        enclosing = f.enclosing_function(func)
        if enclosing is not None:
            return self.run_function(f, enclosing).final
        return self.run_module(f).final if id(f.tree()) not in self._running else State()

    @staticmethod
    def _argument(call: ast.Call, name: str, index: int | None, method: bool,
                  constructor: bool = False) -> ast.expr | None | object:
        for kw in call.keywords:
            if kw.arg == name:
                return kw.value
        if index is not None:
            offset = 1 if constructor or (method and isinstance(call.func, ast.Attribute)) else 0
            position = index - offset
            for i, arg in enumerate(call.args):
                if isinstance(arg, ast.Starred):
                    return None
                if i == position:
                    return arg
        if any(kw.arg is None for kw in call.keywords):
            return None
        return _NOT_PASSED

    # -- attributes --------------------------------------------------------------------------------------------
    def attr_value(self, f: PyFile, attr: str) -> Val:
        """``x.attr``: declarations (this file's first), and every assignment of ``.attr`` in the project."""
        key = (f.shown, attr)
        cached = self._attrs.get(key)
        if cached is not None:
            return cached
        self._attrs[key] = NOTHING  # a cycle through the same attribute adds nothing (it must not add "unknown")
        declared = self._declarations(f, attr) if f.may_declare(attr) else []
        if not declared:  # the modules this file imports (``add_model_args(parser)`` from a sibling module)
            declared = [v for g in self._imported(f) if g.may_declare(attr) for v in self._declarations(g, attr)]
        if not declared:
            declared = self._project_facts(attr, self._declarations, f)
        if any(word in attr for word in OPT_IN_WORDS):  # the flag itself: True set anywhere that reaches it counts
            assigned = self._project_facts(attr, self._assignments, f, skip_self=False)
        else:  # ``x.model = ...`` is too common a spelling to mean the same object everywhere
            assigned = [v for g in [f, *self._imported(f)] if g.may_assign(attr) for v in self._assignments(g, attr)]
        # nothing in the code that runs with this file gives it a value: the object comes from outside (a
        # library's parsed options, a loaded config) -- the operator's setting, not a value the code computes
        value = join(*declared, *assigned) if declared or assigned else unknown(
            f".{attr} (set outside this code: an option or a config)", Open.OPTION)
        self._attrs[key] = value
        return value

    def _class_attr(self, f: PyFile, cls: ast.ClassDef, attr: str, depth: int) -> Val | None:
        """``self.attr`` inside ``cls``: its class-body field and the ``self.attr = ...`` of its methods, joined
        with its bases' (classes of the project, a few levels); None when none of them gives it a value."""
        key = (f"<class:{cls.lineno}:{cls.col_offset}:{depth}>", f"{f.shown}:{attr}")
        if key in self._attrs:
            return self._attrs[key]
        self._attrs[key] = NOTHING  # a cycle adds nothing
        found: list[Val] = []
        facts = f.facts()
        for owner, stmt in facts.fields.get(attr, []):
            if owner is cls:
                got = self._class_field(f, cls, stmt, attr)
                if got is not None:
                    found.append(got)
        end = cls.end_lineno or cls.lineno
        inside = [n for n in facts.assignments.get(attr, []) if cls.lineno <= getattr(n, "lineno", 0) <= end and (
            not isinstance(n, (ast.Assign, ast.AnnAssign)) or any(
                isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id in ("self", "cls")
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target])))]
        for assignment in inside:
            expr = assignment.value if isinstance(assignment, (ast.Assign, ast.AnnAssign)) else (
                assignment.args[2] if isinstance(assignment, ast.Call) and len(assignment.args) > 2 else None)
            state = self.state_at(f, assignment) if expr is not None else None
            if expr is not None and state is not None:
                found.append(self.eval(f, expr, state))
        if depth < 3:
            for base in cls.bases:
                name = (dotted(base) or "").rsplit(".", 1)[-1]
                for g, parent in self.project.classes(name)[:3] if name else []:
                    got = self._class_attr(g, parent, attr, depth + 1)
                    if got is not None:
                        found.append(got)
        if not found:
            del self._attrs[key]
            return None
        joined = join(*found)
        self._attrs[key] = joined
        return joined

    def _imported(self, f: PyFile) -> list[PyFile]:
        """The project files ``f`` imports from (memoised: asked for every attribute the file reads)."""
        cached = self._imports.get(f.shown)
        if cached is not None:
            return cached
        out: list[PyFile] = []
        self._imports[f.shown] = out
        for module, member in f.imports.values():
            for dotted_name in ([f"{module}.{member}", module] if member else [module]):
                for g in self.project.resolve(f, dotted_name):
                    if g is not f and g not in out:
                        out.append(g)
        return out

    def _project_facts(self, attr: str, read: Callable[[PyFile, str], list[Val]], f: PyFile,
                       skip_self: bool = True) -> list[Val]:
        """What the files that run together with ``f`` (``PyProject.scope``: its entry points and everything
        they import) say about ``attr``; another script's option of the same name is not this one's."""
        key = (f"<project:{read.__name__}:{f.shown}:{skip_self}>", attr)
        cached = self._facts.get(key)
        if cached is None:
            cached = []
            self._facts[key] = cached
            wanted = PyFile.may_declare if read == self._declarations else PyFile.may_assign
            scope = self.project.scope(f)
            for g in self.project.declaring(attr):
                if (g is not f or not skip_self) and g.shown in scope and wanted(g, attr):
                    cached.extend(read(g, attr))
        return cached

    def _declarations(self, f: PyFile, attr: str) -> list[Val]:
        facts = f.facts()
        out: list[Val] = []
        for cls, stmt in facts.fields.get(attr, []):
            got = self._class_field(f, cls, stmt, attr)
            if got is not None:
                out.append(got)
        for call in facts.options.get(attr, []):
            out.append(self._argparse_default(f, call, State()))
        return out

    def _class_field(self, f: PyFile, cls: ast.ClassDef, stmt: ast.stmt, attr: str) -> Val | None:
        label = f"{cls.name}.{attr}"
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == attr:
            if stmt.value is None:
                return unknown(f"{label} (a required field)", Open.OPTION)
            expr: ast.expr | None = stmt.value
            if isinstance(expr, ast.Call) and dotted(expr.func) in ("field", "dataclasses.field", "attr.ib",
                                                                   "attrs.field"):
                expr = next((k.value for k in expr.keywords if k.arg == "default"), None)
            elif isinstance(expr, ast.Call) and call_name(expr) in ("Field", "PrivateAttr"):  # pydantic
                expr = expr.args[0] if expr.args else next((k.value for k in expr.keywords if k.arg == "default"),
                                                           None)
                if isinstance(expr, ast.Constant) and expr.value is Ellipsis:
                    return option(const(None), f"{label} (a required field)")
            if expr is None:
                return unknown(f"{label} (no default)", Open.OPTION)
            return option(self.eval(f, expr, State()), f"{label} (a field the operator may set)")
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == attr for t in stmt.targets):
            return self.eval(f, stmt.value, State())
        return None

    def _argparse_default(self, f: PyFile, call: ast.Call, state: State) -> Val:
        flags = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        label = f"{flags[-1] if flags else 'an option'} (a command-line option)"
        default_expr = next((k.value for k in call.keywords if k.arg == "default"), None)
        action = next((k.value.value for k in call.keywords
                       if k.arg == "action" and isinstance(k.value, ast.Constant)), None)
        if default_expr is not None:
            default = self.eval(f, default_expr, state)
        elif action == "store_true":
            default = const(False)
        elif action == "store_false":
            default = const(True)
        else:
            default = const(None)
        return option(default, label)

    def _assignments(self, f: PyFile, attr: str) -> list[Val]:
        out: list[Val] = []
        for node in f.facts().assignments.get(attr, []):
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                value = node.value
            elif isinstance(node, ast.Call):
                value = node.args[2]
            else:
                continue
            if value is None:
                continue
            state = self.state_at(f, node)
            if state is None:
                continue
            got = self.eval(f, value, state)
            if any(g.opt_in for g in state.guards):
                got = got.as_opt_in()
            out.append(got)
        for call in f.facts().flag_keywords.get(attr, []):
            name = call_name(call)
            if not name or not self.project.classes(name) or self.project.functions(name):
                continue  # only an object of the project's own class (a config, a request) keeps the flag
            value = next(k.value for k in call.keywords if k.arg == attr)
            state = self.state_at(f, call)
            if state is not None:
                got = self.eval(f, value, state).with_site(Location(f.shown, call.lineno), entry=False)
                out.append(got.as_opt_in() if any(g.opt_in for g in state.guards) else got)
        return out

    # -- expressions -------------------------------------------------------------------------------------------
    def eval(self, f: PyFile, node: ast.expr, st: State) -> Val:
        if isinstance(node, (ast.Name, ast.Attribute)):
            narrowed = st.refined.get(ast.dump(node))
            if narrowed is not None:
                return narrowed
        if isinstance(node, ast.Constant):
            value = node.value
            return const(value) if isinstance(value, (str, bool, int, float)) or value is None else unknown(
                "a bytes literal")
        if isinstance(node, ast.Name):
            return self._name(f, node.id, st)
        if isinstance(node, ast.Attribute):
            return self._attribute(f, node, st)
        if isinstance(node, ast.JoinedStr):
            return self._fstring(f, node, st)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return _concat(self.eval(f, node.left, st), self.eval(f, node.right, st))
        if isinstance(node, ast.IfExp):
            truth = self.truth(f, node.test, st)
            parts = []
            if truth.feasible(True):
                parts.append(self.eval(f, node.body, st))
            if truth.feasible(False):
                parts.append(self.eval(f, node.orelse, st))
            return join(*parts) if parts else NOTHING
        if isinstance(node, ast.BoolOp):
            return self._boolop(f, node, st)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return _truth_val(self.truth(f, node.operand, st), negate=True, why=ast.unparse(node))
        if isinstance(node, ast.Compare):
            return _truth_val(self.truth(f, node, st), negate=False, why=ast.unparse(node))
        if isinstance(node, ast.Dict):
            return self._dict(f, node, st)
        if isinstance(node, ast.Subscript):
            return self._subscript(f, node, st)
        if isinstance(node, ast.Call):
            return self._call(f, node, st)
        if isinstance(node, ast.NamedExpr):
            return self.eval(f, node.value, st)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Lambda, ast.ListComp, ast.DictComp, ast.SetComp,
                             ast.GeneratorExp)):
            return unknown(OBJECT)
        return unknown(_short(node))

    def _name(self, f: PyFile, name: str, st: State) -> Val:
        if name in st.env:
            return force(st.env[name])
        imported = f.imports.get(name)
        if imported is not None:
            module, member = imported
            if member is None:
                return unknown(f"module {module}")
            for g in self.project.resolve(f, module):
                got = self.module_value(g, member)
                if got is not None:
                    return got
            return unknown(f"{member} from {module}")
        got = self.module_value(f, name)
        return got if got is not None else unknown(name)

    def _attribute(self, f: PyFile, node: ast.Attribute, st: State) -> Val:
        text = dotted(node)
        if text in ("sys.argv",):
            return unknown("the command line", Open.OPTION)
        base = node.value
        if isinstance(base, ast.Name) and base.id in ("self", "cls"):
            owner = next((s for s in f.enclosing(node) if isinstance(s, ast.ClassDef)), None)
            own = self._class_attr(f, owner, node.attr, 0) if owner is not None else None
            if own is not None:  # what this class (and its bases) give ``self.attr``; another class's is not it
                if any(word in node.attr for word in OPT_IN_WORDS):
                    return join(own, *self._project_facts(node.attr, self._assignments, f, skip_self=False))
                return own
        if isinstance(base, ast.Name) and base.id in st.env:
            holder = force(st.env[base.id])
            item = holder.field(node.attr)
            if item is not None:  # ``args = SimpleNamespace(model=...)``: the namespace this path built
                return item
        if isinstance(base, ast.Name) and base.id not in st.env and base.id in f.imports:
            module, member = f.imports[base.id]
            target = f"{module}.{member}" if member else module
            for g in self.project.resolve(f, target):
                got = self.module_value(g, node.attr)
                if got is not None:
                    return got
        return self.attr_value(f, node.attr)

    def _fstring(self, f: PyFile, node: ast.JoinedStr, st: State) -> Val:
        out = const("")
        for part in node.values:
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                piece = const(part.value)
            elif isinstance(part, ast.FormattedValue) and part.format_spec is None and part.conversion in (-1, 115):
                piece = self.eval(f, part.value, st)
            else:
                piece = unknown(_short(node))
            out = _concat(out, piece)
        return out

    def _boolop(self, f: PyFile, node: ast.BoolOp, st: State) -> Val:
        """``a or b``: a's truthy values, else b; ``a and b``: a's falsy values, else b."""
        parts: list[Val] = []
        keep_truthy = isinstance(node.op, ast.Or)
        for i, operand in enumerate(node.values):
            value = self.eval(f, operand, st)
            if i == len(node.values) - 1:
                parts.append(value)
                break
            kept = tuple(k for k in value.known if bool(k.value) == keep_truthy)
            parts.append(value.keeping(kept))
            if value.open is None and all(bool(k.value) == keep_truthy for k in value.known):
                break  # the rest is never evaluated
        return join(*parts)

    def _dict(self, f: PyFile, node: ast.Dict, st: State) -> Val:
        fields: dict[str, Val] = {}
        open_: Open | None = None
        for key, value in zip(node.keys, node.values, strict=False):
            if key is None:
                spread = self.eval(f, value, st)
                if spread.fields is None:
                    open_ = Open.UNKNOWN
                for name, item in spread.fields or ():
                    fields[name] = item
            elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                fields[key.value] = self.eval(f, value, st)
            else:
                open_ = Open.UNKNOWN
        return dict_val(fields, open_, "a dict")

    def _subscript(self, f: PyFile, node: ast.Subscript, st: State) -> Val:
        text = dotted(node.value)
        if text == "sys.argv":
            return unknown("the command line (sys.argv)", Open.OPTION)
        if text in ("os.environ", "environ"):
            variable = node.slice
            name = str(variable.value) if isinstance(variable, ast.Constant) else ast.unparse(variable)
            return unknown(f"the environment variable {name}", Open.OPTION)
        container = self.eval(f, node.value, st)
        key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            item = container.field(key.value)
            if item is not None:
                return item
        return unknown(_short(node))

    def _call(self, f: PyFile, node: ast.Call, st: State) -> Val:
        name = dotted(node.func)
        short = call_name(node)
        if name in GETENV:
            variable = node.args[0] if node.args else None
            label = ast.unparse(variable) if variable is not None else "?"
            fallback = node.args[1] if len(node.args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "default"), None)
            value = self.eval(f, fallback, st) if fallback is not None else const(None)
            return option(value, f"the environment variable {label}")
        if short in DOWNLOADERS:
            return unknown(DOWNLOADED)
        if isinstance(node.func, ast.Attribute) and short == "get" and node.args:
            container = self.eval(f, node.func.value, st)
            wanted = node.args[0]
            if container.fields is not None and isinstance(wanted, ast.Constant) and isinstance(wanted.value, str):
                item = container.field(wanted.value)
                default = self.eval(f, node.args[1], st) if len(node.args) > 1 else const(None)
                if item is None:
                    return default if container.open is None else join(default, unknown(_short(node)))
                return item
            if container.fields is None and isinstance(wanted, ast.Constant) and isinstance(wanted.value, str) and \
                    not _is_module(f, node.func.value):
                # a mapping read at run time (a loaded config, **kwargs): the key's default, or what the file sets
                fallback = node.args[1] if len(node.args) > 1 else next(
                    (k.value for k in node.keywords if k.arg == "default"), None)
                default = self.eval(f, fallback, st) if fallback is not None else const(None)
                return option(default, f"the key {wanted.value!r} of {_short(node.func.value)}")
        if short == "getattr" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and \
                isinstance(node.args[1].value, str):
            found = self.attr_value(f, node.args[1].value)
            return join(found, self.eval(f, node.args[2], st)) if len(node.args) > 2 else found
        if (short == "dict" and isinstance(node.func, ast.Name) or short in NAMESPACES) and not node.args:
            fields = {k.arg: self.eval(f, k.value, st) for k in node.keywords if k.arg is not None}
            spread = any(k.arg is None for k in node.keywords)
            return dict_val(fields, Open.UNKNOWN if spread else None, "a dict")
        if short == "str" and isinstance(node.func, ast.Name) and len(node.args) == 1:
            return self.eval(f, node.args[0], st)
        if short in ("int", "float") and isinstance(node.func, ast.Name) and len(node.args) == 1:
            return _number(self.eval(f, node.args[0], st), int if short == "int" else float)  # type: ignore[arg-type]
        if short == "bool" and isinstance(node.func, ast.Name) and len(node.args) == 1:
            return _truth_val(self.truth(f, node.args[0], st), negate=False, why=ast.unparse(node))
        if isinstance(node.func, ast.Attribute) and short in STRING_METHODS and not node.args:
            return map_strings(self.eval(f, node.func.value, st), STRING_METHODS[short])
        return unknown(_short(node))

    # -- conditions ------------------------------------------------------------------------------------------
    def truth(self, f: PyFile, test: ast.expr, st: State) -> Truth:
        """Can ``test`` be true / false for the known values; is it also decided at run time?"""
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            inner = self.truth(f, test.operand, st)
            return Truth(inner.can_false, inner.can_true, inner.open)
        if isinstance(test, ast.BoolOp):
            parts = [self.truth(f, v, st) for v in test.values]
            open_ = max((p.open for p in parts if p.open is not None), default=None)
            if isinstance(test.op, ast.And):
                return Truth(all(p.can_true for p in parts), any(p.can_false for p in parts), open_)
            return Truth(any(p.can_true for p in parts), all(p.can_false for p in parts), open_)
        predicate = _predicate(test)
        if predicate is not None:
            subject, check = predicate
            value = self.eval(f, subject, st)
            results = [check(k.value) for k in value.known]
            if any(r is None for r in results):
                return Truth(True, True, value.open or Open.UNKNOWN)
            return Truth(any(results), not all(results) if results else False, value.open)
        if isinstance(test, ast.Compare):
            return Truth(True, True, Open.UNKNOWN)  # a comparison the analysis does not evaluate
        value = self.eval(f, test, st)
        return Truth(any(bool(k.value) for k in value.known), any(not k.value for k in value.known), value.open)

    def narrow(self, f: PyFile, test: ast.expr, positive: bool, st: State) -> None:
        """Keep, in ``st``, only the values of the tested expression that take this branch."""
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            self.narrow(f, test.operand, not positive, st)
            return
        if isinstance(test, ast.BoolOp):
            if (isinstance(test.op, ast.And) and positive) or (isinstance(test.op, ast.Or) and not positive):
                for value in test.values:
                    self.narrow(f, value, positive, st)
            return
        predicate = _predicate(test)
        if predicate is None:
            if isinstance(test, (ast.Name, ast.Attribute)):
                predicate = (test, bool)
            else:
                return
        subject, check = predicate
        while isinstance(subject, ast.Call) and isinstance(subject.func, ast.Attribute) and \
                call_name(subject) in STRING_METHODS and not subject.args:
            method = STRING_METHODS[call_name(subject) or ""]
            subject, check = subject.func.value, _compose(check, method)
        if not isinstance(subject, (ast.Name, ast.Attribute)):
            return
        current = self.eval(f, subject, st)
        if current.open is not None and _is_substring_test(test):
            st.name_checks = (*st.name_checks, (check, positive))
        kept = []
        for item in current.known:
            result = check(item.value)
            if result is None or bool(result) == positive:
                kept.append(item)
        st.refined[ast.dump(subject)] = current.keeping(tuple(kept))


_NOT_PASSED = object()


def _may_name(passed: ast.expr, value: Val) -> bool:
    """Can what a caller passes be a model's *name* chosen at run time? Not a literal object, a loaded model
    (``AutoModel.from_pretrained(...)``) or a downloaded path."""
    if isinstance(passed, (ast.Tuple, ast.List, ast.Dict, ast.Set, ast.Lambda, ast.ListComp, ast.DictComp,
                           ast.GeneratorExp)):
        return False
    if isinstance(passed, ast.Call) and call_name(passed) in ("from_pretrained", "from_config", *DOWNLOADERS):
        return False
    return value.why not in (OBJECT, DOWNLOADED)


def _number(value: Val, kind: Callable[[object], object]) -> Val:
    """``int(os.environ.get("X", 0))``: each constant converted (one that does not convert is an error at run
    time, not a value); what run time chooses stays open."""
    known: list[Known] = []
    for item in value.known:
        try:
            converted = kind(item.value)
        except (ValueError, TypeError):
            continue
        if isinstance(converted, (int, float)):
            known.append(Known(converted, item.site, item.opt_in))
    return Val(tuple(known), value.open if value.open is not None or len(known) == len(value.known) else Open.UNKNOWN,
               value.why, None, value.runtime)


def _is_module(f: PyFile, node: ast.expr) -> bool:
    """``requests.get(...)``: a call on an imported module, not a mapping's ``.get``."""
    return isinstance(node, ast.Name) and node.id in f.imports and f.imports[node.id][1] is None


def click_dest(names: list[str]) -> str | None:
    """The parameter click fills from ``@click.option("--model-path", "-m")`` (``model_path``) or from an explicit
    name among the declarations (``@click.option("--model", "model_name")``)."""
    plain = [n for n in names if not n.startswith("-") and n.isidentifier()]
    if plain:
        return plain[0]
    longs = [n for n in names if n.startswith("--")]
    chosen = longs[0] if longs else (names[0] if names else None)
    if chosen is None:
        return None
    return chosen.split("/")[0].lstrip("-").replace("-", "_").lower() or None


class _Exec:
    """Runs one body on a ``State``; records the state before every call and attribute assignment."""

    def __init__(self, analyzer: Analyzer, f: PyFile, run: Run, func: FunctionNode | None) -> None:
        self.a = analyzer
        self.f = f
        self.run = run
        self.func = func

    def block(self, body: list[ast.stmt], st: State) -> State:
        for stmt in body:
            if st.dead:
                break
            st = self.stmt(stmt, st)
        return st

    def record(self, node: ast.AST, st: State) -> None:
        """The state before ``node``'s calls run (a loop's second pass overwrites its first: it is the wider)."""
        for child in own_nodes(node, lambdas=True):
            if isinstance(child, ast.Call):
                self.run.at[id(child)] = st

    def stmt(self, stmt: ast.stmt, st: State) -> State:
        self.run.at[id(stmt)] = st
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for deco in stmt.decorator_list:
                self.record(deco, st)
            if isinstance(stmt, ast.ClassDef):
                for base in [*stmt.bases, *stmt.keywords]:
                    self.record(base, st)
                self.block(stmt.body, st.copy())  # class-level statements run once, in their own scope
            st = st.copy()
            st.env[stmt.name] = unknown(OBJECT)
            return st
        if isinstance(stmt, ast.If):
            return self._if(stmt, st)
        if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
            return self._loop(stmt, st)
        if isinstance(stmt, ast.Try) or (hasattr(ast, "TryStar") and isinstance(stmt, ast.TryStar)):
            return self._try(stmt, st)
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                self.record(item.context_expr, st)
            st = st.copy()
            for item in stmt.items:
                if item.optional_vars is not None:
                    self._bind(item.optional_vars, unknown(_short(item.context_expr)), st)
            return self.block(stmt.body, st)
        if isinstance(stmt, ast.Match):
            return self._match(stmt, st)
        self.record(stmt, st)
        if isinstance(stmt, (ast.Return, ast.Raise, ast.Break, ast.Continue)):
            dead = st.copy()
            dead.dead = True
            return dead
        if isinstance(stmt, ast.Assign):
            value = self.a.eval(self.f, stmt.value, st)
            st = st.copy()
            for target in stmt.targets:
                self._bind(target, value, st)
            return st
        if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            value = self.a.eval(self.f, stmt.value, st)
            st = st.copy()
            self._bind(stmt.target, value, st)
            return st
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            old = self.a.eval(self.f, stmt.target, st)
            add = self.a.eval(self.f, stmt.value, st)
            st = st.copy()
            self._bind(stmt.target, _concat(old, add) if isinstance(stmt.op, ast.Add) else unknown(
                _short(stmt.value)), st)
            return st
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            return self._mutating_call(stmt.value, st)
        if isinstance(stmt, ast.Delete):
            st = st.copy()
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    st.env.pop(target.id, None)
            return st
        return st

    def _bind(self, target: ast.expr, value: Val, st: State) -> None:
        """Assign in place on a state the caller already copied."""
        if any(g.opt_in for g in st.guards):
            value = value.as_opt_in()
        if isinstance(target, ast.Name):
            st.env[target.id] = value
            st.refined.pop(ast.dump(ast.Name(id=target.id, ctx=ast.Load())), None)
            prefix = f"Attribute(value={ast.dump(ast.Name(id=target.id, ctx=ast.Load()))}"
            for stale in [k for k in st.refined if k.startswith(prefix)]:
                del st.refined[stale]  # ``x = ...`` forgets what ``x.attr = ...`` said about the old object
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            # ``args.model = "org/m"`` before the call: on this path, that is what ``args.model`` holds
            load = ast.Attribute(value=ast.Name(id=target.value.id, ctx=ast.Load()), attr=target.attr,
                                 ctx=ast.Load())
            st.refined[ast.dump(load)] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._bind(element.value if isinstance(element, ast.Starred) else element,
                           unknown(_short(target)), st)
        elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            found = st.env.get(target.value.id)
            container = force(found) if found is not None else None
            key = target.slice
            if container is not None and container.fields is not None and isinstance(key, ast.Constant) and \
                    isinstance(key.value, str):
                fields = dict(container.fields)
                fields[key.value] = value
                st.env[target.value.id] = dict_val(fields, container.open, container.why)

    def _mutating_call(self, call: ast.Call, st: State) -> State:
        """``d.update(...)`` on a tracked dict; ``sys.exit()`` ends the path."""
        name = dotted(call.func)
        if name in ("sys.exit", "exit", "quit", "os._exit"):
            dead = st.copy()
            dead.dead = True
            return dead
        if name == "exec" or (isinstance(call.func, ast.Attribute) and call.func.attr == "update" and
                              isinstance(call.func.value, ast.Call) and call_name(call.func.value) == "globals"):
            # ``exec(open('configurator.py').read())`` (nanoGPT) or ``globals().update(...)``: any name defined so
            # far may be overridden from outside, at run time
            opened = st.copy()
            for key, held in list(opened.env.items()):
                opened.env[key] = join(held, unknown(f"{key} (may be overridden by {ast.unparse(call)[:60]})",
                                                     Open.OPTION))
            return opened
        if isinstance(call.func, ast.Attribute) and call.func.attr in ("update", "setdefault") and \
                isinstance(call.func.value, ast.Name):
            found = st.env.get(call.func.value.id)
            container = force(found) if found is not None else None
            if container is not None and container.fields is not None:
                fields = dict(container.fields)
                if call.func.attr == "update":
                    for arg in call.args:
                        got = self.a.eval(self.f, arg, st)
                        fields.update(dict(got.fields or ()))
                    for kw in call.keywords:
                        if kw.arg is not None:
                            fields[kw.arg] = self.a.eval(self.f, kw.value, st)
                elif len(call.args) == 2 and isinstance(call.args[0], ast.Constant) and \
                        isinstance(call.args[0].value, str) and call.args[0].value not in fields:
                    fields[call.args[0].value] = self.a.eval(self.f, call.args[1], st)
                st = st.copy()
                value = dict_val(fields, container.open, container.why)
                st.env[call.func.value.id] = value.as_opt_in() if any(g.opt_in for g in st.guards) else value
        return st

    def _branch(self, test: ast.expr, positive: bool, st: State, truth: Truth) -> State:
        inner = st.copy()
        self.a.narrow(self.f, test, positive, inner)
        opt_in = positive and not truth.can_true and _names_opt_in(test)
        inner.guards = (*st.guards, Guard(_condition(test, positive)[:200], True, opt_in, truth))
        return inner

    def _if(self, stmt: ast.If, st: State) -> State:
        self.record(stmt.test, st)
        truth = self.a.truth(self.f, stmt.test, st)
        body = self.block(stmt.body, self._branch(stmt.test, True, st, truth)) if truth.feasible(True) else None
        orelse = self.block(stmt.orelse, self._branch(stmt.test, False, st, truth)) if truth.feasible(False) else None
        if body is None and orelse is None:
            dead = st.copy()
            dead.dead = True
            return dead
        if body is None or orelse is None:
            out = (body or orelse or st).copy()
            if not out.dead:
                out.guards = st.guards  # past the if, the path no longer depends on its test
            return out
        out = join_states(body, orelse)
        if not (body.dead or orelse.dead):
            out.guards = st.guards
        return out

    def _loop(self, stmt: ast.For | ast.AsyncFor | ast.While, st: State) -> State:
        header: ast.AST = stmt.iter if isinstance(stmt, (ast.For, ast.AsyncFor)) else stmt.test
        self.record(header, st)
        entry = st.copy()
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            self._bind(stmt.target, unknown(f"an item of {_short(stmt.iter)}"), entry)
        first = self.block(stmt.body, entry.copy())
        again = join_states(entry, first)
        again.dead = False
        second = self.block(stmt.body, again)
        after = join_states(st, second)
        after.dead = False
        after.guards = st.guards
        return self.block(stmt.orelse, after)

    def _try(self, stmt: ast.stmt, st: State) -> State:
        body = self.block(getattr(stmt, "body", []), st.copy())
        anywhere = join_states(st, body)
        anywhere.dead = False
        anywhere.guards = st.guards
        ends = [self.block(getattr(stmt, "orelse", []), body)]
        for handler in getattr(stmt, "handlers", []):
            inner = anywhere.copy()
            if handler.name:
                inner.env[handler.name] = unknown("an exception")
            ends.append(self.block(handler.body, inner))
        out = ends[0]
        for end in ends[1:]:
            out = join_states(out, end)
        final = getattr(stmt, "finalbody", [])
        if final:
            out = self.block(final, out if not out.dead else anywhere.copy())
        return out

    def _match(self, stmt: ast.Match, st: State) -> State:
        self.record(stmt.subject, st)
        subject = ast.unparse(stmt.subject)[:80]
        ends = []
        catch_all = False
        for case in stmt.cases:
            inner = st.copy()
            pattern = ast.unparse(case.pattern)[:80]
            inner.guards = (*st.guards, Guard(f"{subject} matches {pattern}", True))
            ends.append(self.block(case.body, inner))
            if isinstance(case.pattern, ast.MatchAs) and case.pattern.pattern is None and case.guard is None:
                catch_all = True
        if not catch_all:
            ends.append(st)
        out = ends[0]
        for end in ends[1:]:
            out = join_states(out, end)
        if not out.dead:
            out.guards = st.guards
        return out


_NEGATED: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn,
    ast.NotIn: ast.In, ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt}


def _condition(test: ast.expr, positive: bool) -> str:
    """The branch's condition as source: ``x is None`` for the else of ``x is not None``, ``not x`` for a bare
    name."""
    if positive:
        return ast.unparse(test)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return ast.unparse(test.operand)
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in _NEGATED:
        flipped = ast.Compare(left=test.left, ops=[_NEGATED[type(test.ops[0])]()], comparators=test.comparators)
        return ast.unparse(flipped)
    if isinstance(test, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)):
        return f"not {ast.unparse(test)}"
    return f"not ({ast.unparse(test)})"


def _names_opt_in(test: ast.expr) -> bool:
    """``if args.trust_remote_code:`` -- the operator's own switch for remote code."""
    while isinstance(test, ast.Call) and call_name(test) == "bool" and test.args:
        test = test.args[0]
    text = dotted(test) if isinstance(test, (ast.Name, ast.Attribute)) else None
    return bool(text) and any(word in (text or "").lower() for word in OPT_IN_WORDS)


def _predicate(test: ast.expr) -> tuple[ast.expr, Check] | None:
    """A test about one expression against constants: ``'mpt' in x``, ``x == 'a'``, ``x is None``,
    ``x.startswith('a')``. Returns the expression and a check of one value (None: cannot tell)."""
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, op, right = test.left, test.ops[0], test.comparators[0]
        if isinstance(op, (ast.In, ast.NotIn)) and isinstance(left, ast.Constant) and isinstance(left.value, str):
            needle = left.value
            want = isinstance(op, ast.In)
            return right, lambda v: (needle in v) == want if isinstance(v, str) else None
        if isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, (ast.Tuple, ast.List, ast.Set)) and \
                all(isinstance(e, ast.Constant) for e in right.elts):
            choices = [e.value for e in right.elts if isinstance(e, ast.Constant)]
            want = isinstance(op, ast.In)
            return left, lambda v: (v in choices) == want
        for subject, other in ((left, right), (right, left)):
            if isinstance(other, ast.Constant) and not isinstance(subject, ast.Constant):
                if isinstance(op, (ast.Eq, ast.Is, ast.NotEq, ast.IsNot)):
                    return subject, _equals(other.value, isinstance(op, (ast.NotEq, ast.IsNot)))
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and \
            test.func.attr in ("startswith", "endswith") and len(test.args) == 1:
        arg = test.args[0]
        options: tuple[str, ...] | None = None
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            options = (arg.value,)
        elif isinstance(arg, ast.Tuple) and all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                                                for e in arg.elts):
            options = tuple(str(e.value) for e in arg.elts if isinstance(e, ast.Constant))
        if options is not None:
            method = test.func.attr
            chosen = options
            return test.func.value, lambda v: getattr(v, method)(chosen) if isinstance(v, str) else None
    return None


def _is_substring_test(test: ast.expr) -> bool:
    return isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.In, ast.NotIn)) \
        and isinstance(test.left, ast.Constant) and isinstance(test.left.value, str)


def _equals(target: object, negate: bool) -> Check:
    return lambda v: (v == target and type(v) is type(target)) != negate


def _compose(check: Check, method: Callable[[str], str]) -> Check:
    return lambda v: check(method(v)) if isinstance(v, str) else None


def _truth_val(truth: Truth, *, negate: bool, why: str) -> Val:
    items = []
    if truth.can_true:
        items.append(Known(not negate))
    if truth.can_false:
        items.append(Known(negate))
    return Val(tuple(items), truth.open, why if truth.open is not None else "")


def _concat(left: Val, right: Val) -> Val:
    """String concatenation of two value sets (non-strings make it unknown)."""
    if not all(isinstance(k.value, str) for k in (*left.known, *right.known)):
        return unknown(left.why or right.why or "a computed string")
    if len(left.known) * len(right.known) > 4 * MAX_KNOWN:
        return unknown(TOO_MANY)
    items = [Known(str(a.value) + str(b.value), a.site or b.site, a.opt_in or b.opt_in)
             for a in left.known for b in right.known]
    open_ = max((v.open for v in (left, right) if v.open is not None), default=None)
    why = left.why or right.why
    if open_ is not None and not items:
        return Val((), open_, why)
    return join(Val(tuple(items)), Val((), open_, why)) if open_ is not None else join(Val(tuple(items)))


def _short(node: ast.AST) -> str:
    try:
        return ast.unparse(node)[:120]
    except (ValueError, RecursionError):  # pragma: no cover - malformed synthetic trees only
        return type(node).__name__


__all__ = ["Analyzer", "DOWNLOADED", "DOWNLOADERS", "OBJECT", "Run", "State"]

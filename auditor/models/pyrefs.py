"""Model and dataset references in Python source, found with ``ast`` (the code is never imported or run).

What is recognised (one table, ``_RULES``): ``*.from_pretrained`` (transformers, diffusers, peft's
``PeftModel.from_pretrained(base, "org/adapter")`` second argument, sentence-transformers...), ``pipeline(model=)``,
``hf_hub_download``/``snapshot_download``/``hf_hub_url`` (``repo_type=``), ``load_dataset``, ``SentenceTransformer``,
diffusers adapters (``load_lora_weights``...), timm/open_clip loaders (only ``hf-hub:`` names reach the Hub), and
any ``hf://`` URI or ``hf-hub:`` string passed to a call. ``revision=``/``trust_remote_code=`` come along.

Values are followed through what the file itself shows: string constants, module and local variables (every
value a name is assigned in that scope), function parameter defaults, class/dataclass field defaults and argparse
``default=`` values reached as ``obj.attr``, ``os.getenv(NAME, default)``, ``+`` concatenation, f-strings of
such names and conditional expressions. A loader whose argument stays unknown becomes a ``Skipped`` entry: the
model it loads is not audited, and the report says so.
"""

from __future__ import annotations

import ast
import bisect
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from auditor.domain import Location, ModelRef, Skipped
from auditor.ledger import ItemKind
from auditor.models.repoid import looks_like_repo_id, parse_hf_uri, strip_hub_prefix

MAX_CANDIDATES = 16  # values one expression may stand for (a name assigned in several branches)

# Cheap pre-filter: a file with no call of a recognised loader (name followed by "(") and no hf:// / hf-hub: string
# cannot contain a reference, so it is not parsed. Imports alone ("from transformers import pipeline") do not count.
_LOADER_CALL_RE = re.compile(
    r"(?:from_pretrained|pipeline|hf_hub_download|snapshot_download|hf_hub_url|load_dataset(?:_builder)?"
    r"|get_dataset_\w+|SentenceTransformer|CrossEncoder|SparseEncoder|load_lora_weights|load_textual_inversion"
    r"|load_ip_adapter|lora_state_dict|create_model\w*|get_tokenizer)\s*\(|hf://|hf[-_]hub:")

# Names `load_dataset` resolves to packaged builders, not Hub repos.
PACKAGED_BUILDERS = frozenset({
    "csv", "json", "parquet", "text", "arrow", "pandas", "sql", "imagefolder", "audiofolder", "videofolder",
    "webdataset", "xml", "generator", "spark", "cache", "pdffolder", "niftifolder", "hdf5", "lance", "eval",
})

# Marks skipped items for references only known at run time (see ``auditor.pipeline``).
RUNTIME_REFERENCE = "computed at run time"


@dataclass(frozen=True)
class _Rule:
    """How one loader names its repo: positional index and keyword names, which kind, prefix-only or not."""

    position: int | None
    keywords: tuple[str, ...]
    kind: str = "model"
    prefix_only: bool = False  # only ``hf-hub:`` names are Hub repos (timm, open_clip)
    single_name_org: str | None = None  # legacy short names map into this org (sentence-transformers)
    extra_keywords: tuple[str, ...] = ()  # further keywords that may also name a repo (pipeline tokenizer=...)


_FROM_PRETRAINED = _Rule(0, ("pretrained_model_name_or_path", "pretrained_model_or_path", "model_name_or_path",
                             "model_id", "repo_id"))
_PEFT_FROM_PRETRAINED = _Rule(1, ("model_id",))
_HUB_FILE = _Rule(0, ("repo_id",))
_DATASET = _Rule(0, ("path",), kind="dataset")
_ST = _Rule(0, ("model_name_or_path", "model_name"), single_name_org="sentence-transformers")
_CROSS = _Rule(0, ("model_name_or_path", "model_name"))
_ADAPTER = _Rule(0, ("pretrained_model_name_or_path", "pretrained_model_name_or_path_or_dict"))
_PREFIXED = _Rule(0, ("model_name",), prefix_only=True, extra_keywords=("pretrained",))
_PIPELINE = _Rule(1, ("model",), extra_keywords=("tokenizer", "feature_extractor", "image_processor", "processor"))

_RULES: dict[str, _Rule] = {
    "from_pretrained": _FROM_PRETRAINED,
    "pipeline": _PIPELINE,
    "hf_hub_download": _HUB_FILE,
    "snapshot_download": _HUB_FILE,
    "hf_hub_url": _HUB_FILE,
    "load_dataset": _DATASET,
    "load_dataset_builder": _DATASET,
    "get_dataset_config_names": _DATASET,
    "get_dataset_split_names": _DATASET,
    "SentenceTransformer": _ST,
    "SparseEncoder": _ST,
    "CrossEncoder": _CROSS,
    "load_lora_weights": _ADAPTER,
    "load_textual_inversion": _ADAPTER,
    "load_ip_adapter": _ADAPTER,
    "lora_state_dict": _ADAPTER,
    "create_model": _PREFIXED,
    "create_model_and_transforms": _PREFIXED,
    "create_model_from_pretrained": _PREFIXED,
    "get_tokenizer": _PREFIXED,
}
_PREFIX_OWNERS = ("timm", "open_clip")
# Calls returning a local path of something downloaded from the Hub: loading that path is not a new reference.
DOWNLOADERS = frozenset({"snapshot_download", "hf_hub_download", "cached_path", "cached_file", "try_to_load_from_cache"})

Env = dict[str, list[str]]


@dataclass
class _Wrapper:
    """A loader inside a function whose repo argument is one of the function's parameters: the references are at
    the function's call sites in the same file (one level deep)."""

    function: str
    param: str
    index: int  # positional index of the parameter (``self``/``cls`` included)
    method: bool  # first parameter is self/cls: attribute calls skip it
    call: ast.Call
    rule: _Rule
    kind: str
    revision: list[str] | None
    trust: bool | None


@dataclass
class PyFileResult:
    refs: list[ModelRef] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def may_reference(text: str) -> bool:
    return _LOADER_CALL_RE.search(text) is not None


def hit_lines(source: str) -> list[int]:
    """1-based lines where a loader call or Hub URI starts (sorted)."""
    lines: list[int] = []
    last_pos, last_line = 0, 1
    for match in _LOADER_CALL_RE.finditer(source):
        last_line += source.count("\n", last_pos, match.start())
        last_pos = match.start()
        if not lines or lines[-1] != last_line:
            lines.append(last_line)
    return lines


def extract_python(source: str, shown: str, file_dir: Path, project_dir: Path) -> PyFileResult:
    """References in one Python file; ``shown`` is the file name used in locations. Raises SyntaxError/ValueError.

    Only the statements whose lines hold a loader call (``hit_lines``) are walked expression by expression; the
    rest of the file contributes its assignments (values of names), which is why the file is parsed whole.
    """
    with warnings.catch_warnings():  # the audited file's invalid escapes etc. are not the audit's to print
        warnings.simplefilter("ignore")
        tree = ast.parse(source, filename=shown)
    extractor = _Extractor(shown, (file_dir, project_dir), hit_lines(source))
    extractor.run(tree)
    return extractor.result


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _scope_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of one scope, descending into blocks (if/for/with/try) but not into nested defs/classes."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, list):
                yield from _scope_statements(inner)
        for handler in getattr(stmt, "handlers", []) or []:
            yield from _scope_statements(handler.body)
        for case in getattr(stmt, "cases", []) or []:
            yield from _scope_statements(case.body)


class _Extractor:
    def __init__(self, shown: str, bases: tuple[Path, Path], hits: list[int]) -> None:
        self.shown = shown
        self.bases = bases
        self.hits = hits
        self.result = PyFileResult()
        self.tree: ast.Module | None = None
        self._attrs: Env | None = None  # obj.attr candidates: class fields and argparse defaults, module-wide
        self.downloads: set[str] = set()  # names holding a local path a Hub download returned (already a ref)
        self.functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []  # enclosing defs while visiting
        self.wrappers: list[_Wrapper] = []
        self.module_env: Env = {}

    @property
    def attrs(self) -> Env:
        """Built on first use: most references resolve without ``obj.attr`` and the full walk costs."""
        if self._attrs is None:
            self._attrs = {}
            if self.tree is not None:
                self._collect_attrs(self.tree)
        return self._attrs

    def _covers(self, node: ast.AST) -> bool:
        start = getattr(node, "lineno", None)
        if start is None:
            return True
        end = getattr(node, "end_lineno", None) or start
        index = bisect.bisect_left(self.hits, start)
        return index < len(self.hits) and self.hits[index] <= end

    # -- environments ----------------------------------------------------------------------------------------
    def run(self, tree: ast.Module) -> None:
        self.tree = tree
        module_env: Env = {}
        self._assign(module_env, list(_scope_statements(tree.body)), module_env)
        self.module_env = module_env
        self._visit_scope(tree.body, module_env)
        if self.wrappers:
            self._wrapper_call_sites(tree)

    def _collect_attrs(self, tree: ast.Module) -> None:
        attrs = self._attrs if self._attrs is not None else {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                env: Env = {}
                self._assign(env, node.body, {})
                for name, values in env.items():
                    _add(attrs, name, values)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument":
                default = next((k.value for k in node.keywords if k.arg == "default"), None)
                if default is None:
                    continue
                defaults = self._values(default, {})
                dest = self._argparse_dest(node)
                if defaults and dest:
                    _add(attrs, dest, defaults)

    @staticmethod
    def _argparse_dest(call: ast.Call) -> str | None:
        for kw in call.keywords:
            if kw.arg == "dest" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                return kw.value.value
        flags = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        chosen = next((f for f in flags if f.startswith("--")), flags[0] if flags else None)
        return chosen.lstrip("-").replace("-", "_") if chosen else None

    def _assign(self, env: Env, statements: list[ast.stmt], outer: Env) -> None:
        for stmt in statements:
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(stmt, ast.Assign):
                targets, value = stmt.targets, stmt.value
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                targets, value = [stmt.target], stmt.value
                if isinstance(value, ast.Call) and _dotted(value.func) in ("field", "dataclasses.field"):
                    value = next((k.value for k in value.keywords if k.arg == "default"), None)
            if value is None:
                continue
            downloaded = isinstance(value, ast.Call) and _call_name(value) in DOWNLOADERS
            for target in targets:
                if isinstance(target, ast.Name):
                    if downloaded:
                        self.downloads.add(target.id)
                        continue
                    values = self._values(value, {**outer, **env})
                    if values:
                        _add(env, target.id, values)

    def _function_env(self, node: ast.FunctionDef | ast.AsyncFunctionDef, outer: Env) -> Env:
        env: Env = {}
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        for arg, default in zip(positional[len(positional) - len(args.defaults):], args.defaults, strict=False):
            values = self._values(default, outer)
            if values:
                env[arg.arg] = values
        for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=False):
            if kw_default is not None:
                values = self._values(kw_default, outer)
                if values:
                    env[arg.arg] = values
        merged = {**outer, **env}
        local: Env = {}
        self._assign(local, list(_scope_statements(node.body)), merged)
        for name, values in local.items():
            _add(env, name, values)
        return {**outer, **env}

    def _visit_scope(self, body: list[ast.stmt], env: Env) -> None:
        for stmt in body:
            self._visit(stmt, env)

    def _visit(self, node: ast.AST, env: Env) -> None:
        if not self._covers(node):
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for deco in node.decorator_list:
                self._visit(deco, env)
            inner = self._function_env(node, env)
            self.functions.append(node)
            for stmt in node.body:
                self._visit(stmt, inner)
            self.functions.pop()
            return
        if isinstance(node, ast.Call):
            self._call(node, env)
        for child in ast.iter_child_nodes(node):
            self._visit(child, env)

    # -- values ------------------------------------------------------------------------------------------------
    def _values(self, node: ast.expr, env: Env) -> list[str] | None:
        """The string values an expression may have, or None when it depends on run time."""
        if isinstance(node, ast.Constant):
            return [node.value] if isinstance(node.value, str) else None
        if isinstance(node, ast.Name):
            return env.get(node.id)
        if isinstance(node, ast.Attribute):
            return self.attrs.get(node.attr)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self._values(node.left, env), self._values(node.right, env)
            if left is None or right is None:
                return None
            return [a + b for a in left for b in right][:MAX_CANDIDATES]
        if isinstance(node, ast.JoinedStr):
            return self._fstring(node, env)
        if isinstance(node, ast.IfExp):
            body, orelse = self._values(node.body, env), self._values(node.orelse, env)
            if body is None and orelse is None:
                return None
            return list(dict.fromkeys([*(body or []), *(orelse or [])]))[:MAX_CANDIDATES]
        if isinstance(node, ast.Call):
            return self._getenv_default(node, env)
        return None

    def _fstring(self, node: ast.JoinedStr, env: Env) -> list[str] | None:
        out = [""]
        for part in node.values:
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                pieces: list[str] | None = [part.value]
            elif isinstance(part, ast.FormattedValue) and part.format_spec is None and part.conversion in (-1, 115):
                pieces = self._values(part.value, env)
            else:
                pieces = None
            if pieces is None:
                return None
            out = [a + b for a in out for b in pieces][:MAX_CANDIDATES]
        return out

    def _getenv_default(self, node: ast.Call, env: Env) -> list[str] | None:
        name = _dotted(node.func)
        if name not in ("os.getenv", "getenv", "os.environ.get", "environ.get"):
            return None
        default = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "default"),
                                                               None)
        return self._values(default, env) if default is not None else None

    # -- calls ---------------------------------------------------------------------------------------------------
    def _call(self, node: ast.Call, env: Env) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            fname, owner = func.id, ""
        elif isinstance(func, ast.Attribute):
            fname, owner = func.attr, _dotted(func.value) or ""
        else:
            return
        rule = _RULES.get(fname)
        if rule is not None and rule.prefix_only and owner and owner.split(".")[0] not in _PREFIX_OWNERS:
            rule = None  # some other library's create_model()
        if rule is _PIPELINE and owner not in ("", "transformers"):
            rule = None
        if rule is _FROM_PRETRAINED and owner.rsplit(".", 1)[-1].startswith(("PeftModel", "PeftMixedModel")):
            rule = _PEFT_FROM_PRETRAINED
        if rule is None:
            self._generic_strings(node, env)
            return
        kind = rule.kind
        if fname in ("hf_hub_download", "snapshot_download", "hf_hub_url"):
            repo_type = self._keyword_values(node, "repo_type", env)
            if repo_type and repo_type[0] == "space":
                return
            if repo_type and repo_type[0] == "dataset":
                kind = "dataset"
        revision = self._keyword_values(node, "revision", env)
        trust = self._trust(node)
        arg = self._argument(node, rule.position, rule.keywords)
        if arg is None and rule is _PIPELINE and (node.args or any(k.arg == "task" for k in node.keywords)):
            task = ast.unparse(node.args[0] if node.args else next(k.value for k in node.keywords if k.arg == "task"))
            self.result.skipped.append(Skipped(
                reason=f"pipeline({task[:60]}) without model=: transformers picks a default model at run time "
                       "(unpinned); it is not audited", file=self.shown, line=node.lineno, requirement=task[:120], kind=ItemKind.MODEL_REFERENCE))
        targets: list[ast.expr] = [arg] if arg is not None else []
        targets += [k.value for k in node.keywords if k.arg in rule.extra_keywords]
        for target in targets:
            self._emit(node, target, rule, kind, revision, trust, env)

    def _emit(self, node: ast.Call, target: ast.expr, rule: _Rule, kind: str, revision: list[str] | None,
              trust: bool | None, env: Env) -> None:
        values = self._values(target, env)
        if values is None:
            downloaded = isinstance(target, ast.Name) and target.id in self.downloads
            if isinstance(target, ast.Call) and _call_name(target) in DOWNLOADERS:
                downloaded = True
            if isinstance(target, ast.Name) and self._as_wrapper(node, target.id, rule, kind, revision, trust):
                return
            if not rule.prefix_only and not _is_object(target) and not downloaded:
                expr = ast.unparse(target)[:120]
                self.result.skipped.append(Skipped(
                    reason=f"{kind} reference {RUNTIME_REFERENCE} ({expr}); the {kind} it loads is not audited",
                    file=self.shown, line=node.lineno, requirement=expr, kind=ItemKind.MODEL_REFERENCE))
            return
        for value in values:
            repo_id, ref_kind, ref_rev = self._repo_of(value, rule, kind)
            if repo_id is None:
                continue
            rev = ref_rev or (revision[0] if revision and len(revision) == 1 else None)
            self.result.refs.append(ModelRef(repo_id=repo_id, kind=ref_kind, revision=rev,
                                             location=Location(self.shown, node.lineno), origin="code",
                                             trust_remote_code=trust))

    def _as_wrapper(self, node: ast.Call, name: str, rule: _Rule, kind: str, revision: list[str] | None,
                    trust: bool | None) -> bool:
        """Record a loader whose argument is a parameter (without a usable default) of the enclosing function."""
        if not self.functions:
            return False
        func = self.functions[-1]
        params = [a.arg for a in [*func.args.posonlyargs, *func.args.args]]
        kwonly = [a.arg for a in func.args.kwonlyargs]
        if name not in params and name not in kwonly:
            return False
        index = params.index(name) if name in params else -1
        method = bool(params) and params[0] in ("self", "cls")
        self.wrappers.append(_Wrapper(func.name, name, index, method, node, rule, kind, revision, trust))
        return True

    def _wrapper_call_sites(self, tree: ast.Module) -> None:
        """References at the call sites of wrapper functions; a wrapper nobody calls here stays a skipped entry."""
        by_name: dict[str, list[_Wrapper]] = {}
        for wrapper in self.wrappers:
            by_name.setdefault(wrapper.function, []).append(wrapper)
        resolved: set[int] = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            fname = _call_name(node)
            for wrapper in by_name.get(fname or "", []):
                offset = 1 if wrapper.method and isinstance(node.func, ast.Attribute) else 0
                index = wrapper.index - offset
                arg: ast.expr | None = next((k.value for k in node.keywords if k.arg == wrapper.param), None)
                if arg is None and 0 <= index < len(node.args) and not isinstance(node.args[index], ast.Starred):
                    arg = node.args[index]
                if arg is None or not self._values(arg, self.module_env):
                    continue
                before = len(self.result.refs)
                self._emit(node, arg, wrapper.rule, wrapper.kind, wrapper.revision, wrapper.trust, self.module_env)
                if len(self.result.refs) > before:
                    resolved.add(id(wrapper))
        for wrapper in self.wrappers:
            if id(wrapper) not in resolved and not wrapper.rule.prefix_only:
                self.result.skipped.append(Skipped(
                    reason=f"{wrapper.kind} reference {RUNTIME_REFERENCE} ({wrapper.param}, a parameter of "
                           f"{wrapper.function}() with no resolvable caller here); the {wrapper.kind} it loads is "
                           "not audited", file=self.shown, line=wrapper.call.lineno, requirement=wrapper.param, kind=ItemKind.MODEL_REFERENCE))

    def _repo_of(self, value: str, rule: _Rule, kind: str) -> tuple[str | None, str, str | None]:
        uri = parse_hf_uri(value)
        if uri is not None:
            return uri.repo_id, uri.kind, uri.revision
        stripped = strip_hub_prefix(value)
        if stripped is not None:
            return (stripped, kind, None) if looks_like_repo_id(stripped) else (None, kind, None)
        if rule.prefix_only or not looks_like_repo_id(value) or self._is_local(value):
            return None, kind, None
        if kind == "dataset" and value.lower() in PACKAGED_BUILDERS:
            return None, kind, None
        if rule.single_name_org and "/" not in value:
            return f"{rule.single_name_org}/{value}", kind, None
        return value, kind, None

    def _is_local(self, value: str) -> bool:
        for base in self.bases:
            try:
                if (base / value).exists():
                    return True
            except OSError:
                continue
        return False

    def _generic_strings(self, node: ast.Call, env: Env) -> None:
        """Any ``hf://`` URI or ``hf-hub:`` name given to a call (pandas.read_parquet("hf://datasets/..."))."""
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            if not isinstance(arg, (ast.Constant, ast.JoinedStr, ast.BinOp, ast.Name)):
                continue
            for value in self._values(arg, env) or []:
                uri = parse_hf_uri(value)
                if uri is not None:
                    self.result.refs.append(ModelRef(repo_id=uri.repo_id, kind=uri.kind, revision=uri.revision,
                                                     location=Location(self.shown, node.lineno), origin="code"))

    @staticmethod
    def _argument(node: ast.Call, position: int | None, keywords: tuple[str, ...]) -> ast.expr | None:
        for kw in node.keywords:
            if kw.arg in keywords:
                return kw.value
        if position is not None and len(node.args) > position and not isinstance(node.args[position], ast.Starred):
            return node.args[position]
        return None

    def _keyword_values(self, node: ast.Call, name: str, env: Env) -> list[str] | None:
        for kw in node.keywords:
            if kw.arg == name:
                return self._values(kw.value, env)
        return None

    @staticmethod
    def _trust(node: ast.Call) -> bool | None:
        for kw in node.keywords:
            if kw.arg == "trust_remote_code":
                if isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, bool):
                    return kw.value.value
                return True  # decided at run time: it may be on, so treat it as on
        return None


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def _is_object(node: ast.expr) -> bool:
    """``PeftModel.from_pretrained(model, ...)``-style calls also pass objects; literals of other types are not refs."""
    return isinstance(node, (ast.Constant, ast.Dict, ast.List, ast.Tuple, ast.Set, ast.Lambda))


def _add(env: Env, name: str, values: list[str]) -> None:
    current = env.setdefault(name, [])
    for value in values:
        if value not in current and len(current) < MAX_CANDIDATES:
            current.append(value)


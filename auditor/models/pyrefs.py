"""Model and dataset references in Python source, found with ``ast`` (the code is never imported or run).

What is recognised (one table, ``_RULES``): ``*.from_pretrained`` (transformers, diffusers, peft's
``PeftModel.from_pretrained(base, "org/adapter")`` second argument, sentence-transformers...), ``pipeline(model=)``,
``hf_hub_download``/``snapshot_download``/``hf_hub_url`` (``repo_type=``), ``load_dataset``, ``SentenceTransformer``,
diffusers adapters (``load_lora_weights``...), timm/open_clip loaders (only ``hf-hub:`` names reach the Hub), and
any ``hf://`` URI or ``hf-hub:`` string passed to a call. ``revision=`` comes along, and every call that passes
``trust_remote_code`` (any loader, ``from_config``, a library's ``get_config``...) is judged.

Arguments are judged by the values that reach them (``auditor.models.pyflow``): literals, defaults of parameters,
dataclass fields, argparse options and environment variables, assignments on the paths that reach the call, and
the arguments of the function's callers in the project. So:

- a model is every Hub id among those values; when none is known and the value is chosen at run time, the
  reference is a ``Skipped`` entry (the model it loads is not audited, and the report says so);
- a value that is not a Hub repo (a local path, a placeholder such as ``my-org/my-model``, a backend name such as
  ``"hf"``: ``auditor.models.repoid.read_reference``) is an ``Excluded`` entry with why, so nothing a loader is
  given goes unaccounted; a ``None`` default is no model at all (the option must be given at run time);
- a run-time value passed by one caller of a shared loader is reported at that caller, even when other callers
  pass literals;
- ``trust_remote_code`` is reported (a ``RemoteCodeSite``) when ``True`` is possible: the project sets it (a
  literal, a default, an assignment in the files that run with this one), it is computed in a way that cannot be
  bounded, or it is off by default and an operator can switch it on (an option, a config key, an environment
  variable, a caller's argument, a ``True`` set only under ``if args.trust_remote_code:``) -- the last is a site
  of its own kind (``opt_in``), reported at a lower severity. Each site names the models it applies to (or the
  run-time choice) and the conditions on its path.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from auditor.domain import Excluded, Location, ModelRef, RemoteCodeSite, Skipped
from auditor.ledger import GapKind, ItemKind
from auditor.models.pyflow import DOWNLOADED, DOWNLOADERS, OBJECT, Analyzer, State
from auditor.models.pyindex import PyFile, PyProject, call_name, dotted
from auditor.models.repoid import (
    PACKAGED_BUILDERS,
    fixture_context,
    hub_endpoints,
    parse_hf_uri,
    parse_hub_file_url,
    read_reference,
)
from auditor.models.values import TOO_MANY, Known, Open, Val

# Cheap pre-filter: a file with no call of a recognised loader (name followed by "("), no trust_remote_code and
# no hf:// / hf-hub: string cannot contain a reference, so it is not parsed for its own references (it may still
# be read for the values other files use). Imports alone ("from transformers import pipeline") do not count.
_LOADER_CALL_RE = re.compile(
    r"(?:from_pretrained|from_single_file|pipeline|hf_hub_download|snapshot_download|hf_hub_url|load_dataset(?:_builder)?"
    r"|get_dataset_\w+|SentenceTransformer|CrossEncoder|SparseEncoder|load_lora_weights|load_textual_inversion"
    r"|load_ip_adapter|lora_state_dict|create_model\w*|get_tokenizer|load_model|hub\.load|(?:torch|joblib)\.load)"
    r"\s*\(|hf://|hf[-_]hub:"
    r"|trust_remote_code")

# Marks skipped items for references only known at run time (see ``auditor.pipeline``).
RUNTIME_REFERENCE = "computed at run time"
TRUST = "trust_remote_code"
MAX_GUARDS = 4  # conditions shown per site (the innermost)


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
                             "model_id", "repo_id", "model_name"))  # model_name: unsloth's FastModel API
_PEFT_FROM_PRETRAINED = _Rule(1, ("model_id",))
_HUB_FILE = _Rule(0, ("repo_id",))
_DATASET = _Rule(0, ("path",), kind="dataset")
_ST = _Rule(0, ("model_name_or_path", "model_name"), single_name_org="sentence-transformers")
_CROSS = _Rule(0, ("model_name_or_path", "model_name"))
_ADAPTER = _Rule(0, ("pretrained_model_name_or_path", "pretrained_model_name_or_path_or_dict"))
# diffusers' single-file checkpoints: a local path, a Hub file URL or ``org/repo/file`` (reported like any Hub name)
_SINGLE_FILE = _Rule(0, ("pretrained_model_link_or_path", "pretrained_model_link_or_path_or_dict"))
_PREFIXED = _Rule(0, ("model_name",), prefix_only=True, extra_keywords=("pretrained",))
_PIPELINE = _Rule(1, ("model",), extra_keywords=("tokenizer", "feature_extractor", "image_processor", "processor"))
_OTHER = _Rule(0, ("pretrained_model_name_or_path", "model_name_or_path", "model_path", "model", "model_id",
                   "repo_id"))  # any other call given trust_remote_code: its model argument, if it has one

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
    "from_single_file": _SINGLE_FILE,
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
# Loading from a model *object* or config (``from_config(config)``): the model was chosen where the object was made.
_FROM_OBJECT = frozenset({"from_config", "from_model_config"})


# Loaders of other registries, whose names are no Hugging Face repos: listed (excluded, with why), never audited
# as Hub references -- whisper's checkpoints, torch.hub's GitHub repos.
_OTHER_REGISTRIES = {("whisper", "load_model"): "whisper's own checkpoint registry (downloaded from the URL whisper "
                                                "ships and checked against the SHA-256 it ships)",
                     ("torch.hub", "load"): "torch.hub", ("hub", "load"): "torch.hub"}
TORCH_HUB = "torch.hub"
# Loaders of pickle-based files (code can run on load): a path chosen at run time is a gap (``_pickle_load``).
_PICKLE_LOADERS = frozenset({"torch", "joblib"})

# Calls that only build a mapping (``dict(trust_remote_code=True)``): the flag is judged where the mapping is spread
# into a loader, not here.
_CONTAINERS = frozenset({"dict", "update", "setdefault", "SimpleNamespace", "Namespace", "EasyDict", "OrderedDict"})


@dataclass
class PyFileResult:
    refs: list[ModelRef] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    sites: list[RemoteCodeSite] = field(default_factory=list)
    excluded: list[Excluded] = field(default_factory=list)  # values given to loaders that are not Hub repos


def may_reference(text: str) -> bool:
    return _LOADER_CALL_RE.search(text) is not None


def hit_lines(source: str) -> list[int]:
    """1-based lines where a loader call, ``trust_remote_code`` or a Hub URI appears (sorted)."""
    lines: list[int] = []
    last_pos, last_line = 0, 1
    for match in _LOADER_CALL_RE.finditer(source):
        last_line += source.count("\n", last_pos, match.start())
        last_pos = match.start()
        if not lines or lines[-1] != last_line:
            lines.append(last_line)
    return lines


def extract_python(source: str, shown: str, file_dir: Path, project_dir: Path) -> PyFileResult:
    """References in one Python file on its own (a notebook cell, a file given alone). Raises SyntaxError /
    ValueError when it does not parse; ``shown`` is the file name used in locations."""
    ast.parse(source, filename=shown)  # the error, with its line, is the caller's to report
    f = PyFile(path=None, shown=shown, module="", base=file_dir, text=source)
    return extract_file(Analyzer(PyProject([f])), f, project_dir)


def extract_file(analyzer: Analyzer, f: PyFile, project_dir: Path) -> PyFileResult:
    """References and remote-code sites of one parsed file of ``analyzer``'s project."""
    tree = f.tree()
    result = PyFileResult()
    if tree is None:
        return result
    reader = _Reader(analyzer, f, (f.base or project_dir, project_dir), result)
    for node in f.calls_on_lines(set(hit_lines(f.source() or ""))):
        reader.call(node)
    result.sites = _merge_sites(result.sites)
    return result


def _relative_parts(shown: str, project_dir: Path) -> tuple[str, ...]:
    path = Path(shown)
    try:
        return path.relative_to(project_dir).parts
    except ValueError:
        return path.parts[-3:]


class _Reader:
    def __init__(self, analyzer: Analyzer, f: PyFile, bases: tuple[Path, Path], result: PyFileResult) -> None:
        self.a = analyzer
        self.f = f
        self.bases = bases
        self.result = result
        self.fixture = fixture_context(_relative_parts(f.shown, bases[1]))
        self._listed: set[tuple[str | None, int | None, str]] = set()

    def call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            fname, owner = func.id, ""
        elif isinstance(func, ast.Attribute):
            fname, owner = func.attr, dotted(func.value) or ""
        else:
            return
        if (owner, fname) in _OTHER_REGISTRIES:
            self._registry_load(node, fname, owner)
            return
        if fname == "load" and owner and self._pickle_loader(owner):
            self._pickle_load(node, owner)
            return
        rule = _RULES.get(fname)
        if rule is not None and rule.prefix_only and owner and owner.split(".")[0] not in _PREFIX_OWNERS \
                and self.f.imports.get(owner.split(".")[0], ("",))[0].split(".")[0] not in _PREFIX_OWNERS:
            rule = None  # some other library's create_model()
        elif rule is not None and rule.prefix_only and not owner and self._own_function(fname):
            rule = None  # the project's own get_tokenizer()/create_model(): followed into it like any function
        if rule is _PIPELINE and (owner not in ("", "transformers") or not owner and not self._from_transformers(fname)):
            rule = None  # some other ``pipeline``: a local function or variable, another library's
        if rule is _FROM_PRETRAINED and owner.rsplit(".", 1)[-1].startswith(("PeftModel", "PeftMixedModel")):
            rule = _PEFT_FROM_PRETRAINED
        trust_expr = next((k.value for k in node.keywords if k.arg == TRUST), None)
        spreads = [k.value for k in node.keywords if k.arg is None]
        if rule is None and (trust_expr is None and not spreads or fname in _CONTAINERS):
            self._generic_strings(node)
            return
        state = self.a.state_at(self.f, node)
        if state is None:  # no path reaches this call (after a return, or under a condition that is never true)
            if rule is not None and not rule.prefix_only:  # timm/open_clip: only their weights are a gap
                self._unreached(node, fname, rule.kind, self._argument(node, rule.position, rule.keywords))
            return
        if rule is None:
            if self.a.project.functions(fname) or self.a.project.classes(fname) or self._own_class(node):
                return  # a function or class of the project: the flag is followed into it / the object it builds
            trust = self._trust(trust_expr, spreads, state)
            if trust is None or not trust.possible:
                self._generic_strings(node)
                return
            target = None if fname in _FROM_OBJECT else self._argument(node, _OTHER.position, _OTHER.keywords)
            spread = None if target is not None or fname in _FROM_OBJECT else self._spread_field(
                spreads, _OTHER.keywords, state)
            model = self.a.eval(self.f, target, state) if target is not None else spread or Val(
                open=Open.UNKNOWN, why=f"the object given to {fname}()" if node.args else
                f"whatever {fname}(trust_remote_code=...) is used to load")
            repos = [(r, where) for r, _, _, where in self._repos(model, _OTHER, "model", state, node)]
            self._site(node, state, trust, repos, model, None)
            return
        # ``FastModel.from_pretrained(...)`` of the project's own class: its values are references here, but the
        # flag is followed into it, where the loading happens (one remote-code place, not two)
        wrapper = bool(owner) and self._project_method(fname, owner)
        mark = self._mark()
        self._loader(node, fname, rule, trust_expr, spreads, state, wrapper)
        self._account(node, fname, mark, self._argument(node, rule.position, rule.keywords), state)

    def _loader(self, node: ast.Call, fname: str, rule: _Rule, trust_expr: ast.expr | None,
                spreads: list[ast.expr], state: State, wrapper: bool = False) -> None:
        kind = rule.kind
        if fname in ("hf_hub_download", "snapshot_download", "hf_hub_url"):
            repo_type = self._keyword(node, "repo_type", state)
            types = repo_type.values if repo_type is not None else []
            if types and all(t == "space" for t in types):
                target = self._argument(node, rule.position, rule.keywords)
                what = ast.unparse(target)[:120] if target is not None else f"{fname}()"
                self._exclude(what, "model", f"{what} is a Space (repo_type='space'): an app's files, not a model "
                                             "or dataset", Location(self.f.shown, node.lineno))
                return
            if "dataset" in types:
                kind = "dataset"
        revision = self._keyword(node, "revision", state)
        revisions = [v for v in revision.values if isinstance(v, str)] if revision is not None else []
        trust = None if wrapper else self._trust(trust_expr, spreads, state)
        arg = self._argument(node, rule.position, rule.keywords)
        if arg is None and rule is _PIPELINE and (node.args or any(k.arg == "task" for k in node.keywords)):
            task = ast.unparse(node.args[0] if node.args else next(k.value for k in node.keywords if k.arg == "task"))
            self.result.skipped.append(Skipped(
                reason=f"pipeline({task[:60]}) without model=: transformers picks a default model at run time "
                       "(unpinned); it is not audited", file=self.f.shown, line=node.lineno,
                requirement=task[:120], kind=ItemKind.MODEL_REFERENCE))
        targets: list[ast.expr] = [arg] if arg is not None else []
        targets += [k.value for k in node.keywords if k.arg in rule.extra_keywords]
        repos: list[tuple[str, Location | None]] = []
        first: Val | None = None
        for target in targets:
            value = self.a.eval(self.f, target, state)
            first = first or value
            repos += self._emit(node, target, value, rule, kind, revisions, trust, state)
        if not targets and spreads:  # ``from_pretrained(**cfg)``: the model is a key of the mapping
            spread = self._spread_field(spreads, rule.keywords, state)
            if spread is not None:
                first = spread
                repos += self._emit(node, spreads[0], spread, rule, kind, revisions, trust, state)
            elif not rule.prefix_only:  # ``from_pretrained(**kwargs)`` whose mapping the code does not show
                self._runtime_skip(kind, ast.unparse(spreads[0])[:120], Location(self.f.shown, node.lineno),
                                   f"the {kind} is a key of **{ast.unparse(spreads[0])[:60]}, set at run time")
        if rule.prefix_only and not repos:
            self._registry_weights(node, fname, state)
        if trust is not None and trust.possible:
            self._site(node, state, trust, repos, first or Val(open=Open.UNKNOWN, why=f"{fname}()"),
                       revisions[0] if len(revisions) == 1 else None)

    def _emit(self, node: ast.Call, target: ast.expr, value: Val, rule: _Rule, kind: str, revisions: list[str],
              trust: _Trust | None, state: State) -> list[tuple[str, Location | None]]:
        # the substring tests on a run-time name (``if 'qwen' in name:``) say which *names* can reach this call; a
        # literal written at the call is not that name and always loads
        literal = isinstance(target, ast.Constant)
        found = self._repos(value, rule, kind, None if literal else state, node)
        flag = None if trust is None else trust.possible and not trust.switch
        for repo_id, ref_kind, ref_rev, site in found:
            choices: list[str | None] = [ref_rev] if ref_rev else [*revisions] or [None]
            applies = flag and (trust is None or trust.callers is None or site is None or site in trust.callers)
            here = Location(self.f.shown, node.lineno)
            for rev in choices:
                self.result.refs.append(ModelRef(
                    repo_id=repo_id, kind=ref_kind, revision=rev, location=site or here,
                    origin="code", trust_remote_code=bool(applies) if flag is not None else None,
                    loaded_at={site: [here]} if site is not None and site != here else {}))
        out = [(r, where) for r, _, _, where in found]
        if rule.prefix_only or _is_object(target, value) or value.open is None:
            return out
        strings = [k for k in value.known if isinstance(k.value, str) and (literal or state.admits(k.value))]
        expr = ast.unparse(target)[:120]
        here = Location(self.f.shown, node.lineno)
        if value.runtime:  # callers that pass a run-time value into this loader: each is where the choice enters
            for where, why in value.runtime:
                if where == here:
                    self._runtime_skip(kind, expr, here, why)
                else:
                    self._runtime_skip(kind, why or expr, where, f"passed on to {expr} at {here}")
            if all(where != here for where, _ in value.runtime):  # and the loading call itself, once
                callers = ", ".join(str(where) for where, _ in value.runtime[:3])
                more = f" and {len(value.runtime) - 3} more" if len(value.runtime) > 3 else ""
                self._runtime_skip(kind, expr, here, f"chosen by the callers at {callers}{more}")
        elif not strings or value.why == TOO_MANY:  # nothing of the project's own: None (a required option), a
            # value only run time gives -- or more values than the analysis follows (the rest are not audited)
            self._runtime_skip(kind, expr, here, value.why if value.why != expr else "")
        return out

    def _unreached(self, node: ast.Call, fname: str, kind: str, target: ast.expr | None) -> None:
        """A loading call no path reaches with the values the project itself passes (a guard on a caller's value,
        a branch for a command-line option the project never sets itself): a caller the analysis does not see (a
        command line, a plugin registry) may still reach it, so what it loads is a gap at its line, never silence."""
        here = Location(self.f.shown, node.lineno)
        expr = ast.unparse(target)[:120] if target is not None else f"{fname}()"
        why = ("no path the analysis follows reaches this call (a guard on the values the project itself passes, "
               "or code after a return); a caller it does not see (a command line, a plugin registry) may")
        if kind != "model file":
            self._runtime_skip(kind, expr, here, why)
        elif self._mocked(here):
            self._exclude(expr, kind, f"{expr!r} is loaded in a test that patches the Hub, the loader or its "
                                      "environment (patch/monkeypatch): a file the test makes", here)
        else:
            self.result.skipped.append(Skipped(
                reason=f"model file {RUNTIME_REFERENCE} ({fname}({expr}); {why}): a pickle-based file opened when "
                       "this code runs is not scanned", file=here.file, line=here.line, requirement=expr,
                kind=ItemKind.MODEL_REFERENCE, gap=GapKind.RUNTIME_REFERENCE))

    def _mark(self) -> tuple[int, int, int, int]:
        return len(self.result.refs), len(self.result.skipped), len(self.result.excluded), len(self.result.sites)

    def _account(self, node: ast.Call, fname: str, mark: tuple[int, int, int, int], target: ast.expr | None,
                 state: State | None) -> None:
        """Every loading call ends named at its own line (CONVENTIONS "Completeness"): audited (a reference at
        this line, or one written elsewhere whose finding names this call), a gap, or an exclusion with why. What
        the call loads may be accounted for where the value is written (a caller's placeholder path, a model
        downloaded earlier); then this line says so, once, whatever the number of values."""
        here = Location(self.f.shown, node.lineno)
        refs, skipped, excluded = (self.result.refs[mark[0]:], self.result.skipped[mark[1]:],
                                   self.result.excluded[mark[2]:])
        if any(r.location == here or any(here in calls for calls in r.loaded_at.values()) for r in refs) \
                or any(x.file == here.file and x.line == here.line for x in [*skipped, *excluded]) \
                or any(x.location == here for x in self.result.sites[mark[3]:]):
            return
        expr = ast.unparse(target)[:120] if target is not None else ""
        elsewhere = list(dict.fromkeys(f"{x.file}:{x.line}" for x in [*skipped, *excluded]))
        if skipped:
            self._runtime_skip("model", expr or f"{fname}()", here,
                               f"chosen where the value is written, listed at {', '.join(elsewhere[:3])}")
            return
        if excluded:
            why = f"the values {expr} takes here are not Hub references; each is listed where it is written " \
                  f"({', '.join(elsewhere[:3])}{' and more' if len(elsewhere) > 3 else ''})"
        elif target is None and any(isinstance(a, ast.Starred) for a in node.args):
            self._runtime_skip("model", f"{fname}(*{ast.unparse(node.args[0])[:60]})", here,
                               "the model is an element of *args, set at run time")
            return
        elif target is None:
            why = f"{fname}() is called without a model argument: nothing named here is downloaded"
        else:
            value = self.a.eval(self.f, target, state) if state is not None else None
            if value is not None and value.why == DOWNLOADED:
                why = f"{expr} is a snapshot or file downloaded earlier in this code (audited where it is downloaded)"
            elif value is not None and (value.why == OBJECT or _is_object(target, value)):
                why = f"{expr} is an object or a literal of another type, not a repo name"
            elif value is not None and value.open is not None:
                self._runtime_skip("model", expr, here, value.why if value.why != expr else "")
                return
            else:
                why = f"no Hub name reaches {expr} here"
        self.result.excluded.append(Excluded(
            reason=f"{why}: not a dependency to look up on the Hub", file=here.file, line=here.line,
            requirement=expr or f"{fname}()", kind=ItemKind.MODEL_REFERENCE, subject=expr or f"{fname}()"))

    def _runtime_skip(self, kind: str, expr: str, where: Location, why: str) -> None:
        detail = f"; {why}" if why and why != expr else ""
        if self._mocked(where):
            self._exclude(expr, kind, f"{expr!r} is loaded in a test that patches the Hub, the loader or its "
                                      "environment (patch/monkeypatch)", where)
            return
        self.result.skipped.append(Skipped(
            reason=f"{kind} reference {RUNTIME_REFERENCE} ({expr}{detail}); the {kind} it loads is not audited",
            file=where.file, line=where.line, requirement=expr, kind=ItemKind.MODEL_REFERENCE,
            gap=GapKind.RUNTIME_REFERENCE))

    def _repos(self, value: Val, rule: _Rule, kind: str, state: State | None = None,
               node: ast.Call | None = None) -> list[tuple[str, str, str | None, Location | None]]:
        """The Hub repos among the value's strings; the other strings are listed (excluded, with why)."""
        out = []
        for item in value.known:
            if not isinstance(item.value, str) or (state is not None and not state.admits(item.value)):
                continue
            repo_id, ref_kind, ref_rev, why_not = self._repo_of(item.value, rule, kind, item.site)
            if repo_id is not None and node is not None and self._mocked(item.site or Location(self.f.shown,
                                                                                              node.lineno)):
                repo_id, why_not = None, f"{item.value[:120]!r} is named in a test that patches the Hub, the " \
                                         "loader or its environment (patch/monkeypatch), not downloaded"
            if repo_id is not None:
                out.append((repo_id, ref_kind, ref_rev, item.site))
            elif why_not is not None and node is not None:
                self._exclude(item.value, ref_kind, why_not, item.site or Location(self.f.shown, node.lineno))
        return out

    def _exclude(self, value: str, kind: str, why_not: str, where: Location) -> None:
        key = (where.file, where.line, value)
        if key in self._listed:
            return
        self._listed.add(key)
        self.result.excluded.append(Excluded(
            reason=f"{why_not}: not a {kind} dependency to look up on the Hub", file=where.file, line=where.line,
            requirement=value[:120], kind=ItemKind.MODEL_REFERENCE, subject=value[:120]))

    def _spread_field(self, spreads: list[ast.expr], keywords: tuple[str, ...], state: State) -> Val | None:
        for spread in spreads:
            container = self.a.eval(self.f, spread, state)
            for key in keywords:
                item = container.field(key)
                if item is not None:
                    return item
        return None

    def _site(self, node: ast.Call, state: State, trust: _Trust, found: list[tuple[str, Location | None]],
              model: Val, revision: str | None) -> None:
        """Record a call that can load with remote code on: for the project's own models (``repos``) and, when
        the model is also chosen at run time, for whatever is chosen. Local paths alone are the project's own code."""
        if self._mocked(Location(self.f.shown, node.lineno)):
            return  # a test double's loader: nothing is downloaded, nothing runs
        repos = [repo for repo, where in found if trust.callers is None or where is None or where in trust.callers]
        runtime = None
        if trust.callers is not None and model.runtime and not any(where in trust.callers
                                                                   for where, _ in model.runtime):
            runtime = None  # the run-time choices enter through callers that do not turn the flag on
        elif model.why == DOWNLOADED:
            runtime = "a snapshot downloaded earlier in this code"
        elif model.open is not None and model.why != OBJECT:
            runtime = _describe_runtime(model)
        if not repos and runtime is None:
            return
        guards = [str(g) for g in state.guards if not g.opt_in][-MAX_GUARDS:]
        self.result.sites.append(RemoteCodeSite(
            location=Location(self.f.shown, node.lineno), models=list(dict.fromkeys(repos)), runtime=runtime,
            guards=guards, because=trust.because, bounded=trust.bounded, function=_qualname(self.f, node),
            revision=revision, opt_in=trust.switch))

    def _trust(self, expr: ast.expr | None, spreads: list[ast.expr], state: State) -> _Trust | None:
        """What ``trust_remote_code`` can be at this call; None when it is not passed."""
        values: list[tuple[Val, str]] = []
        if expr is not None:
            values.append((self.a.eval(self.f, expr, state), ast.unparse(expr)[:80]))
        for spread in spreads:
            container = self.a.eval(self.f, spread, state)
            item = container.field(TRUST)
            if item is not None:
                values.append((item, f"{ast.unparse(spread)[:60]}['{TRUST}']"))
        if not values:
            return None
        for value, text in values:
            project_true = [k for k in value.known if k.value is True and not k.opt_in and not self._from_tests(k)]
            if project_true:
                sites = tuple(dict.fromkeys(k.site for k in project_true if k.site is not None))
                # True only from some callers of this function: the site is about their models only
                callers = sites if all(k.site is not None for k in project_true) else None
                if isinstance(expr, ast.Constant):
                    because = "trust_remote_code=True"
                elif project_true[0].site is not None:
                    because = f"{text} is True (passed at {project_true[0].site})"
                else:
                    because = f"{text} can be True"
                return _Trust(True, because, True, callers=callers)
        for value, text in values:
            if value.open is Open.UNKNOWN and not any(k.value is True and k.opt_in for k in value.known):
                return _Trust(True, f"{text} is computed at run time ({value.why or text}) and cannot be shown to "
                                    "be False", False)
        for value, text in values:
            switched = [k for k in value.known if k.value is True and (k.opt_in or self._from_tests(k))]
            if switched or value.open is not None:
                tests = [k for k in switched if not k.opt_in]
                how = f"True only where a test passes it ({tests[0].site}); off by default" if tests and \
                    len(tests) == len(switched) else "set to True only when the operator asks for it" if \
                    switched else f"off by default; {value.why or text} can turn it on"
                return _Trust(True, f"{text}: {how}", True, switch=True)
        return _Trust(False, "", True)

    def _repo_of(self, value: str, rule: _Rule, kind: str,
                 written: Location | None = None) -> tuple[str | None, str, str | None, str | None]:
        """(repo id, kind, revision, why it is not a Hub repo). ``written``: the call site that passed the value
        (a test passing ``"org/m"`` into the library's loader: the test's context decides what it is)."""
        uri = parse_hf_uri(value)
        if uri is None and rule is _SINGLE_FILE and value.startswith(("http://", "https://")):
            uri = parse_hub_file_url(value, hub_endpoints())
        if uri is not None:  # an hf:// URI names its repo outright; only a placeholder spelled in it is not one
            reading = read_reference(uri.repo_id, uri.kind, fixture=self._fixture_of(written))
            return (uri.repo_id, uri.kind, uri.revision, None) if reading.repo_id else (
                None, uri.kind, None, reading.why_not)
        if rule.prefix_only and not value.strip().startswith(("hf-hub:", "hf_hub:")):
            return None, kind, None, f"{value[:120]!r} is a name from the library's own model registry (only " \
                                     "hf-hub: names are Hub repos)"
        reading = read_reference(value, kind, fixture=self._fixture_of(written), is_local=self._is_local,
                                 single_name_org=rule.single_name_org)
        return reading.repo_id, kind, None, reading.why_not

    def _fixture_of(self, written: Location | None) -> bool:
        if written is not None and written.file != self.f.shown:
            return fixture_context(_relative_parts(written.file, self.bases[1]))
        return self.fixture

    def _mocked(self, where: Location) -> bool:
        """Is ``where`` in test code that patches the Hub or a loader (``PyFile.mocked_lines``)?"""
        f = self.f if where.file == self.f.shown else self.a.project.file(where.file)
        if f is None or where.line is None:
            return False
        fixture = self.fixture if f is self.f else fixture_context(_relative_parts(where.file, self.bases[1]))
        return fixture and any(start <= where.line <= end for start, end in f.mocked_lines())

    def _from_transformers(self, name: str) -> bool:
        imported = self.f.imports.get(name)
        return imported is not None and imported[0].split(".")[0] in ("transformers", "optimum")

    def _from_tests(self, item: Known) -> bool:
        """A ``True`` that only a test passes into non-test code: the code's callers choose it (an opt-in site of
        the code), it is not the project turning remote code on where it ships."""
        if self.fixture or item.site is None or item.site.file == self.f.shown:
            return False
        return fixture_context(_relative_parts(item.site.file, self.bases[1]))

    def _registry_weights(self, node: ast.Call, fname: str, state: State) -> None:
        """``timm.create_model("resnet50", pretrained=True)``, ``open_clip...(name, pretrained="laion2b_...")``:
        weights downloaded through the library's own table of names (for most of them, a Hub repo the audit
        cannot name): a download that is not audited, said so. Without ``pretrained`` nothing is downloaded."""
        given = next((k.value for k in node.keywords if k.arg == "pretrained"), None)
        if given is None and len(node.args) > 1 and fname != "create_model":
            given = node.args[1]
        if given is None:
            return
        value = self.a.eval(self.f, given, state)
        chosen = [k.value for k in value.known if k.value is True or isinstance(k.value, str) and k.value]
        if not chosen and value.open is None:
            return
        what = ast.unparse(node.args[0])[:80] if node.args else fname
        self.result.skipped.append(Skipped(
            reason=f"{fname}({what}, pretrained={ast.unparse(given)[:60]}) downloads weights through the library's "
                   "own registry of names (not a Hub id the audit can resolve); they were not audited",
            file=self.f.shown, line=node.lineno, requirement=f"{what} pretrained={ast.unparse(given)[:60]}",
            kind=ItemKind.MODEL_REFERENCE))

    def _registry_load(self, node: ast.Call, fname: str, owner: str) -> None:
        """whisper's checkpoints: listed, out of scope (the library pins their SHA-256). ``torch.hub.load``
        imports and runs the GitHub repository's ``hubconf.py``: a remote-code place of its own."""
        imported = self.f.imports.get(owner.split(".")[0])
        if not node.args or imported is None or imported[0].split(".")[0] not in ("whisper", "torch"):
            return  # another ``load_model``/``hub.load`` of the same spelling
        state = self.a.state_at(self.f, node)
        if state is None:
            return
        value = self.a.eval(self.f, node.args[0], state)
        if _OTHER_REGISTRIES[(owner, fname)] == TORCH_HUB:
            local = any(k.arg == "source" and isinstance(k.value, ast.Constant) and k.value.value == "local"
                        for k in node.keywords)
            if local or self._mocked(Location(self.f.shown, node.lineno)):
                return  # a directory of the project: its own code
            repos = [str(k.value) for k in value.known if isinstance(k.value, str)]
            pinned = [r.split(":", 1)[1] for r in repos if ":" in r]
            runtime = "the GitHub repositor" + (f"y {', '.join(repos[:3])}" if len(repos) == 1 else
                                               f"ies {', '.join(repos[:3])}") if repos else \
                "a GitHub repository chosen at run time"
            if value.open is not None and repos:
                runtime += f" or one chosen at run time ({value.why})"
            self.result.sites.append(RemoteCodeSite(
                location=Location(self.f.shown, node.lineno), runtime=runtime,
                because="torch.hub.load imports and runs the repository's hubconf.py",
                guards=[str(g) for g in state.guards if not g.opt_in][-MAX_GUARDS:],
                function=_qualname(self.f, node), revision=pinned[0] if len(pinned) == len(repos) == 1 else None))
            return
        here = Location(self.f.shown, node.lineno)
        registry = _OTHER_REGISTRIES[(owner, fname)]
        for item in value.known:
            if isinstance(item.value, str):
                self._exclude(item.value, "model", f"{item.value[:120]!r} is loaded through {registry}, not the "
                                                   "Hugging Face Hub", item.site or here)
        if (here.file, here.line) not in {(k[0], k[1]) for k in self._listed}:  # the call itself, once
            expr = ast.unparse(node.args[0])[:120]
            self._exclude(expr, "model", f"{expr} is loaded through {registry}, not the Hugging Face Hub", here)

    def _pickle_loader(self, owner: str) -> bool:
        """``torch.load`` / ``joblib.load`` (under any import name)."""
        imported = self.f.imports.get(owner)
        return (imported[0] if imported is not None else owner) in _PICKLE_LOADERS

    def _pickle_load(self, node: ast.Call, owner: str) -> None:
        """A pickle-based file loaded from a path the code computes: the model scanner reads the files present in
        the project, never the one this call will open, so the place is a gap of its own (listed, never silent).
        ``weights_only=True`` restricts the unpickler (no code runs), so that call is no gap."""
        weights_only = next((k.value for k in node.keywords if k.arg == "weights_only"), None)
        if isinstance(weights_only, ast.Constant) and weights_only.value is True:
            return
        target = node.args[0] if node.args else next((k.value for k in node.keywords
                                                       if k.arg in ("f", "filename")), None)
        if target is None:
            return
        if self.a.state_at(self.f, node) is None:
            self._unreached(node, f"{owner}.load", "model file", target)
            return
        where = Location(self.f.shown, node.lineno)
        expr = ast.unparse(target)[:120]
        if self._mocked(where):
            self._exclude(expr, "model file", f"{expr!r} is loaded in a test that patches the Hub, the loader or its "
                                              "environment (patch/monkeypatch): a file the test makes", where)
            return
        if isinstance(target, ast.Constant) and isinstance(target.value, str) and self._is_local(target.value):
            return  # a file of the project: the model scanner reads it
        self.result.skipped.append(Skipped(
            reason=f"model file {RUNTIME_REFERENCE} ({owner}.load({expr})): a pickle-based file opened when this "
                   "code runs is not scanned (the scanner reads the model files present in the project; "
                   "weights_only=True would keep code from running on load)",
            file=where.file, line=where.line, requirement=expr, kind=ItemKind.MODEL_REFERENCE,
            gap=GapKind.RUNTIME_REFERENCE))

    def _project_method(self, fname: str, owner: str) -> bool:
        """Is ``owner.fname`` a method of a class the project defines (a wrapper whose own loads are read)?"""
        cls = owner.rsplit(".", 1)[-1]
        return any(found is not None and found.name == cls for _, _, found in self.a.project.functions(fname))

    def _own_function(self, fname: str) -> bool:
        """A bare name the project defines and this file does not import from timm/open_clip."""
        imported = self.f.imports.get(fname)
        if imported is not None:
            return imported[0].split(".")[0] not in _PREFIX_OWNERS
        return bool(self.a.project.functions(fname))

    def _own_class(self, node: ast.Call) -> bool:
        """``cls(...)`` in a classmethod, ``self.__class__(...)`` in a method: the project's own class is built,
        and its ``__init__`` is where any loading happens (reported there, not twice)."""
        func = node.func
        if isinstance(func, ast.Attribute):
            return func.attr == "__class__" and dotted(func.value) == "self"
        if not isinstance(func, ast.Name) or func.id != "cls":
            return False
        method = self.f.enclosing_function(node)
        if method is None:
            return False
        first = method.args.posonlyargs[:1] or method.args.args[:1]
        return bool(first) and first[0].arg == "cls" and self.f.owner(method) is not None

    def _is_local(self, value: str) -> bool:
        for base in self.bases:
            try:
                if (base / value).exists():
                    return True
            except OSError:
                continue
        return False

    def _generic_strings(self, node: ast.Call) -> None:
        """Any ``hf://`` URI or ``hf-hub:`` name given to a call (pandas.read_parquet("hf://datasets/..."))."""
        arguments = [*node.args, *(k.value for k in node.keywords)]
        if not any(isinstance(a, (ast.Constant, ast.JoinedStr, ast.BinOp, ast.Name)) for a in arguments):
            return
        state: State | None = None
        for arg in arguments:
            if not isinstance(arg, (ast.Constant, ast.JoinedStr, ast.BinOp, ast.Name)):
                continue
            values: list[object]
            if isinstance(arg, ast.Constant):
                values = [arg.value]
            else:
                state = state or self.a.state_at(self.f, node)
                if state is None:
                    return
                values = list(self.a.eval(self.f, arg, state).values)
            for value in values:
                uri = parse_hf_uri(value) if isinstance(value, str) else None
                if uri is not None and read_reference(uri.repo_id, uri.kind, fixture=self.fixture).repo_id is None:
                    self._exclude(str(value), uri.kind, f"{str(value)[:120]!r} names a placeholder repo",
                                  Location(self.f.shown, node.lineno))
                    continue
                if uri is not None:
                    self.result.refs.append(ModelRef(repo_id=uri.repo_id, kind=uri.kind, revision=uri.revision,
                                                     location=Location(self.f.shown, node.lineno), origin="code"))

    @staticmethod
    def _argument(node: ast.Call, position: int | None, keywords: tuple[str, ...]) -> ast.expr | None:
        for kw in node.keywords:
            if kw.arg in keywords:
                return kw.value
        if position is not None and len(node.args) > position and not any(
                isinstance(a, ast.Starred) for a in node.args[:position + 1]):
            return node.args[position]
        return None

    def _keyword(self, node: ast.Call, name: str, state: State) -> Val | None:
        for kw in node.keywords:
            if kw.arg == name:
                return self.a.eval(self.f, kw.value, state)
        for kw in node.keywords:
            if kw.arg is None:
                item = self.a.eval(self.f, kw.value, state).field(name)
                if item is not None:
                    return item
        return None


@dataclass(frozen=True)
class _Trust:
    possible: bool
    because: str
    bounded: bool
    switch: bool = False  # off unless an operator turns it on
    callers: tuple[Location, ...] | None = None  # True comes only from these call sites of the function


def _describe_runtime(model: Val) -> str:
    why = model.why or "a value computed at run time"
    return f"any model chosen at run time ({why})"


def _is_object(target: ast.expr, value: Val) -> bool:
    """``PeftModel.from_pretrained(model, ...)``-style calls also pass objects; literals of other types, a local
    path a Hub download returned, and objects are not references."""
    if isinstance(target, (ast.Constant, ast.Dict, ast.List, ast.Tuple, ast.Set, ast.Lambda)):
        return True
    if value.why in (DOWNLOADED, OBJECT):
        return True
    return isinstance(target, ast.Call) and call_name(target) in DOWNLOADERS


def _qualname(f: PyFile, node: ast.AST) -> str | None:
    names = [s.name for s in f.enclosing(node) if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                   ast.ClassDef))]
    return ".".join(reversed(names)) or None


def _merge_sites(sites: list[RemoteCodeSite]) -> list[RemoteCodeSite]:
    """One site per function and path conditions: ``AutoConfig``, ``AutoTokenizer`` and ``AutoModel`` loaded side
    by side with ``trust_remote_code=True`` are one place to review, not three findings. Models and run-time
    choices add up."""
    merged: dict[tuple[object, ...], RemoteCodeSite] = {}
    for site in sites:
        # an operator's switch is one place per function, whatever branch the load is on
        key = (site.location.file, site.function or f"<line {site.location.line}>", site.bounded,
               site.opt_in, () if site.opt_in else tuple(site.guards))
        first = merged.get(key)
        if first is None:
            merged[key] = site
            continue
        if site.location.line is not None and site.location.line != first.location.line and \
                site.location.line not in first.lines:
            first.lines.append(site.location.line)
        first.models = list(dict.fromkeys([*first.models, *site.models]))
        first.runtime = first.runtime or site.runtime
        if first.guards != site.guards:
            first.guards = [g for g in first.guards if g in site.guards]
        if first.revision != site.revision:
            first.revision = None
    for site in merged.values():
        site.lines.sort()
    return list(merged.values())


__all__ = ["PACKAGED_BUILDERS", "PyFileResult", "RUNTIME_REFERENCE", "extract_file", "extract_python",
           "hit_lines", "may_reference"]

"""Independent cross-check for silent drops in a mlaudit report (used by ``bench/realrepos.py``).

This module deliberately shares **no code** with ``auditor``: it finds model-loading call sites (Python files and
notebook code cells, through :mod:`ast`) and requirement-like files (by name and a little content) on its own, then
asks whether each one appears anywhere in a mlaudit JSON report: as a model entry, a finding's location or evidence
site, a skipped item or an excluded item (any object in the report that carries ``file`` and ``line``), or, for
files, among the report's ``inputs`` / profiles. What appears nowhere is a **silent drop** (CONVENTIONS
"Completeness": every input line, file and reference ends audited, skipped with a reason, or excluded and listed).

The loader list is the bench's, not mlaudit's: it includes loaders mlaudit may not claim (``torch.load``,
``torch.hub.load``, open_clip/timm ``pretrained=`` tags, ``whisper.load_model``) in their own groups, so that a
reader can see which drops are a gap in mlaudit's declared scope and which are a bug inside it.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Directories no project audit is expected to read (version control, caches, installed environments).
PRUNE = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".tox", ".nox", ".venv", "venv",
                   "site-packages", "dist-packages", ".ipynb_checkpoints", ".mypy_cache", ".pytest_cache"})
MAX_SOURCE_BYTES = 5_000_000

# Loader groups. "hub": names a Hugging Face Hub repo (or a local dir) by argument. "registry": a library's own
# model registry that downloads weights (open_clip/timm pretrained tags, torch.hub, whisper). "pickle": loads a
# pickle-based file whose origin is a run-time path.
HUB_METHODS = frozenset({"from_pretrained", "from_single_file", "load_lora_weights", "load_textual_inversion",
                         "load_ip_adapter"})
HUB_DISTINCT = frozenset({"hf_hub_download", "snapshot_download", "hf_hub_url", "SentenceTransformer",
                          "CrossEncoder", "load_dataset_builder"})
# Generic names that count only when imported from the library that owns them.
HUB_OWNED = {"pipeline": ("transformers", "diffusers"), "load_dataset": ("datasets",)}
REGISTRY_CALLS = frozenset({"torch.hub.load", "whisper.load_model"})
REGISTRY_PRETRAINED = frozenset({"create_model", "create_model_and_transforms", "create_model_from_pretrained"})
REGISTRY_OWNERS = ("open_clip", "timm")
# ``datasets``' packaged builders read local files (``load_dataset("json", data_files=...)``): not Hub references.
PACKAGED_BUILDERS = frozenset({"json", "csv", "parquet", "text", "arrow", "pandas", "sql", "imagefolder",
                               "audiofolder", "videofolder", "webdataset", "generator", "xml", "spark", "cache"})
PICKLE_CALLS = frozenset({"torch.load", "joblib.load", "torch.hub.load_state_dict_from_url",
                          "load_state_dict_from_url"})


@dataclass(frozen=True)
class Site:
    """One loader call: where (file relative to the root, line span of the call), which loader, its first argument."""

    file: str
    line: int
    end_line: int
    loader: str
    group: str  # hub | registry | pickle
    arg: str  # source text of the first argument (or the model= keyword), "" when none
    literal: str | None  # the argument when it is a string literal
    resolved: str | None = None  # a simple name's string value when the file assigns it exactly one literal


@dataclass(frozen=True)
class ReqFile:
    file: str
    why: str  # what made it requirement-like


@dataclass
class Drop:
    """A site or file the report does not mention. ``klass`` is the bench's grouping of drops for the summary."""

    file: str
    line: int | None
    what: str
    klass: str


@dataclass
class CrossCheck:
    sites: list[Site] = field(default_factory=list)
    req_files: list[ReqFile] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (file, why) the bench could not parse


# ---------------------------------------------------------------- finding call sites

def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


class _Imports(ast.NodeVisitor):
    """Local name -> qualified origin (``pipeline`` -> ``transformers.pipeline``); star imports by module."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.star: set[str] = set()

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            self.names[(a.asname or a.name).split(".")[0]] = a.name if a.asname else a.name.split(".")[0]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        mod = node.module or ""
        for a in node.names:
            if a.name == "*":
                self.star.add(mod.split(".")[0])
            else:
                self.names[a.asname or a.name] = f"{mod}.{a.name}"


def _qualified(func: ast.AST, imports: _Imports) -> str | None:
    dotted = _dotted(func)
    if dotted is None:
        return None
    head, _, rest = dotted.partition(".")
    origin = imports.names.get(head)
    if origin:
        return f"{origin}.{rest}" if rest else origin
    return dotted


def _owned_by(qual: str, short: str, owners: tuple[str, ...], imports: _Imports) -> bool:
    top = qual.split(".")[0]
    if top in owners:
        return True
    return qual == short and any(o in imports.star for o in owners)


_NAMING_KEYWORD = re.compile(r"pretrained|model|repo|path|name", re.I)


def _first_arg(call: ast.Call, keywords: tuple[str, ...], position: int = 0) -> ast.AST | None:
    """The argument that names what is loaded: a known keyword, the positional slot, any keyword that reads like a
    name or path, else ``*args`` / ``**kwargs`` (a run-time value)."""
    for kw in call.keywords:
        if kw.arg in keywords:
            return kw.value
    if len(call.args) > position:
        return call.args[position]
    for kw in call.keywords:
        if kw.arg and _NAMING_KEYWORD.search(kw.arg):
            return kw.value
    for kw in call.keywords:
        if kw.arg is None:
            return kw.value
    return call.args[0] if call.args else None


def classify_call(call: ast.Call, imports: _Imports) -> tuple[str, str, ast.AST | None] | None:
    """(loader, group, argument node) when ``call`` is a model/dataset loader, else None."""
    func = call.func
    short = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if short is None:
        return None
    qual = _qualified(func, imports) or short
    if short in HUB_METHODS and isinstance(func, ast.Attribute):
        return short, "hub", _first_arg(call, ("pretrained_model_name_or_path", "model_id", "repo_id"))
    if short in HUB_DISTINCT:
        return short, "hub", _first_arg(call, ("repo_id", "model_name_or_path", "path"))
    if short in HUB_OWNED and _owned_by(qual, short, HUB_OWNED[short], imports):
        if short == "pipeline":
            return short, "hub", _first_arg(call, ("model",), position=1)
        return short, "hub", _first_arg(call, ("path",))
    if qual in REGISTRY_CALLS or (short == "load_model" and qual.split(".")[0] == "whisper"):
        return qual, "registry", _first_arg(call, ("repo_or_dir", "name"))
    if short in REGISTRY_PRETRAINED and _owned_by(qual, short, REGISTRY_OWNERS, imports):
        pretrained = next((kw.value for kw in call.keywords if kw.arg == "pretrained"), None)
        if pretrained is None or (isinstance(pretrained, ast.Constant) and pretrained.value in (None, False, "")):
            return None
        return qual, "registry", pretrained
    if qual in PICKLE_CALLS or short == "load_state_dict_from_url":
        if any(kw.arg == "weights_only" and isinstance(kw.value, ast.Constant) and kw.value.value is True
               for kw in call.keywords):
            return None  # the restricted unpickler: no code runs on load
        return qual, "pickle", _first_arg(call, ("f", "filename", "url"))
    return None


def _arg_text(source: str, node: ast.AST | None) -> tuple[str, str | None]:
    if node is None:
        return "", None
    literal = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None
    text = ast.get_source_segment(source, node) or ""
    return " ".join(text.split())[:120], literal


def sites_in_source(source: str, rel: str, line_map: list[int] | None = None) -> list[Site]:
    """Loader call sites in one Python source; ``line_map[i]`` maps source line i+1 to the file's line (notebooks).
    Raises SyntaxError/ValueError for what does not parse."""
    tree = ast.parse(source)
    imports = _Imports()
    imports.visit(tree)
    assigned: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, ast.AnnAssign) else []
        value = getattr(node, "value", None)
        for t in targets:
            if isinstance(t, ast.Name) and isinstance(value, ast.Constant) and isinstance(value.value, str):
                assigned.setdefault(t.id, set()).add(value.value)
    out: list[Site] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        hit = classify_call(node, imports)
        if hit is None:
            continue
        loader, group, arg = hit
        text, literal = _arg_text(source, arg)
        if loader == "load_dataset" and literal is not None and literal.lower() in PACKAGED_BUILDERS:
            continue  # a local-file builder (json, csv, ...), not a Hub dataset
        values = assigned.get(arg.id, set()) if isinstance(arg, ast.Name) else set()
        resolved = next(iter(values)) if len(values) == 1 else None
        start, end = node.lineno, node.end_lineno or node.lineno
        if line_map is not None:
            start, end = line_map[start - 1], line_map[min(end, len(line_map)) - 1]
        out.append(Site(rel, start, end, loader, group, text, literal, resolved))
    return sorted(out, key=lambda s: (s.line, s.loader))


_FALLBACK = re.compile(r"(?:\.(?P<method>" + "|".join(sorted(HUB_METHODS)) + r")|\b(?P<func>"
                       + "|".join(sorted(HUB_DISTINCT | set(HUB_OWNED))) + r"|torch\.load|torch\.hub\.load|"
                       r"joblib\.load))\s*\(\s*(?P<arg>[^,)\n]*)")


def sites_by_pattern(text: str, rel: str) -> list[Site]:
    """A line-based reading for a file that does not parse on this interpreter (newer syntax): the same loader
    names, ``pipeline``/``load_dataset`` only when the file imports their library."""
    out: list[Site] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith(("#", "def ", "async def ")):
            continue
        for m in _FALLBACK.finditer(line):
            loader = m.group("method") or m.group("func")
            if loader in HUB_OWNED and not re.search(rf"^\s*(from|import)\s+({'|'.join(HUB_OWNED[loader])})\b",
                                                    text, re.M):
                continue
            group = "pickle" if loader in ("torch.load", "joblib.load") else \
                "registry" if loader == "torch.hub.load" else "hub"
            arg = m.group("arg").strip()
            literal = arg[1:-1] if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "\"'" else None
            if loader == "load_dataset" and literal is not None and literal.lower() in PACKAGED_BUILDERS:
                continue
            out.append(Site(rel, lineno, lineno, loader, group, arg, literal))
    return out


_MAGIC = re.compile(r"^\s*[%!?]|^\s*\w+\s*=\s*!|\?\s*$")


def notebook_source(raw: str) -> tuple[str, list[int]]:
    """The code cells of a notebook as one Python source, with each source line's line number in the raw .ipynb
    text (JSON: each ``source`` element normally sits on its own line; found by scanning forward)."""
    doc = json.loads(raw)
    raw_lines = raw.splitlines()
    cursor = 0
    lines: list[str] = []
    line_map: list[int] = []

    def locate(piece: str) -> int:
        nonlocal cursor
        encoded = json.dumps(piece)[1:-1]
        encoded_ascii = json.dumps(piece, ensure_ascii=False)[1:-1]
        for i in range(cursor, len(raw_lines)):
            if encoded in raw_lines[i] or encoded_ascii in raw_lines[i]:
                cursor = i
                return i + 1
        return cursor + 1

    for cell in doc.get("cells", []) if isinstance(doc, dict) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        pieces = src if isinstance(src, list) else [src]
        first = next((p for p in pieces if isinstance(p, str) and p.strip()), "")
        if first.lstrip().startswith("%%") and not re.match(r"\s*%%(capture|time|timeit)\b", first):
            continue  # a cell magic that is not Python (%%bash, %%writefile ...)
        for piece in pieces:
            if not isinstance(piece, str):
                continue
            sub = piece.split("\n")
            if sub and sub[-1] == "":
                sub.pop()
            at = locate(piece) if piece.strip() else cursor + 1
            for s in sub or [""]:
                lines.append("pass" if _MAGIC.search(s) and not s.strip().startswith("#") else s)
                # keep indentation of a replaced magic line so blocks stay valid
                if lines[-1] == "pass":
                    lines[-1] = s[: len(s) - len(s.lstrip())] + "pass"
                line_map.append(at)
        lines.append("")
        line_map.append(cursor + 1)
    return "\n".join(lines) + "\n", line_map


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in PRUNE and not os.path.islink(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            yield path.relative_to(root).as_posix(), path


# ---------------------------------------------------------------- requirement-like files

_REQ_NAME = re.compile(r"(requirement|constraint)", re.I)
_LOCKS = frozenset({"uv.lock", "poetry.lock", "pdm.lock", "pipfile", "pipfile.lock"})


def requirement_like(rel: str, path: Path) -> str | None:
    """Why a file is requirement-like, or None."""
    name = path.name.lower()
    parts = rel.lower().split("/")
    if name in _LOCKS or (name.startswith("pylock") and name.endswith(".toml")):
        return "lockfile"
    if name == "pyproject.toml":
        text = _read(path) or ""
        # a pyproject that declares dependencies; one holding only tool settings is no input
        declares = re.search(r"^\[(project|tool\.poetry|dependency-groups)\]", text, re.M)
        return "pyproject" if declares else None
    if name.endswith((".txt", ".in")) and (_REQ_NAME.search(name) or any(p in ("requirements", "reqs")
                                                                        for p in parts[:-1])):
        return "requirements"
    if name in ("setup.py", "setup.cfg"):
        text = _read(path) or ""
        return "setup install_requires" if "install_requires" in text else None
    if name.endswith((".yml", ".yaml")) and ("environment" in name or "conda" in name or "env" in name):
        text = _read(path) or ""
        if re.search(r"^dependencies\s*:", text, re.M) and re.search(r"^\s*-\s*pip\b|^channels\s*:", text, re.M):
            return "conda environment"
    return None


def _read(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def scan_tree(root: Path, under: str = "") -> CrossCheck:
    """Every loader call site and requirement-like file under ``root`` (or its sub-folder ``under``)."""
    result = CrossCheck()
    prefix = under.strip("/") + "/" if under.strip("/.") else ""
    for rel, path in _walk(root):
        if prefix and not rel.startswith(prefix):
            continue
        if path.is_symlink() or not path.is_file():
            continue
        why = requirement_like(rel, path)
        if why:
            result.req_files.append(ReqFile(rel, why))
        if not rel.endswith((".py", ".ipynb")):
            continue
        text = _read(path)
        if text is None:
            result.unreadable.append((rel, "too large or unreadable"))
            continue
        if not re.search(r"from_pretrained|from_single_file|pipeline|hf_hub|snapshot_download|load_dataset|"
                         r"SentenceTransformer|CrossEncoder|load_lora|load_textual|load_ip_adapter|torch\.hub|"
                         r"load_model|create_model|torch\.load|joblib|load_state_dict_from_url|\.load\(", text):
            continue
        try:
            if rel.endswith(".ipynb"):
                source, line_map = notebook_source(text)
                result.sites.extend(sites_in_source(source, rel, line_map))
            else:
                result.sites.extend(sites_in_source(text, rel))
        except (SyntaxError, ValueError, RecursionError) as exc:
            result.unreadable.append((rel, f"{type(exc).__name__}: {str(exc)[:80]}"))
            if rel.endswith(".py"):
                result.sites.extend(sites_by_pattern(text, rel))
    return result


# ---------------------------------------------------------------- comparing with a report

@dataclass
class Mentions:
    """Everything a report says about places: (file, line) pairs, whole files, folders, input files, repo ids."""

    at: dict[str, set[int]] = field(default_factory=dict)
    whole_files: set[str] = field(default_factory=set)
    folders: set[str] = field(default_factory=set)
    inputs: set[str] = field(default_factory=set)
    repo_ids: set[str] = field(default_factory=set)


def _objects(value: Any) -> Iterable[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _objects(v)
    elif isinstance(value, list):
        for v in value:
            yield from _objects(v)


def mentions(report: dict[str, Any]) -> Mentions:
    m = Mentions()
    for obj in _objects({k: v for k, v in report.items() if k not in ("packages", "edges")}):
        f = obj.get("file")
        if isinstance(f, str) and "line" in obj:
            line = obj.get("line")
            if isinstance(line, int):
                m.at.setdefault(f, set()).add(line)
        for key in ("lines",):
            lines = obj.get(key)
            if isinstance(f, str) and isinstance(lines, list):
                m.at.setdefault(f, set()).update(x for x in lines if isinstance(x, int))
        repo_id = obj.get("repo_id")
        if isinstance(repo_id, str):
            m.repo_ids.add(repo_id)
    # A whole-file item counts for files only when it is a skip or exclusion (a path finding on a folder does not).
    # A file-level item (an input file that was not read, or was read only in part) speaks for the whole file,
    # whatever line it points at (a syntax error's line, say).
    m.whole_files = {str(s.get("file")) for part in ("skipped", "excluded") for s in report.get(part) or []
                     if isinstance(s, dict) and s.get("file")
                     and (s.get("line") is None or str(s.get("kind", "")).endswith("file"))}
    m.folders = {f for f in m.whole_files if f.endswith("/")}
    for f in report.get("inputs") or []:
        if isinstance(f, str):
            m.inputs.add(f)
    for p in report.get("profiles") or []:
        for f in (p.get("files") or []) if isinstance(p, dict) else []:
            if isinstance(f, str):
                m.inputs.add(f)
    return m


def _normal(f: str) -> str:
    return f[2:] if f.startswith("./") else f


def site_mentioned(site: Site, m: Mentions) -> bool:
    lines = m.at.get(site.file, set())
    if any(site.line <= x <= site.end_line for x in lines):
        return True
    if site.file in m.whole_files:
        return True
    return any(site.file.startswith(_normal(d)) for d in m.folders)


def file_mentioned(f: str, m: Mentions) -> bool:
    if f in m.inputs or f in m.whole_files or f in m.at:
        return True
    return any(f.startswith(_normal(d)) for d in m.folders)


def _placeholder(value: str) -> bool:
    return bool(re.search(r"[<>{}\s]|\.\.\.|^(your|my)[-_]|xxx", value, re.I)) or value.strip() == ""


def site_class(site: Site, m: Mentions) -> str:
    """The bench's grouping of a dropped site: loader group; literal (or a same-file name bound to one literal) or
    run-time; whether the model it names is listed for another site (a per-model merge) or nowhere."""
    where = "notebook" if site.file.endswith(".ipynb") else "test" if re.search(r"(^|/)tests?(/|_)", site.file) \
        else "code"
    value = site.literal if site.literal is not None else site.resolved
    via = "literal" if site.literal is not None else "name bound to a literal"
    if value is not None:
        lit = value.strip().rstrip("/")
        if any(r.lower() == lit.lower() for r in m.repo_ids):
            nature = f"{via}, model listed but this call site not cited"
        elif _placeholder(lit):
            nature = f"{via}, placeholder value, no skip entry"
        else:
            nature = f"{via}, not listed anywhere"
    elif site.arg:
        nature = "run-time value, not listed as skipped"
    else:
        nature = "no model argument, not listed"
    if value is None:
        nature += "; file cited elsewhere" if site.file in m.at else "; file never cited"
    return f"{site.group}: {nature} ({where})"


def compare(check: CrossCheck, report: dict[str, Any]) -> list[Drop]:
    """Sites and requirement-like files that ``report`` mentions nowhere."""
    m = mentions(report)
    drops: list[Drop] = []
    for site in check.sites:
        if not site_mentioned(site, m):
            drops.append(Drop(site.file, site.line, f"{site.loader}({site.arg})", site_class(site, m)))
    for req in check.req_files:
        if not file_mentioned(req.file, m):
            folder = req.file.rpartition("/")[0]
            beside = [x for x in m.inputs if x.rpartition("/")[0] == folder and x.endswith(".lock")]
            klass = f"file: {req.why} beside its audited lockfile, not named" if req.why == "pyproject" and beside \
                else f"file: {req.why} not an input, skipped or excluded"
            drops.append(Drop(req.file, None, req.why, klass))
    return drops


__all__ = ["CrossCheck", "Drop", "ReqFile", "Site", "compare", "mentions", "notebook_source", "requirement_like",
           "scan_tree", "sites_in_source"]

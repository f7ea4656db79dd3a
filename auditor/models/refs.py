"""Find every model/dataset reference in a project tree, without importing or running any of it.

Walks the project once (``auditor.projectwalk``: virtual environments, VCS and tool directories, caches and the
user's ``exclude`` patterns left out), bounds what it reads (file count and per-file size), and hands each file to
its reader: ``pyrefs`` for Python and the code cells of Jupyter notebooks (with the whole project's Python as the
place values come from), ``configrefs`` for training and serving configs, ``filerefs`` for saved model configs,
model cards and the manifest. Files that cannot be read or parsed become ``Skipped`` entries with file and line;
the walk never raises for a bad input file.

References to the same repo, kind and revision are merged into one model (the Hub is asked once), keeping every
place (``ModelRef.more_locations``): findings are per place, never per model. The first location leads, unless
another one enables ``trust_remote_code``, whose line then leads (it is the line a reviewer must look at).
Values given to loaders that are not Hub repos (local paths, placeholders, backend names) are listed as excluded
items with why; a notebook's code cells are read as one program (a name set in one cell reaches the next).
"""

from __future__ import annotations

import ast
import gc
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from auditor.domain import Excluded, Location, ModelRef, RemoteCodeSite, Skipped
from auditor.ledger import GapKind, ItemKind
from auditor.models.configfiles import is_config_file
from auditor.projectwalk import PathFilter, TreeWalk, gap_items
from auditor.safeload import LoadError, Refusal, loads_json, read_bytes

if TYPE_CHECKING:
    from auditor.models.filerefs import FileRefs
    from auditor.models.pyflow import Analyzer
    from auditor.models.pyindex import PyFile

# Each reader (Python with its value analysis, configs, cards and manifests) is imported when the walk meets a
# file for it: a folder holding only a lockfile, the common CI re-audit, loads none of them (~15 ms of start-up).

MAX_PY_BYTES = 2_000_000
MAX_JSON_BYTES = 1_000_000
MAX_CONFIG_BYTES = 1_000_000  # a larger .json/.yaml is data unless its head names a model (then: skipped, said so)
CONFIG_HEAD = 65_536
MAX_CARD_BYTES = 512_000
MAX_NOTEBOOK_BYTES = 20_000_000  # notebooks carry outputs (images); only code cells are parsed
MAX_FILES = 50_000  # files looked at; beyond this the walk stops and says so

CONFIG_NAMES = frozenset({"config.json", "adapter_config.json"})


@dataclass
class ModelScan:
    """Everything the reference finder saw: references, remote-code sites, gaps, and what the user excluded."""

    refs: list[ModelRef] = field(default_factory=list)
    sites: list[RemoteCodeSite] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    excluded: list[Excluded] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # links followed out of the tree


WALK_CONSEQUENCE = "not searched for model files or references"


def find_model_refs(project_dir: Path, exclude: Iterable[str] = ()) -> tuple[list[ModelRef], list[Skipped]]:
    """All references under ``project_dir`` (locations are ``project_dir/<relative path>`` as given)."""
    scan = scan_project(project_dir, exclude)
    return scan.refs, scan.skipped


def scan_project(project_dir: Path, exclude: Iterable[str] = (), path_filter: PathFilter | None = None) -> ModelScan:
    """References, remote-code sites, skipped and excluded items of one project tree (``path_filter``, when
    given, instead of ``exclude``)."""
    scan = ModelScan()
    refs: list[ModelRef] = []
    walk = TreeWalk(project_dir, path_filter if path_filter is not None else PathFilter.of(exclude))
    python: list[tuple[PyFile, Path]] = []
    for path, rel in _walk(project_dir, scan.skipped, walk):
        shown = str(project_dir / rel)
        name = path.name
        found: FileRefs | None = None
        if name.endswith(".py"):
            text = _read(path, shown, MAX_PY_BYTES, scan.skipped)
            if text is not None:
                from auditor.models.pyindex import PyFile, module_name

                python.append((PyFile(path=path, shown=shown, module=module_name(rel), base=path.parent), rel))
                python[-1][0].text = text
        elif name.endswith(".ipynb"):
            found = _notebook(path, shown, project_dir, scan)
        elif name in CONFIG_NAMES:
            text = _read(path, shown, MAX_JSON_BYTES, scan.skipped)
            if text is not None:
                from auditor.models.filerefs import read_config_json

                found = read_config_json(text, shown, name)
        elif name.lower() == "readme.md":
            text = _read(path, shown, MAX_CARD_BYTES, scan.skipped)
            if text is not None:
                from auditor.models.filerefs import read_model_card

                found = read_model_card(text, shown)
        elif name == "mlaudit.toml" or (name == "pyproject.toml" and rel.parent == Path(".")):
            text = _read(path, shown, MAX_JSON_BYTES, scan.skipped)
            if text is not None:
                from auditor.models.filerefs import read_manifest

                found = read_manifest(text, shown, name == "pyproject.toml")
        elif is_config_file(rel.parent.parts, name):
            _config(path, shown, project_dir, scan, refs)
        if found is not None:
            refs.extend(found.refs)
            scan.skipped.extend(found.skipped)
    if python:
        refs.extend(_python(python, project_dir, scan))
    scan.refs = merge_refs(refs)
    for item in gap_items(walk.gaps, ItemKind.INPUT_FILE, WALK_CONSEQUENCE, ["model references", "model file scan"]):
        if isinstance(item, Excluded):
            scan.excluded.append(item)
        elif isinstance(item, Skipped):
            scan.skipped.append(item)
    scan.notes = list(walk.notes)
    scan.skipped = _distinct(scan.skipped)
    scan.excluded = _distinct(scan.excluded)
    return scan


def _python(files: list[tuple[PyFile, Path]], project_dir: Path, scan: ModelScan) -> list[ModelRef]:
    """Every Python file is part of the project the values come from; files with a loader call or a
    ``trust_remote_code`` are read for references."""
    from auditor.models.pyflow import Analyzer
    from auditor.models.pyindex import PyProject

    project = PyProject([f for f, _ in files])
    for f, _ in files:
        text, f.text = f.text, None
        project.keep_text(f, text or "")
    analyzer = Analyzer(project)
    refs: list[ModelRef] = []
    with _no_cyclic_gc():  # parse trees are kept for the analysis; a collector pass over them per parse is waste
        _read_python(files, project_dir, scan, analyzer, refs)
    return refs


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: the trees and value sets built here hold no cycles that need it, and
    with thousands of live trees each automatic collection walks all of them (it tripled the time of a 2,000-file
    project). Reference counting still frees everything; the collector is restored even on error."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_python(files: list[tuple[PyFile, Path]], project_dir: Path, scan: ModelScan, analyzer: Analyzer,
                 refs: list[ModelRef]) -> None:
    from auditor.models.pyrefs import extract_file, may_reference

    for f, _ in files:
        source = f.source()
        if source is None or not may_reference(source):
            continue
        if f.tree() is None:
            scan.skipped.append(_parse_error(source, f.shown))
            continue
        try:
            result = extract_file(analyzer, f, project_dir)
        except RecursionError:
            scan.skipped.append(Skipped(reason="Python too deeply nested to analyse; model references in it not "
                                               "read", file=f.shown, kind=ItemKind.INPUT_FILE))
            continue
        refs.extend(result.refs)
        scan.skipped.extend(result.skipped)
        scan.sites.extend(result.sites)
        scan.excluded.extend(result.excluded)


def _parse_error(source: str, shown: str) -> Skipped:
    try:
        ast.parse(source, filename=shown)
    except SyntaxError as exc:
        return Skipped(reason=f"Python syntax error ({exc.msg}); model references in it not read", file=shown,
                       line=exc.lineno, kind=ItemKind.INPUT_FILE)
    except (ValueError, RecursionError, MemoryError) as exc:
        return Skipped(reason=f"cannot parse Python ({type(exc).__name__}); model references not read", file=shown,
                       kind=ItemKind.INPUT_FILE)
    return Skipped(reason="cannot parse Python; model references not read", file=shown, kind=ItemKind.INPUT_FILE)


def _config(path: Path, shown: str, project_dir: Path, scan: ModelScan, refs: list[ModelRef]) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        scan.skipped.append(Skipped(reason=f"cannot read file: {exc.strerror or exc}", file=shown,
                                    kind=ItemKind.INPUT_FILE))
        return
    if size > MAX_CONFIG_BYTES:
        try:
            with path.open("rb") as handle:
                head = handle.read(CONFIG_HEAD).decode("utf-8", "replace")
        except OSError:
            return
        if "model_name_or_path" in head or "base_model" in head or "trust_remote_code" in head:
            scan.skipped.append(Skipped(reason=f"config larger than {MAX_CONFIG_BYTES} bytes; model references in "
                                               "it not read", file=shown, kind=ItemKind.INPUT_FILE))
        return  # a data file, not a config
    text = _read(path, shown, MAX_CONFIG_BYTES, scan.skipped)
    from auditor.models.configrefs import editor_config, may_hold_models, read_config

    if text is None or not may_hold_models(text):
        return

    def is_local(value: str) -> bool:
        return _exists(path.parent / value) or _exists(project_dir / value)

    rel = path.relative_to(project_dir) if path.is_relative_to(project_dir) else Path(path.name)
    found = read_config(text, shown, path.suffix.lower(), is_local, parts=rel.parts,
                        editor=editor_config(rel.parent.parts, path.name))
    refs.extend(found.refs)
    scan.sites.extend(found.sites)
    scan.skipped.extend(found.skipped)
    scan.excluded.extend(found.excluded)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


_Listed = TypeVar("_Listed", Skipped, Excluded)


def _distinct(skipped: list[_Listed]) -> list[_Listed]:
    """One item per place and value: a caller whose value reaches two loads is one gap (or one listed value)."""
    seen: set[tuple[str | None, int | None, str | None]] = set()
    out: list[_Listed] = []
    for item in skipped:
        if item.kind is ItemKind.MODEL_REFERENCE:
            runtime = isinstance(item, Skipped) and item.gap is GapKind.RUNTIME_REFERENCE
            key = (item.file, item.line, "run time" if runtime else item.requirement)
            if key in seen:
                continue
            seen.add(key)
        out.append(item)
    return out


def merge_refs(refs: list[ModelRef]) -> list[ModelRef]:
    """One model per repo, kind and revision, with every place that references it."""
    merged: dict[tuple[str, str, str | None], ModelRef] = {}
    for ref in refs:
        key = (ref.repo_id, ref.kind, ref.revision)
        first = merged.get(key)
        if first is None:
            merged[key] = ref
            continue
        for at, calls in ref.loaded_at.items():
            known = first.loaded_at.setdefault(at, [])
            known.extend(c for c in calls if c not in known)
        place = ref.location
        if ref.trust_remote_code and not first.trust_remote_code:
            first.trust_remote_code = True
            place, first.location = first.location, ref.location
        elif first.trust_remote_code is None and ref.trust_remote_code is False:
            first.trust_remote_code = False
        if place is not None and place != first.location and place not in first.more_locations:
            first.more_locations.append(place)
    return list(merged.values())


def _notebook(path: Path, shown: str, project_dir: Path, scan: ModelScan) -> FileRefs | None:
    """Code cells of a Jupyter notebook, read as one program in cell order (a model id set in one cell and loaded
    in another is one reference); lines are those of the .ipynb file.

    nbformat writes each source line as its own JSON string on its own line, so each source line is found back in
    the raw text (as nbformat writes it, non-ASCII unescaped, or escaped). A cell stored as one string maps to the
    string's line. IPython magics (``%``, ``!``) become comments. A cell that does not parse is skipped, said so,
    and left out of the program.
    """
    from auditor.models.filerefs import FileRefs
    from auditor.models.pyrefs import extract_python, may_reference

    out = FileRefs()
    text = _read(path, shown, MAX_NOTEBOOK_BYTES, scan.skipped)
    if text is None:
        return None
    try:
        data = loads_json(text)
        cells = data.get("cells") if isinstance(data, dict) else None
    except ValueError as exc:
        out.skipped.append(Skipped(reason=f"invalid notebook JSON ({exc}); model references not read", file=shown,
                                   kind=ItemKind.INPUT_FILE))
        return out
    program: list[str] = []
    line_map: list[int | None] = []  # program line (0-based) -> line of the .ipynb file
    cursor = [0, 1]  # character offset and line number reached in the raw text
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source")
        lines = [str(x) for x in source] if isinstance(source, list) else str(source or "").splitlines(keepends=True)
        if not lines:
            continue
        at = _source_lines(text, lines if isinstance(source, list) else [str(source or "")], cursor)
        if not isinstance(source, list):
            at = [at[0]] * len(lines)
        code = "".join("#" + x if x.lstrip().startswith(("%", "!")) else x for x in lines)
        if not code.endswith("\n"):
            code += "\n"
        try:
            ast.parse(code)
        except SyntaxError as exc:
            if not may_reference(code):
                continue  # nothing to read in it (as for a .py file without a loader call)
            line = at[min(max((exc.lineno or 1) - 1, 0), len(at) - 1)]
            out.skipped.append(Skipped(reason=f"Python syntax error in a notebook cell ({exc.msg}); model "
                                              "references in it not read", file=shown, line=line,
                                       kind=ItemKind.INPUT_FILE))
            continue
        except (ValueError, RecursionError):
            out.skipped.append(Skipped(reason="cannot parse a notebook cell; model references not read",
                                       file=shown, line=at[0], kind=ItemKind.INPUT_FILE))
            continue
        program.append(code)
        line_map.extend(at[:code.count("\n")] + [at[-1]] * max(0, code.count("\n") - len(at)))
    whole = "".join(program)
    if not may_reference(whole):
        return out
    try:
        result = extract_python(whole, shown, path.parent, project_dir)
    except (SyntaxError, ValueError, RecursionError):
        out.skipped.append(Skipped(reason="cannot analyse the notebook's code cells together; model references "
                                          "not read", file=shown, kind=ItemKind.INPUT_FILE))
        return out

    def where(line: int | None) -> int | None:
        if line is None or not line_map:
            return line_map[0] if line_map else None
        return line_map[min(max(line - 1, 0), len(line_map) - 1)]

    def moved(at: Location) -> Location:
        return Location(shown, where(at.line)) if at.file == shown else at

    for ref in result.refs:
        ref.location = Location(shown, where(ref.location.line if ref.location else None))
        # the loading calls a finding names are lines of this notebook too (a model id set in one cell, loaded in
        # another): cited in the .ipynb's own lines, like every other place
        ref.loaded_at = {moved(at): [moved(c) for c in calls] for at, calls in ref.loaded_at.items()}
        out.refs.append(ref)
    cited = re.compile(re.escape(shown) + r":(\d+)")

    def cite(reason: str | None) -> str | None:  # "chosen by the callers at demo.ipynb:12": the .ipynb's line, as everywhere
        return cited.sub(lambda m: f"{shown}:{where(int(m.group(1)))}", reason) if reason else reason

    for skip in result.skipped:
        skip.line = where(skip.line)
        skip.reason = cite(skip.reason)
        out.skipped.append(skip)
    for item in result.excluded:
        item.line = where(item.line)
        item.reason = cite(item.reason)
        scan.excluded.append(item)
    for site in result.sites:
        site.location = Location(shown, where(site.location.line))
        site.lines = [line for line in (where(x) for x in site.lines) if line is not None]
        scan.sites.append(site)
    return out


def _source_lines(text: str, lines: list[str], cursor: list[int]) -> list[int]:
    """The .ipynb line of each source line (as JSON strings, in order from ``cursor``); a line not found gets the
    line of the one before it, so every line has one."""
    out: list[int] = []
    for line in lines:
        index, needle = -1, ""
        for ascii_only in (False, True):
            needle = json.dumps(line, ensure_ascii=ascii_only)
            index = text.find(needle, cursor[0])
            if index >= 0:
                break
        if index >= 0:
            cursor[1] += text.count("\n", cursor[0], index)
            cursor[0] = index + len(needle)
            out.append(cursor[1])
        else:
            out.append(out[-1] if out else cursor[1])
    return out


def _read(path: Path, shown: str, limit: int, skipped: list[Skipped]) -> str | None:
    """The file's text, read with ``safeload.read_bytes`` (a pipe would block the run, a device never ends, a
    file may grow while it is read: refused or bounded, and said)."""
    try:
        data = read_bytes(path, limit)
    except LoadError as exc:
        reason = exc.reason
        if exc.refusal is Refusal.NOT_REGULAR:
            reason = "not a regular file (a pipe, socket or device)"
        elif exc.refusal is Refusal.TOO_LARGE:
            reason = f"file larger than {limit} bytes"
        skipped.append(Skipped(reason=f"{reason}; model references in it not read", file=shown,
                               kind=ItemKind.INPUT_FILE))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        skipped.append(Skipped(reason="file is not UTF-8; model references in it not read", file=shown, kind=ItemKind.INPUT_FILE))
        return None




def _walk(root: Path, skipped: list[Skipped], walk: TreeWalk) -> Iterator[tuple[Path, Path]]:
    """(path, path relative to root) of candidate files, pruned and bounded (``walk`` keeps the gaps)."""
    seen = 0
    for base, filenames in walk:
        rel_dir = base.relative_to(root)
        for name in filenames:
            if not (name.endswith((".py", ".ipynb")) or name in CONFIG_NAMES or name.lower() == "readme.md"
                    or name in ("mlaudit.toml", "pyproject.toml") or is_config_file(rel_dir.parts, name)):
                continue
            seen += 1
            if seen > MAX_FILES:
                skipped.append(Skipped(reason=f"more than {MAX_FILES} candidate files; the rest were not read for "
                                              "model references", file=str(root / rel_dir), kind=ItemKind.INPUT_FILE))
                return
            yield base / name, rel_dir / name


__all__ = ["ModelScan", "find_model_refs", "merge_refs", "scan_project"]

"""The model file scanner: find code that runs when a model file is loaded, without loading anything.

Public interface (used by ``auditor.checks.modelfiles`` and ``mlaudit scan``):

- ``scan_file(path, display=None) -> list[Finding]``
- ``scan_paths(paths) -> ScanResult`` (files, directories, Hugging Face snapshot/cache directories)

Formats are detected from content (``dispatch.sniff``); each format family has its own reader. Nothing is ever
unpickled, imported, rendered or executed; memory use is bounded (streams, seeks, limits in ``limits.Limits``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from auditor.domain import Excluded, Finding, Severity, Skipped
from auditor.evidence import Details
from auditor.kinds import ScanRule
from auditor.ledger import Item, ItemKind, Outcome
from auditor.projectwalk import PathFilter, TreeWalk, gap_items
from auditor.scan.limits import DEFAULT_LIMITS, Limits
from auditor.scan.placeholders import ANNEX_MAX, Placeholder, annex_link, sniff_placeholder
from auditor.scan.roles import fixture_dir
from auditor.scan.state import KIND_PICKLE_FORMAT, Collector, FormatNote, ScanState

__all__ = ["ScanResult", "ScanTargets", "scan_file", "scan_paths", "scan_targets", "scan_file_detailed",
           "iter_model_files", "add_gaps", "Limits"]

PICKLE_FORMATS = ("pickle", "torch-zip", "torch-legacy", "npy (object array: pickle)", "joblib", "dill")


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    audited: list[Item] = field(default_factory=list)  # one ledger item per file scanned without a gap
    excluded: list[Item] = field(default_factory=list)  # what the directory walk left out on purpose, listed
    notes: list[str] = field(default_factory=list)  # links followed out of a scanned directory
    files_scanned: int = 0
    bytes_scanned: int = 0
    formats: list[FormatNote] = field(default_factory=list)

    def to_json(self) -> list[dict[str, str]]:
        return [{"path": n.path, "format": n.format} for n in self.formats]


def scan_file_detailed(path: Path, display: str | None = None, limits: Limits = DEFAULT_LIMITS) -> Collector:
    """Scan one file; return findings, skips and the formats seen (including archive members)."""
    collector = Collector()
    shown = display or str(path)
    state = ScanState(path=shown, collector=collector, limits=limits, real_dir=path.parent)
    from auditor.scan.dispatch import scan_stream
    from auditor.scan.roles import file_role

    try:
        collector.placeholder = annex_link(path)
        if collector.placeholder is not None:
            return collector
        if not stat.S_ISREG(path.stat().st_mode):  # FIFOs/devices would block or never end
            state.skip("not a regular file")
            return collector
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size <= ANNEX_MAX:
                head = f.read(4096)
                collector.placeholder = sniff_placeholder(path, head, size)
                if collector.placeholder is not None:
                    collector.bytes_read += len(head)
                    return collector
                f.seek(0)
            scan_stream(f, state, name=path.name, size=size, role=file_role(path))
    except OSError as exc:
        state.skip(f"could not read model file: {exc.strerror or exc}")
    except RecursionError:
        state.add(ScanRule.SCAN_UNVERIFIED, Severity.MEDIUM, "structure nested too deeply to analyse",
                  {"format": "unknown"})
    except Exception as exc:  # noqa: BLE001 - a parser bug on one hostile file must not end the whole audit
        # Said loudly, never clean: a finding on the file and a skipped item (the report becomes incomplete).
        state.add(ScanRule.SCAN_ERROR, Severity.MEDIUM, f"the scanner failed on this file ({type(exc).__name__}); "
                  "it was not fully analysed", {"format": "unknown", "error": type(exc).__name__})
        state.skip(f"model scanner error ({type(exc).__name__}: {str(exc)[:200]})")
    _mark_verdicts(collector)
    return collector


def _mark_verdicts(collector: Collector) -> None:
    bad = {f.path for f in collector.findings if f.severity.at_least(Severity.MEDIUM)}
    for note in collector.formats:
        if note.path in bad:
            note.verdict = "findings"


def scan_file(path: Path, display: str | None = None) -> list[Finding]:
    """Findings for one file (skips, e.g. an unreadable file, are not returned; use ``scan_paths`` for those)."""
    return scan_file_detailed(Path(path), display).findings


def _top_format(collector: Collector, display: str) -> str | None:
    for note in collector.formats:
        if note.path == display:
            return note.format
    return None


def iter_model_files(root: Path, *, extensions: frozenset[str] | None = None,
                     max_size: int | None = None, exclude: PathFilter | None = None,
                     walk: TreeWalk | None = None) -> Iterator[Path]:
    """Regular files under ``root`` (links to files and to directories followed, see ``TreeWalk``), in a
    project walk unless ``walk`` says otherwise; ``walk.gaps`` lists afterwards what was not handed on.
    ``extensions`` (lower-case, with dot) restricts to candidate names; ``max_size`` leaves out larger files
    (the caller that sets it records them)."""
    for base, filenames in walk if walk is not None else TreeWalk(root, exclude):
        for name in filenames:
            p = base / name
            if extensions is not None and not _has_candidate_ext(name, extensions):
                continue
            if max_size is not None:
                try:
                    if p.stat().st_size > max_size:
                        continue
                except OSError:
                    pass  # yielded: the scanner says it could not read it
            yield p


def _has_candidate_ext(name: str, extensions: frozenset[str]) -> bool:
    lower = name.lower()
    return any(lower.endswith(ext) for ext in extensions)



@dataclass
class ScanTargets:
    """What ``scan_paths`` reads (``files``, in its order), what the walk listed instead (``gaps``: missing
    paths, unreadable folders, FIFOs/devices, loops as skipped or excluded items) and ``notes`` (links followed
    out of a directory)."""

    files: list[Path] = field(default_factory=list)
    gaps: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


SCAN_CONSEQUENCE = "not scanned"


def scan_targets(paths: Sequence[Path]) -> ScanTargets:
    """The files ``scan_paths`` reads, in its order, each real file once (HF caches hold symlinks into
    ``blobs/``), and the gaps of the walk. A directory given here was named by the user: it is walked
    explicitly (``TreeWalk(prune_defaults=False)``): ``.git``, caches, ``node_modules`` and environments inside
    it are looked into. Public so that a caller can split a large directory into parts (``mlaudit fleet --scan``)
    and get the same answer as one ``scan_paths`` call."""
    out = ScanTargets()
    targets: list[Path] = []
    for raw in paths:
        p = Path(raw)
        try:
            mode: int | None = os.stat(p).st_mode
        except FileNotFoundError:
            mode = None
        except (OSError, ValueError) as exc:
            out.gaps.append(Skipped(reason=f"cannot look at it: {getattr(exc, 'strerror', None) or exc}",
                                    file=str(p), not_checked=["model file scan"], kind=ItemKind.MODEL_FILE))
            continue
        if mode is not None and stat.S_ISDIR(mode):
            walk = TreeWalk(p, prune_defaults=False)
            files = list(iter_model_files(p, walk=walk))
            # prefer the human name (snapshots/<rev>/model.bin) over the content-addressed blob it links to
            files.sort(key=lambda x: ("/blobs/" in x.as_posix() and not os.path.islink(x), str(x)))
            targets.extend(files)
            out.gaps.extend(gap_items(walk.gaps, ItemKind.MODEL_FILE, SCAN_CONSEQUENCE, ["model file scan"]))
            out.notes.extend(walk.notes)
        elif mode is not None:
            targets.append(p)
        else:
            reason = "a broken link: nothing to read" if os.path.islink(p) else "no such file or directory"
            out.gaps.append(Skipped(reason=reason, file=str(p), not_checked=["model file scan"],
                                    kind=ItemKind.MODEL_FILE))
    seen: set[str] = set()
    for p in targets:
        try:
            real = str(p.resolve())
        except (OSError, RuntimeError):
            real = str(p)
        if real not in seen:
            seen.add(real)
            out.files.append(p)
    return out


def add_gaps(result: ScanResult, gaps: Sequence[Item], notes: Sequence[str]) -> None:
    """Put a walk's gaps and notes into a result (skipped items first, as ``scan_paths`` lists them)."""
    result.skipped[:0] = [g for g in gaps if isinstance(g, Skipped)]
    result.excluded.extend(g for g in gaps if isinstance(g, Excluded))
    result.notes.extend(notes)


def scan_paths(paths: Sequence[Path], limits: Limits = DEFAULT_LIMITS, *,
               project_root: Path | None = None) -> ScanResult:
    """Scan files and directories. Within a directory, pickle-based files get a note naming their safetensors
    twin when one exists. Each real file is scanned once (HF caches hold symlinks into ``blobs/``).

    ``project_root`` says the files were found by walking a project (``mlaudit .``) rather than named by the user
    (``mlaudit scan``): a placeholder for absent content (Git LFS pointer, ...) is then listed as excluded rather
    than skipped (``placeholders``), and files under a test-fixture directory get no pickle-format note (their
    unsafe-content findings stay: a malicious file in ``tests/`` runs in CI)."""
    result = ScanResult()
    planned = scan_targets(paths)
    add_gaps(result, planned.gaps, planned.notes)
    for p in planned.files:
        display = str(p)
        collector = scan_file_detailed(p, display, limits)
        if collector.placeholder is not None:
            _list_placeholder(result, display, collector.placeholder, project_root is not None)
            continue
        result.files_scanned += 1
        try:
            result.bytes_scanned += p.stat().st_size
        except OSError:
            pass
        result.findings.extend(collector.findings)
        result.skipped.extend(collector.skipped)
        if not collector.skipped:  # a file with a gap is accounted for by its skipped item(s)
            result.audited.append(Item(kind=ItemKind.MODEL_FILE, subject=display, file=display,
                                       outcome=Outcome.AUDITED))
        result.formats.extend(collector.formats)
        fmt = _top_format(collector, display)
        if fmt in PICKLE_FORMATS and not (project_root is not None and _fixture(p, project_root)):
            _format_note(result, collector, p, display, fmt)
    return result


def _list_placeholder(result: ScanResult, display: str, found: Placeholder, discovered: bool) -> None:
    """A stand-in for absent content: excluded (listed) when a project walk found it, skipped (the report is
    incomplete) when the user named it or its directory for scanning."""
    if discovered:
        result.excluded.append(Excluded(reason=found.reason, file=display, kind=ItemKind.MODEL_FILE))
    else:
        result.skipped.append(Skipped(reason=found.reason, file=display, not_checked=["model file scan"],
                                      kind=ItemKind.MODEL_FILE))


def _fixture(p: Path, root: Path) -> bool:
    try:
        rel = p.parent.relative_to(root)
    except ValueError:
        return False
    return fixture_dir(rel) is not None


def _format_note(result: ScanResult, collector: Collector, p: Path, display: str, fmt: str) -> None:
    """Info note for pickle-based files without serious findings: the format itself runs code on load. A pickle
    that imports nothing but containers, scalars and records (``allowlist.plain_data``) is plain data: nothing in
    it can run, and it holds no model; it gets no note."""
    if not collector.object_imports:
        return
    if any(f.path == display and f.severity.at_least(Severity.MEDIUM) for f in collector.findings):
        return
    twins = safetensors_twins(p)
    if twins:
        message = f"pickle-based {fmt} file; a safetensors copy exists beside it: prefer {twins[0]}"
        fix = f"Load {twins[0]} instead and delete or ignore {p.name}."
    else:
        message = f"pickle-based {fmt} file (no safetensors twin); loading it deserialises a pickle"
        fix = "Convert the weights to safetensors."
    result.findings.append(Finding(kind=KIND_PICKLE_FORMAT, id=ScanRule.PICKLE_FORMAT, severity=Severity.INFO,
                                   message=message, path=display, fix=fix, check="modelscan",
                                   evidence=Details.of({"format": fmt, "safetensors_twins": twins})))


def safetensors_twins(p: Path) -> list[str]:
    """Safetensors files beside ``p`` that hold the same weights by naming convention (``X.pt`` -> ``X.safetensors``,
    HF ``pytorch_model*.bin`` -> ``model*.safetensors``)."""
    stem = p.name.split(".", 1)[0]
    candidates = {f"{stem}.safetensors"}
    if stem.startswith("pytorch_model"):
        candidates.add("model" + stem[len("pytorch_model"):] + ".safetensors")
        candidates.add("model.safetensors")
        candidates.add("model.safetensors.index.json")
    return sorted(c for c in candidates if os.path.isfile(p.parent / c))

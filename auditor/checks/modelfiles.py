"""Check ``modelscan``: scan the model files of the project and of the models it references, without loading
them (issue 10). Project files are found by candidate extension and size, then judged by content; model files
downloaded by the Hub helper (``ModelRef.local_path`` / ``ModelFile.local_path``) are scanned too, and their
findings name the model (``repo_id``, revision) as well as the file.

Project files are scanned as *discovered* (``scan_paths(project_root=...)``): a Git LFS or git-annex pointer in the
checkout, and a DVC output whose ``.dvc`` file is present but whose content was never pulled, is listed as excluded
with the command that fetches it (``auditor.scan.placeholders``); files of a referenced model are scanned as named,
so a pointer there is a gap."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from auditor.domain import Excluded, Finding, ModelRef, ModelScanSummary, ScannedFile
from auditor.ledger import Item, ItemKind, Outcome
from auditor.options import AuditContext, project_filter
from auditor.projectwalk import TreeWalk, gap_items
from auditor.scan import iter_model_files, scan_paths
from auditor.scan.placeholders import dvc_absent_outputs
from auditor.scan.roles import MODEL_EXTENSIONS, model_like

# Names a loader deserialises (``roles.MODEL_EXTENSIONS``) plus containers and generic names that often hold one.
CANDIDATE_EXTENSIONS = frozenset(MODEL_EXTENSIONS) | frozenset({
    ".dat", ".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z", ".model", ".weights",
})
MAX_PROJECT_FILE = 64 << 30  # larger files are recorded as skipped, never silently ignored


class ModelScanCheck:
    name = "modelscan"

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        if not ctx.options.scan_models:
            return []
        findings: list[Finding] = []
        scanned = ModelScanSummary()
        seen: set[str] = set()
        project = Path(ctx.options.project_dir) if ctx.options.project_dir else None
        if project is not None and os.path.isdir(project):
            ctx.progress("scanning model files in the project")
            files: list[Path] = []
            walk = TreeWalk(project, project_filter(ctx.options))
            for p in iter_model_files(project, extensions=CANDIDATE_EXTENSIONS | {DVC_SUFFIX}, walk=walk):
                if p.name.lower().endswith(DVC_SUFFIX):
                    _dvc_placeholders(ctx, p)
                    continue
                if _size(p) > MAX_PROJECT_FILE:
                    ctx.skip(f"model file larger than {MAX_PROJECT_FILE} bytes not scanned", file=str(p), kind=ItemKind.MODEL_FILE,
                             not_checked=["model file scan"])
                    continue
                files.append(p)
            _record_gaps(ctx, walk, "not searched for model files")
            findings.extend(self._scan(ctx, files, seen, scanned, None, project))
        for ref in ctx.report.models:
            paths = _local_files(ref, ctx)
            if paths:
                ctx.progress(f"scanning files of {ref.repo_id}")
                findings.extend(self._scan(ctx, paths, seen, scanned, ref))
        if scanned.files_scanned or scanned.files:
            ctx.report.model_scan = scanned
        return findings

    def _scan(self, ctx: AuditContext, files: list[Path], seen: set[str], scanned: ModelScanSummary,
              ref: ModelRef | None, project: Path | None = None) -> list[Finding]:
        todo = []
        for p in files:
            real = str(p.resolve())
            if real not in seen:
                seen.add(real)
                todo.append(p)
        if not todo:
            return []
        result = scan_paths(todo, project_root=project)
        ctx.report.ledger.extend(result.audited)
        ctx.report.ledger.extend(result.skipped)
        ctx.report.ledger.extend(result.excluded)
        scanned.files.extend(ScannedFile(n.path, n.format, n.verdict) for n in result.formats)
        scanned.files_scanned += result.files_scanned
        scanned.bytes_scanned += result.bytes_scanned
        if ref is not None:
            for f in result.findings:
                f.model = (ref.repo_id, ref.resolved_revision or ref.revision)
        return result.findings


DVC_SUFFIX = ".dvc"
_MODEL_DIR_WORDS = ("model", "checkpoint", "ckpt", "weight")


def _dvc_placeholders(ctx: AuditContext, dvc_file: Path) -> None:
    """Outputs a ``.dvc`` file tracks that are model files (a model-like name, or a directory named for models)
    and absent from the checkout: listed as excluded with ``dvc pull``. Data outputs (datasets) are not model files
    and are not listed here."""
    def wanted(target: Path, is_dir: bool) -> bool:
        name = target.name.lower()
        if is_dir:
            return any(word in name for word in _MODEL_DIR_WORDS)
        return model_like(name) or name.endswith(tuple(CANDIDATE_EXTENSIONS - {".zip", ".tar", ".tgz", ".gz",
                                                                                ".bz2", ".xz", ".7z"}))

    for target, found in dvc_absent_outputs(dvc_file, wanted):
        ctx.report.ledger.extend([Excluded(reason=f"{found.reason}; tracked by {dvc_file.name}", file=str(target),
                                           kind=ItemKind.MODEL_FILE)])


def _local_files(ref: ModelRef, ctx: AuditContext) -> list[Path]:
    """Files of a model held locally: a model directory is a store the project names, walked explicitly (its
    ``.cache`` and hidden folders too), with the walk's gaps recorded."""
    paths: list[Path] = []
    if ref.local_path:
        p = Path(ref.local_path)
        if os.path.isdir(p):
            walk = TreeWalk(p, prune_defaults=False)
            paths.extend(iter_model_files(p, walk=walk))
            _record_gaps(ctx, walk, f"not scanned (files of {ref.repo_id})")
        elif os.path.isfile(p):
            paths.append(p)
    for mf in ref.files:
        if mf.local_path and os.path.isfile(mf.local_path):
            paths.append(Path(mf.local_path))
    return paths


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # the scanner reports that it could not read it


def _record_gaps(ctx: AuditContext, walk: TreeWalk, consequence: str) -> None:
    """The walk's gaps, unless another walk of the same tree (the model-reference finder's) listed them."""
    known = {i.file for i in ctx.report.ledger if i.outcome in (Outcome.SKIPPED, Outcome.EXCLUDED)}
    items: list[Item] = [i for i in gap_items(walk.gaps, ItemKind.MODEL_FILE, consequence, ["model file scan"])
                         if i.file not in known]
    ctx.report.ledger.extend(items)
    for note in walk.notes:
        if note not in ctx.report.warnings:
            ctx.report.warnings.append(note)


CHECK = ModelScanCheck()

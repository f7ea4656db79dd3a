"""Check ``models``: what the model/dataset references and their Hub metadata say about risk.

Rules (finding kind / id / severity):
- ``unpinned-revision`` / ``MLA-MODEL-UNPINNED`` / low: a reference in the project (code, config, card, manifest)
  without a commit (40 hex digits, or git's abbreviation of 7 or more): a branch or tag moves, so what is downloaded can change without a code change. One
  finding per place (``ModelRef.location`` and ``more_locations``), never one per model.
- ``trust-remote-code`` / ``MLA-MODEL-REMOTE-CODE``: ``trust_remote_code`` can be ``True`` where a model is
  loaded, so Python from the repo runs on load. One finding per place (``report.remote_code_sites``: a call site,
  or a config file's flag), naming the models the project's values bring there (``model``: the first) and any
  model chosen at run time: high when the project turns the flag on and the revision is not a commit (the owner can
  change that code at any time), medium when pinned, medium when the flag is computed in a way the audit cannot
  bound. The
  conditions on the path (``if 'mpt' in model_name:``) are part of the message and the evidence. A reference that
  enables it with no such place (a manifest entry, a saved config's ``auto_map``) is reported at its own line.
  ``MLA-MODEL-REMOTE-CODE-OPTION`` / low: the flag is off by default and an operator can switch it on (a
  command-line option, a config key, an environment variable, a caller's argument): remote code can be enabled at
  run time, here -- a place to know about, not the project running remote code by itself.
  ``MLA-MODEL-CUSTOM-CODE`` / info: the repo ships code (``*.py``, ``auto_map``) but the project does not enable it.
- ``unsafe-model`` / ``MLA-MODEL-PICKLE-ONLY`` / low (CONVENTIONS: unsafe-but-common; ``require-safetensors``
  raises it): pickle-family/Keras weights in a repo directory without a ``.safetensors`` file. The bytes are the
  model scanner's job (``--fetch-models`` downloads them).
- ``model-not-found`` / ``MLA-MODEL-NOT-FOUND`` / medium: the Hub has no such public repo: a deleted or private
  name that someone else can register and fill (namespace reuse).
- ``model-disabled`` / ``MLA-MODEL-DISABLED`` / high: the Hub has disabled the repo (access blocked, as after a
  takedown for malware or terms violations).
- ``missing-license`` / ``MLA-MODEL-NO-LICENSE`` / low: resolved metadata carries no licence.
- ``license-conflict`` / ``MLA-MODEL-LICENSE-CONFLICT`` / medium: a model, base model or dataset whose licence
  forbids the project's use (``auditor.models.licenses``).
- ``hash-mismatch`` / ``MLA-MODEL-HASH-MISMATCH`` / critical: a file fetched with ``--fetch-models`` differs from
  the sha256 the Hub lists for it.
Look-alike orgs are the ``typosquat`` check's (it already covers ``report.models``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from auditor.domain import Finding, Location, ModelRef, RemoteCodeSite, Severity
from auditor.evidence import Details
from auditor.kinds import FindingKind, Rule
from auditor.models.formats import code_files, pickle_only
from auditor.models.hubstate import HubState, key_of, state_of
from auditor.models.licenses import forbids, project_use
from auditor.models.repoid import is_pinned
from auditor.models.settings import model_settings
from auditor.options import AuditContext

RESOLVED = ("resolved", "cached")


class ModelsCheck:
    name = "models"

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        state = state_of(ctx)
        by_repo: dict[str, ModelRef] = {}
        for ref in ctx.report.models:
            if ref.kind == "model":
                by_repo.setdefault(ref.repo_id, ref)
        findings: list[Finding] = []
        for site in ctx.report.remote_code_sites:
            findings.extend(self._site(site, by_repo, state))
        if not ctx.report.models:
            return findings
        named = {model for site in ctx.report.remote_code_sites if not site.opt_in for model in site.models}
        root_meta = ctx.report.root_metadata
        declared = root_meta.get("license") if isinstance(root_meta, dict) else None
        use = project_use(model_settings(ctx).use, declared if isinstance(declared, str) else None)
        for ref in ctx.report.models:
            findings.extend(self._one(ref, state, use, named))
        for ref, path, want, got in state.hash_mismatches:
            findings.append(self._finding(
                ref, FindingKind.HASH_MISMATCH, Rule.MODEL_HASH_MISMATCH, Severity.CRITICAL,
                f"{ref.repo_id}: downloaded {path} has sha256 {got}, the Hub lists {want}",
                evidence={"file": path, "expected": want, "actual": got}, path=next(
                    (f.local_path for f in ref.files if f.path == path), None),
                fix="do not use this file; re-download and report it if it persists"))
        return findings

    def _one(self, ref: ModelRef, state: HubState, use: str | None, named: set[str]) -> list[Finding]:
        out: list[Finding] = []
        status = state.status.get(key_of(ref))
        direct = ref.via is None and ref.origin != "hub"
        what = f"{ref.kind} {ref.repo_id}"
        if direct and not is_pinned(ref.revision):
            pinned = f'revision="{ref.resolved_revision}"' if ref.resolved_revision else "revision=<commit sha>"
            shown = f"revision {ref.revision!r}" if ref.revision else "no revision (default branch)"
            for place in [ref.location, *ref.more_locations]:
                calls = ref.loaded_at.get(place, []) if place is not None else []
                by = f" by the call{'s' if len(calls) > 1 else ''} at {_places(calls)}" if calls else ""
                evidence: dict[str, object] = {"revision": ref.revision, "resolved": ref.resolved_revision}
                if calls:  # the value is written here, loaded there: revision= goes on the loading call
                    evidence["loaded_at"] = [c.to_json() for c in calls]
                out.append(self._finding(ref, FindingKind.UNPINNED_REVISION, Rule.MODEL_UNPINNED, Severity.LOW,
                                         f"{what} is loaded{by} with {shown}: a branch or tag can change what is "
                                         "downloaded", evidence=evidence,
                                         fix=f"pin {pinned}" + (f" at {_places(calls)}" if calls else ""),
                                         location=place))
        out.extend(self._remote_code(ref, state, what, named))
        if ref.kind == "model" and ref.files:
            only = pickle_only([f.path for f in ref.files])
            if only:
                where = " (files in the local cache)" if key_of(ref) in state.partial_files else ""
                out.append(self._finding(
                    ref, FindingKind.UNSAFE_MODEL, Rule.MODEL_PICKLE_ONLY, Severity.LOW,
                    f"{what} has weights only in formats that can run code when loaded{where}: "
                    f"{', '.join(only[:5])}{' ...' if len(only) > 5 else ''}",
                    evidence={"files": only}, fix="prefer a revision or repo with .safetensors weights; "
                                                   "scan the files (--fetch-models)"))
        if status == "not-found":
            out.append(self._finding(
                ref, FindingKind.MODEL_NOT_FOUND, Rule.MODEL_NOT_FOUND, Severity.MEDIUM,
                f"{what} does not exist on the Hub (or is private): whoever registers that name controls what "
                "this project downloads", fix="remove the reference or point it at the repo you mean"))
        if status == "disabled":
            out.append(self._finding(
                ref, FindingKind.MODEL_DISABLED, Rule.MODEL_DISABLED, Severity.HIGH,
                f"{what} has been disabled by the Hub (access blocked, as after a takedown): find out why before "
                "using any copy of it", fix="remove the reference; check any cached copies with the model scanner"))
        if status in RESOLVED:
            cached_card = status != "cached" or any(f.path == "README.md" for f in ref.files)
            if ref.license is None and cached_card:
                out.append(self._finding(ref, FindingKind.MISSING_LICENSE, Rule.MODEL_NO_LICENSE, Severity.LOW,
                                         f"{what} declares no licence: its terms of use are unknown",
                                         fix="check the terms with the publisher before use"))
            conflict = forbids(ref.license, use)
            if conflict is not None:
                chain = f" (reached via {ref.via})" if ref.via else ""
                out.append(self._finding(
                    ref, FindingKind.LICENSE_CONFLICT, Rule.MODEL_LICENSE_CONFLICT, Severity.MEDIUM,
                    f"{what}{chain} is licensed {ref.license} ({conflict.category}), which forbids {use} use",
                    evidence={"license": ref.license, "category": conflict.category, "project_use": use,
                              "via": ref.via, "note": conflict.note},
                    fix="use a model/dataset whose licence allows this use, or set model-use in the policy"))
        return out

    def _remote_code(self, ref: ModelRef, state: HubState, what: str, named: set[str]) -> list[Finding]:
        code = code_files([f.path for f in ref.files])
        auto_map = state.auto_map.get(key_of(ref), [])
        evidence: dict[str, object] = {"code_files": code, "auto_map": auto_map, "revision": ref.revision}
        if ref.repo_id in named:
            return []  # reported at the places that enable it (``_site``)
        if ref.trust_remote_code:
            pinned = is_pinned(ref.revision)
            severity = Severity.MEDIUM if pinned else Severity.HIGH
            because = "pinned to a commit" if pinned else "not pinned: the repo owner can change the code at any time"
            shipped = f"; the repo ships {', '.join(code[:5])}" if code else ""
            return [self._finding(
                ref, FindingKind.TRUST_REMOTE_CODE, Rule.MODEL_REMOTE_CODE, severity,
                f"{what} is loaded with trust_remote_code: Python from the repo runs on load ({because}){shipped}",
                evidence=evidence, fix="remove trust_remote_code, or review the code and pin revision= to a commit")]
        if ref.kind == "model" and (code or auto_map):
            return [self._finding(
                ref, FindingKind.TRUST_REMOTE_CODE, Rule.MODEL_CUSTOM_CODE, Severity.INFO,
                f"{what} ships custom code ({', '.join((code or auto_map)[:5])}); it runs only with "
                "trust_remote_code, which this project does not set", evidence=evidence)]
        return []

    def _site(self, site: RemoteCodeSite, by_repo: dict[str, ModelRef], state: HubState) -> list[Finding]:
        """One finding per place that can load with remote code on, naming the models the project's values bring
        there and any model chosen at run time; a place where only an operator can switch it on is low."""
        if site.opt_in:
            return [self._opt_in_site(site)]
        if not site.models:
            return [self._runtime_site(site)] if site.runtime else []
        when = f" when {' and '.join(site.guards)}" if site.guards else ""
        lines = f"; also lines {', '.join(str(n) for n in site.lines)}" if site.lines else ""
        also = f"; the same call also loads {site.runtime}" if site.runtime else ""
        refs = [by_repo.get(model) for model in site.models]
        revision = site.revision if site.revision is not None else (
            refs[0].revision if len(refs) == 1 and refs[0] is not None else None)
        pinned = is_pinned(revision)
        severity = Severity.MEDIUM if pinned or not site.bounded else Severity.HIGH
        because = "pinned to a commit" if pinned else "not pinned: the repo owner can change the code at any time"
        code = sorted({c for ref in refs if ref is not None for c in code_files([f.path for f in ref.files])})
        shipped = f"; the repo ships {', '.join(code[:5])}" if code else ""
        auto_map = sorted({m for ref in refs if ref is not None for m in state.auto_map.get(key_of(ref), [])})
        named = ", ".join(site.models[:5]) + (f" and {len(site.models) - 5} more" if len(site.models) > 5 else "")
        what = f"model {named}" if len(site.models) == 1 else f"models {named}"
        return [Finding(
            kind=FindingKind.TRUST_REMOTE_CODE, id=Rule.MODEL_REMOTE_CODE, severity=severity,
            message=f"{what} {'is' if len(site.models) == 1 else 'are'} loaded with trust_remote_code{when} "
                    f"({site.because}{lines}): Python from the repo runs on load ({because}){shipped}{also}",
            model=(site.models[0], revision), location=_place(site, refs[0]) if len(refs) == 1 else Location(
                site.location.file, site.location.line),
            evidence=Details.of({"code_files": code, "auto_map": auto_map, "revision": revision, "site": site.to_json()}),
            check=self.name, fix="remove trust_remote_code, or review the code and pin revision= to a commit")]

    def _opt_in_site(self, site: RemoteCodeSite) -> Finding:
        """A place where remote code is off unless an operator switches it on: low, never nothing."""
        who = f"{site.function}()" if site.function else "this code"
        when = f" when {' and '.join(site.guards)}" if site.guards else ""
        lines = f"; also lines {', '.join(str(n) for n in site.lines)}" if site.lines else ""
        loads = [*site.models[:5], *([site.runtime] if site.runtime else [])]
        what = ", ".join(loads) if loads else "a model"
        return Finding(
            kind=FindingKind.TRUST_REMOTE_CODE, id=Rule.MODEL_REMOTE_CODE_OPTION, severity=Severity.LOW,
            message=f"remote code can be enabled at run time here: {who} loads {what} with trust_remote_code{when} "
                    f"({site.because}{lines})",
            path=site.location.file, location=Location(site.location.file, site.location.line),
            evidence=Details.of(site.to_json()), check=self.name,
            fix="keep the switch off for unreviewed repos; when it is on, pin revision= to a reviewed commit")

    def _runtime_site(self, site: RemoteCodeSite) -> Finding:
        """A place that loads whatever model it is given with remote code on: the model cannot be audited, the
        place can. The message leads with what and where (the terminal shows its first 200 characters)."""
        who = f"{site.function}()" if site.function else "this code"
        when = f" when {' and '.join(site.guards)}" if site.guards else ""
        lines = f"; also lines {', '.join(str(n) for n in site.lines)}" if site.lines else ""
        known = f"; the project's own values: {', '.join(site.models[:5])}" if site.models else ""
        return Finding(
            kind=FindingKind.TRUST_REMOTE_CODE, id=Rule.MODEL_REMOTE_CODE,
            severity=Severity.HIGH if site.bounded and not is_pinned(site.revision) else Severity.MEDIUM,
            message=f"{who} loads {site.runtime or 'a model chosen at run time'} with remote code on{when} "
                    f"({site.because}{lines}): Python from whichever repo is named runs on load{known}",
            path=site.location.file, location=Location(site.location.file, site.location.line),
            evidence=Details.of(site.to_json()), check=self.name,
            fix="allow only reviewed repos pinned to a commit, or declare them in mlaudit.toml `models = [...]`")

    def _finding(self, ref: ModelRef, kind: FindingKind, rule: str, severity: Severity, message: str, *,
                 evidence: Mapping[str, object] | None = None, fix: str | None = None, path: str | None = None,
                 location: Location | None = None) -> Finding:
        return Finding(kind=kind, id=rule, severity=severity, message=message, model=(ref.repo_id, ref.revision),
                       location=location or ref.location, evidence=Details.of(evidence) if evidence is not None else None, fix=fix, check=self.name, path=path)


def _place(site: RemoteCodeSite, ref: ModelRef | None) -> Location:
    """Where a site's model is named: its line in the site's config file, or the merged call of the site that
    loads it; else the site's own line."""
    lines = {site.location.line, *site.lines}
    places = [p for p in ([ref.location, *ref.more_locations] if ref is not None else [])
              if p is not None and p.file == site.location.file]
    # the site's own lines first: two loads of one model on two lines are two places, never one cited twice
    for place in places:
        if place.line in lines:
            return place
    for place in places if site.function is None else []:
        return place
    return Location(site.location.file, site.location.line)


CHECK = ModelsCheck()


def _places(calls: list[Location]) -> str:
    """``a.py:47, 57 and 2 more`` (lines of one file collapsed)."""
    shown: list[str] = []
    last = None
    for c in calls[:3]:
        shown.append(str(c.line) if last == c.file and c.line else str(c))
        last = c.file
    return ", ".join(shown) + (f" and {len(calls) - 3} more" if len(calls) > 3 else "")


__all__ = ["CHECK", "ModelsCheck"]


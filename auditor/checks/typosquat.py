"""Check: does any audited package name, or the org of any model/dataset reference, imitate a popular one?

Runs offline on the shipped popularity lists and the fitted score. Facts about a candidate's own record move its
score (``NameContext``, see auditor/typosquat/context.py): the dependency graph (a popular project requires it:
genuine), and in every audit that reaches the index its project page (first upload, releases, upload days) and
its JSON API (links, summary; a 404 while the target is known means the index does not have the name), and what
a caller already knows (the resolver: "not on the index"). Facts that could not be had are listed in the
finding's ``missing_facts``. Severity: high when the score is >= HIGH_THRESHOLD (0.8), medium
otherwise (documented in data/README.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from auditor.domain import DataSource, Finding, ModelRef, Package, Report, Severity, canonical_name
from auditor.errors import NetworkError
from auditor.evidence import Details
from auditor.kinds import FindingKind, Rule
from auditor.ledger import ItemKind
from auditor.options import AuditContext
from auditor.pkgindex import find_page
from auditor.policy import Policy
from auditor.typosquat import HIGH_THRESHOLD, NameContext, TyposquatResult, apply_context, hf_detector, pypi_detector
from auditor.typosquat.context import CONTEXT_FLOOR, context_from_uploads, evidence, merge
from auditor.typosquat.metadata import collect, json_api_base
from auditor.typosquat.popular import HF_ORGS_FILE, TOP_PYPI_FILE
from auditor.typosquat.scoring import MODEL_FILE, default_model

RULE_PYPI = Rule.TYPOSQUAT
RULE_HF = Rule.HF_ORG_LOOKALIKE
POPULARITY_DATE = "2026-04-01"


def severity_for(score: float) -> Severity:
    return Severity.HIGH if score >= HIGH_THRESHOLD else Severity.MEDIUM


def _technique_word(result: TyposquatResult) -> str:
    first = result.reasons[0] if result.reasons else (result.technique or "look-alike")
    return first.split(": ", 1)[1] if ": " in first else first


def package_finding(pkg: Package, result: TyposquatResult, context: NameContext | None = None) -> Finding:
    return Finding(
        kind=FindingKind.TYPOSQUAT,
        id=RULE_PYPI,
        severity=severity_for(result.score),
        message=f"'{pkg.name}' looks like '{result.target}' ({result.technique}: {_technique_word(result)})",
        package=(pkg.name, pkg.version),
        location=pkg.location,
        evidence=Details.of({"target": result.target, "score": result.score, "reasons": list(result.reasons),
                  "target_rank": result.target_rank, "technique": result.technique, **evidence(context)}),
        fix=f"did you mean '{result.target}'?",
        check=CHECK.name,
    )


def model_finding(ref: ModelRef, org: str, result: TyposquatResult) -> Finding:
    return Finding(
        kind=FindingKind.TYPOSQUAT,
        id=RULE_HF,
        severity=severity_for(result.score),
        message=f"Hugging Face org '{org}' (in '{ref.repo_id}') looks like '{result.target}' "
                f"({result.technique}: {_technique_word(result)})",
        model=(ref.repo_id, ref.revision),
        location=ref.location,
        evidence=Details.of({"target": result.target, "score": result.score, "reasons": list(result.reasons),
                  "target_rank": result.target_rank, "technique": result.technique, "org": org}),
        fix=f"did you mean '{result.target}/{ref.repo_id.split('/', 1)[1]}'?",
        check=CHECK.name,
    )


def hf_org_of(repo_id: str) -> str | None:
    """The owner part of ``org/name``; canonical single-segment ids (``gpt2``) have no org to imitate."""
    repo_id = repo_id.strip().strip("/")
    if repo_id.count("/") != 1:
        return None
    org = repo_id.split("/", 1)[0]
    return org or None


def assess_name(name: str, context: NameContext | None = None, *, allowlist: Iterable[str] = ()) -> TyposquatResult:
    """The typosquat verdict for one PyPI name, with what the caller knows about its record (``None``: nothing).

    For other stages: a name the index does not have is ``assess_name(name, NameContext(on_index=False,
    source="resolver"))``; a look-alike then scores high.
    """
    return pypi_detector(allowlist).check(name, context=context)


class TyposquatCheck:
    name = "typosquat"

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        """Every name, with what the audit itself knows: a name the resolver found missing from the index is
        judged as not on the index (a look-alike of it then scores high)."""
        from auditor.checks.unclaimed import is_unclaimed

        missing = {p.name: NameContext(on_index=False, source="resolver")
                   for p in ctx.report.packages.values() if is_unclaimed(p)}
        return self.findings(ctx, missing)

    def findings(self, ctx: AuditContext, contexts: Mapping[str, NameContext] | None = None) -> list[Finding]:
        """Findings for every package and model org; ``contexts`` maps PEP 503 names to what the caller knows
        about them (merged with the graph's and the index's facts; the caller's facts win).

        Every name that is not itself popular and reads as a look-alike at ``CONTEXT_FLOOR`` or more is judged
        with its record: the dependency graph (offline too: a popular project requires it), the index's project
        page (first upload, release count; the page the hash and provenance checks use, fetched once per run)
        unless ``--offline``, and the index JSON API (links, summary) for names at ``JSON_FLOOR`` or more.
        """
        policy = ctx.options.policy or Policy()
        known = {canonical_name(k): v for k, v in (contexts or {}).items()}
        findings: list[Finding] = []
        detector = pypi_detector(policy.typosquat_allowlist)
        hf = hf_detector(policy.hf_org_allowlist)
        self._record_sources(ctx, len(detector.popular), len(hf.popular))
        packages = list(ctx.report.packages.values())
        detector.prefetch(pkg.name for pkg in packages)
        results = [detector.check(pkg.name) for pkg in packages]
        requirers = popular_requirers(ctx.report, detector.popular.rank_of)
        judged: dict[int, NameContext] = {}
        for i, (pkg, result) in enumerate(zip(packages, results, strict=True)):
            if is_local(pkg):
                results[i] = TyposquatResult(pkg.name, False, reasons=["the project's own code (not fetched by name)"])
                continue
            if result.candidate is None or result.score < CONTEXT_FLOOR:
                continue
            required = tuple(requirers.get(pkg.node_id, ()))
            graph = NameContext(required_by=required, source="dependency graph" if required else "")
            judged[i] = merge(graph, known.get(canonical_name(pkg.name))) or graph
        todo = [i for i, c in judged.items() if not c.required_by and c.on_index is not False]
        for i, fetched in zip(todo, self._index_facts(ctx, [(packages[i], results[i]) for i in todo]), strict=True):
            given = known.get(canonical_name(packages[i].name))
            judged[i] = merge(merge(judged[i], fetched), given) or judged[i]
        without = 0
        for i, context in judged.items():
            result = apply_context(results[i], context)
            if result.flagged and result.target:
                findings.append(package_finding(packages[i], result, context))
            without += not context.required_by and context.first_upload is None and context.on_index is not False
        if without and ctx.options.offline:
            ctx.report.warnings.append(
                f"typosquat: {without} name(s) near popular ones judged without their index record (--offline: first "
                "upload, release count, links and summary not looked up); each finding lists its missing facts")
        seen: set[tuple[str, str | None]] = set()
        for ref in ctx.report.models:
            org = hf_org_of(ref.repo_id)
            if org is None or (ref.repo_id, ref.revision) in seen:
                continue
            seen.add((ref.repo_id, ref.revision))
            result = hf.check(org)
            if result.flagged and result.target:
                findings.append(model_finding(ref, org, result))
        return findings

    def _index_facts(self, ctx: AuditContext, todo: list[tuple[Package, TyposquatResult]]) -> list[NameContext]:
        """What the index says of each candidate, one look-up per name, ``MAX_LOOKUPS`` at a time."""
        if ctx.options.offline:
            gap = "first upload, release count, project links, summary: not looked up (--offline)"
            return [NameContext(missing=(gap,)) for _ in todo]
        json_base = self._metadata_base(ctx)

        def one(item: tuple[Package, TyposquatResult]) -> NameContext:
            pkg, result = item
            facts = page_facts(ctx, pkg)
            if json_base is None:
                return merge(facts, NameContext(missing=(
                    "project links, summary: no index URL to ask its JSON API",))) or facts
            if result.score < JSON_FLOOR:
                return merge(facts, NameContext(missing=(
                    f"project links, summary: not looked up (name score below {JSON_FLOOR})",))) or facts
            lookup = collect(ctx.http, json_base, pkg.name, result.candidate)
            if lookup.context is None:
                if lookup.note and ctx.options.online:  # asked for: a gap in the audit
                    ctx.incomplete(ItemKind.CHECK, f"typosquat metadata for {pkg.name}", lookup.note)
                elif lookup.error is not None:  # an enrichment by default: said in the warnings, not a gap
                    failed.append(f"{pkg.name} ({lookup.error})")
                return merge(facts, NameContext(missing=(
                    f"project links, summary: {(lookup.note or 'not checked').removeprefix('index metadata ')}",
                ))) or facts
            return merge(facts, lookup.context) or facts

        if not todo:
            return []
        from concurrent.futures import ThreadPoolExecutor  # a thread pool for network work only

        failed: list[str] = []
        with ThreadPoolExecutor(max_workers=min(MAX_LOOKUPS, len(todo))) as pool:
            out = list(pool.map(one, todo))
        if failed:
            ctx.report.warnings.append(
                f"typosquat: the index JSON API could not be read for {len(failed)} name(s) near popular ones, judged "
                f"without their project links and summary: {', '.join(sorted(failed)[:3])}"
                + (" and more" if len(failed) > 3 else ""))
        return out

    @staticmethod
    def _metadata_base(ctx: AuditContext) -> str | None:
        """The index JSON API beside the audit's first index (every audit that reaches the index asks it, for
        names at ``JSON_FLOOR`` or more; an index without the API answers 404 and the facts stay missing)."""
        if ctx.options.offline:
            return None
        first = ctx.index_urls[0] if ctx.index_urls else ctx.options.index_url
        return json_api_base(first) if first else None

    @staticmethod
    def _record_sources(ctx: AuditContext, n_pypi: int, n_hf: int) -> None:
        names = {d.name for d in ctx.report.data_sources}
        if "popular PyPI projects" not in names:
            ctx.report.data_sources.append(DataSource(
                name="popular PyPI projects", source=f"{TOP_PYPI_FILE} (hugovk/top-pypi-packages, 30-day downloads)",
                date=POPULARITY_DATE, records=n_pypi))
        if "popular Hugging Face orgs" not in names:
            ctx.report.data_sources.append(DataSource(
                name="popular Hugging Face orgs", source=f"{HF_ORGS_FILE} (references in HF-ecosystem repositories)",
                date="2026-11-23", records=n_hf))
        if "typosquat score model" not in names:
            model = default_model()
            ctx.report.data_sources.append(DataSource(
                name="typosquat score model", source=f"{MODEL_FILE} (logistic regression, fitted on the dev sets)",
                date=str(model.meta.get("fitted", "")) or None, records=len(model.coefficients)))


MAX_LOOKUPS = 8  # index look-ups under way at once (one per candidate name)
# JSON API look-ups (links, summary; the candidate's and its target's document) only from this name score up
# (the context floor: below it nothing moves the score; bench/typosquat.py counts the look-ups per lockfile)
JSON_FLOOR = CONTEXT_FLOOR
PAGE_SOURCE = "index project page"


def popular_requirers(report: Report, popular: Mapping[str, int]) -> dict[str, list[str]]:
    """Graph node -> the popular packages in this report whose dependency tree brings it in (edges from package
    metadata or a lockfile, never the root's own requirements).

    A popular project vouches for what it requires, and what it requires vouches for its own requirements in turn
    (``openai -> httpx2 -> httpcore2``): a squat reaches such a place only if a package on the way was
    compromised, which is the malicious check's business, not a name's. A name the root requires directly is
    vouched for only when a popular package requires it too.
    """
    by_node = {p.node_id: p for p in report.packages.values()}
    children: dict[str, list[str]] = {}
    for edge in report.edges:
        if edge.parent in by_node and edge.child in by_node and edge.child != edge.parent:
            children.setdefault(edge.parent, []).append(edge.child)
    out: dict[str, list[str]] = {}
    roots = sorted((p for p in by_node.values() if p.name in popular), key=lambda p: popular[p.name])
    for top in roots:
        seen = {top.node_id}
        queue = list(children.get(top.node_id, ()))
        while queue:
            node = queue.pop()
            if node in seen:
                continue
            seen.add(node)
            names = out.setdefault(node, [])
            if top.name not in names:
                names.append(top.name)
            if by_node[node].name not in popular:  # a popular child vouches for its own tree as a root
                queue.extend(children.get(node, ()))
    return out


LOCAL_SOURCES = ("workspace member", "path:", "directory:")


def is_local(pkg: Package) -> bool:
    """A lockfile's workspace member or local path: the project's own code, installed from disk, never fetched
    from an index by its name, so its name cannot be a typosquat (a missing public name is the confusion check's)."""
    return (pkg.origin or "").startswith(LOCAL_SOURCES)


def page_facts(ctx: AuditContext, pkg: Package) -> NameContext:
    """First upload and release count from the package's project page on its index (the run's shared page
    cache: the hash and provenance checks read the same page, and nothing is fetched twice)."""
    try:
        page = find_page(ctx, pkg)
    except NetworkError as exc:
        ctx.incomplete(ItemKind.CHECK, f"typosquat metadata for {pkg.name}", f"index page not read: {exc}")
        return NameContext(missing=(f"first upload, release count: the index page could not be read ({exc})",))
    if page is None:
        return NameContext(missing=("first upload, release count: the index has no page for it",))
    times: list[dt.datetime] = []
    for f in page.files:
        if f.project == page.name and f.upload_time:
            try:
                times.append(dt.datetime.fromisoformat(f.upload_time.replace("Z", "+00:00")))
            except ValueError:
                continue
    wheels = any(f.filename.endswith(".whl") for f in page.files if f.project == page.name)
    return context_from_uploads(times, len(page.versions()), source=PAGE_SOURCE, has_wheels=wheels)


CHECK = TyposquatCheck()

__all__ = ["CHECK", "RULE_HF", "RULE_PYPI", "TyposquatCheck", "assess_name", "hf_org_of", "severity_for"]

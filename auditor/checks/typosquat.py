"""Check: does any audited package name, or the org of any model/dataset reference, imitate a popular one?

Runs offline on the shipped popularity lists and the fitted score. Facts about a candidate's own record move its
score (``NameContext``, see auditor/typosquat/context.py): with ``--online`` they come from the index's JSON API
(first upload, releases, links; a 404 while the target is known means the index does not have the name), and a
caller that already knows something (the resolver: "not on the index") passes it to ``findings``. Severity: high
when the score is >= HIGH_THRESHOLD (0.8), medium otherwise (documented in data/README.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields, replace

from auditor.domain import DataSource, Finding, ModelRef, Package, Severity, canonical_name
from auditor.kinds import FindingKind, Rule
from auditor.ledger import ItemKind
from auditor.options import AuditContext
from auditor.policy import Policy
from auditor.typosquat import HIGH_THRESHOLD, NameContext, TyposquatResult, apply_context, hf_detector, pypi_detector
from auditor.typosquat.context import CONTEXT_FLOOR
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


def package_finding(pkg: Package, result: TyposquatResult) -> Finding:
    return Finding(
        kind=FindingKind.TYPOSQUAT,
        id=RULE_PYPI,
        severity=severity_for(result.score),
        message=f"'{pkg.name}' looks like '{result.target}' ({result.technique}: {_technique_word(result)})",
        package=(pkg.name, pkg.version),
        location=pkg.location,
        evidence={"target": result.target, "score": result.score, "reasons": list(result.reasons),
                  "target_rank": result.target_rank, "technique": result.technique},
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
        evidence={"target": result.target, "score": result.score, "reasons": list(result.reasons),
                  "target_rank": result.target_rank, "technique": result.technique, "org": org},
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
        about them (merged with the JSON API's facts under ``--online``; the caller's facts win)."""
        policy = ctx.options.policy or Policy()
        known = {canonical_name(k): v for k, v in (contexts or {}).items()}
        findings: list[Finding] = []
        detector = pypi_detector(policy.typosquat_allowlist)
        hf = hf_detector(policy.hf_org_allowlist)
        self._record_sources(ctx, len(detector.popular), len(hf.popular))
        meta_base = self._metadata_base(ctx)
        detector.prefetch(pkg.name for pkg in ctx.report.packages.values())
        for pkg in list(ctx.report.packages.values()):
            result = detector.check(pkg.name)
            if result.candidate and result.score >= CONTEXT_FLOOR:
                context = known.get(canonical_name(pkg.name))
                if meta_base and (context is None or context.on_index is not False):
                    lookup = collect(ctx.http, meta_base, pkg.name, result.candidate)
                    if lookup.context is not None:
                        context = _merge(lookup.context, context)
                    elif lookup.note:
                        ctx.incomplete(ItemKind.CHECK, f"typosquat metadata for {pkg.name}", lookup.note)
                result = apply_context(result, context)
            if result.flagged and result.target:
                findings.append(package_finding(pkg, result))
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

    @staticmethod
    def _metadata_base(ctx: AuditContext) -> str | None:
        if not ctx.options.online or ctx.options.offline:
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


def _merge(fetched: NameContext, given: NameContext | None) -> NameContext:
    """The JSON API's facts, overridden field by field by what the caller already knew."""
    if given is None:
        return fetched
    overrides = {f.name: getattr(given, f.name) for f in fields(given) if getattr(given, f.name) not in (None, "")}
    return replace(fetched, **overrides)


CHECK = TyposquatCheck()

__all__ = ["CHECK", "RULE_HF", "RULE_PYPI", "TyposquatCheck", "assess_name", "hf_org_of", "severity_for"]

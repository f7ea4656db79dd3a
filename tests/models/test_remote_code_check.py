"""The models check turns remote-code sites into findings: per model, and per place that loads any model."""

from __future__ import annotations

from auditor.checks.hubmodels import CHECK
from auditor.domain import Location, ModelRef, RemoteCodeSite, Severity
from auditor.kinds import FindingKind, Rule
from tests.models.conftest import make_ctx


def test_run_time_sites_and_guarded_models() -> None:
    ctx = make_ctx(offline=True)
    guarded = Location("train.py", 18)
    ctx.report.models = [ModelRef("acme-ai/mpt-7b", location=guarded, origin="code", trust_remote_code=True)]
    ctx.report.remote_code_sites = [
        RemoteCodeSite(location=guarded, models=["acme-ai/mpt-7b"], guards=["'mpt' in args.model"],
                       because="trust_remote_code=True", function="train"),
        RemoteCodeSite(location=Location("loader.py", 40), runtime="any model chosen at run time (path)",
                       guards=["'chatglm' in path.lower()"], because="trust_remote_code=True",
                       function="Adapter.load", lines=[41]),
        RemoteCodeSite(location=Location("serve.py", 9), runtime="any model chosen at run time (name)",
                       because="cfg['trust'] is computed at run time", bounded=False),
    ]
    found = [f for f in CHECK.run(ctx) if f.kind is FindingKind.TRUST_REMOTE_CODE]
    by_where = {str(f.location): f for f in found}
    model = by_where["train.py:18"]
    assert model.model == ("acme-ai/mpt-7b", None) and model.severity is Severity.HIGH
    assert "when 'mpt' in args.model" in model.message
    adapter = by_where["loader.py:40"]
    assert adapter.id == Rule.MODEL_REMOTE_CODE and adapter.severity is Severity.HIGH and adapter.path == "loader.py"
    assert adapter.message.startswith("Adapter.load() loads any model chosen at run time (path) with remote code on")
    assert "when 'chatglm' in path.lower()" in adapter.message
    assert "also lines 41" in adapter.message and adapter.evidence["guards"] == ["'chatglm' in path.lower()"]
    unbounded = by_where["serve.py:9"]
    assert unbounded.severity is Severity.MEDIUM and "computed at run time" in unbounded.message
    assert len(found) == 3


def test_sites_without_models_need_no_model_references() -> None:
    ctx = make_ctx(offline=True)
    ctx.report.remote_code_sites = [RemoteCodeSite(location=Location("s.py", 3), runtime="any model chosen at "
                                                   "run time (x)", because="trust_remote_code=True")]
    (finding,) = CHECK.run(ctx)
    assert finding.kind is FindingKind.TRUST_REMOTE_CODE and finding.location == Location("s.py", 3)

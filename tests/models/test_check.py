"""The ``models`` check on references resolved against the fake Hub (and on the local cache)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.checks.hubmodels import CHECK
from auditor.domain import Finding, Location, ModelRef, Severity
from auditor.errors import ConfigError
from auditor.models.hub import resolve_models
from auditor.options import AuditContext
from tests.models.conftest import PICKLE_BYTES, make_ctx
from tests.models.fakehub import FakeHub, commit_of
from tests.models.hfcache import write_cached_repo


def _run(ctx: AuditContext) -> dict[tuple[str, str], Finding]:
    resolve_models(ctx.report.models, ctx)
    findings = list(CHECK.run(ctx))
    return {(f.id, f.model[0] if f.model else ""): f for f in findings}


def test_findings_for_a_resolved_chain(fake_hub: FakeHub, tmp_path: Path) -> None:
    ctx = make_ctx(project_dir=str(tmp_path))
    ctx.report.root_metadata = {"license": "MIT"}
    line = Location("train.py", 7)
    ctx.report.models += [ModelRef("acme-ai/chat-7b", revision="v1.0", location=line, origin="code",
                                   trust_remote_code=True),
                          ModelRef("acme-ai/missing", location=Location("train.py", 9), origin="code"),
                          ModelRef("acme-ai/taken-down", location=Location("train.py", 11), origin="code"),
                          ModelRef("acme-ai/root-model", revision=commit_of("acme-ai/root-model"), origin="manifest")]
    found = _run(ctx)

    unpinned = found[("MLA-MODEL-UNPINNED", "acme-ai/chat-7b")]
    assert unpinned.kind == "unpinned-revision" and unpinned.severity is Severity.LOW
    assert unpinned.location == line and unpinned.fix == f'pin revision="{"2" * 40}"'
    assert ("MLA-MODEL-UNPINNED", "acme-ai/root-model") not in found  # pinned to a commit
    assert ("MLA-MODEL-UNPINNED", "acme-ai/base-7b") not in found  # reached via the Hub, not the project's choice

    remote = found[("MLA-MODEL-REMOTE-CODE", "acme-ai/chat-7b")]
    assert remote.kind == "trust-remote-code" and remote.severity is Severity.HIGH
    custom = found[("MLA-MODEL-CUSTOM-CODE", "acme-ai/base-7b")]
    assert custom.severity is Severity.INFO and custom.evidence["code_files"] == ["modeling_base.py"]

    pickle = found[("MLA-MODEL-PICKLE-ONLY", "acme-ai/chat-7b")]
    assert pickle.kind == "unsafe-model" and pickle.severity is Severity.LOW
    assert pickle.evidence["files"] == ["pytorch_model.bin"]
    assert ("MLA-MODEL-PICKLE-ONLY", "acme-ai/base-7b") not in found  # has a safetensors twin

    disabled = found[("MLA-MODEL-DISABLED", "acme-ai/taken-down")]
    assert disabled.kind == "model-disabled" and disabled.severity is Severity.HIGH
    missing = found[("MLA-MODEL-NOT-FOUND", "acme-ai/missing")]
    assert missing.kind == "model-not-found" and missing.location == Location("train.py", 9)

    conflict = found[("MLA-MODEL-LICENSE-CONFLICT", "acme-ai/base-7b")]
    assert conflict.severity is Severity.MEDIUM and "cc-by-nc-4.0" in conflict.message
    assert "via acme-ai/chat-7b" in conflict.message and conflict.location == line
    assert ("MLA-MODEL-LICENSE-CONFLICT", "acme-ai/corpus") not in found  # cc-by-4.0 allows it
    assert not [k for k in found if k[0] == "MLA-MODEL-NO-LICENSE"]


def test_pinned_remote_code_is_medium_and_research_use_has_no_conflict(fake_hub: FakeHub, tmp_path: Path) -> None:
    (tmp_path / "mlaudit.toml").write_text('model-use = "research"\n')
    ctx = make_ctx(project_dir=str(tmp_path))
    ctx.report.root_metadata = {"license": "Apache-2.0"}
    ctx.report.models.append(ModelRef("acme-ai/base-7b", revision=commit_of("acme-ai/base-7b"),
                                      trust_remote_code=True))
    found = _run(ctx)
    assert found[("MLA-MODEL-REMOTE-CODE", "acme-ai/base-7b")].severity is Severity.MEDIUM
    assert not [k for k in found if k[0] == "MLA-MODEL-LICENSE-CONFLICT"]


def test_no_project_licence_no_licence_verdict(fake_hub: FakeHub, tmp_path: Path) -> None:
    ctx = make_ctx(project_dir=str(tmp_path))
    ctx.report.models.append(ModelRef("acme-ai/base-7b"))
    assert not [k for k in _run(ctx) if k[0] == "MLA-MODEL-LICENSE-CONFLICT"]


def test_missing_licence_and_cached_pickle_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    write_cached_repo(tmp_path / "hf" / "hub", "acme-ai/nolicense", {
        "README.md": b"---\ntags: [x]\n---\n", "model.pt": PICKLE_BYTES, "training_args.bin": PICKLE_BYTES})
    ctx = make_ctx(offline=True, project_dir=str(tmp_path))
    ctx.report.models.append(ModelRef("acme-ai/nolicense", revision=commit_of("acme-ai/nolicense")))
    found = _run(ctx)
    assert found[("MLA-MODEL-NO-LICENSE", "acme-ai/nolicense")].severity is Severity.LOW
    pickle = found[("MLA-MODEL-PICKLE-ONLY", "acme-ai/nolicense")]
    assert pickle.evidence["files"] == ["model.pt"] and "local cache" in pickle.message


def test_bad_model_use_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "mlaudit.toml").write_text('fail-on = "high"\nmodel-use = "sometimes"\n')
    ctx = make_ctx(project_dir=str(tmp_path))
    ctx.report.models.append(ModelRef("acme-ai/x"))
    with pytest.raises(ConfigError) as info:
        list(CHECK.run(ctx))
    assert info.value.line == 2 and info.value.exit_code == 2


def test_require_safetensors_raises_pickle_only(fake_hub: FakeHub, tmp_path: Path) -> None:
    from auditor.policy import Policy, apply_policy

    ctx = make_ctx(project_dir=str(tmp_path))
    ctx.report.models.append(ModelRef("acme-ai/chat-7b", revision="v1.0"))
    resolve_models(ctx.report.models, ctx)
    ctx.report.findings = list(CHECK.run(ctx))
    apply_policy(ctx.report, Policy(require_safetensors=True))
    pickle = next(f for f in ctx.report.findings if f.id == "MLA-MODEL-PICKLE-ONLY")
    assert pickle.severity is Severity.HIGH and "require-safetensors" in pickle.message
    unpinned = next(f for f in ctx.report.findings if f.id == "MLA-MODEL-UNPINNED")
    assert unpinned.severity is Severity.LOW

"""Real audits of a project that references a model on the Hub (``HF_ENDPOINT`` pointing at the fault).

The project is locked (no resolver), so the only service asked is the Hub; every fault must end in exit 3
naming "Hugging Face Hub" and the host, or in a report that is ``complete: false`` naming the model.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.net import host_of
from tests.faults.harness import ALL_FAULTS, assert_not_silently_clean, run_cli, serve_fault
from tests.support.httpserver import LoopbackServer

pytest.importorskip("auditor.models.hub")
from tests.models.conftest import standard_repos  # noqa: E402
from tests.models.fakehub import FakeHub, commit_of  # noqa: E402

pytestmark = pytest.mark.usefixtures("fast_retries")

COMMON = ["--format", "json", "--timeout", "0.5", "--fail-on", "critical", "-q"]


def healthy_hub(srv: LoopbackServer) -> None:
    FakeHub(srv, standard_repos())


def model_project(tmp_path: Path) -> Path:
    project = tmp_path / "ml"
    project.mkdir()
    (project / "requirements.txt").write_text("numpy==1.26.4\n    # via -r requirements.in\n")  # a lock
    (project / "train.py").write_text(
        "from transformers import AutoModel\n"
        "model = AutoModel.from_pretrained('acme-ai/root-model', revision='main')\n")
    return project


@pytest.fixture
def hub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")


def test_hub_control_resolves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub_env: None) -> None:
    with LoopbackServer() as srv:
        healthy_hub(srv)
        monkeypatch.setenv("HF_ENDPOINT", srv.url)
        outcome = run_cli([str(model_project(tmp_path)), *COMMON])
    assert outcome.code == 0, outcome.err
    report = outcome.report
    assert report is not None and report["complete"] is True, report and report["skipped"]
    (model,) = [m for m in report["models"] if m["repo_id"] == "acme-ai/root-model"]
    assert model.get("resolved_revision") == commit_of("acme-ai/root-model"), model


HUB_FAULTS = [f for f in ALL_FAULTS if f != "redirect-other-host"]


@pytest.mark.parametrize("fault", HUB_FAULTS)
def test_hub_fault(fault: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub_env: None) -> None:
    project = model_project(tmp_path)
    with serve_fault(fault, healthy_hub, tmp_path / "tls") as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        outcome = run_cli([str(project), *COMMON])
    assert_not_silently_clean(outcome, "Hugging Face Hub", host_of(url), subject="acme-ai/root-model")


def test_hub_redirect_to_another_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub_env: None) -> None:
    """Documented behaviour: huggingface_hub (the client the audited code itself uses) follows the redirect, like
    ``from_pretrained`` would; the audit then reports exactly what that other host serves (here the same repo at
    the same commit), so a clean result is a true one. A refusal (exit 3 naming the Hub) is accepted as well."""
    project = model_project(tmp_path)
    with serve_fault("redirect-other-host", healthy_hub, tmp_path / "tls") as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        outcome = run_cli([str(project), *COMMON])
    if outcome.code == 3:
        assert_not_silently_clean(outcome, "Hugging Face Hub", host_of(url), subject="acme-ai/root-model")
        return
    report = outcome.report
    assert outcome.code == 0 and report is not None and report["complete"] is True, outcome.err
    (model,) = [m for m in report["models"] if m["repo_id"] == "acme-ai/root-model"]
    assert model.get("resolved_revision") == commit_of("acme-ai/root-model"), model

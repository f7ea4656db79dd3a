"""Hub resolution against a fake Hub on loopback, and offline resolution from a code-built HF cache."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from auditor.domain import ROOT_NODE, Location, ModelRef
from auditor.errors import NetworkError
from auditor.models.hub import resolve_models, state_of
from tests.models.conftest import PICKLE_BYTES, make_ctx
from tests.models.fakehub import FakeHub, commit_of
from tests.models.hfcache import write_cached_repo
from tests.support.httpserver import closed_port_url


def _models(ctx):  # type: ignore[no-untyped-def]
    return {(m.repo_id, m.kind): m for m in ctx.report.models}


def test_resolves_commit_files_licence_and_chain(fake_hub: FakeHub) -> None:
    ctx = make_ctx()
    ref = ModelRef("acme-ai/chat-7b", revision="v1.0", location=Location("train.py", 3), origin="code")
    ctx.report.models.append(ref)
    edges = resolve_models(ctx.report.models, ctx)

    assert ref.resolved_revision == "2" * 40
    assert ref.license == "apache-2.0" and ref.gated is False
    files = {f.path: f for f in ref.files}
    assert files["pytorch_model.bin"].size == len(PICKLE_BYTES)
    assert files["pytorch_model.bin"].sha256 == hashlib.sha256(PICKLE_BYTES).hexdigest()
    assert files["config.json"].sha256 is None  # not LFS: the Hub gives no sha256
    assert ref.base_models == ["acme-ai/base-7b"] and ref.datasets == ["acme-ai/corpus"]

    models = _models(ctx)
    base = models[("acme-ai/base-7b", "model")]
    assert base.via == "acme-ai/chat-7b" and base.origin == "hub" and base.license == "cc-by-nc-4.0"
    assert base.resolved_revision == commit_of("acme-ai/base-7b")
    root_model = models[("acme-ai/root-model", "model")]
    assert root_model.via == "acme-ai/base-7b" and root_model.license == "mit"  # licence from the tags
    corpus = models[("acme-ai/corpus", "dataset")]
    assert corpus.via == "acme-ai/chat-7b" and corpus.license == "cc-by-4.0"

    pairs = {(e.parent, e.child, e.origin) for e in edges}
    assert (ROOT_NODE, "hf-model:acme-ai/chat-7b", "code") in pairs
    assert ("hf-model:acme-ai/chat-7b", "hf-model:acme-ai/base-7b", "hub") in pairs
    assert ("hf-model:acme-ai/base-7b", "hf-model:acme-ai/root-model", "hub") in pairs
    assert ("hf-model:acme-ai/chat-7b", "hf-dataset:acme-ai/corpus", "hub") in pairs
    assert not [e for e in edges if e.parent == ROOT_NODE and "base-7b" in e.child]

    state = state_of(ctx)
    assert state.auto_map[("acme-ai/base-7b", "model", None)] == ["AutoModel"]
    api_calls = fake_hub.server.requests_to("/api/")
    assert {r.path for r in api_calls} == {
        "/api/models/acme-ai/chat-7b/revision/v1.0", "/api/models/acme-ai/base-7b/revision/main",
        "/api/models/acme-ai/root-model/revision/main", "/api/datasets/acme-ai/corpus/revision/main"}
    assert all(r.query.get("blobs") == ["true"] for r in api_calls)
    assert not fake_hub.server.requests_to("/acme-ai/")  # nothing downloaded without --fetch-models


def test_missing_gated_and_bad_revision(fake_hub: FakeHub) -> None:
    ctx = make_ctx()
    ctx.report.models += [ModelRef("acme-ai/missing", location=Location("t.py", 1)),
                          ModelRef("acme-ai/gated", location=Location("t.py", 2)),
                          ModelRef("acme-ai/chat-7b", revision="no-such-branch", location=Location("t.py", 3))]
    resolve_models(ctx.report.models, ctx)
    state = state_of(ctx)
    assert state.status[("acme-ai/missing", "model", None)] == "not-found"
    assert state.status[("acme-ai/gated", "model", None)] == "gated"
    assert state.status[("acme-ai/chat-7b", "model", "no-such-branch")] == "no-revision"
    reasons = {(s.file, s.line): s.reason for s in ctx.report.skipped}
    assert "gated" in reasons[("t.py", 2)] and "no-such-branch" in reasons[("t.py", 3)]
    assert [s.line for s in ctx.report.skipped] == [2, 3]  # reference order, though resolved concurrently
    assert not ctx.report.complete


def test_fetch_models_downloads_unsafe_formats_into_the_cache(fake_hub: FakeHub, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    ctx = make_ctx(fetch_models=True)
    ctx.report.models.append(ModelRef("acme-ai/base-7b"))
    resolve_models(ctx.report.models, ctx)
    base = _models(ctx)[("acme-ai/base-7b", "model")]
    files = {f.path: f for f in base.files}
    pickle_file = files["pytorch_model.bin"]
    assert pickle_file.local_path is not None
    assert Path(pickle_file.local_path).read_bytes() == PICKLE_BYTES
    assert str(tmp_path / "hf" / "hub") in pickle_file.local_path
    assert files["model.safetensors"].local_path is None  # safe format: not fetched
    assert base.local_path is not None and Path(base.local_path).is_dir()
    downloads = [r.path for r in fake_hub.server.log if "/resolve/" in r.path]
    assert downloads and all(p.endswith("pytorch_model.bin") for p in downloads)
    assert state_of(ctx).hash_mismatches == []


def test_offline_uses_the_local_cache_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_ENDPOINT", closed_port_url())  # any request would fail loudly
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    card = b"---\nlicense: openrail\nbase_model: acme-ai/cached-base\ndatasets: [acme-ai/cached-data]\n---\n# x\n"
    snapshot = write_cached_repo(cache, "acme-ai/cached", {
        "README.md": card, "config.json": b'{"auto_map": {"AutoModel": "m.M"}}', "pytorch_model.bin": PICKLE_BYTES,
        "m.py": b"x = 1\n"})
    write_cached_repo(cache, "acme-ai/cached-base", {"model.safetensors": b"st"}, branch="main")
    ctx = make_ctx(offline=True)
    ref = ModelRef("acme-ai/cached", location=Location("train.py", 4))
    other = ModelRef("acme-ai/not-cached", location=Location("train.py", 5))
    ctx.report.models += [ref, other]
    edges = resolve_models(ctx.report.models, ctx)

    assert ref.resolved_revision == commit_of("acme-ai/cached")
    assert ref.local_path == str(snapshot) and ref.license == "openrail"
    files = {f.path: f for f in ref.files}
    assert files["pytorch_model.bin"].sha256 == hashlib.sha256(PICKLE_BYTES).hexdigest()
    assert files["pytorch_model.bin"].local_path == str(snapshot / "pytorch_model.bin")
    assert files["config.json"].sha256 is None
    models = _models(ctx)
    assert models[("acme-ai/cached-base", "model")].resolved_revision == commit_of("acme-ai/cached-base")
    assert models[("acme-ai/cached-data", "dataset")].via == "acme-ai/cached"
    assert ("hf-model:acme-ai/cached", "hf-dataset:acme-ai/cached-data") in {(e.parent, e.child) for e in edges}
    state = state_of(ctx)
    assert state.auto_map[("acme-ai/cached", "model", None)] == ["AutoModel"]
    assert state.status[("acme-ai/not-cached", "model", None)] == "not-cached"
    not_cached = [s for s in ctx.report.skipped if s.requirement == "acme-ai/not-cached"]
    assert not_cached and not_cached[0].line == 5 and "local Hugging Face cache" in not_cached[0].reason


@pytest.mark.parametrize(("name", "body", "what"), [
    ("README.md", b"---\nlicense: [unclosed\n---\n", "model card"),
    ("config.json", b"{not json", "config.json"),
])
def test_offline_broken_cached_metadata_is_a_gap_not_an_empty_card(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, body: bytes, what: str) -> None:
    """A cached card or config that cannot be read means lineage/licence or custom code went unchecked: the
    report says so (incomplete) instead of treating it as a card without them."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("HF_ENDPOINT", closed_port_url())
    write_cached_repo(tmp_path / "c", "acme-ai/broken", {name: body, "model.safetensors": b"st"})
    ctx = make_ctx(offline=True)
    ctx.report.models.append(ModelRef("acme-ai/broken", location=Location("train.py", 7)))
    resolve_models(ctx.report.models, ctx)
    gaps = [s for s in ctx.report.skipped if s.requirement == "acme-ai/broken"]
    assert len(gaps) == 1 and what in (gaps[0].reason or "") and "unreadable" in (gaps[0].reason or "")
    assert gaps[0].line == 7 and not ctx.report.complete


def test_offline_dangling_cache_links_are_gaps_not_missing_files(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A snapshot link whose blob was removed (``huggingface-cli delete-cache``, a pruned cache) is a file of the
    repo whose bytes are not here: said at every place that loads the model, never a silently shorter file list."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("HF_ENDPOINT", closed_port_url())
    snapshot = write_cached_repo(tmp_path / "c", "acme-ai/pruned", {"model.safetensors": b"st",
                                                                    "pytorch_model.bin": PICKLE_BYTES})
    (snapshot / "pytorch_model.bin").resolve().unlink()
    ctx = make_ctx(offline=True)
    ctx.report.models.append(ModelRef("acme-ai/pruned", location=Location("train.py", 7),
                                      more_locations=[Location("serve.py", 3)]))
    resolve_models(ctx.report.models, ctx)
    (ref,) = ctx.report.models
    assert [f.path for f in ref.files] == ["model.safetensors"]
    gaps = [s for s in ctx.report.skipped if s.requirement == "acme-ai/pruned"]
    assert sorted((s.file, s.line) for s in gaps) == [("serve.py", 3), ("train.py", 7)]
    assert all("pytorch_model.bin" in (s.reason or "") and "removed from the cache" in (s.reason or "")
               for s in gaps)
    assert not ctx.report.complete


def test_offline_pinned_commit_and_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "c"))
    sha = "a" * 40
    write_cached_repo(tmp_path / "c", "acme-ai/tagged", {"model.safetensors": b"st"}, branch="v2", commit=sha)
    ctx = make_ctx(offline=True)
    by_tag, by_sha = ModelRef("acme-ai/tagged", revision="v2"), ModelRef("acme-ai/tagged", revision=sha)
    ctx.report.models += [by_tag, by_sha]
    resolve_models(ctx.report.models, ctx)
    assert by_tag.resolved_revision == sha and by_sha.resolved_revision == sha
    assert ctx.report.skipped == ()


def test_hub_unreachable_is_a_network_error_naming_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    url = closed_port_url()
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    ctx = make_ctx()
    ctx.report.models.append(ModelRef("acme-ai/chat-7b"))
    with pytest.raises(NetworkError) as info:
        resolve_models(ctx.report.models, ctx)
    assert info.value.exit_code == 3
    assert info.value.host == url.split("//", 1)[1] and info.value.service == "Hugging Face Hub"


def test_hub_server_errors_are_retried_then_fail(fake_hub: FakeHub) -> None:
    fake_hub.fail_status = 503
    ctx = make_ctx()
    ctx.report.models.append(ModelRef("acme-ai/chat-7b"))
    with pytest.raises(NetworkError) as info:
        resolve_models(ctx.report.models, ctx)
    assert "503" in str(info.value) and "after 2 attempts" in str(info.value)
    assert len(fake_hub.server.requests_to("/api/models/")) == 2


def test_hub_offline_env_means_cache_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_ENDPOINT", closed_port_url())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ctx = make_ctx()
    ctx.report.models.append(ModelRef("acme-ai/chat-7b"))
    resolve_models(ctx.report.models, ctx)
    assert state_of(ctx).status[("acme-ai/chat-7b", "model", None)] == "not-cached"


def test_fetched_file_that_differs_from_the_hub_sha256_is_critical(fake_hub: FakeHub, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.checks.hubmodels import CHECK

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    listed = hashlib.sha256(PICKLE_BYTES).hexdigest()
    fake_hub.corrupt[listed] = b"\x80\x02N." + b"." * (len(PICKLE_BYTES) - 4)  # same size, other bytes
    ctx = make_ctx(fetch_models=True)
    ctx.report.models.append(ModelRef("acme-ai/base-7b", location=Location("t.py", 1)))
    resolve_models(ctx.report.models, ctx)
    (mismatch,) = state_of(ctx).hash_mismatches
    assert mismatch[1] == "pytorch_model.bin" and mismatch[2] == listed
    findings = [f for f in CHECK.run(ctx) if f.kind == "hash-mismatch"]
    assert len(findings) == 1 and findings[0].severity.value == "critical"
    assert findings[0].path is not None and findings[0].path.endswith("pytorch_model.bin")


def test_garbage_hub_answer_is_a_network_error(fake_hub: FakeHub) -> None:
    from tests.support.httpserver import Response

    fake_hub.server.route("GET", r"/api/models/acme-ai/chat-7b/revision/main",
                          lambda _r: Response(200, b'{"truncated": ', {"Content-Type": "application/json"}))
    ctx = make_ctx()
    ctx.report.models.append(ModelRef("acme-ai/chat-7b"))
    with pytest.raises(NetworkError) as info:
        resolve_models(ctx.report.models, ctx)
    assert "unexpected response" in str(info.value)


@pytest.mark.parametrize("body", [b'[]', b'{"siblings": 5}', b'{"id": null, "sha": 7, "siblings": [5]}'])
def test_an_answer_outside_the_clients_api_is_not_an_outage(fake_hub: FakeHub, body: bytes) -> None:
    """JSON of the wrong shape makes the client library raise TypeError/KeyError/AttributeError: reported as the
    client's API (or the Hub's protocol) having changed, naming the library and its version -- not as "the Hub
    failed", which would send the user to check a service that is up."""
    from auditor.errors import ClientApiError
    from tests.support.httpserver import Response

    fake_hub.server.route("GET", r"/api/models/acme-ai/chat-7b/revision/main",
                          lambda _r: Response(200, body, {"Content-Type": "application/json"}))
    ctx = make_ctx()
    ctx.report.models.append(ModelRef("acme-ai/chat-7b"))
    with pytest.raises(ClientApiError) as info:
        resolve_models(ctx.report.models, ctx)
    text = str(info.value)
    assert "Hugging Face Hub client (huggingface_hub " in text and "not an outage" in text
    assert not isinstance(info.value, NetworkError)


def test_invalid_ids_from_a_remote_card_are_not_followed(fake_hub: FakeHub) -> None:
    from tests.models.fakehub import FakeRepo

    fake_hub.repos[("model", "acme-ai/odd-card")] = FakeRepo(
        "acme-ai/odd-card", card={"license": "mit", "base_model": ["../../etc/passwd", "a/b/c", "acme-ai/root-model"]})
    ctx = make_ctx()
    ref = ModelRef("acme-ai/odd-card")
    ctx.report.models.append(ref)
    resolve_models(ctx.report.models, ctx)
    assert ref.base_models == ["acme-ai/root-model"]


def test_cross_repo_auto_map_is_a_model_graph_edge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``auto_map`` naming ``other-org/repo--modeling.Model``: that repository's code runs on load, so it is a
    dependency of the model (resolved like a base model, marked trust_remote_code)."""
    cache = tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_ENDPOINT", closed_port_url())
    config = (b'{"auto_map": {"AutoConfig": "acme-ai/cached--configuration.C", '
              b'"AutoModel": "other-org/code-repo--modeling.Model", '
              b'"AutoTokenizer": ["third-org/tok@v2--tokenization.T", null]}}')
    write_cached_repo(cache, "acme-ai/cached", {"config.json": config, "model.safetensors": b"st"})
    write_cached_repo(cache, "other-org/code-repo", {"modeling.py": b"x = 1\n"}, branch="main")
    ctx = make_ctx(offline=True)
    ref = ModelRef("acme-ai/cached", location=Location("train.py", 4))
    ctx.report.models.append(ref)
    edges = resolve_models(ctx.report.models, ctx)
    assert ref.code_repos == ["other-org/code-repo", "third-org/tok"]  # its own repo is no edge
    models = _models(ctx)
    code = models[("other-org/code-repo", "model")]
    assert code.via == "acme-ai/cached" and code.trust_remote_code is True
    assert code.resolved_revision == commit_of("other-org/code-repo")
    pairs = {(e.parent, e.child, e.requirement) for e in edges}
    assert ("hf-model:acme-ai/cached", "hf-model:other-org/code-repo", "auto_map") in pairs
    assert ("hf-model:acme-ai/cached", "hf-model:third-org/tok", "auto_map") in pairs

"""Reference extraction from a code-built project tree (nothing in it is imported or run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.domain import ModelRef
from auditor.models.refs import MAX_PY_BYTES, find_model_refs, merge_refs
from tests.models.project import SHA, build_project


@pytest.fixture
def found(tmp_path: Path) -> tuple[dict[tuple[str, str | None], ModelRef], list, Path]:
    root = build_project(tmp_path / "proj")
    refs, skipped = find_model_refs(root)
    return {(r.repo_id, r.revision): r for r in refs}, skipped, root


def test_code_references_of_every_kind(found: tuple) -> None:
    refs, _, root = found
    expected_code = {
        ("acme-ai/base-7b", None), ("acme-ai/base-7b", "v1.0"), ("acme-ai/chat-7b", SHA),
        ("acme-ai/lora-adapter", None), ("acme-ai/classifier", None), ("acme-ai/classifier-tok", None),
        ("acme-ai/weights", None), ("acme-ai/corpus", None), ("acme-ai/reviews", None),
        ("sentence-transformers/all-MiniLM-L6-v2", None), ("acme-ai/diffusion", None), ("acme-ai/style-lora", None),
        ("acme-ai/vit-small", None), ("acme-ai/clip-vit", None), ("acme-ai/encoder", None),
        ("acme-ai/teacher", None), ("acme-ai/env-default", None), ("acme-ai/fstring-model", None),
        ("acme-ai/param-default", None), ("acme-ai/parquet-set", SHA),
    }
    code = {k for k, r in refs.items() if r.origin == "code"}
    assert code == expected_code
    base = refs[("acme-ai/base-7b", "v1.0")]
    assert base.trust_remote_code is True
    assert base.location is not None and base.location.file == str(root / "train.py")
    assert refs[("acme-ai/corpus", None)].kind == "dataset"
    assert refs[("acme-ai/reviews", None)].kind == "dataset"
    assert refs[("acme-ai/parquet-set", SHA)].kind == "dataset"
    assert refs[("acme-ai/weights", None)].kind == "model"


def test_lines_point_at_the_loader_call(found: tuple) -> None:
    refs, _, root = found
    lines = (root / "train.py").read_text().splitlines()
    for key in [("acme-ai/base-7b", "v1.0"), ("acme-ai/lora-adapter", None), ("acme-ai/teacher", None)]:
        ref = refs[key]
        assert ref.location is not None and ref.location.line is not None
        assert "from_pretrained" in lines[ref.location.line - 1]


def test_not_hub_references(found: tuple) -> None:
    refs, _, _ = found
    names = {k[0] for k in refs}
    assert not {"acme-ai/demo-space", "csv", "resnet50", "./checkpoints/run1", "checkpoints/run1"} & names
    assert not {n for n in names if "venv" in n or "node-modules" in n}


def test_config_card_and_manifest_references(found: tuple) -> None:
    refs, _, root = found
    assert refs[("acme-ai/saved-from", None)].origin == "config.json"
    remote = refs[("acme-ai/remote-code", None)]
    assert remote.trust_remote_code is True and remote.origin == "config.json"
    adapter = refs[("acme-ai/adapter-base", SHA)]
    assert adapter.origin == "adapter_config.json"
    assert adapter.location is not None and adapter.location.line == 2
    card = refs[("acme-ai/card-base", None)]
    assert card.origin == "model-card" and card.location is not None and card.location.line == 3
    assert refs[("acme-ai/card-data-2", None)].kind == "dataset"
    manifest = refs[("acme-ai/manifest-model", SHA)]
    assert manifest.origin == "manifest" and manifest.location is not None
    assert manifest.location.file == str(root / "mlaudit.toml") and manifest.location.line == 4
    assert refs[("acme-ai/manifest-data", None)].kind == "dataset"
    assert refs[("acme-ai/table-model", "main")].trust_remote_code is True


def test_skipped_entries_for_what_cannot_be_read(found: tuple) -> None:
    _, skipped, root = found
    by_file = {(s.file, s.line): s.reason for s in skipped}
    assert any(f == str(root / "broken.py") and "syntax error" in r for (f, _), r in by_file.items())
    assert any(f == str(root / "mlaudit.toml") and "not a Hugging Face repo id" in r for (f, _), r in by_file.items())
    dynamic = [s for s in skipped if s.requirement == "user_input"]
    assert len(dynamic) == 1 and dynamic[0].line is not None


def test_oversized_and_non_utf8_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "big.py").write_text("x = 1\n" * (MAX_PY_BYTES // 6 + 10))
    (tmp_path / "latin.py").write_bytes(b"# \xe9\nAutoModel.from_pretrained('a/b')\n")
    refs, skipped = find_model_refs(tmp_path)
    assert refs == []
    reasons = {Path(s.file or "").name: s.reason for s in skipped}
    assert "larger than" in reasons["big.py"]
    assert "not UTF-8" in reasons["latin.py"]


def test_a_pipe_named_like_code_is_reported_not_read(tmp_path: Path) -> None:
    """A FIFO named train.py would block the reader for ever: it is listed as not read, and the walk goes on."""
    import os

    os.mkfifo(tmp_path / "train.py")
    (tmp_path / "infer.py").write_text('from transformers import AutoModel\nAutoModel.from_pretrained("acme/m")\n')
    refs, skipped = find_model_refs(tmp_path)
    assert [r.repo_id for r in refs] == ["acme/m"]
    assert [(s.file, "not a regular file" in (s.reason or "")) for s in skipped] == [(str(tmp_path / "train.py"), True)]


def test_merge_keeps_the_trust_remote_code_line() -> None:
    from auditor.domain import Location

    a = ModelRef("o/m", location=Location("t.py", 3))
    b = ModelRef("o/m", location=Location("t.py", 9), trust_remote_code=True)
    merged = merge_refs([a, b])
    assert len(merged) == 1 and merged[0].trust_remote_code is True
    assert merged[0].location == Location("t.py", 9)


def test_demo_project() -> None:
    demo = Path(__file__).resolve().parents[2] / "examples" / "demo"
    refs, skipped = find_model_refs(demo)
    by_id = {r.repo_id: r for r in refs}
    assert by_id["facebo0k/opt-350m"].trust_remote_code is True
    assert by_id["facebo0k/opt-350m"].revision is None
    assert by_id["stanfordnlp/imdb"].kind == "dataset" and by_id["stanfordnlp/imdb"].revision == "main"
    assert skipped == []


def test_notebook_code_cells(tmp_path: Path) -> None:
    import json

    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["AutoModel.from_pretrained('md/not-code')\n"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": ["%pip install transformers\n", "MODEL = 'acme-ai/nb-model'\n", "\n",
                    "m = AutoModel.from_pretrained(MODEL, trust_remote_code=True)\n"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": ["ds = load_dataset('acme-ai/nb-data')\n"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": ["def broken(:\n"]},
    ]
    text = json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)
    (tmp_path / "explore.ipynb").write_text(text)
    refs, skipped = find_model_refs(tmp_path)
    by_id = {r.repo_id: r for r in refs}
    assert set(by_id) == {"acme-ai/nb-model", "acme-ai/nb-data"}
    lines = text.splitlines()
    model = by_id["acme-ai/nb-model"]
    assert model.trust_remote_code is True and model.location is not None and model.location.line is not None
    assert "from_pretrained(MODEL" in lines[model.location.line - 1]
    data = by_id["acme-ai/nb-data"]
    assert data.kind == "dataset" and data.location is not None and data.location.line is not None
    assert "load_dataset" in lines[data.location.line - 1]
    assert [s for s in skipped if "syntax error" in s.reason] == []  # no loader call in the broken cell


def test_loading_a_downloaded_snapshot_is_not_a_run_time_reference(tmp_path: Path) -> None:
    (tmp_path / "dl.py").write_text(
        "from huggingface_hub import snapshot_download\n"
        "path = snapshot_download('acme-ai/snap', revision='" + SHA + "')\n"
        "model = AutoModel.from_pretrained(path)\n"
        "other = AutoModel.from_pretrained(snapshot_download('acme-ai/inline'))\n"
        "def f(user_path):\n"
        "    return AutoModel.from_pretrained(user_path)\n")
    refs, skipped = find_model_refs(tmp_path)
    assert {(r.repo_id, r.revision) for r in refs} == {("acme-ai/snap", SHA), ("acme-ai/inline", None)}
    assert [s.requirement for s in skipped] == ["user_path"]


def test_pipeline_without_model_is_recorded(tmp_path: Path) -> None:
    (tmp_path / "p.py").write_text("from transformers import pipeline\nclf = pipeline('sentiment-analysis')\n"
                                   "gen = pipeline(task='text-generation', model='acme-ai/gen')\n")
    refs, skipped = find_model_refs(tmp_path)
    assert [r.repo_id for r in refs] == ["acme-ai/gen"]
    assert len(skipped) == 1 and skipped[0].line == 2 and "default model" in skipped[0].reason


def test_wrapper_functions_are_followed_to_their_call_sites(tmp_path: Path) -> None:
    (tmp_path / "w.py").write_text(
        "from transformers import AutoModel\n"
        "ENCODER = 'acme-ai/encoder'\n"
        "def load(name, revision=None):\n"
        "    return AutoModel.from_pretrained(name, trust_remote_code=True)\n"
        "class Loader:\n"
        "    def get(self, repo):\n"
        "        return AutoModel.from_pretrained(repo)\n"
        "def unused(path):\n"
        "    return AutoModel.from_pretrained(path)\n"
        "a = load('acme-ai/wrapped')\n"
        "b = load(name=ENCODER)\n"
        "c = Loader().get('acme-ai/method')\n")
    refs, skipped = find_model_refs(tmp_path)
    by_id = {r.repo_id: r for r in refs}
    assert set(by_id) == {"acme-ai/wrapped", "acme-ai/encoder", "acme-ai/method"}
    assert by_id["acme-ai/wrapped"].location is not None and by_id["acme-ai/wrapped"].location.line == 10
    assert by_id["acme-ai/wrapped"].trust_remote_code is True  # the loader's own arguments come along
    assert by_id["acme-ai/method"].location is not None and by_id["acme-ai/method"].location.line == 12
    assert [(s.line, s.requirement) for s in skipped] == [(9, "path")]

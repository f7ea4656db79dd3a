"""Every loading call ends named at its own line (issue 23, silent drops of the real-repository corpus): a value
accounted for where a caller writes it, a call without a model argument, a file downloaded earlier and handed to
diffusers' ``from_single_file``, a registry load of a run-time name. Minimal reproductions written here; nothing is
imported or run.
"""

from __future__ import annotations

from pathlib import Path

from auditor.models.refs import ModelScan, scan_project
from tests.models.conftest import write_notebook, write_project

_project = write_project


def _at(scan: ModelScan, file: str, line: int) -> list[str]:
    """What the scan says at one line: the reason of each gap or exclusion, and each reference written there."""
    out = [x.reason for x in [*scan.skipped, *scan.excluded] if x.file == file and x.line == line]
    out += [r.repo_id for r in scan.refs if r.location.file == file and r.location.line == line]
    out += [r.repo_id for r in scan.refs for calls in r.loaded_at.values() for c in calls
            if c.file == file and c.line == line]
    return out


def test_a_loader_whose_value_a_caller_writes_is_named_at_its_own_line(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"infer.py": '''
        from transformers import AutoModelForCausalLM
        from peft import PeftModel


        def model_inference(model_path, adapter_path):
            base = AutoModelForCausalLM.from_pretrained(model_path)
            return PeftModel.from_pretrained(base, adapter_path)


        if __name__ == "__main__":
            model_inference("mistralai/Mistral-7B-Instruct-v0.3", "path/to/output")
            model_inference("mistralai/Mistral-7B-Instruct-v0.3", "path/to/other")
    '''})
    f = str(tmp_path / "infer.py")
    assert set(_at(scan, f, 6)) == {"mistralai/Mistral-7B-Instruct-v0.3"}  # named by the finding of the caller's value
    at_loader = _at(scan, f, 7)
    assert len(at_loader) == 1, at_loader  # one entry for the place, not one per value
    assert "not Hub references" in at_loader[0] and f"{f}:11" in at_loader[0] and f"{f}:12" in at_loader[0]
    assert any("placeholder" in r for r in _at(scan, f, 11))  # still listed where it is written


def test_a_call_without_a_model_argument_is_listed(tmp_path: Path) -> None:
    scan = _project(tmp_path, {
        "emb.py": '''
            from sentence_transformers import SentenceTransformer


            def empty():
                return SentenceTransformer()
        ''',
        "tests/test_wrapper.py": '''
            class MockWrapper:
                @classmethod
                def from_pretrained(cls, *args, **kwargs):
                    return cls()


            def test_it():
                assert MockWrapper.from_pretrained()
        ''',
    })
    for file, line in ((tmp_path / "emb.py", 5), (tmp_path / "tests" / "test_wrapper.py", 8)):
        reasons = _at(scan, str(file), line)
        assert len(reasons) == 1 and "without a model argument" in reasons[0], (file, reasons)
    assert not scan.refs


def test_from_single_file_is_a_loader(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"probe.py": '''
        import sys
        from huggingface_hub import hf_hub_download
        from diffusers import ZImagePipeline


        def probe():
            path = hf_hub_download("unsloth/Z-Image-Turbo-GGUF", "a.gguf", revision="a" * 40)
            return ZImagePipeline.from_single_file(path)


        def from_cli():
            return ZImagePipeline.from_single_file(sys.argv[1])
    '''})
    f = str(tmp_path / "probe.py")
    downloaded = _at(scan, f, 8)
    assert len(downloaded) == 1 and "downloaded earlier" in downloaded[0]
    runtime = [x for x in scan.skipped if x.file == f and x.line == 12]
    assert len(runtime) == 1 and "run time" in runtime[0].reason


def test_a_loader_no_followed_path_reaches_is_listed(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"lm.py": '''
        import torch
        from transformers import AutoModel


        class LM:
            def __init__(self, pretrained, peft=None, steer=None):
                self.model = AutoModel.from_pretrained(pretrained, revision="a" * 40)
                if peft:
                    self.model = AutoModel.from_pretrained(peft)
                if steer:
                    self.vec = torch.load(steer)


        LM("org/model")
    '''})
    f = str(tmp_path / "lm.py")
    for line in (9, 11):
        reasons = _at(scan, f, line)
        assert len(reasons) == 1 and "no path the analysis follows reaches" in reasons[0], (line, reasons)
    assert all(x.gap is not None for x in scan.skipped if x.line in (9, 11))


def test_a_notebook_names_its_loading_call_in_its_own_lines(tmp_path: Path) -> None:

    cells = [
        "from transformers import AutoModel\nmodel_name = 'facebook/opt-125m'",
        "def load(name):\n    return AutoModel.from_pretrained(name)",
        "load(model_name)",
    ]
    raw = write_notebook(tmp_path / "demo.ipynb", cells)
    scan = scan_project(tmp_path)
    loader = next(i for i, text in enumerate(raw, 1) if "from_pretrained(name)" in text)
    caller = next(i for i, text in enumerate(raw, 1) if "load(model_name)" in text)
    (ref,) = [r for r in scan.refs if r.repo_id == "facebook/opt-125m"]
    assert {at.line: [c.line for c in calls] for at, calls in ref.loaded_at.items()} == {ref.location.line: [loader]}
    assert ref.location.line in (caller, next(i for i, t in enumerate(raw, 1) if "model_name = " in t))


def test_a_notebook_gap_cites_the_notebooks_own_lines(tmp_path: Path) -> None:

    cells = ["import sys\nfrom transformers import AutoModel", "def load(name):\n    return AutoModel.from_pretrained(name)",
             "x = 1", "load(sys.argv[1])"]
    raw = write_notebook(tmp_path / "demo.ipynb", cells)
    scan = scan_project(tmp_path)
    caller = next(i for i, text in enumerate(raw, 1) if "load(sys.argv[1])" in text)
    loader = next(i for i, text in enumerate(raw, 1) if "from_pretrained(name)" in text)
    (gap,) = [x for x in scan.skipped if x.line == loader]
    assert f"demo.ipynb:{caller}" in gap.reason, gap.reason


def test_a_space_download_is_listed_as_a_space(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"a.py": '''
        from huggingface_hub import hf_hub_download

        p = hf_hub_download("acme/space", "app.py", repo_type="space")
    '''})
    (reason,) = _at(scan, str(tmp_path / "a.py"), 3)
    assert "is a Space" in reason and not scan.refs


def test_from_single_file_of_a_hub_file_url_is_that_repo(tmp_path: Path, monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    scan = _project(tmp_path, {"a.py": '''
        from diffusers import StableDiffusionPipeline

        URL = "http://127.0.0.1:9/acme/sd-demo/blob/main/weights.safetensors"
        PINNED = "http://127.0.0.1:9/acme/sd-demo/resolve/0123456789abcdef0123456789abcdef01234567/w.safetensors"
        a = StableDiffusionPipeline.from_single_file(URL)
        b = StableDiffusionPipeline.from_single_file(PINNED)
        c = StableDiffusionPipeline.from_single_file("http://127.0.0.1:8/acme/sd-demo/blob/main/w.safetensors")
    '''})
    got = {(r.repo_id, r.revision, r.location.line) for r in scan.refs}
    assert got == {("acme/sd-demo", "main", 5), ("acme/sd-demo", "0123456789abcdef0123456789abcdef01234567", 6)}
    assert any(x.line == 7 and "URL" in x.reason for x in scan.excluded)  # another host: not the Hub

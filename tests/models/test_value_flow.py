"""Model ids, revisions and ``trust_remote_code`` judged by the values that reach the call.

The projects below are written here in the shapes real training and serving repositories use (an arguments
dataclass parsed from the command line, a ``fire`` script, name-based dispatch on the model, a web UI's
``--trust-remote-code`` switch, a model registry of adapters); none of their code is copied. Nothing is imported or
run: ``scan_project`` reads the files with ``ast``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from auditor.domain import Location, ModelRef, RemoteCodeSite
from auditor.models.refs import ModelScan, scan_project


def _project(root: Path, files: dict[str, str]) -> ModelScan:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return scan_project(root)


def _refs(scan: ModelScan) -> dict[str, ModelRef]:
    return {r.repo_id: r for r in scan.refs}


def _line(root: Path, name: str, needle: str) -> int:
    return next(i for i, line in enumerate((root / name).read_text().splitlines(), 1) if needle in line)


ARGS_DATACLASS = '''
from dataclasses import dataclass, field
from typing import Optional

import transformers


@dataclass
class ModelArguments:
    model_name_or_path: Optional[str] = field(default="acme-ai/tiny-base")
    trust_remote_code: bool = field(default=False, metadata={"help": "allow custom modelling code"})


def train():
    parser = transformers.HfArgumentParser((ModelArguments,))
    (model_args,) = parser.parse_args_into_dataclasses()
    config = transformers.AutoConfig.from_pretrained(
        model_args.model_name_or_path,
        trust_remote_code=model_args.trust_remote_code,
    )
    return transformers.AutoModelForCausalLM.from_pretrained(
        model_args.model_name_or_path, config=config, trust_remote_code=model_args.trust_remote_code)
'''


def test_an_option_that_defaults_to_false_is_an_opt_in_site(tmp_path: Path) -> None:
    """FastChat shape: the flag comes from a dataclass field that defaults to False, and nothing sets it: the
    project never runs remote code by itself, but an operator can turn it on here -- a site of its own kind."""
    scan = _project(tmp_path, {"train.py": ARGS_DATACLASS})
    (site,) = scan.sites  # AutoConfig and AutoModel in one function: one place
    assert site.opt_in and site.models == ["acme-ai/tiny-base"]
    assert "off by default" in site.because and "ModelArguments.trust_remote_code" in site.because
    base = _refs(scan)["acme-ai/tiny-base"]
    assert base.trust_remote_code is False  # passed, and False unless the operator says otherwise


def test_a_true_set_anywhere_in_the_project_makes_it_a_finding(tmp_path: Path) -> None:
    launcher = '''
    from train import ModelArguments, train

    def main():
        args = ModelArguments()
        args.trust_remote_code = True
        return args
    '''
    scan = _project(tmp_path, {"train.py": ARGS_DATACLASS, "launch.py": launcher})
    assert _refs(scan)["acme-ai/tiny-base"].trust_remote_code is True
    (site,) = scan.sites
    assert site.models == ["acme-ai/tiny-base"] and site.bounded
    assert site.location.file.endswith("train.py") and sorted([site.location.line, *site.lines]) == [
        _line(tmp_path, "train.py", "config = transformers.AutoConfig"),
        _line(tmp_path, "train.py", "return transformers.AutoModelForCausalLM")]


def test_a_helper_parameter_follows_its_callers(tmp_path: Path) -> None:
    helper = '''
    from transformers import AutoTokenizer

    def make_tokenizer(model_id, trust_remote_code=False):
        return AutoTokenizer.from_pretrained(model_id, trust_remote_code=trust_remote_code)
    '''
    safe = '''
    from helpers import make_tokenizer

    TOKENIZER = make_tokenizer("acme-ai/safe-tok")
    '''
    scan = _project(tmp_path, {"helpers.py": helper, "use_safe.py": safe})
    assert scan.sites == []
    safe_ref = _refs(scan)["acme-ai/safe-tok"]
    assert safe_ref.location is not None and safe_ref.location.file.endswith("use_safe.py")  # where it is named
    assert safe_ref.location.line == _line(tmp_path, "use_safe.py", "make_tokenizer(")

    risky = '''
    from helpers import make_tokenizer

    TOKENIZER = make_tokenizer("acme-ai/custom-tok", trust_remote_code=True)
    '''
    scan = _project(tmp_path, {"use_risky.py": risky})
    (site,) = scan.sites
    assert "acme-ai/custom-tok" in site.models
    assert "use_risky.py" in site.because  # "trust_remote_code is True (passed at use_risky.py:N)"
    assert _refs(scan)["acme-ai/custom-tok"].trust_remote_code is True


def test_literal_true_with_a_model_chosen_at_run_time_is_a_finding(tmp_path: Path) -> None:
    """LLaMA-Factory ``scripts/loftq_init.py`` shape: a ``fire`` command loads whatever it is given."""
    script = '''
    import fire
    from transformers import AutoModelForCausalLM, AutoTokenizer


    def quantize(model_name_or_path: str, output_dir: str, bits: int = 4):
        tokenizer = AutoTokenizer.from_pretrained(model_name_or_path, trust_remote_code=True)
        model = AutoModelForCausalLM.from_pretrained(model_name_or_path, trust_remote_code=True)
        model.save_pretrained(output_dir)


    if __name__ == "__main__":
        fire.Fire(quantize)
    '''
    scan = _project(tmp_path, {"scripts/quantize.py": script})
    (site,) = scan.sites
    assert site.models == [] and site.runtime is not None and "any model chosen at run time" in site.runtime
    assert "model_name_or_path" in site.runtime and site.function == "quantize"
    assert site.because == "trust_remote_code=True"
    assert [site.location.line, *site.lines] == [_line(tmp_path, "scripts/quantize.py", "tokenizer ="),
                                                 _line(tmp_path, "scripts/quantize.py", "model =")]
    # the model itself is still not audited: a skipped reference, as before
    assert {s.requirement for s in scan.skipped} == {"model_name_or_path"}


def test_a_guard_on_the_model_name_is_the_attribution(tmp_path: Path) -> None:
    """LLaVA shape: remote code only for models whose name contains 'mpt'; the default model is not one."""
    train = '''
    from dataclasses import dataclass, field
    from typing import Optional

    import transformers


    @dataclass
    class ModelArguments:
        model_name_or_path: Optional[str] = field(default="acme-ai/small-llama")
        vision_tower: Optional[str] = field(default=None)


    def train(model_args: ModelArguments):
        if model_args.vision_tower is not None:
            if "mpt" in model_args.model_name_or_path:
                config = transformers.AutoConfig.from_pretrained(model_args.model_name_or_path,
                                                                 trust_remote_code=True)
            else:
                config = None
        model = transformers.AutoModelForCausalLM.from_pretrained(model_args.model_name_or_path)
        return model, config
    '''
    scan = _project(tmp_path, {"train.py": train})
    (site,) = scan.sites
    assert site.models == []  # not the default: "acme-ai/small-llama" does not contain "mpt"
    assert site.runtime is not None and "ModelArguments.model_name_or_path" in site.runtime
    assert site.guards == ["model_args.vision_tower is not None", "'mpt' in model_args.model_name_or_path"]
    small = _refs(scan)["acme-ai/small-llama"]
    assert small.trust_remote_code is None  # loaded only by the unguarded call, which does not pass the flag
    assert small.location is not None and small.location.line == _line(tmp_path, "train.py", "model = ")


def test_a_name_test_on_a_derived_name_narrows_the_models(tmp_path: Path) -> None:
    """The name tested is derived from the model path at run time (``model_name = basename(path)``)."""
    builder = '''
    from transformers import AutoModelForCausalLM


    def load(model_path, model_name):
        if "mpt" in model_name.lower():
            return AutoModelForCausalLM.from_pretrained(model_path, trust_remote_code=True)
        return AutoModelForCausalLM.from_pretrained(model_path)
    '''
    cli = '''
    import argparse
    import os

    from builder import load

    parser = argparse.ArgumentParser()
    parser.add_argument("--model-path", default="acme-ai/vision-7b")
    args = parser.parse_args()
    model = load(args.model_path, os.path.basename(args.model_path))
    '''
    scan = _project(tmp_path, {"builder.py": builder, "cli.py": cli})
    (site,) = scan.sites
    assert site.models == [] and site.guards == ["'mpt' in model_name.lower()"]
    assert _refs(scan)["acme-ai/vision-7b"].trust_remote_code is None


def test_the_operators_own_switch_is_an_opt_in_site(tmp_path: Path) -> None:
    """text-generation-webui shape: ``--trust-remote-code`` (store_true) guards a kwargs dict."""
    shared = '''
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", default="models")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow custom code")
    args = parser.parse_args()
    '''
    loader = '''
    from transformers import AutoConfig, AutoModelForCausalLM

    import shared


    def load(path_to_model):
        params = {"low_cpu_mem_usage": True}
        if shared.args.trust_remote_code:
            params["trust_remote_code"] = True
        config = AutoConfig.from_pretrained(path_to_model, trust_remote_code=shared.args.trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(path_to_model, **params)
        other = AutoModelForCausalLM.from_config(config, trust_remote_code=params.get("trust_remote_code"))
        return model, other
    '''
    scan = _project(tmp_path, {"shared.py": shared, "loader.py": loader})
    (site,) = scan.sites  # the three loads of load() are one place to review
    assert site.opt_in and site.function == "load" and site.runtime is not None
    assert sorted([site.location.line, *site.lines]) == [11, 12, 13]


def test_a_flag_on_by_default_is_a_finding(tmp_path: Path) -> None:
    """A worker whose ``--trust-remote-code`` is ``store_false`` with ``default=True``: on unless turned off."""
    worker = '''
    import argparse

    from transformers import AutoTokenizer

    parser = argparse.ArgumentParser()
    parser.add_argument("--model-path", default="acme-ai/served")
    parser.add_argument("--trust-remote-code", action="store_false", default=True)
    args = parser.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(args.model_path, trust_remote_code=args.trust_remote_code)
    '''
    scan = _project(tmp_path, {"worker.py": worker})
    (site,) = scan.sites
    assert site.models == ["acme-ai/served"] and site.runtime is not None  # the default and the operator's pick
    assert site.because == "args.trust_remote_code can be True"
    assert _refs(scan)["acme-ai/served"].trust_remote_code is True


def test_a_flag_that_cannot_be_bounded_is_a_medium_finding(tmp_path: Path) -> None:
    code = '''
    import json

    from transformers import AutoModel

    settings = json.load(open("settings.json"))
    model = AutoModel.from_pretrained("acme-ai/from-settings", trust_remote_code=settings["trust"])
    '''
    scan = _project(tmp_path, {"serve.py": code})
    (site,) = scan.sites
    assert site.bounded is False and "computed at run time" in site.because
    assert site.models == ["acme-ai/from-settings"]


def test_only_assignments_on_paths_that_reach_the_call(tmp_path: Path) -> None:
    code = '''
    import sys

    from transformers import AutoModel

    name = "acme-ai/overwritten"
    name = "acme-ai/final"
    first = AutoModel.from_pretrained(name)

    def pick(flag):
        if flag:
            chosen = "acme-ai/left"
        else:
            chosen = "acme-ai/right"
        return AutoModel.from_pretrained(chosen)

    def early(flag):
        if flag:
            return None
        unused = "acme-ai/after-return"
        return AutoModel.from_pretrained(unused)

    def dead():
        return None
        AutoModel.from_pretrained("acme-ai/never")

    USE_REMOTE = False
    if USE_REMOTE:
        AutoModel.from_pretrained("acme-ai/switched-off", trust_remote_code=True)
    '''
    scan = _project(tmp_path, {"flow.py": code})
    assert set(_refs(scan)) == {"acme-ai/final", "acme-ai/left", "acme-ai/right", "acme-ai/after-return"}
    assert scan.sites == []


def test_remote_code_sites_merge_per_function_and_path(tmp_path: Path) -> None:
    """A registry of adapters, each loading with remote code: one site per adapter, not per call."""
    adapters = '''
    from transformers import AutoModel, AutoTokenizer


    class BaseAdapter:
        def load_model(self, model_path):
            return AutoModel.from_pretrained(model_path)


    class CustomAdapter(BaseAdapter):
        def load_model(self, model_path):
            tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=True)
            model = AutoModel.from_pretrained(model_path, trust_remote_code=True)
            return model, tokenizer


    class OtherAdapter(BaseAdapter):
        def load_model(self, model_path):
            if "chat" in model_path.lower():
                return AutoModel.from_pretrained(model_path, trust_remote_code=True)
            return AutoModel.from_pretrained(model_path, trust_remote_code=True, revision="v2")
    '''
    scan = _project(tmp_path, {"adapters.py": adapters})
    by_function = {(s.function, tuple(s.guards)): s for s in scan.sites}
    assert set(by_function) == {("CustomAdapter.load_model", ()),
                                ("OtherAdapter.load_model", ("'chat' in model_path.lower()",)),
                                ("OtherAdapter.load_model", ("'chat' not in model_path.lower()",))}
    custom = by_function[("CustomAdapter.load_model", ())]
    assert custom.lines == [custom.location.line + 1]
    assert by_function[("OtherAdapter.load_model", ("'chat' not in model_path.lower()",))].revision == "v2"


def test_a_downloaded_snapshot_loaded_with_remote_code(tmp_path: Path) -> None:
    code = '''
    from huggingface_hub import snapshot_download
    from transformers import AutoModel

    path = snapshot_download("acme-ai/snap", revision="0123456789abcdef0123456789abcdef01234567")
    model = AutoModel.from_pretrained(path, trust_remote_code=True)
    '''
    scan = _project(tmp_path, {"dl.py": code})
    assert set(_refs(scan)) == {"acme-ai/snap"}
    (site,) = scan.sites
    assert site.runtime == "a snapshot downloaded earlier in this code"


def test_site_json_is_plain() -> None:
    site = RemoteCodeSite(location=Location("a.py", 3), models=["o/m"], guards=["x"], because="trust_remote_code=True")
    assert site.to_json() == {"file": "a.py", "line": 3, "lines": [], "models": ["o/m"], "runtime": None,
                              "guards": ["x"], "because": "trust_remote_code=True", "bounded": True,
                              "function": None, "revision": None, "opt_in": False}

"""Model references on real ML repositories: the classes of false alarms and silent drops found there.

Each test is a minimal reproduction written here (none of the repositories' code is copied), in the shapes real
training, evaluation and serving code uses, with variants: a model chosen by an option without a default, a shared
loader with literal and run-time callers, the same load in two files, placeholders and backend names given to a
loader, local directories, values of one script leaking into another, dict configs and click/typer options,
notebooks, editor configs, and a remote-code switch an operator can turn on. Nothing is imported or run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.checks.hubmodels import CHECK
from auditor.cli import main
from auditor.domain import Finding, Location, Severity
from auditor.kinds import FindingKind, Rule
from auditor.ledger import ItemKind
from auditor.models.pyrefs import RUNTIME_REFERENCE
from auditor.models.refs import ModelScan
from tests.models.conftest import make_ctx, write_project
from tests.models.fakehub import FakeHub
from tests.support.httpserver import LoopbackServer, closed_port_url

_project = write_project


def _rel(root: Path, file: str | None) -> str:
    return str(Path(file or "").relative_to(root))


def _refs(root: Path, scan: ModelScan) -> dict[str, list[tuple[str, int | None]]]:
    """repo id -> every place (file, line) that references it."""
    out: dict[str, list[tuple[str, int | None]]] = {}
    for ref in scan.refs:
        for place in [ref.location, *ref.more_locations]:
            assert place is not None
            out.setdefault(ref.repo_id, []).append((_rel(root, place.file), place.line))
    return out


def _runtime(root: Path, scan: ModelScan) -> list[tuple[str, int | None]]:
    return sorted((_rel(root, s.file), s.line) for s in scan.skipped
                  if s.kind is ItemKind.MODEL_REFERENCE and RUNTIME_REFERENCE in (s.reason or ""))


def _excluded(root: Path, scan: ModelScan) -> dict[str, tuple[str, int | None, str]]:
    return {e.subject: (_rel(root, e.file), e.line, e.reason or "") for e in scan.excluded
            if e.kind is ItemKind.MODEL_REFERENCE}


def _findings(scan: ModelScan) -> list[Finding]:
    ctx = make_ctx(offline=True)
    ctx.report.models = scan.refs
    ctx.report.remote_code_sites = scan.sites
    return list(CHECK.run(ctx))


def _line(root: Path, name: str, needle: str) -> int:
    return next(i for i, text in enumerate((root / name).read_text().splitlines(), 1) if needle in text)


# -- (2) a model chosen by an option with no default is a run-time reference, never "known: None" ---------------

@pytest.mark.parametrize("option", [
    'p.add_argument("--model-path", required=True)',
    'p.add_argument("--model-path", type=str)',
    'p.add_argument("--model-path", default=None, help="the model")',
])
def test_an_argparse_option_without_default_is_a_run_time_reference(tmp_path: Path, option: str) -> None:
    scan = _project(tmp_path, {"serve.py": f'''
        import argparse
        from transformers import AutoModel
        p = argparse.ArgumentParser()
        {option}
        args = p.parse_args()
        model = AutoModel.from_pretrained(args.model_path)
    '''})
    assert scan.refs == []
    assert _runtime(tmp_path, scan) == [("serve.py", 6)]
    (item,) = [s for s in scan.skipped if s.kind is ItemKind.MODEL_REFERENCE]
    assert "--model-path" in (item.reason or "")


def test_hf_argument_parser_field_defaulting_to_none_is_a_run_time_reference(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"train.py": '''
        from dataclasses import dataclass, field
        from typing import Optional
        from transformers import AutoModelForCausalLM, HfArgumentParser


        @dataclass
        class ModelArguments:
            model_name_or_path: Optional[str] = field(default=None, metadata={"help": "model"})
            tokenizer_name: Optional[str] = None


        def main():
            (model_args,) = HfArgumentParser((ModelArguments,)).parse_args_into_dataclasses()
            model = AutoModelForCausalLM.from_pretrained(model_args.model_name_or_path)
            tok = AutoModelForCausalLM.from_pretrained(model_args.tokenizer_name or model_args.model_name_or_path)
            return model, tok
    '''})
    assert scan.refs == []
    assert _runtime(tmp_path, scan) == [("train.py", 14), ("train.py", 15)]


@pytest.mark.parametrize("expr", ['os.environ.get("MODEL_ID")', 'os.getenv("MODEL_ID")', 'os.environ["MODEL_ID"]'])
def test_an_environment_variable_without_default_is_a_run_time_reference(tmp_path: Path, expr: str) -> None:
    scan = _project(tmp_path, {"app.py": f'''
        import os
        from transformers import pipeline
        clf = pipeline("text-classification", model={expr})
    '''})
    assert scan.refs == [] and _runtime(tmp_path, scan) == [("app.py", 3)]


def test_typer_and_click_options(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"cli.py": '''
        import click
        import typer
        from transformers import AutoModel

        app = typer.Typer()


        @app.command()
        def typed(model: str = typer.Option(None, help="model"), base: str = typer.Option("acme-ai/typer-base")):
            AutoModel.from_pretrained(model)
            AutoModel.from_pretrained(base)


        @click.command()
        @click.option("--model-name", "-m", required=True)
        @click.option("--base", "base_model", default="acme-ai/click-base")
        def clicked(model_name, base_model):
            AutoModel.from_pretrained(model_name)
            AutoModel.from_pretrained(base_model)
    '''})
    assert _refs(tmp_path, scan) == {"acme-ai/typer-base": [("cli.py", 11)], "acme-ai/click-base": [("cli.py", 19)]}
    assert _runtime(tmp_path, scan) == [("cli.py", 10), ("cli.py", 18)]


def test_an_option_with_a_hub_default_is_audited_at_its_default(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"serve.py": '''
        import argparse
        from transformers import AutoModel
        p = argparse.ArgumentParser()
        p.add_argument("--model-path", default="acme-ai/served")
        AutoModel.from_pretrained(p.parse_args().model_path)
        args = p.parse_args()
        AutoModel.from_pretrained(args.model_path)
    '''})
    assert _refs(tmp_path, scan) == {"acme-ai/served": [("serve.py", 5), ("serve.py", 7)]}
    assert _runtime(tmp_path, scan) == []


def test_run_time_reference_makes_the_report_incomplete_end_to_end(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "requirements.txt").write_text("")
    (tmp_path / "serve.py").write_text('import argparse\nfrom transformers import AutoModel\n'
                                       'p = argparse.ArgumentParser()\np.add_argument("--model", required=True)\n'
                                       'AutoModel.from_pretrained(p.parse_args().model)\n')
    main(["--offline", str(tmp_path), "--format", "json", "--disable-check", "typosquat", "-q"])
    report = json.loads(capsys.readouterr().out)
    assert report["complete"] is False
    assert [(Path(s["file"]).name, s["line"]) for s in report["skipped"] if RUNTIME_REFERENCE in s["reason"]] == [
        ("serve.py", 5)]


# -- (3) a literal caller does not hide the run-time callers of the same loader ----------------------------------

def test_a_shared_loader_reports_its_literal_and_its_run_time_callers(tmp_path: Path) -> None:
    scan = _project(tmp_path, {
        "lib/models.py": '''
            from transformers import AutoModel

            def load(path):
                return AutoModel.from_pretrained(path)
        ''',
        "eval.py": '''
            from lib.models import load
            model = load("facebook/opt-125m")
        ''',
        "train.py": '''
            import argparse
            from lib.models import load
            ap = argparse.ArgumentParser()
            ap.add_argument("--model_path")
            args = ap.parse_args()
            model = load(args.model_path)
        ''',
        "serve.py": '''
            import sys
            from lib import models
            models.load(sys.argv[1])
        ''',
    })
    assert _refs(tmp_path, scan) == {"facebook/opt-125m": [("eval.py", 2)]}
    # where each run-time choice enters, and the loading call itself (naming those callers)
    assert _runtime(tmp_path, scan) == [("lib/models.py", 4), ("serve.py", 3), ("train.py", 6)]
    reasons = [s.reason or "" for s in scan.skipped if s.file and s.file.endswith("train.py")]
    assert any("--model_path" in r and "models.py:4" in r for r in reasons)
    (loader,) = [s.reason or "" for s in scan.skipped if s.file and s.file.endswith("models.py")]
    assert "chosen by the callers at" in loader and "train.py:6" in loader


# -- (4) findings per call site, never de-duplicated per model --------------------------------------------------

def test_the_same_load_in_two_files_is_reported_in_both(tmp_path: Path) -> None:
    code = 'from transformers import AutoModel\n\nm = AutoModel.from_pretrained("acme-ai/m", trust_remote_code=True)\n'
    scan = _project(tmp_path, {"a.py": code, "b.py": "# b\n" + code, "c.py": code.replace(
        ", trust_remote_code=True", "")})
    assert sorted(_refs(tmp_path, scan)["acme-ai/m"]) == [("a.py", 3), ("b.py", 4), ("c.py", 3)]
    found = _findings(scan)
    remote = sorted((_rel(tmp_path, f.location.file), f.location.line, f.severity) for f in found
                    if f.kind is FindingKind.TRUST_REMOTE_CODE and f.location is not None)
    assert remote == [("a.py", 3, Severity.HIGH), ("b.py", 4, Severity.HIGH)]
    unpinned = sorted((_rel(tmp_path, f.location.file), f.location.line) for f in found
                      if f.kind is FindingKind.UNPINNED_REVISION and f.location is not None)
    assert unpinned == [("a.py", 3), ("b.py", 4), ("c.py", 3)]


def test_two_config_files_enabling_remote_code_are_two_findings(tmp_path: Path) -> None:
    config = "base_model: acme-ai/remote-7b\ntrust_remote_code: true\n"
    scan = _project(tmp_path, {"configs/a.yaml": config, "configs/b.yaml": "# b\n" + config})
    remote = sorted((_rel(tmp_path, f.location.file), f.location.line) for f in _findings(scan)
                    if f.kind is FindingKind.TRUST_REMOTE_CODE and f.location is not None)
    assert remote == [("configs/a.yaml", 1), ("configs/b.yaml", 2)]


def test_models_json_lists_every_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "requirements.txt").write_text("")
    (tmp_path / "a.py").write_text('from transformers import AutoModel\nAutoModel.from_pretrained("acme-ai/m")\n')
    (tmp_path / "b.py").write_text('from transformers import AutoModel\n\nAutoModel.from_pretrained("acme-ai/m")\n')
    main(["--offline", str(tmp_path), "--format", "json", "--disable-check", "typosquat", "-q"])
    report = json.loads(capsys.readouterr().out)
    (model,) = report["models"]
    places = [(Path(model["file"]).name, model["line"])] + [(Path(p["file"]).name, p["line"])
                                                            for p in model["more_locations"]]
    assert sorted(places) == [("a.py", 2), ("b.py", 3)]
    unpinned = [f for f in report["findings"] if f["kind"] == "unpinned-revision"]
    assert sorted((Path(f["location"]["file"]).name, f["location"]["line"]) for f in unpinned) == [("a.py", 2),
                                                                                                    ("b.py", 3)]
    model_items = [s for s in report["skipped"] if s["requirement"] == "acme-ai/m"]
    assert sorted((Path(s["file"]).name, s["line"]) for s in model_items) == [("a.py", 2), ("b.py", 3)]


# -- (7) the models check disabled: the Hub is never contacted ---------------------------------------------------

@pytest.mark.parametrize("how", ["cli", "policy"])
def test_disabled_models_check_never_asks_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str], how: str) -> None:
    (tmp_path / "requirements.txt").write_text("")
    (tmp_path / "train.py").write_text('from transformers import AutoModel\n'
                                       'AutoModel.from_pretrained("acme-ai/chat-7b", trust_remote_code=True)\n')
    args = [str(tmp_path), "--format", "json", "-q", "--timeout", "2", "--disable-check", "typosquat"]
    if how == "cli":
        args += ["--disable-check", "models"]
    else:
        (tmp_path / "mlaudit.toml").write_text('disable = ["models"]\n')
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    with LoopbackServer() as server:
        FakeHub(server, [])
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        code = main(args)
        assert server.log == []
    report = json.loads(capsys.readouterr().out)
    assert code != 3 and not [f for f in report["findings"] if f.get("check") == "models"]
    assert not [s for s in report["skipped"] if s["kind"] == "service"]
    assert [m["repo_id"] for m in report["models"]] == ["acme-ai/chat-7b"]  # still found and listed
    monkeypatch.setenv("HF_ENDPOINT", closed_port_url())
    assert main(args) != 3  # an unreachable Hub does not matter either
    capsys.readouterr()


# -- (11) editor configs are not training configs --------------------------------------------------------------

def test_editor_jsonc_is_read_leniently_and_never_a_gap(tmp_path: Path) -> None:
    scan = _project(tmp_path, {
        ".devcontainer/devcontainer.json": '''
            {
              // the dev image; the tokenizer model is downloaded on first run
              "name": "dev",
              "image": "mcr.microsoft.com/devcontainers/python:3.11",
              /* extensions */
              "customizations": {"vscode": {"extensions": ["ms-python.python"]}},
            }
        ''',
        "web/tsconfig.test.json": '{"compilerOptions": {/* model types */ "strict": true,},}\n',
        ".devcontainer/broken/devcontainer.json": '{ "name": "model dev", "build": {"args": {"X": \n',
        "configs/commented.json": '{\n  // which model to fine-tune\n  "model_name_or_path": "acme-ai/commented"\n}\n',
    })
    assert [s for s in scan.skipped if s.kind is ItemKind.INPUT_FILE] == []
    excluded = [(_rel(tmp_path, e.file), e.kind) for e in scan.excluded]
    assert excluded == [(".devcontainer/broken/devcontainer.json", ItemKind.INPUT_FILE)]
    assert "editor or tool configuration" in (scan.excluded[0].reason or "")
    assert _refs(tmp_path, scan) == {"acme-ai/commented": [("configs/commented.json", 3)]}


def test_a_broken_training_config_is_still_a_gap(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"configs/sft.json": '{"model_name_or_path": "acme-ai/x", "lr": \n',
                               "configs/sft.yaml": "model_name_or_path: [acme-ai/x\n"})
    gaps = sorted(_rel(tmp_path, s.file) for s in scan.skipped if s.kind is ItemKind.INPUT_FILE)
    assert gaps == ["configs/sft.json", "configs/sft.yaml"]


# -- (13)/(16) placeholders and registry names are not Hub repos: listed, never reported, never silent -----------

def test_placeholders_in_tests_and_examples_are_listed_not_reported(tmp_path: Path) -> None:
    scan = _project(tmp_path, {
        "tests/test_loading.py": '''
            from transformers import AutoModel
            AutoModel.from_pretrained("some-model")
            AutoModel.from_pretrained("test/cpu")
            AutoModel.from_pretrained("synthetic", trust_remote_code=True)
            AutoModel.from_pretrained("fake-org/dummy-model")
            AutoModel.from_pretrained("hf-internal-testing/tiny-random-gpt2")
        ''',
        "examples/quickstart.py": '''
            from transformers import AutoModel
            AutoModel.from_pretrained("my-org/my-model")
            AutoModel.from_pretrained("path/to/model")
            AutoModel.from_pretrained("<model>")
            AutoModel.from_pretrained("your_username/your-model", trust_remote_code=True)
            AutoModel.from_pretrained("gpt2")
        ''',
        "configs/sft.yaml": "model_name_or_path: your-org/your-model\ntrust_remote_code: true\n",
    })
    assert set(_refs(tmp_path, scan)) == {"hf-internal-testing/tiny-random-gpt2", "gpt2"}
    excluded = _excluded(tmp_path, scan)
    assert set(excluded) == {"some-model", "test/cpu", "synthetic", "fake-org/dummy-model", "my-org/my-model",
                             "path/to/model", "<model>", "your_username/your-model", "your-org/your-model"}
    assert excluded["test/cpu"][:2] == ("tests/test_loading.py", 3)
    assert "placeholder" in excluded["my-org/my-model"][2] and "not a model dependency" in excluded["<model>"][2]
    assert scan.sites == []  # remote code from a placeholder is no finding (and the config names no real model)
    assert [f for f in _findings(scan) if f.kind is FindingKind.TRUST_REMOTE_CODE] == []


def test_backend_registry_keys_are_not_hub_models(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"harness/evaluate.py": '''
        from transformers import AutoModelForCausalLM

        def get_model(name, trust_remote_code=False):
            return AutoModelForCausalLM.from_pretrained(name, trust_remote_code=trust_remote_code)

        for backend in ("hf", "hf-causal", "vllm"):
            get_model(backend)
        get_model("hf")
        get_model("hf-causal")
        get_model("vllm", trust_remote_code=True)
        get_model("EleutherAI/pythia-70m")
    '''})
    assert set(_refs(tmp_path, scan)) == {"EleutherAI/pythia-70m"}
    assert {"hf", "hf-causal", "vllm"} <= set(_excluded(tmp_path, scan))
    assert all(not site.models for site in scan.sites)


def test_legacy_single_names_still_count(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"app.py": '''
        from datasets import load_dataset
        from transformers import AutoTokenizer
        AutoTokenizer.from_pretrained("bert-base-uncased")
        load_dataset("imdb")
        load_dataset("csv", data_files="x.csv")
        load_dataset("my_local_builder")
    '''})
    assert set(_refs(tmp_path, scan)) == {"bert-base-uncased", "imdb"}
    assert set(_excluded(tmp_path, scan)) == {"csv", "my_local_builder"}


# -- (15) values of one script do not flow into another ---------------------------------------------------------

def test_an_option_of_one_script_does_not_become_another_scripts_model(tmp_path: Path) -> None:
    scan = _project(tmp_path, {
        "scripts/bench.py": '''
            import argparse
            from transformers import AutoModelForCausalLM
            ap = argparse.ArgumentParser()
            ap.add_argument("--model", default="acme-ai/opt-7b")
            args = ap.parse_args()
            AutoModelForCausalLM.from_pretrained(args.model)
        ''',
        "scripts/chat.py": '''
            from types import SimpleNamespace
            from transformers import AutoModelForCausalLM
            args = SimpleNamespace(model="HuggingFaceTB/SmolLM2-135M-Instruct")
            AutoModelForCausalLM.from_pretrained(args.model)
        ''',
        "scripts/tiny.py": '''
            from transformers import AutoModelForCausalLM

            class Settings:
                pass

            args = Settings()
            args.model = "HuggingFaceTB/SmolLM2-360M"
            AutoModelForCausalLM.from_pretrained(args.model)
        ''',
        "scripts/worker.py": '''
            from transformers import AutoModelForCausalLM

            def run(args):
                return AutoModelForCausalLM.from_pretrained(args.model)
        ''',
    })
    assert _refs(tmp_path, scan) == {"acme-ai/opt-7b": [("scripts/bench.py", 6)],
                                     "HuggingFaceTB/SmolLM2-135M-Instruct": [("scripts/chat.py", 4)],
                                     "HuggingFaceTB/SmolLM2-360M": [("scripts/tiny.py", 8)]}
    assert _runtime(tmp_path, scan) == [("scripts/worker.py", 4)]


def test_values_still_flow_along_imports(tmp_path: Path) -> None:
    """The entry point declares the options; the module it imports loads the model: one program."""
    scan = _project(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/trainer.py": '''
            from transformers import AutoModel

            def build(args):
                return AutoModel.from_pretrained(args.base_model, trust_remote_code=args.trust_remote_code)
        ''',
        "pkg/options.py": '''
            import argparse
            parser = argparse.ArgumentParser()
            parser.add_argument("--base-model", default="acme-ai/base")
            parser.add_argument("--trust-remote-code", action="store_true")
        ''',
        "main.py": '''
            from pkg.options import parser
            from pkg.trainer import build
            build(parser.parse_args())
        ''',
        "other.py": '''
            import argparse
            from transformers import AutoModel
            ap = argparse.ArgumentParser()
            ap.add_argument("--base-model", default="acme-ai/elsewhere")
            ap.add_argument("--trust-remote-code", default=True)
            AutoModel.from_pretrained("acme-ai/unrelated")
        ''',
    })
    assert _refs(tmp_path, scan)["acme-ai/base"] == [("pkg/trainer.py", 4)]
    (site,) = scan.sites
    assert site.opt_in and site.models == ["acme-ai/base"]  # other.py's default True is not this program's


# -- (17) a dict config, a spread, a click flag -------------------------------------------------------------------

def test_trust_flag_in_a_python_dict_config(tmp_path: Path) -> None:
    scan = _project(tmp_path, {
        "subscript.py": '''
            from transformers import AutoModel
            cfg = {"base_model": "acme-ai/dict-model", "trust_remote_code": True}
            AutoModel.from_pretrained(cfg["base_model"], trust_remote_code=cfg["trust_remote_code"])
        ''',
        "spread.py": '''
            from transformers import AutoModel
            kwargs = {"pretrained_model_name_or_path": "acme-ai/spread-model", "trust_remote_code": True}
            AutoModel.from_pretrained(**kwargs)
        ''',
        "default.py": '''
            from transformers import AutoModel
            CONFIG = dict(base_model="acme-ai/default-model", trust_remote_code=True)

            def load(cfg=CONFIG):
                return AutoModel.from_pretrained(cfg["base_model"], trust_remote_code=cfg["trust_remote_code"])
        ''',
    })
    assert _refs(tmp_path, scan) == {"acme-ai/dict-model": [("subscript.py", 3)],
                                     "acme-ai/spread-model": [("spread.py", 3)],
                                     "acme-ai/default-model": [("default.py", 5)]}
    remote = {(f.model or ("", None))[0]: f for f in _findings(scan) if f.kind is FindingKind.TRUST_REMOTE_CODE}
    assert set(remote) == {"acme-ai/dict-model", "acme-ai/spread-model", "acme-ai/default-model"}
    assert all(f.severity is Severity.HIGH and f.id == Rule.MODEL_REMOTE_CODE for f in remote.values())
    assert _runtime(tmp_path, scan) == []


# -- the trust flag: a literal True is high, an operator's switch is low, never nothing --------------------------

@pytest.mark.parametrize("switch", [
    'ap.add_argument("--trust-remote-code", action="store_true")\nTRUST = ap.parse_args().trust_remote_code',
    'TRUST = os.getenv("TRUST_REMOTE_CODE", "0") == "1"',
    'TRUST = yaml.safe_load(open("run.yaml")).get("trust_remote_code", False)',
    'TRUST = bool(int(os.environ.get("HF_TRUST", 0)))',
])
def test_a_switch_an_operator_can_turn_on_is_a_low_finding(tmp_path: Path, switch: str) -> None:
    scan = _project(tmp_path, {"serve.py": 'import argparse\nimport os\n\nimport yaml\n'
                                           'from transformers import AutoModel\n\nap = argparse.ArgumentParser()\n'
                                           f'{switch}\n'
                                           'AutoModel.from_pretrained("acme-ai/served", trust_remote_code=TRUST)\n'})
    line = _line(tmp_path, "serve.py", "from_pretrained")
    remote = [f for f in _findings(scan) if f.kind is FindingKind.TRUST_REMOTE_CODE]
    assert [(f.id, f.severity, f.location.line if f.location else None) for f in remote] == [
        (Rule.MODEL_REMOTE_CODE_OPTION, Severity.LOW, line)]
    assert "remote code can be enabled at run time here" in remote[0].message
    assert "acme-ai/served" in remote[0].message


def test_a_click_flag_is_an_opt_in_site_and_a_literal_true_is_high(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"cli.py": '''
        import click
        from transformers import AutoModel


        @click.command()
        @click.option("--model", default="acme-ai/click-model")
        @click.option("--trust-remote-code", is_flag=True)
        def main(model, trust_remote_code):
            return AutoModel.from_pretrained(model, trust_remote_code=trust_remote_code)


        def pinned():
            return AutoModel.from_pretrained("acme-ai/pinned", trust_remote_code=True,
                                             revision="0123456789abcdef0123456789abcdef01234567")


        def literal():
            return AutoModel.from_pretrained("acme-ai/literal", trust_remote_code=True)
    '''})
    remote = sorted((f.location.line if f.location else 0, f.id, f.severity) for f in _findings(scan)
                    if f.kind is FindingKind.TRUST_REMOTE_CODE)
    assert remote == [(9, Rule.MODEL_REMOTE_CODE_OPTION, Severity.LOW), (13, Rule.MODEL_REMOTE_CODE, Severity.MEDIUM),
                      (18, Rule.MODEL_REMOTE_CODE, Severity.HIGH)]


# -- (18) local directories and trailing slashes -------------------------------------------------------------------

def test_local_directories_are_listed_and_a_trailing_slash_is_normalised(tmp_path: Path) -> None:
    (tmp_path / "checkpoints" / "sft").mkdir(parents=True)
    scan = _project(tmp_path, {"infer.py": '''
        from transformers import AutoModel, AutoTokenizer
        AutoModel.from_pretrained("output_dir")
        AutoModel.from_pretrained("./ckpt")
        AutoModel.from_pretrained("outputs/run-1")
        AutoModel.from_pretrained("checkpoints/sft", trust_remote_code=True)
        AutoModel.from_pretrained("Org/Model-7B-Chat/", trust_remote_code=True)
        AutoTokenizer.from_pretrained("Org/Model-7B-Chat")
    '''})
    assert _refs(tmp_path, scan) == {"Org/Model-7B-Chat": [("infer.py", 6), ("infer.py", 7)]}
    excluded = _excluded(tmp_path, scan)
    assert set(excluded) == {"output_dir", "./ckpt", "outputs/run-1", "checkpoints/sft"}
    assert "local" in excluded["checkpoints/sft"][2] and excluded["./ckpt"][:2] == ("infer.py", 3)
    (site,) = scan.sites  # the local checkpoint's code is the project's own
    assert site.models == ["Org/Model-7B-Chat"] and site.location.line == 6


# -- (19) notebooks: a model id set in one cell, loaded in another -------------------------------------------------

def _notebook(cells: list[object]) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": c}
                                 if not isinstance(c, dict) else c for c in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1, ensure_ascii=False)


def test_a_notebook_is_one_program_with_exact_lines(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"nb/demo.ipynb": _notebook([
        ["import torch\n", 'model_id = "acme-ai/nb-model"  # é, a note\n', 'rev = "v2.0"\n'],
        {"cell_type": "markdown", "metadata": {}, "source": ["from_pretrained(\"x\") in prose\n"]},
        ["from transformers import AutoModel\n", "\n",
         "model = AutoModel.from_pretrained(model_id, revision=rev, trust_remote_code=True)\n"],
        'other = AutoModel.from_pretrained("acme-ai/second", revision="main")\nthird = AutoModel.from_pretrained('
        'model_id)\n',
    ])})
    text = (tmp_path / "nb/demo.ipynb").read_text()
    lines = text.splitlines()
    loaded = {(r.repo_id, r.revision): r for r in scan.refs}
    first = loaded[("acme-ai/nb-model", "v2.0")]
    assert first.location is not None and first.location.line is not None
    assert "from_pretrained(model_id, revision=rev" in lines[first.location.line - 1]
    assert first.trust_remote_code is True
    (site,) = scan.sites
    assert site.models == ["acme-ai/nb-model"] and site.location.line == first.location.line
    for key in (("acme-ai/second", "main"), ("acme-ai/nb-model", None)):  # a cell stored as one string
        ref = loaded[key]
        assert ref.location is not None and ref.location.line is not None
        assert "acme-ai/second" in lines[ref.location.line - 1]
    assert _runtime(tmp_path, scan) == []


def test_a_notebook_cell_that_does_not_parse_is_said_and_the_rest_is_read(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"demo.ipynb": _notebook([
        ['name = "acme-ai/nb-two"\n'],
        ["from transformers import AutoModel\n", "AutoModel.from_pretrained(name\n"],
        ["AutoModel.from_pretrained(name)\n"],
    ])})
    lines = (tmp_path / "demo.ipynb").read_text().splitlines()
    (ref,) = scan.refs
    assert ref.location is not None and "AutoModel.from_pretrained(name)" in lines[(ref.location.line or 0) - 1]
    (gap,) = [s for s in scan.skipped if "syntax error" in (s.reason or "")]
    assert gap.line is not None and "AutoModel" in lines[gap.line - 1]


def test_check_reports_sites_without_models_and_ref_level_trust(tmp_path: Path) -> None:
    """A manifest entry that enables remote code has no code site: reported at its own line."""
    from auditor.domain import ModelRef

    ctx = make_ctx(offline=True)
    ctx.report.models = [ModelRef("acme-ai/manifest", location=Location("mlaudit.toml", 2), origin="manifest",
                                  trust_remote_code=True)]
    (remote,) = [f for f in CHECK.run(ctx) if f.kind is FindingKind.TRUST_REMOTE_CODE]
    assert remote.location == Location("mlaudit.toml", 2) and remote.severity is Severity.HIGH


# -- classes from the real-repository corpus (bench/realrepos: R1, R5-R11, X3-X5, P4) -------------------------------

def test_names_in_tests_that_patch_the_hub_are_test_doubles(tmp_path: Path) -> None:
    scan = _project(tmp_path, {
        "pkg/resolve.py": '''
            from huggingface_hub import hf_hub_download

            def resolve_base(repo):
                return hf_hub_download(repo, "adapter_config.json")
        ''',
        "tests/test_resolve.py": '''
            from unittest.mock import patch
            from pkg.resolve import resolve_base


            def test_mocked():
                with patch("huggingface_hub.hf_hub_download", side_effect=lambda *a, **k: "/tmp/x"):
                    assert resolve_base("qwen-lab/adapter-one") is None


            def test_monkeypatched(monkeypatch):
                monkeypatch.setattr("pkg.resolve.hf_hub_download", lambda *a, **k: "/tmp/x")
                assert resolve_base("qwen-lab/adapter-two") is None


            @patch("pkg.resolve.hf_hub_download")
            def test_decorated(download):
                resolve_base("qwen-lab/adapter-three")


            def test_real():
                assert resolve_base("qwen-lab/adapter-real")
        ''',
    })
    assert set(_refs(tmp_path, scan)) == {"qwen-lab/adapter-real"}
    excluded = _excluded(tmp_path, scan)
    assert {"qwen-lab/adapter-one", "qwen-lab/adapter-two", "qwen-lab/adapter-three"} <= set(excluded)
    assert "patches the Hub" in excluded["qwen-lab/adapter-one"][2]


def test_a_true_only_tests_pass_is_an_opt_in_site_of_the_library(tmp_path: Path) -> None:
    scan = _project(tmp_path, {
        "lib.py": '''
            from transformers import AutoConfig

            def load(name, trust_remote_code=False):
                return AutoConfig.from_pretrained(name, trust_remote_code=trust_remote_code)
        ''',
        "tests/test_lib.py": '''
            from lib import load
            load("qwen-lab/remote", trust_remote_code=True)
        ''',
        "config.py": '''
            from dataclasses import dataclass
            from transformers import AutoModel


            @dataclass
            class RunConfig:
                model: str = "qwen-lab/base"
                trust_remote_code: bool = False


            def train(cfg: RunConfig):
                return AutoModel.from_pretrained(cfg.model, trust_remote_code=cfg.trust_remote_code)
        ''',
        "tests/test_config.py": '''
            from config import RunConfig, train
            train(RunConfig(trust_remote_code=True))
        ''',
    })
    remote = [(f.id, f.severity, _rel(tmp_path, f.location.file if f.location else None))
              for f in _findings(scan) if f.kind is FindingKind.TRUST_REMOTE_CODE]
    assert sorted(remote) == [(Rule.MODEL_REMOTE_CODE_OPTION, Severity.LOW, "config.py"),
                              (Rule.MODEL_REMOTE_CODE_OPTION, Severity.LOW, "lib.py")]
    assert all(not site.location.file.endswith("test_config.py") for site in scan.sites)  # no site at RunConfig()


def test_short_commit_revision_is_pinned(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"a.py": '''
        from huggingface_hub import snapshot_download
        from transformers import AutoModel
        snapshot_download("qwen-lab/short", revision="d05c1cb")
        AutoModel.from_pretrained("qwen-lab/branch", revision="v1.0")
        AutoModel.from_pretrained("qwen-lab/word", revision="deadbeef")
    '''})
    unpinned = {(f.model or ("", None))[0] for f in _findings(scan) if f.kind is FindingKind.UNPINNED_REVISION}
    assert unpinned == {"qwen-lab/branch", "qwen-lab/word"}  # an all-letter word may be a branch


def test_other_registries_and_api_model_names_are_listed_not_hub_refs(tmp_path: Path) -> None:
    scan = _project(tmp_path, {
        "asr.py": '''
            import torch
            import whisper
            model = whisper.load_model("base.en")
            dino = torch.hub.load("facebookresearch/dino:main", "dino_vits16")
        ''',
        "recipes/generate.json": '{"columns": [{"provider": "provider_1", "model": "google/gemini-2.0-flash-001"},'
                                 ' {"model_name_or_path": "qwen-lab/generator"}]}\n',
        "data.py": '''
            import pandas as pd
            df = pd.read_parquet("hf://buckets/qwen-lab/store/x.parquet")
            dg = pd.read_parquet("hf://datasets/qwen-lab/set/x.parquet")
        ''',
        "tests/integration/__snapshots__/test_chat.json": '{"model": "qwen-lab/served", "choices": []}\n',
        "method_comparison/results/lora--run1.json": '{"train_config": {"model_id": "qwen-lab/recorded"}, '
                                                      '"base_model_name_or_path": "qwen-lab/recorded"}\n',
    })
    assert set(_refs(tmp_path, scan)) == {"qwen-lab/generator", "qwen-lab/set"}
    assert "base.en" in _excluded(tmp_path, scan)
    (hub,) = scan.sites  # torch.hub.load runs the GitHub repo's hubconf.py: remote code, at high (unpinned)
    assert hub.runtime == "the GitHub repository facebookresearch/dino:main" and "hubconf.py" in hub.because
    (finding,) = [f for f in _findings(scan) if f.kind is FindingKind.TRUST_REMOTE_CODE]
    assert finding.severity is Severity.HIGH and finding.location == Location(hub.location.file, 4)


def test_timm_and_open_clip_pretrained_downloads_are_gaps(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"vision.py": '''
        import open_clip
        import timm
        a = timm.create_model("resnet50", pretrained=True)
        b = timm.create_model("resnet50")
        c, _, _ = open_clip.create_model_and_transforms("ViT-B-32", pretrained="laion2b_s34b_b79k")
        d = timm.create_model("hf-hub:qwen-lab/vit-tiny", pretrained=True)
    '''})
    assert set(_refs(tmp_path, scan)) == {"qwen-lab/vit-tiny"}
    gaps = sorted(s.line or 0 for s in scan.skipped if "registry" in (s.reason or ""))
    assert gaps == [3, 5]  # resnet50 without pretrained downloads nothing


def test_unsloth_model_name_keyword_and_pydantic_fields(tmp_path: Path) -> None:
    scan = _project(tmp_path, {
        "finetune.py": '''
            from unsloth import FastLanguageModel
            model, tok = FastLanguageModel.from_pretrained(model_name="unsloth/Llama-3.1-8B-Instruct")
            merged, _ = FastLanguageModel.from_pretrained(model_name="./gpt-oss-finetuned-merged")
        ''',
        "api.py": '''
            from pydantic import BaseModel, Field
            from transformers import AutoModel


            class LoadRequest(BaseModel):
                model_path: str = Field(..., description="the model to load")
                base: str = Field("qwen-lab/api-default", description="base")


            def load(request: LoadRequest):
                AutoModel.from_pretrained(request.model_path)
                return AutoModel.from_pretrained(request.base)
        ''',
        "flow.py": '''
            from lerobot.processor import pipeline

            def run(transition):
                return pipeline(transition)
        ''',
    })
    assert set(_refs(tmp_path, scan)) == {"unsloth/Llama-3.1-8B-Instruct", "qwen-lab/api-default"}
    assert "./gpt-oss-finetuned-merged" in _excluded(tmp_path, scan)
    (runtime,) = [s for s in scan.skipped if s.file and s.file.endswith("api.py")]
    assert "LoadRequest.model_path" in (runtime.reason or "") and "Field(" not in (runtime.reason or "")
    assert not [s for s in scan.skipped if s.file and s.file.endswith("flow.py")]  # not transformers' pipeline


def test_self_attributes_are_the_classes_own(tmp_path: Path) -> None:
    """Two test classes in one file set ``self.model_id`` in ``setUp``: each loads its own model."""
    scan = _project(tmp_path, {
        "tests/test_gpu.py": '''
            import unittest
            from transformers import AutoModelForCausalLM


            class FirstTests(unittest.TestCase):
                def setUp(self):
                    self.model_id = "qwen-lab/first"

                def test_load(self):
                    AutoModelForCausalLM.from_pretrained(self.model_id)


            class SecondTests(unittest.TestCase):
                def setUp(self):
                    self.model_id = "qwen-lab/second"

                def test_load(self):
                    AutoModelForCausalLM.from_pretrained(self.model_id)


            class Base(unittest.TestCase):
                model_id = "qwen-lab/base-class"


            class Derived(Base):
                def test_load(self):
                    AutoModelForCausalLM.from_pretrained(self.model_id)
        ''',
    })
    assert _refs(tmp_path, scan) == {"qwen-lab/first": [("tests/test_gpu.py", 10)],
                                     "qwen-lab/second": [("tests/test_gpu.py", 18)],
                                     "qwen-lab/base-class": [("tests/test_gpu.py", 27)]}


def test_a_sibling_module_is_the_one_a_script_imports(tmp_path: Path) -> None:
    """``from utils import load`` in ``examples/sft/train.py`` is ``examples/sft/utils.py``: another example's
    ``utils.py`` and its options are not this script's."""
    loader = '''
        from transformers import AutoModel

        def load(args):
            return AutoModel.from_pretrained(args.model_name_or_path)
    '''
    script = '''
        import argparse
        from utils import load
        parser = argparse.ArgumentParser()
        parser.add_argument("--model_name_or_path", default="{default}")
        load(parser.parse_args())
    '''
    scan = _project(tmp_path, {
        "examples/sft/utils.py": loader, "examples/sft/train.py": script.format(default="qwen-lab/sft-base"),
        "examples/dpo/utils.py": loader, "examples/dpo/train.py": script.format(default="qwen-lab/dpo-base"),
    })
    assert _refs(tmp_path, scan) == {"qwen-lab/sft-base": [("examples/sft/utils.py", 4)],
                                     "qwen-lab/dpo-base": [("examples/dpo/utils.py", 4)]}


def test_a_flag_forwarded_through_kwargs_is_the_callers_choice(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"lib.py": '''
        from transformers import AutoConfig

        def load_config(name, trust_remote_code=False):
            return AutoConfig.from_pretrained(name, trust_remote_code=trust_remote_code)

        def advisor(*args, **kwargs):
            return load_config(*args, **kwargs)
    '''})
    (site,) = scan.sites
    assert site.opt_in and site.bounded


def test_literals_under_a_name_test_and_names_an_exec_may_override(tmp_path: Path) -> None:
    scan = _project(tmp_path, {
        "vis.py": '''
            from transformers import AutoConfig

            def build(args):
                if "qwen" in args.vision_model_name_or_path.lower():
                    return AutoConfig.from_pretrained("qwen-lab/clip-config")  # a literal always loads
        ''',
        "train.py": '''
            from transformers import AutoModel
            init_from = "scratch"
            exec(open("configurator.py").read())  # nanoGPT: command-line overrides of any global
            if init_from.startswith("gpt2"):
                model = AutoModel.from_pretrained(init_from)
        ''',
        "serve.py": '''
            from transformers import AutoModel

            def load(**kwargs):
                return AutoModel.from_pretrained(**kwargs)
        ''',
    })
    assert set(_refs(tmp_path, scan)) == {"qwen-lab/clip-config"}
    assert _runtime(tmp_path, scan) == [("serve.py", 4), ("train.py", 5)]

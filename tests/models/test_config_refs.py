"""Training and serving configs as model sources: YAML (LLaMA-Factory, axolotl, torchtune), HF Trainer JSON, TOML.

The configs are written here in the shapes those tools document; values that are local paths or placeholders must
not become references, and every reference carries the exact ``file:line`` of its key.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.models.configrefs import hub_value, is_config_file, read_config
from auditor.models.refs import scan_project

SHA = "0123456789abcdef0123456789abcdef01234567"

FACTORY_SFT = """\
### model
model_name_or_path: Qwen/Qwen3-4B-Instruct
trust_remote_code: true

### method
stage: sft
finetuning_type: lora

### output
output_dir: saves/qwen3-4b/lora/sft
"""

FACTORY_LOCAL = """\
model_name_or_path: saves/qwen3-4b/full/sft
adapter_name_or_path: saves/qwen3-4b/lora/sft
trust_remote_code: true
"""

AXOLOTL = f"""\
base_model: acme-ai/base-3b
revision: {SHA}
tokenizer_type: AutoTokenizer
hub_model_id: acme-ai/my-finetune
datasets:
  - path: acme-ai/alpaca-clean
    type: alpaca
  - path: ./data/local.jsonl
    type: completion
output_dir: ./outputs/lora-out
"""

TORCHTUNE = """\
tokenizer:
  _component_: torchtune.models.llama3.llama3_tokenizer
  path: /tmp/Meta-Llama-3-8B-Instruct/original/tokenizer.model
checkpointer:
  checkpoint_dir: /tmp/Meta-Llama-3-8B-Instruct/
"""


def _write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_llamafactory_yaml_names_its_model_and_remote_code(tmp_path: Path) -> None:
    _write(tmp_path, "examples/train_lora/qwen3_lora_sft.yaml", FACTORY_SFT)
    scan = scan_project(tmp_path)
    (ref,) = scan.refs
    assert (ref.repo_id, ref.kind, ref.origin, ref.trust_remote_code) == (
        "Qwen/Qwen3-4B-Instruct", "model", "training-config", True)
    assert ref.location is not None and ref.location.line == 2
    assert ref.location.file == str(tmp_path / "examples/train_lora/qwen3_lora_sft.yaml")
    (site,) = scan.sites
    assert site.models == ["Qwen/Qwen3-4B-Instruct"] and site.location.line == 3 and site.runtime is None


def test_local_paths_and_placeholders_are_not_references(tmp_path: Path) -> None:
    _write(tmp_path, "merge.yaml", FACTORY_LOCAL)
    _write(tmp_path, "placeholders.yaml", "model_name_or_path: path_to_model\ntokenizer_name: <your-tokenizer>\n"
                                          "base_model: ${BASE_MODEL}\nmodel_id: my_model\n")
    _write(tmp_path, "torchtune.yaml", TORCHTUNE)
    (tmp_path / "models" / "llama").mkdir(parents=True)
    _write(tmp_path, "local_dir.yaml", "model_name_or_path: models/llama\n")
    scan = scan_project(tmp_path)
    assert scan.refs == []
    assert scan.sites == []  # remote code from a local directory is the project's own files


def test_axolotl_model_revision_and_datasets(tmp_path: Path) -> None:
    _write(tmp_path, "configs/lora.yml", AXOLOTL)
    refs = {r.repo_id: r for r in scan_project(tmp_path).refs}
    assert set(refs) == {"acme-ai/base-3b", "acme-ai/alpaca-clean"}  # hub_model_id is where it is pushed
    assert refs["acme-ai/base-3b"].revision == SHA and refs["acme-ai/base-3b"].location.line == 1  # type: ignore[union-attr]
    data = refs["acme-ai/alpaca-clean"]
    assert data.kind == "dataset" and data.location is not None and data.location.line == 6


def test_trainer_json_and_toml(tmp_path: Path) -> None:
    args = {"output_dir": "out", "model_name_or_path": "gpt2", "tokenizer_name": "acme-ai/tok",
            "model_revision": "v1.2", "dataset_name": "acme-ai/wiki-sample", "num_train_epochs": 3}
    _write(tmp_path, "args.json", json.dumps(args, indent=2))
    _write(tmp_path, "serve.toml", '[server]\nport = 8080\n\n[model]\nmodel_id = "acme-ai/served"\n'
                                   'trust_remote_code = false\n')
    refs = {r.repo_id: r for r in scan_project(tmp_path).refs}
    assert set(refs) == {"gpt2", "acme-ai/tok", "acme-ai/wiki-sample", "acme-ai/served"}
    assert refs["gpt2"].revision == "v1.2" and refs["gpt2"].location.line == 3  # type: ignore[union-attr]
    assert refs["acme-ai/tok"].location.line == 4  # type: ignore[union-attr]
    assert refs["acme-ai/wiki-sample"].kind == "dataset"
    served = refs["acme-ai/served"]
    assert served.trust_remote_code is False and served.location is not None and served.location.line == 5


def test_tool_configs_and_malformed_files(tmp_path: Path) -> None:
    _write(tmp_path, ".github/workflows/ci.yml", "jobs:\n  test:\n    model_name_or_path: acme-ai/in-ci\n")
    _write(tmp_path, "package.json", json.dumps({"name": "ui", "model": "acme-ai/in-package-json"}))
    _write(tmp_path, "broken.yaml", "model_name_or_path: acme-ai/x\n  bad: [unclosed\n")
    scan = scan_project(tmp_path)
    assert scan.refs == []
    (skip,) = scan.skipped
    assert skip.file == str(tmp_path / "broken.yaml") and skip.line == 2 and "cannot parse YAML" in skip.reason
    assert not is_config_file((), "package-lock.json") and is_config_file(("examples",), "sft.yaml")


def test_hub_value_rules() -> None:
    assert hub_value("model_name_or_path", "meta-llama/Llama-3-8B") == "meta-llama/Llama-3-8B"
    assert hub_value("model_name_or_path", "gpt2") == "gpt2"  # legacy id, under a Hugging Face argument name
    assert hub_value("vision_tower", "openai/clip-vit-large-patch14") == "openai/clip-vit-large-patch14"
    assert hub_value("vision_tower", "clip") is None  # single segment under a looser key
    assert hub_value("model_id", "v3_en") is None  # not a Hugging Face argument name
    for value in ["path/to/model", "/data/ckpt", "./ckpt", "your_model", "${MODEL}", "saves/x/lora", True, 3]:
        assert hub_value("model_name_or_path", value) is None, value


def test_yaml_is_composed_never_constructed(tmp_path: Path) -> None:
    """A tag that would run code under an unsafe loader is just a node to ``yaml.compose``: no error, no call."""
    text = "model_name_or_path: acme-ai/ok\nhook: !!python/object/apply:os.system ['touch pwned']\n"
    found = read_config(text, "c.yaml", ".yaml")
    assert [r.repo_id for r in found.refs] == ["acme-ai/ok"]
    assert not (tmp_path / "pwned").exists()


def test_config_references_reach_the_report_graph_and_sbom(tmp_path: Path, capsys: pytest.CaptureFixture[str]) \
        -> None:
    _write(tmp_path, "requirements.txt", "")
    _write(tmp_path, "examples/sft.yaml", FACTORY_SFT)
    out = tmp_path / "report.json"
    main(["--offline", str(tmp_path), "--format", "json", "-o", str(out), "-q", "--disable-check", "typosquat"])
    report = json.loads(out.read_text())
    (model,) = report["models"]
    assert model["origin"] == "training-config" and model["line"] == 2 and model["trust_remote_code"] is True
    remote = [f for f in report["findings"] if f["kind"] == "trust-remote-code"]
    assert [(f["model"]["repo_id"], f["location"]["line"]) for f in remote] == [("Qwen/Qwen3-4B-Instruct", 2)]
    sbom = tmp_path / "sbom.json"
    main(["--offline", str(tmp_path), "--format", "cyclonedx", "-o", str(sbom), "-q", "--disable-check", "typosquat"])
    names = {c.get("name") for c in json.loads(sbom.read_text()).get("components", [])}
    assert any("Qwen3-4B-Instruct" in (n or "") for n in names)
    capsys.readouterr()


def test_large_data_json_is_not_a_config(tmp_path: Path) -> None:
    rows = [{"instruction": "say hi", "output": "hi"}] * 40_000
    _write(tmp_path, "data/alpaca.json", json.dumps(rows))
    big_config = {"model_name_or_path": "acme-ai/x", "pad": "y" * 1_100_000}
    _write(tmp_path, "huge_args.json", json.dumps(big_config))
    scan = scan_project(tmp_path)
    assert [Path(s.file or "").name for s in scan.skipped] == ["huge_args.json"]
    assert "larger than" in scan.skipped[0].reason

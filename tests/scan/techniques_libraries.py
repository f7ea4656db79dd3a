"""Library-written benign twins for ``techniques_corpus`` (issue 27): each file is written by the real library
(OmegaConf, transformers + tokenizers, skops + scikit-learn, Keras 3, torch / TorchScript, onnx, TensorFlow,
safetensors) when it is importable; a missing library writes nothing (its rows are simply absent). The producer
column names the library and version. Nothing is loaded.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

from tests.scan.techniques_corpus import _NEMO_BENIGN_YAML, BENIGN_TEMPLATES, Item, Written


def _version(module: str) -> str | None:
    try:
        mod = importlib.import_module(module)
    except Exception:  # noqa: BLE001 - a broken optional install counts as absent
        return None
    return str(getattr(mod, "__version__", "?"))


def _nemo_tar(path: Path, yaml_text: str, weights: bytes, gz: bool) -> None:
    """The layout NeMo's SaveRestoreConnector writes: model_config.yaml + model_weights.ckpt in a tar."""
    with tarfile.open(path, "w:gz" if gz else "w:") as tf:
        for name, data in (("./model_config.yaml", yaml_text.encode()), ("./model_weights.ckpt", weights)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def omegaconf_files(out: Path) -> Written:
    version = _version("omegaconf")
    if version is None:
        return []
    import yaml
    from omegaconf import OmegaConf

    tag = f"omegaconf {version}"
    d = out / "config-target"
    d.mkdir(parents=True, exist_ok=True)
    items: Written = []
    asr = OmegaConf.create(yaml.safe_load(_NEMO_BENIGN_YAML))
    tts = OmegaConf.create({"target": "nemo.collections.tts.models.fastpitch.FastPitchModel", "sample_rate": 22050,
                            "preprocessor": {"_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
                                             "features": 80},
                            "input_fft": {"_target_": "nemo.collections.tts.modules.transformer.FFTransformerEncoder",
                                          "n_layer": 2, "n_head": 1},
                            "optim": {"_target_": "torch.optim.AdamW", "lr": 1e-3, "betas": [0.9, 0.999]},
                            "train_ds": {"dataset": {"_target_": "nemo.collections.tts.data.dataset.TTSDataset",
                                                     "manifest_filepath": "train.json"},
                                         "dataloader_params": {"batch_size": 4}}})
    nlp = OmegaConf.create({"target": "nemo.collections.nlp.models.text_classification.TextClassificationModel",
                            "tokenizer": {"library": "huggingface", "type": "bert-base-uncased"},
                            "language_model": {"pretrained_model_name": "bert-base-uncased"},
                            "classifier_head": {"num_output_layers": 2, "fc_dropout": 0.1},
                            "optim": {"name": "adam", "lr": 2e-5,
                                      "sched": {"name": "WarmupAnnealing", "warmup_ratio": 0.1}}})
    weights = b""
    if _version("torch") is not None:
        import torch

        buf = io.BytesIO()
        torch.save({"state_dict": torch.nn.Linear(4, 2).state_dict()}, buf)
        weights = buf.getvalue()
    for name, cfg, gz in (("asr_ctc.nemo", asr, False), ("fastpitch_gz.nemo", tts, True),
                          ("text_classifier.nemo", nlp, False)):
        _nemo_tar(d / name, OmegaConf.to_yaml(cfg), weights, gz)
        items.append(Item(d / name, "benign", "config-target", tag))
    beside = d / "hydra_model"
    beside.mkdir(exist_ok=True)
    OmegaConf.save(OmegaConf.create({
        "model": {"_target_": "torch.nn.Sequential", "_recursive_": True},
        "optimizer": {"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 1e-3, "weight_decay": 0.01},
        "scheduler": {"_target_": "torch.optim.lr_scheduler.OneCycleLR", "_partial_": True, "max_lr": 1e-3},
        "callbacks": [{"_target_": "lightning.pytorch.callbacks.ModelCheckpoint", "monitor": "val/acc"},
                      {"_target_": "lightning.pytorch.callbacks.EarlyStopping", "patience": 3}],
        "data": {"_target_": "torchvision.datasets.MNIST", "root": "data", "_convert_": "partial"}}),
        beside / "config.yaml")
    items.append(Item(beside / "config.yaml", "benign", "config-target", tag))
    OmegaConf.save(OmegaConf.create({"model": {"_component_": "torchtune.models.llama3_2.lora_llama3_2_1b",
                                               "lora_attn_modules": ["q_proj", "v_proj"], "lora_rank": 8},
                                     "tokenizer": {"_component_": "torchtune.models.llama3.llama3_tokenizer",
                                                   "path": "tokenizer.model"},
                                     "loss": {"_component_": "torchtune.modules.loss.CEWithChunkedOutputLoss"}}),
                   beside / "lora_finetune.yaml")
    items.append(Item(beside / "lora_finetune.yaml", "benign", "config-target", tag))
    ts = {"_target_": "uni2ts.model.moirai.MoiraiModule", "d_model": 384, "num_layers": 6,
          "distr_output": {"_target_": "uni2ts.distribution.MixtureOutput",
                           "components": [{"_target_": "uni2ts.distribution.StudentTOutput"},
                                          {"_target_": "uni2ts.distribution.NormalFixedScaleOutput"}]},
          "patch_sizes": [8, 16, 32]}
    (beside / "moirai_config.json").write_text(json.dumps(OmegaConf.to_container(OmegaConf.create(ts)), indent=2))
    items.append(Item(beside / "moirai_config.json", "benign", "config-target", tag))
    if _version("safetensors") is not None and _version("torch") is not None:
        import torch
        from safetensors.torch import save_file

        meta = {"format": "pt", "config": json.dumps(OmegaConf.to_container(asr))}
        save_file(torch.nn.Linear(4, 2).state_dict(), str(beside / "model.safetensors"), metadata=meta)
        items.append(Item(beside / "model.safetensors", "benign", "config-target",
                          f"safetensors {_version('safetensors')} + {tag}"))
    return items


def transformers_files(out: Path) -> Written:
    version = _version("transformers")
    if version is None or _version("tokenizers") is None:
        return []
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PretrainedConfig, PreTrainedTokenizerFast

    tag = f"transformers {version}"
    items: Written = []
    vocab = {"[UNK]": 0, "<s>": 1, "</s>": 2, "hello": 3, "world": 4}
    for name, template in BENIGN_TEMPLATES.items():
        tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="[UNK]")
        fast.chat_template = template
        target = out / "chat-template" / f"tok_{name}"
        fast.save_pretrained(str(target))
        for written in sorted(target.iterdir()):
            if written.name in ("tokenizer_config.json", "chat_template.jinja") or written.suffix == ".jinja":
                items.append(Item(written, "benign", "chat-template", tag))
    multi = out / "chat-template" / "tok_multi"
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")
    fast.chat_template = {"default": BENIGN_TEMPLATES["chatml"], "tool_use": BENIGN_TEMPLATES["tools"]}
    fast.save_pretrained(str(multi))
    for written in sorted(multi.rglob("*")):
        if written.is_file() and (written.name == "tokenizer_config.json" or written.suffix == ".jinja"):
            items.append(Item(written, "benign", "chat-template", tag))
    cfg = PretrainedConfig(hidden_size=8)
    cfg.auto_map = {"AutoConfig": "configuration_custom.CustomConfig",
                    "AutoModel": "modeling_custom.CustomModel"}
    target = out / "auto-map" / "custom_code"
    cfg.save_pretrained(str(target))
    items.append(Item(target / "config.json", "benign", "auto-map", tag))
    return items


def skops_files(out: Path) -> Written:
    version = _version("skops")
    if version is None or _version("sklearn") is None:
        return []
    import numpy as np
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
    from sklearn.svm import SVC

    tag = f"skops {version}"
    d = out / "skops"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4))
    y = (x[:, 0] > 0).astype(int)
    cat = np.c_[x, rng.integers(0, 3, size=(60, 1))]
    models: dict[str, object] = {
        "logreg.skops": LogisticRegression().fit(x, y),
        "forest.skops": RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y),
        "pipeline_svc.skops": Pipeline([("scale", StandardScaler()), ("svc", SVC())]).fit(x, y),
        "hgb.skops": HistGradientBoostingClassifier(max_iter=5).fit(x, y),
        "gbr.skops": GradientBoostingRegressor(n_estimators=5).fit(x, x[:, 1]),
        "mlp.skops": MLPClassifier(hidden_layer_sizes=(4,), max_iter=50).fit(x, y),
        "log1p_pipeline.skops": Pipeline([("log", FunctionTransformer(np.log1p)),
                                          ("clf", LogisticRegression())]).fit(np.abs(x), y),
        "columns.skops": Pipeline([("cols", ColumnTransformer([("oh", OneHotEncoder(), [4])], remainder="passthrough")),
                                   ("clf", LogisticRegression())]).fit(cat, y),
    }
    items: Written = []
    for name, model in models.items():
        sio.dump(model, d / name)
        items.append(Item(d / name, "benign", "skops", tag))
    return items


def keras_files(out: Path) -> Written:
    version = _version("keras")
    if version is None:
        return []
    import keras

    tag = f"keras {version} ({keras.backend.backend()})"
    d = out / "keras-file-access"
    d.mkdir(parents=True, exist_ok=True)
    items: Written = []
    inp = keras.Input(shape=(1,), dtype="string")
    keras.Model(inp, keras.layers.StringLookup(vocabulary=["a", "b", "c"])(inp)).save(d / "string_lookup.keras")
    inp = keras.Input(shape=(1,), dtype="int64")
    keras.Model(inp, keras.layers.IntegerLookup(vocabulary=[3, 5, 7])(inp)).save(d / "integer_lookup.keras")
    inp = keras.Input(shape=(1,), dtype="string")
    vec = keras.layers.TextVectorization(vocabulary=["hello", "world"], output_mode="int")
    keras.Model(inp, vec(inp)).save(d / "text_vectorization.keras")
    vocab = d / "vocab.txt"
    vocab.write_text("x\ny\nz\n")
    inp = keras.Input(shape=(1,), dtype="string")
    keras.Model(inp, keras.layers.StringLookup(vocabulary=str(vocab))(inp)).save(d / "lookup_from_file.keras")
    vocab.unlink()  # saved into the archive's assets; the config no longer names the path
    for name in ("string_lookup", "integer_lookup", "text_vectorization", "lookup_from_file"):
        items.append(Item(d / f"{name}.keras", "benign", "keras-file-access", tag))
    return items


def torch_files(out: Path) -> Written:
    version = _version("torch")
    if version is None:
        return []
    import torch

    tag = f"torch {version}"
    d = out / "torchscript"
    d.mkdir(parents=True, exist_ok=True)

    class WithState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(2))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.w

        @torch.jit.export
        def __getstate__(self) -> tuple[torch.Tensor, bool]:
            return (self.w, self.training)

        @torch.jit.export
        def __setstate__(self, state: tuple[torch.Tensor, bool]) -> None:
            self.w = state[0]
            self.training = state[1]

    items: Written = []
    torch.jit.script(WithState()).save(str(d / "scripted_setstate.pt"))
    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                               torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()
    torch.jit.trace(conv, torch.randn(1, 3, 8, 8)).save(str(d / "traced_conv.pt"))
    torch.jit.script(torch.nn.LSTM(4, 4)).save(str(d / "scripted_lstm.pt"))
    items += [Item(d / n, "benign", "torchscript", tag) for n in ("scripted_setstate.pt", "traced_conv.pt",
                                                                   "scripted_lstm.pt")]
    return items


def onnx_files(out: Path) -> Written:
    version = _version("onnx")
    if version is None:
        return []
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    d = out / "torchscript"
    d.mkdir(parents=True, exist_ok=True)
    w = numpy_helper.from_array(np.ones((4, 2), dtype=np.float32), "w")
    b = numpy_helper.from_array(np.zeros(2, dtype=np.float32), "b")
    graph = helper.make_graph([helper.make_node("Gemm", ["x", "w", "b"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
                               helper.make_node("Softmax", ["r"], ["y"], axis=1)], "mlp",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(d / "mlp.onnx"))
    ml = helper.make_graph([helper.make_node("Scaler", ["x"], ["y"], domain="ai.onnx.ml", scale=[2.0], offset=[0.0])],
                           "scaler", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
                           [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])])
    onnx.save(helper.make_model(ml, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]),
              str(d / "scaler_ml.onnx"))
    return [Item(d / "mlp.onnx", "benign", "torchscript", f"onnx {version}"),
            Item(d / "scaler_ml.onnx", "benign", "torchscript", f"onnx {version}")]


def tensorflow_files(out: Path) -> Written:
    version = _version("tensorflow")
    if version is None:
        return []
    import tensorflow as tf

    tag = f"tensorflow {version}"
    d = out / "tf-savedmodel"

    class Printer(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(tf.ones([4, 2]))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def __call__(self, x: tf.Tensor) -> tf.Tensor:
            tf.print("batch", tf.shape(x))  # PrintV2 to stderr: ordinary
            return tf.matmul(x, self.w)

    tf.saved_model.save(Printer(), str(d / "printer"))
    items = [Item(d / "printer" / "saved_model.pb", "benign", "tf-savedmodel", tag)]
    module = tf.Module()
    module.v = tf.Variable(3.0)
    module.f = tf.function(lambda x: x * module.v, input_signature=[tf.TensorSpec([], tf.float32)])
    tf.saved_model.save(module, str(d / "scalar"))
    items.append(Item(d / "scalar" / "saved_model.pb", "benign", "tf-savedmodel", tag))
    return items


GENERATORS: list[Callable[[Path], Written]] = [omegaconf_files, transformers_files, skops_files, keras_files,
                                               torch_files, onnx_files, tensorflow_files]


def build(out: Path) -> Written:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    items: Written = []
    for gen in GENERATORS:
        items += gen(out)
    return items

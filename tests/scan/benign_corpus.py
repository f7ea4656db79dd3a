"""Regression corpus of ordinary model files: what current releases of the ML libraries write, so every false alarm
the scanner ever raised on such files stays fixed.

Each generator writes files with the real library when it is importable (torch, TensorFlow, Keras, scikit-learn,
joblib, NumPy, the ``gguf`` writer) and otherwise with a byte-level builder that reproduces the layout that library
writes (so CI, which installs no heavy framework, still covers the layout). Run it as a script with any Python
that has the libraries, e.g. a venv with torch:

    python tests/scan/benign_corpus.py OUT_DIR [--bytes-only]

It prints one ``path<TAB>producer`` line per file (``producer`` names the library and version, or ``bytes``).
Nothing here loads a file; the generators only *write* with the libraries.
"""

from __future__ import annotations

import importlib
import json
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.scan import craft  # noqa: E402

Written = list[tuple[Path, str]]


def _have(module: str) -> str | None:
    """The version of an importable library, or None."""
    try:
        mod = importlib.import_module(module)
    except Exception:  # noqa: BLE001 - a broken optional install counts as absent
        return None
    version = getattr(mod, "__version__", None)
    if version is None:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        try:
            version = dist_version(module)
        except PackageNotFoundError:
            version = "?"
    return str(version)


# -- torch --------------------------------------------------------------------------------------------------
def _torch_files(out: Path, bytes_only: bool) -> Written:
    version = None if bytes_only else _have("torch")
    if version is None:
        return _torch_bytes(out)
    import argparse

    import torch
    from torch import nn

    torch.manual_seed(0)
    made: Written = []
    tag = f"torch {version}"
    model = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.LayerNorm(4), nn.Linear(4, 2))
    torch.save(model.state_dict(), out / "state_dict.pt")
    torch.save(model.state_dict(), out / "legacy_state_dict.pt", _use_new_zipfile_serialization=False)
    torch.save(model, out / "whole_module.pth")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(3, 8)).sum().backward()
    opt.step()
    args = argparse.Namespace(lr=1e-3, arch="mlp", layers=[8, 4, 2], data=Path("data"))
    # fairseq-style checkpoint: args namespace, model, optimizer history, extra state
    torch.save({"args": args, "model": model.state_dict(), "optimizer_history": [
        {"criterion_name": "CrossEntropyCriterion", "optimizer_name": "AdamW", "num_updates": 1}],
        "extra_state": {"epoch": 1, "train_iterator": {"epoch": 1}}, "last_optimizer_state": opt.state_dict()},
        out / "checkpoint_best.pt")
    hf = out / "hf_model"
    hf.mkdir(exist_ok=True)
    torch.save({k: v.to(torch.bfloat16) for k, v in model.state_dict().items()}, hf / "pytorch_model.bin")
    (hf / "config.json").write_text(json.dumps({"model_type": "mlp", "hidden_size": 4}))
    torch.save({"step": 10, "rng": torch.get_rng_state(), "numpy": __import__("numpy").arange(3)},
               out / "training_state.bin")

    class Scripted(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(8, 2)
            self.sizes = [1, 2, 3]

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.fc(x)) * float(len(self.sizes))

    torch.jit.script(Scripted()).save(str(out / "scripted.pt"))
    torch.jit.trace(model, torch.randn(1, 8)).save(str(out / "traced.pt"))
    made += [(out / n, tag) for n in ("state_dict.pt", "legacy_state_dict.pt", "whole_module.pth",
                                      "checkpoint_best.pt", "training_state.bin", "scripted.pt", "traced.pt")]
    made.append((hf / "pytorch_model.bin", tag))
    made.append((hf / "config.json", tag))
    return made


def _torch_bytes(out: Path) -> Written:
    """The torch zip / TorchScript layouts, byte by byte (protocol 2 pickles as torch writes them)."""
    made: Written = []
    craft.torch_zip(out / "state_dict.pt", craft.benign_state_dict())
    made.append((out / "state_dict.pt", "bytes"))
    # TorchScript: data.pkl builds __torch__ classes with torch.jit._pickle helpers; code/ holds TorchScript
    data_pkl = (craft.proto(2) + craft.global_("__torch__", "Scripted") + b")\x81}(" + craft.binunicode("training")
                + b"\x88" + craft.binunicode("sizes") + craft.global_("torch.jit._pickle", "build_intlist")
                + b"](K\x01K\x02K\x03e\x85R" + b"ub.")
    code = ("class Scripted(Module):\n  __parameters__ = []\n  training : bool\n  sizes : List[int]\n"
            "  def forward(self: __torch__.Scripted, x: Tensor) -> Tensor:\n"
            "    return torch.mul(torch.relu(x), 3.)\n    _0 = ops.aten.relu(x)\n")
    members = [("scripted/data.pkl", data_pkl), ("scripted/code/__torch__.py", code.encode()),
               ("scripted/code/__torch__.py.debug_pkl", craft.proto(2) + b")."),
               ("scripted/constants.pkl", craft.proto(2) + b")."), ("scripted/version", b"3\n")]
    (out / "scripted.pt").write_bytes(craft.zip_bytes(members))
    made.append((out / "scripted.pt", "bytes"))
    return made


# -- scikit-learn / joblib / numpy --------------------------------------------------------------------------
def _sklearn_files(out: Path, bytes_only: bool) -> Written:
    version = None if bytes_only else (_have("sklearn") and _have("joblib"))
    if not version:
        return _joblib_bytes(out)
    import pickle

    import joblib
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    tag = f"scikit-learn {_have('sklearn')}, joblib {_have('joblib')}"
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 4)), rng.integers(0, 2, 40)
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y)
    made: Written = []
    for name, kwargs in (("pipeline.joblib", {}), ("pipeline_z3.joblib", {"compress": 3}),
                         ("pipeline_z9.joblib", {"compress": 9}), ("pipeline_z1.joblib", {"compress": 1}),
                         ("pipeline_gzip.joblib", {"compress": ("gzip", 3)}),
                         ("pipeline_bz2.joblib", {"compress": ("bz2", 3)}),
                         ("pipeline_xz.joblib", {"compress": ("xz", 3)}),
                         ("pipeline_lzma.joblib", {"compress": ("lzma", 3)}),
                         ("forest.joblib", {}), ("forest_z3.joblib", {"compress": 3})):
        joblib.dump(forest if name.startswith("forest") else pipe, out / name, **kwargs)  # type: ignore[arg-type]
        made.append((out / name, tag))
    (out / "pipeline_p5.pkl").write_bytes(pickle.dumps(pipe, protocol=5))
    made.append((out / "pipeline_p5.pkl", tag))
    return made


def _joblib_bytes(out: Path) -> Written:
    """joblib's compress=N stream: a zlib stream (level header 78 01/5e/9c/da) of the pickle."""
    made: Written = []
    for level in (1, 3, 6, 9):
        path = out / f"estimator_z{level}.joblib"
        path.write_bytes(zlib.compress(craft.sklearn_like(), level))
        made.append((path, "bytes"))
    return made


def _numpy_files(out: Path, bytes_only: bool) -> Written:
    version = None if bytes_only else _have("numpy")
    if version is None:
        return []
    import pickle

    import numpy as np

    tag = f"numpy {version}"
    np.save(out / "array.npy", np.arange(12, dtype=np.float32).reshape(3, 4))
    np.save(out / "objects.npy", np.array([{"a": 1}, [1, 2], "text", None], dtype=object), allow_pickle=True)
    np.savez(out / "arrays.npz", a=np.zeros(3), b=np.ones((2, 2), dtype=np.int64))
    np.savez_compressed(out / "arrays_compressed.npz", a=np.zeros(300))
    (out / "array_p2.pkl").write_bytes(pickle.dumps(np.arange(5), protocol=2))
    (out / "array_p5.pkl").write_bytes(pickle.dumps({"w": np.ones(3), "rng": np.random.default_rng(1)}, protocol=5))
    # a pickle whose first value is a long string: the first import lies beyond the first 4 KiB
    (out / "vocab_then_array.pkl").write_bytes(pickle.dumps(("x" * 20000, np.arange(3)), protocol=0))
    names = ("array.npy", "objects.npy", "arrays.npz", "arrays_compressed.npz", "array_p2.pkl", "array_p5.pkl",
             "vocab_then_array.pkl")
    return [(out / n, tag) for n in names]


# -- Keras / TensorFlow -------------------------------------------------------------------------------------
def _keras_files(out: Path, bytes_only: bool) -> Written:
    version = None if bytes_only else _have("keras")
    if version is None:
        path = craft.keras_v3(out / "dense.keras", craft.keras_config(False))
        return [(path, "bytes"), (craft.keras_h5(out / "dense.h5", craft.keras_config(False)), "bytes")]
    import keras

    tag = f"keras {version} ({keras.backend.backend()} backend)"
    seq = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dropout(0.1),
                            keras.layers.Dense(1)])
    inp = keras.Input((4,))
    functional = keras.Model(inp, keras.layers.Dense(2)(keras.layers.BatchNormalization()(inp)))
    seq.save(out / "sequential.keras")
    functional.save(out / "functional.keras")
    seq.save(out / "sequential.h5")
    seq.save_weights(out / "sequential.weights.h5")
    names = ("sequential.keras", "functional.keras", "sequential.h5", "sequential.weights.h5")
    return [(out / n, tag) for n in names]


def _tensorflow_files(out: Path, bytes_only: bool) -> Written:
    version = None if bytes_only else _have("tensorflow")
    if version is None:
        return _savedmodel_bytes(out)
    import tensorflow as tf

    class Adder(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable([1.0, 2.0])

        @tf.function(input_signature=[tf.TensorSpec([2], tf.float32)])
        def __call__(self, x: tf.Tensor) -> tf.Tensor:
            return x * self.w

    target = out / "savedmodel"
    tf.saved_model.save(Adder(), str(target))
    tag = f"tensorflow {version}"
    return [(p, tag) for p in sorted(target.rglob("*")) if p.is_file()]


def _savedmodel_bytes(out: Path) -> Written:
    """A SavedModel directory as TF 2.x writes it: saved_model.pb, fingerprint.pb, variables/."""
    target = out / "savedmodel"
    (target / "variables").mkdir(parents=True, exist_ok=True)
    (target / "saved_model.pb").write_bytes(craft.savedmodel(["Placeholder", "MatMul", "Identity"]))
    # FingerprintDef: uint64 checksums (fields 1-5, varints) and a VersionDef (field 6): frames as other messages
    fp = b"".join(craft.pfield(n, 1234567890123 + n) for n in range(1, 6)) + craft.pfield(6, craft.pfield(1, 1))
    (target / "fingerprint.pb").write_bytes(fp)
    (target / "variables" / "variables.index").write_bytes(b"\x00\x00\x00\x00" + bytes(range(64)))
    (target / "variables" / "variables.data-00000-of-00001").write_bytes(struct.pack("<2f", 1.0, 2.0))
    return [(p, "bytes") for p in sorted(target.rglob("*")) if p.is_file()]


# -- GGUF / safetensors -------------------------------------------------------------------------------------
def _gguf_files(out: Path, bytes_only: bool) -> Written:
    version = None if bytes_only else _have("gguf")
    template = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
                "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
                "{% endif %}")
    if version is None:
        (out / "chatml.gguf").write_bytes(craft.gguf(template))
        return [(out / "chatml.gguf", "bytes")]
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(out / "tiny.gguf"), "llama")
    writer.add_context_length(128)
    writer.add_chat_template(template)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return [(out / "tiny.gguf", f"gguf {version}")]


def _safetensors_files(out: Path, bytes_only: bool) -> Written:
    data = struct.pack("<4f", 1, 2, 3, 4)
    header = {"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
    (out / "model.safetensors").write_bytes(craft.safetensors(header, data))
    return [(out / "model.safetensors", "bytes")]


GENERATORS: dict[str, Callable[[Path, bool], Written]] = {
    "torch": _torch_files, "sklearn": _sklearn_files, "numpy": _numpy_files, "keras": _keras_files,
    "tensorflow": _tensorflow_files, "gguf": _gguf_files, "safetensors": _safetensors_files,
}


def build(out: Path, *, bytes_only: bool = False, only: list[str] | None = None) -> Written:
    """Write the corpus under ``out`` (one folder per generator); returns (path, producer) pairs."""
    made: Written = []
    for name, gen in GENERATORS.items():
        if only and name not in only:
            continue
        target = out / name
        target.mkdir(parents=True, exist_ok=True)
        made += gen(target, bytes_only)
    return made



def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__)
        return 2
    for path, producer in build(Path(argv[0]), bytes_only="--bytes-only" in argv):
        print(f"{path}\t{producer}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

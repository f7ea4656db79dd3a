"""Is a directory a model release, or a folder of data assets and test fixtures?

The signing check (``checks/signing.py``) tells a project that its released models carry no ``model.sig``. That
note is worth reading only about what a project releases or loads as a model: a folder holding
``mel_filters.npz`` (a 4 KB array of filter coefficients beside a tokenizer), the reference tensors of a test
suite, or cached API responses pickled for tests is not one, and a security engineer dismisses the note there.

A directory is a model release when it holds weight-format files whose content is present (a Git LFS pointer is
not content) outside a test-fixture directory (``roles.fixture_dir``), and one of these says "model":

- a format that only holds models (``.gguf``, ``.onnx``, ``.tflite``, ``.keras``, ``.mar``, ``.ckpt``);
- a weights file name of the common layouts (``model.safetensors``, ``pytorch_model-00001-of-00002.bin``,
  ``adapter_model.safetensors``, ``diffusion_pytorch_model.bin``, ``consolidated.00.pth``, ``tf_model.h5``, ...);
- model metadata beside the weights (``config.json``, ``adapter_config.json``, ``params.json``,
  ``model_index.json``, ``generation_config.json``, a model card file);
- a weights container (``.safetensors``, ``.pt``, ``.pth``, ``.bin``, ``.h5``, ``.msgpack``, ``.joblib``) of
  meaningful size (``MEANINGFUL_SIZE``);
- a file named for a model (``*model*``, ``*checkpoint*``, ``*weights*``, ``*classifier*``, ...).

Generic array and object containers (``.npz``, ``.npy``, ``.pkl``, ``.pickle``) are data unless a name or metadata
says otherwise: size alone does not make a dataset a model.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePath

from auditor.scan.placeholders import ANNEX_MAX, annex_link, sniff_placeholder
from auditor.scan.roles import fixture_dir

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".gguf", ".h5", ".hdf5", ".keras",
                   ".pkl", ".pickle", ".joblib", ".msgpack", ".tflite", ".npz", ".mar")
MODEL_ONLY_SUFFIXES = (".gguf", ".onnx", ".tflite", ".keras", ".mar", ".ckpt")
CONTAINER_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".h5", ".hdf5", ".msgpack", ".joblib")
MEANINGFUL_SIZE = 1 << 20  # 1 MiB: a LoRA adapter or a small classifier; filter banks and test tensors are smaller
METADATA_NAMES = frozenset({"config.json", "adapter_config.json", "params.json", "model_index.json",
                            "generation_config.json", "modelcard.md", "model_card.md", "model-card.md",
                            "hparams.yaml", "hyperparams.yaml"})
_WEIGHTS_NAME = re.compile(
    r"^(?:model|pytorch_model|tf_model|flax_model|adapter_model|diffusion_pytorch_model|consolidated|"
    r"open_clip_pytorch_model|open_clip_model)(?:[-_.][0-9a-z_-]*)?\.(?:safetensors|bin|pt|pth|h5|msgpack)$")
_MODEL_WORDS = ("model", "checkpoint", "ckpt", "weights", "classifier", "regressor", "estimator", "clf")


@dataclass(frozen=True)
class ReleaseJudgement:
    """Whether a directory is a model release, and the evidence either way (for the finding and for tests)."""

    release: bool
    why: str


def judge_directory(directory: Path, names: list[str], rel: PurePath) -> ReleaseJudgement | None:
    """The judgement for ``directory`` (files ``names``, ``rel`` its path below the project root), or None when
    it holds no weight-format file at all."""
    weights = [n for n in names if n.lower().endswith(WEIGHT_SUFFIXES)]
    if not weights:
        return None
    marker = fixture_dir(rel)
    if marker is not None:
        return ReleaseJudgement(False, f"test fixtures (under {marker}/)")
    present = {n: size for n in weights if (size := _content_size(directory / n)) is not None}
    if not present:
        return ReleaseJudgement(False, "no weights content present (placeholders for absent content)")
    for name in present:
        if name.lower().endswith(MODEL_ONLY_SUFFIXES):
            return ReleaseJudgement(True, f"a model format ({name})")
    for name in present:
        if _WEIGHTS_NAME.match(name.lower()):
            return ReleaseJudgement(True, f"a weights file name ({name})")
    metadata = sorted(n for n in names if n.lower() in METADATA_NAMES)
    if metadata:
        return ReleaseJudgement(True, f"model metadata beside the weights ({metadata[0]})")
    for name, size in present.items():
        if name.lower().endswith(CONTAINER_SUFFIXES) and size >= MEANINGFUL_SIZE:
            return ReleaseJudgement(True, f"weights of meaningful size ({name}, {size} bytes)")
    for name in present:
        stem = name.lower().split(".", 1)[0]
        if any(word in stem for word in _MODEL_WORDS):
            return ReleaseJudgement(True, f"a file named for a model ({name})")
    return ReleaseJudgement(False, "data assets (small arrays or pickles, no model name, format or metadata)")


def _content_size(path: Path) -> int | None:
    """The size of a file's content, or None when the file stands in for absent content or cannot be read."""
    if annex_link(path) is not None:
        return None
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return None  # a FIFO or device named like weights: nothing to sign, and opening it could block
        size = st.st_size
        if size > ANNEX_MAX:
            return size
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    return None if sniff_placeholder(path, head, size) is not None else size

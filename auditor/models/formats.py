"""Weight-file formats by name: which ones can run code when loaded, which are safe, which are not weights.

Used by the hub resolver (what ``--fetch-models`` downloads for the model scanner) and the ``models`` check
(pickle-only repos). Decided by file name only; the scanner looks at the bytes.
"""

from __future__ import annotations

import posixpath

# Formats whose loaders may execute code: pickle and its wrappers (torch zip checkpoints, joblib, dill, numpy
# object arrays) and Keras/HDF5 models (Lambda layers).
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib", ".dill", ".npy", ".npz", ".mar")
KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")
SAFE_SUFFIXES = (".safetensors",)
# Pickles that hold training state, not the weights a loader picks: still scanned, never "the only format".
TRAINING_STATE = frozenset({"training_args.bin", "optimizer.pt", "scheduler.pt", "scaler.pt", "trainer_state.bin"})
CODE_SUFFIXES = (".py",)


def is_unsafe_format(path: str) -> bool:
    lower = path.lower()
    return lower.endswith(PICKLE_SUFFIXES) or lower.endswith(KERAS_SUFFIXES)


def is_weight_candidate(path: str) -> bool:
    """An unsafe-format file a loader would pick as the model's weights."""
    name = posixpath.basename(path).lower()
    if name in TRAINING_STATE or name.startswith("rng_state"):
        return False
    return is_unsafe_format(path)


def pickle_only(paths: list[str]) -> list[str]:
    """Unsafe-format weight files in a directory of the repo that has no ``.safetensors`` file."""
    safe_dirs = {posixpath.dirname(p) for p in paths if p.lower().endswith(SAFE_SUFFIXES)}
    return [p for p in paths if is_weight_candidate(p) and posixpath.dirname(p) not in safe_dirs]


def code_files(paths: list[str]) -> list[str]:
    return [p for p in paths if p.lower().endswith(CODE_SUFFIXES)]

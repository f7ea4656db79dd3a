"""What a file is for, judged from where it sits and what it is called, for the cases bytes cannot settle.

Protobuf has no magic number: a SavedModel directory's ``fingerprint.pb`` frames as several message types, and
reading it as ONNX produces nonsense findings. Inside a SavedModel directory each file has a role given by its
name (``saved_model.pb``, ``fingerprint.pb``, ``keras_metadata.pb``, ``variables/variables.*``), so the role picks
the reader. Separately, a file *named* like a model (``*.pt``, ``*.bin``, ``*.ckpt``, ...) whose bytes match no
format we read was not checked at all, and the report must say so rather than call it clean.
"""

from __future__ import annotations

from pathlib import Path, PurePath

# Roles inside a TensorFlow SavedModel directory.
ROLE_SAVEDMODEL = "tf-savedmodel"
ROLE_FINGERPRINT = "tf-fingerprint"
ROLE_KERAS_METADATA = "keras-metadata"
ROLE_VARIABLES = "tf-variables"

# Names that promise a model (weights or a serialised object a loader deserialises).
MODEL_EXTENSIONS = (
    ".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle", ".pdparams", ".pdopt", ".npy", ".npz", ".joblib", ".jbl",
    ".dill", ".h5", ".hdf5", ".keras", ".pb", ".onnx", ".gguf", ".ggml", ".safetensors", ".sav", ".mar", ".nemo",
    ".pkl.z", ".cloudpkl", ".pt2", ".ptl", ".torchscript", ".msgpack", ".skops",
)
# Names that mark a directory as a model directory (Hugging Face snapshot / SavedModel).
MODEL_DIR_MARKERS = ("saved_model.pb", "saved_model.pbtxt")


def is_savedmodel_dir(directory: Path) -> bool:
    return any((directory / marker).is_file() for marker in MODEL_DIR_MARKERS)


def file_role(path: Path) -> str | None:
    """The role of ``path`` in a TensorFlow SavedModel directory, or None."""
    name = path.name
    parent = path.parent
    if name == "saved_model.pb":
        return ROLE_SAVEDMODEL
    if parent.name == "variables" and is_savedmodel_dir(parent.parent):
        if name == "variables.index" or name.startswith("variables.data-"):
            return ROLE_VARIABLES
        return None
    if not is_savedmodel_dir(parent):
        return None
    if name == "fingerprint.pb":
        return ROLE_FINGERPRINT
    if name == "keras_metadata.pb":
        return ROLE_KERAS_METADATA
    return None


def member_role(member: str, names: set[str]) -> str | None:
    """``file_role`` for an archive member, judged from the member names of the same archive."""
    folder, _, name = member.rpartition("/")
    prefix = f"{folder}/" if folder else ""
    if name == "saved_model.pb":
        return ROLE_SAVEDMODEL
    parent, _, leaf = folder.rpartition("/")
    if leaf == "variables" and (f"{parent}/saved_model.pb" if parent else "saved_model.pb") in names:
        return ROLE_VARIABLES if name == "variables.index" or name.startswith("variables.data-") else None
    if f"{prefix}saved_model.pb" not in names:
        return None
    return {"fingerprint.pb": ROLE_FINGERPRINT, "keras_metadata.pb": ROLE_KERAS_METADATA}.get(name)


# Directory names that hold a project's tests and their fixtures. Files there are inputs of test runs (reference
# tensors, cached API responses, tiny checkpoints), not models a project releases or loads in production.
FIXTURE_DIR_NAMES = frozenset({
    "test", "tests", "testing", "testdata", "test_data", "test-data", "testfiles", "test_files", "test-files",
    "fixtures", "fixture", "__fixtures__", "__tests__", "unittests", "unit_tests", "integration_tests",
    "test_assets", "test-assets", "testassets", "test_resources", "test-resources",
})


def fixture_dir(rel: PurePath) -> str | None:
    """The directory name that makes ``rel`` (a directory, relative to the project root) a place of tests and
    their fixtures, or None. ``tests/``, ``test_data/``, ``src/pkg/tests/fixtures/``, ``unit_tests/`` count;
    ``contest/`` or ``latest/`` do not (whole path components only)."""
    for part in rel.parts:
        lower = part.lower()
        if lower in FIXTURE_DIR_NAMES or lower.startswith(("test_", "tests_")) or lower.endswith(("_test", "_tests")):
            return part
    return None


def model_like(name: str) -> bool:
    """Whether a file or archive member name promises model content."""
    lower = name.rsplit("/", 1)[-1].lower()
    return lower.endswith(MODEL_EXTENSIONS) or lower in ("data.pkl", "constants.pkl")

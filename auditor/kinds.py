"""Finding kinds and the rule ids of mlaudit's own checks, in one place.

Why one module: kinds are part of the JSON contract (CONVENTIONS "JSON report") and of the policy language
(``disable = [...]``, ``--disable-check``); a bare string typed in one check and matched in another drifts
silently. Everything that produces or matches a kind imports it from here. The values are the contract strings,
so ``FindingKind.VULNERABILITY == "vulnerability"`` holds and JSON stays as it was.

``Rule`` holds the pipeline checks' rule ids, ``ScanRule`` the model scanner's (``MLA-PICKLE-*``, ``MLA-KERAS-*``,
...); advisory ids come from the data.
"""

from __future__ import annotations

from enum import Enum


class FindingKind(str, Enum):
    """What kind of problem a finding reports (the ``kind`` field of the JSON report)."""

    VULNERABILITY = "vulnerability"
    MALICIOUS = "malicious"
    TYPOSQUAT = "typosquat"
    UNCLAIMED_NAME = "unclaimed-name"
    DEPENDENCY_CONFUSION = "dependency-confusion"
    HASH_MISMATCH = "hash-mismatch"
    UNPINNED_HASHES = "unpinned-hashes"
    MISSING_PROVENANCE = "missing-provenance"
    PROVENANCE_INVALID = "provenance-invalid"
    PUBLISHER_MISMATCH = "publisher-mismatch"
    UNSAFE_MODEL = "unsafe-model"
    PICKLE_MODEL = "pickle-model"
    MODEL_FORMAT = "model-format"
    UNPINNED_REVISION = "unpinned-revision"
    TRUST_REMOTE_CODE = "trust-remote-code"
    MODEL_NOT_FOUND = "model-not-found"
    MODEL_DISABLED = "model-disabled"
    MISSING_LICENSE = "missing-license"
    LICENSE_CONFLICT = "license-conflict"
    SIGNATURE_INVALID = "signature-invalid"
    SIGNATURE_UNVERIFIED = "signature-unverified"
    UNSIGNED_MODEL = "unsigned-model"

    def __str__(self) -> str:
        return self.value


class Rule:
    """Rule ids of the pipeline's own checks (a finding's ``id`` when no advisory id applies)."""

    TYPOSQUAT = "MLA-TYPOSQUAT"
    HF_ORG_LOOKALIKE = "MLA-HF-ORG-LOOKALIKE"
    UNCLAIMED_NAME = "MLA-UNCLAIMED-NAME"
    DEPENDENCY_CONFUSION = "MLA-DEPENDENCY-CONFUSION"
    HASH_MISMATCH = "hash-mismatch"
    UNPINNED_HASHES = "unpinned-hashes"
    MISSING_PROVENANCE = "missing-provenance"
    PROVENANCE_REGRESSION = "provenance-regression"
    PROVENANCE_INVALID = "provenance-invalid"
    PUBLISHER_MISMATCH = "publisher-mismatch"
    MODEL_HASH_MISMATCH = "MLA-MODEL-HASH-MISMATCH"
    MODEL_UNPINNED = "MLA-MODEL-UNPINNED"
    MODEL_PICKLE_ONLY = "MLA-MODEL-PICKLE-ONLY"
    MODEL_NOT_FOUND = "MLA-MODEL-NOT-FOUND"
    MODEL_DISABLED = "MLA-MODEL-DISABLED"
    MODEL_NO_LICENSE = "MLA-MODEL-NO-LICENSE"
    MODEL_LICENSE_CONFLICT = "MLA-MODEL-LICENSE-CONFLICT"
    MODEL_REMOTE_CODE = "MLA-MODEL-REMOTE-CODE"
    MODEL_REMOTE_CODE_OPTION = "MLA-MODEL-REMOTE-CODE-OPTION"
    MODEL_CUSTOM_CODE = "MLA-MODEL-CUSTOM-CODE"
    MODEL_UNSIGNED = "MLA-MODEL-UNSIGNED"
    MODEL_SIGNATURE_UNVERIFIED = "MLA-MODEL-SIGNATURE-UNVERIFIED"
    MODEL_SIGNATURE_INVALID = "MLA-MODEL-SIGNATURE-INVALID"
    SAFE_FORMAT = "MLA-SAFE-FORMAT"


class ScanRule:
    """Rule ids of the model-file scanner (``mlaudit scan`` and the ``modelscan`` check)."""

    ARCHIVE_BOMB = "MLA-ARCHIVE-BOMB"
    ARCHIVE_DAMAGED = "MLA-ARCHIVE-DAMAGED"
    ARCHIVE_DEPTH = "MLA-ARCHIVE-DEPTH"
    ARCHIVE_DUPLICATE = "MLA-ARCHIVE-DUPLICATE"
    ARCHIVE_INVALID = "MLA-ARCHIVE-INVALID"
    ARCHIVE_TRAVERSAL = "MLA-ARCHIVE-TRAVERSAL"
    CHAT_TEMPLATE = "MLA-CHAT-TEMPLATE"
    CONFIG_INVALID = "MLA-CONFIG-INVALID"
    CONFIG_TARGET = "MLA-CONFIG-TARGET"
    GGUF_INVALID = "MLA-GGUF-INVALID"
    GGUF_TEMPLATE = "MLA-GGUF-TEMPLATE"
    H5_INVALID = "MLA-H5-INVALID"
    KERAS_CUSTOM_OBJECT = "MLA-KERAS-CUSTOM-OBJECT"
    KERAS_FILE_ACCESS = "MLA-KERAS-FILE-ACCESS"
    KERAS_FUNCTION_REF = "MLA-KERAS-FUNCTION-REF"
    KERAS_INVALID = "MLA-KERAS-INVALID"
    KERAS_LAMBDA = "MLA-KERAS-LAMBDA"
    NPY_INVALID = "MLA-NPY-INVALID"
    NPY_OBJECT = "MLA-NPY-OBJECT"
    ONNX_CUSTOM_OP = "MLA-ONNX-CUSTOM-OP"
    ONNX_EXTERNAL_PATH = "MLA-ONNX-EXTERNAL-PATH"
    ONNX_INVALID = "MLA-ONNX-INVALID"
    PICKLE_BUILD_GADGET = "MLA-PICKLE-BUILD-GADGET"
    PICKLE_DYNAMIC = "MLA-PICKLE-DYNAMIC"
    PICKLE_EXEC = "MLA-PICKLE-EXEC"
    PICKLE_EXT = "MLA-PICKLE-EXT"
    PICKLE_FORMAT = "MLA-PICKLE-FORMAT"
    PICKLE_LIMIT = "MLA-PICKLE-LIMIT"
    PICKLE_LOCAL_CLASS = "MLA-PICKLE-LOCAL-CLASS"
    PICKLE_MALFORMED = "MLA-PICKLE-MALFORMED"
    PICKLE_TRAILING = "MLA-PICKLE-TRAILING"
    PICKLE_UNKNOWN_GLOBAL = "MLA-PICKLE-UNKNOWN-GLOBAL"
    POLYGLOT = "MLA-POLYGLOT"
    REMOTE_CODE = "MLA-REMOTE-CODE"
    SAFETENSORS_INVALID = "MLA-SAFETENSORS-INVALID"
    SCAN_ERROR = "MLA-SCAN-ERROR"
    SCAN_UNKNOWN_FORMAT = "MLA-SCAN-UNKNOWN-FORMAT"
    SCAN_UNVERIFIED = "MLA-SCAN-UNVERIFIED"
    SKOPS_INVALID = "MLA-SKOPS-INVALID"
    SKOPS_UNTRUSTED = "MLA-SKOPS-UNTRUSTED"
    TF_INVALID = "MLA-TF-INVALID"
    TF_OP = "MLA-TF-OP"
    TORCHSCRIPT = "MLA-TORCHSCRIPT"
    TORCHSCRIPT_CUSTOM_OP = "MLA-TORCHSCRIPT-CUSTOM-OP"
    TORCHSCRIPT_FILE_ACCESS = "MLA-TORCHSCRIPT-FILE-ACCESS"


KIND_VALUES: frozenset[str] = frozenset(k.value for k in FindingKind)


class CheckName(str, Enum):
    """The pipeline's checks by name: each check's ``name`` is one of these (``tests/core/test_boundaries.py``
    checks the registry against it). Part of the policy language (``--disable-check``, ``disable = [...]``), so the
    policy reader validates names here without importing the checks."""

    TYPOSQUAT = "typosquat"
    UNCLAIMED_NAME = "unclaimed-name"
    DEPENDENCY_CONFUSION = "dependency-confusion"
    MALICIOUS = "malicious"
    ADVISORIES = "advisories"
    MODELSCAN = "modelscan"
    MODELS = "models"
    MODEL_SIGNING = "model-signing"
    HASHES = "hashes"
    PROVENANCE = "provenance"


CHECK_VALUES: frozenset[str] = frozenset(c.value for c in CheckName)


def disable_names() -> list[str]:
    """Every name ``--disable-check`` and ``disable = [...]`` accept: check names and finding kinds."""
    return sorted(CHECK_VALUES | KIND_VALUES)


def unknown_disable_names(names: set[str] | list[str]) -> list[str]:
    """The names in ``names`` that are neither a check nor a finding kind (sorted)."""
    known = CHECK_VALUES | KIND_VALUES
    return sorted(n for n in set(names) if n not in known)


__all__ = ["CHECK_VALUES", "CheckName", "FindingKind", "KIND_VALUES", "Rule", "ScanRule", "disable_names",
           "unknown_disable_names"]

"""Audited things that would create a sentinel file if anything ever executed them, built in code.

Every payload writes ``<sentinels>/<name>``; the suite asserts that folder stays empty.
"""

from __future__ import annotations

import base64
import io
import json
import marshal
import os
import pickle
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np


class _Touch:
    """Pickles to ``os.system("touch <path>")``: what a malicious model file does on ``pickle.load``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.path}",))


def pickle_payload(path: Path, protocol: int = 2) -> bytes:
    return pickle.dumps(_Touch(path), protocol=protocol)


def python_writer(path: Path) -> str:
    return f"open({str(path)!r}, 'w').write('ran')\n"


def lambda_code(path: Path) -> str:
    """base64(marshal(code)) of a Keras Lambda function that writes ``path`` when called or deserialised."""
    target = str(path)
    func = eval(f"lambda x: (open({target!r}, 'w').write('ran'), x)[1]")  # noqa: S307 - builds the payload only
    return base64.b64encode(marshal.dumps(func.__code__)).decode()


def keras_v3_lambda(path: Path) -> bytes:
    config = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 2], "name": "in"}},
        {"class_name": "Lambda", "config": {"name": "evil", "function": {
            "class_name": "__lambda__", "config": {"code": lambda_code(path), "defaults": None, "closure": None}}}},
    ]}}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.4.1", "date_saved": "2030-01-01"}))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", b"")
    return buf.getvalue()


def keras_h5_lambda(target: Path, path: Path) -> None:
    config = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
        {"class_name": "Lambda", "config": {"name": "evil", "function": [lambda_code(path), None, None],
                                            "function_type": "lambda", "output_shape": None}}]}}
    with h5py.File(target, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        f.create_group("model_weights")


def torch_zip(path: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", pickle_payload(path))
        zf.writestr("archive/version", "3\n")
        zf.writestr("archive/byteorder", "little")
    return buf.getvalue()


def damaged_zip(data: bytes) -> bytes:
    """``data`` (a zip) with every member flagged encrypted and a wrong CRC in the directory: Python's zipfile
    refuses it, PyTorch's reader (which ignores both) unpickles it."""
    out = bytearray(data)
    for sig, flag_at, crc_at in ((b"PK\x03\x04", 6, 14), (b"PK\x01\x02", 8, 16)):
        pos = out.find(sig)
        while pos >= 0:
            out[pos + flag_at] |= 0x01
            if sig == b"PK\x01\x02":
                out[pos + crc_at] ^= 0xFF
            pos = out.find(sig, pos + 4)
    return bytes(out)


def seven_zip(name: str, data: bytes) -> bytes:
    import py7zr

    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as archive:
        archive.writestr(data, name)
    return buf.getvalue()


def npy_object(path: Path) -> bytes:
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + pickle_payload(path)


@dataclass
class EvilProject:
    project: Path
    env: Path
    models: Path
    sentinels: Path

    def created(self) -> list[str]:
        return sorted(p.name for p in self.sentinels.iterdir())


def build(root: Path) -> EvilProject:
    """A project, an installed environment and a model folder where everything is a loaded gun."""
    sentinels = root / "SENTINELS"
    sentinels.mkdir(parents=True)
    project = root / "project"
    models = project / "models"
    models.mkdir(parents=True)

    (project / "requirements.txt").write_text("alpha>=1\ngamma\ndelta==1.0\n")
    (project / "setup.py").write_text(python_writer(sentinels / "project-setup.py")
                                      + "from setuptools import setup\nsetup(name='evil', version='1')\n")
    (project / "train.py").write_text(
        python_writer(sentinels / "project-train.py")
        + "from transformers import AutoModel\n"
        + "model = AutoModel.from_pretrained('acme/evil-model', revision='main', trust_remote_code=True)\n")
    (project / "modeling_evil.py").write_text(python_writer(sentinels / "remote-code"))
    (project / "config.json").write_text(json.dumps({
        "model_type": "evil", "auto_map": {"AutoModel": "modeling_evil.EvilModel"}}))

    (models / "model.pkl").write_bytes(pickle_payload(sentinels / "pickle"))
    (models / "pytorch_model.bin").write_bytes(torch_zip(sentinels / "torch"))
    (models / "weights.npy").write_bytes(npy_object(sentinels / "numpy"))
    (models / "model.joblib").write_bytes(zlib.compress(pickle_payload(sentinels / "joblib-zlib"), 3))
    (models / "weights.7z").write_bytes(seven_zip("model.pkl", pickle_payload(sentinels / "7z")))
    (models / "damaged.pt").write_bytes(damaged_zip(torch_zip(sentinels / "damaged-zip")))
    (models / "model.keras").write_bytes(keras_v3_lambda(sentinels / "keras-v3-lambda"))
    keras_h5_lambda(models / "model.h5", sentinels / "keras-h5-lambda")
    np.save(models / "plain.npy", np.arange(4, dtype=np.float32))  # a harmless neighbour
    # configs and templates that run code when a loader constructs / renders them (issue 27)
    (models / "model_config.yaml").write_text(
        f"encoder:\n  _target_: os.system\n  _args_: ['touch {sentinels / 'hydra'}']\n"
        f"hook: !!python/object/apply:os.system ['touch {sentinels / 'yaml'}']\n")
    (models / "chat_template.jinja").write_text(
        "{{ cycler.__init__.__globals__.os.system('touch " + str(sentinels / "jinja") + "') }}")

    env = root / "venv"
    site = env / "lib" / "python3.11" / "site-packages"
    info = site / "innocent-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: innocent\nVersion: 1.0\n\n")
    (site / "evil.pth").write_text(f"import os; os.system('touch {sentinels / 'pth'}')\n")
    (site / "innocent").mkdir()
    (site / "innocent" / "__init__.py").write_text(python_writer(sentinels / "installed-module"))
    return EvilProject(project, env, models, sentinels)

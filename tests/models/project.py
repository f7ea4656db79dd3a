"""A sample ML project tree with model/dataset references of every kind, built by code for the tests."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

SHA = "0123456789abcdef0123456789abcdef01234567"

TRAIN = f'''
import argparse
import os
from dataclasses import dataclass, field

import open_clip
import timm
from datasets import load_dataset
from diffusers import DiffusionPipeline
from huggingface_hub import hf_hub_download, snapshot_download
from peft import PeftModel
from sentence_transformers import SentenceTransformer
from transformers import AutoModel, AutoTokenizer, pipeline

BASE = "acme-ai/base-7b"
ORG = "acme-ai"
FULL = ORG + "/" + "chat-7b"
PINNED = "{SHA}"


@dataclass
class Args:
    encoder: str = "acme-ai/encoder"
    other: str = field(default="acme-ai/field-default")


parser = argparse.ArgumentParser()
parser.add_argument("--teacher-model", default="acme-ai/teacher")
args = parser.parse_args()

tok = AutoTokenizer.from_pretrained(BASE)
model = AutoModel.from_pretrained(BASE, revision="v1.0", trust_remote_code=True)
chat = AutoModel.from_pretrained(FULL, revision=PINNED)
adapter = PeftModel.from_pretrained(model, "acme-ai/lora-adapter")
clf = pipeline("text-classification", model="acme-ai/classifier", tokenizer="acme-ai/classifier-tok")
weights = hf_hub_download("acme-ai/weights", "pytorch_model.bin")
data_file = hf_hub_download(repo_id="acme-ai/corpus", filename="x.parquet", repo_type="dataset")
space = snapshot_download("acme-ai/demo-space", repo_type="space")
ds = load_dataset("acme-ai/reviews", split="train")
local_csv = load_dataset("csv", data_files="x.csv")
st = SentenceTransformer("all-MiniLM-L6-v2")
pipe = DiffusionPipeline.from_pretrained("acme-ai/diffusion")
pipe.load_lora_weights("acme-ai/style-lora")
vit = timm.create_model("hf-hub:acme-ai/vit-small", pretrained=True)
resnet = timm.create_model("resnet50", pretrained=True)
clip = open_clip.create_model_and_transforms("hf-hub:acme-ai/clip-vit")
enc = AutoModel.from_pretrained(Args().encoder)
teacher = AutoModel.from_pretrained(args.teacher_model)
env_model = AutoModel.from_pretrained(os.getenv("MODEL_ID", "acme-ai/env-default"))
fstr = AutoModel.from_pretrained(f"{{ORG}}/fstring-model")
local = AutoModel.from_pretrained("./checkpoints/run1")
also_local = AutoModel.from_pretrained("checkpoints/run1")


def load(name="acme-ai/param-default"):
    return AutoModel.from_pretrained(name)


def dynamic(user_input):
    return AutoModel.from_pretrained(user_input)


import pandas as pd
frame = pd.read_parquet("hf://datasets/acme-ai/parquet-set@{SHA}/data/train.parquet")
'''

CARD = """---
license: apache-2.0
base_model: acme-ai/card-base
datasets:
  - acme-ai/card-data
  - acme-ai/card-data-2
---
# My fine-tune
"""

MANIFEST = f"""
fail-on = "high"
models = [
  "acme-ai/manifest-model@{SHA}",
  "dataset:acme-ai/manifest-data",
  {{ repo = "acme-ai/table-model", revision = "main", trust-remote-code = true }},
  "not a repo id!",
]
"""


def build_project(root: Path) -> Path:
    """Write the sample project under ``root`` and return it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.py").write_text(textwrap.dedent(TRAIN))
    (root / "broken.py").write_text("from transformers import AutoModel\nAutoModel.from_pretrained('a/b'\n")
    (root / "checkpoints" / "run1").mkdir(parents=True)
    (root / "checkpoints" / "run1" / "config.json").write_text(json.dumps(
        {"_name_or_path": "acme-ai/saved-from", "auto_map": {"AutoModel": "acme-ai/remote-code--modeling.M"}},
        indent=2))
    (root / "adapter").mkdir()
    (root / "adapter" / "adapter_config.json").write_text(json.dumps(
        {"base_model_name_or_path": "acme-ai/adapter-base", "revision": SHA, "peft_type": "LORA"}, indent=2))
    (root / "card").mkdir()
    (root / "card" / "README.md").write_text(CARD)
    (root / "mlaudit.toml").write_text(MANIFEST)
    venv = root / ".venv" / "lib" / "site-packages"
    venv.mkdir(parents=True)
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    (venv / "inside.py").write_text("AutoModel.from_pretrained('acme-ai/in-venv')\n")
    env2 = root / "env2"
    env2.mkdir()
    (env2 / "pyvenv.cfg").write_text("home = /usr\n")
    (env2 / "x.py").write_text("AutoModel.from_pretrained('acme-ai/in-named-venv')\n")
    nm = root / "node_modules" / "pkg"
    nm.mkdir(parents=True)
    (nm / "x.py").write_text("AutoModel.from_pretrained('acme-ai/in-node-modules')\n")
    return root

"""Property tests: reference extraction never raises on arbitrary input files, only records skipped entries."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.models.configrefs import read_config
from auditor.models.filerefs import read_config_json, read_manifest, read_model_card
from auditor.models.refs import find_model_refs

EXAMPLES = int(os.environ.get("MLAUDIT_FUZZ_EXAMPLES", "10000"))
FRAGMENTS = st.sampled_from([
    "AutoModel.from_pretrained(", "pipeline(model=", "load_dataset(", "hf_hub_download(", '"org/name"', "x", "=",
    ")", "(", ",", "revision=", "trust_remote_code=True", "f'{X}/y'", "+", "\n", "    ", "def f(a='o/m'):\n",
    "hf://datasets/", "hf-hub:", "'", '"', "BASE", "os.getenv('M', 'o/n')", "args.model", ":", "#", "\\",
])


@pytest.mark.fuzz
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FRAGMENTS, max_size=40).map("".join) | st.text(max_size=400))
def test_python_files_never_crash(source: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "m.py").write_text(source, encoding="utf-8", errors="surrogatepass")
        refs, skipped = find_model_refs(root)
        assert all(r.location is not None and r.location.file.endswith("m.py") for r in refs)
        assert all(s.file is not None for s in skipped)


@pytest.mark.fuzz
@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(max_size=300))
def test_config_card_and_manifest_readers_never_crash(text: str) -> None:
    read_config_json(text, "config.json", "config.json")
    read_config_json(text, "adapter_config.json", "adapter_config.json")
    read_model_card("---\n" + text + "\n---\n", "README.md")
    read_manifest("models = [" + text + "]", "mlaudit.toml", False)


@pytest.mark.fuzz
@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(max_size=300), st.sampled_from([".yaml", ".json", ".toml"]))
def test_training_config_reader_never_crashes(text: str, suffix: str) -> None:
    found = read_config("model_name_or_path: " + text if suffix == ".yaml" else text, "c" + suffix, suffix)
    assert all(r.location is not None and r.location.file == "c" + suffix for r in found.refs)
    assert all(s.file == "c" + suffix for s in found.skipped)

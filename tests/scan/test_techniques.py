"""Issue 27: the 2025-26 techniques corpus (``techniques_corpus.py``) and the rules behind it.

Every malicious file is flagged at high or above with a finding that names what runs; every benign twin (byte
level here; library-written ones when the libraries are installed) has nothing at medium or above; files that
only need a native library (custom ops) are flagged at medium.
"""

from __future__ import annotations

import base64
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from auditor.domain import Severity
from auditor.scan import Limits, scan_file_detailed, scan_paths
from auditor.scan.configs import judge_target
from auditor.scan.hfconfig import remote_code_refs
from auditor.scan.skops_scan import untrusted_types
from tests.scan import craft
from tests.scan import techniques_corpus as corpus

NAMING = ("callable", "op", "layer", "construct", "location", "namespace", "repo", "name", "function")
FAST = [fn for fn in corpus.MALICIOUS if fn is not corpus.hostile_malicious]  # issue 26 layouts: test_hostile_scan


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> list[corpus.Item]:
    out = tmp_path_factory.mktemp("techniques")
    items: list[corpus.Item] = []
    for fn in FAST:
        items += fn(out / "malicious")
    for fn in corpus.BENIGN_BYTES:
        items += fn(out / "benign")
    return items


def _verdict(item: corpus.Item) -> tuple[list[str], list[str], bool]:
    res = scan_paths([item.path])
    medium = [f"{f.id}:{f.severity.value}" for f in res.findings if f.severity.at_least(Severity.MEDIUM)]
    named = [f.id for f in res.findings if f.severity.at_least(Severity.HIGH) and f.evidence is not None
             and any(f.evidence.get(k) for k in NAMING)]
    return medium, named, bool(res.skipped)


def test_every_malicious_file_is_flagged_high_naming_what_runs(built: list[corpus.Item]) -> None:
    missed = {}
    classes = set()
    for item in built:
        if item.label != "malicious":
            continue
        classes.add(item.cls)
        _medium, named, _gap = _verdict(item)
        if not named:
            missed[str(item.path)] = _medium
    assert not missed, missed
    assert classes == {"config-target", "chat-template", "skops", "auto-map", "keras-file-access", "torchscript",
                       "tf-savedmodel"}


def test_benign_twins_raise_nothing(built: list[corpus.Item]) -> None:
    loud = {str(i.path): _verdict(i)[0] for i in built if i.label == "benign" and _verdict(i)[0]}
    assert not loud, loud


def test_custom_ops_are_medium(built: list[corpus.Item]) -> None:
    for item in built:
        if item.label == "suspicious":
            medium, named, _gap = _verdict(item)
            assert medium and not named, (item.path, medium)


def test_library_written_twins(tmp_path: Path) -> None:
    """Runs where the ML libraries are installed (bench generator venv); skipped in the plain test venv."""
    pytest.importorskip("omegaconf")
    from tests.scan import techniques_libraries

    items = techniques_libraries.build(tmp_path)
    assert items
    loud = {str(i.path): _verdict(i)[0] for i in items if _verdict(i)[0]}
    assert not loud, loud


# -- rules ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("target", "severity"), [
    ("os.system", Severity.CRITICAL), ("subprocess.Popen", Severity.CRITICAL), ("builtins.exec", Severity.CRITICAL),
    ("importlib.import_module", Severity.CRITICAL), ("hydra.utils.get_method", Severity.CRITICAL),
    ("pathlib.Path.write_text", Severity.CRITICAL), ("torch.load", Severity.CRITICAL),
    ("transformers.AutoModel.from_pretrained", Severity.HIGH), ("my_project.models.Net", Severity.MEDIUM),
    ("nemo.collections.asr.modules.ConformerEncoder", None), ("torch.optim.AdamW", None), ("builtins.dict", None),
    ("lightning.pytorch.callbacks.ModelCheckpoint", None), ("uni2ts.model.moirai.MoiraiModule", None),
])
def test_target_severity_by_effect(target: str, severity: Severity | None) -> None:
    assert judge_target(target).severity is severity


def _nemo(path: Path, text: str, gz: bool = False) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tf:
        data = text.encode()
        info = tarfile.TarInfo("./model_config.yaml")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_nemo_target_names_callable_and_config_path(tmp_path: Path, gz: bool) -> None:
    path = _nemo(tmp_path / "m.nemo", "encoder:\n  layers:\n    - [ {_target_: os.system, _args_: [id]} ]\n", gz)
    found = scan_file_detailed(path)
    hit = [f for f in found.findings if f.id == "MLA-CONFIG-TARGET"]
    assert hit and hit[0].severity is Severity.CRITICAL and hit[0].evidence["callable"] == "os.system"
    assert hit[0].evidence["config_path"] == "/encoder/layers[0][0]/_target_"
    assert hit[0].path.endswith("!./model_config.yaml")


def test_unparseable_config_in_a_container_is_a_gap_not_clean(tmp_path: Path) -> None:
    path = _nemo(tmp_path / "m.nemo", "encoder: [unclosed\n  _target_: x\n")
    found = scan_file_detailed(path)
    assert any(f.id == "MLA-CONFIG-INVALID" for f in found.findings)
    assert found.skipped and "not parsed" in found.skipped[0].reason


def test_yaml_alias_bomb_is_walked_once(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
              f"*a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 10)]
    lines += ["hidden: &t os.system", "cfg: {_target_: *t, payload: *a9}"]
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    found = scan_file_detailed(path)
    assert [f.evidence["callable"] for f in found.findings if f.id == "MLA-CONFIG-TARGET"] == ["os.system"]


def test_safetensors_metadata_config(tmp_path: Path) -> None:
    meta = {"config": json.dumps({"head": {"_target_": "subprocess.call", "_args_": [["id"]]}})}
    path = tmp_path / "m.safetensors"
    path.write_bytes(craft.safetensors({"__metadata__": meta, "w": {"dtype": "F32", "shape": [1],
                                                                    "data_offsets": [0, 4]}}, b"\0" * 4))
    found = scan_file_detailed(path)
    assert [(f.evidence["callable"], f.severity) for f in found.findings] == [("subprocess.call", Severity.CRITICAL)]


def test_text_mentioning_target_that_is_no_yaml_stays_quiet(tmp_path: Path) -> None:
    path = tmp_path / "notes.py"
    path.write_text("def f(cfg):\n    return cfg['_target_'] if cfg else {'a': [1, 2}\n")
    assert not scan_paths([path]).findings


def test_remote_code_refs() -> None:
    refs = remote_code_refs({"auto_map": {"AutoConfig": "configuration.C", "AutoModel": "org-a/code@abc123--m.M",
                                          "AutoTokenizer": ["org-b/tok--t.T", None]},
                             "custom_pipelines": {"x": {"impl": "org-c/p--pipe.P"}}})
    assert [(r.repo_id, r.revision, r.reference, r.key) for r in refs] == [
        ("org-a/code", "abc123", "m.M", "auto_map.AutoModel"), ("org-b/tok", None, "t.T", "auto_map.AutoTokenizer"),
        ("org-c/p", None, "pipe.P", "custom_pipelines.x.impl")]
    assert remote_code_refs({"auto_map": {"AutoModel": "modeling.M"}}) == []


def test_remote_code_finding_exposes_the_repo(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auto_map": {"AutoModel": "evil/x--modeling.M"}}))
    (hit,) = [f for f in scan_paths([path]).findings if f.id == "MLA-REMOTE-CODE"]
    assert hit.severity is Severity.HIGH and hit.evidence["repo"] == "evil/x" and hit.evidence["revision"] is None


def test_skops_trust_model() -> None:
    schema = {"__class__": "Pipeline", "__module__": "sklearn.pipeline", "__loader__": "ObjectNode", "content": {
        "steps": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": [
            {"__class__": "log1p", "__module__": "numpy", "__loader__": "FunctionNode"},
            {"__class__": "Custom", "__module__": "mypkg.est", "__loader__": "ObjectNode"},
            {"__class__": "eval", "__module__": "builtins", "__loader__": "FunctionNode"}]}}}
    assert sorted(q for q, _l, _w in untrusted_types(schema)) == ["builtins.eval", "mypkg.est.Custom"]


@pytest.mark.parametrize(("module", "cls", "severity"), [
    ("__main__", "DivideColumns", Severity.LOW), ("mypkg.est", "Custom", Severity.MEDIUM),
    ("os", "system", Severity.CRITICAL)])
def test_skops_severity_by_what_the_type_is(tmp_path: Path, module: str, cls: str, severity: Severity) -> None:
    schema = corpus._skops_estimator({"x": corpus._skops_node(module, cls, "ObjectNode", {})})
    path = corpus._skops(tmp_path / "m.skops", schema)
    (hit,) = [f for f in scan_file_detailed(path).findings if f.id == "MLA-SKOPS-UNTRUSTED"]
    assert hit.severity is severity and hit.evidence["callable"] == f"{module}.{cls}"


def test_torch_module_wrapper_payload_is_scanned(tmp_path: Path, sentinel: Path) -> None:
    inner = craft.zip_bytes([("archive/data.pkl", craft.os_system_p2(sentinel)), ("archive/version", b"3\n")])
    layer = {"module": "keras.layers", "class_name": "TorchModuleWrapper",
             "config": {"name": "w", "module": base64.b64encode(inner).decode()}}
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", json.dumps({"class_name": "Functional", "config": {"layers": [layer]}}))
        zf.writestr("metadata.json", "{}")
    found = scan_file_detailed(path)
    ids = {(f.id, f.severity) for f in found.findings}
    assert ("MLA-KERAS-FILE-ACCESS", Severity.HIGH) in ids and ("MLA-PICKLE-EXEC", Severity.CRITICAL) in ids
    assert not any(f.id == "MLA-KERAS-CUSTOM-OBJECT" for f in found.findings)


def test_torchscript_file_access_by_place(tmp_path: Path) -> None:
    on_load = corpus._torchscript(tmp_path / "a.pt", setstate='    torch.save(x, "/tmp/x")\n')
    on_call = corpus._torchscript(tmp_path / "b.pt", forward='    torch.save(x, "/tmp/x")\n')
    a = [f for f in scan_file_detailed(on_load).findings if f.id == "MLA-TORCHSCRIPT-FILE-ACCESS"]
    b = [f for f in scan_file_detailed(on_call).findings if f.id == "MLA-TORCHSCRIPT-FILE-ACCESS"]
    assert a[0].severity is Severity.CRITICAL and a[0].evidence["function"] == "__setstate__"
    assert a[0].evidence["location"] == "/tmp/x"
    assert b[0].severity is Severity.HIGH and b[0].evidence["function"] == "forward"


def test_tf_ops_judged_by_their_arguments(tmp_path: Path) -> None:
    benign = corpus.tf_benign_bytes(tmp_path / "b")[0].path
    assert not [f for f in scan_file_detailed(benign).findings if f.id == "MLA-TF-OP"]
    for item in corpus.tf_malicious(tmp_path / "m"):
        ops = [f for f in scan_file_detailed(item.path).findings if f.id == "MLA-TF-OP"]
        assert ops and ops[0].severity.at_least(Severity.HIGH), item.path


def test_big_config_is_a_gap(tmp_path: Path) -> None:
    path = tmp_path / "model_config.yaml"
    path.write_text("a: 1\n" * 200)
    found = scan_file_detailed(path, limits=Limits(max_json=100))
    assert found.skipped and "max_json" in found.skipped[0].reason


def test_templates_with_renderer_extensions_parse(tmp_path: Path) -> None:
    """What transformers renders (``{% generation %}``, ``{% break %}``) is parsed, not judged by its words: the
    role name "system" is no finding; a payload inside a generation block still is."""
    ok = ("{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}{% break %}{% endif %}"
          "{% generation %}{{ m['content'] }}{% endgeneration %}{% endfor %}{% do messages.append(1) %}")
    bad = "{% generation %}{{ cycler.__init__.__globals__ }}{% endgeneration %}"
    (tmp_path / "ok.jinja").write_text(ok)
    (tmp_path / "bad.jinja").write_text(bad)
    (tmp_path / "chat_template_notes.md").write_text("Use the system role: {{ x }} and {% broken")
    assert not scan_paths([tmp_path / "ok.jinja"]).findings
    assert not scan_paths([tmp_path / "chat_template_notes.md"]).findings
    hits = scan_paths([tmp_path / "bad.jinja"]).findings
    assert hits and hits[0].severity is Severity.CRITICAL and "parse_error" not in hits[0].evidence


@pytest.mark.parametrize("text", [
    "chat_template:\n  \"{{ config.__class__.__init__.__globals__['os'].system('id') }}\"\nmodel_name: x\n",
    "chat_template_jinja: \"{% for m in messages %}{{ lipsum.__globals__ }}{% endfor %}\"\ncheckpoint: a\n"])
def test_yaml_that_starts_like_a_pickle_opcode_is_read_as_yaml(tmp_path: Path, text: str) -> None:
    """'c' is pickle's GLOBAL: a YAML line read as one names no importable module, so it is no pickle; the
    template the config carries is what gets judged."""
    path = tmp_path / "model_config.yaml"
    path.write_text(text)
    found = scan_paths([path]).findings
    assert found and {f.id for f in found} == {"MLA-CHAT-TEMPLATE"}


def test_chat_template_recognised_by_content(tmp_path: Path) -> None:
    path = tmp_path / "prompt.tmpl.txt"
    path.write_text("{% for message in messages %}{{ message.role }}: {{ message.content }}{% endfor %}\n"
                    "{{ config.__class__.__base__.__subclasses__() }}")
    hits = scan_paths([path]).findings
    assert hits and hits[0].id == "MLA-CHAT-TEMPLATE" and hits[0].severity is Severity.CRITICAL
    prose = tmp_path / "NOTES.txt"
    prose.write_text("Render {{ message.content }} with eval( and __dunders__ in prose that {% is not a template")
    assert not scan_paths([prose]).findings

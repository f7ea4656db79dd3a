"""Test doubles and re-reported sites found by the real-repository corpus (bench/realrepos, issue 23), after the
first round of fixes: a Hub double installed by a pytest fixture or by assignment, a helper that only runs under a
double, and a flag handed to the project's own class through ``cls(...)``. Minimal reproductions written here;
nothing is imported or run.
"""

from __future__ import annotations

from pathlib import Path

from auditor.checks.hubmodels import CHECK
from auditor.kinds import FindingKind
from auditor.models.refs import ModelScan
from tests.models.conftest import make_ctx, write_project

_project = write_project


def _ids(scan: ModelScan) -> set[str]:
    return {ref.repo_id for ref in scan.refs}


def _excluded(scan: ModelScan) -> set[str]:
    return {e.subject or "" for e in scan.excluded}


_LIB = {
    "pkg/__init__.py": "",
    "pkg/fetch.py": '''
        from huggingface_hub import snapshot_download

        def fetch(repo):
            return snapshot_download(repo_id=repo)
    ''',
}


def test_a_fixture_that_patches_the_hub_makes_its_tests_doubles(tmp_path: Path) -> None:
    scan = _project(tmp_path, {**_LIB, "tests/test_fetch.py": '''
        import pytest
        import huggingface_hub
        from pkg.fetch import fetch


        @pytest.fixture()
        def no_network(monkeypatch, tmp_path):
            monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda **k: str(tmp_path))


        def _go(repo):
            return fetch(repo)


        def test_offline(no_network):
            assert fetch("lab-one/offline-model")


        def test_through_helper(no_network):
            assert _go("lab-one/helper-model")


        def test_real():
            assert fetch("lab-one/real-model")
    '''})
    assert _ids(scan) == {"lab-one/real-model"}
    assert {"lab-one/offline-model", "lab-one/helper-model"} <= _excluded(scan)


def test_a_helper_called_from_real_and_patched_tests_still_loads(tmp_path: Path) -> None:
    scan = _project(tmp_path, {**_LIB, "tests/test_fetch.py": '''
        import pytest
        import huggingface_hub
        from pkg.fetch import fetch


        @pytest.fixture()
        def no_network(monkeypatch):
            monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda **k: "/x")


        def _go():
            return fetch("lab-one/shared-model")


        def test_offline(no_network):
            _go()


        def test_online():
            _go()
    '''})
    assert _ids(scan) == {"lab-one/shared-model"}


def test_a_double_installed_by_assignment_is_a_double(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"tests/test_pipe.py": '''
        import sys
        import types
        from diffusers import DiffusionPipeline


        class _FakePipeline:
            @classmethod
            def from_pretrained(cls, path, **kwargs):
                return cls()


        def _install():
            mod = sys.modules["diffusers"]
            mod.DiffusionPipeline = _FakePipeline
            return mod.DiffusionPipeline.from_pretrained("lab-two/fake-installed")


        def test_modules():
            sys.modules["diffusers"] = types.ModuleType("diffusers")
            DiffusionPipeline.from_pretrained("lab-two/module-replaced")


        def test_real():
            DiffusionPipeline.from_pretrained("lab-two/real-pipe")
    '''})
    assert _ids(scan) == {"lab-two/real-pipe"}


def test_an_attribute_of_self_named_like_a_double_is_no_patch(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"tests/test_model.py": '''
        from transformers import AutoModel


        class DummyHead:
            pass


        class TestModel:
            def setup_method(self):
                self.head = DummyHead()
                self.model = AutoModel.from_pretrained("lab-three/real-model")
    '''})
    assert _ids(scan) == {"lab-three/real-model"}


def test_a_flag_handed_to_the_own_class_through_cls_is_reported_once(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"server/model.py": '''
        from transformers import AutoTokenizer


        class Served:
            def __init__(self, model_id, trust_remote_code=False):
                self.tok = AutoTokenizer.from_pretrained(model_id, trust_remote_code=trust_remote_code)

            @classmethod
            def fallback(cls, model_id, trust_remote_code=False):
                return cls(model_id=model_id, trust_remote_code=trust_remote_code)

            def clone(self, model_id, trust_remote_code=False):
                return self.__class__(model_id, trust_remote_code=trust_remote_code)
    '''})
    lines = sorted(site.location.line for site in scan.sites if site.location is not None)
    assert lines == [6]


def test_a_pickle_load_of_a_run_time_path_is_a_listed_gap(tmp_path: Path) -> None:
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "present.pt").write_bytes(b"\x80\x04N.")
    scan = _project(tmp_path, {"train.py": '''
        import argparse
        import joblib
        import torch

        args = argparse.ArgumentParser().parse_args()
        state = torch.load(args.ckpt, map_location="cpu")
        safe = torch.load(args.ckpt, weights_only=True)
        clf = joblib.load(f"{args.out}/clf.joblib")
        local = torch.load("weights/present.pt")
    '''})
    gaps = sorted((s.line, s.requirement) for s in scan.skipped if "model file" in (s.reason or ""))
    assert gaps == [(6, "args.ckpt"), (8, "f'{args.out}/clf.joblib'")]
    assert all(s.gap is not None for s in scan.skipped if "model file" in (s.reason or ""))


def test_an_unpinned_finding_names_the_calls_that_load_a_value_written_elsewhere(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"train.py": '''
        import argparse
        from transformers import AutoModel, AutoTokenizer


        def load(base_model):
            tok = AutoTokenizer.from_pretrained(base_model)
            return AutoModel.from_pretrained(base_model), tok


        parser = argparse.ArgumentParser()
        parser.add_argument("--base", default="lab-four/default-model")
        load(parser.parse_args().base)
        AutoModel.from_pretrained("lab-four/literal-model")
    '''})
    ctx = make_ctx(offline=True)
    ctx.report.models = scan.refs
    found = {f.model[0] if f.model else "": f for f in CHECK.run(ctx) if f.kind is FindingKind.UNPINNED_REVISION}
    flowed = found["lab-four/default-model"]
    assert flowed.location is not None and flowed.location.line == 12
    assert flowed.evidence is not None
    assert flowed.evidence.to_json()["loaded_at"] == [{"file": str(tmp_path / "train.py"), "line": 6},
                                                      {"file": str(tmp_path / "train.py"), "line": 7}]
    assert "by the calls at" in flowed.message and flowed.fix is not None and ":6, 7" in flowed.fix
    literal = found["lab-four/literal-model"]
    assert literal.evidence is not None and "loaded_at" not in literal.evidence.to_json()
    assert "by the call" not in literal.message


def test_a_patcher_bound_to_a_name_and_a_helper_that_installs_doubles(tmp_path: Path) -> None:
    scan = _project(tmp_path, {**_LIB, "tests/test_more.py": '''
        import sys
        import types
        from unittest.mock import patch
        from pkg.fetch import fetch


        def test_bound_patcher():
            patcher = patch("huggingface_hub.snapshot_download", side_effect=OSError("404"))
            with patcher as called:
                assert fetch("lab-five/bound-model") is None
            assert called.call_count == 1


        def test_started_patcher():
            patch("pkg.fetch.snapshot_download", return_value="/x").start()
            fetch("lab-five/started-model")


        def _install_stub():
            sys.modules["huggingface_hub"] = types.ModuleType("huggingface_hub")


        def test_through_installer():
            _install_stub()
            fetch("lab-five/stubbed-model")


        def test_real():
            fetch("lab-five/real-model")
    '''})
    assert _ids(scan) == {"lab-five/real-model"}


def test_two_remote_code_loads_of_one_model_at_module_level_are_two_places(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"run.py": '''
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        name = "lab-six/remote-t5"
        tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=True)
        model = AutoModelForSeq2SeqLM.from_pretrained(name, trust_remote_code=True)
    '''})
    ctx = make_ctx(offline=True)
    ctx.report.models = scan.refs
    ctx.report.remote_code_sites = scan.sites
    cited = sorted(f.location.line for f in CHECK.run(ctx)
                   if f.kind is FindingKind.TRUST_REMOTE_CODE and f.location is not None)
    assert len(cited) == len(set(cited)) == 2


def test_a_pickle_load_in_a_patched_test_is_listed_as_excluded(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"tests/test_train.py": '''
        import torch


        def test_saves(tmp_path, monkeypatch):
            monkeypatch.setattr("pkg.train.fit", lambda *a: None)
            state = torch.load(tmp_path / "final" / "model.pth")
            assert state
    '''})
    excluded = [e for e in scan.excluded if e.line == 6]
    assert excluded and "patches" in (excluded[0].reason or "")
    assert not [s for s in scan.skipped if s.line == 6]


def test_the_projects_own_get_tokenizer_is_no_registry_download(tmp_path: Path) -> None:
    scan = _project(tmp_path, {"run_model.py": '''
        import argparse
        from transformers import AutoTokenizer


        def get_tokenizer(model_name, config):
            return AutoTokenizer.from_pretrained(model_name, padding_side="left")


        parser = argparse.ArgumentParser()
        parser.add_argument("--model", default="lab-seven/opt-small")
        args = parser.parse_args()
        tokenizer = get_tokenizer(args.model, config=None)
    '''})
    assert _ids(scan) == {"lab-seven/opt-small"}
    assert not [e for e in scan.excluded if "registry" in (e.reason or "")]
    assert not [s for s in scan.skipped if "registry" in (s.reason or "")]

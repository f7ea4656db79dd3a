"""Issue 18 (project layouts): a directory is a code root with dependency profiles, audited separately in one report.
Also: the audited package set of a direct-pin file equals what ``uv pip compile`` resolves for the same target."""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from auditor.tools import uv_binary
from tests.support.httpserver import closed_port_url
from tests.support.index import LocalIndex


def audit(*argv: str) -> tuple[int, dict[str, Any] | None, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--format", "json", "-q", "--python-version", "3.11", "--fail-on", "critical", *argv])
    try:
        return code, json.loads(out.getvalue()), err.getvalue()
    except ValueError:
        return code, None, err.getvalue()


@pytest.fixture(scope="module")
def index_url() -> Iterator[str]:
    index = LocalIndex()
    index.add_wheel("torch", "2.1.0", requires=["filelock", "sympy"])
    index.add_wheel("torch", "2.2.0", requires=["filelock", "sympy>=1.12"])
    index.add_wheel("filelock", "3.13.1")
    index.add_wheel("sympy", "1.11")
    index.add_wheel("sympy", "1.12", requires=["mpmath>=0.19"])
    index.add_wheel("mpmath", "1.3.0")
    index.add_wheel("transformers", "4.36.0", requires=["tokenizers>=0.14,<0.19", "filelock", "numpy>=1.17"])
    index.add_wheel("tokenizers", "0.15.0")
    index.add_wheel("tokenizers", "0.15.2")
    index.add_wheel("numpy", "1.26.4")
    index.add_wheel("flask", "2.2.2", requires=["werkzeug>=2.2.2", "jinja2>=3.0", "click>=8.0"])
    index.add_wheel("werkzeug", "2.2.2", requires=["markupsafe>=2.1.1"])
    index.add_wheel("werkzeug", "3.0.1", requires=["markupsafe>=2.1.1"])
    index.add_wheel("jinja2", "3.1.2", requires=["markupsafe>=2.0"])
    index.add_wheel("markupsafe", "2.1.1")
    index.add_wheel("markupsafe", "2.1.3")
    index.add_wheel("click", "8.1.3", requires=["colorama; platform_system == 'Windows'"])
    index.add_wheel("colorama", "0.4.6")
    with index.serve() as url:
        yield url


@pytest.fixture(autouse=True)
def _cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if uv_binary() is None:
        pytest.skip("uv binary not available")
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(tmp_path / "cache"))


def ml_repo(root: Path) -> Path:
    """A repository laid out like the ML projects in the issue: alternatives under requirements/, a pyproject."""
    (root / "requirements" / "full").mkdir(parents=True)
    (root / "requirements" / "cuda.txt").write_text("torch==2.1.0\ntransformers==4.36.0\n")
    (root / "requirements" / "rocm.txt").write_text("torch==2.2.0\n")
    (root / "requirements" / "full" / "requirements.txt").write_text("flask==2.2.2\n")
    (root / "pyproject.toml").write_text('[project]\nname = "mlrepo"\nversion = "0.1"\n'
                                         'dependencies = ["transformers>=4.30"]\n'
                                         '[project.optional-dependencies]\nweb = ["flask"]\n')
    (root / "serve.py").write_text("from transformers import AutoModel\n"
                                   "m = AutoModel.from_pretrained('acme-ai/base-model', revision='0123abc')\n")
    (root / ".git").mkdir()
    return root


def test_alternative_requirement_files_are_separate_profiles(tmp_path: Path, index_url: str) -> None:
    repo = ml_repo(tmp_path / "repo")
    code, report, err = audit(str(repo), "--index-url", index_url)
    assert report is not None and code in (0, 1), err
    names = [p["name"] for p in report["profiles"]]
    assert names == ["requirements/cuda.txt", "requirements/full/requirements.txt", "requirements/rocm.txt",
                     "pyproject.toml"]  # pyproject does not lose to the requirements files
    torch = {p["version"]: p["profiles"] for p in report["packages"] if p["name"] == "torch"}
    assert torch == {"2.1.0": ["requirements/cuda.txt"], "2.2.0": ["requirements/rocm.txt"]}  # never merged
    sympy = {p["version"] for p in report["packages"] if p["name"] == "sympy"}
    assert sympy == {"1.11", "1.12"} or sympy == {"1.12"}  # each profile resolved on its own
    assert any(w.startswith("conflicting-pins: torch") for w in report["warnings"])
    excluded = [e["subject"] for e in report["excluded"]]
    assert "pyproject.toml [extra web]" in excluded  # an extra that was not selected is listed, not lost
    assert any(m["repo_id"] == "acme-ai/base-model" for m in report["models"])


def test_profile_selection_and_all(tmp_path: Path, index_url: str) -> None:
    repo = ml_repo(tmp_path / "repo")
    code, report, err = audit(str(repo), "--index-url", index_url, "--profile", "requirements/rocm.txt")
    assert report is not None and code in (0, 1), err
    assert {p["name"] for p in report["packages"]} >= {"torch"} and "profiles" not in report  # one profile
    assert {p["version"] for p in report["packages"] if p["name"] == "torch"} == {"2.2.0"}
    assert {e["subject"] for e in report["excluded"]} >= {"requirements/cuda.txt", "pyproject.toml"}
    code, report, err = audit(str(repo), "--index-url", index_url, "--profile", "all")
    assert report is not None and "pyproject.toml [extra web]" in [p["name"] for p in report["profiles"]]
    code, report, err = audit(str(repo), "--index-url", index_url, "--profile", "nope.txt")
    assert code == 2 and "no such profile" in err and "requirements/cuda.txt" in err


def test_a_file_given_alone_keeps_its_project_code_root(tmp_path: Path, index_url: str) -> None:
    repo = ml_repo(tmp_path / "repo")
    code, report, err = audit(str(repo / "requirements" / "full" / "requirements.txt"), "--index-url", index_url)
    assert report is not None and code in (0, 1), err
    assert any(m["repo_id"] == "acme-ai/base-model" for m in report["models"])  # found in the project's code
    code, both, err = audit(str(repo / "requirements" / "full" / "requirements.txt"), str(repo), "--index-url",
                            index_url)
    assert both is not None and code in (0, 1), err
    assert any(m["repo_id"] == "acme-ai/base-model" for m in both["models"])


def test_one_files_unreachable_extra_index_names_the_file_and_spares_the_others(tmp_path: Path,
                                                                                index_url: str) -> None:
    repo = tmp_path / "repo"
    (repo / "requirements").mkdir(parents=True)
    (repo / "requirements" / "base.txt").write_text("flask==2.2.2\n")
    (repo / "requirements" / "xpu.txt").write_text(f"--extra-index-url {closed_port_url()}/xpu\ntorch==2.1.0\n")
    code, report, err = audit(str(repo), "--index-url", index_url, "--timeout", "1", "--retries", "0")
    assert code == 3 and report is not None
    assert "xpu.txt" in err and "package index" in err and "--offline" in err
    assert ("flask", "2.2.2") in {(p["name"], p["version"]) for p in report["packages"]}  # the other profile
    statuses = {p["name"]: p["status"] for p in report["profiles"]}
    assert statuses == {"requirements/base.txt": "audited", "requirements/xpu.txt": "failed"}
    xpu = [s for s in report["skipped"] if s["file"] and s["file"].endswith("xpu.txt") and s["kind"] == "requirement"]
    assert xpu and all("not audited" in s["reason"] for s in xpu)


# -- the audited set equals uv pip compile's for the same target ----------------------------------------------------

DIRECT_PIN_FILES = {
    "web.txt": "Flask==2.2.2\nJinja2==3.1.2\n",
    "ml.txt": "transformers==4.36.0\ntorch==2.1.0\nnumpy==1.26.4\n",
    "mixed.txt": "torch==2.2.0\nclick==8.1.3\ntokenizers==0.15.0\n",
}


@pytest.mark.parametrize("name", sorted(DIRECT_PIN_FILES))
def test_audited_set_equals_uv_pip_compile(name: str, tmp_path: Path, index_url: str) -> None:
    uv = uv_binary()
    assert uv is not None
    (tmp_path / "project").mkdir()
    path = tmp_path / "project" / name
    path.write_text(DIRECT_PIN_FILES[name])
    # uv's cache outside the project: its .msgpack entries would otherwise be scanned as unknown model files
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))},
           "UV_CACHE_DIR": str(tmp_path / "uvcache"), "NO_COLOR": "1"}
    proc = subprocess.run([uv, "pip", "compile", "--no-config", "--quiet", "--no-header", "--no-annotate",
                           "--only-binary", ":all:", "--python-version", "3.11", "--python-platform",
                           "x86_64-manylinux_2_28", "--index-url", index_url, str(path)],
                          capture_output=True, text=True, env=env, check=True, timeout=120)
    expected = {tuple(line.split("==")) for line in proc.stdout.split() if "==" in line}
    code, report, err = audit(str(path), "--index-url", index_url, "--platform", "x86_64-manylinux_2_28")
    assert report is not None and code in (0, 1), err
    assert {(p["name"], p["version"]) for p in report["packages"]} == expected
    assert report["complete"] is True


def test_many_conflicting_names_are_summed_up_by_name(tmp_path: Path) -> None:
    """Ten conflicting-pins warnings at most; the rest in one more warning naming each of them (from the names, not
    read back out of the warnings' text)."""
    index = LocalIndex()
    names = [f"pkg{n:02d}" for n in range(12)]
    for name in names:
        index.add_wheel(name, "1.0")
        index.add_wheel(name, "2.0")
    repo = tmp_path / "repo"
    (repo / "requirements").mkdir(parents=True)
    (repo / "requirements" / "a.txt").write_text("".join(f"{n}==1.0\n" for n in names))
    (repo / "requirements" / "b.txt").write_text("".join(f"{n}==2.0\n" for n in names))
    with index.serve() as url:
        code, report, err = audit(str(repo), "--index-url", url)
    assert report is not None and code in (0, 1), err
    conflicts = [w for w in report["warnings"] if w.startswith("conflicting-pins:")]
    assert [w.split(" ", 2)[1] for w in conflicts[:10]] == names[:10]
    assert conflicts[10].startswith("conflicting-pins: 2 more names are held at different versions by different "
                                    "profiles (pkg10, pkg11);")
    assert len(conflicts) == 11

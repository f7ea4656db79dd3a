"""The real-repository bench's own logic: label matching, Wilson intervals, the checkout and the independent
cross-check for silent drops (on a tiny hand-made tree and a hand-written report; no mlaudit code involved)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from bench.realrepos import Judged, Label, checkout, draw_sample, estimate, finding_key, judge, load_labels, wilson
from bench.realrepos_xcheck import compare, notebook_source, scan_tree, sites_in_source


def _finding(kind: str, ident: str, repo_id: str, file: str, line: int | None) -> dict[str, object]:
    return {"kind": kind, "id": ident, "model": {"repo_id": repo_id, "revision": None},
            "location": {"file": file, "line": line}}


def test_finding_key_names_package_model_or_path() -> None:
    pkg = {"kind": "vulnerability", "id": "GHSA-x", "package": {"name": "torch", "version": "2.1.0"},
           "location": {"file": "requirements.txt", "line": 3}}
    assert finding_key("r", pkg) == ("r", "vulnerability", "GHSA-x", "torch==2.1.0", "requirements.txt:3")
    pinned = _finding("unpinned-revision", "MLA", "org/m", "a.py", 1)
    pinned["model"] = {"repo_id": "org/m", "revision": "abc"}
    assert finding_key("r", pinned)[3] == "org/m@abc"
    path = {"kind": "unsafe-model", "id": "S", "path": "w/model.pkl", "location": {"file": "w/model.pkl", "line": None}}
    assert finding_key("r", path)[3:] == ("w/model.pkl", "w/model.pkl")


def test_judge_exact_moved_duplicate_and_unjudged() -> None:
    tp = Label("TP", "", "", "literal loaded")
    labels = {("r", "unpinned-revision", "MLA", "org/m", "a.py:10"): tp,
              ("r", "unpinned-revision", "MLA", "org/x", "b.py:3"): Label("FP", "placeholder", "refs", "x"),
              ("r", "unpinned-revision", "MLA", "org/x", "b.py:9"): Label("TP", "", "", "y")}
    findings = [
        _finding("unpinned-revision", "MLA", "org/m", "a.py", 10),   # exact
        _finding("unpinned-revision", "MLA", "org/m", "a.py", 10),   # the same again: duplicate
        _finding("unpinned-revision", "MLA", "org/m", "a.py", 14),   # same model and file, other line: moved
        _finding("unpinned-revision", "MLA", "org/x", "b.py", 20),   # labels at other lines disagree: unjudged
        _finding("trust-remote-code", "MLA-T", "org/m", "a.py", 10),  # another kind: unjudged
    ]
    got = [(j.verdict, j.how) for j in judge("r", findings, labels)]
    assert got == [("TP", "exact"), ("FP", "duplicate"), ("TP", "moved"), ("unjudged", "none"),
                   ("unjudged", "none")]


def test_labels_file_rejects_a_verdict_that_is_not_tp_or_fp(tmp_path: Path) -> None:
    path = tmp_path / "labels.tsv"
    path.write_text("repo\tkind\tid\tsubject\tlocation\tverdict\tclass\tlane\twhy\n"
                    "r\tk\ti\ts\tf:1\tTP\t\t\tok\n")
    assert load_labels(path)[("r", "k", "i", "s", "f:1")].verdict == "TP"
    path.write_text(path.read_text() + "r\tk\ti\ts\tf:2\tmaybe\t\t\t?\n")
    with pytest.raises(SystemExit, match="labels.tsv:3"):
        load_labels(path)


def test_committed_labels_file_parses() -> None:
    labels = load_labels()
    assert all(lab.verdict in ("TP", "FP") for lab in labels.values())
    assert all(lab.why for lab in labels.values()), "every label says why"


def test_wilson_interval() -> None:
    lo, hi = wilson(10, 10)
    assert hi == 1.0 and 0.72 < lo < 0.73
    lo, hi = wilson(72, 100)
    assert 0.62 < lo < 0.63 and 0.79 < hi < 0.80
    assert wilson(0, 0) == (0.0, 1.0)


PY_SOURCE = '''\
from transformers import AutoModel, pipeline
from datasets import load_dataset
import torch

m = AutoModel.from_pretrained("org/literal")
n = AutoModel.from_pretrained(
    args.model_path,
)
p = pipeline("text-generation", model="org/piped")
d = load_dataset("json", data_files="x.json")
e = load_dataset("org/data")
sd = torch.load(path)
safe = torch.load(path, weights_only=True)
NAME = "<your-org>/<model>"
q = AutoModel.from_pretrained(NAME)
'''

LOCAL_PIPELINE = '''\
def pipeline(x):
    return x
pipeline(step)
'''


def test_sites_in_python_source() -> None:
    sites = sites_in_source(PY_SOURCE, "train.py")
    got = [(s.line, s.end_line, s.loader, s.group, s.literal, s.resolved) for s in sites]
    assert got == [
        (5, 5, "from_pretrained", "hub", "org/literal", None),
        (6, 8, "from_pretrained", "hub", None, None),
        (9, 9, "pipeline", "hub", "org/piped", None),
        (11, 11, "load_dataset", "hub", "org/data", None),  # the packaged "json" builder is not a Hub reference
        (12, 12, "torch.load", "pickle", None, None),  # weights_only=True is not a pickle load
        (15, 15, "from_pretrained", "hub", None, "<your-org>/<model>"),
    ]
    assert sites_in_source(LOCAL_PIPELINE, "steps.py") == []  # a local function named pipeline


def test_notebook_lines_map_to_the_raw_file() -> None:
    nb = {"cells": [
        {"cell_type": "markdown", "source": ["# title\n"]},
        {"cell_type": "code", "source": ["!pip install transformers\n", "from transformers import AutoModel\n",
                                         "m = AutoModel.from_pretrained(\"org/nb\")\n"]},
        {"cell_type": "code", "source": ["%%bash\n", "echo from_pretrained(x)\n"]},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    raw = json.dumps(nb, indent=1)
    source, line_map = notebook_source(raw)
    sites = sites_in_source(source, "nb.ipynb", line_map)
    assert len(sites) == 1
    raw_line = raw.splitlines()[sites[0].line - 1]
    assert "from_pretrained" in raw_line and "org/nb" in raw_line


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "server" / "sub").mkdir(parents=True)
    (root / "notes").mkdir()
    (root / "train.py").write_text(PY_SOURCE)
    (root / "requirements.txt").write_text("torch==2.1.0\n")
    (root / "server" / "requirements-gpu.txt").write_text("vllm\n")
    (root / "server" / "sub" / "setup.py").write_text("from setuptools import setup\nsetup(install_requires=['x'])\n")
    (root / "notes" / "MANIFEST.in").write_text("include *.txt\n")
    (root / "environment.yml").write_text("name: e\nchannels:\n  - conda-forge\ndependencies:\n  - python\n")
    (root / "tools").mkdir()
    (root / "tools" / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")  # settings only: no input
    (root / "svc").mkdir()
    (root / "svc" / "pyproject.toml").write_text("[project]\nname = 's'\ndependencies = ['x']\n")
    (root / "svc" / "uv.lock").write_text("version = 1\n")
    (root / ".venv" / "lib").mkdir(parents=True)
    (root / ".venv" / "lib" / "x.py").write_text("AutoModel.from_pretrained('org/venv')\n")
    return root


def test_cross_check_finds_what_a_report_does_not_mention(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    check = scan_tree(root)
    assert sorted(f.file for f in check.req_files) == ["environment.yml", "requirements.txt",
                                                       "server/requirements-gpu.txt", "server/sub/setup.py",
                                                       "svc/pyproject.toml", "svc/uv.lock"]
    report = {
        "inputs": ["requirements.txt", "svc/uv.lock"],
        "models": [{"repo_id": "org/literal", "file": "train.py", "line": 5}],
        "findings": [{"kind": "unpinned-revision", "location": {"file": "train.py", "line": 9},
                      "evidence": {"site": {"file": "train.py", "line": 11}}}],
        "skipped": [{"kind": "model-reference", "file": "train.py", "line": 7, "reason": "computed at run time"},
                    {"kind": "input-file", "file": "environment.yml", "line": None, "reason": "not read"}],
        "excluded": [{"kind": "input-file", "file": "server/sub/", "line": None, "reason": "--exclude"}],
    }
    drops = {(d.file, d.line): d.klass for d in compare(check, report)}
    assert drops == {
        ("train.py", 12): "pickle: run-time value, not listed as skipped; file cited elsewhere (code)",
        ("train.py", 15): "hub: name bound to a literal, placeholder value, no skip entry (code)",
        ("server/requirements-gpu.txt", None): "file: requirements not an input, skipped or excluded",
        ("svc/pyproject.toml", None): "file: pyproject beside its audited lockfile, not named",
    }
    # the same model listed for one site only: the second call site is a drop of its own
    (root / "again.py").write_text('from transformers import AutoModel\nAutoModel.from_pretrained("org/literal")\n')
    drops2 = {(d.file, d.line): d.klass for d in compare(scan_tree(root), report)}
    assert drops2[("again.py", 2)] == "hub: literal, model listed but this call site not cited (code)"


def test_cross_check_under_a_folder_target(tmp_path: Path) -> None:
    check = scan_tree(_tree(tmp_path), "server")
    assert [f.file for f in check.req_files] == ["server/requirements-gpu.txt", "server/sub/setup.py"]
    assert check.sites == []


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_checkout_writes_the_commit_and_reuses_it(tmp_path: Path) -> None:
    work = tmp_path / "w"
    work.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(work), *args], check=True, capture_output=True, text=True,
                              env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                                   "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
                                   "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}).stdout.strip()

    git("init", "-q")
    (work / "pkg").mkdir()
    (work / "pkg" / "a.py").write_text("x = 1\n")
    (work / "run.sh").write_text("#!/bin/sh\n")
    (work / "run.sh").chmod(0o755)
    git("add", ".")
    git("commit", "-qm", "one")
    first = git("rev-parse", "HEAD")
    (work / "pkg" / "a.py").write_text("x = 2\n")
    git("commit", "-qam", "two")
    dest = tmp_path / "co" / "repo"
    assert checkout(work / ".git", first, dest) == []
    assert (dest / "pkg" / "a.py").read_text() == "x = 1\n"
    assert (dest / "run.sh").stat().st_mode & 0o111
    (dest / "pkg" / "a.py").write_text("touched\n")
    checkout(work / ".git", first, dest)  # same commit: reused as it is
    assert (dest / "pkg" / "a.py").read_text() == "touched\n"


def _pool(n: int, repo: str, kind: str = "unpinned-revision") -> list[Judged]:
    return [Judged((repo, kind, "MLA", f"org/m{i}", f"a.py:{i}"), {}, "unjudged", None, "none") for i in range(n)]


def test_stratified_sample_is_proportional_reproducible_and_covers_every_stratum() -> None:
    pool = _pool(90, "big") + _pool(10, "small") + _pool(1, "tiny", "trust-remote-code")
    first = draw_sample(pool, 20, seed=7)
    again = draw_sample(list(reversed(pool)), 20, seed=7)
    assert [j.key for j in first] == [j.key for j in again]
    per = Counter(j.key[0] for j in first)
    assert per == {"big": 18, "small": 2, "tiny": 1}
    assert len({j.key for j in first}) == len(first)
    assert [j.key for j in draw_sample(pool, 20, seed=8)] != [j.key for j in first]


def test_estimate_weights_each_stratum_by_its_size() -> None:
    census = Counter({"TP": 50, "FP": 0})
    rest = {("unpinned-revision", "a"): Counter({"n": 100, "TP": 9, "FP": 1}),
            ("unpinned-revision", "b"): Counter({"n": 50})}  # drew nothing: the kind's sample precision stands in
    cell, est = estimate("unpinned-revision", census, rest)
    assert cell.startswith("9/1 of 150")
    # 50 + 100 * 0.9 + 50 * 0.9 = 185 of 200
    assert est.startswith("92% [")
    assert estimate("vulnerability", census, rest) == ("-", "-")

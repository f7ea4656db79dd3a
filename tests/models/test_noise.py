"""Less noise, same honesty: excluded paths are listed, check names are validated and mean the same on the command
line and in the policy, run-time references are grouped in the terminal but listed in full in JSON."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.projectwalk import PathFilter, walk_project

SCRIPT = """\
import fire
from transformers import AutoModelForCausalLM


def quantize(model_name_or_path: str):
    return AutoModelForCausalLM.from_pretrained(model_name_or_path, trust_remote_code=True)


if __name__ == "__main__":
    fire.Fire(quantize)
"""


def _project(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text))
    return root


def _json(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(["--offline", *args, "--format", "json", "-q"])
    return code, json.loads(capsys.readouterr().out)


def test_path_filter_follows_gitignore_rules(tmp_path: Path) -> None:
    _project(tmp_path, {"src/a.py": "", "tests/t.py": "", "tests/deep/u.py": "", "nb/x.ipynb": "{}",
                        "src/tests/keep.py": "", "examples/e.yaml": "", "docs/examples/keep.yaml": ""})
    walk = PathFilter.of(["tests/**", "*.ipynb", "/examples/"])
    seen = sorted(str((base / n).relative_to(tmp_path)) for base, names in walk_project(tmp_path, walk) for n in names)
    assert seen == ["docs/examples/keep.yaml", "src/a.py", "src/tests/keep.py"]
    assert sorted(walk.excluded) == [("examples/", "/examples/"), ("nb/x.ipynb", "*.ipynb"), ("tests/", "tests/**")]


def test_policy_exclude_and_cli_exclude_leave_paths_out_and_list_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pickle_bytes = b"\x80\x02cacme_lib.models\nNet\n)\x81."  # an unknown class (medium); never loaded by the audit
    _project(tmp_path, {
        "requirements.txt": "",
        "train.py": 'from transformers import AutoModel\nAutoModel.from_pretrained("acme-ai/shipped")\n',
        "tests/test_load.py": 'from transformers import AutoModel\nAutoModel.from_pretrained("acme-ai/test-only")\n',
        "tests/fixtures/weights.pkl": pickle_bytes,
        "scratch/notes.py": 'from transformers import AutoModel\nAutoModel.from_pretrained("acme-ai/scratch")\n',
    })
    _, before = _json([str(tmp_path), "--disable-check", "typosquat"], capsys)
    assert {m["repo_id"] for m in before["models"]} == {"acme-ai/shipped", "acme-ai/test-only", "acme-ai/scratch"}
    assert any("weights.pkl" in (f.get("path") or "") for f in before["findings"])

    (tmp_path / "mlaudit.toml").write_text('exclude = ["tests/**"]\ndisable = ["typosquat"]\n')
    _, after = _json([str(tmp_path), "--exclude", "scratch/"], capsys)
    assert {m["repo_id"] for m in after["models"]} == {"acme-ai/shipped"}
    assert not any("weights.pkl" in (f.get("path") or "") for f in after["findings"])
    excluded = {(e["kind"], e["file"]) for e in after["excluded"]}
    # the caller's --exclude is an exclusion; the audited project's own pattern is a gap (issue 26) until the
    # caller accepts that file with --config
    assert excluded == {("input-file", str(tmp_path / "scratch") + "/")}
    [own] = [s for s in after["skipped"] if s["file"] == str(tmp_path / "tests") + "/"]
    assert "excluded by the pattern 'tests/**' of the audited project's own policy" in own["reason"]
    assert all("excluded by the pattern" in e["reason"] for e in after["excluded"])
    _, accepted = _json([str(tmp_path), "--exclude", "scratch/", "--config", str(tmp_path / "mlaudit.toml")], capsys)
    excluded = {(e["kind"], e["file"]) for e in accepted["excluded"]}
    assert excluded == {("input-file", str(tmp_path / "tests") + "/"), ("input-file", str(tmp_path / "scratch") + "/")}


def test_bad_exclude_value_is_a_policy_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _project(tmp_path, {"requirements.txt": "", "mlaudit.toml": 'exclude = "tests/**"\n'})
    assert main(["--offline", str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err
    assert "mlaudit.toml" in err and "exclude" in err


def test_disable_check_by_finding_kind_is_the_same_as_the_policy(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _project(tmp_path, {"requirements.txt": "", "scripts/quantize.py": SCRIPT})
    _, report = _json([str(tmp_path), "--disable-check", "typosquat"], capsys)
    remote = [f for f in report["findings"] if f["kind"] == "trust-remote-code"]
    assert len(remote) == 1 and remote[0]["severity"] == "high" and remote[0]["location"]["line"] == 6
    assert "any model chosen at run time" in remote[0]["message"]

    _, cli = _json([str(tmp_path), "--disable-check", "typosquat", "--disable-check", "trust-remote-code"], capsys)
    (tmp_path / "mlaudit.toml").write_text('disable = ["typosquat", "trust-remote-code"]\n')
    _, policy = _json([str(tmp_path)], capsys)
    for got in (cli, policy):
        assert not [f for f in got["findings"] if f["kind"] == "trust-remote-code"]
        assert [f["kind"] for f in got["findings"]] == [f["kind"] for f in report["findings"]
                                                        if f["kind"] != "trust-remote-code"]


def test_disable_check_by_check_name_stops_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _project(tmp_path, {"requirements.txt": "", "scripts/quantize.py": SCRIPT})
    _, report = _json([str(tmp_path), "--disable-check", "typosquat", "--disable-check", "models"], capsys)
    assert not [f for f in report["findings"] if f["check"] == "models"]


def test_unknown_check_names_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _project(tmp_path, {"requirements.txt": ""})
    assert main(["--offline", str(tmp_path), "-q", "--disable-check", "trust-remote-cod"]) == 2
    err = capsys.readouterr().err
    assert "'trust-remote-cod'" in err and "trust-remote-code" in err and "typosquat" in err  # the valid names
    (tmp_path / "mlaudit.toml").write_text('disable = ["typosquatt"]\n')
    assert main(["--offline", str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err
    assert "mlaudit.toml" in err and "'typosquatt'" in err
    (tmp_path / "mlaudit.toml").write_text("[checks]\nno-such-check = false\n")
    assert main(["--offline", str(tmp_path), "-q"]) == 2
    assert "no-such-check" in capsys.readouterr().err


def test_terminal_groups_run_time_references(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loaders = {f"serve/worker_{i}.py": "import sys\nfrom transformers import AutoModel\n"
                                       + "".join(f"m{j} = AutoModel.from_pretrained(sys.argv[{j + 1}])\n"
                                                 for j in range(i + 1))
               for i in range(7)}
    _project(tmp_path, {"requirements.txt": "", **loaders})
    _, report = _json([str(tmp_path), "--disable-check", "typosquat"], capsys)
    runtime = [s for s in report["skipped"] if "computed at run time" in s["reason"]]
    assert len(runtime) == 28  # the full list stays in JSON, with lines
    assert {s["line"] for s in runtime} == set(range(3, 10))

    main(["--offline", str(tmp_path), "--disable-check", "typosquat"])
    text = " ".join(capsys.readouterr().out.split())  # the terminal wraps at its width
    assert "28 model/dataset references chosen at run time (not audited) in 7 file(s)" in text
    assert "worker_6.py (7)" in text and "and 2 more files" in text
    assert "computed at run time" not in text  # not one line per reference
    assert "INCOMPLETE" in text  # grouped, not hidden

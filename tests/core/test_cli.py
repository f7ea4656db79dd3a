"""End-to-end through ``main(argv)`` in-process: inputs, outputs, exit codes, error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.cli import main
from tests.support.fixtures import EVAL_INPUTS


def _json_run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main([*argv, "--format", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert "mlaudit" in capsys.readouterr().out
    assert main(["--help"]) == 0
    assert "exit codes" in capsys.readouterr().out


def test_unknown_option_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-such-flag"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_missing_file_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope.txt")]) == 2
    assert "nope.txt" in capsys.readouterr().err


def test_invalid_requirement_line_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("requests==2.25.1\nthis is not valid ===\n")
    assert main(["--offline", str(req)]) == 2
    err = capsys.readouterr().err
    assert "requirements.txt:2" in err and "Traceback" not in err


def test_binary_file_is_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blob = tmp_path / "requirements.txt"
    blob.write_bytes(b"\x00\xff\xfe\x00binary\x00")
    assert main(["--offline", str(blob)]) == 2
    assert "requirements.txt" in capsys.readouterr().err


def test_pinned_file_offline_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("Jinja2==2.10\nPyYAML==5.3.1\n")
    code, report = _json_run(capsys, ["--offline", str(req)])
    assert code == 1
    assert report["schema_version"] and report["tool"]["name"] == "mlaudit"
    names = {p["name"]: p for p in report["packages"]}
    assert names["jinja2"]["version"] == "2.10" and names["jinja2"]["direct"] is True
    ids = {i for f in report["findings"] for i in [f["id"], *f["aliases"]]}
    assert "CVE-2019-10906" in ids and "CVE-2020-14343" in ids
    jinja = next(f for f in report["findings"] if "CVE-2019-10906" in [f["id"], *f["aliases"]])
    assert jinja["location"] == {"file": str(req), "line": 1}
    assert jinja["paths"] and jinja["paths"][0][-1] == "jinja2 2.10"


def test_fail_on_threshold_changes_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("Jinja2==2.10\n")
    assert main(["--offline", str(req), "--fail-on", "critical", "-q"]) in (0, 1)
    capsys.readouterr()
    code, report = _json_run(capsys, ["--offline", str(req), "--fail-on", "critical"])
    severities = {f["severity"] for f in report["findings"] if not f.get("ignored")}
    assert code == (1 if "critical" in severities else 0)


@pytest.mark.parametrize("name", ["small", "medium", "large"])
def test_shared_eval_inputs_match_expected_exactly(name: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    resolved = EVAL_INPUTS / f"{name}.resolved.txt"
    expected = json.loads((EVAL_INPUTS / f"{name}.expected.json").read_text())
    code, report = _json_run(capsys, ["--offline", str(resolved)])
    assert code == 1
    got = {(f["package"]["name"], f["package"]["version"], f["id"])
           for f in report["findings"] if f["kind"] == "vulnerability"}
    want = {(f["package"], f["version"], f["id"]) for f in expected["findings"]}
    assert got == want
    assert len(report["packages"]) == expected["summary"]["resolved_packages"]
    direct = {p["name"] for p in report["packages"] if p["direct"]}
    assert direct == {p["name"] for p in expected["packages"] if p["direct"]}


def test_terminal_output_never_says_clean_when_incomplete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("six==1.16.0\ngit+https://127.0.0.1:9/x.git#egg=x\n")
    code = main(["--offline", str(req), "--disable-check", "typosquat"])
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert "INCOMPLETE" in out
    code = main(["--offline", str(req), "--require-complete", "-q"])
    assert code == 3


def test_subcommand_names_are_known_without_importing() -> None:
    """The CLI imports only the subcommand asked for; that relies on module names matching ``NAME``."""
    import importlib

    from auditor.cli import command_name
    from auditor.commands import COMMAND_MODULES

    for module_name in COMMAND_MODULES:
        assert importlib.import_module(module_name).NAME == command_name(module_name), module_name


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    from auditor.cli import command_name
    from auditor.commands import COMMAND_MODULES

    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for module_name in COMMAND_MODULES:
        assert f"  {command_name(module_name)} " in out

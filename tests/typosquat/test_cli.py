"""``mlaudit typosquat``: JSON contract, exit codes, bad names."""

from __future__ import annotations

import json

import pytest

from auditor.cli import main


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, object]]]:
    code = main(["typosquat", *argv, "--format", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_json_contract_one_object_per_name_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "Reqeusts", "requests", "my-unrelated-thing-xyz")
    assert code == 1  # a flagged name fails like a gate
    assert [d["name"] for d in doc] == ["Reqeusts", "requests", "my-unrelated-thing-xyz"]
    for d in doc:
        assert list(d) == ["name", "flagged", "target", "score", "reasons"]
        assert isinstance(d["flagged"], bool) and isinstance(d["reasons"], list)
    assert doc[0]["flagged"] is True and doc[0]["target"] == "requests"
    assert doc[1]["flagged"] is False and doc[1]["target"] is None


def test_clean_names_exit_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "numpy", "types-requests")
    assert code == 0 and not any(d["flagged"] for d in doc)


def test_hf_mode(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "--hf", "facebo0k", "Meta-Llama")
    assert code == 1
    assert doc[0]["target"] == "facebook" and doc[1]["flagged"] is False


def test_allow_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "reqeusts", "--allow", "reqeusts")
    assert code == 0 and doc[0]["flagged"] is False


@pytest.mark.parametrize("bad", ["", "x" * 300])
def test_unusable_names_are_usage_errors(capsys: pytest.CaptureFixture[str], bad: str) -> None:
    code = main(["typosquat", bad, "--format", "json"])
    captured = capsys.readouterr()
    assert code == 2
    assert "name #1" in captured.err and captured.out == ""


def test_non_ascii_name_is_a_clean_pass_or_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "\u65e5\u672c\u8a9e", "r\u0435quests")
    reasons = doc[0]["reasons"]
    assert isinstance(reasons, list)
    assert doc[0]["flagged"] is False and any("non-ASCII" in str(r) for r in reasons)
    assert doc[1]["flagged"] is True and code == 1


def test_terminal_table(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["typosquat", "reqeusts", "numpy"])
    out = capsys.readouterr().out
    assert code == 1 and "FLAGGED" in out and "requests" in out


def test_online_adds_the_index_facts(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.httpserver import LoopbackServer, Request, Response

    known = {"pyinstaller": {"info": {"summary": "PyInstaller bundles a Python application", "home_page": "https://example.invalid/"},
                          "releases": {"2.32.3": [{"upload_time_iso_8601": "2024-05-29T15:37:47Z"}]}}}

    def api(req: Request) -> Response:
        assert req.match is not None
        doc = known.get(req.match.group("name"))
        return Response.json(doc) if doc else Response(404, b"no")

    with LoopbackServer() as srv:
        srv.route("GET", r"/pypi/(?P<name>[^/]+)/json", api)
        offline_code, offline = run_json(capsys, "pyinstalers", "zqxjv-thing")
        code, doc = run_json(capsys, "pyinstalers", "zqxjv-thing", "--online", "--index-url", f"{srv.url}/simple/")
        asked = srv.requests_to("/pypi/")
    assert offline_code == 0 and offline[0]["flagged"] is False
    assert code == 1 and doc[0]["flagged"] is True and doc[0]["target"] == "pyinstaller"
    assert any("index does not have this name" in str(r) for r in doc[0]["reasons"])  # type: ignore[union-attr]
    assert doc[1]["flagged"] is False
    assert all("zqxjv" not in str(r) for r in asked)  # no look-alike, no question


def test_online_unreachable_index_is_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.httpserver import closed_port_url

    code = main(["typosquat", "reqeusts", "--online", "--index-url", closed_port_url() + "/simple/", "--timeout", "2",
                 "--format", "json"])
    captured = capsys.readouterr()
    assert code == 3 and captured.out == ""
    assert "package index JSON API" in captured.err


def test_online_with_hf_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["typosquat", "--hf", "facebo0k", "--online", "--format", "json"])
    assert code == 2 and "--online" in capsys.readouterr().err

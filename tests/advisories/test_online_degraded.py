"""Issue 23 (6): ``--online`` with the OSV API down adds nothing and takes nothing away.

Before: a failed API made both advisory checks fail, so the report held zero vulnerability and malicious findings
(exit 3 was right, the content was not) and an uploaded SARIF would have closed every existing code-scanning alert.
Now every local finding stays, in JSON and SARIF alike, and the report is incomplete naming the service.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from tests.advisories.test_end_to_end import JINJA2_2_10, _only_advisories, pins
from tests.support.httpserver import LoopbackServer, Response, closed_port_url

PINS = "Jinja2==2.10\ntucan-x==0.0.2\n"


def _run(capsys: pytest.CaptureFixture[str], argv: list[str], fmt: str) -> tuple[int, dict[str, Any], str]:
    capsys.readouterr()
    code = main([*argv, "--format", fmt, "-q"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def _sarif_results(sarif: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((r["ruleId"], r["message"]["text"]) for run in sarif["runs"] for r in run["results"])


@pytest.mark.parametrize("fault", ["500", "refused", "hang"])
def test_a_failed_osv_api_keeps_every_local_finding(fault: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    req = pins(tmp_path, PINS)
    base = [str(req), *_only_advisories()]
    code, offline, _err = _run(capsys, [*base, "--offline"], "json")
    _code, offline_sarif, _err = _run(capsys, [*base, "--offline"], "sarif")
    assert code == 1
    local = sorted((f["kind"], f["id"]) for f in offline["findings"])
    assert ("malicious", "MAL-2023-1421") in local and {i for k, i in local if k == "vulnerability"} == JINJA2_2_10

    with LoopbackServer() as srv:
        if fault == "500":
            srv.route("POST", "/v1/querybatch", lambda _r: Response(500, b"down"))
        elif fault == "hang":  # answers only after the client's timeout
            srv.route("POST", "/v1/querybatch", lambda _r: Response(200, b'{"results": []}', delay=1.5))
        url = closed_port_url() if fault == "refused" else srv.url
        monkeypatch.setenv("MLAUDIT_OSV_API", url)
        online = [*base, "--online", "--timeout", "0.5", "--retries", "0"]
        code, report, err = _run(capsys, online, "json")
        sarif_code, sarif, _err = _run(capsys, online, "sarif")

    assert code == 3 and sarif_code == 3
    host = url.split("//", 1)[1]
    assert "OSV API" in err and host in err
    # every local vulnerability and malicious finding is still there, with the same content
    assert sorted((f["kind"], f["id"]) for f in report["findings"]) == local
    assert report["complete"] is False
    (service,) = [r for r in report["incomplete_reasons"] if r["kind"] == "service"]
    assert service["subject"] == f"OSV API ({host})" and "local advisory database are reported" in service["reason"]
    assert "advisories (online)" not in report["data"]  # nothing claims an online answer
    assert not any("also asked the OSV API" in w for w in report["warnings"])
    # the SARIF loses no result, so uploading it cannot close an existing alert; the run says it did not complete
    assert _sarif_results(sarif) == _sarif_results(offline_sarif) and _sarif_results(sarif)
    invocation = sarif["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False

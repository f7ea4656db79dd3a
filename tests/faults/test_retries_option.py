"""``--retries`` bounds how often a failing service is asked; the run still ends in exit 3 naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.harness import run_cli
from tests.support.httpserver import LoopbackServer, Response


@pytest.mark.parametrize("retries", [0, 2])
def test_retries_option_bounds_attempts(retries: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        pinned_index: str) -> None:
    (tmp_path / "requirements.txt").write_text("fault-demo-pkg==1.0\n")
    with LoopbackServer() as osv:
        osv.route("POST", r"/v1/querybatch", lambda _r: Response(503, b"busy", {"Content-Type": "text/plain"}))
        monkeypatch.setenv("MLAUDIT_OSV_API", osv.url)
        outcome = run_cli([str(tmp_path / "requirements.txt"), "--online", "--index-url", pinned_index,
                           "--retries", str(retries), "--timeout", "2", "--format", "json", "-q"])
        attempts = len(osv.requests_to("/v1/querybatch"))
    assert outcome.code == 3 and "OSV API" in outcome.err
    assert attempts == retries + 1


@pytest.mark.parametrize("bad", [["--retries", "-1"], ["--retries", "11"], ["--timeout", "0"], ["--deadline", "x"]])
def test_bad_network_options_are_usage_errors(bad: list[str], tmp_path: Path) -> None:
    outcome = run_cli([str(tmp_path), *bad])
    assert outcome.code == 2 and bad[0] in outcome.err

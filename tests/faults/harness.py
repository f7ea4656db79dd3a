"""Serve a fault for one service and judge an audit's outcome against the fault-injection contract.

The contract (issue 8): against any misbehaving service the run ends either with exit 3 and a message naming the
service and the URL's host, or with a *documented degraded result* — a report that is ``complete: false`` and says
what was not checked (``skipped`` entries / incomplete reasons). Never exit 0 with a clean-looking report.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.cli import main
from tests.faults.faults import FAULTS
from tests.support.httpserver import LoopbackServer, closed_port_url
from tests.support.tls import self_signed

# Every fault in the catalogue, plus the two that are not a handler: an untrusted certificate and nobody listening.
ALL_FAULTS = [*FAULTS, "bad-tls", "refused"]

Healthy = Callable[[LoopbackServer], None]  # installs the routes of a working service on a server


@contextmanager
def serve_fault(fault: str, healthy: Healthy, tmp: Path) -> Iterator[str]:
    """Yield a base URL (``scheme://127.0.0.1:PORT``, no trailing slash) where the service shows ``fault``.

    ``redirect-other-host`` bounces every request to a *working* copy of the service on another host name
    (``localhost`` instead of ``127.0.0.1``), so the only reason to fail is the refusal to follow it; ``bad-tls``
    is a working copy behind a self-signed certificate no client trusts.
    """
    if fault == "refused":
        yield closed_port_url()
        return
    if fault == "bad-tls":
        tmp.mkdir(parents=True, exist_ok=True)
        with LoopbackServer(tls=self_signed(tmp)) as srv:
            healthy(srv)
            yield srv.url
        return
    if fault != "redirect-other-host":  # one server only: each stop() waits out serve_forever's poll interval
        with LoopbackServer() as srv:
            srv.route("*", r"/.*", FAULTS[fault](""))
            yield srv.url
        return
    with LoopbackServer() as other:
        healthy(other)
        other_url = other.url.replace("127.0.0.1", "localhost")
        with LoopbackServer() as srv:
            srv.route("*", r"/.*", FAULTS[fault](other_url))
            yield srv.url


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def report(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.out)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


def run_cli(argv: Sequence[str]) -> Outcome:
    """``mlaudit ARGV`` in this process, capturing both streams."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return Outcome(code, out.getvalue(), err.getvalue())


def assert_failed_loudly(outcome: Outcome, service: str | tuple[str, ...], host: str) -> None:
    """Exit 3, the service (any of the names given) and host named on stderr, no traceback, and no report that
    could pass for clean."""
    assert outcome.code == 3, f"expected exit 3, got {outcome.code}\nstdout: {outcome.out[:800]}\nstderr: {outcome.err}"
    names = (service,) if isinstance(service, str) else service
    assert any(n.lower() in outcome.err.lower() for n in names), f"none of {names} named: {outcome.err}"
    assert host in outcome.err, f"host {host} not named: {outcome.err}"
    assert "Traceback" not in outcome.err and "internal error" not in outcome.err, outcome.err
    report = outcome.report
    assert report is None or report.get("complete") is False, "a failed run printed a complete report"


def assert_not_silently_clean(outcome: Outcome, service: str | tuple[str, ...], host: str, *, subject: str) -> str:
    """Either a loud failure (exit 3 naming service + host) or a degraded report that names ``subject`` as not
    checked. Returns which of the two happened (``"failed"`` / ``"degraded"``), for the test's own assertions."""
    if outcome.code == 3:
        assert_failed_loudly(outcome, service, host)
        return "failed"
    report = outcome.report
    assert report is not None, f"exit {outcome.code} without a JSON report: {outcome.err[-800:]}"
    assert outcome.code in (0, 1), outcome.err
    assert report["complete"] is False, f"exit {outcome.code} with a complete report despite a faulty {service}"
    said = json.dumps([report.get("skipped"), report.get("incomplete_reasons"), report.get("warnings")])
    assert subject in said, f"the degraded report does not say that {subject} was not checked: {said[:800]}"
    return "degraded"

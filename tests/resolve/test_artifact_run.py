"""uv's artifact run (files and digests of the pins) is started before the resolver builds its packages (issue 25).

Real uv, the loopback index: every pin must still get exactly its index files and digests, and a failing or hanging
artifact run must end as before -- an index failure of that profile (an incomplete report naming the index), or a
warning and no files -- bounded by the timeout, never a traceback or a hang.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from auditor.errors import NetworkError, ResolutionError
from auditor.net import host_of
from auditor.resolve import resolve
from auditor.resolve.hostwatch import Running
from tests.faults.harness import run_cli
from tests.resolve.conftest import Context
from tests.support.httpserver import Request, Response
from tests.support.index import LocalIndex, normalise


class SecondRoundFails(LocalIndex):
    """An index whose project pages answer once each, then ``fault`` (a status, or a delay in seconds): the
    resolving run gets what it needs, a later run asking again (the artifact run without uv's cache) does not."""

    def __init__(self, *, status: int | None = None, delay: float = 0.0) -> None:
        super().__init__()
        self.seen: dict[str, int] = {}
        self._fault_status, self._fault_delay = status, delay
        self._lock = threading.Lock()

    def _project_page(self, req: Request) -> Response:
        assert req.match is not None
        name = normalise(req.match.group("name"))
        with self._lock:
            self.seen[name] = self.seen.get(name, 0) + 1
            again = self.seen[name] > 1
        if again and self._fault_status is not None:
            return Response(self._fault_status, b"injected failure", {"Content-Type": "text/plain"})
        page = super()._project_page(req)
        if again:
            page.delay = self._fault_delay
        return page


def _content(index: LocalIndex) -> None:
    index.add_wheel("alpha", "1.0", ["beta>=2"])
    index.add_wheel("beta", "2.0")
    index.add_wheel("beta", "2.1")
    index.add_wheel("gamma", "1.0")
    index.add_sdist("gamma", "2.0")  # newer, sdist only: the sdist-only look-up (an index request) has work


def test_every_pin_gets_its_index_files_and_digests(audit_context: Context) -> None:
    index = LocalIndex()
    _content(index)
    with index.serve() as url:
        src, options, ctx = audit_context(url, ["alpha", "gamma>=1"])
        res = resolve(src, options, ctx)
    served = {f.filename: f.sha256 for f in index.files}
    resolved = {p.name: p for p in res.packages if p.source == "resolver"}
    assert {n: p.version for n, p in resolved.items()} == {"alpha": "1.0", "beta": "2.1", "gamma": "1.0"}
    for p in resolved.values():  # each pin has its index file and digest, put there once the artifact run ended
        assert [a.filename for a in p.artifacts] == [f"{p.name}-{p.version}-py3-none-any.whl"]
        assert p.hashes == [f"sha256:{served[p.artifacts[0].filename]}"]
    fallback = [p for p in res.packages if p.name == "gamma" and p.version == "2.0"]
    assert fallback and not fallback[0].resolved  # the sdist-only look-up, after the artifact run, still finds it


@pytest.mark.parametrize("status", [500, 404])
def test_failing_artifact_run_fails_as_before(status: int, audit_context: Context,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """500: an index failure (the profile is not resolved); 404: uv finds no file for the pin (a warning first among
    the resolution's, before the sdist-only look-up's, and no files)."""
    monkeypatch.setenv("UV_NO_CACHE", "1")  # the artifact run asks the index again instead of uv's cache
    index = SecondRoundFails(status=status)
    _content(index)
    with index.serve() as url:
        src, options, ctx = audit_context(url, ["alpha==1.0", "gamma>=1"])
        if status == 500:
            with pytest.raises(NetworkError) as info:
                resolve(src, options, ctx)
        else:
            res = resolve(src, options, ctx)
    assert index.seen["alpha"] >= 2, "the artifact run did not ask the index"
    if status == 500:
        assert str(info.value).startswith(f"package index ({host_of(url)})"), str(info.value)
        assert "500" in str(info.value)
        return
    assert res.warnings[0].startswith("artifact list unavailable (uv pylock run failed:"), res.warnings
    assert {p.name: (p.artifacts, p.hashes) for p in res.packages if p.source == "resolver"} == \
        {"alpha": ([], []), "beta": ([], []), "gamma": ([], [])}


def test_failing_artifact_run_is_an_incomplete_report_not_a_traceback(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("UV_NO_CACHE", "1")
    project = tmp_path / "project"
    project.mkdir()
    (project / "requirements.txt").write_text("alpha==1.0\n")
    index = SecondRoundFails(status=500)
    _content(index)
    with index.serve() as url:
        outcome = run_cli([str(project), "--index-url", url, "--format", "json", "--python-version", "3.11", "-q"])
    assert index.seen.get("alpha", 0) >= 2, outcome.err
    assert outcome.code == 3, outcome.err
    assert "Traceback" not in outcome.err and "internal error" not in outcome.err, outcome.err
    assert "package index" in outcome.err and "127.0.0.1" in outcome.err, outcome.err
    report = json.loads(outcome.out)
    assert report["complete"] is False and report["packages"] == []
    gaps = json.dumps(report["incomplete_reasons"])
    assert "was not resolved" in gaps and "127.0.0.1" in gaps and "500" in gaps, gaps


def test_hanging_artifact_run_is_bounded(audit_context: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_NO_CACHE", "1")
    index = SecondRoundFails(delay=8.0)
    _content(index)
    with index.serve() as url:
        src, options, ctx = audit_context(url, ["alpha==1.0"])
        options.net.timeout = 1.0  # uv's own HTTP timeout: the second round gives up after it
        started = time.monotonic()
        with pytest.raises((NetworkError, ResolutionError)) as info:
            resolve(src, options, ctx)
        elapsed = time.monotonic() - started
    assert elapsed < 8.0, f"the artifact run was waited for {elapsed:.1f}s"
    assert "127.0.0.1" in str(info.value)


def test_running_child_is_stopped_at_its_deadline() -> None:
    child = Running([sys.executable, "-c", "import time; time.sleep(30)"], env={})
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        child.wait(started + 0.5)
    assert time.monotonic() - started < 5.0
    assert child.wait(time.monotonic() + 5.0)[0] is not None  # reaped: waiting again answers at once

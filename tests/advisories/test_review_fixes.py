"""Issue 15 §5, the two review findings in this area, tested through the CLI:

- a private index with credentials in its URL gets them on *every* request: resolution (uv), typosquat ``--online``
  metadata, dependency-confusion index lookups and provenance pages; the report shows the URL redacted;
- a broken install whose policy module cannot be imported stops the run with a message (exit 3), never audits
  with a silently empty policy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.cli import main
from tests.support.httpserver import LoopbackServer, Request, Response
from tests.support.index import LocalIndex

USER, TOKEN = "ci-user", "s3cr3t-token-5150"
ROOT = Path(__file__).resolve().parents[2]


def _metadata_doc(req: Request) -> Response:
    """The JSON API document the typosquat metadata signals read (``/pypi/<name>/json``)."""
    assert req.match is not None
    return Response.json({"info": {"summary": "a private package", "home_page": "", "project_urls": None,
                                   "author": "acme"},
                          "releases": {"1.0": [{"upload_time_iso_8601": "2026-01-05T00:00:00+00:00"}]}})


@pytest.fixture
def indexes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LocalIndex, str, LocalIndex, str]]:
    private = LocalIndex()
    private.require_credentials(USER, TOKEN)
    private.add_wheel("reqeusts", "1.0")  # a typosquat candidate: its metadata is fetched with --online
    private.add_wheel("acme-auth", "1.3.0")
    public = LocalIndex()
    public.add_wheel("acme-auth", "99.0.0")  # the same internal name on a second index: confusion lookups
    osv = LoopbackServer()
    osv.route("POST", "/v1/querybatch", lambda req: Response.json({"results": [{} for _ in req.json()["queries"]]}))
    with private.serve() as private_url, public.serve() as public_url, osv:
        assert private.server is not None
        private.server.route("GET", r"/pypi/(?P<name>[^/]+)/json", private.guarded(_metadata_doc))
        monkeypatch.setenv("MLAUDIT_OSV_API", osv.url)
        monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))  # every run asks the index afresh
        secret_url = private_url.replace("http://", f"http://{USER}:{TOKEN}@", 1)
        yield private, secret_url, public, public_url


def _audit(tmp_path: Path, secret_url: str, public_url: str, only: str | None,
           capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object], str]:
    from auditor.checks import load_checks

    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "requirements.txt").write_text("reqeusts>=1.0\nacme-auth>=1.0\n")
    (project / "mlaudit.toml").write_text('internal-prefixes = ["acme-"]\n')
    disabled = [arg for c in load_checks() if c.name != only for arg in ("--disable-check", c.name)]
    capsys.readouterr()
    code = main([str(project / "requirements.txt"), "--online", "--index-url", secret_url, "--extra-index-url",
                 public_url, "--python-version", "3.11", "--timeout", "5", "--retries", "0", "-f", "json", "-q",
                 *disabled])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.out + captured.err


@pytest.mark.parametrize("only", [None, "typosquat", "dependency-confusion", "provenance", "hashes"])
def test_private_index_credentials_reach_every_lookup(only: str | None, indexes: tuple[LocalIndex, str, LocalIndex,
                                                                                         str],
                                                      tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each run enables one check (None: resolution alone). The private index refuses any request without the
    credentials (401, kept in ``refused``); the check's own lookups must reach it, credentials included."""
    private, secret_url, public, public_url = indexes
    assert private.server is not None
    code, report, text = _audit(tmp_path, secret_url, public_url, only, capsys)
    assert private.refused == [], [(r.method, r.path) for r in private.refused]
    log = private.server.log
    assert log and all(private.authorised(r) for r in log)
    paths = [r.path for r in log]
    # resolution: uv read the project pages (and core metadata) of both packages from the private index
    assert "/simple/reqeusts/" in paths and "/simple/acme-auth/" in paths, paths
    assert report, text  # the audit completed (a refused lookup would be exit 3 or a gap)
    assert code in (0, 1), text
    if only == "typosquat":
        assert "/pypi/reqeusts/json" in paths  # --online metadata of the candidate, from the private index
        assert any(f["kind"] == "typosquat" for f in report["findings"])  # type: ignore[union-attr,index]
    if only == "dependency-confusion":
        (finding,) = [f for f in report["findings"] if f["kind"] == "dependency-confusion"]  # type: ignore
        assert "acme-auth" in finding["message"]
        assert public.server is not None and public.server.requests_to("/simple/acme-auth")  # both were asked
    if only in ("provenance", "hashes"):
        # the project pages were read again after resolution, by our own HTTP client (JSON, PEP 691)
        json_pages = [r for r in log if r.path.startswith("/simple/") and
                      "application/vnd.pypi.simple.v1+json" in r.headers.get("Accept", "")]
        assert {r.path for r in json_pages} >= {"/simple/reqeusts/", "/simple/acme-auth/"}
    assert report["complete"] is True, report.get("incomplete_reasons")  # type: ignore[union-attr]
    # the token is used, never shown
    assert TOKEN not in text


def _run_cli_with_broken(module: str, tmp_path: Path, *args: str, code: str | None = None
                         ) -> subprocess.CompletedProcess[str]:
    """Run ``mlaudit`` (or ``code``) in a fresh interpreter where importing ``module`` fails (a broken install)."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Broken:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name == {module!r}:\n"
        "            raise ImportError(f'simulated broken install: cannot import {name}')\n"
        "        return None\n"
        "sys.meta_path.insert(0, _Broken())\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    argv = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "auditor", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env, check=False)


OPTIONS_FROM_ARGS = """
import argparse, sys
from auditor.commands.common import add_input_args, add_output_args, options_from_args
parser = argparse.ArgumentParser()
add_input_args(parser)
add_output_args(parser)
try:
    options = options_from_args(parser.parse_args(sys.argv[1:]))
except ImportError as exc:
    print("ImportError:", exc)
    sys.exit(0)
print("no error; policy:", options.policy)
sys.exit(1)
"""


def test_broken_policy_module_is_an_error_not_a_silent_default(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    req = project / "requirements.txt"
    req.write_text("PyYAML==5.3.1 --hash=sha256:" + "1" * 64 + "\n")
    # the policy ignores the one finding: if the policy were silently dropped, the gate would fail with exit 1
    (project / "mlaudit.toml").write_text('[[ignore]]\nid = "CVE-2020-14343"\nreason = "accepted for the test"\n')
    healthy = _run_cli_with_broken("auditor.no_such_module", tmp_path, str(req), "--offline", "-q", "-f", "json")
    assert healthy.returncode == 0, healthy.stderr  # the trick itself leaves a working install working
    assert json.loads(healthy.stdout)["summary"]["ignored"] == 1
    broken = _run_cli_with_broken("auditor.config", tmp_path, str(req), "--offline", "-q", "-f", "json")
    assert broken.returncode == 3, (broken.returncode, broken.stderr)
    assert broken.stdout == ""  # no report that could read as a verdict
    assert "auditor.config" in broken.stderr and "Traceback" not in broken.stderr


def test_policy_loading_does_not_swallow_the_import_error(tmp_path: Path) -> None:
    """The unit the review named: reading the options must not turn a failed import of the policy module into
    "no policy" (the CLI edge maps the error to exit 3, tested above)."""
    req = tmp_path / "requirements.txt"
    req.write_text("six==1.16.0\n")
    (tmp_path / "mlaudit.toml").write_text('fail-on = "critical"\n')
    ran = _run_cli_with_broken("auditor.config", tmp_path, str(req), "--offline", code=OPTIONS_FROM_ARGS)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "simulated broken install: cannot import auditor.config" in ran.stdout

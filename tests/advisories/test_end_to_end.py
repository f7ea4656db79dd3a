"""The whole audit through ``auditor.cli.main``: pinned requirements in, exact advisory ids out; malicious names
first; the data's age in every output; ``--online`` failures are exit 3 naming the host, never a clean report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from auditor.advisories.db import ensure_embedded_db
from auditor.cli import main
from tests.support.httpserver import LoopbackServer, Request, Response, closed_port_url


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main([*argv, "--format", "json", "-q"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def pins(tmp_path: Path, text: str) -> Path:
    """A lock of these pins (CONVENTIONS "Inputs": ``# via`` annotations make it one, so no resolver runs); the
    annotation sits on each pin's own line, so line numbers are those of ``text``."""
    req = tmp_path / "requirements.txt"
    req.write_text("".join(f"{line}  # via -r requirements.in\n" if line.strip() and not line.lstrip().startswith(
        ("#", "-")) and "#" not in line else f"{line}\n" for line in text.splitlines()))
    return req


def by_kind(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["kind"] == kind]


def test_known_vulnerable_pins_exact_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Expected ids read off the PyPA records by hand: jinja2 2.10 is inside ``0..2.10.1`` (PYSEC-2019-217) and
    ``0..2.11.3`` (PYSEC-2021-66) but past 2.7.2/2.7.3/2.8.1; pyyaml 5.3.1 is inside ``0..5.4`` only (its
    ``5.1..5.3.1`` advisory is fixed exactly at 5.3.1)."""
    req = pins(tmp_path, "Jinja2==2.10\nPyYAML==5.3.1\nsix==1.16.0\n")
    code, report = run_json(capsys, ["--offline", str(req), "--disable-check", "typosquat"])
    assert code == 1
    got = {(f["package"]["name"], f["package"]["version"], f["id"]) for f in by_kind(report, "vulnerability")}
    assert got == {("jinja2", "2.10", "PYSEC-2019-217"), ("jinja2", "2.10", "PYSEC-2021-66"),
                   ("pyyaml", "5.3.1", "PYSEC-2021-142")}
    found = {f["id"]: f for f in by_kind(report, "vulnerability")}
    assert set(found["PYSEC-2019-217"]["aliases"]) == {"CVE-2019-10906", "GHSA-462w-v97r-4m45"}
    assert "CVE-2020-14343" in found["PYSEC-2021-142"]["aliases"]
    # the smallest upgrade that clears *every* advisory of the package, not just this one
    assert found["PYSEC-2019-217"]["fix"] == "upgrade to 2.11.3" == found["PYSEC-2021-66"]["fix"]
    assert found["PYSEC-2019-217"]["fixed_versions"] == ["2.10.1"]
    assert found["PYSEC-2021-142"]["fix"] == "upgrade to 5.4"
    assert found["PYSEC-2019-217"]["location"] == {"file": str(req), "line": 1}
    assert not by_kind(report, "malicious")


@pytest.mark.parametrize("name", ["small", "medium", "large"])
def test_shared_eval_exact_offline(name: str, shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = shared_dir / "eval" / "inputs"
    expected = json.loads((inputs / f"{name}.expected.json").read_text())
    code, report = run_json(capsys, ["--offline", str(inputs / f"{name}.resolved.txt")])
    assert code == 1
    vulns = by_kind(report, "vulnerability")
    got = {(f["package"]["name"], f["package"]["version"], f["id"]): f for f in vulns}
    assert len(got) == len(vulns)  # one finding per advisory: aliases merged, nothing twice
    want = {(f["package"], f["version"], f["id"]): f for f in expected["findings"]}
    assert set(got) == set(want)
    for key, truth in want.items():
        mine = got[key]
        assert set(truth["aliases"]) <= set(mine["aliases"])
        assert mine.get("fixed_versions", []) == sorted(truth["fixed_versions"], key=_pep440)
        assert set(mine["evidence"]["matched_by"]) == set(truth["matched_by"])
        assert mine["fix"] and mine["severity"] in ("critical", "high", "medium", "low")
    withdrawn = {(w["package"], w["version"], w["id"]) for w in expected["withdrawn_advisories_that_would_match"]}
    assert not withdrawn & set(got)
    assert not by_kind(report, "malicious")
    advisories = report["data"]["advisories"]
    assert (advisories["date"], advisories["records"], advisories["stale"]) == ("2024-10-10", 2661, True)
    assert report["data"]["malicious packages"]["records"] == 6509


def _pep440(text: str) -> Any:
    from packaging.version import Version

    return Version(text)


def test_malicious_name_is_first_and_critical(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    req = pins(tmp_path, "Jinja2==2.10\ntucan-x==0.0.2\nroblopython==9.9.9\n")
    code, report = run_json(capsys, ["--offline", str(req), "--disable-check", "typosquat"])
    assert code == 1
    kinds = [f["kind"] for f in report["findings"]]
    assert kinds[:2] == ["malicious", "malicious"] and "vulnerability" in kinds[2:]
    mal = {f["package"]["name"]: f for f in by_kind(report, "malicious")}
    assert mal["tucan-x"]["id"] == "MAL-2023-1421" and mal["roblopython"]["id"] == "MAL-2023-1404"
    assert all(f["severity"] == "critical" for f in mal.values())
    assert mal["tucan-x"]["evidence"]["version_listed"] is True
    assert mal["roblopython"]["evidence"]["version_listed"] is False  # 9.9.9 is not listed: still reported
    assert "not itself listed" in mal["roblopython"]["message"]
    assert mal["tucan-x"]["location"] == {"file": str(req), "line": 2}


def test_ignore_by_any_alias(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A policy ignore written with the CVE (or GHSA) id matches the merged finding named by its PYSEC id."""
    req = pins(tmp_path, "Jinja2==2.10\n")
    (tmp_path / "mlaudit.toml").write_text(
        '[[ignore]]\nid = "CVE-2019-10906"\nreason = "sandbox not used"\n'
        '[[ignore]]\nid = "GHSA-g3rq-g295-4j3m"\nreason = "no untrusted templates"\npackage = "jinja2"\n')
    code, report = run_json(capsys, ["--offline", str(req), "--disable-check", "typosquat"])
    ignored = {f["id"]: f.get("ignored") for f in by_kind(report, "vulnerability")}
    assert ignored == {"PYSEC-2019-217": "sandbox not used", "PYSEC-2021-66": "no untrusted templates"}
    assert code == 0


def test_stale_data_visible_in_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    req = pins(tmp_path, "six==1.16.0\n")
    code, report = run_json(capsys, ["--offline", str(req)])
    assert code == 0 and report["data"]["advisories"]["stale"] is True
    assert any("2024-10-10" in w and "mlaudit db update" in w for w in report["warnings"])
    capsys.readouterr()
    assert main(["--offline", str(req), "-q"]) == 0
    terminal = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "2024-10-10" in terminal and "stale" in terminal and "mlaudit db update" in terminal
    html = tmp_path / "report.html"
    assert main(["--offline", str(req), "-q", "--format", "html", "-o", str(html)]) == 0
    page = " ".join(html.read_text().split())
    assert "2024-10-10" in page and "stale" in page and "mlaudit db update" in page


@pytest.fixture
def private_cache(tmp_path: Path, session_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    (cache / "advisories").mkdir(parents=True)
    embedded = ensure_embedded_db()
    shutil.copy(embedded, cache / "advisories" / embedded.name)
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(cache))
    return cache


def test_updated_db_is_named_in_the_report(tmp_path: Path, private_cache: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    import datetime as dt
    import io
    import zipfile

    today = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    record = {"id": "GHSA-ffff-ffff-ffff", "modified": today, "aliases": ["CVE-2099-1"],
              "summary": "fresh problem", "database_specific": {"severity": "LOW"},
              "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"}],
              "affected": [{"package": {"name": "six", "ecosystem": "PyPI"},
                            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.17.0"}]}]}]}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("GHSA-ffff-ffff-ffff.json", json.dumps(record))
    with LoopbackServer() as srv:
        srv.static("/PyPI/all.zip", buf.getvalue(), "application/zip")
        assert main(["db", "update", "--url", f"{srv.url}/PyPI/all.zip"]) == 0
    code, report = run_json(capsys, ["--offline", str(pins(tmp_path, "six==1.16.0\n")), "--disable-check",
                                     "typosquat"])
    assert code == 1
    (finding,) = by_kind(report, "vulnerability")
    # the CVSS v3 vector (base 9.1) decides, not the record's "LOW" word
    assert finding["id"] == "GHSA-ffff-ffff-ffff" and finding["severity"] == "critical"
    assert finding["evidence"]["cvss"] == {"vector": record["severity"][0]["score"], "score": 9.1}
    assert finding["fix"] == "upgrade to 1.17.0"
    source = report["data"]["advisories"]
    assert source["source"].endswith("/PyPI/all.zip") and source["date"] == today[:10] and source["stale"] is False
    assert not [w for w in report["warnings"] if "mlaudit db update" in w]


def _only_advisories() -> list[str]:
    """``--disable-check`` for every other registered check: their own online lookups (index metadata,
    provenance) are tested in their areas and would otherwise need a package index here."""
    from auditor.checks import load_checks

    keep = {"advisories", "malicious"}
    return [arg for check in load_checks() if check.name not in keep for arg in ("--disable-check", check.name)]


class FakeOsv:
    def __init__(self, srv: LoopbackServer) -> None:
        self.srv = srv
        srv.route("POST", "/v1/querybatch", self.querybatch)
        srv.route("GET", r"/v1/vulns/(?P<id>[^/]+)", self.vuln)
        self.batch: list[Response] = []
        self.records: dict[str, dict[str, Any]] = {}

    def querybatch(self, req: Request) -> Response:
        if self.batch:
            return self.batch.pop(0)
        results = []
        for q in req.json()["queries"]:
            ids = [rid for rid, r in self.records.items()
                   if r["affected"][0]["package"]["name"] == q["package"]["name"]]
            results.append({"vulns": [{"id": i} for i in ids]} if ids else {})
        return Response.json({"results": results})

    def vuln(self, req: Request) -> Response:
        assert req.match is not None
        return Response.json(self.records[req.match["id"]])


def test_online_merges_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with LoopbackServer() as srv:
        fake = FakeOsv(srv)
        fake.records["GHSA-462w-v97r-4m45"] = {
            "id": "GHSA-462w-v97r-4m45", "aliases": ["CVE-2019-10906"], "summary": "sandbox escape",
            "database_specific": {"severity": "HIGH"},
            "affected": [{"package": {"name": "jinja2", "ecosystem": "PyPI"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.10.1"}]}]}]}
        fake.records["GHSA-tqdm-tqdm-tqdm"] = {
            "id": "GHSA-tqdm-tqdm-tqdm", "summary": "only online",
            "affected": [{"package": {"name": "tqdm", "ecosystem": "PyPI"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "4.66.3"}]}]}]}
        api = srv.url
        monkeypatch.setenv("MLAUDIT_OSV_API", api)
        req = pins(tmp_path, "Jinja2==2.10\ntqdm==4.66.1\n")
        code, report = run_json(capsys, [str(req), "--online", *_only_advisories()])
    assert code == 1
    ids = {f["id"]: f for f in by_kind(report, "vulnerability")}
    assert set(ids) == {"PYSEC-2019-217", "PYSEC-2021-66", "GHSA-tqdm-tqdm-tqdm"}  # the GHSA twin merged
    assert "GHSA-462w-v97r-4m45" in ids["PYSEC-2019-217"]["aliases"]
    assert ids["PYSEC-2019-217"]["severity"] == "high"
    online = report["data"]["advisories (online)"]
    assert online["source"] == f"OSV API {api}" and online["records"] == 2 and online["stale"] is False
    assert online["date"] == report["generated_at"][:10]


@pytest.mark.parametrize("fault", ["truncated", *[pytest.param(f, marks=pytest.mark.slow)  # real retry backoff
                                                    for f in ("500", "429", "timeout", "refused", "vuln-500")]])
def test_online_failure_is_exit_3_naming_the_host(fault: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    req = pins(tmp_path, "Jinja2==2.10\n")
    argv = [str(req), "--online", "--timeout", "0.5", *_only_advisories(), "--format", "json"]
    with LoopbackServer() as srv:
        fake = FakeOsv(srv)
        fake.records["GHSA-x"] = {"id": "GHSA-x", "affected": [{"package": {"name": "jinja2", "ecosystem": "PyPI"}}]}
        if fault == "500":
            fake.batch = [Response(500, b"down")] * 10
        elif fault == "429":
            fake.batch = [Response(429, b"slow down", {"Retry-After": "0"})] * 10
        elif fault == "truncated":
            fake.batch = [Response(200, b'{"results": [{"vulns": [{"id": "GH', {"Content-Type": "application/json"})]
        elif fault == "timeout":
            fake.batch = [Response(200, b"{}", delay=1.5)] * 10
        elif fault == "vuln-500":
            srv.route("GET", r"/v1/vulns/.*", lambda _r: Response(500, b"down"))
        url = closed_port_url() if fault == "refused" else srv.url
        monkeypatch.setenv("MLAUDIT_OSV_API", url)
        capsys.readouterr()
        code = main(argv)
        captured = capsys.readouterr()
    assert code == 3
    host = url.split("//", 1)[1]
    assert "OSV API" in captured.err and host in captured.err
    report = json.loads(captured.out)  # the report is still written, and cannot read as "no vulnerabilities"
    assert report["complete"] is False
    assert any(r["kind"] == "service" and "OSV API" in r["subject"] for r in report["incomplete_reasons"])

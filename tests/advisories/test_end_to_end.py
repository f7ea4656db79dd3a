"""The whole audit through ``auditor.cli.main``: pinned requirements in, exact advisory ids out; malicious names
first; the data's age in every output; ``--online`` failures are exit 3 naming the host, never a clean report."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from auditor.advisories.db import ensure_embedded_db
from auditor.cli import main
from tests.support.fixtures import EVAL_INPUTS
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


JINJA2_2_10 = {"PYSEC-2019-217", "PYSEC-2021-66", "PYSEC-2026-1471", "PYSEC-2026-1473", "PYSEC-2026-1474",
               "PYSEC-2026-1475"}


def test_known_vulnerable_pins_exact_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Expected ids read off the PyPA records (2026-07-23 snapshot) by hand. jinja2 2.10 lies in ``0..2.10.1``
    (PYSEC-2019-217), ``0..2.11.3`` (PYSEC-2021-66), ``0..3.1.6`` (-1471), ``0..3.1.3`` (-1473), ``0..3.1.4`` (-1474)
    and ``0..3.1.5`` (-1475), but not in ``3.0.0..3.1.5`` (-1472), and past 2.7.2/2.7.3/2.8.1; PYSEC-2025-74 is
    withdrawn. pyyaml 5.3.1 is inside ``0..5.4`` only (its ``5.1..5.3.1`` advisory is fixed exactly at 5.3.1).

    Severities, scored by hand from the records' vectors: -1473 ``CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N`` =
    5.4 (medium); -1475 has ``CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H`` = 7.8 and a v4 vector scoring 5.4: the
    higher counts (high); PYSEC-2019-217 and PYSEC-2021-142 carry no severity at all: unknown."""
    req = pins(tmp_path, "Jinja2==2.10\nPyYAML==5.3.1\nsix==1.16.0\n")
    code, report = run_json(capsys, ["--offline", str(req), "--disable-check", "typosquat"])
    assert code == 1
    got = {(f["package"]["name"], f["package"]["version"], f["id"]) for f in by_kind(report, "vulnerability")}
    assert got == {("jinja2", "2.10", i) for i in JINJA2_2_10} | {("pyyaml", "5.3.1", "PYSEC-2021-142")}
    found = {f["id"]: f for f in by_kind(report, "vulnerability")}
    assert set(found["PYSEC-2019-217"]["aliases"]) == {"CVE-2019-10906", "GHSA-462w-v97r-4m45"}
    assert "CVE-2020-14343" in found["PYSEC-2021-142"]["aliases"]
    # the smallest upgrade that clears *every* advisory of the package, not just this one
    assert {found[i]["fix"] for i in JINJA2_2_10} == {"upgrade to 3.1.6"}
    assert found["PYSEC-2019-217"]["fixed_versions"] == ["2.10.1"]
    assert found["PYSEC-2021-142"]["fix"] == "upgrade to 5.4"
    assert found["PYSEC-2019-217"]["location"] == {"file": str(req), "line": 1}
    assert not by_kind(report, "malicious")

    medium = found["PYSEC-2026-1473"]
    assert medium["severity"] == "medium"
    assert medium["evidence"]["cvss"] == {"vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N", "score": 5.4}
    high = found["PYSEC-2026-1475"]
    assert high["severity"] == "high" and high["evidence"]["cvss"]["score"] == 7.8
    assert high["evidence"]["severity"]["other_vectors"] == [
        {"vector": "CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "score": 5.4}]
    assert "7.8" in high["evidence"]["severity_source"] and "PYSEC-2026-1475" in high["evidence"]["severity_source"]
    for unknown in ("PYSEC-2019-217", "PYSEC-2021-142"):
        assert found[unknown]["severity"] == "unknown"
        assert found[unknown]["evidence"]["severity_source"] == "no severity in any record"
        assert "cvss" not in found[unknown]["evidence"]
    assert report["summary"]["unknown_severity_gates_as"] == "high"
    # the advisory's full text and every reference travel with the finding
    assert found["PYSEC-2021-142"]["details"].startswith("A vulnerability was discovered in the PyYAML library")
    assert len(found["PYSEC-2019-217"]["references"]) == 20


@pytest.mark.parametrize("name", ["small", "medium", "large"])
def test_shared_eval_exact_offline(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = EVAL_INPUTS
    expected = json.loads((inputs / f"{name}.expected.json").read_text())
    code, report = run_json(capsys, ["--offline", str(inputs / f"{name}.resolved.txt")])
    assert code == 1
    records = shipped_levels()
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
        assert mine["fix"] and mine["severity"] == records[key[2]].level, key
    withdrawn = {(w["package"], w["version"], w["id"]) for w in expected["withdrawn_advisories_that_would_match"]}
    assert not withdrawn & set(got)
    assert not by_kind(report, "malicious")
    advisories = report["data"]["advisories"]
    # 7,080 records, 38 of which alias a MAL- id and count as malicious-package records instead
    assert (advisories["date"], advisories["records"], advisories["stale"]) == ("2026-07-23", 7042, True)
    assert report["data"]["malicious packages"]["records"] == 9207 + 38  # issue 29: records up to 2025-06-04


@dataclass(frozen=True)
class Level:
    level: str


def shipped_levels() -> dict[str, Level]:
    """The severity each shipped record implies, computed here from the raw data file, separately from the
    auditor's code: the highest base score of its CVSS v3/v4 vectors (``cvss`` library), else ``unknown``
    (this snapshot has no severity words)."""
    import gzip

    from cvss import CVSS3, CVSS4

    from auditor.resources import data_file

    bands = ((9.0, "critical"), (7.0, "high"), (4.0, "medium"), (0.1, "low"))
    out: dict[str, Level] = {}
    with gzip.open(data_file("advisories", "pypa-osv.jsonl.gz"), "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            scores = [float((CVSS4 if s["score"].startswith("CVSS:4") else CVSS3)(s["score"]).base_score)
                      for s in record.get("severity", []) if s["type"] in ("CVSS_V3", "CVSS_V4")]
            assert "severity" not in (record.get("database_specific") or {})
            level = "unknown" if not scores else next((name for floor, name in bands if max(scores) >= floor), "info")
            out[record["id"]] = Level(level)
    return out


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
    assert ignored == {**dict.fromkeys(JINJA2_2_10), "PYSEC-2019-217": "sandbox not used",
                       "PYSEC-2021-66": "no untrusted templates"}
    assert code == 1  # the other four jinja2 advisories still fail the gate
    (tmp_path / "mlaudit.toml").write_text(
        "".join(f'[[ignore]]\nid = "{i}"\nreason = "reviewed"\n' for i in sorted(JINJA2_2_10)))
    code, report = run_json(capsys, ["--offline", str(req), "--disable-check", "typosquat"])
    assert code == 0 and all(f.get("ignored") for f in by_kind(report, "vulnerability"))


def test_stale_data_visible_in_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    req = pins(tmp_path, "six==1.16.0\n")
    code, report = run_json(capsys, ["--offline", str(req)])
    import datetime as dt

    today = dt.datetime.now(dt.timezone.utc).date()
    days = (today - dt.date(2026, 7, 23)).days
    mal_days = (today - dt.date(2025, 6, 4)).days
    assert code == 0 and report["data"]["advisories"]["stale"] is True
    assert report["data"]["advisories"]["date"] == "2026-07-23"
    assert report["data"]["malicious packages"]["date"] == "2025-06-04"
    (warning,) = [w for w in report["warnings"] if "mlaudit db update" in w]  # once per run
    # issue 29: each source's date, both ways to refresh (what to download), the policy key
    assert f"advisories 2026-07-23 ({days} days)" in warning
    assert f"malicious packages 2025-06-04 ({mal_days} days)" in warning
    assert "popular names 2026-04-01" in warning
    assert "downloads https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip" in warning
    assert "`mlaudit db update --from all.zip`" in warning and "stale-after-days" in warning
    capsys.readouterr()
    assert main(["--offline", str(req), "-q"]) == 0
    terminal = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "2026-07-23" in terminal and "stale" in terminal and "mlaudit db update" in terminal
    assert f"{days} days" in terminal and "--from all.zip" in terminal and "stale-after-days" in terminal
    assert terminal.count("Local data is old") == 1
    for fmt in ("html", "markdown", "sarif", "cyclonedx-json"):
        out = tmp_path / f"report.{fmt}"
        assert main(["--offline", str(req), "-q", "--format", fmt, "-o", str(out)]) == 0
        assert "2026-07-23" in out.read_text(), fmt  # every report names the snapshot date
    page = " ".join((tmp_path / "report.html").read_text().split())
    assert "stale" in page and "mlaudit db update" in page


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
    malware = {"id": "MAL-2099-1", "modified": today, "published": today, "summary": "Malicious code in x",
               "affected": [{"package": {"name": "mal-test-only", "ecosystem": "PyPI"}, "versions": ["1.0"]}]}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("GHSA-ffff-ffff-ffff.json", json.dumps(record))
        archive.writestr("MAL-2099-1.json", json.dumps(malware))  # fresh malicious-package data too: nothing stale
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
    # the GHSA twin merged into PYSEC-2019-217; tqdm 4.66.1 has its local PYSEC and the online-only GHSA
    assert set(ids) == JINJA2_2_10 | {"PYSEC-2026-1976", "GHSA-tqdm-tqdm-tqdm"}
    assert "GHSA-462w-v97r-4m45" in ids["PYSEC-2019-217"]["aliases"]
    # the local PYSEC record has no severity; its online GHSA twin's word counts
    assert ids["PYSEC-2019-217"]["severity"] == "high"
    assert ids["PYSEC-2019-217"]["evidence"]["severity_source"] == (
        "severity 'HIGH' in GHSA-462w-v97r-4m45 (database_specific.severity): high")
    assert ids["GHSA-tqdm-tqdm-tqdm"]["severity"] == "unknown"
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


UV_LOCK = """version = 1
revision = 2
requires-python = ">=3.9"

[[package]]
name = "demo-app"
version = "0.1.0"
source = { virtual = "." }
dependencies = [
    { name = "pyyaml" },
]

[[package]]
name = "pyyaml"
version = "5.3.1"
source = { registry = "http://127.0.0.1:9/simple" }
sdist = { url = "http://127.0.0.1:9/files/PyYAML-5.3.1.tar.gz", hash = "sha256:%s" }
""" % ("1" * 64)


@pytest.mark.parametrize("form", ["hashed-requirements", "uv.lock"])
def test_pyyaml_5_3_1_fails_a_high_gate(form: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 15: PyYAML 5.3.1 (CVE-2020-14343, code execution) under ``--fail-on high``. Its PYSEC record carries
    no severity, so the finding is ``unknown`` (not medium) and the gate fails closed on it; a policy may set
    ``unknown-severity`` to let it pass, and the level shown stays ``unknown``. Lock-style inputs (hashes, uv.lock)
    are audited as locked, without resolution."""
    if form == "uv.lock":
        target = tmp_path / "uv.lock"
        target.write_text(UV_LOCK)
    else:
        target = pins(tmp_path, "PyYAML==5.3.1 --hash=sha256:" + "1" * 64 + "\n")
    code, report = run_json(capsys, ["--offline", str(target), "--fail-on", "high"])
    assert code == 1
    (finding,) = report["findings"]
    assert (finding["kind"], finding["id"], finding["severity"]) == ("vulnerability", "PYSEC-2021-142", "unknown")
    assert "CVE-2020-14343" in finding["aliases"] and report["summary"]["failed"] is True
    assert report["summary"]["by_severity"] == {"unknown": 1}
    capsys.readouterr()
    assert main(["--offline", str(target), "--fail-on", "high", "-q"]) == 1
    terminal = " ".join(capsys.readouterr().out.split())
    assert "findings: 1 unknown" in terminal and "no severity in any record" in terminal and "medium" not in terminal
    assert "count as high for the gate (fail closed)" in terminal
    assert run_json(capsys, ["--offline", str(target), "--fail-on", "critical"])[0] == 0
    assert run_json(capsys, ["--offline", str(target), "--fail-on", "unknown"])[0] == 1
    (tmp_path / "mlaudit.toml").write_text('unknown-severity = "medium"\n')
    code, report = run_json(capsys, ["--offline", str(target), "--fail-on", "high"])
    assert code == 0 and report["summary"]["unknown_severity_gates_as"] == "medium"
    assert report["findings"][0]["severity"] == "unknown"

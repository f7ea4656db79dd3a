"""The provenance check against a real local index + fake Integrity API serving the real PEP 740 fixture."""

from __future__ import annotations

import json

import pytest

from auditor.checks.provenance import CHECK
from auditor.domain import Package, Severity
from auditor.errors import NetworkError
from auditor.policy import Policy, apply_policy
from tests.provenance.conftest import (
    PROJECT,
    SDIST,
    VERSION,
    Fixture,
    flip_last_byte,
    integrity_index,
    make_context,
    serve,
)
from tests.support.httpserver import closed_port_url

DECLARED = {"project_urls": {"Source": "https://github.com/trailofbits/pypi-attestations"}}


def _package(**metadata: object) -> Package:
    return Package(name=PROJECT, version=VERSION, source="requirements", metadata=dict(metadata))


def test_attested_package_records_publisher_and_source_match(prov_fixture: Fixture) -> None:
    idx = integrity_index()
    idx.add_file(PROJECT, SDIST, prov_fixture.data(SDIST), prov_fixture.data(SDIST + ".provenance"))
    pkg = _package(**DECLARED)
    with serve(idx) as url:
        ctx = make_context(url, [pkg])
        findings = list(CHECK.run(ctx))
    assert findings == []
    props = pkg.properties
    assert props["provenance"] == "attested"
    assert props["provenance-publisher"] == "GitHub"
    assert props["provenance-repository"] == "trailofbits/pypi-attestations"
    assert props["provenance-workflow"] == "release.yml"
    assert props["provenance-ref"] == "refs/tags/v0.0.19"
    assert props["provenance-source-match"] == "true"
    assert props["slsa"] == "attested-build"
    summary = ctx.report.provenance_summary
    assert summary is not None
    assert summary["checked"] is True
    assert summary["levels"]["attested-build"] == 1
    assert summary["details"][PROJECT]["files"][0]["ok"] is True
    assert [r.path for r in idx.integrity_requests()] == [f"/integrity/{PROJECT}/{VERSION}/{SDIST}/provenance"]


def test_tampered_distribution_is_critical(prov_fixture: Fixture) -> None:
    idx = integrity_index()
    idx.add_file(PROJECT, SDIST, flip_last_byte(prov_fixture.data(SDIST)), prov_fixture.data(SDIST + ".provenance"))
    pkg = _package(**DECLARED)
    with serve(idx) as url:
        findings = list(CHECK.run(make_context(url, [pkg])))
    assert [(f.kind, f.severity) for f in findings] == [("provenance-invalid", Severity.CRITICAL)]
    assert "digest" in findings[0].message
    assert pkg.properties["provenance"] == "invalid"
    assert pkg.properties["slsa"] == "neither"


def test_publisher_other_than_declared_repository(prov_fixture: Fixture) -> None:
    idx = integrity_index()
    idx.add_file(PROJECT, SDIST, prov_fixture.data(SDIST), prov_fixture.data(SDIST + ".provenance"))
    pkg = _package(project_urls={"Source": "https://github.com/someone-else/pypi-attestations"})
    with serve(idx) as url:
        findings = list(CHECK.run(make_context(url, [pkg])))
    assert [f.kind for f in findings] == ["publisher-mismatch"]
    assert pkg.properties["provenance-source-match"] == "false"
    assert pkg.properties["provenance"] == "attested"


def test_declared_urls_read_from_pep658_metadata(prov_fixture: Fixture) -> None:
    """No metadata on the package: the wheel's core metadata (served by the index) names the repository."""
    idx = integrity_index()
    idx.add_file(PROJECT, SDIST, prov_fixture.data(SDIST), prov_fixture.data(SDIST + ".provenance"))
    wheel = idx.index.add_wheel(PROJECT, VERSION)
    wheel.metadata = (wheel.metadata or b"").replace(
        b"\n\n", b"\nProject-URL: Source, https://github.com/trailofbits/pypi-attestations\n\n")
    pkg = Package(name=PROJECT, version=VERSION, source="requirements")
    with serve(idx) as url:
        findings = list(CHECK.run(make_context(url, [pkg])))
    # the chosen files are the best wheel and the sdist; the wheel has no provenance, so the result is partial
    assert pkg.properties["provenance"] == "partial"
    assert pkg.properties["provenance-source-match"] == "true"
    assert [f.id for f in findings] == ["missing-provenance"]
    assert findings[0].severity == Severity.INFO


def test_missing_provenance_is_info_and_policy_raises_it(prov_fixture: Fixture) -> None:
    idx = integrity_index()
    idx.add_file(PROJECT, SDIST, prov_fixture.data(SDIST))
    pkg = _package()
    with serve(idx) as url:
        ctx = make_context(url, [pkg])
        findings = list(CHECK.run(ctx))
    assert [(f.kind, f.id, f.severity) for f in findings] == [("missing-provenance", "missing-provenance",
                                                              Severity.INFO)]
    assert pkg.properties["provenance"] == "missing"
    assert pkg.properties["slsa"] == "neither"
    ctx.report.findings.extend(findings)
    apply_policy(ctx.report, Policy(require_attestation=True))
    assert ctx.report.findings[0].severity == Severity.HIGH


def test_regression_when_earlier_release_was_attested(prov_fixture: Fixture) -> None:
    idx = integrity_index()
    idx.add_file(PROJECT, SDIST, prov_fixture.data(SDIST), prov_fixture.data(SDIST + ".provenance"))
    idx.add_file(PROJECT, "pypi_attestations-0.0.20.tar.gz", b"a later release published by hand")
    pkg = Package(name=PROJECT, version="0.0.20", source="requirements")
    with serve(idx) as url:
        findings = list(CHECK.run(make_context(url, [pkg])))
    assert [(f.kind, f.id, f.severity) for f in findings] == [("missing-provenance", "provenance-regression",
                                                              Severity.LOW)]
    assert pkg.properties["provenance-regression"] == VERSION


def test_simple_api_provenance_key_is_used_instead_of_integrity_api(prov_fixture: Fixture) -> None:
    """PEP 740 JSON simple API: the ``provenance`` key points at the object; a null key means none."""
    idx = integrity_index()
    item = idx.add_file(PROJECT, SDIST, prov_fixture.data(SDIST))
    with serve(idx) as url:
        server = idx.index.server
        assert server is not None
        page = {"meta": {"api-version": "1.3"}, "name": PROJECT, "files": [
            {"filename": SDIST, "url": f"/files/{SDIST}", "hashes": {"sha256": item.sha256},
             "provenance": f"/elsewhere/{SDIST}.provenance"},
            {"filename": "pypi_attestations-0.0.18.tar.gz", "url": "/files/x", "hashes": {"sha256": "ab" * 32},
             "provenance": None}]}
        server.route("GET", f"/simple/{PROJECT}/", lambda _r: _json(page))
        server.static(f"/elsewhere/{SDIST}.provenance", prov_fixture.data(SDIST + ".provenance"), "application/json")
        pkg = _package(**DECLARED)
        findings = list(CHECK.run(make_context(url, [pkg])))
        old = Package(name=PROJECT, version="0.0.18", source="requirements")
        old_findings = list(CHECK.run(make_context(url, [old])))
    assert findings == []
    assert pkg.properties["provenance"] == "attested"
    assert [f.id for f in old_findings] == ["missing-provenance"]
    assert idx.integrity_requests() == []


def _json(obj: object):  # type: ignore[no-untyped-def]
    from tests.support.httpserver import Response

    return Response(200, json.dumps(obj).encode(), {"Content-Type": "application/vnd.pypi.simple.v1+json"})


def test_integrity_api_failure_is_a_network_error(prov_fixture: Fixture) -> None:
    idx = integrity_index()
    idx.add_file(PROJECT, SDIST, prov_fixture.data(SDIST), prov_fixture.data(SDIST + ".provenance"))
    idx.status = 503
    with serve(idx) as url, pytest.raises(NetworkError) as err:
        list(CHECK.run(make_context(url, [_package()])))
    assert err.value.service == "integrity API"
    assert err.value.exit_code == 3


def test_integrity_override_unreachable_is_a_network_error(prov_fixture: Fixture,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    idx = integrity_index()
    idx.add_file(PROJECT, SDIST, prov_fixture.data(SDIST), prov_fixture.data(SDIST + ".provenance"))
    monkeypatch.setenv("MLAUDIT_INTEGRITY_URL", closed_port_url() + "/integrity")
    with serve(idx) as url, pytest.raises(NetworkError) as err:
        list(CHECK.run(make_context(url, [_package()])))
    assert "connection failed" in str(err.value)
    assert idx.integrity_requests() == []


def test_index_down_is_a_network_error() -> None:
    with pytest.raises(NetworkError) as err:
        list(CHECK.run(make_context(closed_port_url() + "/simple", [_package()])))
    assert err.value.service == "package index"


def test_not_online_records_not_checked_without_requests(prov_fixture: Fixture) -> None:
    idx = integrity_index()
    idx.add_file(PROJECT, SDIST, prov_fixture.data(SDIST), prov_fixture.data(SDIST + ".provenance"))
    pkg = _package()
    with serve(idx) as url:
        ctx = make_context(url, [pkg], online=False, offline=True)
        findings = list(CHECK.run(ctx))
        assert idx.index.server is not None and idx.index.server.log == []
    assert findings == []
    assert pkg.properties["provenance"] == "not-checked"
    assert pkg.properties["slsa"] == "not-checked"
    summary = ctx.report.provenance_summary
    assert summary is not None
    assert summary["checked"] is False and "--online" in summary["reason"]
    assert ctx.report.complete  # not a gap of the audit unless the policy asks for attestations


def test_not_online_with_require_attestation_is_incomplete() -> None:
    ctx = make_context(None, [_package()], online=False, policy=Policy(require_attestation=True))
    assert list(CHECK.run(ctx)) == []
    assert not ctx.report.complete


def test_online_checks_never_fetch_or_run_sdists(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Hashes and provenance read index pages and provenance objects only: no sdist is downloaded or built."""
    from auditor.checks.hashes import CHECK as HASHES

    sentinel = tmp_path / "SDIST-CODE-RAN"
    idx = integrity_index()
    sdist = idx.index.add_sdist("gamma", "0.3", sentinel=sentinel)
    pkg = Package(name="gamma", version="0.3", source="requirements", hashes=[f"sha256:{sdist.sha256}"])
    with serve(idx) as url:
        ctx = make_context(url, [pkg])
        list(HASHES.run(ctx))
        findings = list(CHECK.run(ctx))
        assert idx.server is not None
        fetched = [r.path for r in idx.server.log if r.path.startswith("/files/")]
    assert fetched == []
    assert not sentinel.exists()
    assert pkg.properties["hashes-verified"] == "match"
    assert [f.id for f in findings] == ["missing-provenance"]


def test_package_only_on_the_extra_index_is_checked_there(prov_fixture: Fixture) -> None:
    primary = integrity_index()
    primary.index.add_wheel("unrelated", "1.0")
    extra = integrity_index()
    extra.add_file(PROJECT, SDIST, prov_fixture.data(SDIST), prov_fixture.data(SDIST + ".provenance"))
    pkg = _package(**DECLARED)
    with serve(primary) as primary_url, serve(extra) as extra_url:
        findings = list(CHECK.run(make_context(primary_url, [pkg], extra_index_urls=[extra_url])))
    assert findings == []
    assert pkg.properties["provenance"] == "attested"
    assert pkg.properties["provenance-url"] == (f"{extra_url.removesuffix('/simple')}/integrity/{PROJECT}/{VERSION}/"
                                                f"{SDIST}/provenance")
    assert pkg.properties["provenance-source-repository"] == "https://github.com/trailofbits/pypi-attestations"
    assert primary.integrity_requests() == []


def test_declared_urls_read_from_sdist_pkg_info_without_building(prov_fixture: Fixture) -> None:
    """Attested sdist-only release, no metadata from the input: PKG-INFO is read out of the archive."""
    idx = integrity_index()
    idx.add_file(PROJECT, SDIST, prov_fixture.data(SDIST), prov_fixture.data(SDIST + ".provenance"))
    pkg = Package(name=PROJECT, version=VERSION, source="requirements")
    with serve(idx) as url:
        findings = list(CHECK.run(make_context(url, [pkg])))
    assert findings == []
    assert pkg.properties["provenance-source-match"] == "true"

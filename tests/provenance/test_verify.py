"""Offline verification of real PEP 740 provenance (sigstore's bundled trust root, no network)."""

from __future__ import annotations

import hashlib
import json

import pytest

from auditor.provenance.verify import MalformedProvenance, verify_provenance
from tests.provenance.conftest import SDIST, Fixture, flip_last_byte


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_real_provenance_verifies_with_publisher_and_claims(prov_fixture: Fixture) -> None:
    data = prov_fixture.data(SDIST)
    result = verify_provenance(prov_fixture.data(SDIST + ".provenance"), SDIST, _sha(data))
    assert result.ok, result.error
    assert result.attestations == 1
    assert [(p.kind, p.repository, p.workflow, p.environment) for p in result.publishers] == [
        ("GitHub", "trailofbits/pypi-attestations", "release.yml", None)]
    assert len(result.predicate_types) == 1 and result.predicate_types[0].endswith("/attestations/publish/v1")
    assert result.claims["source_repository_ref"] == "refs/tags/v0.0.19"
    assert result.claims["source_repository_uri"] == "https://github.com/trailofbits/pypi-attestations"


def test_flipped_byte_fails_digest(prov_fixture: Fixture) -> None:
    tampered = flip_last_byte(prov_fixture.data(SDIST))
    result = verify_provenance(prov_fixture.data(SDIST + ".provenance"), SDIST, _sha(tampered))
    assert not result.ok
    assert result.error is not None and "digest" in result.error


def test_other_filename_fails(prov_fixture: Fixture) -> None:
    data = prov_fixture.data(SDIST)
    result = verify_provenance(prov_fixture.data(SDIST + ".provenance"), "pypi_attestations-0.0.18.tar.gz", _sha(data))
    assert not result.ok
    assert result.error is not None and "name" in result.error


def test_publisher_that_did_not_sign_fails(prov_fixture: Fixture) -> None:
    prov = json.loads(prov_fixture.data(SDIST + ".provenance"))
    prov["attestation_bundles"][0]["publisher"]["repository"] = "attacker/pypi-attestations"
    result = verify_provenance(json.dumps(prov).encode(), SDIST, _sha(prov_fixture.data(SDIST)))
    assert not result.ok
    assert result.error is not None and "attacker/pypi-attestations" in result.error


def test_staging_signed_attestation_fails_against_production(prov_fixture: Fixture) -> None:
    wheel = "rfc8785-0.1.2-py3-none-any.whl"
    attestation = json.loads(prov_fixture.data(wheel + ".publish.attestation"))
    prov = {"version": 1, "attestation_bundles": [
        {"publisher": {"kind": "GitHub", "repository": "trailofbits/rfc8785.py", "workflow": "release.yml"},
         "attestations": [attestation]}]}
    result = verify_provenance(json.dumps(prov).encode(), wheel, _sha(prov_fixture.data(wheel)))
    assert not result.ok


def test_gitlab_publisher_verifies(prov_fixture: Fixture) -> None:
    sdist = "gitlab_oidc_project-0.0.3.tar.gz"
    attestation = json.loads(prov_fixture.data(sdist + ".publish.attestation"))
    prov = {"version": 1, "attestation_bundles": [
        {"publisher": {"kind": "GitLab", "repository": "facutuesca/gitlab-oidc-project",
                       "workflow_filepath": ".gitlab-ci.yml"}, "attestations": [attestation]}]}
    result = verify_provenance(json.dumps(prov).encode(), sdist, _sha(prov_fixture.data(sdist)))
    assert result.ok, result.error
    assert result.publishers[0].kind == "GitLab"
    assert result.publishers[0].workflow == ".gitlab-ci.yml"


def test_schema_invalid_and_empty_provenance_are_invalid(prov_fixture: Fixture) -> None:
    digest = _sha(prov_fixture.data(SDIST))
    assert not verify_provenance(b'{"version": 1}', SDIST, digest).ok
    empty = verify_provenance(b'{"version": 1, "attestation_bundles": []}', SDIST, digest)
    assert not empty.ok and empty.error == "provenance object holds no attestations"


def test_non_json_body_is_a_transport_problem() -> None:
    with pytest.raises(MalformedProvenance):
        verify_provenance(b"<html>proxy error</html>", SDIST, "0" * 64)

"""Verifying a PEP 740 provenance object against a distribution's name and sha256 with ``pypi-attestations``.

Why against the digest and not the file: the index publishes the digest installers check, so verifying the
attestation's subject against that digest says "the bytes pip would accept were signed by this publisher" without
downloading the distribution. Verification uses sigstore's production trust root bundled with the ``sigstore``
package (``offline=True``): no TUF refresh, no network, same answer in CI sandboxes.

Every attestation of every bundle must verify against its bundle's Trusted Publisher; one failure makes the file
``invalid`` (an index serving a bad attestation is exactly what this check exists to catch).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Fulcio certificate extensions (sigstore's OID registry) worth showing in a report.
_CLAIMS = {
    "1.3.6.1.4.1.57264.1.9": "build_signer_uri",
    "1.3.6.1.4.1.57264.1.12": "source_repository_uri",
    "1.3.6.1.4.1.57264.1.13": "source_repository_digest",
    "1.3.6.1.4.1.57264.1.14": "source_repository_ref",
    "1.3.6.1.4.1.57264.1.21": "run_invocation_uri",
}


@dataclass
class PublisherInfo:
    """A Trusted Publisher as the provenance names it."""

    kind: str  # GitHub, GitLab, Google, CircleCI
    repository: str | None = None
    workflow: str | None = None
    environment: str | None = None
    identity: str | None = None  # Google: the service account e-mail

    def label(self) -> str:
        where = self.repository or self.identity or "?"
        return f"{self.kind}:{where}" + (f" ({self.workflow})" if self.workflow else "")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "repository": self.repository, "workflow": self.workflow,
                "environment": self.environment, "identity": self.identity}


@dataclass
class Verification:
    filename: str
    ok: bool
    error: str | None = None
    publishers: list[PublisherInfo] = field(default_factory=list)
    predicate_types: list[str] = field(default_factory=list)
    claims: dict[str, str] = field(default_factory=dict)
    attestations: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"filename": self.filename, "ok": self.ok, "error": self.error,
                "publishers": [p.to_json() for p in self.publishers], "predicate_types": list(self.predicate_types),
                "claims": dict(self.claims), "attestations": self.attestations}


class MalformedProvenance(ValueError):
    """The body is not JSON at all (a transport problem rather than a statement by the index)."""


def _publisher_info(publisher: Any) -> PublisherInfo:
    kind = str(getattr(publisher, "kind", "unknown"))
    workflow = getattr(publisher, "workflow", None) or getattr(publisher, "workflow_filepath", None)
    if kind == "CircleCI":
        repository = getattr(publisher, "vcs_origin", None)
        workflow = getattr(publisher, "pipeline_definition_id", None)
    else:
        repository = getattr(publisher, "repository", None)
    return PublisherInfo(kind=kind, repository=repository, workflow=workflow,
                         environment=getattr(publisher, "environment", None),
                         identity=getattr(publisher, "email", None))


def verify_provenance(data: bytes, filename: str, sha256: str, *, staging: bool = False) -> Verification:
    """Verify every attestation in a provenance object for ``filename`` with digest ``sha256``.

    Raises ``MalformedProvenance`` for a body that is not JSON; a JSON body that is not a valid provenance
    object, or any attestation that fails, gives ``ok=False`` with the reason.
    """
    try:
        json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedProvenance(f"provenance for {filename} is not JSON: {exc}") from exc
    from pydantic import ValidationError
    from pypi_attestations import AttestationError, Distribution, Provenance

    result = Verification(filename=filename, ok=False)
    try:
        provenance = Provenance.model_validate_json(data)
    except ValidationError as exc:
        result.error = f"not a valid PEP 740 provenance object: {_first_error(exc)}"
        return result
    try:
        dist = Distribution(name=filename, digest=sha256.lower())
    except ValidationError as exc:
        result.error = f"not a distribution filename: {_first_error(exc)}"
        return result
    if not provenance.attestation_bundles or not any(b.attestations for b in provenance.attestation_bundles):
        result.error = "provenance object holds no attestations"
        return result
    _quiet_sigstore()
    for bundle in provenance.attestation_bundles:
        info = _publisher_info(bundle.publisher)
        result.publishers.append(info)
        for attestation in bundle.attestations:
            result.attestations += 1
            try:
                predicate_type, _ = attestation.verify(bundle.publisher, dist, staging=staging, offline=True)
            except AttestationError as exc:
                result.error = f"{info.label()}: {exc}"
                return result
            except Exception as exc:  # malformed certificates/bundles surface as assorted library errors
                result.error = f"{info.label()}: unverifiable attestation ({type(exc).__name__}: {exc})"
                return result
            if predicate_type not in result.predicate_types:
                result.predicate_types.append(predicate_type)
            if not result.claims:
                result.claims = _claims(attestation)
    result.ok = True
    return result


def _claims(attestation: Any) -> dict[str, str]:
    try:
        raw: dict[str, str] = attestation.certificate_claims
    except Exception:  # claims are informative only; verification already succeeded
        return {}
    return {name: raw[oid] for oid, name in _CLAIMS.items() if oid in raw}


def _first_error(exc: Any) -> str:
    errors = exc.errors() if hasattr(exc, "errors") else []
    if errors:
        first = errors[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        return f"{loc}: {first.get('msg', '')}" if loc else str(first.get("msg", ""))
    return str(exc).splitlines()[0]


def _quiet_sigstore() -> None:
    """sigstore logs a warning for every offline trust-root load; keep CLI output clean unless the user set a
    level for that logger themselves. (A process-wide setting, not a save/restore: checks verify in threads.)"""
    import logging  # sigstore imports it anyway; an audit that verifies nothing does not

    logger = logging.getLogger("sigstore")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)

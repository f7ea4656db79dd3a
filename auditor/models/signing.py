"""OpenSSF model signatures (``model-signing``): verify a model directory against a ``model.sig`` bundle.

Two levels:
- ``verify_model``: the real verification through ``model_signing`` (key, certificate chain, or Sigstore identity):
  the signature is cryptographically checked, then every file's digest against the signed manifest.
- ``check_manifest``: without any key configured we cannot say *who* signed, but the bundle's in-toto payload still
  lists each file's sha256; a directory that no longer matches it was modified after signing. This never trusts
  the signature, it only detects change.

Nothing here loads a model: files are only hashed.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.digest import sha256_file
from auditor.domain import Finding, Location, Severity
from auditor.errors import IncompleteError, UsageError
from auditor.evidence import Details
from auditor.kinds import FindingKind, Rule
from auditor.projectwalk import TreeWalk
from auditor.safeload import loads_json, read_text

SIGNATURE_NAME = "model.sig"
SIGNATURE_RULE = Rule.MODEL_SIGNATURE_INVALID


@dataclass
class VerifyResult:
    verified: bool
    message: str
    method: str  # "key", "certificate", "sigstore identity", "manifest digests"
    problems: list[str] = field(default_factory=list)


def verify_model(model_dir: Path, signature: Path, *, key: Path | None = None, certificates: list[Path] | None = None,
                 identity: str | None = None, identity_provider: str | None = None,
                 ignore_unsigned_files: bool = False) -> VerifyResult:
    """Verify with exactly one of key / certificates / identity. Bad inputs raise ``UsageError``."""
    if not model_dir.is_dir():
        raise UsageError(f"not a model directory: {model_dir}")
    if not signature.is_file():
        raise UsageError(f"signature file not found: {signature}")
    chosen = sum(bool(x) for x in (key, certificates, identity))
    if chosen != 1:
        raise UsageError("give exactly one of --key, --certificate, --identity")
    if identity and not identity_provider:
        raise UsageError("--identity needs --identity-provider (the OIDC issuer URL)")
    from model_signing import verifying

    if key is not None:
        _check_public_key(key)
    for cert in certificates or []:
        _check_certificate(cert)
    method = "key" if key is not None else "certificate" if certificates else "sigstore identity"
    try:
        config = verifying.Config()  # type: ignore[no-untyped-call]
        if key is not None:
            config.use_elliptic_key_verifier(public_key=key)
        elif certificates:
            config.use_certificate_verifier(certificate_chain=certificates)
        else:  # fetches the Sigstore trust root: may need the network
            config.use_sigstore_verifier(identity=identity or "", oidc_issuer=identity_provider or "")
        config.set_ignore_unsigned_files(ignore_unsigned_files)
        config.verify(model_dir, signature)
    except ValueError as exc:  # digest mismatch, key mismatch, malformed bundle (JSONDecodeError is a ValueError)
        return VerifyResult(False, _first_line(exc), method, [_first_line(exc)])
    except (KeyError, TypeError, AttributeError, IndexError) as exc:  # a bundle missing the fields it must have
        message = f"malformed signature bundle ({type(exc).__name__}: {_first_line(exc)})"
        return VerifyResult(False, message, method, [message])
    except Exception as exc:  # sigstore's VerificationError; trust-root or certificate loading failures
        if type(exc).__name__ == "VerificationError":
            return VerifyResult(False, _first_line(exc), method, [_first_line(exc)])
        raise IncompleteError(f"could not verify the signature ({type(exc).__name__}: {_first_line(exc)})") from exc
    return VerifyResult(True, "signature verified", method)


def signature_finding(model_dir: Path, signature: Path, result: VerifyResult, check: str) -> Finding:
    return Finding(
        kind=FindingKind.SIGNATURE_INVALID, id=SIGNATURE_RULE, severity=Severity.CRITICAL,
        message=f"model signature does not verify for {model_dir}: {result.message}",
        path=str(model_dir), location=Location(str(signature)),
        evidence=Details.of({"method": result.method, "problems": list(result.problems), "signature": str(signature)}),
        fix="do not use this model: it differs from what was signed, or was signed by someone else", check=check)


def _check_public_key(key: Path) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        load_pem_public_key(key.read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read public key {key}: {exc.strerror or exc}") from exc
    except (ValueError, TypeError) as exc:
        raise UsageError(f"not a PEM public key: {key}") from exc


def _check_certificate(cert: Path) -> None:
    from cryptography.x509 import load_pem_x509_certificates

    try:
        load_pem_x509_certificates(cert.read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read certificate {cert}: {exc.strerror or exc}") from exc
    except (ValueError, TypeError) as exc:
        raise UsageError(f"not a PEM certificate (chain): {cert}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:500]


def payload(signature: Path) -> dict[str, Any] | None:
    """The in-toto statement inside a model-signing bundle (DSSE envelope), or None when unreadable."""
    try:
        bundle = loads_json(read_text(signature))  # bounded: size and nesting (the bundle is the project's)
        encoded = bundle["dsseEnvelope"]["payload"]
        statement = json.loads(base64.b64decode(encoded))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return statement if isinstance(statement, dict) else None


def subject_name(signature: Path) -> str | None:
    statement = payload(signature)
    subjects = statement.get("subject") if statement else None
    if isinstance(subjects, list) and subjects and isinstance(subjects[0], dict):
        name = subjects[0].get("name")
        return name if isinstance(name, str) else None
    return None


def check_manifest(model_dir: Path, signature: Path, ignore_unsigned_files: bool = False) -> VerifyResult | None:
    """Compare the directory with the signed per-file sha256 manifest; None when the bundle has no such manifest."""
    statement = payload(signature)
    predicate = statement.get("predicate") if statement else None
    if not isinstance(predicate, dict):
        return None
    serialization = predicate.get("serialization")
    resources = predicate.get("resources")
    if not isinstance(serialization, dict) or serialization.get("method") != "files" or not isinstance(resources, list):
        return None
    ignore_paths = serialization.get("ignore_paths")
    ignored = {str(p) for p in ignore_paths} if isinstance(ignore_paths, list) else set()
    expected: dict[str, str] = {}
    for item in resources:
        if isinstance(item, dict) and item.get("algorithm") == "sha256" and isinstance(item.get("name"), str):
            name = item["name"]
            if name.startswith("/") or ".." in name.split("/"):
                return VerifyResult(False, f"signed manifest names a path outside the model: {name[:100]}",
                                    "manifest digests", [name[:100]])
            expected[name] = str(item.get("digest", ""))
    if not expected:
        return None
    problems: list[str] = []
    present = _files(model_dir, ignored, signature)
    for name, digest in sorted(expected.items()):
        if name not in present:
            problems.append(f"missing signed file {name}")
        elif not (model_dir / name).is_file() or sha256_file(model_dir / name) != digest:
            problems.append(f"hash mismatch for {name}")
    if not ignore_unsigned_files:
        problems += [f"unsigned file {name}" for name in sorted(present - set(expected))]
    if problems:
        return VerifyResult(False, "; ".join(problems[:10]), "manifest digests", problems)
    return VerifyResult(True, "files match the signed manifest (signer not verified)", "manifest digests")


def _files(root: Path, ignored: set[str], signature: Path) -> set[str]:
    """What the directory holds, as the manifest names it (posix paths relative to ``root``). The walk is the
    project's one walk (``TreeWalk``, nothing left out by default): linked folders are followed, and what cannot
    be read — an unreadable folder (``sub/``), a FIFO, a broken link — is listed too, so it counts as an unsigned
    entry instead of vanishing from the comparison."""
    out: set[str] = set()
    walk = TreeWalk(root, prune_defaults=False)
    own = signature.resolve()

    def skip(rel: Path) -> bool:
        return any(part in ignored for part in rel.parts) or any(
            p.as_posix() in ignored for p in [rel, *rel.parents] if p != Path("."))

    for base, names in walk:
        rel_dir = base.relative_to(root)
        for name in names:
            rel = rel_dir / name
            if not skip(rel) and (base / name).resolve() != own:
                out.add(rel.as_posix())
    for gap in walk.gaps:
        if not gap.excluded and gap.rel != "." and not skip(Path(gap.rel)):
            out.add(gap.rel + ("/" if gap.is_dir else ""))
    return out



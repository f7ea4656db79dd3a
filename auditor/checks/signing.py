"""Check ``model-signing``: local model directories in the project and their OpenSSF ``model.sig`` signatures.

- A ``model.sig`` names the directory it signs (the in-toto subject): a sibling directory of that name (the layout
  ``model_signing sign DIR`` leaves) or the signature's own directory.
- With a key, certificate or identity configured (``[tool.mlaudit.model-signing]``), the signature is verified
  with ``model-signing``; failure is a critical ``signature-invalid`` finding (``MLA-MODEL-SIGNATURE-INVALID``).
- Without one, the signed per-file sha256 manifest is still compared with the directory: a modified directory is
  the same critical finding; a matching one is ``signature-unverified`` / info (who signed is not checked).
- A model release with no signature covering it: ``unsigned-model`` / ``MLA-MODEL-UNSIGNED`` / info. What makes a
  directory a model release (weights of a model format, name or meaningful size, or model metadata beside them;
  not test fixtures, data assets such as ``mel_filters.npz``, nor Git LFS pointers) is ``scan.release``; the
  finding's evidence says which. Directories that are not releases get no note: their files are still scanned
  (``modelscan``), only signing is not expected of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from auditor.domain import Finding, Location, Severity
from auditor.errors import IncompleteError, UsageError
from auditor.evidence import Details
from auditor.kinds import FindingKind, Rule
from auditor.ledger import ItemKind
from auditor.models.settings import SigningSettings, model_settings
from auditor.models.signing import SIGNATURE_NAME, check_manifest, signature_finding, subject_name, verify_model
from auditor.options import AuditContext, project_filter
from auditor.projectwalk import walk_project
from auditor.scan.release import WEIGHT_SUFFIXES, judge_directory

MAX_DIRS = 20_000


class SigningCheck:
    name = "model-signing"

    def run(self, ctx: AuditContext) -> Iterable[Finding]:
        if not ctx.options.project_dir or not Path(ctx.options.project_dir).is_dir():
            return []
        root = Path(ctx.options.project_dir)
        model_dirs, signatures = _scan(root, ctx)
        settings = model_settings(ctx).signing
        findings: list[Finding] = []
        signed: set[Path] = set()
        for sig in signatures:
            target = _signed_dir(sig)
            if target is None:
                ctx.skip(f"cannot tell which model directory {SIGNATURE_NAME} signs (its subject names none beside "
                         "it); not verified", file=str(sig), kind=ItemKind.MODEL_FILE)
                continue
            signed.add(target)
            findings.extend(self._verify(target, sig, settings, ctx))
        for model_dir, why in model_dirs:
            if any(model_dir == s or s in model_dir.parents for s in signed):
                continue
            findings.append(Finding(
                kind=FindingKind.UNSIGNED_MODEL, id=Rule.MODEL_UNSIGNED, severity=Severity.INFO,
                message=f"model files in {model_dir} carry no {SIGNATURE_NAME} (OpenSSF model signing): their "
                        "origin cannot be verified", path=str(model_dir), location=Location(str(model_dir)),
                evidence=Details.of({"release": why}),
                fix="sign released models with model_signing and verify them before use", check=self.name))
        return findings

    def _verify(self, target: Path, sig: Path, settings: SigningSettings, ctx: AuditContext) -> list[Finding]:
        if settings.configured:
            try:
                result = verify_model(target, sig, key=settings.key, certificates=settings.certificates or None,
                                      identity=settings.identity, identity_provider=settings.identity_provider,
                                      ignore_unsigned_files=settings.ignore_unsigned_files)
            except (UsageError, IncompleteError) as exc:  # key file missing, trust root unreachable: said as such
                ctx.skip(f"model signature not verified: {exc.message}", file=str(sig), kind=ItemKind.MODEL_FILE)
                return []
        else:
            manifest = check_manifest(target, sig, settings.ignore_unsigned_files)
            if manifest is None:
                ctx.skip("model signature not verified: no key/identity configured ([tool.mlaudit.model-signing]) "
                         "and no per-file manifest in the bundle", file=str(sig), kind=ItemKind.MODEL_FILE)
                return []
            result = manifest
        if not result.verified:
            return [signature_finding(target, sig, result, check=self.name)]
        if settings.configured:
            return []
        return [Finding(kind=FindingKind.SIGNATURE_UNVERIFIED, id=Rule.MODEL_SIGNATURE_UNVERIFIED, severity=Severity.INFO,
                        message=f"{target} matches its signed manifest, but no key or identity is configured to "
                                "check who signed it", path=str(target), location=Location(str(sig)),
                        evidence=Details.of({"method": result.method}),
                        fix="set key/certificate/identity in [tool.mlaudit.model-signing]", check=self.name)]


def _signed_dir(sig: Path) -> Path | None:
    name = subject_name(sig)
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        return None  # the subject is a directory name beside the signature, nothing else
    sibling = sig.parent / name
    if sibling.is_dir():
        return sibling
    if sig.parent.name == name:
        return sig.parent
    return None


def _scan(root: Path, ctx: AuditContext) -> tuple[list[tuple[Path, str]], list[Path]]:
    """Model release directories (with the evidence that makes each one), and signature files, pruned like the
    reference walk."""
    model_dirs: list[tuple[Path, str]] = []
    signatures: list[Path] = []
    seen = 0
    for base, filenames in walk_project(root, project_filter(ctx.options)):
        seen += 1
        if seen > MAX_DIRS:
            ctx.incomplete(ItemKind.CHECK, "model signatures",
                           f"more than {MAX_DIRS} directories: model signatures beyond them were not looked for")
            break
        if SIGNATURE_NAME in filenames:
            signatures.append(base / SIGNATURE_NAME)
        if any(name.lower().endswith(WEIGHT_SUFFIXES) for name in filenames):
            judgement = judge_directory(base, filenames, base.relative_to(root))
            if judgement is not None and judgement.release:
                model_dirs.append((base, judgement.why))
    return model_dirs, signatures


CHECK = SigningCheck()

__all__ = ["CHECK", "SigningCheck"]

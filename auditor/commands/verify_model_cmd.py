"""``mlaudit verify-model DIR --signature FILE (--key PUB | --certificate CERT | --identity ID --identity-provider URL)``

Verifies an OpenSSF model-signing signature. Exit codes: 0 verified, 1 invalid or tampered (a critical
``signature-invalid`` finding in the report), 2 usage (missing files, no or several trust options, unreadable key),
3 when verification could not be completed (e.g. the Sigstore trust root is unreachable).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from auditor.commands.common import add_output_args, emit
from auditor.domain import Report, Severity
from auditor.models.signing import VerifyResult, signature_finding, verify_model

NAME = "verify-model"
HELP = "verify an OpenSSF model-signing signature (model.sig) of a model directory"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_dir", metavar="DIR", help="the model directory that was signed")
    parser.add_argument("--signature", required=True, metavar="FILE", help="the signature bundle (model.sig)")
    trust = parser.add_mutually_exclusive_group(required=True)
    trust.add_argument("--key", metavar="PUB", help="ECDSA public key (PEM) of a key-based signature")
    trust.add_argument("--certificate", action="append", metavar="CERT",
                       help="certificate chain file of a certificate-based signature (repeatable)")
    trust.add_argument("--identity", metavar="ID", help="expected signer identity of a Sigstore (keyless) signature")
    parser.add_argument("--identity-provider", metavar="URL", help="OIDC issuer that vouched for --identity")
    parser.add_argument("--ignore-unsigned-files", action="store_true",
                        help="do not fail on files in DIR that the signature does not cover")
    add_output_args(parser)


def run(args: argparse.Namespace) -> int:
    model_dir, signature = Path(args.model_dir), Path(args.signature)
    result = verify_model(
        model_dir, signature, key=Path(args.key) if args.key else None,
        certificates=[Path(c) for c in args.certificate] if args.certificate else None,
        identity=args.identity, identity_provider=args.identity_provider,
        ignore_unsigned_files=args.ignore_unsigned_files)
    report = build_report(model_dir, signature, result)
    if args.format == "terminal" and not args.output:
        console = Console(highlight=False, soft_wrap=True)
        if result.verified:
            console.print(f"[green]verified[/green]: {escape(str(model_dir))} ({result.method}, "
                          f"signature {escape(str(signature))})")
        else:
            console.print(f"[bold red]INVALID[/bold red]: {escape(str(model_dir))}: {escape(result.message)}")
    else:
        emit(report, args)
    return report.gate().exit_code  # an unverified signature is a finding at/above low: exit 1


def build_report(model_dir: Path, signature: Path, result: VerifyResult) -> Report:
    report = Report(inputs=[str(model_dir), str(signature)], root_name=model_dir.name,
                    generated_at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat())
    report.model_signature = {"verified": result.verified, "method": result.method,
                                            "message": result.message}
    if not result.verified:
        report.findings.append(signature_finding(model_dir, signature, result, check=NAME))
    report.fail_on = Severity.LOW
    return report

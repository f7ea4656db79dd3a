"""A fixed report, built in code, that exercises every renderer: a small graph with a transitive path, a model
with a base model and a dataset, findings of several kinds and severities, skipped lines, and hostile strings in
every field that comes from strangers (names, summaries, model-card text, file names)."""

from __future__ import annotations

from auditor.domain import (
    ROOT_NODE,
    Artifact,
    DataSource,
    Edge,
    Finding,
    Location,
    ModelFile,
    ModelRef,
    Package,
    Report,
    Severity,
    Skipped,
    model_node,
    package_node,
)
from auditor.evidence import AdvisoryEvidence, Details, SeverityBasis
from auditor.ledger import ItemKind

SCRIPT = "<script>window.__pwned=1</script>"
ATTR = "\"><img src=x onerror=\"window.__pwned=2\">"
CLOSE = "</script><!--<script>window.__pwned=3</script>"
MD = "a|b`c`<b>bold</b>"
GENERATED_AT = "2026-11-23T12:00:00+00:00"
SHA_A = "a" * 64
SHA_B = "b" * 64
CVSS_HIGH = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"


def fixture_report() -> Report:
    report = Report(
        inputs=["requirements.txt"],
        root_name="demo-project",
        root_version="1.2.0",
        generated_at=GENERATED_AT,
        fail_on=Severity.HIGH,
        target={"python_version": "3.11", "platform": "x86_64-manylinux_2_28"},
    )
    req = "requirements.txt"
    report.add_package(Package(
        name="flask", version="2.0.1", direct=True, source="requirements",
        hashes=[f"sha256:{SHA_A}"], location=Location(req, 3),
        metadata={"license": "BSD-3-Clause", "summary": "A simple framework", "author": "Pallets",
                  "author_email": "contact@palletsprojects.invalid", "maintainer": "Pallets"},
        properties={"provenance": "none"},
        artifacts=[Artifact(filename="flask-2.0.1-py3-none-any.whl", hashes={"sha256": SHA_B})],
    ))
    report.add_package(Package(name="werkzeug", version="2.0.0", source="requirements",
                               metadata={"license": "Apache-2.0 OR MIT"}))
    report.add_package(Package(name="jinja2", version="3.0.0", source="requirements",
                               metadata={"license": "Some Custom License"}))
    report.add_package(Package(
        name="reqeusts", version="2.31.0", direct=True, source="requirements", location=Location(req, 5),
        metadata={"summary": f"totally requests {SCRIPT} {ATTR}", "license": f"MIT {CLOSE}"},
    ))
    report.add_package(Package(name="torch", version="2.0.0", direct=True, source="requirements",
                               location=Location(req, 7)))
    report.edges += [
        Edge(ROOT_NODE, package_node("flask"), "flask==2.0.1", origin="via-annotation"),
        Edge(package_node("flask"), package_node("werkzeug"), "Werkzeug>=2.0", origin="via-annotation"),
        Edge(package_node("flask"), package_node("jinja2"), "Jinja2>=3.0", origin="via-annotation"),
        Edge(ROOT_NODE, package_node("reqeusts"), "reqeusts==2.31.0", origin="via-annotation"),
        Edge(ROOT_NODE, package_node("torch"), "torch==2.0.0", marker="python_version >= '3.9'",
             origin="via-annotation"),
        Edge(model_node("acme/bert-finetuned"), model_node("google-bert/bert-base-uncased"), origin="hub"),
        Edge(model_node("acme/bert-finetuned"), model_node("acme/reviews", "dataset"), origin="hub"),
    ]
    report.models += [
        ModelRef(repo_id="acme/bert-finetuned", revision="main", location=Location("train.py", 12), origin="code",
                 resolved_revision="0123456789abcdef0123456789abcdef01234567", license="apache-2.0",
                 base_models=["google-bert/bert-base-uncased"], datasets=["acme/reviews"],
                 card={"pipeline_tag": "text-classification", "model_type": "bert",
                       "architectures": ["BertForSequenceClassification"], "description": SCRIPT},
                 files=[ModelFile(path=f"weights{ATTR}.bin", size=10, sha256=SHA_A)]),
        ModelRef(repo_id="google-bert/bert-base-uncased", via="acme/bert-finetuned", origin="model-card",
                 resolved_revision="89abcdef0123456789abcdef0123456789abcdef"),
        ModelRef(repo_id="acme/reviews", kind="dataset", via="acme/bert-finetuned", origin="model-card"),
    ]
    report.findings += [
        Finding(kind="vulnerability", id="PYSEC-2023-62", severity=Severity.HIGH,
                message="werkzeug 2.0.0 is affected by PYSEC-2023-62", package=("werkzeug", "2.0.0"),
                location=Location(req, 3), aliases=["CVE-2023-25577", "GHSA-xg9f-g7g7-2323"],
                paths=[["demo-project 1.2.0", "flask 2.0.1", "werkzeug 2.0.0"]],
                fix="upgrade werkzeug to 2.2.3", fixed_versions=["2.2.3"], check="advisories",
                summary="High resource usage when parsing multipart form data",
                details="Werkzeug's multipart form data parser will parse an unlimited number of parts, "
                        "including file parts.\n\nParts can be a small amount of bytes, but each requires CPU "
                        "time to parse and may use more memory as Python data.",
                references=["https://example.invalid/advisories/PYSEC-2023-62",
                            f"https://example.invalid/x?q={ATTR}", "javascript:alert(1)"],
                evidence=AdvisoryEvidence(
                    matched_by=("range",), ranges=(), records=("PYSEC-2023-62",),
                    basis=SeverityBasis(f"{CVSS_HIGH}: base score 7.5 (high), from PYSEC-2023-62", level="high",
                                        source="cvss", record="PYSEC-2023-62", cvss_vector=CVSS_HIGH,
                                        cvss_score=7.5))),
        Finding(kind="vulnerability", id="PYSEC-2099-1", severity=Severity.UNKNOWN,
                message="PYSEC-2099-1: torch.load runs code from a crafted checkpoint even with weights_only",
                package=("torch", "2.0.0"), location=Location(req, 7), aliases=["CVE-2099-0001"],
                fix="no fixed version", check="advisories",
                summary="torch.load runs code from a crafted checkpoint even with weights_only",
                details="A fictional advisory for the renderers: its record carries no CVSS vector and no "
                        "severity word, so its severity is unknown.\n\nThe full text is shown whole, once, "
                        f"and stays text: {SCRIPT}",
                references=["https://example.invalid/pytorch/advisories/1"],
                evidence=AdvisoryEvidence(
                    matched_by=("range",), ranges=(), records=("PYSEC-2099-1",),
                    basis=SeverityBasis("no severity in any record", level="unknown", source="none"))),
        Finding(kind="vulnerability", id="PYSEC-2021-66", severity=Severity.MEDIUM,
                message="jinja2 3.0.0 is affected by PYSEC-2021-66", package=("jinja2", "3.0.0"),
                location=Location(req, 3), paths=[["demo-project 1.2.0", "flask 2.0.1", "jinja2 3.0.0"]],
                fix="upgrade jinja2 to 3.0.1", check="advisories", ignored="not reachable: templates are static"),
        Finding(kind="typosquat", id="MLA-TYPOSQUAT", severity=Severity.CRITICAL,
                message=f"reqeusts looks like requests {SCRIPT}", package=("reqeusts", "2.31.0"),
                location=Location(req, 5), paths=[["demo-project 1.2.0", "reqeusts 2.31.0"]],
                evidence=Details.of({"target": "requests", "score": 0.96, "note": ATTR}), fix=f"use requests {MD}",
                check="typosquat"),
        Finding(kind="unsafe-model", id="MLA-UNSAFE-PICKLE", severity=Severity.LOW,
                message=f"acme/bert-finetuned ships a pickle file weights{ATTR}.bin",
                model=("acme/bert-finetuned", "main"), location=Location("train.py", 12),
                paths=[["demo-project 1.2.0", "acme/bert-finetuned@main"]],
                evidence=Details.of({"file": f"weights{ATTR}.bin", "opcodes": ["GLOBAL os.system"]}),
                fix="prefer the safetensors weights", check="models"),
        Finding(kind="unsafe-model", id="MLA-UNSAFE-PICKLE", severity=Severity.MEDIUM,
                message=f"pickle in {CLOSE}.pt", path=f"models/{CLOSE}.pt", check="scan"),
        Finding(kind="unpinned-revision", id="MLA-UNPINNED-REVISION", severity=Severity.INFO,
                message="acme/bert-finetuned is loaded at a branch, not a commit",
                model=("acme/bert-finetuned", "main"), location=Location("train.py", 12),
                fix="pin revision= to a commit sha", check="models"),
    ]
    report.ledger.extend([
        Skipped(reason="VCS requirement: not resolvable without running its build", file=req, line=9,
                requirement=f"git+https://example.invalid/{SCRIPT}.git", not_checked=["advisories"],
                kind=ItemKind.REQUIREMENT),
    ])
    report.ledger.record_skipped(ItemKind.MODEL_REFERENCE, "acme/reviews",
                                 "hub metadata could not be fetched (offline)")
    report.data_sources += [
        DataSource(name="advisories", source="PyPA advisory database (offline snapshot)", date="2026-11-20",
                   records=4321),
        DataSource(name="popularity", source="top packages list", date="2026-10-01", stale=True),
    ]
    report.warnings.append("ignore for PYSEC-2020-1 expired on 2026-01-01 (old): no longer ignored")
    return report


def empty_report() -> Report:
    """No packages, no findings: renderers must still produce valid documents."""
    return Report(inputs=["requirements.txt"], root_name="empty", generated_at=GENERATED_AT)

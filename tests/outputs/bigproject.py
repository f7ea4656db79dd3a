"""A generated large project for the output-size contracts (CONVENTIONS.md "Output size"): N packages in a layered
dependency graph, findings of every kind (advisories with and without fixes, several per package), two profiles
that hold some names at different versions, skipped items with many different reasons, exclusions, warnings, model
references, and optionally hostile long strings in every field that comes from strangers.

Deterministic (a seeded ``random.Random``), so a failure reproduces.
"""

from __future__ import annotations

import random

from auditor.domain import (
    ROOT_NODE,
    DataSource,
    Edge,
    Finding,
    Location,
    ModelRef,
    Package,
    Report,
    Severity,
    canonical_name,
    model_node,
)
from auditor.kinds import FindingKind
from auditor.ledger import ItemKind

HOSTILE = ("<script>alert(1)</script> | `code` **bold** [link](javascript:x) @everyone \u202e\u200b "
           "<details><summary>x</summary> ")
SEVERITIES = [Severity.CRITICAL, Severity.HIGH, Severity.UNKNOWN, Severity.MEDIUM, Severity.LOW, Severity.INFO]


def big_report(packages: int = 1000, *, hostile: bool = False, seed: int = 7, findings_per_kind: int = 40,
               vulnerable: int = 150) -> Report:
    rnd = random.Random(seed)
    long = (HOSTILE * 40) if hostile else ""
    report = Report(inputs=["requirements.txt", "requirements-gpu.txt", "uv.lock"], root_name="big-ml-project",
                    root_version="3.1.4", generated_at="2026-11-23T12:00:00+00:00", fail_on=Severity.HIGH,
                    target={"python_version": "3.11", "platform": "x86_64-manylinux_2_28"})
    names = [f"pkg-{i:04d}{'-' + long[:200] if hostile and i % 97 == 0 else ''}" for i in range(packages)]
    layers: list[list[str]] = [[], [], [], [], []]
    for index, name in enumerate(names):
        layer = 0 if index < packages // 10 else min(4, 1 + index * 4 // packages)
        layers[layer].append(name)
        report.add_package(Package(name=name, version=f"{1 + index % 5}.{index % 13}.{index % 7}",
                                   direct=layer == 0, source="uv.lock",
                                   location=Location("uv.lock", 10 + index * 9)))
        report.ledger.add(ItemKind.LOCKED_PACKAGE, name, file="uv.lock", line=10 + index * 9)
    # two profiles: a few names at a second version (resolved for the gpu profile, required by the project there)
    seconds = []
    for index in range(0, min(packages, 300), 6):
        other = report.add_package(Package(name=names[index], version=f"9.{index}.0", source="resolver",
                                           profiles=["requirements-gpu.txt"]))
        seconds.append(other)
        report.warnings.append(f"conflicting-pins: {other.name} differs between profiles: ...")

    def node(name: str) -> str:
        return next(p.node_id for p in report.packages.values() if p.name == canonical_name(name))

    nodes = {name: node(name) for name in names}
    for name in layers[0]:
        report.edges.append(Edge(ROOT_NODE, nodes[name], name, origin="lockfile"))
    for other in seconds:
        report.edges.append(Edge(ROOT_NODE, other.node_id, other.name, origin="resolver"))
    for depth in range(1, 5):
        for name in layers[depth]:
            for parent in rnd.sample(layers[depth - 1], k=min(len(layers[depth - 1]), rnd.randint(1, 3))):
                report.edges.append(Edge(nodes[parent], nodes[name], name, origin="lockfile"))
    packs = list(report.packages.values())
    victims = rnd.sample(packs, k=min(vulnerable, len(packs)))
    count = 0
    for package in victims:
        for _ in range(rnd.randint(1, 8)):
            count += 1
            sev = rnd.choice(SEVERITIES)
            fixed = [] if count % 4 == 0 else [f"{int(package.version.split('.')[0]) + rnd.randint(0, 2)}.99.{count}"]
            report.findings.append(Finding(
                kind=FindingKind.VULNERABILITY, id=f"PYSEC-2026-{count}", severity=sev,
                message=f"{package.name} {package.version} is affected by PYSEC-2026-{count}{long}",
                package=(package.name, package.version), location=package.location,
                aliases=[f"CVE-2026-{count}", f"GHSA-{count:04d}-aaaa-bbbb"], fixed_versions=fixed,
                fix=f"upgrade to {fixed[0]}" if fixed else "no fixed version", check="advisories",
                summary=f"summary of advisory {count}{long}", details=f"details {count}{long}",
                paths=[["big-ml-project 3.1.4", package.name]], profiles=list(package.profiles)))
    for kind in FindingKind:
        if kind is FindingKind.VULNERABILITY:
            continue
        for index in range(findings_per_kind):
            package = packs[(index * 31 + len(kind.value)) % len(packs)]
            model = kind.value.startswith(("unsafe", "pickle", "model", "unpinned", "trust", "missing-lic",
                                           "license", "signature", "unsigned"))
            report.findings.append(Finding(
                kind=kind, id=f"MLA-{kind.value.upper()}", severity=SEVERITIES[index % len(SEVERITIES)],
                message=f"{kind.value} finding {index}{long}",
                package=None if model else (package.name, package.version),
                model=(f"org-{index}/model-{index}{long[:80]}", "main") if model else None,
                location=Location("train.py", index + 1) if model else package.location, check=kind.value,
                ignored="accepted risk" if index == 0 else None))
    reasons = ["hashes not verified: offline, the pinned hashes were not compared with the index",
               "VCS requirement: not resolvable without running its build",
               "model reference computed at run time (args.model_name); the model it loads is not audited",
               f"the index has no release of this name{long}"]
    for index in range(400):
        item = report.ledger.add(ItemKind.HASHES if index % 4 == 0 else ItemKind.REQUIREMENT,
                                 f"req-{index}{long[:100]}", file="requirements.txt", line=index + 1,
                                 requirement=f"req-{index}=={index}.0")
        report.ledger.skip(item, reasons[index % len(reasons)] + (f" (unique reason {index})" if index % 50 == 0
                                                                  else ""))
    for index in range(60):
        report.ledger.skip(report.ledger.add(ItemKind.MODEL_FILE, f"weights-{index}.bin"),
                           f"format not recognised: reason variant {index % 30}{long[:50]}")
    for index in range(30):
        report.ledger.record_excluded(ItemKind.REQUIREMENT, f"win-only-{index}", "marker excludes the target "
                                      "(sys_platform == 'win32')", file="requirements.txt", line=500 + index)
    for item in report.ledger:
        if item.outcome.value == "pending":
            report.ledger.audited(item)
    for index in range(30):
        report.models.append(ModelRef(repo_id=f"org-{index}/model-{index}", revision="main",
                                      location=Location("train.py", index + 1), origin="code"))
        report.edges.append(Edge(ROOT_NODE, model_node(f"org-{index}/model-{index}"), origin="code"))
    report.data_sources += [DataSource(name="advisories", source="snapshot", date="2026-07-23", stale=True),
                            DataSource(name="malicious packages", source="snapshot", date="2026-07-07")]
    for index in range(12):
        report.warnings.append(f"warning number {index}: something the reader should know{long}")
    return report

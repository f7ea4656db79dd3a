"""CycloneDX 1.6 SBOM (JSON and XML) with ML-BOM components, built with ``cyclonedx-python-lib``.

Why this shape:
- bom-refs are purls for packages and graph node ids for models/datasets, so the same project always yields the
  same refs and the ``dependencies`` section can carry every edge of the audit graph (not a flat list);
- ``serialNumber`` is a UUIDv5 of the report's content (without timestamp and timings), so re-running the audit on
  unchanged inputs reproduces the same SBOM identity, and the JSON and XML renderings of one report share it;
- the library has no model-card support yet, so ``modelCard`` is added to the serialised document afterwards at the
  schema's position; tests validate the final text against the library's 1.6 JSON/XML schemas.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
import warnings
import xml.etree.ElementTree as ET  # noqa: S405 - only parses the document we just generated ourselves
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cyclonedx.contrib.hash.factories import HashTypeFactory
from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import HashType, Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.contact import OrganizationalContact, OrganizationalEntity
from cyclonedx.model.dependency import Dependency
from cyclonedx.model.license import License
from cyclonedx.model.tool import ToolRepository
from cyclonedx.model.vulnerability import (
    BomTarget,
    Vulnerability,
    VulnerabilityAdvisory,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from packageurl import PackageURL

from auditor import __version__
from auditor.domain import (
    ROOT_NODE,
    Finding,
    ModelRef,
    Package,
    RenderOptions,
    Report,
    Severity,
    canonical_name,
    model_node,
)
from auditor.graph import build_graph, finding_node
from auditor.outputs.severity import cvss_score, cvss_vector, severity_source

SCHEMA = SchemaVersion.V1_6
CDX_NS = "http://cyclonedx.org/schema/bom/1.6"
SERIAL_NAMESPACE = uuid.UUID("6d6c6175-6469-7400-8000-63796364786e")  # fixed: "mlaudit"/"cycdxn" bytes
_HEX = {"md5": 32, "sha1": 40, "sha256": 64, "sha384": 96, "sha512": 128}
_MAX_PROPERTY = 2000


@dataclass
class _Built:
    bom: Bom
    model_cards: dict[str, dict[str, Any]] = field(default_factory=dict)  # bom-ref -> modelCard (JSON shape)


def render(report: Report, options: RenderOptions = RenderOptions()) -> str:  # noqa: B008 - frozen
    """``--format cyclonedx``: the JSON rendering."""
    return render_json(report, options)


def render_json(report: Report, options: RenderOptions = RenderOptions()) -> str:  # noqa: B008 - frozen
    built = build_bom(report, vex=options.sbom_vex)
    text = _output(built.bom, OutputFormat.JSON)
    doc = json.loads(text)
    if built.model_cards:
        for component in doc.get("components", []):
            card = built.model_cards.get(component.get("bom-ref", ""))
            if card:
                component["modelCard"] = card
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# Characters XML 1.0 cannot carry even escaped (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF). Audited
# metadata (a licence or author field with an ANSI escape) may contain them; they become U+FFFD, not a crash.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def render_xml(report: Report, options: RenderOptions = RenderOptions()) -> str:  # noqa: B008 - frozen
    built = build_bom(report, vex=options.sbom_vex)
    # Serialise unindented (the library re-parses its output to indent it, which fails on invalid characters),
    # clean, then indent ourselves.
    text = _XML_INVALID.sub("\ufffd", _output(built.bom, OutputFormat.XML, indent=None))
    ET.register_namespace("", CDX_NS)
    root = ET.fromstring(text)  # noqa: S314 - our own freshly generated document
    for component in root.iter(f"{{{CDX_NS}}}component"):
        card = built.model_cards.get(component.get("bom-ref", ""))
        if card:
            _insert_xml_card(component, card)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --------------------------------------------------------------------------------------------------- building


def build_bom(report: Report, *, vex: bool = False) -> _Built:
    """The library ``Bom`` for a report plus model cards to splice in (see module docstring)."""
    graph = build_graph(report)
    refs: dict[str, str] = {}  # graph node id -> bom-ref
    components: list[Component] = []
    root = _root_component(report)
    refs[ROOT_NODE] = str(root.bom_ref.value)

    for package in sorted(report.packages.values(), key=lambda p: p.name):
        component = _package_component(package)
        refs[package.node_id] = str(component.bom_ref.value)
        components.append(component)

    built = _Built(bom=Bom())
    for ref in _unique_models(report.models):
        component = _model_component(ref)
        refs[ref.node_id] = str(component.bom_ref.value)
        components.append(component)
    for ref in _unique_models(report.models):
        if ref.kind != "dataset":
            built.model_cards[refs[ref.node_id]] = _model_card(ref, refs)

    for node in sorted(graph.nodes):  # nodes only known from edges (e.g. a base model found on the hub)
        if node not in refs:
            component = _unknown_component(node)
            refs[node] = str(component.bom_ref.value)
            components.append(component)

    by_ref = {str(c.bom_ref.value): c for c in components}
    by_ref[refs[ROOT_NODE]] = root
    dependencies: list[Dependency] = []
    for node in sorted(graph.nodes):
        children = sorted({refs[child] for child in graph.successors(node)})
        dependencies.append(Dependency(ref=by_ref[refs[node]].bom_ref,
                                       dependencies=[Dependency(ref=by_ref[c].bom_ref) for c in children]))

    bom = built.bom
    bom.serial_number = _serial(report, vex)
    bom.metadata = BomMetaData(
        timestamp=_timestamp(report.generated_at),
        component=root,
        tools=ToolRepository(components=[Component(type=ComponentType.APPLICATION, name="mlaudit",
                                                   version=__version__, bom_ref="mlaudit-tool")]),
        properties=_metadata_properties(report),
    )
    bom.components = components
    bom.dependencies = dependencies
    if vex:
        bom.vulnerabilities = _vulnerabilities(report, refs)
    return built


def _unique_models(models: Iterable[ModelRef]) -> list[ModelRef]:
    """One component per graph node: the same repo referenced twice (two revisions, two files) is merged."""
    seen: dict[str, ModelRef] = {}
    for ref in models:
        seen.setdefault(ref.node_id, ref)
    return [seen[k] for k in sorted(seen)]


def _root_component(report: Report) -> Component:
    name = report.root_name or "project"
    version = report.root_version
    ref = f"root:{canonical_name(name)}" + (f"@{version}" if version else "")
    purl = PackageURL(type="pypi", name=canonical_name(name), version=version) if version else None
    meta = report.root_metadata
    description = None
    if isinstance(meta, dict) and isinstance(meta.get("description"), str):
        description = _short(meta["description"], 500)
    return Component(type=ComponentType.APPLICATION, name=_short(name, 500), version=version, bom_ref=_short(ref),
                     purl=purl,
                     description=description)


def package_purl(package: Package) -> PackageURL:
    return PackageURL(type="pypi", name=canonical_name(package.name), version=package.version)


def _package_component(package: Package) -> Component:
    purl = package_purl(package)
    meta = package.metadata
    props = [Property(name="mlaudit:direct", value="true" if package.direct else "false")]
    if package.source:
        props.append(Property(name="mlaudit:source", value=_short(package.source)))
    if not package.resolved:
        props.append(Property(name="mlaudit:resolved", value="false"))
    if package.markers:
        props.append(Property(name="mlaudit:marker", value=_short(package.markers)))
    if package.location is not None:
        props.append(Property(name="mlaudit:location", value=_short(str(package.location))))
    surfaced = package.surfaced_properties()
    for key in sorted(surfaced):
        props.append(Property(name=f"mlaudit:{_short(key, 100)}", value=_short(surfaced[key])))
    for artifact in sorted(package.artifacts, key=lambda a: a.filename):
        props.append(Property(name="mlaudit:artifact", value=_short(artifact.filename)))
    summary = meta.get("summary")
    return Component(
        type=ComponentType.LIBRARY,
        name=_short(package.name, 500),
        version=_short(package.version, 200),
        bom_ref=purl.to_string(),
        purl=purl,
        hashes=_hashes(package),
        licenses=_licenses(meta.get("license_expression") or meta.get("license")),
        supplier=_supplier(meta),
        authors=_authors(meta),
        description=_short(summary, 500) if isinstance(summary, str) and summary.strip() else None,
        properties=props,
    )


def _hashes(package: Package) -> list[HashType]:
    pairs: set[tuple[str, str]] = set()
    for text in package.hashes:
        alg, _, value = text.partition(":")
        pairs.add((alg.lower(), value.lower()))
    for artifact in package.artifacts:
        for alg, value in artifact.hashes.items():
            pairs.add((alg.lower(), str(value).lower()))
    factory = HashTypeFactory()
    out: list[HashType] = []
    for alg, value in sorted(pairs):
        if _HEX.get(alg) == len(value) and re.fullmatch(r"[0-9a-f]+", value):
            out.append(factory.from_hashlib_alg(alg, value))
    return out


def _licenses(value: object) -> list[License]:
    if not isinstance(value, str) or not value.strip():
        return []
    text = value.strip()
    if "\n" in text or len(text) > 200:  # a whole licence text pasted into the field: keep its first line as name
        text = _short(text.splitlines()[0].strip() or "see package metadata", 200)
    return [LicenseFactory().make_from_string(text)]


def _supplier(meta: dict[str, Any]) -> OrganizationalEntity | None:
    name = meta.get("supplier") or meta.get("maintainer")
    if isinstance(name, str) and name.strip():
        return OrganizationalEntity(name=_short(name, 200))
    return None


def _authors(meta: dict[str, Any]) -> list[OrganizationalContact]:
    name = meta.get("author")
    email = meta.get("author_email")
    name = _short(name, 200) if isinstance(name, str) and name.strip() else None
    email = _short(email, 200) if isinstance(email, str) and email.strip() else None
    if name is None and email is None:
        return []
    if email is not None and name is None and "<" in email:  # "Jane Doe <jane@example.org>" in author_email
        name, email = email, None
    return [OrganizationalContact(name=name, email=email)]


def _model_component(ref: ModelRef) -> Component:
    is_dataset = ref.kind == "dataset"
    version = ref.resolved_revision or ref.revision
    purl: PackageURL | None = None
    if not is_dataset and "/" in ref.repo_id:
        namespace, name = ref.repo_id.split("/", 1)
        purl = PackageURL(type="huggingface", namespace=namespace, name=name,
                          version=version.lower() if version else None)
    props: list[Property] = []
    if ref.revision:
        props.append(Property(name="mlaudit:revision", value=_short(ref.revision)))
    if ref.origin:
        props.append(Property(name="mlaudit:origin", value=_short(ref.origin)))
    if ref.location is not None:
        props.append(Property(name="mlaudit:location", value=_short(str(ref.location))))
    if ref.trust_remote_code is not None:
        props.append(Property(name="mlaudit:trust-remote-code", value=str(ref.trust_remote_code).lower()))
    if ref.gated is not None:
        props.append(Property(name="mlaudit:gated", value=str(ref.gated).lower()))
    if ref.via:
        props.append(Property(name="mlaudit:via", value=_short(ref.via)))
    for base in ref.base_models:
        props.append(Property(name="mlaudit:base-model", value=_short(base)))
    for f in sorted(ref.files, key=lambda f: f.path)[:500]:
        detail = f.path + (f" sha256:{f.sha256}" if f.sha256 else "")
        props.append(Property(name="mlaudit:file", value=_short(detail)))
    return Component(
        type=ComponentType.DATA if is_dataset else ComponentType.MACHINE_LEARNING_MODEL,
        name=_short(ref.repo_id, 500),
        version=_short(version, 200) if version else None,
        bom_ref=_short(ref.node_id, 1000),
        purl=purl,
        licenses=_licenses(ref.license),
        properties=props,
    )


def _model_card(ref: ModelRef, refs: dict[str, str]) -> dict[str, Any]:
    """What the audit knows about a model, in CycloneDX ``modelCard`` shape (JSON form)."""
    card = ref.card or {}
    params: dict[str, Any] = {}
    task = card.get("pipeline_tag") or card.get("task")
    if isinstance(task, str) and task:
        params["task"] = _short(task, 200)
    family = card.get("model_type") or card.get("library_name")
    if isinstance(family, str) and family:
        params["architectureFamily"] = _short(family, 200)
    arch = card.get("architectures") or card.get("architecture")
    if isinstance(arch, list) and arch:
        arch = ", ".join(str(a) for a in arch[:5])
    if isinstance(arch, str) and arch:
        params["modelArchitecture"] = _short(arch, 200)
    datasets: list[str] = list(ref.datasets)
    card_ds = card.get("datasets")
    if isinstance(card_ds, list):
        datasets.extend(str(d) for d in card_ds)
    elif isinstance(card_ds, str):
        datasets.append(card_ds)
    ds_refs = []
    for ds in dict.fromkeys(datasets):
        node = model_node(ds, "dataset")
        if node in refs:
            ds_refs.append({"ref": refs[node]})
    if ds_refs:
        params["datasets"] = ds_refs
    out: dict[str, Any] = {"bom-ref": f"{refs[ref.node_id]}#model-card"}
    if params:
        out["modelParameters"] = params
    props = []
    for base in ref.base_models:
        props.append({"name": "mlaudit:base-model", "value": _short(base)})
    for ds in dict.fromkeys(datasets):
        props.append({"name": "mlaudit:dataset", "value": _short(ds)})
    if props:
        out["properties"] = props
    return out


def _insert_xml_card(component: ET.Element, card: dict[str, Any]) -> None:
    """Build ``<modelCard>`` from the JSON-shaped card and place it where the 1.6 XSD sequence wants it."""
    q = f"{{{CDX_NS}}}"
    el = ET.Element(f"{q}modelCard", {"bom-ref": card["bom-ref"]})
    params = card.get("modelParameters")
    if params:
        p = ET.SubElement(el, f"{q}modelParameters")
        for key in ("task", "architectureFamily", "modelArchitecture"):
            if key in params:
                ET.SubElement(p, f"{q}{key}").text = params[key]
        if params.get("datasets"):
            ds = ET.SubElement(p, f"{q}datasets")
            for item in params["datasets"]:
                ET.SubElement(ds, f"{q}ref").text = item["ref"]
    if card.get("properties"):
        props = ET.SubElement(el, f"{q}properties")
        for prop in card["properties"]:
            ET.SubElement(props, f"{q}property", {"name": prop["name"]}).text = prop["value"]
    after = {f"{q}data", f"{q}cryptoProperties", f"{q}tags"}
    children = list(component)
    index = next((i for i, child in enumerate(children) if child.tag in after), len(children))
    component.insert(index, el)


def _unknown_component(node: str) -> Component:
    prefix, _, name = node.partition(":")
    if prefix == "pypi":
        return Component(type=ComponentType.LIBRARY, name=name or node, bom_ref=node,
                         properties=[Property(name="mlaudit:resolved", value="false")])
    if prefix == "hf-dataset":
        return Component(type=ComponentType.DATA, name=name or node, bom_ref=node)
    if prefix == "hf-model":
        return Component(type=ComponentType.MACHINE_LEARNING_MODEL, name=name or node, bom_ref=node)
    return Component(type=ComponentType.LIBRARY, name=node, bom_ref=node)


def _metadata_properties(report: Report) -> list[Property]:
    props = [
        Property(name="mlaudit:tool-version", value=__version__),
        Property(name="mlaudit:complete", value="true" if report.complete else "false"),
    ]
    for item in report.skipped:
        what = f" {item.requirement or item.subject}"
        props.append(Property(name="mlaudit:skipped",
                              value=_short(f"{item.kind.value} {item.where}{what}: {item.reason}".strip())))
    for ds in sorted(report.data_sources, key=lambda d: d.name):
        parts = [ds.source]
        if ds.date:
            parts.append(f"date={ds.date}")
        if ds.records is not None:
            parts.append(f"records={ds.records}")
        if ds.stale:
            parts.append("stale")
        props.append(Property(name=f"mlaudit:data:{_short(ds.name, 100)}", value=_short(" ".join(parts))))
    for key in sorted(report.target):
        props.append(Property(name=f"mlaudit:target:{key}", value=_short(report.target[key])))
    for path in report.inputs:
        props.append(Property(name="mlaudit:input", value=_short(path)))
    if report.policy is not None and report.policy.summary():
        props.append(Property(name="mlaudit:policy", value=_short(report.policy.summary())))
    return props


# --------------------------------------------------------------------------------------------------- VEX

MAX_DETAIL = 100_000
_SEVERITY = {s: VulnerabilitySeverity(s.value) for s in Severity}  # CycloneDX has ``unknown`` too


def _ratings(finding: Finding, source: VulnerabilitySource) -> list[VulnerabilityRating]:
    """The finding's severity; with the CVSS vector and score that decided it when one did (the VEX reader can
    re-score it), and ``unknown`` as ``unknown`` (never a guessed level)."""
    vector = cvss_vector(finding)
    score = cvss_score(finding)
    if vector and score is not None:
        method = (VulnerabilityScoreSource.CVSS_V4 if vector.startswith("CVSS:4")
                  else VulnerabilityScoreSource.CVSS_V3_1 if vector.startswith("CVSS:3.1")
                  else VulnerabilityScoreSource.CVSS_V3)
        return [VulnerabilityRating(source=source, severity=_SEVERITY[finding.severity], method=method,
                                    score=Decimal(str(score)), vector=vector)]
    justification = severity_source(finding)
    return [VulnerabilityRating(source=source, severity=_SEVERITY[finding.severity],
                                justification=_short(justification, 1000) if justification else None)]


def _vulnerabilities(report: Report, refs: dict[str, str]) -> list[Vulnerability]:
    out: dict[str, Vulnerability] = {}
    for finding in report.findings:
        node = finding_node(finding, report)
        if node is not None and node not in refs and finding.model is not None:
            node = model_node(finding.model[0], "dataset")
        target = refs.get(node) if node else None
        key = f"{finding.id}|{target or finding.path or ''}|{finding.kind}"
        if key in out:
            continue
        out[key] = _vulnerability(finding, target, key)
    return [out[k] for k in sorted(out)]


def _vulnerability(finding: Finding, target: str | None, key: str) -> Vulnerability:
    source = VulnerabilitySource(name=_source_name(finding))
    references = [VulnerabilityReference(id=alias, source=VulnerabilitySource(name=_id_source(alias)))
                  for alias in sorted(set(finding.aliases) - {finding.id})]
    advisories: list[VulnerabilityAdvisory] = []
    for url in finding.references[:20]:
        if re.fullmatch(r"https?://[^\s<>\"'`{}|\\^]+", url):
            advisories.append(VulnerabilityAdvisory(url=XsUri(url)))
    props = [Property(name="mlaudit:kind", value=finding.kind)]
    if finding.path:
        props.append(Property(name="mlaudit:path", value=_short(finding.path)))
    if finding.ignored is not None:
        props.append(Property(name="mlaudit:ignored", value=_short(finding.ignored)))
    recommendation = finding.fix
    if not recommendation and finding.fixed_versions:
        recommendation = "upgrade to " + " or ".join(finding.fixed_versions[:5])
    return Vulnerability(
        bom_ref="vuln:" + hashlib.sha256(key.encode()).hexdigest()[:16],
        id=finding.id,
        source=source,
        references=references,
        ratings=_ratings(finding, source),
        description=_short(finding.summary or finding.message, 2000),
        detail=_detail(finding),
        recommendation=_short(recommendation, 1000) if recommendation else None,
        advisories=advisories,
        affects=[BomTarget(ref=target)] if target else [],
        properties=props,
    )


def _detail(finding: Finding) -> str | None:
    """The advisory's full text when it has one (bounded only against hostile sizes), else the message."""
    if finding.details:
        return _short(finding.details, MAX_DETAIL)
    return _short(finding.message, 2000) if finding.summary else None


def _id_source(identifier: str) -> str:
    prefix = identifier.split("-", 1)[0].upper()
    return {"CVE": "NVD", "GHSA": "GitHub Advisory Database", "PYSEC": "PyPA Advisory Database",
            "MAL": "OSV malicious packages", "OSV": "OSV"}.get(prefix, "OSV")


def _source_name(finding: Finding) -> str:
    if finding.kind in ("vulnerability", "malicious"):
        return _id_source(finding.id)
    return "mlaudit"


# --------------------------------------------------------------------------------------------------- helpers


def _serial(report: Report, vex: bool) -> uuid.UUID:
    """UUIDv5 of the content: same project + same data -> same serialNumber (timestamps/timings excluded)."""
    content = {
        "tool": __version__,
        "root": [report.root_name, report.root_version],
        "packages": [[p.name, p.version, sorted(p.hashes), p.metadata.get("license"), sorted(p.surfaced_properties().items())]
                     for p in sorted(report.packages.values(), key=lambda p: p.name)],
        "edges": sorted([e.parent, e.child] for e in report.edges),
        "models": sorted([m.node_id, m.revision or "", m.resolved_revision or ""] for m in report.models),
        "data": sorted([d.name, d.source, d.date or ""] for d in report.data_sources),
        "complete": report.complete,
        "vex": sorted([f.id, f.kind, f.severity.value, str(f.package), str(f.model), f.path or "",
                       f.ignored or ""] for f in report.findings) if vex else [],
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()
    return uuid.uuid5(SERIAL_NAMESPACE, digest)


def _timestamp(value: str | None) -> dt.datetime:
    if value:
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
        except ValueError:
            pass
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _short(value: object, limit: int = _MAX_PROPERTY) -> str:
    """Bound free text from package metadata; strip NULs and other characters XML 1.0 cannot carry."""
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _output(bom: Bom, fmt: OutputFormat, indent: int | None = None) -> str:
    """Serialise with the library; its warning about a root without dependencies (empty project) is not ours."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return make_outputter(bom, fmt, SCHEMA).output_as_string(indent=indent)


__all__ = ["render", "render_json", "render_xml", "build_bom", "package_purl"]

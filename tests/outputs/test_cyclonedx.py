"""CycloneDX 1.6: schema-valid JSON and XML, every graph edge, ML-BOM components, VEX, and stable identities."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from cyclonedx.validation.xml import XmlValidator

from auditor.domain import ModelRef, Package, RenderOptions
from auditor.graph import build_graph
from auditor.outputs import FORMATS, get_renderer
from auditor.outputs.cyclonedx import CDX_NS, render_json, render_xml
from tests.outputs.conftest import check_golden
from tests.outputs.fixture import empty_report, fixture_report
from tests.support.fixtures import EVAL_INPUTS

VEX = RenderOptions(sbom_vex=True)
NS = {"c": CDX_NS}


@pytest.mark.parametrize("vex", [False, True])
def test_json_and_xml_validate_against_the_1_6_schema(vex: bool) -> None:
    report, options = fixture_report(), RenderOptions(sbom_vex=vex)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(render_json(report, options)) is None
    assert XmlValidator(SchemaVersion.V1_6).validate_str(render_xml(report, options)) is None


def test_empty_project_is_still_a_valid_bom() -> None:
    report = empty_report()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(render_json(report)) is None
    assert XmlValidator(SchemaVersion.V1_6).validate_str(render_xml(report)) is None


def test_golden_json_and_xml() -> None:
    check_golden("sbom.cdx.json", render_json(fixture_report(), VEX))
    check_golden("sbom.cdx.xml", render_xml(fixture_report(), VEX))


def test_registered_formats() -> None:
    assert {"cyclonedx", "cyclonedx-json", "cyclonedx-xml"} <= set(FORMATS)
    assert json.loads(get_renderer("cyclonedx")(fixture_report()))["specVersion"] == "1.6"
    assert ET.fromstring(get_renderer("cyclonedx-xml")(fixture_report())).tag == f"{{{CDX_NS}}}bom"


def test_packages_carry_purl_hashes_licence_supplier_author_properties() -> None:
    doc = json.loads(render_json(fixture_report()))
    comps = {c["bom-ref"]: c for c in doc["components"]}
    flask = comps["pkg:pypi/flask@2.0.1"]
    assert flask["purl"] == "pkg:pypi/flask@2.0.1" and flask["version"] == "2.0.1"
    assert {h["content"] for h in flask["hashes"]} == {"a" * 64, "b" * 64}  # Package.hashes + artifact hashes
    assert flask["licenses"] == [{"license": {"id": "BSD-3-Clause"}}]
    assert flask["supplier"]["name"] == "Pallets" and flask["authors"][0]["name"] == "Pallets"
    props = {p["name"]: p["value"] for p in flask["properties"]}
    assert props["mlaudit:provenance"] == "none" and props["mlaudit:direct"] == "true"
    assert comps["pkg:pypi/werkzeug@2.0.0"]["licenses"] == [{"expression": "Apache-2.0 OR MIT"}]
    assert comps["pkg:pypi/jinja2@3.0.0"]["licenses"] == [{"license": {"name": "Some Custom License"}}]


def test_every_graph_edge_is_in_dependencies() -> None:
    report = fixture_report()
    doc = json.loads(render_json(report))
    refs = {c["bom-ref"] for c in doc["components"]} | {doc["metadata"]["component"]["bom-ref"]}
    deps = {d["ref"]: set(d.get("dependsOn", [])) for d in doc["dependencies"]}
    assert set(deps) == refs  # every component has an entry, even leaves
    edges = {(a, b) for a, children in deps.items() for b in children}
    graph = build_graph(report)
    assert len(edges) == graph.number_of_edges() == 8  # 7 explicit edges + root -> the referenced model
    root = doc["metadata"]["component"]["bom-ref"]
    assert root == "root:demo-project@1.2.0"
    assert ("pkg:pypi/flask@2.0.1", "pkg:pypi/werkzeug@2.0.0") in edges
    assert (root, "hf-model:acme/bert-finetuned") in edges
    assert ("hf-model:acme/bert-finetuned", "hf-dataset:acme/reviews") in edges
    assert ("hf-model:acme/bert-finetuned", "hf-model:google-bert/bert-base-uncased") in edges


def test_models_and_datasets_are_ml_bom_components_with_a_model_card() -> None:
    doc = json.loads(render_json(fixture_report()))
    comps = {c["bom-ref"]: c for c in doc["components"]}
    model = comps["hf-model:acme/bert-finetuned"]
    assert model["type"] == "machine-learning-model"
    assert model["purl"] == "pkg:huggingface/acme/bert-finetuned@0123456789abcdef0123456789abcdef01234567"
    params = model["modelCard"]["modelParameters"]
    assert params["task"] == "text-classification"
    assert params["architectureFamily"] == "bert"
    assert params["modelArchitecture"] == "BertForSequenceClassification"
    assert params["datasets"] == [{"ref": "hf-dataset:acme/reviews"}]
    assert comps["hf-dataset:acme/reviews"]["type"] == "data"
    assert "modelCard" not in comps["hf-dataset:acme/reviews"]  # the schema allows cards on models only
    root = ET.fromstring(render_xml(fixture_report()))
    cards = root.findall(".//c:component/c:modelCard", NS)
    assert len(cards) == 2
    assert root.find(".//c:component[@bom-ref='hf-model:acme/bert-finetuned']/c:modelCard/c:modelParameters/c:task",
                     NS).text == "text-classification"  # type: ignore[union-attr]


def test_metadata_has_tool_data_versions_and_completeness() -> None:
    doc = json.loads(render_json(fixture_report()))
    meta = doc["metadata"]
    assert meta["timestamp"] == "2026-11-23T12:00:00+00:00"
    assert meta["tools"]["components"][0]["name"] == "mlaudit"
    props = [(p["name"], p["value"]) for p in meta["properties"]]
    assert ("mlaudit:complete", "false") in props
    assert any(n == "mlaudit:skipped" and "model-reference" in v and "acme/reviews" in v for n, v in props)
    assert any(n == "mlaudit:data:advisories" and "2026-11-20" in v for n, v in props)
    assert any(n == "mlaudit:skipped" and "requirements.txt:9" in v for n, v in props)


def test_vulnerabilities_only_with_vex() -> None:
    assert "vulnerabilities" not in json.loads(render_json(fixture_report()))
    doc = json.loads(render_json(fixture_report(), VEX))
    refs = {c["bom-ref"] for c in doc["components"]}
    vulns = doc["vulnerabilities"]
    assert len(vulns) == 7
    werkzeug = next(v for v in vulns if v["id"] == "PYSEC-2023-62")
    assert werkzeug["affects"] == [{"ref": "pkg:pypi/werkzeug@2.0.0"}]
    assert werkzeug["ratings"][0]["severity"] == "high"
    assert werkzeug["recommendation"] == "upgrade werkzeug to 2.2.3"
    assert {r["id"] for r in werkzeug["references"]} == {"CVE-2023-25577", "GHSA-xg9f-g7g7-2323"}
    for vuln in vulns:
        assert all(a["ref"] in refs for a in vuln.get("affects", []))
    # the explicit argument wins over the report property
    assert "vulnerabilities" not in json.loads(render_json(fixture_report(), RenderOptions(sbom_vex=False)))


def test_serial_and_refs_are_stable_and_content_derived() -> None:
    first, second = json.loads(render_json(fixture_report())), json.loads(render_json(fixture_report()))
    assert first["serialNumber"] == second["serialNumber"]
    assert first["serialNumber"].startswith("urn:uuid:")
    assert [c["bom-ref"] for c in first["components"]] == [c["bom-ref"] for c in second["components"]]
    xml_serial = ET.fromstring(render_xml(fixture_report())).get("serialNumber")
    assert xml_serial == first["serialNumber"]  # one report, one identity, whatever the encoding
    later = fixture_report()
    later.generated_at = "2027-01-01T00:00:00+00:00"
    later.timings["resolve"] = 1.5
    assert json.loads(render_json(later))["serialNumber"] == first["serialNumber"]
    changed = fixture_report()
    changed.add_package(Package(name="numpy", version="1.26.0"))
    assert json.loads(render_json(changed))["serialNumber"] != first["serialNumber"]


def test_hostile_metadata_cannot_break_the_documents() -> None:
    report = fixture_report()
    report.add_package(Package(name="evil", version="1.0", hashes=["sha256:not-hex", "md5:" + "0" * 32],
                               metadata={"license": "MIT\n" + "x" * 5000, "summary": "nul\x00byte </bom>",
                                         "author_email": "Jane <j@example.invalid>"}))
    report.add_package(Package(name="ctl\x01name", version="1.0\x02", metadata={"summary": "bell\x07"}))
    report.models[0].card["pipeline_tag"] = "nul\x00task"
    report.models.append(ModelRef(repo_id="org/ctl\x1bmodel", revision="r\x00"))
    text_json, text_xml = render_json(report, VEX), render_xml(report, VEX)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text_json) is None
    assert XmlValidator(SchemaVersion.V1_6).validate_str(text_xml) is None
    evil = next(c for c in json.loads(text_json)["components"] if c["name"] == "evil")
    assert [h["alg"] for h in evil["hashes"]] == ["MD5"]  # the malformed sha256 is dropped, not emitted
    assert evil["licenses"] == [{"license": {"id": "MIT"}}]  # first line of a pasted licence text


def test_large_eval_graph_is_valid_and_keeps_every_edge() -> None:
    from bench.sbom import report_from_resolved

    report = report_from_resolved(EVAL_INPUTS / "large.resolved.txt")
    text_json, text_xml = render_json(report, VEX), render_xml(report, VEX)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text_json) is None
    assert XmlValidator(SchemaVersion.V1_6).validate_str(text_xml) is None
    doc = json.loads(text_json)
    assert len(doc["components"]) == len(report.packages) == 201
    edges = sum(len(d.get("dependsOn", [])) for d in doc["dependencies"])
    assert edges == build_graph(report).number_of_edges() == len({(e.parent, e.child) for e in report.edges})

"""Small pure pieces: Integrity API URL derivation, page parsing (PEP 740 keys), declared-source matching, levels."""

from __future__ import annotations

import pytest

from auditor.domain import Package, Report
from auditor.pkgindex import parse_html_page, parse_json_page
from auditor.provenance.integrity import integrity_base, integrity_url
from auditor.provenance.source import declared_urls_from_core_metadata, repo_key, source_match
from auditor.provenance.summary import summarise
from auditor.provenance.verify import PublisherInfo


def test_integrity_base_from_index_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLAUDIT_INTEGRITY_URL", raising=False)
    assert integrity_base("https://idx.example/simple/") == "https://idx.example/integrity"
    assert integrity_base("http://127.0.0.1:8080/mirror/simple") == "http://127.0.0.1:8080/mirror/integrity"
    assert integrity_base("https://idx.example/other/") == "https://idx.example/integrity"
    monkeypatch.setenv("MLAUDIT_INTEGRITY_URL", "http://127.0.0.1:9/api/")
    assert integrity_base("https://idx.example/simple") == "http://127.0.0.1:9/api"
    assert integrity_url("http://h/integrity", "Foo_Bar", "1.0", "foo_bar-1.0.tar.gz") == \
        "http://h/integrity/foo-bar/1.0/foo_bar-1.0.tar.gz/provenance"


def test_html_page_reads_hash_provenance_and_metadata_attributes() -> None:
    html = ('<a href="../../files/alpha-1.0-py3-none-any.whl#sha256=ABCD" data-provenance="../../p/alpha.prov" '
            'data-core-metadata="sha256=ef">alpha-1.0-py3-none-any.whl</a>'
            '<a href="/files/alpha-1.0.tar.gz#sha256=12">alpha-1.0.tar.gz</a>')
    files = parse_html_page(html, "http://127.0.0.1:1/simple/alpha/")
    wheel, sdist = files
    assert (wheel.sha256, wheel.kind, wheel.version, wheel.project) == ("abcd", "wheel", "1.0", "alpha")
    assert wheel.provenance_url == "http://127.0.0.1:1/p/alpha.prov" and wheel.provenance_listed
    assert wheel.core_metadata and not sdist.core_metadata
    assert not sdist.provenance_listed and sdist.provenance_url is None


def test_json_page_null_provenance_is_listed_but_absent() -> None:
    data = {"files": [{"filename": "alpha-1.0.tar.gz", "url": "x", "hashes": {"sha256": "aa"}, "provenance": None,
                       "upload-time": "2024-09-12T10:52:16.589559Z"},
                      {"filename": "alpha-1.1.tar.gz", "url": "y", "hashes": {}}]}
    first, second = parse_json_page(data, "http://127.0.0.1:1/simple/alpha/")
    assert first.provenance_listed and first.provenance_url is None
    assert first.upload_time == "2024-09-12T10:52:16.589559Z" and second.upload_time is None
    assert not second.provenance_listed and second.sha256 is None


@pytest.mark.parametrize(("url", "key"), [
    ("https://github.com/Psf/Requests.git", "github.com/psf/requests"),
    ("https://www.github.com/psf/requests/issues", "github.com/psf/requests"),
    ("https://gitlab.com/group/sub/project/-/tree/main", "gitlab.com/group/sub/project"),
    ("https://example.org/", None),
    ("https://github.com/sponsors/someone", None),
])
def test_repo_key(url: str, key: str | None) -> None:
    assert repo_key(url) == key


def test_source_match_outcomes() -> None:
    gh = PublisherInfo(kind="GitHub", repository="psf/requests", workflow="publish.yml")
    assert source_match([gh], ["https://github.com/psf/requests"]) == "true"
    assert source_match([gh], ["https://github.com/evil/requests"]) == "false"
    assert source_match([gh], ["https://requests.readthedocs.io"]) == "unknown"
    google = PublisherInfo(kind="Google", identity="svc@proj.iam.gserviceaccount.com")
    assert source_match([google], ["https://github.com/psf/requests"]) == "unknown"
    meta = "Metadata-Version: 2.1\nName: x\nHome-page: https://x.dev\nProject-URL: Source, https://github.com/a/b\n\n"
    assert declared_urls_from_core_metadata(meta) == ["https://github.com/a/b", "https://x.dev"]


def test_levels_use_repro_results_too() -> None:
    report = Report()
    report.add_package(Package("a", "1", properties={"provenance": "attested"}))
    report.add_package(Package("b", "1", properties={"provenance": "missing", "repro": "identical-content"}))
    report.add_package(Package("c", "1", properties={"provenance": "missing"}))
    report.add_package(Package("d", "1"))
    summary = summarise(report, checked=True)
    assert summary["packages"] == {"a": "attested-build", "b": "reproducible", "c": "neither", "d": "not-checked"}
    assert summary["levels"] == {"attested-build": 1, "reproducible": 1, "neither": 1, "not-checked": 1}
    assert report.packages["b"].properties["slsa"] == "reproducible"


def test_default_index_comes_from_the_resolver_offline() -> None:
    from auditor.pkgindex import default_index_url

    url = default_index_url()
    assert url.startswith("https://") and url.rstrip("/").endswith("simple")

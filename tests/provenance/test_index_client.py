"""One index client (``pkgindex``) for every check that reads project pages, against loopback indexes."""

from __future__ import annotations

import json
import threading

import pytest

from auditor import pkgindex as pages
from auditor.checks import confusion, hashes
from auditor.domain import Package, Report
from auditor.net import HttpClient, NetConfig
from auditor.options import AuditContext, AuditOptions
from auditor.pkgindex import ProjectPage, fetch_pages, file_version, parse_html_page
from tests.typosquat.test_confusion import json_index


def test_checks_share_one_request_per_project_and_index() -> None:
    """Dependency confusion and the hash comparison read the same pages: each (project, index) is asked once."""
    projects = {"alpha": ["1.0"], "beta": ["2.0"], "gamma": ["3.0"]}
    with json_index(projects) as first, json_index(projects) as second:
        report = Report()
        for name, (version,) in projects.items():
            report.add_package(Package(name=name, version=version, direct=True,
                                       metadata={"pinned_hashes": [f"sha256:{0:064x}"]}))
        urls = [f"{first.url}/simple/", f"{second.url}/simple/"]
        options = AuditOptions(index_url=urls[0], extra_index_urls=urls[1:], online=True)
        ctx = AuditContext(options=options, report=report, http=HttpClient(NetConfig(timeout=5, retries=0)))
        ctx.index_urls = list(urls)
        found = list(confusion.CHECK.run(ctx))
        list(hashes.CHECK.run(ctx))
        asked = [(srv.url, r.path) for srv in (first, second) for r in srv.log]
    assert {f.package[0] for f in found if f.package} == set(projects)  # every name is on both indexes
    assert sorted(asked) == sorted(set(asked))  # no page was fetched twice
    assert len(asked) == 2 * len(projects)


def test_the_default_index_is_asked_once_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sixteen threads that all need the default index ask the resolver for it once (it used to be once each)."""
    asked: list[int] = []
    gate = threading.Event()
    with json_index({f"p{i}": ["1.0"] for i in range(16)}) as srv:
        def default_index() -> str:
            asked.append(1)
            gate.wait(0.2)  # a slow answer: every thread arrives while the first is still asking
            return f"{srv.url}/simple/"

        monkeypatch.setattr(pages, "default_index_url", default_index)
        monkeypatch.delenv("UV_INDEX_URL", raising=False)
        monkeypatch.delenv("PIP_INDEX_URL", raising=False)
        ctx = AuditContext(options=AuditOptions(), report=Report(), http=HttpClient(NetConfig(timeout=5)))
        got = fetch_pages(ctx, [Package(name=f"p{i}", version="1.0") for i in range(16)])
    assert len(asked) == 1
    assert all(page is not None and page.files_of("1.0") for page in got.values())


def test_page_versions_files_and_legacy_names() -> None:
    files = parse_html_page(
        '<a href="/f/demo-1.0.tar.gz#sha256=aa">demo-1.0.tar.gz</a>'
        '<a href="/f/demo-2.0-py3-none-any.whl">a label that is not the file name</a>'
        '<a href="/f/demo-0.9.tar.bz2">demo-0.9.tar.bz2</a>'
        '<a href="/f/other-5.0-py3-none-any.whl">other-5.0-py3-none-any.whl</a>',
        "https://index.invalid/simple/demo/")
    page = ProjectPage("demo", "https://index.invalid/simple/", files, listed_versions=["3.0rc1"])
    assert [f.filename for f in page.files_of("2.0")] == ["demo-2.0-py3-none-any.whl"]  # the file the link fetches
    assert [f.filename for f in page.files_of("1")] == ["demo-1.0.tar.gz"]  # normalised versions match
    assert page.files_of("5.0") == []  # another project's file on the page is not this project's
    assert page.all_versions() == ["0.9", "1.0", "2.0", "3.0rc1"]
    assert file_version("demo-0.9.tar.bz2") == ("0.9", "other", "demo")


def test_confusion_listing_reads_pep700_versions_through_the_page_reader() -> None:
    body = json.dumps({"meta": {"api-version": "1.1"}, "versions": ["3.0", "1.0"], "files": []}).encode()
    assert confusion.parse_listing(body, "application/vnd.pypi.simple.v1+json") == ["1.0", "3.0"]

"""Pinned hashes against what the index publishes (resolver artifacts offline; the index page with --online)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from auditor.checks.hashes import CHECK, pinned_hashes
from auditor.domain import Artifact, Location, Package, Requirement, Severity
from auditor.policy import Policy
from auditor.resolve.target import Indexes
from auditor.resolve.uvdriver import UvResolver
from auditor.tools import uv_binary
from tests.provenance.conftest import integrity_index, make_context, serve
from tests.support.index import LocalIndex


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_pinned_hash_matching_the_index_page() -> None:
    idx = integrity_index()
    wheel = idx.index.add_wheel("alpha", "1.0")
    sdist = idx.index.add_sdist("alpha", "1.0")
    pkg = Package(name="alpha", version="1.0", source="requirements", hashes=[f"sha256:{wheel.sha256}",
                                                                               f"sha256:{sdist.sha256}"])
    with serve(idx) as url:
        ctx = make_context(url, [pkg])
        findings = list(CHECK.run(ctx))
    assert findings == []
    assert pkg.properties["hashes-pinned"] == "true"
    assert pkg.properties["hashes-verified"] == "match"
    # the index's digests are recorded on the package (the input had no artifacts)
    assert {a.filename: a.hashes["sha256"] for a in pkg.artifacts} == {wheel.filename: wheel.sha256,
                                                                         sdist.filename: sdist.sha256}
    assert ctx.report.hash_summary is not None and ctx.report.hash_summary["match"] == 1


def test_pinned_hash_unknown_to_the_index_is_critical() -> None:
    idx = integrity_index()
    wheel = idx.index.add_wheel("alpha", "1.0")
    other = _sha(b"a file from somewhere else")
    pkg = Package(name="alpha", version="1.0", source="requirements", location=Location("requirements.txt", 3),
                  hashes=[f"sha256:{wheel.sha256}", f"sha256:{other}"])
    with serve(idx) as url:
        findings = list(CHECK.run(make_context(url, [pkg])))
    assert [(f.kind, f.severity) for f in findings] == [("hash-mismatch", Severity.CRITICAL)]
    finding = findings[0]
    assert finding.location == Location("requirements.txt", 3)
    assert finding.evidence["unmatched"] == [f"sha256:{other}"]
    assert finding.evidence["published"] == {f"sha256:{wheel.sha256}": wheel.filename}
    assert pkg.properties["hashes-verified"] == "mismatch"


def test_lockfile_artifact_hashes_compared_and_marked_verified() -> None:
    idx = integrity_index()
    wheel = idx.index.add_wheel("beta", "2.0")
    good = Artifact(filename=wheel.filename, hashes={"sha256": wheel.sha256})
    pkg = Package(name="beta", version="2.0", source="uv.lock", artifacts=[good])
    with serve(idx) as url:
        assert list(CHECK.run(make_context(url, [pkg]))) == []
    assert good.verified is True


def test_resolver_packages_compare_pins_with_the_chosen_files_offline() -> None:
    """Resolver artifacts are filtered to the target: one pinned hash among them is enough (pip's rule)."""
    chosen = _sha(b"linux wheel")
    arts = [Artifact(filename="gamma-1.0-py3-none-any.whl", url="http://127.0.0.1:9/files/g.whl",
                     hashes={"sha256": chosen})]
    ok = Package(name="gamma", version="1.0", source="resolver", artifacts=arts, hashes=[f"sha256:{chosen}"],
                 metadata={"pinned_hashes": [f"sha256:{chosen}", f"sha256:{_sha(b'windows wheel')}"]})
    bad = Package(name="delta", version="1.0", source="resolver", artifacts=[
        Artifact(filename="delta-1.0-py3-none-any.whl", url="http://127.0.0.1:9/files/d.whl",
                 hashes={"sha256": _sha(b"delta")})], metadata={"pinned_hashes": [f"sha256:{_sha(b'evil')}"]})
    unpinned = Package(name="eps", version="1.0", source="resolver", artifacts=arts)
    ctx = make_context(None, [ok, bad, unpinned], online=False, offline=True)
    findings = list(CHECK.run(ctx))
    assert [(f.kind, f.package) for f in findings] == [("hash-mismatch", ("delta", "1.0"))]
    assert ok.properties["hashes-verified"] == "match"
    assert unpinned.properties["hashes-pinned"] == "false"
    assert "hashes-verified" not in unpinned.properties


def test_pinned_inputs_not_compared_without_online_are_marked() -> None:
    pkg = Package(name="alpha", version="1.0", source="requirements", hashes=[f"sha256:{'a' * 64}"])
    ctx = make_context(None, [pkg], online=False, offline=True)  # online, pinned hashes are always compared
    assert list(CHECK.run(ctx)) == []
    assert pkg.properties["hashes-verified"] == "not-checked"
    assert ctx.report.hash_summary is not None and "offline" in ctx.report.hash_summary["note"]
    assert [(i.kind.value, i.subject) for i in ctx.report.incomplete_reasons] == [("hashes", "alpha==1.0")]


def test_unpinned_is_a_finding_only_when_policy_requires_hashes() -> None:
    policy = Policy()
    policy.require_hashes = True  # type: ignore[attr-defined]  # switch proposed to the lead (policy.py)
    pkg = Package(name="alpha", version="1.0", source="requirements")
    ctx = make_context(None, [pkg], online=False, policy=policy)
    assert [f.kind for f in CHECK.run(ctx)] == ["unpinned-hashes"]
    plain = Package(name="alpha", version="1.0", source="requirements")
    assert list(CHECK.run(make_context(None, [plain], online=False))) == []
    assert plain.properties["hashes-pinned"] == "false"


def test_pinned_hash_spellings() -> None:
    pkg = Package(name="a", version="1", source="requirements",
                  hashes=["sha256:ABC", "sha256=def", "md5:123"])
    digests, raw = pinned_hashes(pkg)
    assert digests == {"abc", "def"}
    assert raw == ["sha256:ABC", "sha256=def", "md5:123"]


def test_uv_resolution_keeps_requirement_hashes(tmp_path: Path) -> None:
    """A partly pinned file with --hash goes through uv; the pins survive next to the index digests."""
    uv = uv_binary()
    assert uv is not None
    index = LocalIndex()
    wheel = index.add_wheel("alpha", "1.0")
    evil = _sha(b"not on the index")
    req = Requirement(name="alpha", raw="alpha>=1 --hash=sha256:" + evil, specifier=">=1",
                      hashes=(f"sha256:{evil}",), location=Location("requirements.txt", 1))
    with index.serve() as url:
        ctx = make_context(url, [], online=False, python_version="3.11")
        resolution = UvResolver([req], [], ctx.options, ctx, Indexes(url), uv).resolve()
    pkg = resolution.packages[0]
    assert pkg.metadata["pinned_hashes"] == [f"sha256:{evil}"]
    assert pkg.hashes == [f"sha256:{wheel.sha256}"]
    ctx.report.add_package(pkg)
    findings = list(CHECK.run(ctx))
    assert [f.kind for f in findings] == ["hash-mismatch"]
    assert findings[0].location == Location("requirements.txt", 1)


def test_file_of_another_project_on_the_page_does_not_count() -> None:
    """An index page for ``alpha`` that also lists ``evil-1.0.tar.gz``: its digest is not alpha's."""
    idx = integrity_index()
    idx.index.add_wheel("alpha", "1.0")
    foreign = idx.add_file("alpha", "evil-1.0.tar.gz", b"someone else's sdist")
    pkg = Package(name="alpha", version="1.0", source="requirements", hashes=[f"sha256:{foreign.sha256}"])
    with serve(idx) as url:
        findings = list(CHECK.run(make_context(url, [pkg])))
    assert [f.kind for f in findings] == ["hash-mismatch"]
    assert "evil-1.0.tar.gz" not in {a.filename for a in pkg.artifacts}


def test_require_hashes_in_policy_file_gates_unhashed_pins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``require-hashes = true`` in mlaudit.toml turns an unhashed pin into a failing finding (exit 1)."""
    import json

    from auditor.cli import main

    (tmp_path / "requirements.txt").write_text("requests==2.31.0\n")
    (tmp_path / "mlaudit.toml").write_text("require-hashes = true\n")
    code = main(["--offline", str(tmp_path / "requirements.txt"), "--format", "json", "--disable-check", "advisories"])
    kinds = [f["kind"] for f in json.loads(capsys.readouterr().out)["findings"]]
    assert code == 1 and kinds == ["unpinned-hashes"]
    (tmp_path / "mlaudit.toml").write_text("require-hashes = false\n")
    assert main(["--offline", str(tmp_path / "requirements.txt"), "-q", "--disable-check", "advisories"]) == 0

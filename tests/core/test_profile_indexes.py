"""Issue 23 row 8: one profile's index options apply to that profile only. ``base.txt`` (hashed pins) beside
``other.txt`` with its own ``--extra-index-url``: base's names are never sent to other's index, the default index is
still asked, and a failure of other's index is attributed to exactly what it stopped -- never "every locked package
not audited" when only a hash comparison could not be made. Real audits against loopback indexes."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from auditor.tools import uv_binary
from tests.conftest import CLOSED_INDEX
from tests.support.index import IndexFile, LocalIndex

BASE = [("six", "1.16.0"), ("alpha", "1.0"), ("beta", "2.0")]


def audit(*argv: str) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--format", "json", "-q", "--python-version", "3.11", "--retries", "0", "--timeout", "3", *argv])
    return code, json.loads(out.getvalue()), err.getvalue()


@pytest.fixture(autouse=True)
def _private(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if uv_binary() is None:
        pytest.skip("uv binary not available")
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def default_index(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LocalIndex, dict[str, IndexFile]]]:
    """The index pip would use with nothing configured (PIP_INDEX_URL here, as on a developer's machine)."""
    ix = LocalIndex()
    files = {name: ix.add_wheel(name, version) for name, version in BASE}
    ix.add_wheel("gamma", "1.0")
    with ix.serve() as url:
        monkeypatch.setenv("PIP_INDEX_URL", url)
        yield ix, files


def write_base(tmp_path: Path, files: dict[str, IndexFile]) -> Path:
    base = tmp_path / "base.txt"
    base.write_text("".join(f"{name}=={version} --hash=sha256:{files[name].sha256}\n" for name, version in BASE))
    return base


def hashes_of(report: dict[str, Any]) -> dict[str, tuple[str | None, str | None]]:
    return {p["name"]: (p["properties"].get("hashes-pinned"), p["properties"].get("hashes-verified"))
            for p in report["packages"]}


def test_other_profiles_names_never_reach_an_extra_index(tmp_path: Path,
                                                          default_index: tuple[LocalIndex, dict[str, IndexFile]]
                                                          ) -> None:
    main_index, files = default_index
    extra = LocalIndex()
    extra.add_wheel("gamma", "1.0")
    with extra.serve() as extra_url:
        (tmp_path / "other.txt").write_text(f"--extra-index-url {extra_url}\ngamma==1.0\n")
        code, report, err = audit(str(write_base(tmp_path, files)), str(tmp_path / "other.txt"))
        assert extra.server is not None
        asked = {r.path for r in extra.server.log}
    assert not {p for p in asked for name, _ in BASE if f"/{name}/" in p}, asked
    assert hashes_of(report) == {"six": ("true", "match"), "alpha": ("true", "match"), "beta": ("true", "match"),
                                 "gamma": ("false", None)}
    assert main_index.server is not None
    assert any("/simple/six/" in r.path for r in main_index.server.log)  # the default index was asked


@pytest.mark.parametrize("extra", ["closed", "missing-file-index"])
def test_an_unusable_extra_index_costs_its_own_profile_only(tmp_path: Path, extra: str,
                                                            default_index: tuple[LocalIndex, dict[str, IndexFile]]
                                                            ) -> None:
    _, files = default_index
    url = CLOSED_INDEX.replace(":9/", ":9/x/") if extra == "closed" else (tmp_path / "no-such-index").as_uri()
    (tmp_path / "other.txt").write_text(f"--extra-index-url {url}\ngamma==1.0\n")
    code, report, err = audit(str(write_base(tmp_path, files)), str(tmp_path / "other.txt"))
    assert hashes_of(report)["six"] == ("true", "match")
    reasons = [s["reason"] for s in report["skipped"]]
    assert not any("not every check ran" in r or "locked packages not audited" in r for r in reasons)
    base_items = [s for s in report["skipped"] if (s.get("file") or "").endswith("base.txt")]
    assert not base_items
    if extra == "closed":  # other.txt could not be resolved: its failure, named, exit 3
        assert code == 3 and "other.txt" in err
        assert {p["name"]: p["status"] for p in report["profiles"]} == {"base.txt": "audited", "other.txt": "failed"}
    else:  # pip and uv accept a file:// index; one that has nothing is no failure
        assert code == 0, err
        assert {p["name"] for p in report["packages"]} == {"six", "alpha", "beta", "gamma"}


def test_a_hash_comparison_an_unreachable_index_prevents_is_that_gap_only(tmp_path: Path) -> None:
    """A lock whose pins live on an index that is down: the comparison is the gap (with the index named, exit 3);
    the locked packages are audited."""
    ix = LocalIndex()
    files = {name: ix.add_wheel(name, version) for name, version in BASE}
    base = write_base(tmp_path, files)
    text = base.read_text()
    base.write_text(f"--index-url {CLOSED_INDEX}\n" + text)
    code, report, err = audit(str(base))
    assert code == 3, err
    assert {p["name"] for p in report["packages"]} == {"six", "alpha", "beta"}
    gaps = {(s["kind"], s["subject"]) for s in report["skipped"]}
    assert {("hashes", "six==1.16.0"), ("hashes", "alpha==1.0"), ("hashes", "beta==2.0")} <= gaps
    assert any(kind == "service" and "127.0.0.1:9" in subject for kind, subject in gaps)
    assert report["summary"]["accounting"]["requirement"] == {"audited": 3}
    assert all(v == ("true", "not-checked") for v in hashes_of(report).values())


def test_a_file_index_page_is_read_for_the_hash_comparison(tmp_path: Path,
                                                          default_index: tuple[LocalIndex, dict[str, IndexFile]]
                                                          ) -> None:
    _, files = default_index
    local = LocalIndex(tmp_path / "wheels")
    delta = local.add_wheel("delta", "1.0")
    page = tmp_path / "local-index" / "delta"
    page.mkdir(parents=True)
    (page / "index.html").write_text(f'<a href="../../wheels/{delta.filename}#sha256={delta.sha256}">'
                                     f"{delta.filename}</a>\n")
    other = tmp_path / "other.txt"
    other.write_text(f"--extra-index-url {(tmp_path / 'local-index').as_uri()}\n"
                     f"delta==1.0 --hash=sha256:{delta.sha256}\n")
    code, report, err = audit(str(write_base(tmp_path, files)), str(other), "--offline")
    assert hashes_of(report)["delta"] == ("true", "not-checked")  # offline: never compared (said so)
    code, report, err = audit(str(write_base(tmp_path, files)), str(other))
    assert hashes_of(report)["delta"] == ("true", "match"), (err, report["skipped"])
    other.write_text(f"--extra-index-url {(tmp_path / 'local-index').as_uri()}\ndelta==1.0 --hash=sha256:{'0' * 64}\n")
    code, report, err = audit(str(write_base(tmp_path, files)), str(other))
    assert hashes_of(report)["delta"] == ("true", "mismatch") and code == 1

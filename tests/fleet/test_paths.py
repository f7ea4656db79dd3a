"""Fleet paths (issue 26): ``--from-file`` is read verbatim (a path with leading or trailing spaces is that path),
and projects are the same only when their paths resolve to the same folder — two spellings of one folder are
audited once, two folders whose paths read alike through a link are both audited, each as itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from auditor.fleet.plan import plan_units, read_list

PAYLOAD = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03."


def project(root: Path, *, payload: bool) -> Path:
    root.mkdir(parents=True)
    (root / "requirements.txt").write_text("")
    if payload:
        (root / "model.pkl").write_bytes(PAYLOAD)
    return root


def fleet(tmp_path: Path, *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    out = tmp_path / "out"
    code = main(["fleet", *args, "--offline", "-o", str(out), "--workers", "1", "-q"])
    index = json.loads((out / "index.json").read_text())
    units = {u["path"]: json.loads((out / u["report"]).read_text()) for u in index["units"] if u.get("report")}
    return code, units


def flagged(report: dict[str, Any]) -> bool:
    return any(f["id"] == "MLA-PICKLE-EXEC" for f in report["findings"])


@pytest.fixture
def lookalikes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """``a/p00`` (clean) and ``b/a/p00`` (a payload), reached as ``a/zz/../../a/p00`` through ``a/zz -> ../b/x/y``:
    the same text once ``..`` is taken lexically, two folders on disk."""
    monkeypatch.chdir(tmp_path)
    project(tmp_path / "a" / "p00", payload=False)
    project(tmp_path / "b" / "a" / "p00", payload=True)
    (tmp_path / "b" / "x" / "y").mkdir(parents=True)
    (tmp_path / "a" / "zz").symlink_to(Path("..") / "b" / "x" / "y", target_is_directory=True)
    return "a/p00", "a/zz/../../a/p00"


def test_paths_that_read_alike_but_resolve_apart_are_both_audited(tmp_path: Path,
                                                                   lookalikes: tuple[str, str]) -> None:
    plain, linked = lookalikes
    assert len(plan_units([plain, linked], [])) == 2
    code, units = fleet(tmp_path, plain, linked)
    assert sorted(units) == sorted([plain, linked])
    assert not flagged(units[plain]) and flagged(units[linked])  # each audited as the folder it resolves to
    assert code == 1


def test_two_spellings_of_one_folder_are_audited_once(tmp_path: Path, lookalikes: tuple[str, str]) -> None:
    plain, _ = lookalikes
    (tmp_path / "alias").symlink_to(tmp_path / "a", target_is_directory=True)
    spellings = [plain, "./a/p00", "a//p00/", str(tmp_path / "a" / "p00"), "alias/p00", "a/../a/p00"]
    assert len(plan_units(spellings, [])) == 1


NAMES = ["proj ", " proj", " two  spaces ", "tab\tend\t"]


def test_from_file_keeps_meaningful_spaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in NAMES:
        project(tmp_path / name, payload=True)
        if not (tmp_path / name.strip()).exists():
            project(tmp_path / name.strip(), payload=False)
    listing = tmp_path / "list.txt"
    listing.write_bytes(("# projects\n" + "".join(f"{name}\r\n\n   \n" for name in NAMES)).encode())
    assert read_list(str(listing)) == NAMES
    code, units = fleet(tmp_path, "--from-file", str(listing))
    assert sorted(units) == sorted(NAMES) and all(flagged(units[name]) for name in NAMES)


def test_from_file_splits_only_on_line_ends(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_bytes("a\rb\nc\u2028d\ne\x1ef\ng\r\n".encode())  # a lone CR, line separator, record separator
    assert read_list(str(listing)) == ["a\rb", "c\u2028d", "e\x1ef", "g"]


def test_a_missing_path_with_spaces_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.chdir(tmp_path)
    project(tmp_path / "proj", payload=False)
    assert main(["proj ", "--offline", "-q"]) == 2
    assert "'proj ' (the path begins or ends with white space)" in capsys.readouterr().err

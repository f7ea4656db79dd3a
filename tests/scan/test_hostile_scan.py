"""Issue 26, the scanner's rows: a payload placed late in a pickle (past any prefix a sniffer reads) and an archive
whose member count is pushed past the scanner's limit. Caught whatever the file is called, or the report is
incomplete and names the limit; never exit 0 under ``--fail-on critical --require-complete``."""

from __future__ import annotations

import gzip
import json
import struct
import zipfile
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.domain import Severity
from auditor.scan import Limits, scan_file_detailed, scan_paths
from tests.scan import craft


def _payload(sentinel: Path) -> bytes:
    return craft.global_("os", "system") + b"(" + craft.string0(craft.shell_cmd(sentinel)) + b"tR"


def _late(sentinel: Path, variant: str) -> bytes:
    """Harmless opcodes first, the payload after them, for a few spellings of "harmless"."""
    pay = _payload(sentinel)
    if variant == "long-string":  # a first string longer than any sniffing window, then 420k opcodes
        return craft.proto(2) + craft.binunicode("A" * 70_000) + b"0" + b"N0" * 210_000 + pay + b"."
    if variant == "protocol-0":  # no PROTO opcode; a list of ints (210k opcodes) before the payload
        return b"(l" + b"I1\na" * 105_000 + b"0" + pay + b"."
    if variant == "long-bytes":  # a 3 MB bytes value (skipped, not kept) then memo traffic
        body = b"B" + struct.pack("<I", 3 << 20) + b"\0" * (3 << 20) + b"\x94" + (b"h\x00" + b"0") * 100_000
        return craft.proto(4) + body + b"0" + pay + b"."
    raise AssertionError(variant)


VARIANTS = ("long-string", "protocol-0", "long-bytes")


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", ["weights", "late.pkl", "blob.dat", "README"])
def test_late_payload_is_caught_whatever_the_name(tmp_path: Path, sentinel: Path, name: str, variant: str) -> None:
    path = tmp_path / name
    path.write_bytes(_late(sentinel, variant))
    res = scan_paths([path])
    crit = [f for f in res.findings if f.severity is Severity.CRITICAL]
    assert crit and crit[0].evidence["callable"] == "os.system", [f.message for f in res.findings]
    assert not res.skipped


@pytest.mark.parametrize("container", ["torch-zip", "gzip", "tar"])
def test_late_payload_inside_containers(tmp_path: Path, sentinel: Path, container: str) -> None:
    data = _late(sentinel, "long-string")
    if container == "torch-zip":
        path = craft.torch_zip(tmp_path / "model.pt", data)
    elif container == "gzip":
        path = tmp_path / "weights.gz"
        path.write_bytes(gzip.compress(data, compresslevel=1))
    else:
        import io
        import tarfile

        path = tmp_path / "bundle"
        with tarfile.open(path, "w") as tf:
            info = tarfile.TarInfo("inner/weights")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    found = scan_file_detailed(path)
    assert any(f.severity is Severity.CRITICAL and f.evidence.get("callable") == "os.system"
               for f in found.findings), [f.message for f in found.findings]


def test_late_payload_cli_gate(tmp_path: Path, sentinel: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "weights").write_bytes(_late(sentinel, "long-string"))
    code = main(["scan", str(tmp_path / "weights"), "--fail-on", "critical", "--require-complete",
                 "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["complete"] is True
    assert [f["id"] for f in report["findings"] if f["severity"] == "critical"] == ["MLA-PICKLE-EXEC"]


def test_opcode_limit_when_set_makes_the_report_incomplete(tmp_path: Path, sentinel: Path) -> None:
    path = tmp_path / "weights.pkl"
    path.write_bytes(_late(sentinel, "long-string"))
    found = scan_file_detailed(path, limits=Limits(max_pickle_ops=1000))
    assert found.skipped and "pickle analysis stopped" in found.skipped[0].reason
    assert any(f.id == "MLA-PICKLE-LIMIT" for f in found.findings)


def test_text_that_starts_like_a_pickle_is_not_called_one(tmp_path: Path) -> None:
    """The whole-stream reading must not turn ordinary files into "malformed pickle" findings."""
    for i, body in enumerate([b"X" + struct.pack("<I", 100_000) + b"hello" * 10,  # length past the end
                              b"(" + b"I12\n" * 2000 + b"not a pickle at all\n",  # ints, then garbage
                              b"N" * 5000]):  # never reaches an import or STOP
        path = tmp_path / f"notes{i}"
        path.write_bytes(body)
        res = scan_paths([path])
        assert not [f for f in res.findings if f.severity.at_least(Severity.LOW)], [f.message for f in res.findings]


# -- member limits ------------------------------------------------------------------------------------------
def _torch_zip_many(path: Path, storages: int, data_pkl: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(storages):
            zf.writestr(zipfile.ZipInfo(f"archive/data/{i}"), b"\0\0\0\0")
        zf.writestr("archive/data.pkl", data_pkl)  # last: past any member limit counted in order
        zf.writestr(zipfile.ZipInfo("archive/version"), b"3\n")
    return path


def test_torch_zip_with_10000_storages_then_payload(tmp_path: Path, sentinel: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = _torch_zip_many(tmp_path / "model.pt", 10_050, craft.proto(2) + _payload(sentinel) + b".")
    code = main(["scan", str(path), "--fail-on", "critical", "--require-complete", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code != 0
    assert any(f["severity"] == "critical" and f["path"].endswith("!archive/data.pkl") for f in report["findings"])


@pytest.mark.parametrize("storages", [60, 500])
def test_storages_never_count_against_the_member_limit(tmp_path: Path, sentinel: Path, storages: int) -> None:
    path = _torch_zip_many(tmp_path / f"m{storages}.pth", storages, craft.proto(2) + _payload(sentinel) + b".")
    found = scan_file_detailed(path, limits=Limits(max_archive_members=50))
    assert any(f.evidence.get("callable") == "os.system" for f in found.findings)
    assert not found.skipped


@pytest.mark.parametrize("suffix", [".zip", ".npz", ""])
def test_member_limit_makes_the_report_incomplete_and_names_it(tmp_path: Path, sentinel: Path, suffix: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"bundle{suffix}"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(80):
            zf.writestr(f"notes/{i}.txt", b"hello")
        zf.writestr("notes/zzz.txt", craft.proto(2) + _payload(sentinel) + b".")  # named like data, last
    found = scan_file_detailed(path, limits=Limits(max_archive_members=50))
    assert found.skipped and "max_archive_members=50" in found.skipped[0].reason
    assert any(f.id == "MLA-ARCHIVE-BOMB" for f in found.findings)


def test_member_limit_scans_loader_members_first(tmp_path: Path, sentinel: Path) -> None:
    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(80):
            zf.writestr(f"notes/{i}.txt", b"hello")
        zf.writestr("notes/model.pkl", craft.proto(2) + _payload(sentinel) + b".")
    found = scan_file_detailed(path, limits=Limits(max_archive_members=50))
    assert any(f.evidence.get("callable") == "os.system" for f in found.findings)
    assert found.skipped  # still incomplete: 31 text members were not read


def test_declared_entry_count_is_refused_before_listing(tmp_path: Path) -> None:
    path = tmp_path / "huge.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(30):
            zf.writestr(f"{i}", b"x")
    found = scan_file_detailed(path, limits=Limits(max_archive_entries=20))
    assert found.skipped and "max_archive_entries=20" in found.skipped[0].reason


def test_tar_member_limit_is_a_gap(tmp_path: Path) -> None:
    import io
    import tarfile

    path = tmp_path / "many.tar"
    with tarfile.open(path, "w") as tf:
        for i in range(30):
            info = tarfile.TarInfo(f"m/{i}.txt")
            info.size = 2
            tf.addfile(info, io.BytesIO(b"hi"))
    found = scan_file_detailed(path, limits=Limits(max_archive_members=20))
    assert found.skipped and "max_archive_members" in found.skipped[0].reason

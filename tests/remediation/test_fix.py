"""``mlaudit fix`` end to end against the loopback index: each input kind is edited the way it is maintained, every
fix is re-resolved and re-audited before a file changes, and a fix that cannot be verified changes nothing.

The advisory data is a small database the tests write (``support.install_db``): ``alpha`` below 1.1 is affected by
PYSEC-9001 (fixed in 1.1); 2.0 and later are inside PYSEC-9002 (fixed in 2.1), so the smallest upgrade is 1.1.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.tools import uv_binary
from tests.remediation.support import audit_json, install_db, osv, run_cli
from tests.support.index import LocalIndex

RECORDS = [
    osv("PYSEC-9001", "alpha", [{"introduced": "0"}, {"fixed": "1.1"}], aliases=["CVE-9001-1"]),
    osv("PYSEC-9002", "alpha", [{"introduced": "2.0"}, {"fixed": "2.1"}]),
    osv("PYSEC-9003", "delta", [{"introduced": "0"}, {"fixed": "9.0"}]),
]
NO_CHECKS = ["--disable-check", "typosquat", "--disable-check", "unclaimed-name", "--disable-check",
             "dependency-confusion", "--disable-check", "provenance", "--disable-check", "hashes"]


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LocalIndex, str]]:
    install_db(tmp_path / "cache", RECORDS, monkeypatch)
    idx = LocalIndex()
    for version in ("1.0", "1.1", "2.0"):
        idx.add_wheel("alpha", version, requires=["beta>=1"])
    idx.add_wheel("beta", "1.0")
    idx.add_wheel("gamma", "1.0", requires=["alpha<1.1"])  # holds alpha back: the upgrade conflicts with it
    with idx.serve() as url:
        yield idx, url


def fix(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, ["fix", *args, "--index-url", url, "-q", *NO_CHECKS])


def uv(*args: str, cwd: Path, url: str) -> str:
    binary = uv_binary()
    assert binary is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    env["UV_CACHE_DIR"] = str(cwd / ".uv-cache")
    proc = subprocess.run([binary, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_hand_written_pin_moves_and_keeps_the_line(tmp_path: Path, index: tuple[LocalIndex, str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _, url = index
    req = tmp_path / "requirements.txt"
    req.write_text("# ours\nalpha[extra] == 1.0 ; python_version >= '3'  # the model server needs it\nbeta>=1\n")
    code, out, err = fix(capsys, url, str(req))
    assert code == 0, err
    assert req.read_text() == ("# ours\nalpha[extra] == 1.1 ; python_version >= '3'  # the model server needs it\n"
                               "beta>=1\n")
    assert "-alpha[extra] == 1.0 ; python_version" in out and "+alpha[extra] == 1.1 ; python_version" in out
    assert "upgraded alpha 1.0 -> 1.1 (clears PYSEC-9001)" in err


def test_dry_run_changes_nothing(tmp_path: Path, index: tuple[LocalIndex, str],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    _, url = index
    req = tmp_path / "requirements.txt"
    req.write_bytes(b"alpha==1.0\r\n")
    before = (req.read_bytes(), req.stat().st_mtime_ns, sorted(p.name for p in tmp_path.iterdir()))
    code, out, err = fix(capsys, url, str(req), "--dry-run")
    assert code == 0, err
    assert "+alpha==1.1" in out and "dry run: no file was changed" in err
    assert (req.read_bytes(), req.stat().st_mtime_ns, sorted(p.name for p in tmp_path.iterdir())) == before
    # the real run keeps the file's CRLF line ending
    assert fix(capsys, url, str(req))[0] == 0
    assert req.read_bytes() == b"alpha==1.1\r\n"


def test_range_that_excludes_the_fix_is_widened_minimally(tmp_path: Path, index: tuple[LocalIndex, str],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    _, url = index
    req = tmp_path / "requirements.txt"
    req.write_text("alpha>=0.9,<1.1\n")
    code, _, err = fix(capsys, url, str(req))
    assert code == 0, err
    assert req.read_text() == "alpha>=0.9,<1.2\n"


def test_conflicting_upgrade_is_rolled_back_with_uvs_reason(tmp_path: Path, index: tuple[LocalIndex, str],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    _, url = index
    req = tmp_path / "requirements.txt"
    text = "alpha==1.0\ngamma==1.0\n"
    req.write_text(text)
    code, report = audit_json(capsys, [str(req), "--index-url", url, "--verify-fixes", *NO_CHECKS])
    (rem,) = report["remediation"]
    assert rem["to"] is None and rem["verified"] is False and rem["action"] == "none"
    assert rem["remains"] == ["PYSEC-9001"]
    assert rem["reason"].startswith("1.1 would clear PYSEC-9001 but does not resolve with the rest of")
    assert "gamma" in rem["reason"]  # uv's own explanation names who holds alpha back
    code, out, err = fix(capsys, url, str(req))
    assert code == 1 and out == ""
    assert req.read_text() == text
    assert "remains: alpha 1.0: PYSEC-9001" in err and "gamma" in err


def test_upgrade_that_brings_a_vulnerable_dependency_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    install_db(tmp_path / "cache", RECORDS, monkeypatch)
    idx = LocalIndex()
    idx.add_wheel("alpha", "1.0")
    idx.add_wheel("alpha", "1.1", requires=["delta"])  # the fix pulls in delta 1.0, inside PYSEC-9003
    idx.add_wheel("delta", "1.0")
    req = tmp_path / "requirements.txt"
    req.write_text("alpha==1.0\n")
    with idx.serve() as url:
        _, report = audit_json(capsys, [str(req), "--index-url", url, "--verify-fixes", *NO_CHECKS])
        code, out, err = fix(capsys, url, str(req))
    (rem,) = report["remediation"]
    assert rem["to"] is None and "brings new findings: delta 1.0 has PYSEC-9003" in rem["reason"]
    assert code == 1 and out == "" and req.read_text() == "alpha==1.0\n"


def test_hashed_requirements_get_the_indexs_hashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    install_db(tmp_path / "cache", RECORDS, monkeypatch)
    idx = LocalIndex()
    old = idx.add_wheel("alpha", "1.0")
    new_files = [idx.add_wheel("alpha", "1.1"), idx.add_wheel("alpha", "1.1", python_tag="py311"),
                 idx.add_sdist("alpha", "1.1")]
    beta = idx.add_wheel("beta", "1.0")
    req = tmp_path / "requirements.txt"
    req.write_text(f"alpha==1.0 \\\n    --hash=sha256:{old.sha256}\n"
                   f"beta==1.0 \\\n    --hash=sha256:{beta.sha256}\n")
    with idx.serve() as url:
        code, _, err = fix(capsys, url, str(req))
    assert code == 0, err
    hashes = sorted(f.sha256 for f in new_files)  # every file of the version, like pip-compile --generate-hashes
    assert req.read_text() == (f"alpha==1.1 \\\n    --hash=sha256:{hashes[0]} \\\n    --hash=sha256:{hashes[1]} \\\n"
                               f"    --hash=sha256:{hashes[2]}\nbeta==1.0 \\\n    --hash=sha256:{beta.sha256}\n")


def test_uv_compiled_lock_is_regenerated_with_its_header_command(tmp_path: Path, index: tuple[LocalIndex, str],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _, url = index
    project = tmp_path / "proj"
    project.mkdir()
    (project / "requirements.in").write_text("alpha<2\n")
    (project / "requirements.txt").write_text("alpha==1.0\n")  # preferences: uv keeps alpha at 1.0
    uv("pip", "compile", "--no-config", "--generate-hashes", "requirements.in", "-o", "requirements.txt",
       "--index-url", url, cwd=project, url=url)
    before = (project / "requirements.txt").read_text()
    assert "alpha==1.0" in before and "uv pip compile --no-config --generate-hashes requirements.in" in before
    code, out, err = fix(capsys, url, str(project / "requirements.txt"))
    assert code == 0, err
    after = (project / "requirements.txt").read_text()
    # what the same command writes by hand with the upgrade (its header and every annotation kept)
    (project / "expected.txt").write_text(before)
    uv("pip", "compile", "--no-config", "--generate-hashes", "requirements.in", "-o", "expected.txt",
       "--index-url", url, "--upgrade-package", "alpha==1.1", "--custom-compile-command",
       before.splitlines()[1].lstrip("#").strip(), cwd=project, url=url)
    assert after == (project / "expected.txt").read_text()
    assert after.splitlines()[:2] == before.splitlines()[:2] and "alpha==1.1" in after
    assert "# via -r requirements.in" in after


def test_header_command_with_a_missing_source_is_exit_3_and_nothing_changes(
        tmp_path: Path, index: tuple[LocalIndex, str], capsys: pytest.CaptureFixture[str]) -> None:
    _, url = index
    req = tmp_path / "requirements.txt"
    text = ("# This file was autogenerated by uv via the following command:\n"
            "#    uv pip compile requirements.in -o requirements.txt\nalpha==1.0\n    # via -r requirements.in\n"
            "beta==1.0\n    # via alpha\n")
    req.write_text(text)
    code, out, err = fix(capsys, url, str(req))
    assert code == 3 and out == ""
    assert "requirements.in, which is not in" in err and "no file was changed" in err
    assert req.read_text() == text


def _uv_project(tmp_path: Path, url: str, dependency: str) -> Path:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "demo"\nversion = "0.1"\nrequires-python = ">=3.9"\ndependencies = ["{dependency}"]\n')
    uv("lock", "--default-index", url, "--upgrade-package", "alpha==1.0", cwd=project, url=url)
    assert 'name = "alpha"\nversion = "1.0"' in (project / "uv.lock").read_text()
    return project


def test_uv_project_is_relocked(tmp_path: Path, index: tuple[LocalIndex, str],
                                capsys: pytest.CaptureFixture[str]) -> None:
    _, url = index
    project = _uv_project(tmp_path, url, "alpha>=1.0")
    pyproject = (project / "pyproject.toml").read_text()
    code, out, err = fix(capsys, url, str(project))
    assert code == 0, err
    lock = (project / "uv.lock").read_text()
    assert 'name = "alpha"\nversion = "1.1"' in lock and 'version = "1.0"\nsource' not in lock.split("beta")[0]
    assert (project / "pyproject.toml").read_text() == pyproject  # nothing blocked the fix
    assert "uv.lock" in out


def test_pyproject_constraint_that_blocks_the_fix_is_widened_then_relocked(
        tmp_path: Path, index: tuple[LocalIndex, str], capsys: pytest.CaptureFixture[str]) -> None:
    _, url = index
    project = _uv_project(tmp_path, url, "alpha>=0.5,<1.1")
    code, out, err = fix(capsys, url, str(project))
    assert code == 0, err
    assert 'dependencies = ["alpha>=0.5,<1.2"]' in (project / "pyproject.toml").read_text()
    assert 'name = "alpha"\nversion = "1.1"' in (project / "uv.lock").read_text()


def test_pyproject_without_a_lock_is_widened(tmp_path: Path, index: tuple[LocalIndex, str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _, url = index
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "demo"\nversion = "0.1"\n'
                         "dependencies = [\n    'alpha[x] ~= 1.0.0; python_version >= \"3\"',\n]\n")
    code, _, err = fix(capsys, url, str(pyproject))
    assert code == 0, err
    assert "'alpha[x] >=1.0.0,<1.2; python_version >= \"3\"'" in pyproject.read_text()


def test_poetry_lock_gets_the_command_not_a_run(tmp_path: Path, index: tuple[LocalIndex, str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _, url = index
    lock = tmp_path / "poetry.lock"
    text = ('[[package]]\nname = "alpha"\nversion = "1.0"\ndescription = ""\noptional = false\npython-versions = "*"'
            '\nfiles = []\n\n[metadata]\nlock-version = "2.0"\npython-versions = "*"\ncontent-hash = "x"\n')
    lock.write_text(text)
    code, out, err = fix(capsys, url, str(lock))
    assert code == 1 and out == "" and lock.read_text() == text
    assert "poetry update --lock alpha" in err and "to reach alpha==1.1" in err


def test_fix_offline_is_a_usage_error(tmp_path: Path, index: tuple[LocalIndex, str],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    _, url = index
    req = tmp_path / "requirements.txt"
    req.write_text("alpha==1.0\n")
    code, out, err = run_cli(capsys, ["fix", str(req), "--offline"])
    assert code == 2 and "--offline" in err and req.read_text() == "alpha==1.0\n"


def test_annotated_lock_gets_the_new_dependency_of_the_upgrade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A ``# via`` lock without a header: the verified resolution's pins are written, the upgrade's new dependency
    inserted in name order with its own annotation."""
    install_db(tmp_path / "cache", RECORDS, monkeypatch)
    idx = LocalIndex()
    idx.add_wheel("alpha", "1.0")
    idx.add_wheel("alpha", "1.1", requires=["beta>=1"])
    idx.add_wheel("beta", "1.0")
    idx.add_wheel("zeta", "1.0")
    req = tmp_path / "requirements.txt"
    req.write_text("alpha==1.0\n    # via -r requirements.in\nzeta==1.0\n    # via -r requirements.in\n")
    with idx.serve() as url:
        code, _, err = fix(capsys, url, str(req))
    assert code == 0, err
    assert req.read_text() == ("alpha==1.1\n    # via -r requirements.in\nbeta==1.0\n    # via alpha\n"
                               "zeta==1.0\n    # via -r requirements.in\n")


def test_constraints_file_that_holds_a_transitive_dependency_back_is_widened(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """alpha is not a requirement of the file, but its ``-c`` constraints file holds it below the fix: that line
    is the one to widen (the verification re-resolves with the widened constraint too)."""
    install_db(tmp_path / "cache", RECORDS, monkeypatch)
    idx = LocalIndex()
    idx.add_wheel("alpha", "1.0")
    idx.add_wheel("alpha", "1.1")
    idx.add_wheel("omega", "1.0", requires=["alpha"])
    req = tmp_path / "requirements.txt"
    req.write_text("-c constraints.txt\nomega\n")
    (tmp_path / "constraints.txt").write_text("alpha<1.1  # tested with 1.0\n")
    with idx.serve() as url:
        code, out, err = fix(capsys, url, str(req))
    assert code == 0, err
    assert (tmp_path / "constraints.txt").read_text() == "alpha<1.2  # tested with 1.0\n"
    assert req.read_text() == "-c constraints.txt\nomega\n"


def test_pip_compile_output_keeps_its_header_and_is_regenerated_by_uv(
        tmp_path: Path, index: tuple[LocalIndex, str], capsys: pytest.CaptureFixture[str]) -> None:
    _, url = index
    (tmp_path / "requirements.in").write_text("alpha\n")
    header = ("#\n# This file is autogenerated by pip-compile with Python 3.11\n# by the following command:\n#\n"
              "#    pip-compile --allow-unsafe --output-file=requirements.txt requirements.in\n#\n")
    req = tmp_path / "requirements.txt"
    req.write_text(header + "alpha==1.0\n    # via -r requirements.in\nbeta==1.0\n    # via alpha\n")
    code, _, err = fix(capsys, url, str(req))
    assert code == 0, err
    assert req.read_text() == header + "alpha==1.1\n    # via -r requirements.in\nbeta==1.0\n    # via alpha\n"


def test_uv_export_is_exported_again_from_the_relocked_project(
        tmp_path: Path, index: tuple[LocalIndex, str], capsys: pytest.CaptureFixture[str]) -> None:
    """A requirements.txt written by ``uv export`` beside the uv.lock it came from: the project is re-locked once
    and the file exported again with its own header command, so the two stay in step."""
    _, url = index
    project = _uv_project(tmp_path, url, "alpha>=1.0")
    exported = uv("export", "--format", "requirements-txt", "--no-hashes", "--frozen", cwd=project, url=url)
    (project / "requirements.txt").write_text(exported)
    assert exported.startswith("# This file was autogenerated by uv via the following command:\n"
                               "#    uv export --format requirements-txt --no-hashes") and "alpha==1.0" in exported
    code, out, err = fix(capsys, url, str(project))
    assert code == 0, err
    after = (project / "requirements.txt").read_text()
    assert after == exported.replace("alpha==1.0", "alpha==1.1")
    assert 'name = "alpha"\nversion = "1.1"' in (project / "uv.lock").read_text()


def test_relock_that_would_build_an_sdist_gives_the_command_instead(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """``uv lock`` of a project with an sdist-only dependency cannot run binary-only: the lock stays as it was, the
    exact command is printed, and the upgrade is not bisected away as if it conflicted."""
    install_db(tmp_path / "cache", RECORDS, monkeypatch)
    idx = LocalIndex()
    idx.add_wheel("alpha", "1.0")
    idx.add_wheel("alpha", "1.1")
    idx.add_sdist("rouge", "0.1")
    with idx.serve() as url:
        project = tmp_path / "proj"
        project.mkdir()
        (project / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "0.1"\n'
                                                'requires-python = ">=3.9"\ndependencies = ["alpha", "rouge"]\n')
        uv("lock", "--default-index", url, "--upgrade-package", "alpha==1.0", cwd=project, url=url)
        lock = (project / "uv.lock").read_text()
        exported = uv("export", "--format", "requirements-txt", "--no-hashes", "--frozen", cwd=project, url=url)
        (project / "requirements.txt").write_text(exported)
        code, out, err = fix(capsys, url, str(project))
    assert code == 1 and out == "" and (project / "uv.lock").read_text() == lock
    assert (project / "requirements.txt").read_text() == exported
    assert "needs rouge 0.1 built from source" in err
    # one command for the lock (both profiles' upgrades), then the export that reads it
    assert err.count("uv lock --upgrade-package") == 1 and "uv lock --upgrade-package alpha==1.1" in err
    assert err.index("uv lock --upgrade-package") < err.index("uv export --format requirements-txt")

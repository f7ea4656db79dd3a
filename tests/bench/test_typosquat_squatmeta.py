"""The squat-metadata corpus reader reads one metadata member of each archive in memory and nothing else: an sdist's
``PKG-INFO``, a wheel's ``METADATA``; a bare tarball (``setup.py`` only) is counted as having none. The archives
built here carry a ``setup.py`` that would write a file if anything ran it: nothing may appear."""

from __future__ import annotations

import io
import random
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from bench import _typosquat_context as c
from bench import _typosquat_squatmeta as sm

PKG_INFO = (b"Metadata-Version: 2.1\nName: reqeusts\nVersion: 1.0\nSummary: Python HTTP for Humans.\n"
            b"Home-page: UNKNOWN\nAuthor: x\nProject-URL: Source, https://code.example/evil/reqeusts\n\nA body\n")
PAYLOAD = b"open(__import__('os').path.expanduser('~/ran'), 'w').write('ran')\n"


def _sdist(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _wheel(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _corpus(tmp_path: Path) -> Path:
    """A bare git repository laid out like the corpus: name/version/file."""
    work = tmp_path / "work"
    files = {
        "reqeusts/1.0/reqeusts-1.0.tar.gz": _sdist({"reqeusts-1.0/PKG-INFO": PKG_INFO,
                                                    "reqeusts-1.0/setup.py": PAYLOAD}),
        "reqeusts/1.1/reqeusts-1.1-py3-none-any.whl": _wheel({
            "reqeusts-1.1.dist-info/METADATA": PKG_INFO.replace(b"Version: 1.0", b"Version: 1.1"),
            "reqeusts/__init__.py": PAYLOAD}),
        "bare/0.1/bare-0.1.tar.gz": _sdist({"bare-0.1/setup.py": PAYLOAD}),
        "junk/0.1/junk-0.1.tar.gz": b"not an archive",
    }
    for rel, data in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_bytes(data)
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@127.0.0.1"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "corpus"], check=True)
    return work / ".git"


def test_metadata_members_are_read_in_memory_and_nothing_runs(tmp_path: Path) -> None:
    git_dir = _corpus(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    commit = subprocess.run(["git", "--git-dir", str(git_dir), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    rows = {r.path: r for r in sm.read_corpus(git_dir, commit)}
    sdist = rows["reqeusts/1.0/reqeusts-1.0.tar.gz"]
    assert (sdist.kind, sdist.metadata, sdist.summary, sdist.home_page) == ("sdist", True, "Python HTTP for Humans.", "")
    assert sdist.project_urls == {"Source": "https://code.example/evil/reqeusts"} and sdist.has_description
    wheel = rows["reqeusts/1.1/reqeusts-1.1-py3-none-any.whl"]
    assert (wheel.kind, wheel.metadata, wheel.version) == ("wheel", True, "1.1")
    assert not rows["bare/0.1/bare-0.1.tar.gz"].metadata and not rows["junk/0.1/junk-0.1.tar.gz"].metadata
    assert all(r.added for r in rows.values())
    assert not (Path.home() / "ran").exists()  # the payload did not run
    assert sorted(tmp_path.rglob("*")) == before  # and nothing was extracted anywhere


def test_a_squat_is_scored_with_its_own_first_releases_metadata(tmp_path: Path) -> None:
    git_dir = _corpus(tmp_path)
    commit = subprocess.run(["git", "--git-dir", str(git_dir), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    files = [r for r in sm.read_corpus(git_dir, commit) if r.name == "reqeusts"]
    squat = c.Positive("reqeusts", "requests", "transposition", "2025-03-02", 2, "MAL-1",
                       {"1.1": "2025-03-01T08:00:00Z", "1.0": "2025-03-01T09:00:00Z"})
    own = c.own_metadata(squat, files)
    assert own == {"summary": "Python HTTP for Humans.", "home_page": "",
                   "project_urls": {"Source": "https://code.example/evil/reqeusts"}}
    target = {"info": {"summary": "Python HTTP for Humans.", "home_page": "",
                       "project_urls": {"Source": "https://code.example/psf/requests"}},
              "releases": {"2.0": [{"upload_time_iso_8601": "2015-01-01T00:00:00Z"}]}}
    ctx, _now = c.positive_context(squat, random.Random(1), "live", "real", "requests", {"requests": target}, own)
    assert ctx.summary_matches_target is True and ctx.has_project_urls is True
    assert ctx.own_repository is True and ctx.links_to_target is False  # its own repository, as it published
    assert "real metadata" in ctx.source
    assert c.own_metadata(squat, []) is None


def test_requirement_file_names_are_genuine_names_dated_by_their_newest_pin(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text("repo\tcommit\tpath\tlicence\tnote\nowner/proj\t" + "0" * 40 + "\treqs.txt\tx\tx\n")
    monkeypatch.setattr(c, "REQUIREMENTS_MANIFEST", manifest)
    copies = tmp_path / "copies" / "owner+proj"
    copies.mkdir(parents=True)
    (copies / "reqs.txt").write_text("# c\n-c constraints.txt\nAiohttp_Cors==0.7.0  # note\nfoo>=1\n"
                                     "https://127.0.0.1:9/x.zip#egg=x\nnot a requirement ===\nsix==1.0\n")
    negs, notes = c.requirements_negatives(None, tmp_path / "copies", {"six"})
    assert sorted(n.name for n in negs) == ["aiohttp-cors", "foo"]
    assert "option or URL line" in notes[-1] and "unparsable line" in notes[-1] and "already a genuine" in notes[-1]
    docs: dict[str, dict[str, object] | None] = {
        "aiohttp-cors": {"releases": {"0.7.0": [{"upload_time_iso_8601": "2020-03-01T00:00:00Z"},
                                                {"upload_time_iso_8601": "2022-01-01T00:00:00Z"}]}},
        "foo": {"releases": {}}}
    days = c.set_requirements_day(negs, docs)
    assert days == {"owner/proj": "2020-03-01"}  # the pinned release's first file dates it, not a later upload
    assert all(n.now.date().isoformat() == "2020-03-01" for n in negs)

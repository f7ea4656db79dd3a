"""Fuzzing every input parser: whatever the bytes, only ``InputError`` may escape, and nothing hangs."""

from __future__ import annotations

import json
import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.errors import InputError
from auditor.options import AuditOptions
from auditor.sources import load_file
from tests.sources.conftest import FIXTURES

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("MLAUDIT_FUZZ_EXAMPLES", "10000"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
WORKDIR = Path(tempfile.mkdtemp(prefix="mlaudit-fuzz-"))
TIME_LIMIT = 5  # seconds per example: a parser that takes longer is treated as hanging


@contextmanager
def _time_limit() -> Iterator[None]:
    def alarm(_signum: int, _frame: object) -> None:
        raise TimeoutError("parser hung")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(TIME_LIMIT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _parse(name: str, data: bytes, **options: object) -> None:
    directory = WORKDIR / "case"
    directory.mkdir(exist_ok=True)
    for old in directory.iterdir():
        if old.is_file():
            old.unlink()
    path = directory / name
    path.write_bytes(data)
    with _time_limit():
        try:
            load_file(str(path), AuditOptions(**options))  # type: ignore[arg-type]
        except InputError as exc:
            assert exc.file is not None  # every input error names its file


def _mutations(seed: str) -> st.SearchStrategy[bytes]:
    """Seed text with lines dropped, duplicated, swapped or overwritten by syntax-shaped junk."""
    lines = seed.splitlines()
    junk = st.sampled_from([
        "", "[", "]]", "[[package]]", "[[packages]]", "name = 1", "version = []", 'version = "1.0"',
        'source = "x"', "dependencies = [1]", "dependencies = [{}]", "wheels = [{ hash = 3 }]",
        'files = [{file = "a", hash = "md5:zz"}]', "hashes = { sha256 = 1 }", "markers = {}", "= =", '"\\u0000"',
        'marker = "python_version >>"', "[package.dependencies]", 'x = {version = 1}', "lock-version = 2",
        "resolution-markers = [1]", "optional-dependencies = 3", '"{', "}", "\x00", "\ufeff",
    ])
    return st.lists(st.tuples(st.integers(0, max(len(lines), 1)), st.sampled_from(["drop", "dup", "junk", "swap"]),
                              junk), max_size=8).map(lambda ops: _apply(lines, ops).encode("utf-8", "surrogatepass"))


def _apply(lines: list[str], ops: list[tuple[int, str, str]]) -> str:
    out = list(lines)
    for index, op, text in ops:
        if not out:
            out = [text]
            continue
        i = index % len(out)
        if op == "drop":
            del out[i]
        elif op == "dup":
            out.insert(i, out[i])
        elif op == "swap":
            j = (i * 7 + 3) % len(out)
            out[i], out[j] = out[j], out[i]
        else:
            out[i] = text
    return "\n".join(out) + "\n"


REQ_ALPHABET = st.sampled_from(list("abcAB01=<>!~.,;*[]@#:/\\-_ \t'\"$\n{}()") + [
    "==", "--hash=sha256:", "-r ", "-c ", "-e ", "-i ", "--index-url=", " ; ", "python_version", "extra ==",
    "git+https://127.0.0.1/x.git", "#egg=", ".whl", ".tar.gz", "${HOME}", "\\\n", "\r\n", "# via ", "#   ",
    "--no-such", "-C", "--pre", "file:", "./", "../", "\x00", "\ufeff",
])


@FUZZ
@given(st.lists(REQ_ALPHABET, max_size=80).map("".join))
def test_requirements_parser(text: str) -> None:
    _parse("requirements.txt", text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.binary(max_size=300))
def test_requirements_parser_raw_bytes(data: bytes) -> None:
    _parse("requirements.txt", data)


PYPROJECT_SEED = (Path(__file__).parent / "test_pyproject.py").read_text().split('PEP621 = """\\\n', 1)[1].split(
    '"""', 1)[0]
POETRY_SEED = (Path(__file__).parent / "test_pyproject.py").read_text().split('POETRY = """\\\n', 1)[1].split(
    '"""', 1)[0]


@FUZZ
@given(_mutations(PYPROJECT_SEED + POETRY_SEED), st.sampled_from([[], ["all"], ["gpu"]]))
def test_pyproject_parser(data: bytes, selection: list[str]) -> None:
    _parse("pyproject.toml", data, extras=selection, groups=selection)


@FUZZ
@given(_mutations((FIXTURES / "uv" / "uv.lock").read_text()))
def test_uv_lock_parser(data: bytes) -> None:
    _parse("uv.lock", data)


@FUZZ
@given(_mutations((FIXTURES / "poetry" / "poetry.lock").read_text()))
def test_poetry_lock_parser(data: bytes) -> None:
    _parse("poetry.lock", data)


@FUZZ
@given(_mutations((FIXTURES / "uv" / "pylock.toml").read_text()))
def test_pylock_parser(data: bytes) -> None:
    _parse("pylock.toml", data)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10) | st.sampled_from(["==1.0", "sha256:" + "a" * 8]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["version", "hashes", "markers", "index", "git", "extras", "sources", "name", "url", "x"]),
        children, max_size=5),
    max_leaves=20,
)


@FUZZ
@given(st.dictionaries(st.sampled_from(["_meta", "default", "develop", "docs"]),
                       JSON_VALUES | st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=4), max_size=4))
def test_pipfile_lock_parser_structures(doc: dict[str, object]) -> None:
    _parse("Pipfile.lock", json.dumps(doc, indent=1).encode())


@FUZZ
@given(_mutations((FIXTURES / "pipenv" / "Pipfile.lock").read_text()))
def test_pipfile_lock_parser_mutations(data: bytes) -> None:
    _parse("Pipfile.lock", data)


PIPFILE_SEED = (Path(__file__).parent / "test_pyproject.py").read_text().split('PIPFILE = """\\\n', 1)[1].split(
    '"""', 1)[0]


@FUZZ
@given(_mutations(PIPFILE_SEED), st.sampled_from([[], ["all"], ["dev"]]))
def test_pipfile_parser(data: bytes, groups: list[str]) -> None:
    _parse("Pipfile", data, groups=groups)


KEYS = ["name", "version", "source", "dependencies", "optional-dependencies", "dev-dependencies", "wheels", "sdist",
        "hash", "hashes", "url", "path", "marker", "markers", "extra", "extras", "groups", "files", "file",
        "resolution-markers", "registry", "editable", "virtual", "git", "dynamic", "authors", "license", "urls",
        "dependency-groups", "include-group", "python", "optional", "develop", "type", "reference", "index", "vcs",
        "directory", "archive", "lock-version", "created-by", "sha256", "members", "project", "tool", "poetry",
        "group", "uv", "package", "packages", "metadata", "requires-dist", "alpha", "beta"]
SCALARS = st.none() | st.booleans() | st.integers(-2, 2) | st.sampled_from(
    ["", "1.0", "==1.0", "^1.2", "alpha", ".", "sha256:" + "a" * 64, "md5:zz", "python_version >= '3.8'",
     "extra == 'x'", "git+https://127.0.0.1/x.git", "*", "a b c"])
TOML_VALUES = st.recursive(
    SCALARS.filter(lambda v: v is not None),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KEYS), children, max_size=4),
    max_leaves=25,
)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


def _document(doc: dict[str, object]) -> bytes:
    return "".join(f"{json.dumps(k)} = {_toml(v)}\n" for k, v in doc.items()).encode()


DOCS = st.dictionaries(st.sampled_from(KEYS), TOML_VALUES, max_size=6)


@FUZZ
@given(DOCS, st.sampled_from(["pyproject.toml", "uv.lock", "poetry.lock", "pylock.toml", "Pipfile"]),
       st.sampled_from([[], ["all"], ["x"]]))
def test_toml_structures_of_every_kind(doc: dict[str, object], name: str, selection: list[str]) -> None:
    _parse(name, _document(doc), extras=selection, groups=selection)

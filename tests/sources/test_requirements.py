"""Requirements files: the whole pip syntax, read natively (no pip, nothing executed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.domain import Location
from auditor.errors import InputError
from auditor.ledger import Outcome
from auditor.sources.requirements import expand_env, logical_lines, parse_requirement, read_requirements
from tests.sources.conftest import Load

Write = Callable[[str, "str | bytes"], Path]

SHA_A = "a" * 64
SHA_B = "b" * 64


def _names(result: object) -> list[str]:
    return [r.name for r in result.requirements]  # type: ignore[attr-defined]


def test_specifiers_extras_markers_and_locations(write: Write, load: Load) -> None:
    path = write("requirements.txt", (
        "# a comment line\n"
        "Requests[security,socks] >= 2.25, < 3   # trailing comment\n"
        "\n"
        "scikit_learn==1.2.0 ; python_version >= \"3.8\"\n"
        "torch~=2.0;sys_platform=='linux'\n"
    ))
    result = load(path)
    assert not result.resolved
    by_name = {r.name: r for r in result.requirements}
    assert set(by_name) == {"requests", "scikit-learn", "torch"}
    req = by_name["requests"]
    assert req.extras == ("security", "socks")
    assert req.specifier == "<3,>=2.25"
    assert req.location == Location(str(path), 2)
    assert by_name["scikit-learn"].marker == 'python_version >= "3.8"'
    assert by_name["scikit-learn"].location == Location(str(path), 4)
    assert by_name["torch"].marker == 'sys_platform == "linux"'
    assert result.files == [str(path)]


def test_includes_are_relative_to_the_including_file(write: Write, load: Load) -> None:
    write("deps/base.txt", "six==1.16.0\n-c ../constraints/pins.txt\n")
    write("constraints/pins.txt", "urllib3<2\n")
    top = write("requirements.txt", "-r deps/base.txt\nrequests\n--requirement=deps/base.txt\n")
    result = load(top)
    assert _names(result) == ["six", "requests"]  # the second include of base.txt is not read twice
    assert [c.name for c in result.constraints] == ["urllib3"]
    assert all(c.constraint for c in result.constraints)
    six = result.requirements[0]
    assert six.location is not None and six.location.file.endswith("deps/base.txt") and six.location.line == 1
    assert len(result.files) == 3


def test_include_cycle_is_an_input_error_naming_the_line(write: Write, load: Load) -> None:
    write("a.txt", "six\n-r b.txt\n")
    write("b.txt", "# loops back\n-r a.txt\n")
    with pytest.raises(InputError) as info:
        load(write("requirements.txt", "-r a.txt\n"))
    assert "recursive include" in info.value.message
    assert info.value.file is not None and info.value.file.endswith("b.txt") and info.value.line == 2


def test_missing_include_names_the_including_line(write: Write, load: Load) -> None:
    path = write("requirements.txt", "six\n-r nowhere.txt\n")
    with pytest.raises(InputError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}:2:")
    assert "nowhere.txt" in str(info.value)


def test_hashes_several_per_requirement_over_continuations(write: Write, load: Load) -> None:
    path = write("requirements.txt", (
        "six==1.16.0 \\\n"
        f"    --hash=sha256:{SHA_A} \\\n"
        f"    --hash sha256:{SHA_B.upper()}\n"
        "idna==3.4\n"
    ))
    result = load(path)
    assert not result.resolved  # idna has no hash: not a lock (CONVENTIONS "Inputs"), so it is resolved
    six = next(r for r in result.requirements if r.name == "six")
    assert six.hashes == (f"sha256:{SHA_A}", f"sha256:{SHA_B}")
    assert six.location == Location(str(path), 1)
    idna = next(r for r in result.requirements if r.name == "idna")
    assert idna.location == Location(str(path), 4)  # line numbers survive the continuation


def test_index_options_and_other_pip_options_are_accepted(write: Write, load: Load) -> None:
    path = write("requirements.txt", (
        "-i http://127.0.0.1:9/simple\n"
        "--extra-index-url http://127.0.0.1:9/extra\n"
        "--extra-index-url=http://127.0.0.1:9/extra2\n"
        "-f http://127.0.0.1:9/links\n"
        "--find-links=./wheels\n"
        "--pre\n--prefer-binary\n--require-hashes\n--no-binary :all:\n--only-binary=numpy\n"
        "--trusted-host 127.0.0.1\n--use-feature=truststore\n--no-index\n"
        "numpy>=1.24 --config-settings=setup-args=-Dblas=none --global-option=--quiet\n"
        "-C key=value pandas\n"
    ))
    (path.parent / "wheels").mkdir(exist_ok=True)
    with pytest.raises(InputError):  # -C needs a requirement before it on the same line
        load(path)
    path.write_text(path.read_text().replace("-C key=value pandas\n", "pandas -C key=value\n"))
    result = load(path)
    assert result.index_url == "http://127.0.0.1:9/simple"
    assert result.extra_index_urls == ["http://127.0.0.1:9/extra", "http://127.0.0.1:9/extra2"]
    assert result.find_links == ["http://127.0.0.1:9/links", str(path.parent / "wheels")]
    assert result.no_index
    assert "--pre" in result.pip_options and "--only-binary=numpy" in result.pip_options
    assert "--no-binary=:all:" in result.pip_options
    assert _names(result) == ["numpy", "pandas"]


def test_env_var_expansion_is_pip_s_form_only(write: Write, monkeypatch: pytest.MonkeyPatch, load: Load) -> None:
    monkeypatch.setenv("INDEX_HOST", "127.0.0.1:9")
    monkeypatch.setenv("PKG_VERSION", "1.16.0")
    monkeypatch.delenv("UNSET_VAR", raising=False)
    path = write("requirements.txt", (
        "--index-url http://${INDEX_HOST}/simple\n"
        "six==${PKG_VERSION}\n"
        "--extra-index-url http://$INDEX_HOST/x\n"  # $VAR (no braces) is not expanded, like pip
        "--extra-index-url http://${UNSET_VAR}/y\n"
    ))
    result = load(path)
    assert result.index_url == "http://127.0.0.1:9/simple"
    assert result.extra_index_urls == ["http://$INDEX_HOST/x", "http://${UNSET_VAR}/y"]
    assert result.requirements[0].pinned_version == "1.16.0"
    assert expand_env("${lower} ${UP}", {"lower": "x", "UP": "y"}) == "${lower} y"


def test_bom_crlf_and_backslash_continuation(write: Write, load: Load) -> None:
    path = write("requirements.txt", b"\xef\xbb\xbfsix==1.16.0\r\nidna\\\r\n==3.4\r\n")
    result = load(path)
    assert [(r.name, r.pinned_version) for r in result.requirements] == [("six", "1.16.0"), ("idna", "3.4")]


def test_utf16_with_bom_and_pep263_declared_encoding(write: Write, load: Load) -> None:
    utf16 = write("a.txt", "six==1.16.0\n".encode("utf-16"))
    assert load(utf16).requirements[0].name == "six"
    latin = write("b.txt", "# -*- coding: latin-1 -*-\n# caf\xe9\nsix==1.16.0\n".encode("latin-1"))
    assert load(latin).requirements[0].name == "six"


def test_logical_lines_follow_pip() -> None:
    text = "a \\\nb\n# c \\\nd\\\n# comment ends it\ne"
    assert list(logical_lines(text)) == [(1, "a b"), (3, " # c \\"), (4, "d # comment ends it"), (6, "e")]


@pytest.mark.parametrize(("line", "name", "url_start", "editable", "specifier"), [
    ("git+https://127.0.0.1:9/org/repo.git@v1.0#egg=mypkg", "mypkg", "git+https://", False, ""),
    ("-e git+https://127.0.0.1:9/org/tool.git#egg=Tool_Name[cli]", "tool-name", "git+https://", True, ""),
    ("https://127.0.0.1:9/files/pkg-2.0.tar.gz", "pkg", "https://", False, "==2.0"),
    ("https://127.0.0.1:9/files/My_Pkg-1.2-py3-none-any.whl ; python_version >= '3.8'", "my-pkg", "https://", False,
     "==1.2"),
    ("name @ https://127.0.0.1:9/files/name-1.0.tar.gz", "name", "https://", False, ""),
    ("./vendor/localpkg", "localpkg", "file://", False, ""),
    ("-e .", None, "file://", True, ""),
    ("-e ./src/sub[extra]", "sub", "file://", True, ""),
    ("../dist/thing-0.1-py3-none-any.whl", "thing", "file://", False, "==0.1"),
])
def test_direct_references_are_kept_with_url(write: Write, load: Load, line: str, name: str | None,
                                             url_start: str, editable: bool, specifier: str) -> None:
    path = write("proj/requirements.txt", f"requests\n{line}\n")
    for local in ("proj/vendor/localpkg/setup.py", "proj/src/sub/setup.py", "dist/thing-0.1-py3-none-any.whl"):
        write(local, "")  # local references that exist (a missing one is a skipped line: test below)
    result = load(path)
    assert len(result.requirements) == 2  # never dropped
    req = result.requirements[1]
    assert req.url is not None and req.url.startswith(url_start)
    assert req.editable is editable
    assert req.specifier == specifier
    assert req.name == (name or "proj")
    assert req.location == Location(str(path), 2)
    assert line.split(" ;")[0] in req.raw


def test_direct_reference_marker_is_kept() -> None:
    req = parse_requirement("https://127.0.0.1:9/f/x-1.0-py3-none-any.whl ; sys_platform == 'win32'",
                            Location("r.txt", 1))
    assert req.marker == 'sys_platform == "win32"'
    assert req.url == "https://127.0.0.1:9/f/x-1.0-py3-none-any.whl"


def test_remote_include_is_a_skipped_entry(write: Write, load: Load) -> None:
    path = write("requirements.txt", "-r https://127.0.0.1:9/reqs.txt\nsix==1.16.0\n")
    result = load(path)
    assert len(result.skipped) == 1
    assert result.skipped[0].line == 1 and "not fetched" in result.skipped[0].reason


@pytest.mark.parametrize(("text", "line", "needle"), [
    ("six\nthis is not valid ===\n", 2, "invalid requirement"),
    ("six\n--no-such-option\n", 2, "unknown pip option --no-such-option"),
    ("six\n-r\n", 2, "needs a value"),
    ("six==1.0 --hash=md5:abcd\n", 1, "invalid --hash"),
    ("six==1.0 --hash=sha256:xyz\n", 1, "invalid --hash"),
    ("--pre=yes\n", 1, "takes no value"),
    ("six ; python_version >>> '3'\n", 1, "invalid requirement"),
    ("./local ; not a marker\n", 1, "invalid marker"),
    ("-e\n", 1, "needs a value"),
    ("--hash=sha256:" + "a" * 64 + "\n", 1, "must follow a requirement"),
    ("six 'unbalanced --hash=sha256:aa\n", 1, "invalid requirement"),
    ("six --hash 'sha256:aa\n", 1, "cannot parse options"),
    ("https://127.0.0.1:9/bad-name.whl\n", 1, "invalid wheel file name"),
])
def test_invalid_lines_name_file_and_line(write: Write, load: Load, text: str, line: int, needle: str) -> None:
    path = write("requirements.txt", text)
    with pytest.raises(InputError) as info:
        load(path)
    assert info.value.file == str(path) and info.value.line == line
    assert needle in info.value.message


def test_arguments_after_options_are_read_as_pip_reads_them(write: Write, load: Load) -> None:
    """pip parses a line's option part with optparse and drops its leftover arguments: Home Assistant's
    ``requirements_all.txt`` carried ``--only-binary=all nuimo==0.1.0`` for years and pip never installed nuimo.
    The file is read (not refused), the option still applies, and each dropped argument is listed with its line
    as not installed: never audited as if installed, never silently gone."""
    path = write("requirements.txt", "six==1.16.0\n--only-binary=:all: nuimo==0.1.0\n-r other.txt extra -- more\n")
    write("other.txt", "idna==3.7\n")
    result = load(path)
    assert sorted(r.name for r in result.requirements) == ["idna", "six"]
    dropped = {(i.requirement, i.line, i.outcome) for i in result.skipped}
    assert dropped == {("nuimo==0.1.0", 2, Outcome.EXCLUDED), ("extra", 3, Outcome.EXCLUDED),
                       ("more", 3, Outcome.EXCLUDED)}
    assert all("pip ignores" in i.reason and i.file == str(path) for i in result.skipped)
    assert "--only-binary=:all:" in result.pip_options
    secret = write("s.txt", "--pre https://user:t0ken@127.0.0.1:9/x-1.0-py3-none-any.whl\n")
    [item] = load(secret).skipped
    assert "t0ken" not in item.reason and "t0ken" not in str(item.requirement) and "***@127.0.0.1" in item.reason


def test_editable_constraint_is_rejected(write: Write) -> None:
    path = write("c.txt", "-e ./x\n")
    with pytest.raises(InputError, match="not allowed as constraints"):
        read_requirements(str(path), constraint=True)


def test_credentials_are_redacted_from_raw_but_kept_in_url() -> None:
    req = parse_requirement("git+https://user:t0ken@127.0.0.1:9/org/x.git#egg=x", Location("r.txt", 1))
    assert "t0ken" not in req.raw and "***@127.0.0.1" in req.raw
    assert req.url == "git+https://user:t0ken@127.0.0.1:9/org/x.git#egg=x"
    pep508 = parse_requirement("y @ https://u:p@127.0.0.1:9/y-1.0-py3-none-any.whl", Location("r.txt", 2))
    assert "u:p@" not in pep508.raw and pep508.specifier == "==1.0"


def test_pathological_lines_are_linear(write: Write, load: Load) -> None:
    """pip's comment regex is quadratic on long whitespace runs; ours must not be (this would take minutes)."""
    path = write("requirements.txt", "six==1.16.0" + " " * 300_000 + "x\n" + "[" * 100_000 + "\n")
    with pytest.raises(InputError) as info:
        load(path)
    assert info.value.line == 1
    comment = write("c.txt", "six==1.16.0" + " " * 300_000 + "# via nothing\n")
    assert [p.name for p in load(comment).packages] == ["six"]


@pytest.mark.parametrize("text", ["\ufeff-r \x00\n", "\ufeff-c sub\x00dir/c.txt\n"])
def test_nul_byte_in_an_included_file_name_is_an_input_error(tmp_path: Path, text: str) -> None:
    """Found by fuzzing: the OS refuses such a name with ValueError; the user gets exit 2 with file:line."""
    from auditor.errors import InputError
    from auditor.options import AuditOptions
    from auditor.sources import load_file

    path = tmp_path / "requirements.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_file(str(path), AuditOptions())
    assert info.value.file == str(path) and info.value.line == 1


def test_simple_pins_read_without_packaging_are_read_as_packaging_reads_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``name==version`` lines (what locks and compiled files hold) skip packaging's parser; every requirement of
    the eval inputs and a few thousand generated spellings -- pins the fast path takes and near-misses it must leave
    to packaging -- parse to the same ``Requirement`` (or the same error) as with packaging alone."""
    import random
    import re

    from auditor.domain import Location
    from auditor.errors import InputError
    from auditor.sources import requirements as reqmod
    from tests.support.fixtures import EVAL_INPUTS

    rng = random.Random(25)
    texts = [line.split("#")[0].strip() for path in sorted(EVAL_INPUTS.glob("*.txt"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.split("#")[0].strip()]
    names = ["numpy", "Django", "zope.interface", "ruamel.yaml.clib", "a", "A_b-c.d", "x1", "-bad", "bad.", "b@d"]
    versions = ["1", "1.26.4", "2.0.0rc1", "2.9.0.post0", "1.0.dev3", "1.0a1.post2.dev4", "01.02", "1.0.0-rc1",
                "1.0+cpu", "1.*", "v1.0", "1.0rc", "1..0", "", "1.0 ; python_version<'3'", "1.0,<2", "1.0.RC1"]
    spaces, operators = ["", " ", "\t", "  "], ["==", "===", ">=", "=="]
    for _ in range(3000):
        parts = [rng.choice(names), rng.choice(spaces), rng.choice(operators), rng.choice(spaces[:2]),
                 rng.choice(versions)]
        texts.append("".join(parts).strip())
    texts += ["numpy[extra]==1.0", "numpy==1.0\x0b", "numpy ==1.0", "numpy== 1.0"]

    def read(text: str) -> object:
        try:
            return reqmod.parse_requirement(text, Location("r.txt", 1))
        except InputError as exc:
            return ("error", str(exc))

    fast = [read(t) for t in texts]
    taken = sum(1 for t in texts if reqmod._SIMPLE_PIN.fullmatch(t))
    monkeypatch.setattr(reqmod, "_SIMPLE_PIN", re.compile(r"(?!)"))  # packaging reads every line
    assert fast == [read(t) for t in texts]
    assert taken > 500 and len(texts) - taken > 1000  # both readings were exercised

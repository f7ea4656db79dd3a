"""Secrets in URLs (issue 26): one redaction for every URL a report repeats — credentials, query values, fragment
values, and anything that came from an environment variable (shown as the ``${VAR}`` that named it, expanded only
for the request itself). Checked in every output format, in skipped items and warnings, offline and with a real
resolution against a local index.
"""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from auditor.cli import main
from tests.support.index import LocalIndex

FORMATS = ["json", "sarif", "markdown", "html", "cyclonedx-json", "cyclonedx-xml", "terminal"]
# Query keys that carry a credential somewhere in the wild, and one of our own invention.
TOKEN_KEYS = ["token", "X-Amz-Signature", "sig", "access_token", "private_key_material"]


def secret(n: int) -> str:
    return f"SeCrEt{n:02d}zz"


def render_all(argv: list[str], tmp_path: Path) -> dict[str, str]:
    outputs: dict[str, str] = {}
    for fmt in FORMATS:
        target = tmp_path / f"report.{fmt}"
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main([*argv, "--format", fmt, "-q", "-o", str(target)])
        assert code in (0, 1), err.getvalue()
        outputs[fmt] = target.read_text(encoding="utf-8")
        outputs[f"{fmt} (stderr)"] = err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):  # the terminal view on stdout too, and -v
        main([*argv, "-v"])
    outputs["terminal (stdout)"] = out.getvalue() + err.getvalue()
    return outputs


def leaks(outputs: dict[str, str], secrets: list[str]) -> list[tuple[str, str]]:
    return [(fmt, s) for fmt, text in outputs.items() for s in secrets if s in text]


def requirement_lines(port: int = 9) -> tuple[str, list[str]]:
    lines = []
    secrets = []
    for n, key in enumerate(TOKEN_KEYS):
        secrets.append(secret(n))
        lines.append(f"pkg{n} @ https://127.0.0.1:{port}/pkg{n}-1.0-py3-none-any.whl?{key}={secret(n)}&v=2")
    secrets += [secret(10), secret(11), secret(12)]
    lines.append(f"https://127.0.0.1:{port}/w-1.0.tar.gz?X-Amz-Credential=a&X-Amz-Signature={secret(10)}"
                 f"#sha256=0123&auth={secret(11)}")
    lines.append(f"git+https://oauth2:{secret(12)}@127.0.0.1:{port}/o/r.git@v1#egg=r")
    lines.append(f"envpkg @ https://127.0.0.1:{port}/${{MLAUDIT_TEST_TOKEN}}/envpkg-1.0-py3-none-any.whl")
    lines.append(f"qpkg @ https://127.0.0.1:{port}/qpkg-1.0-py3-none-any.whl?token=${{MLAUDIT_TEST_TOKEN2}}")
    return "\n".join(lines) + "\n", secrets


def test_no_output_format_repeats_a_secret_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_secret, env_secret2 = "EnvSecretValue41", "EnvSecretValue42"
    monkeypatch.setenv("MLAUDIT_TEST_TOKEN", env_secret)
    monkeypatch.setenv("MLAUDIT_TEST_TOKEN2", env_secret2)
    text, secrets = requirement_lines()
    req = tmp_path / "requirements.txt"
    req.write_text(text)
    outputs = render_all([str(req), "--offline"], tmp_path)
    assert leaks(outputs, [*secrets, env_secret, env_secret2]) == []
    report = outputs["json"]
    assert "${MLAUDIT_TEST_TOKEN}/envpkg" in report  # the variable, as written, not its value
    for key in TOKEN_KEYS:  # the key names stay, so a reader knows a credential was there
        assert f"{key}=***" in report
    assert "#sha256=0123&auth=***" in report and "oauth2" not in report and "***@127.0.0.1" in report


def test_an_online_resolution_repeats_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Index URL credentials from the environment, a direct wheel URL with a signed query: the resolver fetches
    both (the request needs the secret) and no output repeats them."""
    index_secret, query_secret = "IndexTokenValue77", "QueryTokenValue88"
    monkeypatch.setenv("MLAUDIT_INDEX_TOKEN", index_secret)
    index = LocalIndex(tmp_path / "index")
    index.add_wheel("alpha", "1.0", requires=["beta"])
    index.add_wheel("beta", "2.0")
    index.add_wheel("direct-pkg", "1.0")
    with index.serve() as url:
        host = url.removeprefix("http://").removesuffix("/simple")
        index.require_credentials("ci", index_secret)
        req = tmp_path / "requirements.txt"
        req.write_text(f"--index-url http://ci:${{MLAUDIT_INDEX_TOKEN}}@{host}/simple\nalpha==1.0\n"
                       f"direct-pkg @ http://ci:${{MLAUDIT_INDEX_TOKEN}}@{host}/files/"
                       f"direct_pkg-1.0-py3-none-any.whl?X-Amz-Signature={query_secret}\n")
        outputs = render_all([str(req), "--python-version", "3.11"], tmp_path)
    assert leaks(outputs, [index_secret, query_secret]) == []
    assert '"beta"' in outputs["json"] and "direct-pkg" in outputs["json"]  # it did resolve, with the secrets
    assert not index.refused


@pytest.mark.parametrize(("url", "shown"), [
    ("https://u:p@h/simple", "https://***@h/simple"),
    ("https://h/x.whl?token=abc&a=", "https://h/x.whl?token=***&a="),
    ("https://h/x?Signature=1;rest", "https://h/x?Signature=***"),
    ("see https://h/a?x=1, then https://h/b?y=2.", "see https://h/a?x=***, then https://h/b?y=***."),
    ("https://h/p#L10", "https://h/p#L10"),
    ("https://h/p?onlyatoken", "https://h/p?***"),
    ("git+ssh://git@h/o/r.git@v2#egg=r&subdirectory=s", "git+ssh://***@h/o/r.git@v2#egg=r&subdirectory=s"),
    ("no url here", "no url here"),
])
def test_the_one_redactor(url: str, shown: str) -> None:
    from auditor.net import redact_url

    assert redact_url(url).startswith(shown)


def test_a_library_caller_sees_the_variable_not_its_value(tmp_path: Path) -> None:
    from auditor.sources.requirements import read_requirements

    req = tmp_path / "requirements.txt"
    req.write_text("pkg @ https://127.0.0.1:9/${DL_TOKEN}/pkg-1.0-py3-none-any.whl\n")
    parsed = read_requirements(str(req), env={"DL_TOKEN": "LibrarySecret55"})
    [entry] = parsed.entries
    assert "LibrarySecret55" in (entry.requirement.url or "")  # the request needs it
    assert entry.requirement.raw == "pkg @ https://127.0.0.1:9/${DL_TOKEN}/pkg-1.0-py3-none-any.whl"


def test_one_run_s_variables_do_not_rewrite_the_next_run_s_report(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs in one process (a fleet worker): what run A expanded is not hidden in run B, which never used it."""
    monkeypatch.setenv("HOST_PORT", "127.0.0.1:9")
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("pkg @ https://${HOST_PORT}/pkg-1.0-py3-none-any.whl\n")
    b.write_text("pkg @ https://127.0.0.1:9/pkg-1.0-py3-none-any.whl\n")
    for path, shown in ((a, "https://${HOST_PORT}/pkg"), (b, "https://127.0.0.1:9/pkg")):
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            main([str(path), "--offline", "--format", "json", "-q"])
        assert shown in out.getvalue()


def test_finding_evidence_is_redacted_before_any_output() -> None:
    """Evidence is typed (``auditor.evidence``): the redactor rewrites the text a check's evidence carries (a hash or
    Hub finding may name the artifact URL the user configured, credentials included), in keys and nested values."""
    from auditor.domain import Finding, Report, Severity
    from auditor.evidence import Details
    from auditor.outputs.json_out import render
    from auditor.redact import redact_report

    url = "https://ci:hunter2-secret@idx.example/simple/x/x-1.0.tar.gz?token=t0ps3cret"
    report = Report(findings=[Finding(kind="hash-mismatch", id="MLA-HASH", severity=Severity.HIGH, message="m",
                                      package=("x", "1.0"), check="hashes",
                                      evidence=Details.of({"artifacts": [{"url": url}], url: 1}))])
    out = render(redact_report(report))
    assert "hunter2-secret" not in out and "t0ps3cret" not in out
    assert report.findings[0].evidence is not None
    assert report.findings[0].evidence.to_json()["artifacts"] == [
        {"url": "https://***@idx.example/simple/x/x-1.0.tar.gz?token=***"}]

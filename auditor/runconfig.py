"""From what the user asked to the settings of one run: the one place a policy file is merged with the flags.

``options_for(request, paths)`` is what ``mlaudit PATH`` and every ``mlaudit fleet`` project do: check the paths,
find the project's code root and its policy file (or read ``--config``), and merge the two **once** -- the flags win
where given (``--fail-on``), add to the policy where both apply (``--require-complete``, ``--disable-check``,
``--exclude``) -- into a new ``AuditOptions``. The policy object is never changed afterwards, and no later stage
merges again: the pipeline and the gate read the merged values.
"""

from __future__ import annotations

from pathlib import Path

from auditor.domain import Report, Severity
from auditor.errors import UsageError
from auditor.options import AuditOptions, AuditRequest
from auditor.policy import Policy, apply_policy, policy_note


def missing_path(path: object) -> str:
    """The message for a path that does not exist; spaces at either end are shown (paths are taken verbatim)."""
    text = str(path)
    if text != text.strip():
        return f"no such file or directory: {text!r} (the path begins or ends with white space)"
    return f"no such file or directory: {text}"


def options_for(request: AuditRequest, paths: list[str]) -> AuditOptions:
    """The run's ``AuditOptions``; the policy file is read here, so a bad one is an input error before any work."""
    for p in paths:
        if not Path(p).exists():
            raise UsageError(missing_path(p))
    project_dir = code_root(paths) if request.env_path is None else None
    policy = load_run_policy(request.config, project_dir)
    return AuditOptions(
        paths=list(paths),
        env_path=request.env_path,
        python_version=request.python_version,
        platform=request.platform,
        index_url=request.index_url,
        extra_index_urls=list(request.extra_index_urls),
        offline=request.offline,
        online=request.online,
        allow_build=request.allow_build,
        extras=list(request.extras),
        groups=list(request.groups),
        fail_on=request.fail_on or policy.fail_on or Severity.LOW,
        require_complete=request.require_complete or policy.require_complete,
        fetch_models=request.fetch_models,
        disabled_checks=set(request.disable) | policy.disabled_kinds,
        net=request.net,
        policy=policy,
        exclude_newer=request.exclude_newer,
        resolver=request.resolver,
        project_dir=project_dir,
        profiles=list(request.profiles),
        exclude=[*policy.exclude, *request.exclude],
        baseline=request.baseline,
        verify_fixes=request.verify_fixes,
    )


def code_root(paths: list[str]) -> str:
    """Where the project's code is: the first directory given, else the project of the first file (the nearest
    directory upwards with pyproject.toml, setup.py, setup.cfg or .git), so that ``mlaudit
    requirements/full/requirements.txt`` still finds the model references in the project's code."""
    from auditor.sources.project import find_project_root

    for p in paths:
        if Path(p).is_dir():
            return p
    if not paths:
        return str(Path.cwd())
    return find_project_root(paths[0])


def load_run_policy(config: str | None, project_dir: str | None) -> Policy:
    """The policy of ``--config``, else the project's own (none: an empty policy). Imported plainly: a broken
    install must fail loudly (exit 3 at the CLI edge), never run without the user's ignores and ``require-*``."""
    from auditor.config import load_policy

    explicit = Path(config) if config else None
    return load_policy(Path(project_dir) if project_dir else None, explicit) or Policy()


def load_scan_policy(config: str | None) -> Policy | None:
    """The policy of ``--config`` for a scan (a scan has no project to find one in); a bad file is an input error."""
    if not config:
        return None
    from auditor.config import load_policy

    return load_policy(None, Path(config))


def gate_scan(report: Report, policy: Policy | None, *, fail_on: Severity | None, require_complete: bool) -> None:
    """A scan report's policy (ignores, ``require-*``) and gate: ``--fail-on`` else the policy's else low, and
    completeness required when either asks -- merged here once, as ``options_for`` does for an audit."""
    if policy is not None:
        apply_policy(report, policy)
        report.policy = policy_note(policy)
    report.fail_on = fail_on or (policy.fail_on if policy is not None else None) or Severity.LOW
    report.require_complete = require_complete or (policy is not None and policy.require_complete)


__all__ = ["code_root", "gate_scan", "load_run_policy", "load_scan_policy", "missing_path", "options_for"]

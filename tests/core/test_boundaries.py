"""Architecture rules that review found broken once, checked on the source so they stay fixed.

- No package of ``auditor`` imports another package's private (``_name``) names: what crosses a boundary is public
  and typed (docs/architecture.md).
- Every third-party module ``auditor`` imports is a declared dependency (or an optional extra's), so a fresh
  ``pip install mlaudit`` never fails on a transitive package that happened to be present.
- Conversely, every declared runtime dependency is imported by ``auditor``, or is listed below with the reason it is
  needed anyway, and that reason is checked to still hold (a dependency nobody uses is weight every user installs).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "auditor"

# Import names of distributions whose import name differs from the distribution name.
IMPORT_NAMES = {
    "pyyaml": {"yaml"},
    "pyopenssl": {"OpenSSL"},
    "cyclonedx-python-lib": {"cyclonedx"},
    "packageurl-python": {"packageurl"},
    "model-signing": {"model_signing"},
    "pypi-attestations": {"pypi_attestations"},
    "huggingface-hub": {"huggingface_hub"},
}


# Declared runtime dependencies that ``auditor`` never imports itself, each with a check that the reason holds.
def _model_signing_needs_openssl() -> bool:
    """model-signing 1.1 imports ``OpenSSL`` (pyopenssl) when it is imported, without declaring it."""
    import importlib
    import sys as _sys

    importlib.import_module("model_signing")
    return "OpenSSL" in _sys.modules


NOT_IMPORTED = {
    "pyopenssl": _model_signing_needs_openssl,
}


def _modules() -> list[tuple[str, ast.Module]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        out.append((name, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))))
    return out


def _package_of(module: str) -> str:
    """``auditor.scan.pickle_scan`` -> ``auditor.scan``; top-level modules are their own package."""
    parts = module.split(".")
    return ".".join(parts[:2])


def _is_package(module: str) -> bool:
    return (ROOT / Path(*module.split("."))).is_dir()


def test_no_private_names_cross_a_package_boundary() -> None:
    offenders = []
    for module, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.module or not node.module.startswith("auditor"):
                continue
            private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
            if not private:
                continue
            same = _package_of(node.module) == _package_of(module) and _is_package(_package_of(module))
            if not same:
                offenders.append(f"{module} imports {', '.join(private)} from {node.module}")
    assert offenders == []


def _declared_import_names() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"])
    for name, extra in project.get("optional-dependencies", {}).items():
        if name != "test":
            specs.extend(extra)
    names: set[str] = set()
    for spec in specs:
        dist = Requirement(spec).name.lower().replace("_", "-")
        names |= IMPORT_NAMES.get(dist, {dist.replace("-", "_")})
    return names


def test_every_third_party_import_is_a_declared_dependency() -> None:
    declared = _declared_import_names()
    stdlib = set(sys.stdlib_module_names)
    missing = set()
    for module, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top not in stdlib and top != "auditor" and top not in declared:
                    missing.add(f"{top} (in {module})")
    assert sorted(missing) == []


def _imported_top_names() -> set[str]:
    tops: set[str] = set()
    for _module, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                tops |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops.add(node.module.split(".")[0])
    return tops


def test_every_declared_dependency_is_used_or_its_reason_holds() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    imported = _imported_top_names()
    unused = []
    for spec in project["dependencies"]:
        dist = Requirement(spec).name.lower().replace("_", "-")
        names = IMPORT_NAMES.get(dist, {dist.replace("-", "_")})
        if names & imported:
            assert dist not in NOT_IMPORTED, f"{dist} is imported now: drop it from NOT_IMPORTED"
        elif dist in NOT_IMPORTED:
            assert NOT_IMPORTED[dist](), f"{dist}: the reason it is declared no longer holds; drop the dependency"
        else:
            unused.append(dist)
    assert unused == []


def test_the_registered_checks_are_the_policy_languages_check_names() -> None:
    """``config`` validates ``disable = [...]`` against ``kinds.CheckName`` without importing the checks: the two
    lists must be the same, or a real check could not be disabled (or a name would validate and disable nothing)."""
    from auditor.checks import load_checks
    from auditor.kinds import CHECK_VALUES

    names = [check.name for check in load_checks()]
    assert len(names) == len(set(names)) and set(names) == CHECK_VALUES


def test_no_check_reads_package_properties() -> None:
    """``Package.properties`` are what checks surface in SBOMs; a stage that needs another stage's fact reads a
    typed field (``Package.unclaimed``, ``required_by``, ``origin``), never a property string (issue 30: the
    advisories check once read the resolver's ``mlaudit:unclaimed``). Writing properties is what checks do."""
    readers = []
    for module, tree in _modules():
        if not module.startswith("auditor.checks"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                    and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "properties":
                readers.append(f"{module}:{node.lineno}")
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) \
                    and isinstance(node.value, ast.Attribute) and node.value.attr == "properties":
                readers.append(f"{module}:{node.lineno}")
    assert readers == []


def test_the_finding_evidence_path_is_typed() -> None:
    """``Finding.evidence`` is an ``Evidence`` (typed per kind, JSON values only), and outputs read it through its
    typed attributes (``severity_basis``, ``upgrade``, ``to_json``): no ``isinstance`` guess at its shape."""
    import typing

    from auditor.domain import Finding
    from auditor.evidence import Evidence

    hint = typing.get_type_hints(Finding)["evidence"]
    assert set(typing.get_args(hint)) == {Evidence, type(None)}
    guesses = []
    for module, tree in _modules():
        if not module.startswith(("auditor.outputs", "auditor.scan", "auditor.accounting")):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance" \
                    and node.args and "evidence" in ast.unparse(node.args[0]):
                guesses.append(f"{module}:{node.lineno}")
    assert guesses == []

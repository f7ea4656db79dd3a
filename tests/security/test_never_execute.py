"""Never execute audited content — proved, not promised.

A project where every audited thing is a loaded gun (``payloads.build``): sdists whose ``setup.py`` writes a
sentinel, the project's own ``setup.py``/``train.py``, ``trust_remote_code`` modelling code, a pickle whose
``__reduce__`` runs ``os.system("touch ...")``, the same inside a PyTorch zip and a NumPy object array, Keras
Lambda layers (``.keras`` and ``.h5``) whose marshalled code writes a sentinel, and an installed environment with a
``.pth`` file and an importable module that do the same. It is audited in this process (``auditor.cli.main``)
and by a real ``mlaudit`` process, each armed with tripwires (``guards.py``): an audit hook recording process
launches, ``pickle.find_class``, code objects from the audited tree, imports from it, marshal payloads and
non-loopback connections, and pickle entry points that raise. Afterwards: no sentinel exists, and the only
process launched is the resolver's ``uv`` with binary-only flags.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import Outcome, run_cli
from tests.security import payloads
from tests.security.guards import Tripwire, armed, forbid_unpickling, tripwire_env
from tests.support.index import LocalIndex

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def evil(tmp_path_factory: pytest.TempPathFactory) -> payloads.EvilProject:
    return payloads.build(tmp_path_factory.mktemp("never-execute"))


@pytest.fixture(scope="module")
def index_url(evil: payloads.EvilProject) -> Iterator[str]:
    index = LocalIndex()
    index.add_wheel("alpha", "1.0", requires=["beta>=2"])
    index.add_wheel("beta", "2.1")
    index.add_sdist("gamma", "0.3", requires=["beta"], dynamic=False, sentinel=evil.sentinels / "sdist-gamma")
    index.add_sdist("delta", "1.0", dynamic=True, sentinel=evil.sentinels / "sdist-delta")
    with index.serve() as url:
        yield url


def commands(evil: payloads.EvilProject, index_url: str) -> dict[str, list[str]]:
    common = ["-f", "json", "-q", "--fail-on", "critical", "--timeout", "5"]
    return {
        "audit": [str(evil.project), "--index-url", index_url, "--python-version", "3.11", *common],
        "scan": ["scan", str(evil.models), "-f", "json", "-q", "--fail-on", "critical"],
        "env": ["--env", str(evil.env), "--offline", *common],
    }


def tripwire_for(evil: payloads.EvilProject) -> Tripwire:
    watched = [os.path.abspath(p) for p in (evil.project, evil.env, evil.sentinels)]
    return Tripwire(watched, os.fsencode(str(evil.sentinels)))


# Fixed stdlib probes of the machine (not audited content, fixed arguments): ``ctypes.util.find_library`` runs
# ``ldconfig -p`` and ``platform.processor()`` runs ``uname -p`` when libraries ask about the platform at import.
STDLIB_PROBES = [["ldconfig", "-p"], ["uname", "-p"]]


def allowed(event: dict[str, Any]) -> bool:
    """The resolver's own uv, binary-only (``--only-binary :all:``, no build opt-in), is the one expected process
    (besides the stdlib's fixed platform probes)."""
    if event["event"] != "popen":
        return False
    argv = [str(a) for a in event.get("argv") or []]
    if argv and [os.path.basename(argv[0]), *argv[1:]] in STDLIB_PROBES:
        return True
    exe = os.path.basename(str(event.get("executable") or (argv[0] if argv else "")))
    if not (exe == "uv" or exe.startswith("uv.")) and not (argv and os.path.basename(argv[0]) == "uv"):
        return False
    return "--only-binary" in argv and argv[argv.index("--only-binary") + 1] == ":all:" and "--no-build" not in argv


def judge(name: str, outcome_code: int, report_text: str, events: list[dict[str, Any]],
          evil: payloads.EvilProject) -> dict[str, Any]:
    assert evil.created() == [], f"{name}: audited content ran: sentinels {evil.created()}"
    tripped = [e for e in events if not allowed(e)]
    assert tripped == [], f"{name}: tripwires fired: {tripped}"
    assert outcome_code in (0, 1, 3), f"{name}: exit {outcome_code}"
    report = json.loads(report_text)
    assert isinstance(report, dict)
    return report


def check_reports(reports: dict[str, dict[str, Any]], events: dict[str, list[dict[str, Any]]]) -> None:
    """The audit did look at the guns (so 'nothing ran' is not 'nothing was read')."""
    uv_runs = [e for e in events["audit"] if e["event"] == "popen"]
    assert uv_runs, "the resolver never ran: the audit did not get far enough to prove anything"
    pins = {p["name"]: p["version"] for p in reports["audit"]["packages"]}
    assert pins.get("alpha") == "1.0" and pins.get("beta") == "2.1", pins
    said = json.dumps(reports["audit"]["skipped"]) + json.dumps(reports["audit"]["packages"])
    assert "gamma" in said and "delta" in said, "the sdist-only requirements were neither resolved nor skipped"
    kinds = {f["kind"] for f in reports["audit"]["findings"]}
    assert {"trust-remote-code", "unsafe-model"} <= kinds, f"the audit did not flag the project's guns: {kinds}"
    scanned = json.dumps(reports["scan"]["findings"])
    for name in ("model.pkl", "pytorch_model.bin", "weights.npy", "model.keras", "model.h5", "model.joblib",
                 "weights.7z", "damaged.pt", "model_config.yaml", "chat_template.jinja"):
        assert name in scanned, f"scan has no finding for {name}: {scanned[:600]}"
    assert {p["name"] for p in reports["env"]["packages"]} == {"innocent"}


def test_in_process(evil: payloads.EvilProject, index_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    reports: dict[str, dict[str, Any]] = {}
    events: dict[str, list[dict[str, Any]]] = {}
    for name, argv in commands(evil, index_url).items():
        tripwire = tripwire_for(evil)
        with monkeypatch.context() as patch:
            forbid_unpickling(tripwire, patch.setattr)
            with armed(tripwire):
                outcome: Outcome = run_cli(argv)
        assert outcome.out.strip(), f"{name}: no report (exit {outcome.code}): {outcome.err[-800:]}"
        reports[name] = judge(name, outcome.code, outcome.out, tripwire.events, evil)
        events[name] = tripwire.events
        loaded = [m for m in list(sys.modules.values())
                  if tripwire.under_watch(getattr(m, "__file__", None) or "")]
        assert loaded == [], f"{name}: modules imported from the audited tree: {loaded}"
    check_reports(reports, events)


def mlaudit_command() -> list[str]:
    exe = shutil.which("mlaudit")
    return [exe] if exe else [sys.executable, "-m", "auditor"]


def test_real_mlaudit_process(evil: payloads.EvilProject, index_url: str, tmp_path: Path) -> None:
    reports: dict[str, dict[str, Any]] = {}
    events: dict[str, list[dict[str, Any]]] = {}
    for name, argv in commands(evil, index_url).items():
        log = tmp_path / f"{name}-events.json"
        env = tripwire_env(REPO, tmp_path / "site", [evil.project, evil.env, evil.sentinels], str(evil.sentinels),
                           log)
        proc = subprocess.run([*mlaudit_command(), *argv], capture_output=True, text=True, env=env, timeout=120,
                              cwd=tmp_path, check=False)
        assert log.is_file(), f"{name}: the tripwire never armed in the subprocess: {proc.stderr[-800:]}"
        recorded = json.loads(log.read_text())
        assert proc.stdout.strip(), f"{name}: no report (exit {proc.returncode}): {proc.stderr[-800:]}"
        reports[name] = judge(name, proc.returncode, proc.stdout, recorded, evil)
        events[name] = recorded
    check_reports(reports, events)


# -- controls: the guns are loaded and the tripwires work (otherwise the tests above would prove nothing) --------

CONTROLS = {
    "pickle": "import pickle; pickle.load(open('{m}/model.pkl', 'rb'))",
    "torch": "import pickle, zipfile; pickle.loads(zipfile.ZipFile('{m}/pytorch_model.bin').read('archive/data.pkl'))",
    "numpy": "import numpy; numpy.load('{m}/weights.npy', allow_pickle=True)",
    "keras-v3-lambda": "import json, zipfile, base64, marshal, types; "
                       "c = json.loads(zipfile.ZipFile('{m}/model.keras').read('config.json'))['config']['layers'][1]; "
                       "types.FunctionType(marshal.loads(base64.b64decode("
                       "c['config']['function']['config']['code'])), globals())(1)",
    "keras-h5-lambda": "import h5py, json, base64, marshal, types; "
                       "c = json.loads(h5py.File('{m}/model.h5').attrs['model_config'])['config']['layers'][0]; "
                       "types.FunctionType(marshal.loads(base64.b64decode(c['config']['function'][0])), globals())(1)",
    "project-setup.py": "import runpy; runpy.run_path('{p}/setup.py')",
    "yaml": "import yaml; yaml.unsafe_load(open('{m}/model_config.yaml'))",
    "jinja": "import jinja2; jinja2.Environment().from_string(open('{m}/chat_template.jinja').read()).render()",
    "pth": "import site; site.addsitedir('{s}')",
}


def test_payloads_really_fire_when_executed(tmp_path: Path) -> None:
    """Each payload, executed on purpose in a throw-away interpreter, does create its sentinel."""
    evil = payloads.build(tmp_path)
    site = evil.env / "lib" / "python3.11" / "site-packages"
    for sentinel, code in CONTROLS.items():
        script = code.format(m=evil.models, p=evil.project, s=site)
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                              cwd=tmp_path, check=False)
        assert sentinel in evil.created(), f"{sentinel}: payload did not fire: {proc.stderr[-500:]}"


def test_tripwires_fire(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    evil = payloads.build(tmp_path)
    tripwire = tripwire_for(evil)
    with monkeypatch.context() as patch:
        forbid_unpickling(tripwire, patch.setattr)
        with armed(tripwire):
            import pickle

            with pytest.raises(RuntimeError, match="never-execute guard"):
                pickle.loads((evil.models / "model.pkl").read_bytes())
            subprocess.run(["true"], check=False)
            code = compile("x = 1", str(evil.project / "train.py"), "exec")
            exec(code, {})  # noqa: S102 - harmless code attributed to an audited file
    kinds = [e["event"] for e in tripwire.events]
    assert "pickle.loads called" in kinds and "popen" in kinds and "exec of audited code" in kinds, kinds
    assert evil.created() == []
    assert not allowed({"event": "popen", "argv": ["uv", "pip", "compile", "--allow-build"]})
    assert allowed({"event": "popen", "argv": ["/x/uv", "pip", "compile", "--only-binary", ":all:", "r.in"]})

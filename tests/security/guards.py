"""Python-level tripwires for the never-execute suite: an audit hook that records every way audited content could
run (processes, pickle class lookups, code objects from the audited tree, imports from it, marshal payloads,
non-loopback connections), usable in this process and, through ``sitecustomize``, in a real ``mlaudit`` process.

Audit hooks cannot be removed, so one hook is installed per process and reports to whichever ``Tripwire`` is
active; outside a test it does nothing.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Tripwire:
    watched: list[str]  # folders whose code must never run (the audited project, environment, models)
    marker: bytes  # bytes every payload carries (the sentinel folder's path)
    events: list[dict[str, Any]] = field(default_factory=list)

    def record(self, kind: str, **detail: Any) -> None:
        self.events.append({"event": kind, **{k: _plain(v) for k, v in detail.items()}})

    def under_watch(self, path: object) -> bool:
        text = os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else ""
        return bool(text) and any(os.path.abspath(text).startswith(w) for w in self.watched)

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "subprocess.Popen":
            executable, argv = args[0], args[1]
            self.record("popen", executable=executable, argv=list(argv) if isinstance(argv, (list, tuple)) else argv)
        elif event in ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.startfile"):
            self.record(event, args=args[:2])
        elif event == "pickle.find_class":
            self.record("pickle.find_class", module=args[0], name=args[1])
        elif event == "marshal.loads":
            data = args[0]
            if isinstance(data, (bytes, bytearray)) and self.marker in data:
                self.record("marshal.loads of a payload")
        elif event == "exec":
            code = args[0]
            if isinstance(code, types.CodeType) and (self.under_watch(code.co_filename)
                                                     or self.marker in repr(code.co_consts).encode()):
                self.record("exec of audited code", filename=code.co_filename)
        elif event == "import":
            filename = args[1] if len(args) > 1 else None
            if filename and self.under_watch(filename):
                self.record("import from the audited tree", module=args[0], filename=filename)
        elif event == "socket.connect":
            address = args[1]
            if isinstance(address, tuple) and address and not _loopback(str(address[0])):
                self.record("non-loopback connect", address=address)
        elif event == "open":
            path, mode = args[0], args[1]
            if isinstance(mode, str) and any(c in mode for c in "wax+") and isinstance(path, (str, bytes)) \
                    and self.marker in os.fsencode(path):
                self.record("open of a sentinel for writing", path=path)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return os.fsdecode(value) if isinstance(value, (bytes, os.PathLike)) else repr(value)


_ACTIVE: list[Tripwire] = []
_INSTALLED = False


def _dispatch(event: str, args: tuple[Any, ...]) -> None:
    if _ACTIVE:
        _ACTIVE[-1].hook(event, args)


@contextmanager
def armed(tripwire: Tripwire) -> Iterator[Tripwire]:
    global _INSTALLED
    if not _INSTALLED:
        sys.addaudithook(_dispatch)
        _INSTALLED = True
    _ACTIVE.append(tripwire)
    try:
        yield tripwire
    finally:
        _ACTIVE.remove(tripwire)


# In a subprocess: ``PYTHONPATH=<dir with this sitecustomize>`` arms a tripwire from MLAUDIT_TRIPWIRE (JSON
# ``{"watched": [...], "marker": "...", "log": "..."}``), makes pickle loading raise, and writes the events at exit.
SITECUSTOMIZE = '''
import atexit, json, os, sys
_cfg = os.environ.get("MLAUDIT_TRIPWIRE")
if _cfg:
    sys.path.insert(0, os.environ["MLAUDIT_TRIPWIRE_REPO"])
    from tests.security.guards import Tripwire, armed, forbid_unpickling
    _cfg = json.loads(_cfg)
    _tw = Tripwire([os.path.abspath(w) for w in _cfg["watched"]], _cfg["marker"].encode())
    _ctx = armed(_tw)
    _ctx.__enter__()
    forbid_unpickling(_tw)
    def _dump():
        with open(_cfg["log"], "w") as fh:
            json.dump(_tw.events, fh)
    atexit.register(_dump)
'''


def forbid_unpickling(tripwire: Tripwire, setter: Any = setattr) -> None:
    """Make every pickle entry point raise (and record) instead of deserialising. ``setter`` lets a test pass
    ``monkeypatch.setattr`` so the real functions come back afterwards."""
    import pickle

    def refuse(name: str) -> Any:
        def _raise(*_a: Any, **_k: Any) -> Any:
            tripwire.record(f"pickle.{name} called")
            raise RuntimeError(f"never-execute guard: pickle.{name} was called during an audit")
        return _raise

    for name in ("load", "loads", "_load", "_loads"):
        if hasattr(pickle, name):
            setter(pickle, name, refuse(name))

    class _Refusing(pickle.Unpickler):
        def load(self) -> Any:
            tripwire.record("pickle.Unpickler.load called")
            raise RuntimeError("never-execute guard: pickle.Unpickler.load was called during an audit")

    setter(pickle, "Unpickler", _Refusing)


def tripwire_env(repo: Path, site_dir: Path, watched: list[Path], marker: str, log: Path) -> dict[str, str]:
    site_dir.mkdir(parents=True, exist_ok=True)
    (site_dir / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site_dir), str(repo)])
    env["MLAUDIT_TRIPWIRE_REPO"] = str(repo)
    env["MLAUDIT_TRIPWIRE"] = json.dumps({"watched": [str(w) for w in watched], "marker": marker, "log": str(log)})
    return env

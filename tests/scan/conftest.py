"""Scanner tests run with every deserialiser booby-trapped: if the scanner ever called pickle/numpy/torch
loading, the test fails loudly instead of running a payload."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:  # imported before the traps are set: importing numpy itself unpickles nothing audited
    import numpy as _np  # noqa: F401
except ImportError:  # pragma: no cover
    _np = None


class LoadCalled(AssertionError):
    pass


def _refuse(*_args: Any, **_kwargs: Any) -> Any:
    raise LoadCalled("the scanner tried to deserialise audited content")


class _RefusingUnpickler:
    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        raise LoadCalled("the scanner tried to construct an Unpickler")


@pytest.fixture(autouse=True)
def no_deserialisation(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import _pickle

    for mod in (pickle, _pickle):
        monkeypatch.setattr(mod, "load", _refuse)
        monkeypatch.setattr(mod, "loads", _refuse)
        monkeypatch.setattr(mod, "Unpickler", _RefusingUnpickler)
    monkeypatch.setattr(pickle, "_load", _refuse, raising=False)
    monkeypatch.setattr(pickle, "_loads", _refuse, raising=False)
    try:
        import numpy as np

        monkeypatch.setattr(np, "load", _refuse)
    except ImportError:  # pragma: no cover
        pass
    yield


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[Path]:
    """A path every crafted payload would create if it ever ran; asserted absent after each test."""
    path = tmp_path / "PWNED_SENTINEL"
    yield path
    assert not path.exists(), "a payload was executed during the scan"

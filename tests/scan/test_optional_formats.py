"""The optional format extras (``mlaudit[hdf5]``, ``mlaudit[7z]``): without the reader installed, a file of that
format is a listed gap -- skipped with the install command, the report incomplete, exit 3 under
``--require-complete`` -- never a silent clean. The reader's absence is simulated in-process (``sys.modules[name] =
None`` makes its import fail as if it were not installed); the files are real (a Keras H5 with a Lambda layer from
the labelled corpus, a 7z archive built here holding a malicious pickle)."""

from __future__ import annotations

import io
import json
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from auditor.cli import main
from tests.scan import craft
from tests.security.payloads import seven_zip
from tests.support.fixtures import MODEL_CORPUS


def _scan_json(path: Path, *extra: str) -> tuple[int, dict[str, object]]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["scan", str(path), "--format", "json", *extra])
    report = json.loads(out.getvalue())
    assert isinstance(report, dict)
    return code, report


@pytest.mark.parametrize(("module", "extra", "make"), [
    ("h5py", "mlaudit[hdf5]", lambda tmp, s: MODEL_CORPUS / "keras_lambda.h5"),
    ("py7zr", "mlaudit[7z]", lambda tmp, s: _write(tmp / "weights.7z", seven_zip("model.pkl", craft.os_system_p2(s)))),
])
def test_a_format_without_its_reader_is_a_listed_gap(module: str, extra: str, make: object, tmp_path: Path,
                                                     sentinel: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make(tmp_path, sentinel)  # type: ignore[operator]
    code, report = _scan_json(path)
    assert report["complete"] is True and code == 1  # with the reader: inspected, the payload found
    monkeypatch.setitem(sys.modules, module, None)
    code, report = _scan_json(path)
    assert report["complete"] is False
    [gap] = report["skipped"]  # type: ignore[misc]
    assert gap["file"] == str(path) and f"{module} is not installed" in gap["reason"] and extra in gap["reason"]
    code, _ = _scan_json(path, "--require-complete")
    assert code == 3


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path

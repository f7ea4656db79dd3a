"""Stand-in wheels for packages that have no usable wheel, so uv can still place them in the graph.

When a pin has only an sdist (or no wheel for the target), uv cannot read its metadata without building it. We
know the name and version, and sometimes its static dependencies (PEP 643), so we hand uv a wheel that carries
exactly that metadata and no code, through ``--find-links`` on a private directory. uv then resolves the rest of the
graph around it with the real constraints, and ``# via`` annotations keep the edges into and out of it. The
stand-in's own file is never reported as an artifact.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from pathlib import Path

TAG = "py3-none-any"


def write_placeholder(directory: Path, name: str, version: str, requires: list[str]) -> Path:
    """Write ``{name}-{version}-py3-none-any.whl`` (METADATA, WHEEL, RECORD only) into ``directory``."""
    import zipfile  # here: imported with the remediation stage by every audit, used when a stand-in is written

    dist = re.sub(r"[-_.]+", "_", name).lower()
    info = f"{dist}-{version}.dist-info"
    meta = "".join([f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                    *[f"Requires-Dist: {r}\n" for r in requires], "\n"]).encode()
    wheel = f"Wheel-Version: 1.0\nGenerator: mlaudit-placeholder\nRoot-Is-Purelib: true\nTag: {TAG}\n".encode()
    files = {f"{info}/METADATA": meta, f"{info}/WHEEL": wheel}
    record = "".join(f"{p},sha256={_b64(d)},{len(d)}\n" for p, d in files.items()) + f"{info}/RECORD,,\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, data in [*files.items(), (f"{info}/RECORD", record.encode())]:
            zf.writestr(zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0)), data)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{dist}-{version}-{TAG}.whl"
    target.write_bytes(buf.getvalue())
    return target


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

"""Registry of output formats. An output renders a finished ``Report``; it never decides anything.

Each entry maps a ``--format`` name to ``"module:function"``, a function ``render(report, options) -> str``
(``RenderOptions``: how to show it, never what it says; every renderer also takes the report alone).
Imports are lazy so that ``--format json`` never pays for jinja2 or cyclonedx imports.
"""

from __future__ import annotations

import importlib
from typing import Protocol, cast

from auditor.domain import RenderOptions, Report


class Renderer(Protocol):
    def __call__(self, report: Report, options: RenderOptions = ..., /) -> str: ...


FORMATS: dict[str, str] = {
    "terminal": "auditor.outputs.terminal:render",
    "json": "auditor.outputs.json_out:render",
    "cyclonedx": "auditor.outputs.cyclonedx:render_json",
    "cyclonedx-json": "auditor.outputs.cyclonedx:render_json",
    "cyclonedx-xml": "auditor.outputs.cyclonedx:render_xml",
    "sarif": "auditor.outputs.sarif:render",
    "html": "auditor.outputs.html:render",
    "markdown": "auditor.outputs.markdown:render",
}


def get_renderer(name: str) -> Renderer:
    module_name, func = FORMATS[name].split(":")
    module = importlib.import_module(module_name)
    return cast(Renderer, getattr(module, func))

"""The HTML fleet report: one self-contained offline page built from ``index.json`` (no script, no CDN).

Same safety model as the single report (``auditor.outputs.html``): every value (paths, package names, advisory
ids, model ids come from the audited world) reaches the page only through jinja2 autoescaping, after control and
bidi-override characters are removed (``textsafe.clean``), so a hostile project name cannot inject markup or make
one name read as another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
import markupsafe

from auditor import __version__
from auditor.resources import templates_dir
from auditor.textsafe import clean

MAX_ROWS = 2000  # per table: a page for 100k projects would not open; index.json has them all
SEVERITIES = ("critical", "high", "medium", "low", "info")


def _finalize(value: object) -> object:
    if isinstance(value, markupsafe.Markup):
        return value
    return clean(value, 4000) if isinstance(value, str) else value


_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=True, finalize=_finalize,
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_fleet(index: Mapping[str, Any]) -> str:
    paths = {u["uid"]: u["path"] for u in index["units"]}
    extra = sorted({s for u in index["units"] for s in u["by_severity"]} - set(SEVERITIES))
    return _ENV.get_template("fleet.html.j2").render(
        version=__version__, index=index, summary=index["summary"], run=index["run"],
        units=index["units"][:MAX_ROWS], advisories=index["advisories"][:MAX_ROWS],
        malicious=index["malicious"][:MAX_ROWS], models=index["models"][:MAX_ROWS], paths=paths,
        severities=[*SEVERITIES, *extra], max_rows=MAX_ROWS,
        cut={k: max(0, len(index[k]) - MAX_ROWS) for k in ("units", "advisories", "malicious", "models")},
    )

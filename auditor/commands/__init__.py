"""Registry of subcommands: ``mlaudit NAME ...``. Anything else on the command line is an audit.

Each module named here exposes ``NAME``, ``HELP``, ``configure(parser)`` and ``run(args) -> int`` (an exit code).
"""

from __future__ import annotations

COMMAND_MODULES: list[str] = [
    "auditor.commands.typosquat_cmd",
    "auditor.commands.graph_cmd",
    "auditor.commands.sbom_cmd",
    "auditor.commands.db_cmd",
    "auditor.commands.verify_model_cmd",
    "auditor.commands.scan_cmd",
    "auditor.commands.repro_cmd",
    "auditor.commands.fleet_cmd",
    "auditor.commands.fix_cmd",
]

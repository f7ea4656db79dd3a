"""``python -m auditor`` runs the CLI."""

from auditor.cli import console_main

console_main()

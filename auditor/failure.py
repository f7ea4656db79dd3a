"""How an exception that ended a run is told: its exit code and one line of message.

The single mapping, shared by the command line (``auditor.cli``, which prints it) and ``mlaudit fleet`` (which
records it per project instead of printing it): a ``MlauditError`` carries its own exit code; anything else is a
bug, reported as "could not complete" (exit 3), never as a clean result.
"""

from __future__ import annotations

from auditor.errors import EXIT_INCOMPLETE, MlauditError
from auditor.textsafe import clean, redact_url


def error_exit(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message for an exception that ended a run."""
    if isinstance(exc, MlauditError):
        return exc.exit_code, f"mlaudit: error: {clean(redact_url(str(exc)), 4000)}"
    if isinstance(exc, KeyboardInterrupt):
        return 130, "mlaudit: interrupted"
    # a bug: never a silent clean result, never exit 0
    return EXIT_INCOMPLETE, (f"mlaudit: internal error: {type(exc).__name__}: {clean(redact_url(str(exc)), 500)} "
                             "(the audit did not complete; rerun with -v for details)")


__all__ = ["error_exit"]

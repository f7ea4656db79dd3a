"""The small exception hierarchy that the CLI turns into exit codes.

Checks, sources and resolvers raise these; only ``auditor.cli`` maps them to a process exit status, so that
library callers get exceptions and release gates get a stable contract:
0 clean, 1 policy failed, 2 usage or input error, 3 could not complete.
"""

from __future__ import annotations

EXIT_CLEAN = 0
EXIT_POLICY = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3


class MlauditError(Exception):
    """Base of every error mlaudit reports to the user without a traceback."""

    exit_code = EXIT_INCOMPLETE

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        return f"{where}{self.message}"


class UsageError(MlauditError):
    """The command line itself is wrong (unknown option, conflicting flags)."""

    exit_code = EXIT_USAGE


class InputError(MlauditError):
    """An input file is missing, unreadable or malformed; names the file and, when known, the line."""

    exit_code = EXIT_USAGE


class ConfigError(InputError):
    """The policy/config file is invalid (unknown key, wrong type, bad date)."""


class IncompleteError(MlauditError):
    """The audit could not be completed; never reported as a clean result."""

    exit_code = EXIT_INCOMPLETE


class NetworkError(IncompleteError):
    """A remote service failed (timeout, refused, 5xx after retries, bad payload).

    ``service`` is a human name ("package index", "OSV API", ...) and ``host`` the URL's host, so the message
    says which dependency of the audit failed without leaking full URLs with credentials.
    """

    def __init__(self, message: str, *, service: str, host: str) -> None:
        super().__init__(f"{service} ({host}): {message}")
        self.service = service
        self.host = host


class HostDownError(NetworkError):
    """A host is down for the rest of the run: it failed after its retries (``first``: this request found it so)
    or it had failed earlier and is not asked again. ``reason`` is that first failure, for the one report entry the
    host gets however many requests or services needed it."""

    def __init__(self, message: str, *, service: str, host: str, reason: str, first: bool) -> None:
        super().__init__(message, service=service, host=host)
        self.reason = reason
        self.first = first


class ClientApiError(IncompleteError):
    """A client library raised what its API does not promise (``TypeError``, ``KeyError``, ``AttributeError``): the
    library or the service's protocol changed under mlaudit. A bug to report, never an outage of the service: the
    report names the library (``host`` holds it, with its version) instead of the service's host.
    """

    def __init__(self, message: str, *, service: str, library: str) -> None:
        super().__init__(f"{service} client ({library}): {message}")
        self.service = f"{service} client"
        self.host = library


class ResolutionError(IncompleteError):
    """The resolver failed for reasons that are not specific requirements (index down, resolver crash)."""

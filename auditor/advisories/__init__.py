"""Known-vulnerability and known-malicious package data: the OSV index (``db``), exact OSV matching (``match``),
the OSV export updater (``update``) and the online OSV API client (``osv_api``).

Checks use ``open_store()`` to get the active database and ``match`` to decide; nothing here prints or exits.
"""

from __future__ import annotations

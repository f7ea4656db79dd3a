"""Does the Trusted Publisher's repository match the source repository the project declares?

Why: a valid attestation proves "built by workflow W in repository R"; it does not prove R is the project's
repository. A package whose metadata points at ``github.com/psf/requests`` but whose attestation names
``github.com/someone/requests`` deserves a look. The declared URLs come from core metadata (``Project-URL``,
``Home-page``), read from ``Package.metadata`` when a source already filled it, else from the PEP 658 metadata
file the index serves next to the wheel (never from running anything).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from auditor.provenance.verify import PublisherInfo

_FORGE_HOSTS = {"GitHub": "github.com", "GitLab": "gitlab.com"}
_TRAILING = re.compile(r"(\.git)?/*$")
# First path segments on github.com that are site pages, not owners (``/sponsors/NAME`` is a funding link).
_NOT_OWNERS = frozenset({"sponsors", "orgs", "apps", "marketplace", "features", "topics", "settings", "users"})


def declared_urls_from_metadata(metadata: dict[str, Any]) -> list[str]:
    """URLs in ``Package.metadata`` as sources fill it (``project_urls`` dict/list, ``home_page``, ``homepage``)."""
    urls: list[str] = []
    project_urls = metadata.get("project_urls") or metadata.get("project-urls")
    if isinstance(project_urls, dict):
        urls += [str(v) for v in project_urls.values()]
    elif isinstance(project_urls, list):
        for item in project_urls:
            text = str(item)
            urls.append(text.split(",", 1)[1].strip() if "," in text else text)
    for key in ("home_page", "homepage", "home-page", "source", "repository"):
        value = metadata.get(key)
        if isinstance(value, str) and value:
            urls.append(value)
    return urls


def declared_urls_from_core_metadata(text: str) -> list[str]:
    """``Project-URL: Label, URL`` and ``Home-page`` lines of a METADATA/PKG-INFO file."""
    import email.parser  # here: only a provenance check online reads core metadata (issue 25, start-up)

    message = email.parser.Parser().parsestr(text, headersonly=True)
    urls = [v.split(",", 1)[1].strip() for v in message.get_all("Project-URL") or [] if "," in v]
    home = message.get("Home-page")
    if home and home.strip().upper() != "UNKNOWN":
        urls.append(home.strip())
    return urls


def repo_key(url: str) -> str | None:
    """``host/owner/repo`` (lower case) of a forge URL, e.g. for ``https://github.com/Psf/Requests.git/issues``."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    segments = [s for s in _TRAILING.sub("", parts.path).split("/") if s]
    if not host or len(segments) < 2:
        return None
    if host == "gitlab.com":  # GitLab allows sub-groups: keep the path up to the first "-" route separator
        cut = segments.index("-") if "-" in segments else len(segments)
        segments = segments[:cut]
        return "/".join([host, *[s.lower() for s in segments]]) if len(segments) >= 2 else None
    if host == "github.com" and segments[0].lower() in _NOT_OWNERS:
        return None
    return f"{host}/{segments[0].lower()}/{_TRAILING.sub('', segments[1]).lower()}"


def publisher_key(publisher: PublisherInfo) -> str | None:
    host = _FORGE_HOSTS.get(publisher.kind)
    if publisher.repository is None:
        return None
    if host is None:  # CircleCI vcs-origin looks like "github.com/org/repo"
        return repo_key(f"https://{publisher.repository}")
    return f"{host}/{publisher.repository.strip('/').lower()}"


def source_match(publishers: Iterable[PublisherInfo], declared: Iterable[str]) -> str:
    """``"true"`` (a publisher's repository is among the declared ones), ``"false"``, or ``"unknown"`` (no forge
    URL declared, or the publisher names no repository, e.g. a Google service account)."""
    declared_keys = {k for k in (repo_key(u) for u in declared) if k}
    publisher_keys = {k for k in (publisher_key(p) for p in publishers) if k}
    if not declared_keys or not publisher_keys:
        return "unknown"
    for pkey in publisher_keys:
        for dkey in declared_keys:
            if pkey == dkey or dkey.startswith(pkey + "/"):
                return "true"
    return "false"

"""Fixtures of the fault-injection suite: short retry schedules, so ~60 faults fit in well under a minute."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

from auditor.net import NetConfig
from tests.support.index import LocalIndex


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the real retry/backoff code but with one retry and short sleeps, also where the CLI offers no flag for
    them (backoff); the schedule itself is covered in ``tests/core/test_net.py``. uv gets the same retry count via
    ``UV_HTTP_RETRIES`` (``auditor/resolve/target.py``)."""
    quick = functools.partial(NetConfig, retries=1, backoff=0.05, max_backoff=0.1, deadline=30.0)
    monkeypatch.setattr("auditor.commands.common.NetConfig", quick)


@pytest.fixture(scope="module")
def pinned_index() -> Iterator[str]:
    """A healthy index for the pinned project (``--online`` checks also ask the index about each package)."""
    index = LocalIndex()
    index.add_wheel("fault-demo-pkg", "1.0")
    with index.serve() as url:
        yield url

"""Fixtures of the fault-injection suite: short retry schedules, so ~60 faults fit in well under a minute."""

from __future__ import annotations

import functools

import pytest

from auditor.net import NetConfig


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit CLI has only ``--timeout``; keep the real retry/backoff code but with one retry and short sleeps
    (the schedule itself is covered in ``tests/core/test_net.py``). uv gets the same retry count via
    ``UV_HTTP_RETRIES`` (``auditor/resolve/target.py``)."""
    quick = functools.partial(NetConfig, retries=1, backoff=0.05, max_backoff=0.1, deadline=30.0)
    monkeypatch.setattr("auditor.commands.common.NetConfig", quick)

"""Shared with the fault suite: quiet, fast-stopping loopback services."""

from tests.faults.conftest import _quiet_fake_services  # noqa: F401

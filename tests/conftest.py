"""Test-wide safety net: every test runs with a private cache dir and no route to the outside world."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

CLOSED_INDEX = "http://127.0.0.1:9/simple"  # the discard port: nothing listens, connections are refused at once


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the whole run (the advisory index is built once); tests needing a pristine cache
    set ``MLAUDIT_CACHE_DIR`` to their own ``tmp_path``."""
    return tmp_path_factory.mktemp("mlaudit-cache")


@pytest.fixture(autouse=True)
def _isolated_env(session_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    cache = session_cache
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(cache / "hf"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    # A resolution that names no index must not reach the resolver's default index (uv runs as a subprocess, out
    # of the socket guard's reach): it falls back to a closed loopback port and fails fast instead.
    monkeypatch.setenv("PIP_INDEX_URL", CLOSED_INDEX)
    for var in ("MLAUDIT_OSV_API", "MLAUDIT_OSV_URL", "HF_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    yield


_REAL_CONNECT = socket.socket.connect
_REAL_CONNECT_EX = socket.socket.connect_ex


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and the like
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name: resolving it would already be a lookup outside the machine


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Tests never touch the internet: any in-process connect to a non-loopback address is refused and fails
    the test (subprocesses are pointed at loopback services by the tests themselves)."""
    attempts: list[str] = []

    def guarded_connect(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            attempts.append(repr(address))
            raise ConnectionRefusedError(f"test network guard: {address!r} is not loopback")
        _REAL_CONNECT(sock, address)  # type: ignore[arg-type]

    def guarded_connect_ex(sock: socket.socket, address: object) -> int:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            attempts.append(repr(address))
            return 111
        return _REAL_CONNECT_EX(sock, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    yield attempts
    assert not attempts, f"test tried to reach non-loopback addresses: {attempts}"

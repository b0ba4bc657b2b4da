"""Record every name lookup and connection a block makes; refuse any that leaves loopback."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def only_loopback(monkeypatch: Any) -> list[str]:
    """Patch ``socket`` for the test; returns the list that collects refused targets."""
    outside: list[str] = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not _loopback(str(host)):
            outside.append(f"lookup {host}")
            raise socket.gaierror(f"blocked by the test: {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock, address):
        if isinstance(address, tuple) and not _loopback(str(address[0])):
            outside.append(f"connect {address[0]}")
            raise ConnectionRefusedError(f"blocked by the test: {address[0]}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return outside

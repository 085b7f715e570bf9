"""Ports and the processes behind them: pick a free port, check one, wait until something listens on it.

Shared by the local cluster and the test session (tests/services.py); ``ClusterError`` is what either reports when
something did not come up, with a message an operator can act on.
"""

from __future__ import annotations

import contextlib
import socket
import time


class ClusterError(RuntimeError):
    pass


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise ClusterError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f}s")

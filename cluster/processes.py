"""Ports and the processes behind them: pick a free port, check one, wait until something listens on it.

Shared by the local cluster and the test session (tests/services.py); ``ClusterError`` is what either reports when
something did not come up, with a message an operator can act on.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path


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


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process descended from it (read from /proc), parents before children."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # the command name is in parentheses and may hold spaces: the fields after it are fixed
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop(0)
        tree.append(current)
        pending.extend(children.get(current, []))
    return tree


def signal_tree(pid: int, signum: int) -> list[int]:
    """Send ``signum`` to ``pid`` and all its descendants; returns the pids signalled."""
    signalled = []
    for member in process_tree(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signum)
            signalled.append(member)
    return signalled

"""A Sentinel failover seen by a client in the middle of a command: its retry reaches the new master.

A real master, its replica and a Sentinel, private to this module. The workers' connection retries a failed command
(``Retry`` in ``platform.redis.worker_connection``); the retry has to ask the Sentinels where the master is, or it
goes back to the server that just failed.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis as redis_lib
from redis.backoff import NoBackoff
from redis.retry import Retry

from mutiroes.platform.redis import connect
from mutiroes.web.cachestore import HeldConnection
from tests.services import free_port, wait_for_port

MASTER_NAME = "mutiroes-test"


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:.0f}s: {what}")


def role(client: redis_lib.Redis) -> str:
    return client.info("replication")["role"]


@pytest.fixture
def pair(tmp_path: Path):
    """Ports of a master, its synced replica and one Sentinel (quorum 1) that knows both; never fails over alone."""
    ports = {"a": free_port(), "b": free_port(), "sentinel": free_port()}
    processes: list[subprocess.Popen] = []

    def start(*command: str, port: int) -> None:
        processes.append(subprocess.Popen(list(command), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for_port(port)

    server = shutil.which("redis-server") or "redis-server"
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        extra = ["--replicaof", "127.0.0.1", str(ports["a"])] if name == "b" else []
        start(server, "--port", str(ports[name]), "--bind", "127.0.0.1", "--dir", str(tmp_path / name),
              "--save", "", "--appendonly", "no", *extra, port=ports[name])  # fmt: skip
    a = redis_lib.Redis(port=ports["a"], socket_timeout=2)
    b = redis_lib.Redis(port=ports["b"], socket_timeout=2)
    wait_until(lambda: b.info("replication").get("master_link_status") == "up", 15, "the replica syncs")
    config = tmp_path / "sentinel.conf"
    config.write_text(
        "\n".join(
            [
                f"port {ports['sentinel']}",
                "bind 127.0.0.1",
                f"dir {tmp_path}",
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {ports['a']} 1",
                f"sentinel down-after-milliseconds {MASTER_NAME} 60000",
                f"sentinel failover-timeout {MASTER_NAME} 10000",
                "",
            ]
        )
    )
    start(shutil.which("redis-sentinel") or "redis-sentinel", str(config), port=ports["sentinel"])
    sentinel = redis_lib.Redis(port=ports["sentinel"], socket_timeout=2, decode_responses=True)

    def replica_known() -> bool:
        replicas = sentinel.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)
        return any(r["port"] == str(ports["b"]) and r["master-link-status"] == "ok" for r in replicas)

    wait_until(replica_known, 20, "the Sentinel sees the replica")
    try:
        yield ports, a, b, sentinel
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=10)
        for client in (a, b, sentinel):
            client.close()


def test_a_command_retried_during_a_failover_reaches_the_new_master(pair, make_config):
    ports, a, b, sentinel = pair
    settings = make_config(
        redis_url=None, redis_sentinels=(f"127.0.0.1:{ports['sentinel']}",), redis_master_name=MASTER_NAME
    )
    # the workers' policy (retries, a frozen server given up) with a short timeout, so a wait on A costs 0.5 s
    client = connect(settings, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 2))
    assert client.set("before", "1")
    assert a.get("before") == b"1"

    # the Sentinel promotes B; A then freezes for writes (a master that hangs): the client's connection to A is
    # open and healthy, so the pool hands it out as it is, and the command sent on it times out
    assert sentinel.execute_command("SENTINEL", "FAILOVER", MASTER_NAME)
    wait_until(
        lambda: sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)[1] == str(ports["b"]),
        20,
        "the Sentinel names B",
    )
    wait_until(lambda: role(b) == "master", 10, "B is a master")
    a.execute_command("CLIENT", "PAUSE", "20000", "WRITE")
    try:
        started = time.monotonic()
        assert client.set("during", "2")
        elapsed = time.monotonic() - started
    finally:
        a.execute_command("CLIENT", "UNPAUSE")

    assert b.get("during") == b"2"
    # one timeout on A, then the retry on B: not three waits on A
    assert elapsed < 1.5, elapsed
    assert client.get("during") == b"2"
    client.close()


def test_the_cache_hits_held_connection_follows_the_master_the_pool_names(pair, make_config):
    ports, a, b, sentinel = pair
    settings = make_config(
        redis_url=None, redis_sentinels=(f"127.0.0.1:{ports['sentinel']}",), redis_master_name=MASTER_NAME
    )
    client = connect(settings, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 2))
    held = HeldConnection()
    assert client.set("version", "1")
    assert held.values(client.connection_pool, ["version"]) == [b"1"]
    first = held.current()
    assert held.values(client.connection_pool, ["version"]) == [b"1"]
    assert held.current() is first and first.port == ports["a"]  # kept, not checked out again

    assert sentinel.execute_command("SENTINEL", "FAILOVER", MASTER_NAME)
    wait_until(lambda: role(b) == "master", 20, "B is a master")
    a.execute_command("CLIENT", "PAUSE", "20000", "WRITE")
    try:
        assert client.set("version", "2")  # the client's next command finds B: the pool now names it
    finally:
        a.execute_command("CLIENT", "UNPAUSE")
    # A now hangs for every command: a read held on it would time out, unretried
    a.execute_command("CLIENT", "PAUSE", "20000", "ALL")
    try:
        started = time.monotonic()
        assert held.values(client.connection_pool, ["version"]) == [b"2"]
        elapsed = time.monotonic() - started
    finally:
        a.execute_command("CLIENT", "UNPAUSE")
    assert held.current().port == ports["b"]
    assert elapsed < 0.4, elapsed
    client.close()

"""Drills an operator (and the fault tests) run against the local cluster: kill -9 the current PostgreSQL primary or
Redis master and watch the standby take over, crash an API replica or a worker; freeze a node instead of killing it.

A mixin of :class:`cluster.control.Cluster`, which provides ``load``, ``supervisorctl``, ``program_pid``,
``processes`` and the program names.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from cluster import ha
from cluster.layout import PG_NODES, REDIS_NODES, State
from cluster.processes import ClusterError, signal_tree
from cluster.supervisor import PATRONI_PROGRAMS


class Drills:
    def fail(self, target: str) -> str:
        """A drill: kill -9 the current ``db-primary`` (Patroni and its postmaster) or ``redis-master`` and keep it
        down until the standby took over, then start it again and wait until it follows the new primary; or kill -9
        an API ``replica`` (it stays down, as a crashed one would) or a ``worker`` (supervisor restarts it)."""
        state = self.load()
        if target == "db-primary":
            return self._fail_primary(state)
        if target == "redis-master":
            return self._fail_master(state)
        if target == "replica":
            program = next(name for name in self.api_programs(state) if self.processes().get(name) == "RUNNING")
            pid = self.program_pid(program)
            os.killpg(os.getpgid(pid), signal.SIGKILL)  # the master and its workers: the replica crashes
            return f"killed {program} (pid {pid} and its workers)"
        if target == "worker":
            program = next(name for name in self.worker_programs(state) if self.processes().get(name) == "RUNNING")
            pid = self.program_pid(program)
            os.kill(pid, signal.SIGKILL)
            return f"killed {program} (pid {pid}); supervisor starts it again"
        raise ClusterError(f"unknown target {target!r}: db-primary, redis-master, replica or worker")

    def signal_leftovers(self, node: str, signum: int) -> list[int]:
        """Signal any process still working in the node's data folder (a postmaster outliving its Patroni)."""
        data_dir = str(self.dir / "postgres" / node / "data")
        signalled = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if data_dir in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    signalled += signal_tree(int(entry.name), signum)
        return signalled

    def signal_node(self, node: str, signum: int) -> list[int]:
        """Signal everything of one PostgreSQL node, as if its machine died or froze: the program (the liveness
        script), Patroni, and the postmaster with its backends (which Patroni may have put in a session of their
        own)."""
        signalled = signal_tree(self.program_pid(PATRONI_PROGRAMS[PG_NODES.index(node)]), signum)
        postmaster = self.dir / "postgres" / node / "data" / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(postmaster.read_text().splitlines()[0])
            signalled += [p for p in signal_tree(pid, signum) if p not in signalled]
        return signalled

    def _fail_primary(self, state: State, *, timeout: float = 60) -> str:
        if not state.ha:
            raise ClusterError("db-primary needs the HA tier (MUTIROES_CLUSTER_HA=1)")
        leader = ha.pg_leader(state)
        if leader is None:
            raise ClusterError("no PostgreSQL primary right now")
        node = leader[0]
        program = PATRONI_PROGRAMS[PG_NODES.index(node)]
        killed = time.monotonic()
        pids = self.signal_node(node, signal.SIGKILL)
        # a crashed machine does not come back at once: keep the node down until the standby is the primary (and
        # kill what supervisor's restart may have started meanwhile)
        self.supervisorctl("stop", program, check=False)
        self.signal_leftovers(node, signal.SIGKILL)
        deadline = killed + timeout
        while time.monotonic() < deadline:
            now = ha.pg_leader(state)
            if now is not None and now[0] != node:
                break
            time.sleep(0.25)
        else:
            raise ClusterError(f"no standby took over within {timeout:.0f}s")
        failover = time.monotonic() - killed
        self.supervisorctl("start", program, check=False)
        rejoined = None
        while time.monotonic() < deadline + timeout:
            member = next((m for m in ha.patroni_members(state) if m["name"] == node), None)
            # streaming is not enough: only the synchronous standby may be promoted (it has every commit)
            if member and member.get("state") == "streaming" and member.get("role") == "sync_standby":
                rejoined = time.monotonic() - killed
                break
            time.sleep(0.5)
        return (
            f"killed {program} ({node}, the primary; pids {pids}); {now[0]} is the primary after {failover:.1f}s; "
            + (f"{node} is its synchronous standby after {rejoined:.1f}s" if rejoined else f"{node} not back yet")
        )

    def _fail_master(self, state: State, *, timeout: float = 60) -> str:
        if not state.ha:
            program = "redis"
            pid = self.program_pid(program)
            os.kill(pid, signal.SIGKILL)
            return f"killed {program} (pid {pid}); supervisor starts it again"
        port = ha.redis_master(state)
        if port is None:
            raise ClusterError("no Sentinel names a Redis master right now")
        program = ha.node_for_port(state, REDIS_NODES, port)
        pid = self.program_pid(program)
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        self.supervisorctl("stop", program, check=False)
        deadline = killed + timeout
        while time.monotonic() < deadline:
            now = ha.redis_master(state)
            if now is not None and now != port:
                break
            time.sleep(0.25)
        else:
            raise ClusterError(f"the Sentinels promoted no replica within {timeout:.0f}s")
        failover = time.monotonic() - killed
        self.supervisorctl("start", program, check=False)
        new = ha.node_for_port(state, REDIS_NODES, now)
        return (
            f"killed {program} (the master, pid {pid}); {new} is the master after {failover:.1f}s; {program} restarted"
        )

    def freeze(self, target: str, seconds: float) -> str:
        """A gray failure: SIGSTOP the current ``db-primary`` (its whole node) or ``redis-master`` for ``seconds``,
        then SIGCONT. Connections to it hang instead of failing; the standby takes over meanwhile."""
        state = self.load()
        if target == "db-primary":
            leader = ha.pg_leader(state) if state.ha else None
            if leader is None:
                raise ClusterError("no PostgreSQL primary to freeze (db-primary needs the HA tier)")
            pids = self.signal_node(leader[0], signal.SIGSTOP)
            what = f"{leader[0]}, the primary"
        elif target == "redis-master":
            port = ha.redis_master(state) if state.ha else state.ports["redis"]
            if port is None:
                raise ClusterError("no Sentinel names a Redis master right now")
            program = ha.node_for_port(state, REDIS_NODES, port) if state.ha else "redis"
            pids = signal_tree(self.program_pid(program), signal.SIGSTOP)
            what = f"{program}, the master"
        else:
            raise ClusterError(f"unknown target {target!r}: db-primary or redis-master")
        try:
            time.sleep(seconds)
        finally:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        return f"froze {what} for {seconds:.0f}s (pids {pids})"

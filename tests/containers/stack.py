"""Drive a container deployment of the topology through the operators' own script (scripts/stack.sh).

A Stack is one compose project or one swarm stack with its own name, secrets folder and ports on 127.0.0.1, so the
tests never touch an operator's stack. Everything reaches it through those published ports, `docker exec` into
its containers, or the Docker CLI.
"""

from __future__ import annotations

import email.header
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cluster import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
STACK_SCRIPT = ROOT / "scripts" / "stack.sh"
PG_NODES = ("pg-1", "pg-2")
HEALTH_FORMAT = "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}"


@dataclass
class Stack:
    mode: str  # compose | swarm
    name: str
    secrets_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, mode: str, name: str, secrets_dir: Path, **extra_env: str) -> Stack:
        ports = {"http": free_port(), "consul": free_port(), "prometheus": free_port()}
        return cls(mode, name, secrets_dir, ports, dict(extra_env))

    # -- the operators' verbs ----------------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MUTIROES_")}
        env.update(
            MUTIROES_STACK=self.name,
            MUTIROES_SECRETS_DIR=str(self.secrets_dir),
            MUTIROES_HTTP_PORT=str(self.ports["http"]),
            MUTIROES_CONSUL_PORT=str(self.ports["consul"]),
            MUTIROES_PROMETHEUS_PORT=str(self.ports["prometheus"]),
            **self.extra_env,
        )
        return env

    def run(self, verb: str, *args: str, timeout: float = 600, check: bool = True, **env: str) -> str:
        result = subprocess.run(
            ["bash", str(STACK_SCRIPT), self.mode, verb, *args],
            cwd=ROOT,
            env={**self.env(), **env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"stack.sh {self.mode} {verb} {args}: {result.stdout}\n{result.stderr}")
        return result.stdout + result.stderr

    # -- what runs -----------------------------------------------------------------------------------------------
    def containers(self, service: str, *, all_states: bool = False) -> list[str]:
        label = (
            [f"label=com.docker.compose.project={self.name}", f"label=com.docker.compose.service={service}"]
            if self.mode == "compose"
            else [f"label=com.docker.swarm.service.name={self.name}_{service}"]
        )
        command = ["docker", "ps", "-q", *(["-a"] if all_states else [])]
        for value in label:
            command += ["--filter", value]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()

    def exec(self, service: str, *command: str, check: bool = True) -> str:
        [container, *_rest] = self.containers(service)
        result = subprocess.run(["docker", "exec", container, *command], capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"{service}: {' '.join(command)}: {result.stdout}{result.stderr}")
        return result.stdout

    def health(self, container: str) -> str:
        return subprocess.run(
            ["docker", "inspect", "-f", HEALTH_FORMAT, container],
            capture_output=True,
            text=True,
        ).stdout.strip()

    def address_of(self, container: str) -> str:
        networks = json.loads(
            subprocess.run(
                ["docker", "inspect", "-f", "{{json .NetworkSettings.Networks}}", container],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        return networks[f"{self.name}_mutiroes"]["IPAddress"]

    # -- the database ----------------------------------------------------------------------------------------------
    def psql(self, node: str, query: str, *, check: bool = True) -> str:
        return self.exec(
            node,
            "psql",
            "-h",
            "/var/run/postgresql",
            "-U",
            "mutiroes",
            "-d",
            "mutiroes",
            "-tA",
            "-F",
            "\t",
            "-c",
            query,
            check=check,
        )

    def pg_leader(self) -> str | None:
        """The PostgreSQL node that answers as primary right now (None during a switch)."""
        for node in PG_NODES:
            if self.containers(node) and self.psql(node, "select pg_is_in_recovery()", check=False).strip() == "f":
                return node
        return None

    def sql(self, query: str) -> list[list[str]]:
        """Rows of a query run on the current primary, as lists of strings."""
        leader = wait_for(self.pg_leader, timeout=60)
        assert leader, "no PostgreSQL primary"
        return [line.split("\t") for line in self.psql(leader, query).splitlines() if line.strip()]

    # -- discovery as seen from outside --------------------------------------------------------------------------
    def consul(self, path: str, *, anonymous: bool = False):
        """A read of Consul's HTTP API with the read-only token consul-template and Prometheus use (ACLs deny the
        anonymous one everything)."""
        token = self.secrets_dir / "consul_read_token"
        headers = {} if anonymous or not token.exists() else {"X-Consul-Token": token.read_text().strip()}
        request = urllib.request.Request(f"http://127.0.0.1:{self.ports['consul']}{path}", headers=headers)
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - http to our own port
            return json.loads(response.read())

    def consul_put(self, path: str, body: dict, headers: dict) -> tuple[int, str]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ports['consul']}{path}",
            data=json.dumps(body).encode(),
            method="PUT",
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - http to our own port
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def consul_passing(self) -> set[str]:
        passing = set()
        for entry in self.consul("/v1/health/service/mutiroes-api?passing=true"):
            passing.add(f"{entry['Service']['Address']}:{entry['Service']['Port']}")
        return passing

    def upstream(self) -> set[str]:
        text = self.exec("gateway", "cat", "/gateway/upstream.conf")
        servers = set()
        for line in text.splitlines():
            parts = line.split()
            if parts[:1] == ["server"] and "down;" not in parts:
                servers.add(parts[1].rstrip(";"))
        return servers

    def backend_endpoints(self) -> set[str]:
        return {f"{self.address_of(c)}:8000" for c in self.containers("backend")}

    def prometheus(self, path: str):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ports['prometheus']}{path}", timeout=5) as response:
            return json.loads(response.read())

    def mail(self) -> Counter:
        """(recipient, subject) of every message the SMTP sink received, counted: one `docker exec` for all."""
        script = (
            "import email, json, pathlib, sys\n"
            "out = []\n"
            "for p in sorted(pathlib.Path('/app/mail').glob('*.eml')):\n"
            "    m = email.message_from_bytes(p.read_bytes())\n"
            "    out.append([m['To'], m['Subject']])\n"
            "json.dump(out, sys.stdout)\n"
        )
        received = Counter()
        for to, subject in json.loads(self.exec("smtp-sink", "python3", "-c", script)):
            received[(to, str(email.header.make_header(email.header.decode_header(subject))))] += 1
        return received


def wait_for(predicate, timeout: float, interval: float = 0.5):
    """The first truthy value of ``predicate`` within ``timeout``. A connection error meanwhile (a container that is
    restarting, Docker's port proxy resetting a connection) is waited out too; one still there at the end raises."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(interval)
    return predicate()


def healthy_line(output: str) -> str:
    """The line of `stack.sh up` saying how long the stack took to be healthy."""
    return next((line for line in output.splitlines() if "healthy in" in line), output.strip()[-200:])

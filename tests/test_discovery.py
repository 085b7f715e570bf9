"""Registration payload, drain flag and upstream parsing of mutiroes.discovery (the cluster tests cover the rest)."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

from mutiroes import create_app
from mutiroes.platform import discovery
from tests.services import Consul


@pytest.fixture(scope="module")
def consul_agent():
    agent = Consul.create()
    yield agent
    agent.destroy()


@contextmanager
def serving(app):
    """``app`` on a real HTTP port of this process, the way Consul's check reaches a replica."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_readiness_answers_503_in_any_process_once_the_drain_file_exists(app, make_config, tmp_path):
    drain_file = tmp_path / "api-1.draining"
    # `app` has migrated the schema; this second app reads the same database with a drain file configured
    client = create_app(make_config(drain_file=str(drain_file))).test_client()
    assert client.get("/readiness/").status_code == 200

    discovery.mark_draining(str(drain_file))
    draining = client.get("/readiness/")
    assert draining.status_code == 503
    assert draining.headers["Retry-After"]
    assert draining.get_json()["checks"]["draining"] == {"status": "draining"}
    # still alive and still serving: only the load balancer is told to go elsewhere
    assert client.get("/liveness/").status_code == 200
    assert client.get("/api/events/categories/").status_code == 200

    discovery.clear_draining(str(drain_file))
    assert client.get("/readiness/").status_code == 200


def test_health_reports_consul_as_disabled_without_an_agent(client):
    assert client.get("/health/").get_json()["checks"]["consul"] == {"status": "disabled"}


def test_registration_names_the_replica_uniquely_and_checks_its_readiness(make_config):
    settings = make_config(consul_http_addr="127.0.0.1:1", bind="127.0.0.1:18001", service_tags=("blue",))
    registration = discovery.Registration(settings, port=18001, version="0.1.0")
    other = discovery.Registration(settings, port=18002, version="0.1.0")
    definition = registration.definition()

    assert registration.id != other.id
    assert definition["name"] == "mutiroes-api"
    assert (definition["address"], definition["port"]) == ("127.0.0.1", 18001)
    assert {"api", "http", "v0.1.0", "blue"} <= set(definition["tags"])
    assert definition["meta"]["version"] == "0.1.0"
    assert definition["check"] == {
        "http": "http://127.0.0.1:18001/readiness/",
        "interval": "5s",
        "timeout": "2s",
        "DeregisterCriticalServiceAfter": "1m",
    }


def test_registration_keeps_retrying_while_consul_is_unreachable(make_config):
    # nothing listens on port 1: the replica must not fail, only stay unregistered while the thread retries
    settings = make_config(consul_http_addr="127.0.0.1:1", bind="127.0.0.1:18003", drain_timeout_seconds=1)
    registration = discovery.Registration(settings, port=18003, version="0.1.0")
    registration.start()
    try:
        assert not registration.registered.wait(1.0)
        assert registration._thread.is_alive()
    finally:
        registration.drain()
    assert not registration._thread.is_alive() or registration._stop.is_set()


def test_a_ready_replica_registers_passing_at_once_and_one_that_is_not_ready_critical(
    app, make_config, consul_agent, tmp_path
):
    drain_file = tmp_path / "replica.draining"
    # `app` has migrated the schema: this replica's readiness answers 200 until its drain file exists
    with serving(create_app(make_config(drain_file=str(drain_file)))) as port:
        settings = make_config(consul_http_addr=consul_agent.http_addr, bind=f"127.0.0.1:{port}")
        client = discovery.consul_client(consul_agent.http_addr)

        def status(registration) -> str:
            [check] = [c for c in client.agent.checks().values() if c["ServiceID"] == registration.id]
            return check["Status"]

        def passing() -> set[str]:
            return {entry["Service"]["ID"] for entry in client.health.service("mutiroes-api", passing=True)[1]}

        ready = discovery.Registration(settings, port=port, version="0.1.0")
        assert ready.ensure_registered()
        # read at once: Consul's own first check runs at a random moment within its 5 s interval, and before this
        # change a new replica stayed critical (out of nginx) until then
        assert status(ready) == "passing"
        assert passing() == {ready.id}
        ready.deregister()
        assert passing() == set()

        discovery.mark_draining(str(drain_file))
        not_ready = discovery.Registration(settings, port=port, version="0.1.0")
        assert not_ready.ensure_registered()
        assert status(not_ready) == "critical"
        assert passing() == set()
        not_ready.deregister()
        assert client.agent.services() == {}


def test_upstream_servers_reads_exact_addresses(tmp_path):
    upstream = tmp_path / "upstream.conf"
    upstream.write_text(
        "upstream mutiroes_api {\n    least_conn;\n    server 127.0.0.1:8001 max_fails=3;\n"
        "    server 127.0.0.1:80011 max_fails=3;\n    keepalive 32;\n}\n"
    )
    assert discovery.upstream_servers(upstream) == {"127.0.0.1:8001", "127.0.0.1:80011"}
    assert discovery.upstream_servers(tmp_path / "missing.conf") == set()

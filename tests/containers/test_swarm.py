"""The same docker-compose.distributed.yml deployed as a Docker Swarm stack on a one-node swarm: the user journey,
scaling, a rolling update to a new image under load, a killed task replaced while nginx routes around it, and the
HA tier's drills (the PostgreSQL primary and the Redis master killed; Swarm's restart policy brings each back)."""

from __future__ import annotations

import time

import pytest

from tests.containers import ha, scenarios
from tests.containers.conftest import FAST
from tests.containers.scenarios import docker
from tests.containers.stack import Stack, healthy_line, wait_for
from tests.e2e.conftest import report
from tests.e2e.load import request


@pytest.fixture(scope="module")
def stack(images, tmp_path_factory):
    instance = Stack.create("swarm", "mutiroes-stest", tmp_path_factory.mktemp("swarm-secrets"), **FAST)
    instance.run("down", PURGE="1", check=False)
    started = time.monotonic()
    try:
        output = instance.run("up")
    except AssertionError:
        instance.run("down", PURGE="1", check=False)
        raise
    report("swarm up", healthy_in=f"{time.monotonic() - started:.0f}s", says=healthy_line(output))
    yield instance
    instance.run("down", PURGE="1", check=False)


def test_every_service_runs_and_three_tasks_are_exactly_routed(stack):
    services = docker("stack", "services", stack.name, "--format", "{{.Name}} {{.Replicas}}").split("\n")
    replicas = dict(line.split() for line in services if line.strip())
    assert replicas[f"{stack.name}_backend"] == "3/3"
    assert replicas[f"{stack.name}_worker"] == "2/2"
    for service in ("pg-1", "pg-2", "redis-1", "redis-2", "sentinel-1", "sentinel-2", "sentinel-3"):
        assert replicas[f"{stack.name}_{service}"] == "1/1", replicas
    scenarios.assert_routed(stack, 3)


def test_a_user_registers_creates_an_event_another_joins_and_each_email_arrives_once(stack):
    scenarios.user_journey(stack, "swarm", "127.0.0.41")


def test_scale_backends_to_five_routes_five_within_20s(stack):
    try:
        elapsed = scenarios.scale_to(stack, 5, within=20)
        report("swarm scale to 5", routed_in=f"{elapsed:.1f}s")
        assert elapsed <= 20
    finally:
        stack.run("scale-backends", "3")
    scenarios.assert_routed(stack, 3)


def test_a_rolling_update_to_a_new_image_tag_under_load_fails_no_request(stack):
    docker("tag", "mutiroes-app:latest", "mutiroes-app:rolling")
    service = f"{stack.name}_backend"

    def update():
        docker("service", "update", "--detach=false", "--image", "mutiroes-app:rolling", service)

    load = scenarios.mixed_load_survives(stack, "127.0.0.42", update)
    report("swarm rolling update", sent=len(load.results), failures=len(load.failures()))
    image = docker("service", "inspect", "-f", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", service).strip()
    assert image.startswith("mutiroes-app:rolling")
    scenarios.assert_routed(stack, 3, timeout=90)


def test_a_killed_task_is_replaced_and_nginx_routes_around_it_without_a_failed_get(stack):
    victim = stack.containers("backend")[0]
    endpoint = f"{stack.address_of(victim)}:8000"

    def kill():
        docker("kill", victim)
        assert wait_for(lambda: endpoint not in stack.upstream(), timeout=20), "still in the upstream"

    load, elapsed = scenarios.get_stream_survives(stack, "127.0.0.43", kill)
    report("swarm task killed", sent=len(load.results), failures=len(load.failures()), gone_after=f"{elapsed:.1f}s")
    assert len(load.results) > 100
    assert load.failures() == [], load.summary()
    assert elapsed <= 15
    # Swarm starts a replacement task on its own; it registers and is routed
    assert wait_for(lambda: victim not in stack.containers("backend") and len(stack.containers("backend")) == 3, 60)
    scenarios.assert_routed(stack, 3, timeout=90)


@pytest.mark.parametrize("target", ["db-primary", "redis-master"])
def test_fail_kills_the_current_one_a_peer_takes_over_and_it_comes_back(stack, target):
    before = stack.pg_leader() if target == "db-primary" else None
    started = time.monotonic()
    drill = stack.run("fail", target, timeout=300)
    report(f"swarm fail {target}", took=f"{time.monotonic() - started:.0f}s", drill=drill.strip().replace("\n", "; "))
    took = float(drill.split(" after ")[1].split(" s")[0])
    assert took <= 15, drill
    if target == "db-primary":
        assert stack.pg_leader() not in (None, before)
        assert sorted(ha.patroni_roles(stack).values()) == ["leader", "sync_standby"]
    # the stack takes writes again once the breakers' Retry-After has passed (a client that honours it, as the
    # frontend does): then a registration, an event and a join, with their emails
    port, prefix = stack.ports["http"], f"after_{target.split('-')[0]}"
    body = {"username": f"{prefix}_probe", "email": f"{prefix}_probe@example.org", "password": scenarios.PASSWORD}
    body["password_confirm"] = scenarios.PASSWORD

    def accepted() -> bool:
        status, headers, _ = request(port, "POST", "/api/users/register/", body=body, source_ip="127.0.0.44")
        if status == 503:
            time.sleep(min(float(headers.get("retry-after", "1")), 5))
        return status == 201

    assert wait_for(accepted, timeout=30, interval=0.5), "no write accepted within 30 s of the drill's end"
    scenarios.user_journey(stack, prefix, "127.0.0.44")

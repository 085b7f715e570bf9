"""docker-compose.distributed.yml under Docker Compose: every service healthy, the user journey, scaling, a killed
replica, a rolling restart under load, monitoring, and a backup restored into a fresh volume."""

from __future__ import annotations

import time

import pytest

from tests.containers import scenarios
from tests.containers.conftest import FAST
from tests.containers.scenarios import docker
from tests.containers.stack import Stack, healthy_line, wait_for
from tests.e2e.conftest import report


@pytest.fixture(scope="module")
def stack(images, tmp_path_factory):
    instance = Stack.create("compose", "mutiroes-ctest", tmp_path_factory.mktemp("compose-secrets"), **FAST)
    instance.run("down", PURGE="1", check=False)  # what an aborted earlier run left
    started = time.monotonic()
    try:
        output = instance.run("up")
    except AssertionError:
        instance.run("down", PURGE="1", check=False)
        raise
    report("compose up", healthy_in=f"{time.monotonic() - started:.0f}s", says=healthy_line(output))
    yield instance
    instance.run("down", PURGE="1", check=False)


def test_every_service_is_healthy_and_three_replicas_are_exactly_routed(stack):
    for service in ("consul", "gateway", "backend", "worker", "scheduler", "postgres", "redis", "prometheus"):
        containers = stack.containers(service)
        assert containers, f"{service} is not running"
        assert all(stack.health(c) == "healthy" for c in containers), service
    assert len(stack.containers("worker")) == 2
    scenarios.assert_routed(stack, 3)
    [migrate] = stack.containers("migrate", all_states=True)
    assert docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", migrate).strip() == "exited 0"


def test_a_user_registers_creates_an_event_another_joins_and_each_email_arrives_once(stack):
    scenarios.user_journey(stack, "compose", "127.0.0.31")


def test_scale_backends_to_five_routes_five_within_20s(stack):
    try:
        elapsed = scenarios.scale_to(stack, 5, within=20)
        report("compose scale to 5", routed_in=f"{elapsed:.1f}s")
        assert elapsed <= 20
    finally:
        stack.run("scale-backends", "3")
    scenarios.assert_routed(stack, 3)


def test_docker_kill_of_a_backend_fails_no_get_and_leaves_the_upstream_within_15s(stack):
    victim = stack.containers("backend")[0]
    endpoint = f"{stack.address_of(victim)}:8000"

    def kill():
        docker("kill", victim)
        assert wait_for(lambda: endpoint not in stack.upstream(), timeout=20), "still in the upstream"

    load, elapsed = scenarios.get_stream_survives(stack, "127.0.0.32", kill)
    report("compose docker kill", sent=len(load.results), failures=len(load.failures()), gone_after=f"{elapsed:.1f}s")
    try:
        assert len(load.results) > 100
        assert load.failures() == [], load.summary()
        assert elapsed <= 15
    finally:
        docker("start", victim)
    scenarios.assert_routed(stack, 3, timeout=90)


def test_rolling_restart_under_get_and_post_load_fails_no_request(stack):
    before = set(stack.containers("backend"))
    started = {c: docker("inspect", "-f", "{{.State.StartedAt}}", c) for c in before}
    load = scenarios.mixed_load_survives(stack, "127.0.0.33", lambda: stack.run("restart-backends"))
    report("compose restart-backends", sent=len(load.results), failures=len(load.failures()))
    assert set(stack.containers("backend")) == before
    assert all(docker("inspect", "-f", "{{.State.StartedAt}}", c) != started[c] for c in before)
    scenarios.assert_routed(stack, 3)


def test_prometheus_scrapes_every_replica_and_alerts_when_all_are_stopped(stack):
    endpoints = scenarios.assert_routed(stack, 3)

    def targets():
        active = stack.prometheus("/api/v1/targets")["data"]["activeTargets"]
        return {t["labels"]["instance"] for t in active if t["labels"]["job"] == "mutiroes-api" and t["health"] == "up"}

    assert wait_for(lambda: targets() == endpoints, timeout=60), targets()

    def firing():
        alerts = stack.prometheus("/api/v1/alerts")["data"]["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == "NoHealthyReplica" and a["state"] == "firing"]

    assert not firing()
    backends = stack.containers("backend")
    stopped_at = time.monotonic()
    docker("stop", "-t", "60", *backends)
    try:
        fired = wait_for(firing, timeout=90, interval=2)
        report("compose prometheus", targets=len(endpoints), alert_after=f"{time.monotonic() - stopped_at:.0f}s")
        assert fired, "NoHealthyReplica did not fire"
    finally:
        docker("start", *backends)
    scenarios.assert_routed(stack, 3, timeout=90)
    assert wait_for(lambda: not firing(), timeout=90, interval=2)


def test_backup_then_restore_into_a_fresh_volume_gives_the_same_row_counts(stack, tmp_path):
    scenarios.user_journey(stack, "backup", "127.0.0.34")
    counts = scenarios.row_counts(stack)
    assert counts["users"] >= 2 and counts["events"] >= 1 and counts["event_participants"] >= 1
    dump = tmp_path / "backup.dump"
    stack.run("backup-db", str(dump))
    assert dump.stat().st_size > 1000
    # a lost disk: the database container and its volume go, a fresh one is initialised, the backup goes back
    [old] = stack.containers("postgres")
    volume = f"{stack.name}_postgres-data"
    docker("rm", "-f", old)
    docker("volume", "rm", volume)
    stack.run("up")  # the stack brings up a new, empty PostgreSQL on a fresh volume and waits for it to be healthy
    [fresh] = stack.containers("postgres")
    assert fresh != old
    stack.run("restore-db", str(dump))
    assert scenarios.row_counts(stack) == counts
    scenarios.assert_routed(stack, 3, timeout=90)

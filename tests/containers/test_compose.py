"""docker-compose.distributed.yml under Docker Compose: every service healthy, the user journey, scaling, a killed
replica, a rolling restart under load, monitoring, Consul's ACLs, the PostgreSQL primary and the Redis master killed
under load, and a backup restored after a standby lost its disk."""

from __future__ import annotations

import re
import time

import pytest

from tests.containers import ha, scenarios
from tests.containers.conftest import FAST
from tests.containers.scenarios import docker
from tests.containers.stack import PG_NODES, Stack, healthy_line, wait_for
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
    services = ("consul", "gateway", "backend", "worker", "scheduler", "prometheus", "smtp-sink")
    for service in (*services, "pg-1", "pg-2", "redis-1", "redis-2", "sentinel-1", "sentinel-2", "sentinel-3"):
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


def test_consul_refuses_anonymous_and_read_only_registrations_and_hides_the_catalog(stack):
    rogue = {"Name": "mutiroes-api", "ID": "rogue", "Address": "203.0.113.9", "Port": 8000}
    read_token = (stack.secrets_dir / "consul_read_token").read_text().strip()
    for headers in ({}, {"X-Consul-Token": read_token}):
        status, body = stack.consul_put("/v1/agent/service/register", rogue, headers)
        assert status == 403, (status, body)
    assert stack.consul("/v1/catalog/services", anonymous=True) == {}  # default deny
    assert stack.consul("/v1/health/service/mutiroes-api", anonymous=True) == []
    passing = stack.consul_passing()
    assert passing and all(not endpoint.startswith("203.0.113.9") for endpoint in passing)
    report("compose consul acl", anonymous_register=403, read_token_register=403, anonymous_catalog="empty")


def test_status_shows_the_postgresql_leader_its_lag_and_the_redis_master(stack):
    out = stack.run("status")
    leader = stack.pg_leader()
    assert leader and f"{leader} leader running" in " ".join(out.split()), out
    assert "sync_standby" in out and "lag" in out, out
    assert re.search(r"Redis: master redis-[12]\b", out), out


def test_primary_killed_under_load_loses_no_acknowledged_write_and_rejoins_as_standby(stack):
    figures = ha.db_primary_killed(stack, "127.0.0.35")
    first = figures["first_write_after"]
    report(
        "compose postgres primary killed",
        sent=figures["sent"],
        acknowledged_writes=figures["acknowledged"],
        lost=len(figures["lost_events"]) + len(figures["lost_joins"]),
        first_write_after=f"{first:.1f}s" if first is not None else "never",
        worst_latency=f"{figures['worst']:.2f}s",
        drill=figures["drill"],
    )
    assert figures["after"] and figures["after"] != figures["before"], figures["drill"]
    assert figures["lost_events"] == set() and figures["lost_joins"] == set()
    assert figures["acknowledged"] >= 10
    assert first is not None and first <= 20, figures["drill"]
    assert figures["worst"] <= 5.0
    assert figures["errors"] == [], figures["errors"][:5]
    assert figures["no_retry_after"] == []
    assert sorted(figures["roles"].values()) == ["leader", "sync_standby"], figures["roles"]
    scenarios.assert_routed(stack, 3, timeout=90)


def test_redis_master_killed_under_load_each_email_arrives_exactly_once(stack):
    figures = ha.redis_master_killed(stack, "127.0.0.36")
    report(
        "compose redis master killed",
        sent=figures["sent"],
        joins=figures["joins"],
        registrations=figures["registrations"],
        promoted_after=f"{figures['promoted_after']:.1f}s",
        emails=figures["expected"],
        emails_lost=figures["lost"],
        emails_duplicated=figures["duplicated"],
        mail_after=f"{figures['mail_after']:.1f}s" if figures["mail_after"] is not None else "never",
    )
    assert figures["promoted_after"] <= 15
    assert figures["registrations"] and all(status == 201 for status in figures["registrations"])
    assert figures["joins"] >= 3
    assert figures["lost"] == 0 and figures["duplicated"] == 0
    assert figures["errors"] == [], figures["errors"][:5]


def test_backup_then_restore_gives_the_same_row_counts_and_a_standby_that_lost_its_disk_recovers(stack, tmp_path):
    scenarios.user_journey(stack, "backup", "127.0.0.34")
    counts = scenarios.row_counts(stack)
    assert counts["users"] >= 2 and counts["events"] >= 1 and counts["event_participants"] >= 1
    dump = tmp_path / "backup.dump"
    stack.run("backup-db", str(dump))
    assert dump.stat().st_size > 1000
    # later writes, then the restore puts the database back as it was when the backup was taken
    scenarios.user_journey(stack, "after", "127.0.0.37")
    assert scenarios.row_counts(stack)["users"] > counts["users"]
    stack.run("restore-db", str(dump))
    assert scenarios.row_counts(stack) == counts
    # a lost disk: the standby's container and its volume go; `up` creates it again and Patroni re-clones it
    standby = next(node for node in PG_NODES if node != stack.pg_leader())
    [old] = stack.containers(standby)
    docker("rm", "-f", old)
    docker("volume", "rm", f"{stack.name}_{standby}-data")
    stack.run("up")
    rejoined = wait_for(lambda: ha.patroni_roles(stack).get(standby) == "sync_standby", timeout=120)
    assert rejoined, ha.patroni_roles(stack)
    [standby_users] = stack.psql(standby, "select count(*) from users").split()
    assert int(standby_users) == counts["users"]
    scenarios.assert_routed(stack, 3, timeout=90)

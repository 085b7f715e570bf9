"""Fault injection on the local cluster: real processes stopped, frozen and restarted under bounded load.

Each test prints a one-line report (requests sent, failures, worst latency, time to recover, e-mails lost or
duplicated; also repeated at the end of the run) and asserts on those numbers. The Consul agent restart is covered
in test_cluster.py (test_replicas_serve_while_consul_is_down_and_register_again_by_themselves), under load and
with the same report; the failovers of the high-availability tier are in test_ha.py. Timings the cluster runs with
(cluster.CLUSTER_DEFAULTS): breakers try again after 5 s,
jobs retry after 2, 4, 8, 15 and 30 s, the outbox relay runs every 2 s; nginx gives a replica 5 s to answer.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import threading
import time
from collections import Counter

import pytest

from tests.e2e.conftest import report
from tests.e2e.helpers import (
    CATEGORIES,
    EVENTS,
    PASSWORD,
    READ_TIMEOUT,
    account,
    bearer,
    create_event,
    fresh_ip,
    mail_losses,
    mailbox,
    register,
    timed_request,
    wait_for,
    wait_for_mail,
)
from tests.e2e.load import Load, Result, get, idempotent, request

pytestmark = pytest.mark.e2e

# --- PostgreSQL ----------------------------------------------------------------------------------------------


def test_postgres_stopped_for_20s_under_load_answers_fast_recovers_and_writes_nothing_partial(cluster, port, sql):
    state = cluster.load()
    organizer = account(port, "pg_organizer")
    event_id = create_event(port, organizer)
    joiners = [account(port, f"pg_joiner{i}") for i in range(6)]
    assert request(port, "GET", EVENTS)[0] == 200  # the anonymous list is now in the cache

    # writes of the load: joins and leaves turn by turn over a few accounts, and registrations of new accounts
    turn = itertools.cycle(joiners)
    joined: dict[str, bool] = {}
    registrations: list[tuple[str, int | None]] = []
    names = (f"pg_new{i}" for i in itertools.count())
    lock = threading.Lock()

    def join_or_leave(conn: http.client.HTTPConnection) -> Result:
        with lock:
            who = next(turn)
            action = "leave" if joined.get(who["username"]) else "join"
        path = f"/api/events/{event_id}/{action}/"
        conn.request("POST", path, body="{}", headers={"Content-Type": "application/json", **bearer(who)})
        response = conn.getresponse()
        response.read()
        with lock:
            if response.status in (200, 201) or (action == "join" and response.status == 409):
                joined[who["username"]] = action == "join"
            elif action == "leave" and response.status == 404:
                joined[who["username"]] = False
        return Result("POST", path, response.status, retry_after=response.getheader("Retry-After"))

    def register_one(_conn: http.client.HTTPConnection) -> Result:
        with lock:
            username = next(names)
        answer: list[Result] = []
        try:
            status = register(port, username, answer)
        except OSError as exc:
            registrations.append((username, None))
            return Result("POST", "/api/users/register/", None, str(exc))
        registrations.append((username, status))
        return answer[0]

    profile = idempotent(get("/api/users/profile/", headers=bearer(organizer)))
    steps = [get(EVENTS), join_or_leave, get(CATEGORIES), get(f"{EVENTS}{event_id}/"), profile, register_one]

    with Load(port, "127.0.0.21", steps=steps, threads=3, pause=0.1) as load:
        time.sleep(2)
        cluster.supervisorctl("stop", *cluster.database_programs())
        down_at = time.monotonic()
        time.sleep(20)
        cluster.supervisorctl("start", *cluster.database_programs())
        up_at = time.monotonic()

        def recovered() -> bool:
            if cluster.upstream() != cluster.endpoints(state):
                return False
            status, _, _ = request(port, "GET", "/api/users/profile/", headers=bearer(organizer))
            return status == 200

        back = wait_for(recovered, timeout=45, interval=0.25)
        recovered_at = time.monotonic()
        time.sleep(3)

    during = [r for r in load.results if down_at <= r.started < up_at]
    after = [r for r in load.results if r.started >= recovered_at + 1]
    unexpected_during = [r for r in during if r.status not in (200, 503)]
    cached = [r for r in during if r.status == 200]
    unexplained_503 = [r for r in during if r.status == 503 and not r.retry_after]
    failures = [r for r in load.results if r.status is None or r.status >= 400]
    after_failures = [r for r in after if r.status is None or r.status >= 400 and r.status != 409]
    worst = load.worst_latency(down_at, up_at)

    # nothing half-written: every user has its welcome job, every participation its notification job, and the
    # event's counter matches its confirmed participants
    orphans_users = sql(
        "SELECT u.username FROM users u WHERE NOT EXISTS (SELECT 1 FROM outbox_jobs o "
        "WHERE o.name = 'send_welcome_email' AND (o.kwargs->>'user_id')::int = u.id)"
    )
    orphans_participants = sql(
        "SELECT p.user_id FROM event_participants p WHERE p.event_id = :e AND NOT EXISTS (SELECT 1 FROM outbox_jobs o "
        "WHERE o.name = 'send_event_notification_email' AND (o.kwargs->>'user_id')::int = p.user_id "
        "AND (o.kwargs->>'event_id')::int = p.event_id)",
        e=event_id,
    )
    counter, confirmed = sql(
        "SELECT e.confirmed_count, (SELECT count(*) FROM event_participants p WHERE p.event_id = e.id "
        "AND p.status = 'confirmed') FROM events e WHERE e.id = :e",
        e=event_id,
    )[0]
    stored = {row[0] for row in sql("SELECT username FROM users WHERE username LIKE 'pg_new%'")}
    created = {name for name, status in registrations if status == 201}
    refused = {name for name, status in registrations if status != 201}

    expected_mail = {f"{name}@example.org" for name in created | {j["username"] for j in joiners}}
    mail_wait = wait_for_mail(cluster, expected_mail, timeout=30)
    lost, duplicated = mail_losses(cluster, expected_mail)
    recovery = recovered_at - up_at
    report(
        "postgres stopped 20 s",
        sent=len(load.results),
        failures=len(failures),
        during_outage=len(during),
        served_from_cache=len(cached),
        worst_latency_during_outage=f"{worst:.3f}s",
        recovery=f"{recovery:.1f}s",
        registrations=f"{len(created)} created/{len(refused)} refused",
        emails_lost=lost,
        emails_duplicated=duplicated,
    )
    assert back, "the cluster did not recover within 45 s of the database's restart"
    assert len(during) >= 50, load.summary()
    assert worst < 1.0, sorted(r.elapsed for r in during)[-5:]
    assert unexpected_during == [], Counter((r.method, r.path, r.status, r.error) for r in unexpected_during)
    assert unexplained_503 == []
    # only anonymous event reads (the list and the detail) have a cache
    assert all(r.method == "GET" and r.path in (EVENTS, f"{EVENTS}{event_id}/") for r in cached)
    assert recovery <= 30
    assert after_failures == [], Counter((r.method, r.path, r.status) for r in after_failures)
    assert orphans_users == [] and orphans_participants == []
    assert counter == confirmed
    # A commit cut short while it waited for the synchronous standby's acknowledgement (the servers were stopped
    # right then) has committed locally and is reported to its client as an error: PostgreSQL's documented
    # behaviour, logged as a warning. Such a registration answered 503 yet exists (the person can log in); any
    # other refused registration that was stored would be a half-applied or misreported write.
    unacknowledged = sum(
        log.read_text(errors="replace").count("already committed locally")
        for log in (cluster.dir / "logs").glob("patroni-*.log")
    )
    assert created <= stored and len(refused & stored) <= unacknowledged, (
        created - stored,
        refused & stored,
        unacknowledged,
    )
    assert created and refused  # writes were both refused during the outage and accepted after it
    assert mail_wait is not None and (lost, duplicated) == (0, 0)


# --- Redis ---------------------------------------------------------------------------------------------------


def test_redis_stopped_registrations_and_joins_succeed_mail_arrives_once_and_revoked_tokens_stay_revoked(
    cluster, port, sql
):
    state = cluster.load()
    organizer = account(port, "rd_organizer")
    event_id = create_event(port, organizer)
    joiners = [account(port, f"rd_joiner{i}") for i in range(3)]
    revoked_before = account(port, "rd_revoked_before")
    revoked_during = account(port, "rd_revoked_during")
    throttled = account(port, "rd_throttled")
    status, _, _ = request(
        port, "POST", "/api/token/logout/", body={"refresh": revoked_before["refresh"]}, headers=bearer(revoked_before)
    )
    assert status == 204
    log: list[Result] = []

    cluster.supervisorctl("stop", *cluster.redis_programs())
    down_at = time.monotonic()
    try:
        new_users = [f"rd_new{i}" for i in range(3)]
        created = [
            timed_request(
                log,
                port,
                "POST",
                "/api/users/register/",
                body={
                    "username": name,
                    "email": f"{name}@example.org",
                    "password": PASSWORD,
                    "password_confirm": PASSWORD,
                },
                source_ip=fresh_ip(),
            )[0]
            for name in new_users
        ]
        joins = [
            timed_request(log, port, "POST", f"{EVENTS}{event_id}/join/", body={}, headers=bearer(j))[0]
            for j in joiners
        ]
        reads = [timed_request(log, port, "GET", EVENTS)[0], timed_request(log, port, "GET", f"{EVENTS}{event_id}/")[0]]
        logout = timed_request(
            log,
            port,
            "POST",
            "/api/token/logout/",
            body={"refresh": revoked_during["refresh"]},
            headers=bearer(revoked_during),
        )[0]
        revoked = [
            timed_request(log, port, "GET", "/api/users/profile/", headers=bearer(who))[0]
            for who in (revoked_before, revoked_during)
        ] + [
            timed_request(log, port, "POST", "/api/token/refresh/", body={"refresh": who["refresh"]})[0]
            for who in (revoked_before, revoked_during)
        ]
        # the login throttle counts in each process while Redis is down: straight to one replica (2 workers), the
        # account's limit of 5 failures is reached in each worker, so 429 comes by the 11th attempt at the latest
        replica_port = state.api_ports[0]
        throttle = []
        for _ in range(11):
            status, headers, _ = timed_request(
                log, replica_port, "POST", "/api/token/", body={"email": throttled["email"], "password": "errada-42-x"}
            )
            throttle.append((status, headers.get("retry-after")))
            if status == 429:
                break
        # longer than Consul needs to notice a failing check: readiness stays 200 (degraded), nothing leaves nginx
        time.sleep(max(0.0, 8 - (time.monotonic() - down_at)))
        still_routed = cluster.upstream() == cluster.endpoints(state)
        readiness = request(replica_port, "GET", "/readiness/")
    finally:
        cluster.supervisorctl("start", *cluster.redis_programs())
    up_at = time.monotonic()

    expected_mail = {f"{name}@example.org" for name in new_users}
    mail_wait = wait_for_mail(cluster, expected_mail, timeout=45)

    def joins_pushed() -> bool:
        pending = sql(
            "SELECT count(*) FROM outbox_jobs WHERE name = 'send_event_notification_email' "
            "AND (kwargs->>'event_id')::int = :e AND enqueued_at IS NULL",
            e=event_id,
        )[0][0]
        return pending == 0

    jobs_pushed = wait_for(joins_pushed, timeout=30)
    recovery = time.monotonic() - up_at
    time.sleep(3)  # a duplicate would come now, from a second push of the same row
    lost, duplicated = mail_losses(cluster, expected_mail)
    after_revoked = [
        request(port, "GET", "/api/users/profile/", headers=bearer(who))[0] for who in (revoked_before, revoked_during)
    ]
    failures = [r for r in log if r.status is None or r.status >= 500]
    report(
        "redis stopped",
        sent=len(log),
        failures=len(failures),
        worst_latency=f"{max(r.elapsed for r in log):.3f}s",
        recovery_mail_and_jobs=f"{recovery:.1f}s",
        throttled_after=len(throttle),
        emails_lost=lost,
        emails_duplicated=duplicated,
    )
    assert created == [201] * 3
    assert joins == [201] * 3
    assert reads == [200, 200]
    assert logout == 204
    assert revoked == [401] * 4 and after_revoked == [401, 401]
    assert throttle[-1][0] == 429 and int(throttle[-1][1]) > 0, throttle
    assert {status for status, _ in throttle[:-1]} == {401}
    assert still_routed and readiness[0] == 200 and readiness[2]["checks"]["redis"]["status"] == "down"
    assert failures == [] and max(r.elapsed for r in log) < 1.0
    assert mail_wait is not None and jobs_pushed
    assert (lost, duplicated) == (0, 0)
    assert recovery < 30


# --- SMTP ----------------------------------------------------------------------------------------------------


def test_smtp_sink_stopped_then_restarted_delivers_the_queued_mail_once_each(cluster, port):
    cluster.supervisorctl("stop", "smtp-sink")
    log: list[Result] = []
    try:
        names = [f"smtp_new{i}" for i in range(4)]
        for name in names:
            status, _, _ = timed_request(
                log,
                port,
                "POST",
                "/api/users/register/",
                body={
                    "username": name,
                    "email": f"{name}@example.org",
                    "password": PASSWORD,
                    "password_confirm": PASSWORD,
                },
                source_ip=fresh_ip(),
            )
            assert status == 201
        time.sleep(6)  # the jobs fail against the closed port, then against the open circuit, and wait to retry
        # read while the sink is still down: `supervisorctl start` returns only once the sink has run a second, and a
        # retry that lands in that second delivers (CI saw it once)
        expected = {f"{name}@example.org" for name in names}
        none_yet = all(mailbox(cluster)[0][r] == 0 for r in expected)
    finally:
        cluster.supervisorctl("start", "smtp-sink")
    up_at = time.monotonic()
    mail_wait = wait_for_mail(cluster, expected, timeout=60)
    time.sleep(3)
    lost, duplicated = mail_losses(cluster, expected)
    report(
        "smtp sink stopped ~6 s",
        sent=len(log),
        failures=sum(1 for r in log if r.status != 201),
        worst_latency=f"{max(r.elapsed for r in log):.3f}s",
        recovery=f"{time.monotonic() - up_at - 3:.1f}s" if mail_wait is not None else "never",
        emails_lost=lost,
        emails_duplicated=duplicated,
    )
    assert none_yet
    assert mail_wait is not None, mailbox(cluster)[0]
    assert (lost, duplicated) == (0, 0)


# --- a frozen replica ----------------------------------------------------------------------------------------


def test_a_frozen_replica_leaves_nginx_no_request_hangs_past_the_read_timeout_and_it_comes_back(cluster, port):
    state = cluster.load()
    victim = f"127.0.0.1:{state.api_ports[1]}"
    pgid = os.getpgid(cluster.program_pid("api-2"))
    event_paths = [get(EVENTS), get(CATEGORIES), get("/api/events/?page_size=5")]
    frozen = False
    with Load(port, "127.0.0.22", steps=event_paths, threads=3, pause=0.05) as load:
        time.sleep(1)
        os.killpg(pgid, signal.SIGSTOP)  # the master and its workers: connections are accepted, nothing answers
        frozen, frozen_at = True, time.monotonic()
        try:
            gone = wait_for(lambda: victim not in cluster.upstream(), timeout=30)
            removed_after = time.monotonic() - frozen_at
            time.sleep(READ_TIMEOUT + 1)  # requests already waiting on it time out and go elsewhere
            mark = cluster.access_log.stat().st_size
            time.sleep(2)
            with open(cluster.access_log, "rb") as handle:
                handle.seek(mark)
                lines = [json.loads(line) for line in handle.read().decode(errors="replace").splitlines() if line]
        finally:
            os.killpg(pgid, signal.SIGCONT)
            thawed_at = time.monotonic()
        back = wait_for(lambda: cluster.upstream() == cluster.endpoints(state), timeout=40)
        back_after = time.monotonic() - thawed_at
        time.sleep(1)
    sent_to_victim = [line for line in lines if victim in line["upstream_addr"]]
    failures = load.failures()
    worst = load.worst_latency()
    report(
        "replica frozen (SIGSTOP)",
        sent=len(load.results),
        failures=len(failures),
        worst_latency=f"{worst:.3f}s",
        out_of_nginx_after=f"{removed_after:.1f}s",
        back_after_sigcont=f"{back_after:.1f}s",
    )
    assert frozen and gone, f"{victim} still in the upstream"
    assert removed_after <= 20
    assert sent_to_victim == []
    assert failures == [], load.summary()
    assert worst <= READ_TIMEOUT + 1.5
    assert back and back_after <= 30
    assert cluster.processes()["api-2"] == "RUNNING"
    assert request(state.api_ports[1], "GET", CATEGORIES)[0] == 200

"""The distributed topology on real processes: Consul registration, consul-template, nginx, supervisor.

The tests run in file order on one cluster; each one leaves it as it found it (3 healthy replicas routed).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import threading
import time
import urllib.request

import pytest

from mutiroes.version import __version__
from tests.e2e.conftest import report
from tests.e2e.load import Load, Result, get, idempotent, request

pytestmark = pytest.mark.e2e

SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
}
CATEGORIES = "/api/events/categories/"


def nginx_port(cluster) -> int:
    return cluster.load().ports["nginx"]


def wait_for(predicate, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def upstreams_in_access_log(cluster, since_bytes: int) -> list[str]:
    with open(cluster.access_log, "rb") as handle:
        handle.seek(since_bytes)
        lines = handle.read().decode(errors="replace").splitlines()
    return [json.loads(line)["upstream_addr"] for line in lines if line.startswith("{")]


def test_every_replica_is_registered_passing_and_exactly_routed(cluster):
    state = cluster.load()
    expected = {f"127.0.0.1:{port}" for port in state.api_ports}

    entries = cluster.consul_get("/v1/health/service/mutiroes-api")
    assert len(entries) == 3
    for entry in entries:
        service = entry["Service"]
        assert f"{service['Address']}:{service['Port']}" in expected
        assert service["Meta"]["version"] == __version__
        assert "api" in service["Tags"]
        assert service["ID"].startswith("mutiroes-api-")
        http_checks = [c for c in entry["Checks"] if c["ServiceID"] == service["ID"]]
        assert [c["Status"] for c in http_checks] == ["passing"]
        assert http_checks[0]["Type"] == "http"
    assert len({e["Service"]["ID"] for e in entries}) == 3
    assert cluster.consul_passing() == expected
    assert cluster.upstream() == expected
    upstream = cluster.upstream_file.read_text()
    assert "least_conn;" in upstream and "zone mutiroes_api" in upstream and "max_fails=" in upstream

    # nginx spreads requests over all of them
    mark = cluster.access_log.stat().st_size
    for _ in range(30):
        status, _, _ = request(nginx_port(cluster), "GET", CATEGORIES, source_ip="127.0.0.10")
        assert status == 200
    assert set(upstreams_in_access_log(cluster, mark)) == expected


def json_lines(cluster, pattern: str, request_id: str) -> list[dict]:
    """The JSON lines of the cluster's program logs matching ``pattern`` (api-*.log...) that carry ``request_id``."""
    found = []
    for path in sorted((cluster.dir / "logs").glob(pattern)):
        for raw in path.read_text(errors="replace").splitlines():
            if raw.startswith("{") and request_id in raw:
                line = json.loads(raw)
                if line.get("request_id") == request_id:
                    found.append(line)
    return found


def nginx_lines(cluster, request_id: str) -> list[dict]:
    with open(cluster.access_log, "rb") as handle:
        lines = handle.read().decode(errors="replace").splitlines()
    return [line for line in map(json.loads, filter(None, lines)) if line["request_id"] == request_id]


def test_a_request_id_goes_through_nginx_to_the_answer_the_replicas_log_and_the_welcome_emails_job(cluster):
    port, ip = nginx_port(cluster), "127.0.0.19"
    status, headers, _ = request(
        port,
        "POST",
        "/api/users/register/",
        body={
            "username": "rastreada",
            "email": "rastreada@example.org",
            "password": "caminhada-verde-42",
            "password_confirm": "caminhada-verde-42",
        },
        headers={"X-Request-Id": "abc123"},
        source_ip=ip,
    )
    assert status == 201
    assert headers["x-request-id"] == "abc123"

    access = wait_for(
        lambda: [x for x in json_lines(cluster, "api-*.log", "abc123") if x["logger"] == "mutiroes.access"], 10
    )
    assert access, "no access line with request_id abc123 in the replicas' logs"
    [line] = access
    assert (line["method"], line["route"], line["status"]) == ("POST", "/api/users/register/", 201)
    assert line["duration_ms"] > 0 and line["replica"]
    done = wait_for(
        lambda: [
            x
            for x in json_lines(cluster, "worker-*.log", "abc123")
            if x.get("job") == "send_welcome_email" and x["message"].startswith("job send_welcome_email done in ")
        ],
        timeout=30,
    )
    assert done, "no worker line of the welcome email's job done with request_id abc123"
    assert done[0]["duration_ms"] > 0 and done[0]["job_id"]
    assert wait_for(lambda: nginx_lines(cluster, "abc123"), timeout=5)

    # no id, or one the replicas would not take: nginx's own, the same in nginx's line and in the answer
    for sent in ({}, {"X-Request-Id": "não serve"}):
        status, headers, _ = request(port, "GET", CATEGORIES, headers=sent, source_ip=ip)
        assert status == 200
        generated = headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", generated), generated
        assert wait_for(lambda generated=generated: nginx_lines(cluster, generated), timeout=5)
        assert wait_for(lambda generated=generated: json_lines(cluster, "api-*.log", generated), timeout=5)

    # gunicorn's own lines are JSON lines of the same shape
    booted = [
        json.loads(raw)
        for raw in (cluster.dir / "logs" / "api-1.log").read_text(errors="replace").splitlines()
        if raw.startswith("{") and "Booting worker" in raw
    ]
    assert booted and booted[0]["logger"] == "gunicorn.error" and "request_id" in booted[0]


def test_kill_9_of_a_replica_fails_no_get_and_leaves_the_upstream_within_15s(cluster):
    state = cluster.load()
    victim = f"127.0.0.1:{state.api_ports[1]}"
    with Load(nginx_port(cluster), "127.0.0.11", steps=[get(CATEGORIES)], threads=3) as load:
        time.sleep(1)
        pid = cluster.program_pid("api-2")
        os.killpg(os.getpgid(pid), signal.SIGKILL)  # the master and its workers: the replica crashes
        killed_at = time.monotonic()
        gone = wait_for(lambda: victim not in cluster.upstream(), timeout=20)
        elapsed = time.monotonic() - killed_at
        time.sleep(1)
    try:
        assert gone, "the dead replica is still in nginx's upstream"
        assert elapsed <= 15, f"dropped after {elapsed:.1f}s"
        assert len(load.results) > 100
        assert load.failures() == [], load.summary()
        assert cluster.consul_instances()[victim] == "critical"
        assert cluster.processes()["api-2"] != "RUNNING"
    finally:
        cluster.supervisorctl("start", "api-2")
        cluster.wait_until_routed(state, timeout=60)


def test_scaling_to_four_sends_traffic_to_the_new_replica_within_15s(cluster):
    mark = cluster.access_log.stat().st_size
    try:
        with Load(nginx_port(cluster), "127.0.0.12", steps=[get(CATEGORIES)], threads=2) as load:
            started = time.monotonic()
            state = cluster.scale_backends(4, timeout=30)
            new = f"127.0.0.1:{state.api_ports[3]}"
            served = wait_for(lambda: new in upstreams_in_access_log(cluster, mark), timeout=15)
            elapsed = time.monotonic() - started
        assert served, "the new replica got no request"
        assert elapsed <= 15, f"first request after {elapsed:.1f}s"
        assert cluster.processes()["api-4"] == "RUNNING"
        assert len(cluster.consul_passing()) == 4
        assert load.failures() == [], load.summary()
    finally:
        state = cluster.scale_backends(3)
    assert "api-4" not in cluster.processes()
    assert cluster.upstream() == cluster.endpoints(state)


def test_rolling_restart_under_mixed_get_and_post_load_fails_no_request(cluster):
    port, ip = nginx_port(cluster), "127.0.0.13"
    status, _, _ = request(
        port,
        "POST",
        "/api/users/register/",
        body={
            "username": "rolante",
            "email": "rolante@example.org",
            "password": "caminhada-verde-42",
            "password_confirm": "caminhada-verde-42",
        },
        source_ip=ip,
    )
    assert status == 201
    status, _, tokens = request(
        port,
        "POST",
        "/api/token/",
        body={"email": "rolante@example.org", "password": "caminhada-verde-42"},
        source_ip=ip,
    )
    assert status == 200
    chain = {"refresh": tokens["refresh"], "access": tokens["access"]}
    chain_lock = threading.Lock()
    rotations = itertools.count()

    def rotate(conn) -> Result:
        # each POST spends the refresh token and stores a new one: a lost or doubled request breaks the chain
        with chain_lock:
            conn.request(
                "POST",
                "/api/token/refresh/",
                body=json.dumps({"refresh": chain["refresh"]}),
                headers={"Content-Type": "application/json"},
            )
            response = conn.getresponse()
            body = response.read()
            if response.status == 200:
                chain.update(json.loads(body))
                next(rotations)
        return Result("POST", "/api/token/refresh/", response.status)

    @idempotent
    def profile(conn) -> Result:
        conn.request("GET", "/api/users/profile/", headers={"Authorization": f"Bearer {chain['access']}"})
        response = conn.getresponse()
        response.read()
        return Result("GET", "/api/users/profile/", response.status)

    with Load(port, ip, steps=[get(CATEGORIES), rotate, profile], threads=3) as load:
        time.sleep(1)
        cluster.restart_backends()
        time.sleep(1)
    summary = load.summary()
    assert load.failures() == [], summary
    assert summary[("POST", 200)] >= 20 and summary[("GET", 200)] >= 40, summary
    assert next(rotations) >= 20
    state = cluster.load()
    assert cluster.upstream() == cluster.endpoints(state)
    # every replica is a new process
    assert all(cluster.processes()[f"api-{i}"] == "RUNNING" for i in (1, 2, 3))


def test_with_no_healthy_replica_nginx_answers_503_json_and_everything_recovers_by_itself(cluster):
    port, ip = nginx_port(cluster), "127.0.0.14"
    state = cluster.load()
    # PostgreSQL gone (both Patroni nodes in the HA tier): every replica's /readiness/ fails, Consul marks them critical
    cluster.supervisorctl("stop", *cluster.database_programs())
    try:
        emptied = wait_for(lambda: not cluster.upstream(), timeout=30)
        assert emptied, f"upstream still lists {cluster.upstream()}"
        assert "down;" in cluster.upstream_file.read_text()
        # the file is written before nginx reloads: give the reload a moment
        answer = wait_for(lambda: (r := request(port, "GET", CATEGORIES, source_ip=ip))[0] == 503 and r, timeout=10)
        assert answer, "nginx did not answer 503"
        status, headers, body = answer
        assert headers["content-type"].startswith("application/json")
        assert int(headers["retry-after"]) > 0
        assert set(body) == {"detail"}
        for name, value in SECURITY_HEADERS.items():
            assert headers[name] == value
        # the gateway itself is still fine
        assert request(port, "GET", "/health", source_ip=ip)[0] == 200
    finally:
        cluster.supervisorctl("start", *cluster.database_programs())
    # nobody touches the replicas: their checks pass again and consul-template puts them back
    cluster.wait_until_routed(state, timeout=45)
    recovered = wait_for(lambda: request(port, "GET", CATEGORIES, source_ip=ip)[0] == 200, timeout=10)
    assert recovered


def test_replicas_serve_while_consul_is_down_and_register_again_by_themselves(cluster):
    port, ip = nginx_port(cluster), "127.0.0.15"
    state = cluster.load()
    with Load(port, ip, steps=[get(CATEGORIES), get("/api/events/")], threads=2) as load:
        time.sleep(1)
        cluster.supervisorctl("stop", "consul")
        try:
            # nginx keeps its last upstream and the replicas keep serving; their registration thread keeps retrying
            time.sleep(3)
        finally:
            restarted_at = time.monotonic()
            # a dev agent comes back empty: nobody re-registers the replicas but themselves
            cluster.restart_consul()
        cluster.wait_until_routed(state, timeout=45)
        recovery = time.monotonic() - restarted_at
        time.sleep(1)
    report(
        "consul agent restarted",
        sent=len(load.results),
        failures=len(load.failures()),
        worst_latency=f"{load.worst_latency():.3f}s",
        recovery=f"{recovery:.1f}s",
    )
    assert len(load.results) > 50
    assert load.failures() == [], load.summary()
    assert recovery <= 30
    assert len(cluster.consul_get("/v1/health/service/mutiroes-api")) == 3

    # an agent that forgets one replica (as Consul does after a minute critical) gets it back within seconds
    victim = cluster.consul_get("/v1/health/service/mutiroes-api")[0]["Service"]
    forgotten = urllib.request.Request(  # noqa: S310 - the local agent
        f"{cluster.urls()['consul']}/v1/agent/service/deregister/{victim['ID']}", method="PUT"
    )
    urllib.request.urlopen(forgotten, timeout=3).close()  # noqa: S310 - the local agent
    assert wait_for(lambda: f"{victim['Address']}:{victim['Port']}" not in cluster.consul_instances(), timeout=5)
    cluster.wait_until_routed(state, timeout=30)


def test_a_stopping_replica_answers_readiness_503_in_every_worker_while_it_still_serves(cluster):
    state = cluster.load()
    port = state.api_ports[2]
    endpoint = f"127.0.0.1:{port}"
    cluster.supervisorctl("signal", "TERM", "api-3")  # what supervisor's stop sends; returns at once
    try:
        readiness, others = [], []
        deadline = time.monotonic() + 15
        while endpoint in cluster.upstream() and time.monotonic() < deadline:
            # fresh connections land on any of the replica's workers
            readiness.append(request(port, "GET", "/readiness/")[0])
            others.append(request(port, "GET", CATEGORIES)[0])
            time.sleep(0.05)
        assert endpoint not in cluster.upstream()
        assert endpoint not in cluster.consul_instances()  # deregistered, not merely failing
        # the signal reaches the master within a moment; from then on every worker says "draining"
        assert 503 in readiness, readiness
        assert set(readiness[readiness.index(503) :]) == {503}, readiness
        assert set(others) == {200}, others
    finally:
        wait_for(lambda: cluster.processes().get("api-3") != "RUNNING", timeout=60)
        cluster.supervisorctl("start", "api-3")
        cluster.wait_until_routed(state, timeout=60)


def test_eleventh_login_in_a_minute_gets_429_and_security_headers_are_on_200_404_and_429(cluster):
    port, ip = nginx_port(cluster), "127.0.0.16"
    statuses = []
    for n in range(10):
        status, _, _ = request(
            port, "POST", "/api/token/", body={"email": f"ninguem{n}@example.org", "password": "x" * 12}, source_ip=ip
        )
        statuses.append(status)
    assert statuses == [401] * 10  # wrong credentials, answered by the API (its own limits are per account)
    status, headers_429, body = request(
        port, "POST", "/api/token/", body={"email": "ninguem@example.org", "password": "x" * 12}, source_ip=ip
    )
    assert status == 429
    assert int(headers_429["retry-after"]) > 0
    assert set(body) == {"detail"}
    # another client is not affected
    assert request(port, "GET", CATEGORIES, source_ip="127.0.0.17")[0] == 200

    status_200, headers_200, _ = request(port, "GET", CATEGORIES, source_ip=ip)
    status_404, headers_404, body_404 = request(port, "GET", "/api/nao-existe/", source_ip=ip)
    assert (status_200, status_404) == (200, 404)
    assert set(body_404) == {"detail"}
    for headers in (headers_200, headers_404, headers_429):
        for name, value in SECURITY_HEADERS.items():
            assert headers[name] == value

    # /nginx_status is for localhost only
    assert request(port, "GET", "/nginx_status", source_ip=ip)[0] == 403
    assert request(port, "GET", "/nginx_status")[0] == 200


def test_metrics_add_up_every_worker_of_a_replica_and_are_not_public_and_rq_dashboard_is_behind_nginx(cluster):
    port, state = nginx_port(cluster), cluster.load()
    replica = state.api_ports[0]

    def served_categories(text: str) -> float:
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("mutiroes_http_requests_total{")
            and 'route="/api/events/categories/"' in line
            and 'method="GET"' in line
        )

    def scrape() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{replica}/metrics", timeout=5) as response:
            return response.read().decode()

    before = served_categories(scrape())
    for _ in range(20):  # a connection each: gunicorn spreads them over the replica's workers
        assert request(replica, "GET", CATEGORIES)[0] == 200
    # whichever worker answers the scrape, it reports the sum over all of them (prometheus multiprocess mode)
    assert {served_categories(scrape()) - before for _ in range(6)} == {20.0}
    assert "mutiroes_breaker_state" in scrape()

    for path in ("/metrics", "/metrics/", "//metrics"):
        status, headers, body = request(port, "GET", path, source_ip="127.0.0.18")
        assert status == 404 and set(body) == {"detail"}, (path, status)
        assert headers["x-frame-options"] == "DENY"

    status, headers, _ = request(port, "GET", "/rq/", source_ip="127.0.0.18")
    assert status == 401 and headers["www-authenticate"].startswith("Basic")

"""The checks every container deployment passes (compose and swarm run the same ones on their own stack)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import threading
import time
from collections import Counter

from tests.containers.stack import Stack, wait_for
from tests.e2e.conftest import report
from tests.e2e.load import Load, Result, get, idempotent, request

CATEGORIES = "/api/events/categories/"
PASSWORD = "caminhada-verde-42"


def assert_routed(stack: Stack, replicas: int, timeout: float = 60) -> set[str]:
    """Consul's passing replicas, the gateway's upstream and the running backends are the same ``replicas``."""

    def settled():
        endpoints = stack.backend_endpoints()
        return len(endpoints) == replicas and stack.consul_passing() == endpoints == stack.upstream() and endpoints

    endpoints = wait_for(settled, timeout=timeout)
    assert endpoints, (
        f"expected {replicas} routed replicas: backends {stack.backend_endpoints()}, consul {stack.consul_passing()}, "
        f"upstream {stack.upstream()}"
    )
    return endpoints


def register(port: int, username: str, ip: str) -> dict:
    """A new account, logged in; when the gateway's 10-a-minute limit of the address answers 429, it waits."""
    address = f"{username}@example.org"
    body = {"username": username, "email": address, "password": PASSWORD, "password_confirm": PASSWORD}
    data = _admitted(port, "/api/users/register/", body, ip, 201)
    tokens = _admitted(port, "/api/token/", {"email": address, "password": PASSWORD}, ip, 200)
    return {"id": data["id"], "email": address, "access": tokens["access"]}


def _admitted(port: int, path: str, body: dict, ip: str, expected: int) -> dict:
    """POST as the frontend does: a 429 waits for the gateway to admit one more, a 503 waits its Retry-After (the
    contract's promise: try again then), for a minute of 503s at most. A 503 waited out is reported: it is the
    state the previous drill left, which the drill's own test did not see."""
    unavailable = 0.0
    for _ in range(30):
        status, headers, data = request(port, "POST", path, body=body, source_ip=ip)
        if status == 429:
            time.sleep(6)  # nginx admits one more every 6 s
        elif status == 503 and headers.get("retry-after") and unavailable < 60:
            wait = min(float(headers["retry-after"]), 5.0)
            unavailable += wait
            time.sleep(wait)
        else:
            break
    if unavailable:
        report("setup waited out 503", path=path, ip=ip, for_seconds=f"{unavailable:.0f}", then=status)
    assert status == expected, (path, status, data)
    return data


def user_journey(stack: Stack, prefix: str, ip: str) -> dict:
    """Through the gateway: two people register and log in, one creates an event, the other joins; the welcome and
    confirmation emails reach the SMTP sink once each."""
    port = stack.ports["http"]
    organizer = register(port, f"{prefix}_org", ip)
    volunteer = register(port, f"{prefix}_vol", ip)
    status, _, categories = request(port, "GET", CATEGORIES, source_ip=ip)
    assert status == 200 and categories
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    event = {
        "title": f"Limpeza da praia ({prefix})",
        "description": "Coleta de resíduos na areia.",
        "category": categories[0]["id"],
        "address": "Praia do Gonzaga",
        "city": "Santos",
        "state": "SP",
        "latitude": -23.97,
        "longitude": -46.33,
        "start_date": start.isoformat(),
        "end_date": (start + dt.timedelta(hours=3)).isoformat(),
        "max_participants": 10,
    }
    auth = {"Authorization": f"Bearer {organizer['access']}"}
    status, _, created = request(port, "POST", "/api/events/", body=event, headers=auth, source_ip=ip)
    assert status == 201, created
    joined_auth = {"Authorization": f"Bearer {volunteer['access']}"}
    status, _, participation = request(
        port, "POST", f"/api/events/{created['id']}/join/", body={}, headers=joined_auth, source_ip=ip
    )
    assert status == 201 and participation["status"] == "confirmed", participation

    expected = Counter(
        {
            (organizer["email"], "Boas-vindas ao Mutirões!"): 1,
            (volunteer["email"], "Boas-vindas ao Mutirões!"): 1,
            (volunteer["email"], f"Inscrição confirmada: {event['title']}"): 1,
        }
    )

    def received() -> Counter:
        mine = Counter()
        for key, count in stack.mail().items():
            if key in expected:
                mine[key] += count
        return mine

    got = wait_for(lambda: received() == expected and received(), timeout=60, interval=1)
    time.sleep(3)  # nothing arrives twice later either
    assert received() == expected, f"emails: {received()}"
    assert got
    return {"event_id": created["id"], "organizer": organizer, "volunteer": volunteer}


def scale_to(stack: Stack, replicas: int, *, within: float) -> float:
    started = time.monotonic()
    stack.run("scale-backends", str(replicas))
    assert_routed(stack, replicas, timeout=within + 30)
    return time.monotonic() - started


def get_stream_survives(stack: Stack, ip: str, disrupt) -> tuple[Load, float]:
    """A steady GET stream through the gateway while ``disrupt()`` runs; returns the load and how long it took."""
    with Load(stack.ports["http"], ip, steps=[get(CATEGORIES)], threads=3, pause=0.03) as load:
        time.sleep(1)
        started = time.monotonic()
        disrupt()
        elapsed = time.monotonic() - started
        time.sleep(1)
    return load, elapsed


def mixed_load_survives(stack: Stack, ip: str, disrupt) -> Load:
    """GETs and non-idempotent POSTs (refresh-token rotations: a lost or doubled one breaks the chain) while
    ``disrupt()`` runs."""
    port = stack.ports["http"]
    user = f"rolling{int(time.time() * 1000) % 10**8}"
    register(port, user, ip)
    status, _, tokens = request(
        port, "POST", "/api/token/", body={"email": f"{user}@example.org", "password": PASSWORD}, source_ip=ip
    )
    assert status == 200
    chain = {"refresh": tokens["refresh"], "access": tokens["access"]}
    lock = threading.Lock()
    rotations = itertools.count()

    def rotate(conn) -> Result:
        with lock:
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
        disrupt()
        time.sleep(2)
    summary = load.summary()
    assert load.failures() == [], summary
    assert summary[("POST", 200)] >= 10 and next(rotations) >= 10, summary
    return load


def row_counts(stack: Stack) -> dict[str, int]:
    tables = ("users", "events", "event_participants", "outbox_jobs", "email_deliveries", "auth_sessions")
    query = " union all ".join(f"select '{t}', count(*) from {t}" for t in tables)  # noqa: S608 - fixed table names
    return {name: int(count) for name, count in stack.sql(query)}


def docker(*args: str, check: bool = True) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check).stdout

"""The high-availability drills on a container stack, through the operators' own command (`scripts/stack.sh MODE
fail TARGET`, which `make fail DEPLOY=compose TARGET=...` runs): the PostgreSQL primary and the Redis master killed
under load, nothing acknowledged lost, every email once.

Everything reaches the stack through the gateway's published port on 127.0.0.1, where every client has the same
address for nginx (Docker's proxy): the writes of the load are event creations and joins by a handful of accounts
(a registration rate of 10 a minute per address would otherwise refuse the load itself), plus a few registrations.
"""

from __future__ import annotations

import datetime as dt
import http.client
import itertools
import json
import threading
import time
from collections import Counter, deque

from tests.containers.scenarios import CATEGORIES, PASSWORD, register
from tests.containers.stack import PG_NODES, Stack, wait_for
from tests.e2e.load import Load, Result, get, request

_names = itertools.count()


def patroni_roles(stack: Stack) -> dict[str, str]:
    """{node: role} of the running members, as Patroni's REST API on the first node that answers tells it."""
    for node in PG_NODES:
        if not stack.containers(node):
            continue
        out = stack.exec(node, "curl", "-fsS", "--max-time", "3", "http://127.0.0.1:8008/cluster", check=False)
        if out.strip():
            members = json.loads(out)["members"]
            return {m["name"]: m["role"] for m in members if m.get("state") in ("running", "streaming")}
    return {}


class EventWrites:
    """An organizer creating events and volunteers joining them, under load. What got a 201 must be in the database
    afterwards: every event created, every join confirmed (and its confirmation email sent, once)."""

    def __init__(self, stack: Stack, prefix: str, ip: str, joiners: int = 4):
        self.port, self.prefix, self.ip = stack.ports["http"], prefix, ip
        self.organizer = register(self.port, f"{prefix}_org", ip)
        self.joiners = [register(self.port, f"{prefix}_v{i}", ip) for i in range(joiners)]
        status, _, categories = request(self.port, "GET", CATEGORIES, source_ip=ip)
        assert status == 200, categories
        self.category = categories[0]["id"]
        self.lock = threading.Lock()
        self.created: list[int] = []
        self.joined: list[tuple[str, int]] = []  # (email, event id)
        self.to_join: deque[tuple[dict, int]] = deque()

    def create(self, conn: http.client.HTTPConnection) -> Result:
        start = dt.datetime.now(dt.UTC) + dt.timedelta(days=5)
        body = {
            "title": f"Plantio de mudas {self.prefix} {next(_names)}",
            "description": "Mudas nativas na margem do rio.",
            "category": self.category,
            "address": "Parque Linear",
            "city": "Campinas",
            "state": "SP",
            "latitude": -22.9,
            "longitude": -47.06,
            "start_date": start.isoformat(),
            "end_date": (start + dt.timedelta(hours=3)).isoformat(),
            "max_participants": 50,
        }
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.organizer['access']}"}
        conn.request("POST", "/api/events/", body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status == 201:
            event_id = json.loads(data)["id"]
            with self.lock:
                self.created.append(event_id)
                self.to_join.extend((joiner, event_id) for joiner in self.joiners)
        return Result("POST", "/api/events/", response.status, retry_after=response.getheader("Retry-After"))

    def join(self, conn: http.client.HTTPConnection) -> Result:
        with self.lock:
            pair = self.to_join.popleft() if self.to_join else None
        if pair is None:
            return get(CATEGORIES)(conn)
        joiner, event_id = pair
        path = f"/api/events/{event_id}/join/"
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {joiner['access']}"}
        conn.request("POST", path, body="{}", headers=headers)
        response = conn.getresponse()
        response.read()
        with self.lock:
            if response.status == 201:
                self.joined.append((joiner["email"], event_id))
            elif response.status >= 500:
                self.to_join.append(pair)  # not taken: a volunteer tries again later, as the frontend lets them
        return Result("POST", path, response.status, retry_after=response.getheader("Retry-After"))

    def steps(self) -> list:
        return [self.create, self.join, get(CATEGORIES), self.join, get("/api/events/")]

    def lost(self, stack: Stack) -> tuple[set[int], set[tuple[str, int]]]:
        """The acknowledged events and joins the database does not have."""
        ids = ",".join(str(i) for i in self.created) or "0"
        events = {int(row[0]) for row in stack.sql(f"select id from events where id in ({ids})")}  # noqa: S608
        rows = stack.sql(
            "select u.email, p.event_id from event_participants p join users u on u.id = p.user_id "  # noqa: S608
            f"where p.status = 'confirmed' and p.event_id in ({ids})",
        )
        confirmed = {(row[0], int(row[1])) for row in rows}
        return set(self.created) - events, set(self.joined) - confirmed


def first_write_after(load: Load, moment: float) -> float | None:
    oks = [r.started for r in load.results if r.method == "POST" and r.status == 201 and r.started > moment]
    return min(oks) - moment if oks else None


def db_primary_killed(stack: Stack, ip: str) -> dict:
    """`fail db-primary` under creations, joins and reads; returns the figures the test asserts."""
    writes = EventWrites(stack, f"hapg{int(time.time()) % 10**6}", ip)
    before = stack.pg_leader()
    with Load(stack.ports["http"], ip, steps=writes.steps(), threads=3, pause=0.1) as load:
        time.sleep(3)
        killed_at = time.monotonic()
        drill = stack.run("fail", "db-primary", timeout=300)
        time.sleep(2)
    lost_events, lost_joins = writes.lost(stack)
    return {
        "drill": drill.strip().replace("\n", "; "),
        "before": before,
        "after": stack.pg_leader(),
        "roles": patroni_roles(stack),
        "sent": len(load.results),
        "acknowledged": len(writes.created) + len(writes.joined),
        "first_write_after": first_write_after(load, killed_at),
        "worst": max(r.elapsed for r in load.results),
        "errors": [r for r in load.results if r.status is None or (r.status >= 500 and r.status != 503)],
        "no_retry_after": [r for r in load.results if r.status == 503 and not r.retry_after],
        "lost_events": lost_events,
        "lost_joins": lost_joins,
        "load": load,
    }


def redis_master_killed(stack: Stack, ip: str) -> dict:
    """`fail redis-master` under joins and a few registrations; every confirmation and welcome email once."""
    writes = EventWrites(stack, f"hars{int(time.time()) % 10**6}", ip, joiners=3)
    registered: list[str] = []
    numbers = itertools.count()

    def registration(_conn: http.client.HTTPConnection) -> Result:
        number = next(numbers)
        if number >= 4:  # the gateway admits 10 a minute per address: a few, spread over the drill
            return Result("GET", CATEGORIES, 200)
        username = f"{writes.prefix}_new{number}"
        body = {
            "username": username,
            "email": f"{username}@example.org",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
        }
        status, headers, _ = request(stack.ports["http"], "POST", "/api/users/register/", body=body, source_ip=ip)
        if status == 201:
            registered.append(f"{username}@example.org")
        return Result("POST", "/api/users/register/", status, retry_after=headers.get("retry-after"))

    steps = [writes.create, writes.join, writes.join, registration, get(CATEGORIES)]
    with Load(stack.ports["http"], ip, steps=steps, threads=2, pause=0.3) as load:
        time.sleep(2)
        drill = stack.run("fail", "redis-master", timeout=300)
        time.sleep(3)
    expected = Counter()
    for address, event_id in writes.joined:
        [[title]] = stack.sql(f"select title from events where id = {event_id}")  # noqa: S608
        expected[(address, f"Inscrição confirmada: {title}")] += 1
    for address in registered:
        expected[(address, "Boas-vindas ao Mutirões!")] += 1

    def mine() -> Counter:
        received = stack.mail()
        return Counter({key: received[key] for key in expected if received[key]})

    started = time.monotonic()
    arrived = wait_for(lambda: mine() == expected, timeout=120, interval=2)
    mail_after = time.monotonic() - started if arrived else None
    time.sleep(5)  # and nothing arrives twice later
    got = mine()
    return {
        "drill": drill.strip().replace("\n", "; "),
        "promoted_after": float(drill.split(" after ")[1].split(" s")[0]),
        "sent": len(load.results),
        "registrations": [r.status for r in load.results if r.path == "/api/users/register/"],
        "joins": len(writes.joined),
        "expected": sum(expected.values()),
        "lost": sum((expected - got).values()),
        "duplicated": sum((got - expected).values()),
        "mail_after": mail_after,
        "errors": [r for r in load.results if r.status is None or r.status >= 500],
    }

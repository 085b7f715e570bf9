"""What the fault and failover tests share: accounts, events and the mailbox of the cluster's SMTP sink."""

from __future__ import annotations

import datetime as dt
import email
import itertools
import time
from collections import Counter
from pathlib import Path

from tests.e2e.load import Result, request

PASSWORD = "mutirao-resiliente-42"
CATEGORIES = "/api/events/categories/"
EVENTS = "/api/events/"
READ_TIMEOUT = 5.0  # nginx's proxy_read_timeout
_ips = itertools.count(1)


def fresh_ip() -> str:
    """A loopback source address of its own: nginx allows 10 registrations or logins a minute per address."""
    n = next(_ips)
    return f"127.0.{100 + n // 250}.{n % 250 + 1}"


def wait_for(predicate, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


# --- accounts, events, mail ----------------------------------------------------------------------------------


def register(port: int, username: str, log: list[Result] | None = None) -> int:
    started = time.monotonic()
    status, headers, _ = request(
        port,
        "POST",
        "/api/users/register/",
        body={
            "username": username,
            "email": f"{username}@example.org",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
        },
        source_ip=fresh_ip(),
    )
    if log is not None:
        result = Result("POST", "/api/users/register/", status, retry_after=headers.get("retry-after"))
        result.started, result.elapsed = started, time.monotonic() - started
        log.append(result)
    return status


def login(port: int, username: str) -> dict:
    status, _, tokens = request(
        port,
        "POST",
        "/api/token/",
        body={"email": f"{username}@example.org", "password": PASSWORD},
        source_ip=fresh_ip(),
    )
    assert status == 200, (status, tokens)
    return tokens


def account(port: int, username: str) -> dict:
    assert register(port, username) == 201
    return {"username": username, "email": f"{username}@example.org", **login(port, username)}


def bearer(tokens: dict) -> dict:
    return {"Authorization": f"Bearer {tokens['access']}"}


def create_event(port: int, organizer: dict, **fields) -> int:
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=3)
    body = {
        "title": "Mutirão de limpeza do mangue",
        "description": "Retirada de lixo do mangue com a comunidade.",
        "category": 1,
        "address": "Rua do Porto, 10",
        "city": "Santos",
        "state": "SP",
        "latitude": -23.96,
        "longitude": -46.33,
        "start_date": start.isoformat(),
        "end_date": (start + dt.timedelta(hours=3)).isoformat(),
        "max_participants": 500,
        **fields,
    }
    status, _, event = request(port, "POST", EVENTS, body=body, headers=bearer(organizer), source_ip=fresh_ip())
    assert status == 201, event
    return event["id"]


def mailbox(cluster) -> tuple[Counter, Counter]:
    """(messages per recipient, messages per Message-ID) in the SMTP sink's folder."""
    recipients, message_ids = Counter(), Counter()
    for path in Path(cluster.dir / "mail").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes())
        recipients[message["X-Sink-Rcpt-To"].strip().lower()] += 1
        message_ids[message["Message-ID"]] += 1
    return recipients, message_ids


def wait_for_mail(cluster, expected: set[str], timeout: float) -> float | None:
    """Seconds until every expected recipient had a message, or None when some never got one."""
    started = time.monotonic()
    arrived = wait_for(lambda: all(mailbox(cluster)[0][r] for r in expected), timeout=timeout, interval=0.5)
    return time.monotonic() - started if arrived else None


def mail_losses(cluster, expected: set[str]) -> tuple[int, int]:
    """(recipients with no message, extra copies of any message): both must be 0.

    A message's Message-ID is derived from its delivery key (kind, ids, recipient), so a second copy of the same
    message has the same id; a recipient may legitimately get several different messages (a welcome, then a
    confirmation for each join).
    """
    recipients, message_ids = mailbox(cluster)
    lost = sum(1 for r in expected if recipients[r] == 0)
    duplicated = sum(count - 1 for count in message_ids.values() if count > 1)
    return lost, duplicated


def timed_request(log: list[Result], port: int, method: str, path: str, **kwargs):
    started = time.monotonic()
    status, headers, body = request(port, method, path, **kwargs)
    log.append(
        Result(
            method,
            path,
            status,
            retry_after=headers.get("retry-after"),
            started=started,
            elapsed=time.monotonic() - started,
        )
    )
    return status, headers, body

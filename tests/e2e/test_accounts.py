"""Trust, end to end through nginx on the local cluster: the two-account forgery of issue 13 no longer pays, and an
email verification and a password reset complete with the emails read from the cluster's SMTP sink.

The forgery was: an event that starts in a minute and lasts 365 days, a second account that joins and checks itself
in (no code), a report with no hours → 8,760 hours, 4 badges and first place in 90 seconds; and a report with
``trash_collected_kg: 1e12`` in the public summary. The event here lasts one minute (a test-only timing: it must
start in the future, the report needs it started, and hours need it ended).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import time

import pytest

from tests.e2e.conftest import report
from tests.e2e.load import request

pytestmark = pytest.mark.e2e

IP = "127.0.0.1"  # the gateway's own host: nginx's per-IP limits do not apply to the test driver
PASSWORD = "caminhada-verde-42"
EVENT_LENGTH = dt.timedelta(minutes=1)


def call(cluster, method: str, path: str, body=None, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return request(cluster.load().ports["nginx"], method, path, body=body, headers=headers, source_ip=IP)


def wait_for(predicate, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def mails_to(cluster, address: str, subject: str) -> list[email.message.EmailMessage]:
    found = []
    for path in sorted((cluster.dir / "mail").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == address and message["Subject"] == subject:
            found.append(message)
    return found


def token_in(message, path: str) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    [token] = set(re.findall(rf"https?://[^/\s]+/{path}\?token=([A-Za-z0-9_\-]+)", text))
    assert f"{path}?token={token}" in html
    return token


def register_and_login(cluster, username: str) -> str:
    body = {
        "username": username,
        "email": f"{username}@example.org",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
    }
    status, _, created = call(cluster, "POST", "/api/users/register/", body)
    assert status == 201 and created["email_verified"] is False
    status, _, tokens = call(cluster, "POST", "/api/token/", {"email": body["email"], "password": PASSWORD})
    assert status == 200
    return tokens["access"]


def event_body(start: dt.datetime, end: dt.datetime) -> dict:
    return {
        "title": "Mutirão relâmpago",
        "category": 1,
        "address": "Praia do Forte",
        "city": "Cabo Frio",
        "state": "RJ",
        "latitude": -22.88,
        "longitude": -42.01,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "max_participants": 10,
    }


def test_two_free_accounts_no_longer_forge_hours_badges_or_impact_and_accounts_recover(cluster):
    organizer = register_and_login(cluster, "olga_e2e")
    volunteer = register_and_login(cluster, "vitor_e2e")

    # the volunteer verifies the address from the welcome email's link
    [welcome] = wait_for(lambda: mails_to(cluster, "vitor_e2e@example.org", "Boas-vindas ao Mutirões!"), 30)
    status, _, body = call(cluster, "POST", "/api/users/verify-email/", {"token": token_in(welcome, "verificar-email")})
    assert status == 200, body
    assert call(cluster, "GET", "/api/users/profile/", token=volunteer)[2]["user"]["email_verified"] is True

    # an event that starts in a minute and lasts 365 days is refused
    soon = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=1)
    status, _, body = call(cluster, "POST", "/api/events/", event_body(soon, soon + dt.timedelta(days=365)), organizer)
    assert status == 400 and list(body) == ["end_date"]

    # one within the limits; the second account joins and checks itself in, without a code
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=45)
    end = start + EVENT_LENGTH
    status, _, event = call(cluster, "POST", "/api/events/", event_body(start, end), organizer)
    assert status == 201, event
    event_id = event["id"]
    assert call(cluster, "POST", f"/api/events/{event_id}/join/", {}, volunteer)[0] == 201
    status, _, checked = call(cluster, "POST", f"/api/events/{event_id}/check_in/", {}, volunteer)
    assert status == 200 and checked["checked_in"] is True

    # once it started: 10¹² kg is refused, a report with no hours is filed
    time.sleep(max(0.0, (start - dt.datetime.now(dt.UTC)).total_seconds()) + 1)
    status, _, body = call(cluster, "POST", f"/api/events/{event_id}/report/", {"trash_collected_kg": 1e12}, organizer)
    assert status == 400 and list(body) == ["trash_collected_kg"]
    status, _, filed = call(cluster, "POST", f"/api/events/{event_id}/report/", {}, organizer)
    assert status == 201, filed

    # before the end: no hours, no badge, no place, nothing in the public summary
    time.sleep(3)  # the statistics job has run by now (the cluster's workers take it at once)
    assert dt.datetime.now(dt.UTC) < end
    stats = call(cluster, "GET", "/api/users/stats/", token=volunteer)[2]
    assert (stats["total_hours_volunteered"], stats["badges_earned"]) == (0.0, 0)
    for token in (organizer, volunteer):
        assert call(cluster, "GET", "/api/users/badges/earned/", token=token)[2] == []
    assert call(cluster, "GET", "/api/users/rank/", token=volunteer)[2]["total_hours"] == 0.0
    assert call(cluster, "GET", "/api/impact/summary/")[2]["volunteer_hours"] == 0.0

    # after the end, the job delayed to the end credits what a self check-in could have given: the minute the
    # event lasted (checked in before the start: from the start), well under the 12 h/day and 4 h unattested caps
    expected = round(EVENT_LENGTH.total_seconds() / 3600, 2)
    credited = wait_for(
        lambda: call(cluster, "GET", "/api/users/stats/", token=volunteer)[2]["total_hours_volunteered"] or None,
        timeout=(end - dt.datetime.now(dt.UTC)).total_seconds() + 45,
    )
    assert credited == expected == 0.02
    [item] = call(cluster, "GET", "/api/users/history/", token=volunteer)[2]["results"]
    assert item["hours"] == expected
    badges = {b["badge"]["name"] for b in call(cluster, "GET", "/api/users/badges/earned/", token=volunteer)[2]}
    assert badges == {"Primeiro mutirão"}  # one real (one-minute) mutirão; 10 hours are far away
    board = call(cluster, "GET", "/api/users/leaderboard/")[2]
    assert [(row["username"], row["total_hours"]) for row in board if row["username"].endswith("_e2e")] == [
        ("vitor_e2e", expected)
    ]
    summary = call(cluster, "GET", "/api/impact/summary/")[2]
    assert summary["trash_collected_kg"] < 1e6

    # the organizer forgot the password: reset through the emailed link; every login ends, the new one works
    status, _, body = call(cluster, "POST", "/api/users/password-reset/", {"email": "olga_e2e@example.org"})
    assert status == 202 and "detail" in body
    [reset] = wait_for(lambda: mails_to(cluster, "olga_e2e@example.org", "Redefina sua senha do Mutirões"), 30)
    new_password = "mangue-vivo-2027"
    body = {"token": token_in(reset, "redefinir-senha"), "new_password": new_password}
    body["new_password_confirm"] = new_password
    status, _, answer = call(cluster, "POST", "/api/users/password-reset/confirm/", body)
    assert status == 200, answer
    assert call(cluster, "GET", "/api/users/profile/", token=organizer)[0] == 401
    assert call(cluster, "POST", "/api/users/password-reset/confirm/", body)[0] == 400  # single use
    login = {"email": "olga_e2e@example.org", "password": PASSWORD}
    assert call(cluster, "POST", "/api/token/", login)[0] == 401
    status, _, tokens = call(cluster, "POST", "/api/token/", {**login, "password": new_password})
    assert status == 200
    # the reset proved the organizer reads the address: verified, and the organizing badges follow the ended event
    assert call(cluster, "GET", "/api/users/profile/", token=tokens["access"])[2]["user"]["email_verified"] is True
    organizer_badges = wait_for(
        lambda: {
            b["badge"]["name"] for b in call(cluster, "GET", "/api/users/badges/earned/", token=tokens["access"])[2]
        },
        timeout=30,
    )
    report(
        "forged hours (issue 13, Why 2)",
        event_refused="365 days → 400 on end_date",
        trash_refused="1e12 kg → 400 on trash_collected_kg",
        hours_before_end=0.0,
        hours_credited=credited,
        instead_of="8760",
        volunteer_badges=sorted(badges),
        organizer_badges=sorted(organizer_badges),
    )

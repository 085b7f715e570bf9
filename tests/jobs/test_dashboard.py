"""rq-dashboard at /rq/: staff only, by HTTP Basic (browsers) or a staff bearer token."""

from __future__ import annotations

import base64

from mutiroes import jobs
from mutiroes.models import db
from tests.conftest import bearer


def basic(login: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


def test_anonymous_callers_are_asked_for_credentials(jobs_client):
    response = jobs_client.get("/rq/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert response.get_json() == {"detail": "As credenciais de autenticação não foram fornecidas."}
    assert jobs_client.get("/rq/", headers=basic("ninguem", "errada-123")).status_code == 401


def test_volunteers_are_forbidden(jobs_client, make_user):
    user = make_user()
    assert jobs_client.get("/rq/", headers=basic(user["email"], user["password"])).status_code == 403


def test_staff_see_queues_workers_and_failed_jobs(jobs_app, jobs_client, make_user, login):
    staff = make_user(is_staff=True)
    with jobs_app.app_context():
        jobs.request("cleanup_expired_events")
        db.session.commit()
        db.session.remove()

    page = jobs_client.get("/rq/", headers=basic(staff["username"], staff["password"]))
    assert page.status_code == 200 and b"RQ" in page.data
    queues = jobs_client.get("/rq/0/data/queues.json", headers=basic(staff["email"], staff["password"]))
    assert queues.status_code == 200
    by_name = {q["name"]: q for q in queues.get_json()["queues"]}
    assert by_name[jobs.PERIODIC]["count"] == 1
    assert "failed_job_registry_count" in by_name[jobs.PERIODIC]
    workers = jobs_client.get("/rq/0/data/workers.json", headers=bearer(login(staff)))
    assert workers.status_code == 200 and "workers" in workers.get_json()


def test_changes_from_another_origin_are_refused(jobs_client, make_user):
    staff = make_user(is_staff=True)
    headers = basic(staff["username"], staff["password"])
    refused = jobs_client.get("/rq/requeue/emails", headers={**headers, "Origin": "https://evil.example"})
    assert refused.status_code == 403
    allowed = jobs_client.post("/rq/requeue/emails", headers={**headers, "Origin": "http://localhost"})
    assert allowed.status_code == 200 and allowed.get_json()["status"] == "OK"

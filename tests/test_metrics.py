import re

from rq.registry import FailedJobRegistry

from mutiroes.jobs import queues


def sample(text: str, name: str, **labels) -> float | None:
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        match = re.match(r"^(\w+)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(4))
    return None


def test_metrics_count_requests_by_route_and_status_and_report_dependencies(client):
    before = client.get("/metrics").get_data(as_text=True)
    start = (
        sample(before, "mutiroes_http_requests_total", method="GET", route="/api/events/categories/", status="200") or 0
    )
    for _ in range(3):
        assert client.get("/api/events/categories/").status_code == 200
    assert client.get("/api/nada/").status_code == 404
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    counted = sample(text, "mutiroes_http_requests_total", method="GET", route="/api/events/categories/", status="200")
    assert counted == start + 3
    assert sample(text, "mutiroes_http_requests_total", method="GET", route="unmatched", status="404") >= 1
    assert sample(text, "mutiroes_http_request_duration_seconds_count", route="/api/events/categories/") >= 3
    for dependency in ("database", "redis", "smtp"):
        assert sample(text, "mutiroes_breaker_state", dependency=dependency) == 0
    assert sample(text, "mutiroes_outbox_backlog") == 0
    assert sample(text, "mutiroes_queue_depth", queue="emails") is not None


def test_jobs_that_failed_for_good_are_counted_per_queue_for_the_failed_jobs_alert(app, client):
    connection = app.extensions["mutiroes_redis"]["client"]
    queue = queues.queue("emails", connection)
    job = queue.enqueue("mutiroes.jobs.registry.run_now", "nothing", job_id="metrics-failed-job")
    queue.remove(job)
    FailedJobRegistry(queue=queue).add(job, ttl=60, exc_string="boom")

    text = client.get("/metrics").get_data(as_text=True)
    assert sample(text, "mutiroes_failed_jobs", queue="emails") == 1
    assert sample(text, "mutiroes_failed_jobs", queue="default") == 0
    assert sample(text, "mutiroes_queue_depth", queue="emails") == 0

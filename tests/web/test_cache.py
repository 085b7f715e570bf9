"""The response cache: a hit is the miss's answer byte for byte, every write is seen by the next anonymous read (on
another replica too), and a write to one event leaves the other events' cached answers cached."""

from __future__ import annotations

import datetime as dt
import gc
import json
import re
import threading
import time
from dataclasses import dataclass

import pytest
import redis as redis_lib
import requests

from mutiroes import create_app
from mutiroes.events.schemas import EventListItemSchema
from mutiroes.jobs import outbox
from mutiroes.jobs import registry as jobs
from mutiroes.models import db
from mutiroes.timeutil import utcnow
from mutiroes.web import cachestore
from tests import images
from tests.content.conftest import upload
from tests.test_metrics import sample

DETAIL_ROUTE = "/api/events/<id:event_id>/"
PER_ANSWER = {"X-Request-Id", "X-Cache"}


def read(client, url: str, **headers):
    response = client.get(url, headers=headers)
    assert response.status_code == 200, (url, response.status_code, response.get_data()[:300])
    return response


def comparable(response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name not in PER_ANSWER}


def metric(text: str, name: str, **labels) -> float:
    return sample(text, name, **labels) or 0.0


@pytest.mark.parametrize("origin", [None, "http://localhost:3000", "https://elsewhere.example"])
@pytest.mark.parametrize("url", ["/api/events/?ordering=start_date&page_size=1", "/api/events", "detail"])
def test_a_hit_is_the_answer_of_the_miss_that_stored_it_byte_for_byte(client, make_event, url, origin):
    first, second = make_event(title="Mutirão da Praia Vermelha"), make_event(title="Plantio no Parque")
    url = f"/api/events/{first}/" if url == "detail" else url
    headers = {"Origin": origin} if origin else {}
    miss = read(client, url, **headers)
    hit = read(client, url, **headers)
    assert (miss.headers["X-Cache"], hit.headers["X-Cache"]) == ("miss", "hit")
    assert hit.get_data() == miss.get_data()
    assert comparable(hit) == comparable(miss)
    # CORS headers depend on the Origin, so the Origin is part of the key
    if origin == "http://localhost:3000":
        assert hit.headers["Access-Control-Allow-Origin"] == origin
    elif origin is not None:
        assert "Access-Control-Allow-Origin" not in hit.headers
    # and those bytes are jsonify's: schema order, compact, UTF-8, a final newline
    body = miss.get_json()
    assert miss.get_data() == json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
    if "results" in body:
        assert list(body) == ["count", "next", "previous", "results"]
        assert {item["id"] for item in body["results"]} <= {first, second}
        assert all(list(item) == list(EventListItemSchema._declared_fields) for item in body["results"])


@pytest.fixture
def uncached_client(make_config):
    """The same app on the same database with its Redis unreachable: the cache is unavailable, so every answer is
    the view's own, built and sent by Flask with nothing looked up or kept (the path of a replica whose Redis is
    down)."""
    plain = create_app(make_config(environ={"MUTIROES_REDIS_URL": "redis://127.0.0.1:1/0"}))
    plain.config["TESTING"] = True
    return plain.test_client()


@pytest.mark.parametrize("origin", [None, "http://localhost:3000"])
@pytest.mark.parametrize("url", ["/api/events/", "/api/events/?ordering=-participants_count&page_size=2", "detail"])
def test_a_hit_and_a_page_of_cached_items_are_the_uncached_answer_byte_for_byte(
    client, uncached_client, make_event, url, origin
):
    first = make_event(title="Mutirão da Praia Vermelha", city="São Paulo")
    make_event(title="Plantio no Parque")
    make_event(title="Horta comunitária", max_participants=7)
    url = f"/api/events/{first}/" if url == "detail" else url
    headers = {"Origin": origin} if origin else {}
    plain = read(uncached_client, url, **headers)
    assert plain.headers["X-Cache"] == "miss"
    # the list items rendered and cached by other pages first: the page below is assembled from them
    for page in ("/api/events/?page_size=1", "/api/events/?page_size=1&page=2", "/api/events/?page_size=1&page=3"):
        read(client, page, **headers)
    miss = read(client, url, **headers)
    hit = read(client, url, **headers)
    assert (miss.headers["X-Cache"], hit.headers["X-Cache"]) == ("miss", "hit")
    assert miss.get_data() == hit.get_data() == plain.get_data()
    assert comparable(miss) == comparable(hit) == comparable(plain)


def test_a_hit_has_its_own_request_id_its_access_line_and_its_metrics(client, make_event, log_lines):
    url = f"/api/events/{make_event()}/"
    before = client.get("/metrics").get_data(as_text=True)
    assert read(client, url).headers["X-Cache"] == "miss"
    hits = [read(client, url), read(client, url), read(client, url, **{"X-Request-Id": "pedido-42"})]
    assert [hit.headers["X-Cache"] for hit in hits] == ["hit"] * 3
    first, second, sent = (hit.headers["X-Request-Id"] for hit in hits)
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second and sent == "pedido-42"
    after = client.get("/metrics").get_data(as_text=True)
    requests_total = ("mutiroes_http_requests_total", {"method": "GET", "route": DETAIL_ROUTE, "status": "200"})
    assert (
        metric(after, requests_total[0], **requests_total[1]) - metric(before, requests_total[0], **requests_total[1])
        == 4
    )
    for result, expected in (("hit", 3), ("miss", 1)):
        labels = {"route": DETAIL_ROUTE, "result": result}
        counted = metric(after, "mutiroes_response_cache_total", **labels)
        assert counted - metric(before, "mutiroes_response_cache_total", **labels) == expected
    lines = [line for line in log_lines() if line["logger"] == "mutiroes.access" and line.get("path") == url]
    assert [line["request_id"] for line in lines][-3:] == [first, second, "pedido-42"]
    assert all(line["route"] == DETAIL_ROUTE and line["status"] == 200 and line["user_id"] is None for line in lines)


def test_credentials_are_never_answered_from_the_cache(client, make_event, user_with_token):
    organizer, headers = user_with_token()
    url = f"/api/events/{make_event(organizer=organizer)}/"
    read(client, url)
    assert read(client, url).headers["X-Cache"] == "hit"
    own_view = read(client, url, **headers)
    assert "X-Cache" not in own_view.headers and "check_in_code" in own_view.get_json()


# --- every write is seen; the other events stay cached ---------------------------------------------------------


@dataclass
class Scene:
    client: object
    event_id: int
    other_id: int
    organizer_headers: dict
    participant_headers: dict
    stranger_headers: dict
    stranger: dict
    resource_id: int

    def post(self, url: str, headers: dict, body=None):
        response = self.client.post(url, json=body if body is not None else {}, headers=headers)
        assert response.status_code in (200, 201), (url, response.status_code, response.get_json())
        return response.get_json()


def edit(scene: Scene):
    changed = scene.client.patch(
        f"/api/events/{scene.event_id}/", json={"title": "Mutirão remarcado"}, headers=scene.organizer_headers
    )
    assert changed.status_code == 200
    return lambda detail, item: detail["title"] == item["title"] == "Mutirão remarcado"


def join(scene: Scene):
    scene.post(f"/api/events/{scene.event_id}/join/", scene.stranger_headers)
    return lambda detail, item: item["participants_count"] == 2 and len(detail["participants"]) == 2


def leave(scene: Scene):
    scene.post(f"/api/events/{scene.event_id}/leave/", scene.participant_headers)
    return lambda detail, item: item["participants_count"] == 0 and detail["participants"] == []


def comment(scene: Scene):
    scene.post(f"/api/events/{scene.event_id}/comments/", scene.stranger_headers, {"content": "Levo luvas!"})
    return lambda detail, item: [c["content"] for c in detail["comments"]] == ["Levo luvas!"]


def photo(scene: Scene):
    url = f"/api/events/{scene.event_id}/photos/"
    assert upload(scene.client, url, scene.participant_headers, images.png_bytes()).status_code == 201
    return lambda detail, item: len(detail["photos"]) == 1


def cover(scene: Scene):
    url = f"/api/events/{scene.event_id}/cover/"
    sent = upload(scene.client, url, scene.organizer_headers, images.png_bytes(), field="cover_image", method="put")
    assert sent.status_code == 200
    return lambda detail, item: detail["cover_image_url"] == item["cover_image_url"] is not None


def pledge(scene: Scene):
    scene.post(
        f"/api/events/{scene.event_id}/resources/{scene.resource_id}/pledge/",
        scene.participant_headers,
        {"quantity": 3},
    )
    return lambda detail, item: detail["resources"][0]["quantity_provided"] == 3


def check_in(scene: Scene):
    scene.post(f"/api/events/{scene.event_id}/check_in/", scene.participant_headers)
    return lambda detail, item: detail["participants"][0]["checked_in"] is True


def capacity(scene: Scene):
    changed = scene.client.patch(
        f"/api/events/{scene.event_id}/", json={"max_participants": 3}, headers=scene.organizer_headers
    )
    assert changed.status_code == 200
    return lambda detail, item: item["available_spots"] == 2 and detail["max_participants"] == 3


@pytest.fixture
def scene(client, make_event, user_with_token) -> Scene:
    """An event starting in 30 minutes (check-in is open) with one confirmed participant and a resource, an unrelated
    event, and a stranger."""
    organizer, organizer_headers = user_with_token(first_name="Olga")
    _participant, participant_headers = user_with_token(first_name="Paulo")
    stranger, stranger_headers = user_with_token(first_name="Sara")
    start = utcnow() + dt.timedelta(minutes=30)
    event_id = make_event(organizer=organizer, start_date=start)
    other_id = make_event(title="Outro mutirão", start_date=start + dt.timedelta(days=1))
    scene = Scene(client, event_id, other_id, organizer_headers, participant_headers, stranger_headers, stranger, 0)
    scene.post(f"/api/events/{event_id}/join/", participant_headers)
    resource = {"name": "Sacos", "resource_type": "material", "quantity_needed": 10, "unit": "pacotes"}
    scene.resource_id = scene.post(f"/api/events/{event_id}/resources/", organizer_headers, resource)["id"]
    return scene


def warm(client, *urls: str) -> None:
    for url in urls:
        read(client, url)
        assert read(client, url).headers["X-Cache"] == "hit", url


@pytest.mark.parametrize("write", [edit, join, leave, comment, photo, cover, pledge, check_in, capacity])
def test_the_next_read_after_a_write_shows_it_and_the_other_events_stay_cached(client, scene, write):
    detail_url, other_url, list_url = f"/api/events/{scene.event_id}/", f"/api/events/{scene.other_id}/", "/api/events/"
    warm(client, detail_url, other_url, list_url)
    seen = write(scene)
    detail = read(client, detail_url)
    page = read(client, list_url)
    assert detail.headers["X-Cache"] == page.headers["X-Cache"] == "miss"
    [item] = [item for item in page.get_json()["results"] if item["id"] == scene.event_id]
    assert seen(detail.get_json(), item)
    assert read(client, other_url).headers["X-Cache"] == "hit"
    # and the new answers are cached in turn
    assert read(client, detail_url).headers["X-Cache"] == read(client, list_url).headers["X-Cache"] == "hit"


def test_deleting_an_event_takes_it_out_of_the_lists_and_leaves_the_others_cached(client, scene):
    detail_url, other_url = f"/api/events/{scene.event_id}/", f"/api/events/{scene.other_id}/"
    warm(client, detail_url, other_url, "/api/events/")
    assert client.delete(detail_url, headers=scene.organizer_headers).status_code == 204
    assert client.get(detail_url).status_code == 404
    assert [item["id"] for item in read(client, "/api/events/").get_json()["results"]] == [scene.other_id]
    assert read(client, other_url).headers["X-Cache"] == "hit"


def test_a_list_page_of_other_events_stays_cached_when_one_event_changes(client, scene):
    # newest first, one a page: page 1 is the other event, page 2 the joined one
    newest, joined = "/api/events/?page_size=1", "/api/events/?page_size=1&page=2"
    by_participants = "/api/events/?page_size=1&ordering=-participants_count"
    warm(client, newest, joined, by_participants)
    scene.post(f"/api/events/{scene.event_id}/join/", scene.stranger_headers)
    assert read(client, newest).headers["X-Cache"] == "hit"
    assert read(client, joined).headers["X-Cache"] == "miss"
    assert read(client, by_participants).headers["X-Cache"] == "miss"  # a join may reorder this one
    # a change to what lists filter or order by may move any event anywhere: every page is built again
    warm(client, newest)
    client.patch(f"/api/events/{scene.event_id}/", json={"city": "Niterói"}, headers=scene.organizer_headers)
    assert read(client, newest).headers["X-Cache"] == "miss"
    assert [item["id"] for item in read(client, "/api/events/?city=niteroi").get_json()["results"]] == [scene.event_id]


def test_a_report_and_its_job_leave_the_other_events_cached(app, client, make_event, user_with_token):
    organizer, headers = user_with_token()
    started = make_event(organizer=organizer, start_date=utcnow() - dt.timedelta(hours=1))
    other = make_event()
    warm(client, f"/api/events/{started}/", f"/api/events/{other}/")
    report = {"total_hours": 3, "trash_collected_kg": 12.5, "summary": "Praia limpa."}
    assert client.post(f"/api/events/{started}/report/", json=report, headers=headers).status_code == 201
    with app.app_context():
        jobs.run_now("process_event_report_statistics", event_id=started)
        db.session.remove()
    assert read(client, f"/api/events/{started}/report/").get_json()["summary"] == "Praia limpa."
    assert read(client, f"/api/events/{other}/").headers["X-Cache"] == "hit"


def test_a_jobs_change_is_seen_by_the_next_read(app, client, make_event):
    ended = make_event(start_date=utcnow() - dt.timedelta(hours=5), end_date=utcnow() - dt.timedelta(hours=1))
    warm(client, f"/api/events/{ended}/", "/api/events/")
    with app.app_context():
        jobs.run_now("cleanup_expired_events")
        db.session.remove()
    assert read(client, f"/api/events/{ended}/").get_json()["status"] == "completed"
    assert read(client, "/api/events/").get_json()["results"] == []  # the list shows published events


def test_an_organizers_new_name_is_seen_in_every_answer_that_shows_it(client, make_event, user_with_token):
    organizer, headers = user_with_token(first_name="Olga", last_name="Reis")
    event_id = make_event(organizer=organizer)
    warm(client, f"/api/events/{event_id}/", "/api/events/")
    changed = client.patch("/api/users/profile/update/", json={"last_name": "Ramos"}, headers=headers)
    assert changed.status_code == 200, changed.get_json()
    assert read(client, f"/api/events/{event_id}/").get_json()["organizer_name"] == "Olga Ramos"
    assert read(client, "/api/events/").get_json()["results"][0]["organizer_name"] == "Olga Ramos"


def test_a_write_on_one_replica_is_seen_on_the_other_which_keeps_the_rest_cached(
    live_servers, make_event, make_user, user_with_token
):
    writer, reader = live_servers
    organizer, _headers = user_with_token()
    event_id, other_id = make_event(organizer=organizer), make_event(organizer=organizer)
    volunteer = make_user()
    token = requests.post(
        f"{writer}/api/token/", json={"email": volunteer["email"], "password": volunteer["password"]}, timeout=10
    ).json()["access"]

    def get(url):
        response = requests.get(f"{reader}{url}", timeout=10)
        assert response.status_code == 200
        return response

    for url in (f"/api/events/{event_id}/", f"/api/events/{other_id}/", "/api/events/"):
        get(url)
        assert get(url).headers["X-Cache"] == "hit"
    hits_before = metric(
        requests.get(f"{reader}/metrics", timeout=10).text,
        "mutiroes_response_cache_total",
        route=DETAIL_ROUTE,
        result="hit",
    )
    joined = requests.post(
        f"{writer}/api/events/{event_id}/join/", json={}, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert joined.status_code == 201
    detail = get(f"/api/events/{event_id}/")
    assert detail.headers["X-Cache"] == "miss" and detail.json()["participants_count"] == 1
    [item] = [item for item in get("/api/events/").json()["results"] if item["id"] == event_id]
    assert item["participants_count"] == 1
    assert get(f"/api/events/{other_id}/").headers["X-Cache"] == "hit"
    hits_after = metric(
        requests.get(f"{reader}/metrics", timeout=10).text,
        "mutiroes_response_cache_total",
        route=DETAIL_ROUTE,
        result="hit",
    )
    assert hits_after == hits_before + 1


# --- a worker's copies of the answers it served ----------------------------------------------------------------


@pytest.fixture
def other_worker(make_config):
    """A second app on the same PostgreSQL and Redis: another worker (or replica), with copies of its own."""
    other = create_app(make_config())
    other.config["TESTING"] = True
    return other


def test_a_workers_copy_is_served_without_the_shared_entry_and_only_while_its_versions_are_current(
    app, client, other_worker, make_event, user_with_token
):
    organizer, headers = user_with_token()
    event_id = make_event(organizer=organizer, title="Mutirão da Praia Vermelha")
    urls = (f"/api/events/{event_id}/", "/api/events/")
    warm(client, *urls)
    served = {url: read(client, url).get_data() for url in urls}
    redis_client = app.extensions["mutiroes_redis"]["client"]
    answers = list(redis_client.scan_iter(match="mutiroes:cache:answer:*"))
    assert len(answers) == 2
    redis_client.delete(*answers)  # the shared entries evicted: only this worker's copies are left
    for url in urls:
        again = read(client, url)
        assert again.headers["X-Cache"] == "hit" and again.get_data() == served[url]
    assert not list(redis_client.scan_iter(match="mutiroes:cache:answer:*"))  # nothing was fetched or stored again
    # a write made by another worker: this worker's next reads show it, and its copies are replaced
    changed = other_worker.test_client().patch(urls[0], json={"title": "Mutirão remarcado"}, headers=headers)
    assert changed.status_code == 200, changed.get_json()
    detail, page = read(client, urls[0]), read(client, urls[1])
    assert detail.headers["X-Cache"] == page.headers["X-Cache"] == "miss"
    assert detail.get_json()["title"] == page.get_json()["results"][0]["title"] == "Mutirão remarcado"
    assert read(client, urls[0]).get_json()["title"] == "Mutirão remarcado"


def test_a_copy_kept_from_before_redis_lost_its_data_is_never_served(
    app, client, other_worker, make_event, user_with_token
):
    organizer, headers = user_with_token()
    event_id = make_event(organizer=organizer, title="Plantio no Parque")
    url = f"/api/events/{event_id}/"
    warm(client, url)
    redis_client = app.extensions["mutiroes_redis"]["client"]
    before = {key: int(redis_client.get(key)) for key in redis_client.scan_iter(match="mutiroes:cache:v:*")}
    redis_client.flushdb()  # a Redis restarted without its data: the version counter starts again
    # the other worker writes, then rebuilds the versions of the answers it reads
    changed = other_worker.test_client().patch(url, json={"title": "Plantio remarcado"}, headers=headers)
    assert changed.status_code == 200, changed.get_json()
    assert read(other_worker.test_client(), url).get_json()["title"] == "Plantio remarcado"
    after = {key: int(redis_client.get(key)) for key in redis_client.scan_iter(match="mutiroes:cache:v:*")}
    assert before and after and min(after.values()) > max(before.values())  # no number is given twice
    # this worker's copy is stale: it is served the other worker's new entry instead
    assert read(client, url).get_json()["title"] == "Plantio remarcado"


def test_a_workers_copies_stay_within_their_bytes_dropping_the_least_recently_served():
    copies = cachestore.LocalCopies(max_bytes=2500)
    now, versions = time.monotonic(), (["v"], [b"1"])
    for name in ("a", "b", "c"):
        copies.put(name, now + 60, versions, ([], name.encode() * 900))
    assert copies.size <= 2500 and copies.get("a") is None  # the oldest made room
    assert copies.get("b") is not None  # b is now the most recently served
    copies.put("d", now + 60, versions, ([], b"d" * 900))
    assert copies.get("c") is None and copies.get("b") is not None and copies.get("d") is not None
    copies.put("huge", now + 60, versions, ([], b"x" * 5000))
    assert copies.get("huge") is None and copies.get("b") is not None  # too big to keep: nothing dropped for it
    copies.put("old", now - 1, versions, ([], b"o"))
    assert copies.get("old") is None  # a copy lives no longer than the entry it copies
    assert copies.size == 2 * (900 + len("v1") + 1)


def test_a_write_made_while_redis_is_down_is_seen_once_it_is_back_by_the_writer_and_then_by_everyone(
    make_config, redis_server, make_event, user_with_token, other_worker
):
    writer = create_app(
        make_config(breaker_fail_max=100, breaker_reset_seconds=1, service_name="mutiroes-copies-outage")
    ).test_client()
    reader = other_worker.test_client()
    organizer, headers = user_with_token()
    url = f"/api/events/{make_event(organizer=organizer, title='Mutirão do Mangue')}/"
    warm(writer, url)  # both hold a copy, on a pooled connection to Redis (whose data survives a restart)
    warm(reader, url)
    redis_server.stop()
    try:
        assert writer.patch(url, json={"title": "Mutirão do Mangue, novo horário"}, headers=headers).status_code == 200
        down = read(writer, url)  # its copy cannot be checked: the view answers, fresh
        assert down.headers["X-Cache"] == "miss" and down.get_json()["title"] == "Mutirão do Mangue, novo horário"
    finally:
        redis_server.start()
    # the writer owes the bump its commit could not make: it makes it before reading the cache again (on a new
    # connection: the pooled one died with the server), so it never serves the old entry Redis kept
    assert read(writer, url).get_json()["title"] == "Mutirão do Mangue, novo horário"
    again = read(writer, url)
    assert again.headers["X-Cache"] == "hit" and again.get_json()["title"] == "Mutirão do Mangue, novo horário"
    # and from then on every other worker sees the write too
    assert read(reader, url).get_json()["title"] == "Mutirão do Mangue, novo horário"


def test_a_worker_holding_copies_answers_with_the_redis_circuit_open(make_config, make_event):
    worker = create_app(make_config(service_name="mutiroes-copies-open-circuit"))
    client = worker.test_client()
    url = f"/api/events/{make_event(title='Mutirão da Restinga')}/"
    warm(client, url)  # a copy is held: the next lookup checks it with the hit path's own MGET
    worker.extensions["mutiroes_redis"]["breaker"].open()
    try:
        answer = read(client, url)  # the open circuit is an unavailable cache, not a 500
        assert answer.headers["X-Cache"] == "miss" and answer.get_json()["title"] == "Mutirão da Restinga"
    finally:
        worker.extensions["mutiroes_redis"]["breaker"].close()


def test_a_new_redis_master_that_lost_the_last_bumps_serves_no_old_answer_once_a_relay_notices(
    app, client, redis_server, make_event, user_with_token, other_worker
):
    reader = other_worker.test_client()
    organizer, headers = user_with_token()
    event_id = make_event(organizer=organizer, title="Mutirão da Lagoa")
    url = f"/api/events/{event_id}/"
    warm(reader, url)  # a copy and a shared entry, both built on the event's version as it is now
    store = redis_lib.Redis.from_url(redis_server.url)
    before = store.get(cachestore.event_key(event_id))
    relay = outbox.RelayThread(app, interval=0.1)
    assert relay.master.changed(store) is False  # the relay knows this master

    assert client.patch(url, json={"title": "Mutirão da Lagoa, novo ponto"}, headers=headers).status_code == 200
    # the master dies and the server that takes over never got that bump (asynchronous replication): here, the
    # same server restarted, with the event's version set back to what it was
    redis_server.stop()
    redis_server.start()
    store = redis_lib.Redis.from_url(redis_server.url)
    store.set(cachestore.event_key(event_id), before)
    stale = read(reader, url)
    assert stale.get_json()["title"] == "Mutirão da Lagoa"  # what the lost bump leaves: the old answer is valid

    all_before = store.get(cachestore.ALL)
    relay.start()
    try:
        deadline = time.monotonic() + 10
        while store.get(cachestore.ALL) == all_before and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        relay.stop()
    assert store.get(cachestore.ALL) != all_before  # the relay found a new master and made every answer invalid
    fresh = read(reader, url)
    assert fresh.headers["X-Cache"] == "miss" and fresh.get_json()["title"] == "Mutirão da Lagoa, novo ponto"
    store.close()


def test_each_thread_holds_one_connection_for_its_hits_and_gives_it_back_when_it_ends(redis_server):
    client = redis_lib.Redis.from_url(redis_server.url)
    pool = client.connection_pool
    held = cachestore.HeldConnection()
    seen = []

    def hits():
        assert held.values(pool, ["mutiroes:cache:nada"]) == [None]
        assert held.values(pool, ["mutiroes:cache:nada"]) == [None]
        seen.append(held.current())

    for _ in range(20):  # a server that makes a thread per request
        thread = threading.Thread(target=hits)
        thread.start()
        thread.join()
    gc.collect()
    assert len(seen) == 20
    assert len(pool._in_use_connections) == 0  # every ended thread gave its connection back
    assert len(set(map(id, pool._available_connections))) == 1  # one connection, held by each thread in turn
    assert held.current() is None  # this thread never held one
    client.close()

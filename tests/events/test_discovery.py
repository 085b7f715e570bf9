"""Listing, filters, search, ordering, radius and nearby; the list cache; the list's SQL statement count."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from mutiroes import create_app
from mutiroes.events import discovery
from mutiroes.events.models import Event
from mutiroes.events.schemas import NearbyEventSchema
from mutiroes.events.sqlfunctions import distance_km
from mutiroes.models import db
from mutiroes.timeutil import to_local, utcnow
from tests.events.conftest import event_payload
from tests.services import free_port

RIO = (-22.9068, -43.1729)
NITEROI = (-22.8832, -43.1034)  # ~7.6 km from Rio's centre
CAMPINAS = (-22.9056, -47.0608)  # ~400 km from Rio


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return [item["id"] for item in (body["results"] if isinstance(body, dict) else body)]


def test_list_shows_published_public_events_of_others_and_own_other_statuses(client, make_event, user_with_token):
    organizer, headers = user_with_token()
    published = make_event()
    make_event(status="draft")
    make_event(is_public=False)
    own_draft = make_event(organizer=organizer, status="draft")
    own_private = make_event(organizer=organizer, is_public=False)
    assert ids(client.get("/api/events/")) == [published]
    assert sorted(ids(client.get("/api/events/", headers=headers))) == sorted([published, own_private])
    assert ids(client.get("/api/events/?status=draft", headers=headers)) == [own_draft]
    assert ids(client.get("/api/events/?status=draft")) == []
    assert ids(client.get("/api/events/?is_public=false", headers=headers)) == [own_private]
    assert ids(client.get("/api/events/?is_public=false")) == []


def test_filters_combine(client, make_event, user_with_token):
    organizer, _ = user_with_token()
    start = utcnow() + dt.timedelta(days=10)
    target = make_event(
        organizer=organizer, category_id=1, city="Florianópolis", state="SC", start_date=start, is_public=True
    )
    make_event(category_id=2, city="Florianópolis", state="SC", start_date=start)
    make_event(category_id=1, city="Curitiba", state="PR", start_date=start)
    make_event(category_id=1, city="Florianópolis", state="SC", start_date=start + dt.timedelta(days=30))
    day = to_local(start).date().isoformat()  # dates are read in the server zone, not in UTC
    query = f"category=1&city=florianopolis&state=sc&start_date={day}&end_date={day}&organizer={organizer['id']}"
    assert ids(client.get(f"/api/events/?{query}")) == [target]
    assert ids(client.get("/api/events/?is_public=false")) == []


def test_search_ignores_case_and_accents(client, make_event):
    beach = make_event(title="Limpeza da Praia de Itaipuaçu", city="Maricá")
    river = make_event(title="Monitoramento do rio", description="Coleta de amostras de água")
    make_event(title="Oficina de compostagem", address="Rua das Flores, 10", city="Niterói")
    assert ids(client.get("/api/events/?search=ITAIPUACU")) == [beach]
    assert ids(client.get("/api/events/?search=marica")) == [beach]
    assert ids(client.get("/api/events/?search=ÁGUA")) == [river]
    assert sorted(ids(client.get("/api/events/?search=niteroi"))) == [3]
    assert ids(client.get("/api/events/?search=100%25")) == []  # a literal %, not a wildcard


def test_search_never_matches_across_two_fields_and_follows_edits(client, make_event, user_with_token):
    organizer, headers = user_with_token()
    beach = make_event(organizer=organizer, title="Limpeza da praia", address="Rio Vermelho")
    assert ids(client.get("/api/events/?search=praia")) == [beach]
    assert ids(client.get("/api/events/?search=rio vermelho")) == [beach]
    assert ids(client.get("/api/events/?search=praia rio")) == []  # the end of the title, the start of the address
    changed = client.patch(f"/api/events/{beach}/", json={"title": "Plantio de mudas"}, headers=headers)
    assert changed.status_code == 200
    assert ids(client.get("/api/events/?search=praia")) == []
    assert ids(client.get("/api/events/?search=MUDAS")) == [beach]


def test_the_count_is_exact_up_to_1000_then_an_estimate_and_exact_on_the_last_page(app, client, make_user):
    organizer = make_user()
    start = utcnow() + dt.timedelta(days=5)
    rows = [
        {
            "title": f"Mutirão {n}",
            "description": "",
            "category_id": 1 if n < 300 else 2,
            "organizer_id": organizer["id"],
            "address": "",
            "city": "Santos",
            "state": "SP",
            "latitude": -23.96,
            "longitude": -46.33,
            "start_date": start,
            "end_date": start + dt.timedelta(hours=2),
            "registration_deadline": start,
            "max_participants": 10,
            "status": "published",
            "is_public": True,
            "requires_approval": False,
            "waitlist_enabled": True,
            "require_check_in_code": False,
            "check_in_code": "ABC234",
            "required_tools": "",
            "provided_tools": "",
            "what_to_bring": "",
            "searchable_text": f"mutirao {n}",
            "searchable_city": "santos",
            "created_at": start,
            "updated_at": start,
        }
        for n in range(1050)
    ]
    with app.app_context():
        db.session.execute(sa.insert(Event), rows)
        db.session.commit()
        db.session.remove()
    first = client.get("/api/events/").get_json()
    assert first["count"] > 1000 and first["next"] is not None  # past the limit: the planner's estimate
    assert client.get("/api/events/?category=1").get_json()["count"] == 300  # exact up to the limit
    last = client.get("/api/events/?page=53").get_json()  # rows 1041..1050
    assert (last["count"], last["next"], len(last["results"])) == (1050, None, 10)
    assert client.get("/api/events/?page=54").status_code == 404
    deep = client.get("/api/events/?page=52").get_json()
    assert deep["count"] >= 1041 and deep["next"].endswith("page=53")


def test_ordering_and_pagination(client, make_event):
    now = utcnow()
    first = make_event(start_date=now + dt.timedelta(days=3))
    second = make_event(start_date=now + dt.timedelta(days=1))
    third = make_event(start_date=now + dt.timedelta(days=2))
    assert ids(client.get("/api/events/")) == [third, second, first]  # newest first by default
    assert ids(client.get("/api/events/?ordering=start_date")) == [second, third, first]
    assert ids(client.get("/api/events/?ordering=-start_date")) == [first, third, second]
    page = client.get("/api/events/?ordering=start_date&page_size=2").get_json()
    assert page["count"] == 3
    assert page["next"] == "http://localhost/api/events/?ordering=start_date&page_size=2&page=2"
    assert page["previous"] is None
    page2 = client.get("/api/events/?ordering=start_date&page_size=2&page=2").get_json()
    assert [e["id"] for e in page2["results"]] == [first]
    assert client.get("/api/events/?page=3&page_size=2").status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("ordering=title", "ordering"),
        ("latitude=-22.9", "longitude"),
        ("latitude=95&longitude=0", "latitude"),
        ("latitude=0&longitude=0&radius=0", "radius"),
        ("latitude=0&longitude=0&radius=501", "radius"),
        ("radius=5", "radius"),
        ("category=abc", "category"),
        ("category=999", "category"),
        ("organizer=x", "organizer"),
        ("start_date=ontem", "start_date"),
        ("status=apagado", "status"),
        ("search=%00", "search"),
    ],
)
def test_bad_list_queries_are_400(client, query, field):
    response = client.get(f"/api/events/?{query}")
    assert response.status_code == 400
    assert field in response.get_json()


def test_radius_filter_and_nearby(client, make_event):
    near = make_event(latitude=NITEROI[0], longitude=NITEROI[1])
    here = make_event(latitude=RIO[0], longitude=RIO[1])
    far = make_event(latitude=CAMPINAS[0], longitude=CAMPINAS[1])
    make_event(latitude=RIO[0], longitude=RIO[1], status="draft")
    ended = make_event(
        latitude=RIO[0],
        longitude=RIO[1],
        start_date=utcnow() - dt.timedelta(hours=5),
        end_date=utcnow() - dt.timedelta(hours=1),
    )
    lat, lng = RIO
    # the list keeps published events whatever their dates; nearby shows only those not yet ended
    assert sorted(ids(client.get(f"/api/events/?latitude={lat}&longitude={lng}"))) == sorted([near, here, ended])
    assert sorted(ids(client.get(f"/api/events/?latitude={lat}&longitude={lng}&radius=5"))) == [here, ended]
    body = client.get(f"/api/events/nearby/?latitude={lat}&longitude={lng}&radius=500").get_json()
    assert [e["id"] for e in body] == [here, near, far]  # nearest first; drafts and ended events left out
    assert body[0]["distance_km"] == 0
    assert body[1]["distance_km"] == pytest.approx(distance_km(*RIO, *NITEROI), abs=0.01)
    assert 350 < body[2]["distance_km"] < 420
    assert ids(client.get(f"/api/events/nearby/?latitude={lat}&longitude={lng}&radius=500&limit=1")) == [here]


def test_nearby_is_the_schemas_array_built_from_cached_list_items_and_shows_a_join_at_once(
    app, client, make_event, user_with_token
):
    here = make_event(title="Mutirão do Arpoador", latitude=RIO[0], longitude=RIO[1], city="Rio de Janeiro")
    near = make_event(title="Limpeza de Icaraí", latitude=NITEROI[0], longitude=NITEROI[1], city="Niterói")
    make_event(latitude=CAMPINAS[0], longitude=CAMPINAS[1])
    url = f"/api/events/nearby/?latitude={RIO[0]}&longitude={RIO[1]}&radius=20"
    first = client.get(url)
    assert first.status_code == 200 and first.mimetype == "application/json"
    # the bytes jsonify makes of NearbyEventSchema's dump of the same events at the same distances
    with app.test_request_context(url):
        found = discovery.nearby(latitude=RIO[0], longitude=RIO[1], radius=20, limit=50)
        events = discovery.get_many([event_id for event_id, _distance in found])
        for event_id, distance in found:
            events[event_id].distance_km = distance
        expected = app.json.response(NearbyEventSchema(many=True).dump([events[event_id] for event_id, _ in found]))
    assert [event_id for event_id, _distance in found] == [here, near]
    assert first.get_data() == expected.get_data()
    assert first.headers["Content-Length"] == str(len(expected.get_data()))
    assert all(list(item) == list(NearbyEventSchema._declared_fields) for item in first.get_json())

    # the items are cached now: the next nearby read costs its distance query only
    statements = []

    def count(*_args, **_kwargs):
        statements.append(1)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).get_data() == first.get_data()
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1

    _volunteer, headers = user_with_token()
    assert client.post(f"/api/events/{near}/join/", headers=headers).status_code == 201
    assert [item["participants_count"] for item in client.get(url).get_json()] == [0, 1]


def test_nearby_of_nowhere_is_an_empty_array(client, make_event):
    make_event(latitude=RIO[0], longitude=RIO[1])
    response = client.get("/api/events/nearby/?latitude=0&longitude=0&radius=1")
    assert response.status_code == 200 and response.get_data() == b"[]\n"


@pytest.mark.parametrize(
    "query",
    [
        "",
        "latitude=-22.9",
        "latitude=abc&longitude=1",
        "latitude=0&longitude=0&radius=-1",
        "latitude=0&longitude=0&limit=201",
    ],
)
def test_nearby_refuses_bad_coordinates(client, query):
    response = client.get(f"/api/events/nearby/?{query}")
    assert response.status_code == 400
    assert response.is_json


def test_nearby_query_uses_the_spatial_index(app):
    with app.app_context():
        statement = discovery.nearby_statement(latitude=RIO[0], longitude=RIO[1], radius=10, limit=50)
        compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
        with db.engine.connect() as connection:
            connection.exec_driver_sql("SET enable_seqscan = off")
            plan = "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {compiled}"))
    assert "ix_events_earth" in plan


def test_anonymous_list_is_cached_yet_every_write_is_seen(client, make_event, user_with_token):
    organizer, headers = user_with_token()
    first = client.get("/api/events/")
    assert first.headers["X-Cache"] == "miss"
    assert client.get("/api/events/").headers["X-Cache"] == "hit"
    created = client.post("/api/events/", json=event_payload(title="Novo mutirão"), headers=headers).get_json()
    response = client.get("/api/events/")
    assert response.headers["X-Cache"] == "miss"
    assert ids(response) == [created["id"]]
    _volunteer, volunteer_headers = user_with_token()
    client.post(f"/api/events/{created['id']}/join/", headers=volunteer_headers)
    assert client.get("/api/events/").get_json()["results"][0]["participants_count"] == 1
    client.post(f"/api/events/{created['id']}/leave/", headers=volunteer_headers)
    assert client.get("/api/events/").get_json()["results"][0]["participants_count"] == 0
    client.patch(f"/api/events/{created['id']}/", json={"title": "Renomeado"}, headers=headers)
    assert client.get("/api/events/").get_json()["results"][0]["title"] == "Renomeado"
    client.delete(f"/api/events/{created['id']}/", headers=headers)
    assert client.get("/api/events/").get_json()["count"] == 0
    # authenticated answers are never cached
    assert "X-Cache" not in client.get("/api/events/", headers=headers).headers


def test_anonymous_detail_is_cached_and_content_and_job_writes_are_seen(app, client, make_event, user_with_token):
    organizer, headers = user_with_token()
    event_id = make_event(organizer=organizer)
    assert client.get(f"/api/events/{event_id}/").headers["X-Cache"] == "miss"
    cached = client.get(f"/api/events/{event_id}/")
    assert cached.headers["X-Cache"] == "hit"
    assert cached.get_json()["comments"] == []
    # a write of another domain (a comment) is seen by the next anonymous read
    posted = client.post(f"/api/events/{event_id}/comments/", json={"content": "Vou levar luvas!"}, headers=headers)
    assert posted.status_code == 201
    fresh = client.get(f"/api/events/{event_id}/")
    assert fresh.headers["X-Cache"] == "miss"
    assert [c["content"] for c in fresh.get_json()["comments"]] == ["Vou levar luvas!"]
    # so is a write made by a job, outside any request
    with app.app_context():
        db.session.execute(sa.update(Event).where(Event.id == event_id).values(title="Título mudado por um job"))
        db.session.commit()
    assert client.get(f"/api/events/{event_id}/").get_json()["title"] == "Título mudado por um job"
    # the organizer's own view is never served from the anonymous cache
    organizer_view = client.get(f"/api/events/{event_id}/", headers=headers)
    assert "X-Cache" not in organizer_view.headers
    assert "check_in_code" in organizer_view.get_json()


def test_cache_in_process_without_redis_and_uncached_when_redis_is_down(make_config, make_event, user_with_token):
    for redis_url, expected in ((None, "hit"), (f"redis://127.0.0.1:{free_port()}/0", "miss")):
        config = make_config(environ={"MUTIROES_REDIS_URL": redis_url or ""})
        app = create_app(config)
        client = app.test_client()
        _organizer, headers = user_with_token()
        assert client.get("/api/events/").status_code == 200
        second = client.get("/api/events/")
        assert second.status_code == 200
        assert second.headers["X-Cache"] == expected
        created = client.post("/api/events/", json=event_payload(), headers=headers)
        assert created.status_code == 201
        assert created.get_json()["id"] in ids(client.get("/api/events/"))


def test_list_costs_the_same_statements_whatever_the_page_size(app, client, make_event, make_user):
    organizers = [make_user() for _ in range(4)]
    for i in range(120):
        make_event(organizer=organizers[i % 4], category_id=1 + i % 4)
    statements = []

    def count(*_args, **_kwargs):
        statements.append(1)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        costs = {}
        for page_size in (5, 100):
            statements.clear()
            response = client.get(f"/api/events/?page_size={page_size}&ordering=start_date")
            assert len(response.get_json()["results"]) == page_size
            costs[page_size] = len(statements)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    # the page's ids, the bounded count, and one load of the events whose list item is not cached yet
    assert costs[5] == costs[100] == 3

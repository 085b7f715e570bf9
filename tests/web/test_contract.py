"""The general rules of the contract (api.md, "Conventions"), checked on every route they concern.

- a path id that is not a positive integer → 404, as DRF's router;
- numbers accept numeric strings, and refuse anything else with 400 on the field;
- the read-only fields of a resource's own representation are ignored when sent back; unknown fields are 400;
- order of checks: 401, then 403/404, then 400;
- a `page` that is not a positive integer → 404 "Página inválida.";
- a draft or private event is the same 404 on every route under it, with or without a participation in it.

The routes come from the app itself (its URL map and its OpenAPI document), so a new route is checked too.
"""

from __future__ import annotations

import datetime as dt
import re

import marshmallow as ma
import pytest
import sqlalchemy as sa

from mutiroes import schemas as shared
from mutiroes.events.models import Event
from mutiroes.models import db
from mutiroes.timeutil import utcnow
from tests import images
from tests.content.conftest import upload
from tests.events import conftest as events_fixtures
from tests.events.conftest import event_payload

make_event = events_fixtures.make_event
user_with_token = events_fixtures.user_with_token

BAD_IDS = ("abc", "0", "-1", "1.5", "1e3", "%D9%A3", "99999999999", "%201")
BAD_PAGES = ("abc", "0", "-1", "1.5", "%D9%A3", "1e3", "99999999999")
NOT_FOUND = {"detail": "Não encontrado."}
EVENT_NOT_FOUND = {"detail": "Evento não encontrado."}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def world(app, client, make_event, user_with_token):
    """An organizer's public event with one of everything under it, a confirmed participant, a stranger, and a past
    event of the same organizer (for reports)."""

    class World:
        pass

    w = World()
    w.organizer, w.organizer_headers = user_with_token()
    w.participant, w.participant_headers = user_with_token()
    w.stranger, w.stranger_headers = user_with_token()
    w.event_id = make_event(organizer=w.organizer)
    w.past_event_id = make_event(organizer=w.organizer, start_date=utcnow() - dt.timedelta(hours=4))
    base = f"/api/events/{w.event_id}"
    w.pid = client.post(f"{base}/join/", headers=w.participant_headers).get_json()["id"]
    w.comment_id = client.post(f"{base}/comments/", json={"content": "Oi"}, headers=w.participant_headers).get_json()[
        "id"
    ]
    w.resource_id = client.post(
        f"{base}/resources/", json={"name": "Pás", "quantity_needed": 5}, headers=w.organizer_headers
    ).get_json()["id"]
    w.pledge_id = client.post(
        f"{base}/resources/{w.resource_id}/pledge/", json={"quantity": 1}, headers=w.participant_headers
    ).get_json()["id"]
    photo = upload(client, f"{base}/photos/", w.participant_headers, images.png_bytes())
    assert photo.status_code == 201, photo.get_json()
    w.photo_id = photo.get_json()["id"]
    w.ids = {
        "event_id": w.event_id,
        "pid": w.pid,
        "comment_id": w.comment_id,
        "resource_id": w.resource_id,
        "pledge_id": w.pledge_id,
        "photo_id": w.photo_id,
    }
    return w


def id_rules(app):
    """(rule, methods) of every route with an <id:...> segment."""
    for rule in app.url_map.iter_rules():
        if "<id:" in rule.rule:
            yield rule, sorted(set(rule.methods or ()) & set(METHODS))


def path_of(rule: str, ids: dict[str, object]) -> str:
    return re.sub(r"<id:(\w+)>", lambda m: str(ids.get(m.group(1), 1)), rule)


# --- path ids --------------------------------------------------------------------------------------------------


def test_a_path_id_that_is_not_a_positive_integer_is_404_on_every_route(app, client, auth_headers):
    checked = 0
    for rule, methods in id_rules(app):
        names = re.findall(r"<id:(\w+)>", rule.rule)
        for name in names:
            for bad in BAD_IDS:
                url = path_of(rule.rule, {name: bad})
                for method in methods:
                    for headers in ({}, auth_headers):
                        response = client.open(url, method=method, headers=headers, json={})
                        assert response.status_code == 404, (method, url, response.get_json())
                        assert response.get_json() == NOT_FOUND, (method, url)
                        checked += 1
    assert checked > 500


# --- order of checks -------------------------------------------------------------------------------------------


def required_auth_operations(client):
    spec = client.get("/api/openapi.json").get_json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and operation.get("security") == [{"bearerAuth": []}]:
                yield method.upper(), re.sub(r"\{\w+\}", "1", path)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"", "application/json"), (b"{", "application/json"), (b'{"zzz": [1]}', "application/json"), (b"x", None)],
)
def test_every_route_that_needs_a_login_answers_401_before_looking_at_the_body(client, body, content_type):
    operations = list(required_auth_operations(client))
    assert len(operations) > 25
    for method, path in operations:
        for url in (path, f"{path}?page=abc&page_size=x"):
            response = client.open(url, method=method, data=body, content_type=content_type)
            assert response.status_code == 401, (method, url, response.get_json())
            assert response.get_json()["detail"]


def test_someone_elses_object_with_an_invalid_body_is_403_or_404(app, client, world, make_event):
    draft = make_event(organizer=world.organizer, status="draft")
    e, past = f"/api/events/{world.event_id}", f"/api/events/{world.past_event_id}"
    bad = {"zzz": "?", "max_participants": "muitos", "content": "", "quantity": "x", "status": 5}
    cases = [
        ("PUT", f"{e}/", 403),
        ("PATCH", f"{e}/", 403),
        ("PATCH", f"{e}/participants/{world.pid}/", 403),
        ("GET", f"{e}/participants/?page=abc&status=zzz", 403),
        ("PATCH", f"{e}/comments/{world.comment_id}/", 403),
        ("POST", f"{e}/resources/", 403),
        ("PUT", f"{e}/resources/{world.resource_id}/", 403),
        ("PATCH", f"{e}/resources/{world.resource_id}/", 403),
        ("POST", f"{e}/resources/{world.resource_id}/pledge/", 403),
        ("POST", f"{e}/photos/", 403),
        ("PUT", f"{e}/cover/", 403),
        ("POST", f"{past}/report/", 403),
        ("PUT", f"{past}/report/", 403),
        ("PATCH", f"{past}/report/", 403),
        ("POST", f"/api/events/{draft}/join/", 404),
        ("POST", f"/api/events/{draft}/check_in/", 404),
        ("POST", f"/api/events/{draft}/comments/", 404),
        ("GET", f"/api/events/{draft}/comments/?page=abc", 404),
        ("GET", f"/api/events/{draft}/photos/?is_before=talvez", 404),
        ("PUT", "/api/events/4040/", 404),
    ]
    for method, url, status in cases:
        response = client.open(url, method=method, json=bad, headers=world.stranger_headers)
        assert response.status_code == status, (method, url, response.get_json())
        assert set(response.get_json()) == {"detail"}, (method, url)
    # the same requests from the one allowed to make them are judged on their body
    response = client.open(f"{e}/", method="PATCH", json=bad, headers=world.organizer_headers)
    assert response.status_code == 400 and "zzz" in response.get_json()


# --- numbers ---------------------------------------------------------------------------------------------------


def input_schemas():
    """Every schema the API reads input with (every BaseSchema subclass), by name."""
    pending, seen = [shared.BaseSchema], {}
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            seen[f"{sub.__module__}.{sub.__qualname__}"] = sub
            pending.append(sub)
    return seen


def loadable_fields(field: ma.fields.Field):
    yield field
    if isinstance(field, ma.fields.List):
        yield from loadable_fields(field.inner)
    if isinstance(field, ma.fields.Nested) and isinstance(field.schema, shared.BaseSchema):
        for inner in field.schema.load_fields.values():
            yield from loadable_fields(inner)


def test_every_numeric_input_takes_numeric_strings_and_every_list_input_is_bounded():
    found = input_schemas()
    assert len(found) > 20
    numbers = 0
    for name, schema in found.items():
        for field_name, field in schema().load_fields.items():
            for inner in loadable_fields(field):
                where = f"{name}.{field_name}"
                if isinstance(inner, ma.fields.Number):
                    assert isinstance(inner, shared.Integer | shared.Float), where
                    numbers += 1
                if isinstance(inner, ma.fields.List):
                    assert isinstance(inner, shared.List), where
    assert numbers > 25


@pytest.mark.parametrize(
    ("field", "given", "read"),
    [
        (shared.Integer(), "7", 7),
        (shared.Integer(), " 7 ", 7),
        (shared.Integer(), "7.0", 7),
        (shared.Integer(), 7.0, 7),
        (shared.Integer(), "-3", -3),
        (shared.Float(), "35.5", 35.5),
        (shared.Float(), "-23.5505", -23.5505),
        (shared.Float(), "1e3", 1000.0),
        (shared.Float(), 12, 12.0),
    ],
)
def test_numeric_strings_are_read_as_numbers(field, given, read):
    assert field.deserialize(given) == read


@pytest.mark.parametrize(
    "given", ["sete", "7,5", "7.5", 7.5, "", "1_000", "٧", "0x10", True, [7], {"n": 7}, "nan", "inf", "9" * 101]
)
def test_anything_else_is_refused_by_the_integer_fields(given):
    with pytest.raises(ma.ValidationError):
        shared.Integer().deserialize(given)


@pytest.mark.parametrize("given", ["muito", "35,5", "nan", "-inf", "Infinity", "1e999", 1e309, "٣٥", True, "1_0", ""])
def test_anything_else_is_refused_by_the_decimal_fields(given):
    with pytest.raises(ma.ValidationError):
        shared.Float().deserialize(given)


def test_form_values_sent_as_strings_work_on_every_kind_of_input(client, world):
    body = event_payload(max_participants="15", latitude="-22.9711", longitude="-43.1822", category="1")
    created = client.post(
        "/api/events/", json={**body, "min_age": "16", "max_age": "70"}, headers=world.stranger_headers
    )
    assert created.status_code == 201, created.get_json()
    event = created.get_json()
    assert (event["max_participants"], event["latitude"], event["min_age"]) == (15, -22.9711, 16)
    e = f"/api/events/{world.event_id}"
    resource = client.post(
        f"{e}/resources/", json={"name": "Luvas", "quantity_needed": "3"}, headers=world.organizer_headers
    )
    assert resource.status_code == 201 and resource.get_json()["quantity_needed"] == 3
    pledge = client.post(
        f"{e}/resources/{resource.get_json()['id']}/pledge/", json={"quantity": "2"}, headers=world.participant_headers
    )
    assert pledge.status_code == 201 and pledge.get_json()["quantity"] == 2
    profile = client.patch("/api/users/profile/", json={"interests": ["1", 2]}, headers=world.stranger_headers)
    assert profile.status_code == 200 and profile.get_json()["interests"] == [1, 2]
    reply = client.post(
        f"{e}/comments/", json={"content": "Sim", "parent": str(world.comment_id)}, headers=world.stranger_headers
    )
    assert reply.status_code == 201 and reply.get_json()["parent"] == world.comment_id
    # and a string that is not a number is a 400 on that field
    refused = client.post("/api/events/", json={**body, "max_participants": "quinze"}, headers=world.stranger_headers)
    assert refused.status_code == 400 and list(refused.get_json()) == ["max_participants"]
    nearby = client.get("/api/events/nearby/?latitude=-23.55&longitude=-46.63&radius=10.5&limit=5")
    assert nearby.status_code == 200


# --- read-only fields sent back --------------------------------------------------------------------------------


def _resolve(spec, schema):
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_put_and_patch_takes_its_own_representation_back(client):
    spec = client.get("/api/openapi.json").get_json()
    checked = 0
    for path, operations in spec["paths"].items():
        for method in ("put", "patch"):
            operation = operations.get(method)
            if not operation or "application/json" not in operation.get("requestBody", {}).get("content", {}):
                continue
            taken = _resolve(spec, operation["requestBody"]["content"]["application/json"]["schema"])
            answered = _resolve(spec, operation["responses"]["200"]["content"]["application/json"]["schema"])
            missing = set(answered["properties"]) - set(taken["properties"])
            assert not missing, (method, path, missing)
            read_only = {name for name, prop in taken["properties"].items() if prop.get("readOnly")}
            assert read_only, (method, path)
            checked += 1
    assert checked >= 9  # event PUT/PATCH, participation, comment, resource PUT/PATCH, report PUT/PATCH, profile x2


def _representation(client, url, headers, pick=None):
    body = client.get(url, headers=headers).get_json()
    return pick(body) if pick else body


@pytest.mark.parametrize(
    ("who", "method", "read", "write", "pick", "change"),
    [
        ("organizer", "PUT", "{e}/", "{e}/", None, {"title": "Novo título"}),
        ("organizer", "PATCH", "{e}/", "{e}/", None, {"title": "Novo título"}),
        ("participant", "PATCH", "{e}/participants/{pid}/", None, None, {"emergency_contact": "Mãe"}),
        ("organizer", "PATCH", "{e}/participants/{pid}/", None, None, {"status": "rejected"}),
        ("participant", "PATCH", "{e}/comments/", "{e}/comments/{comment_id}/", "first", {"content": "Editado"}),
        ("organizer", "PUT", "{e}/resources/", "{e}/resources/{resource_id}/", "list", {"name": "Enxadas"}),
        ("organizer", "PATCH", "{e}/resources/", "{e}/resources/{resource_id}/", "list", {"name": "Enxadas"}),
        ("organizer", "PATCH", "/api/users/profile/", None, None, {"bio": "Oi"}),
        ("organizer", "PATCH", "/api/users/profile/", "/api/users/profile/update/", None, {"bio": "Oi"}),
    ],
)
def test_a_representation_sent_back_with_a_change_is_saved_and_its_read_only_fields_set_nothing(
    client, world, who, method, read, write, pick, change
):
    headers = getattr(world, f"{who}_headers")
    e = f"/api/events/{world.event_id}"
    read_url = read.format(e=e, **world.ids)
    write_url = (write or read).format(e=e, **world.ids)
    picks = {"first": lambda body: body["results"][0], "list": lambda body: body[0]}
    got = _representation(client, read_url, headers, picks.get(pick))
    tampered = dict(got)
    for name in ("id", "created_at", "updated_at", "user_id", "user_name", "registered_at", "quantity_provided"):
        if name in tampered:
            tampered[name] = 999 if isinstance(tampered[name], int) else "2000-01-01T00:00:00-03:00"
    response = client.open(write_url, method=method, json={**tampered, **change}, headers=headers)
    assert response.status_code == 200, response.get_json()
    saved = response.get_json()
    for name, value in change.items():
        assert saved[name] == value
    for name in ("id", "created_at", "user_id", "registered_at", "quantity_provided"):
        if name in got:
            assert saved[name] == got[name], name
    unknown = client.open(write_url, method=method, json={**got, "is_staff": True}, headers=headers)
    assert unknown.status_code == 400 and list(unknown.get_json()) == ["is_staff"]


def test_an_event_sent_back_keeps_its_category_and_server_owned_numbers(app, client, world):
    url = f"/api/events/{world.event_id}/"
    got = client.get(url, headers=world.organizer_headers).get_json()
    sent = {**got, "participants_count": 99, "available_spots": 0, "organizer": world.stranger["username"]}
    response = client.put(url, json=sent, headers=world.organizer_headers)
    assert response.status_code == 200, response.get_json()
    saved = response.get_json()
    assert saved["category"] == got["category"]
    assert (saved["participants_count"], saved["organizer"]) == (1, world.organizer["username"])
    with app.app_context():
        assert db.session.scalar(sa.select(Event.confirmed_count).where(Event.id == world.event_id)) == 1
        db.session.remove()
    other = client.patch(url, json={"category": {"id": 3, "name": "ignorado"}}, headers=world.organizer_headers)
    assert other.status_code == 200 and other.get_json()["category"]["id"] == 3


# --- pages -----------------------------------------------------------------------------------------------------


def paginated_operations(client, ids):
    spec = client.get("/api/openapi.json").get_json()
    for path, operations in spec["paths"].items():
        get = operations.get("get")
        if get and any(p["name"] == "page" and p["in"] == "query" for p in get.get("parameters", [])):
            yield re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), 1)), path)


def test_a_page_that_is_not_a_positive_integer_is_404_on_every_list(client, world):
    paths = list(paginated_operations(client, world.ids))
    assert len(paths) >= 6
    for path in paths:
        assert client.get(f"{path}?page=", headers=world.organizer_headers).status_code == 200, path
        for page in BAD_PAGES:
            response = client.get(f"{path}?page={page}", headers=world.organizer_headers)
            assert response.status_code == 404, (path, page)
            assert response.get_json() == {"detail": "Página inválida."}, (path, page)
        assert client.get(f"{path}?page=2", headers=world.organizer_headers).get_json() == {
            "detail": "Página inválida."
        }


# --- invisible events ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hidden_as", ["draft", "private"])
def test_a_draft_or_private_event_is_the_same_404_on_every_route_under_it(app, client, world, hidden_as):
    with app.app_context():
        event = db.session.get(Event, world.event_id)
        if hidden_as == "draft":
            event.status = "draft"
        else:
            event.is_public = False
        db.session.commit()
        db.session.remove()
    checked = 0
    for rule, methods in id_rules(app):
        if not rule.rule.startswith("/api/events/<id:event_id>"):
            continue
        url = path_of(rule.rule, world.ids)
        for method in methods:
            for headers in (world.participant_headers, world.stranger_headers):
                response = client.open(url, method=method, headers=headers, json={})
                assert response.status_code == 404, (method, url, response.get_json())
                assert response.get_json() == EVENT_NOT_FOUND, (method, url)
                checked += 1
    assert checked > 50
    assert client.get(f"/api/events/{world.event_id}/", headers=world.organizer_headers).status_code == 200

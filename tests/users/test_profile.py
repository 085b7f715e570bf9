from mutiroes.models import db
from mutiroes.users.models import User
from tests.conftest import bearer

PROFILE_FIELDS = {
    "id",
    "user",
    "phone",
    "birth_date",
    "bio",
    "avatar_url",
    "age",
    "city",
    "state",
    "zip_code",
    "interests",
    "notification_preferences",
    "is_public_profile",
    "show_participation_history",
    "total_events_participated",
    "total_hours_volunteered",
    "created_at",
    "updated_at",
}


def test_profile_has_every_contract_field(client, auth_headers):
    response = client.get("/api/users/profile/", headers=auth_headers)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == PROFILE_FIELDS
    assert body["total_hours_volunteered"] == 0
    assert body["notification_preferences"]["event_reminders"] is True


def test_patch_profile_on_both_paths(client, auth_headers):
    first = client.patch(
        "/api/users/profile/",
        json={"bio": "Amo praias limpas", "city": "Santos", "state": "sp", "birth_date": "1990-05-17"},
        headers=auth_headers,
    )
    assert first.status_code == 200
    body = first.get_json()
    assert body["state"] == "SP"
    assert body["age"] >= 36
    second = client.patch(
        "/api/users/profile/update/",
        json={"notification_preferences": {"newsletter": True}, "interests": [1, 2]},
        headers=auth_headers,
    )
    assert second.status_code == 200
    body = second.get_json()
    assert body["bio"] == "Amo praias limpas"
    assert body["interests"] == [1, 2]
    assert body["notification_preferences"]["newsletter"] is True
    assert body["notification_preferences"]["event_reminders"] is True


def test_profile_refuses_unknown_fields_and_bad_values_and_writes_nothing(client, app, auth_headers):
    for body in (
        {"is_staff": True},
        {"email": "outro@example.org"},
        {"username": "outro"},
        {"state": "XX"},
        {"zip_code": "abc"},
        {"birth_date": "2999-01-01"},
        {"interests": [999]},
        {"notification_preferences": {"spam": True}},
        {"bio": "x" * 2001, "city": "Recife"},
    ):
        response = client.patch("/api/users/profile/", json=body, headers=auth_headers)
        assert response.status_code == 400, body
        assert isinstance(response.get_json(), dict)
    with app.app_context():
        user = db.session.scalars(db.select(User)).one()
        assert user.total_hours_volunteered == 0
        assert user.is_staff is False
        assert user.city == ""
        assert user.interests == []


def test_profile_sent_back_ignores_counters_and_ids_and_sets_nothing_server_owned(client, app, auth_headers):
    profile = client.get("/api/users/profile/", headers=auth_headers).get_json()
    sent_back = {**profile, "city": "Recife", "total_hours_volunteered": 500, "total_events_participated": 9}
    sent_back.update(id=999, age=3, user={**profile["user"], "email": "outro@example.org"})
    response = client.patch("/api/users/profile/", json=sent_back, headers=auth_headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["city"] == "Recife"
    assert body["id"] == profile["id"] and body["user"] == profile["user"]
    assert body["total_hours_volunteered"] == 0 and body["total_events_participated"] == 0
    with app.app_context():
        user = db.session.scalars(db.select(User)).one()
        assert (user.total_hours_volunteered, user.total_events_participated) == (0, 0)
        assert user.email == profile["user"]["email"]


def test_public_profile_hides_private_data_and_private_profiles(client, make_user, login):
    user = make_user(phone="11 99999-0000", city="Belém", state="PA")
    response = client.get(f"/api/users/profile/{user['username']}/")
    assert response.status_code == 200
    body = response.get_json()
    assert body["city"] == "Belém"
    for secret in ("email", "phone", "birth_date"):
        assert secret not in body
    tokens = login(user)
    client.patch("/api/users/profile/", json={"is_public_profile": False}, headers=bearer(tokens))
    hidden = client.get(f"/api/users/profile/{user['username']}")
    assert hidden.status_code == 404
    assert set(hidden.get_json()) == {"detail"}


def test_change_password_revokes_every_earlier_token(client, make_user, login):
    user = make_user()
    first, second = login(user), login(user)
    wrong = client.post(
        "/api/users/change-password/",
        json={"old_password": "nao-e-essa-1", "new_password": "nova-senha-forte-9"},
        headers=bearer(first),
    )
    assert wrong.status_code == 400
    assert "old_password" in wrong.get_json()
    assert client.get("/api/users/profile/", headers=bearer(first)).status_code == 200
    ok = client.post(
        "/api/users/change-password/",
        json={"old_password": user["password"], "new_password": "nova-senha-forte-9"},
        headers=bearer(first),
    )
    assert ok.status_code == 200
    assert ok.get_json()["detail"]
    for tokens in (first, second):
        assert client.get("/api/users/profile/", headers=bearer(tokens)).status_code == 401
        assert client.post("/api/token/refresh/", json={"refresh": tokens["refresh"]}).status_code == 401
    old = client.post("/api/token/", json={"email": user["email"], "password": user["password"]})
    assert old.status_code == 401
    new = client.post("/api/token/", json={"email": user["email"], "password": "nova-senha-forte-9"})
    assert new.status_code == 200


def test_stats_are_zero_for_a_new_user(client, auth_headers):
    response = client.get("/api/users/stats/", headers=auth_headers)
    assert response.status_code == 200
    assert response.get_json() == {
        "total_events_participated": 0,
        "total_hours_volunteered": 0,
        "badges_earned": 0,
        "events_organized": 0,
        "current_month_events": 0,
        "favorite_categories": [],
    }


def test_public_profile_with_impossible_names_is_404(client):
    for name in ("a%00b", "x" * 151):
        response = client.get(f"/api/users/profile/{name}/")
        assert response.status_code == 404
        assert response.get_json() == {"detail": "Perfil não encontrado."}

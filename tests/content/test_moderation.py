"""Moderation: reports on comments and photos, the three-report rule, the moderators' queue and their decisions.
Hidden items disappear from lists, details and counts for everyone but their author and the moderators."""

from __future__ import annotations

import sqlalchemy as sa

from mutiroes.content.models import ContentReport, EventComment, EventPhoto
from mutiroes.models import db
from tests import images
from tests.content.conftest import upload


def comment(client, event_id, headers, content="Compre seguidores baratos!", parent=None):
    body = {"content": content, **({"parent": parent} if parent else {})}
    response = client.post(f"/api/events/{event_id}/comments/", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def report(client, event_id, kind, item_id, headers, reason="spam", **extra):
    return client.post(
        f"/api/events/{event_id}/{kind}/{item_id}/report/", json={"reason": reason, **extra}, headers=headers
    )


def reporters(user_with_token, count):
    return [user_with_token()[1] for _ in range(count)]


def listed_comments(client, event_id, headers=None):
    page = client.get(f"/api/events/{event_id}/comments/", headers=headers or {}).get_json()
    return {c["id"]: [r["id"] for r in c["replies"]] for c in page["results"]}


def visibility(app, model, item_id):
    with app.app_context():
        value = db.session.scalar(sa.select(model.visibility).where(model.id == item_id))
        db.session.remove()
    return value


def report_statuses(app):
    with app.app_context():
        rows = db.session.execute(sa.select(ContentReport.id, ContentReport.status).order_by(ContentReport.id)).all()
        db.session.remove()
    return dict(rows)


def test_three_reports_hide_a_comment_from_everyone_but_its_author_and_moderators(client, app, team, user_with_token):
    event = team.event_id
    spam = comment(client, event, team.participant_headers)
    kept = comment(client, event, team.stranger_headers, content="Vou levar luvas.")
    reply = comment(client, event, team.stranger_headers, content="Resposta ao spam", parent=spam)
    assert client.get(f"/api/events/{event}/").get_json()["comments"][1]["id"] == spam  # cached anonymously now

    first, second, third = reporters(user_with_token, 3)
    for headers in (first, second):
        assert report(client, event, "comments", spam, headers).status_code == 201
    assert visibility(app, EventComment, spam) == "visible"  # two reports are not enough
    filed = report(client, event, "comments", spam, third, reason="offensive", details="  Ofensivo.  ")
    assert filed.status_code == 201
    assert filed.get_json()["reason"] == "offensive" and filed.get_json()["details"] == "Ofensivo."
    assert filed.get_json()["status"] == "open" and filed.get_json()["reviewed_at"] is None
    assert visibility(app, EventComment, spam) == "hidden_by_reports"

    # gone for anonymous readers (the cached detail included), strangers and other participants, with its thread
    for headers in ({}, team.stranger_headers, first):
        assert listed_comments(client, event, headers) == {kept: []}
        detail = client.get(f"/api/events/{event}/", headers=headers).get_json()
        assert [c["id"] for c in detail["comments"]] == [kept]
    assert client.get(f"/api/events/{event}/stats/").get_json()["comments_count"] == 2  # the reply and the other
    assert (
        client.patch(
            f"/api/events/{event}/comments/{spam}/", json={"content": "x"}, headers=team.stranger_headers
        ).status_code
        == 404
    )
    assert report(client, event, "comments", spam, reporters(user_with_token, 1)[0]).status_code == 404
    # still there for its author and for the moderators, marked hidden
    for headers in (team.participant_headers, team.organizer_headers, team.co_headers, team.staff_headers):
        listed = client.get(f"/api/events/{event}/comments/", headers=headers).get_json()["results"]
        hidden = next(c for c in listed if c["id"] == spam)
        assert hidden["is_hidden"] is True and [r["id"] for r in hidden["replies"]] == [reply]
    assert (
        client.patch(
            f"/api/events/{event}/comments/{spam}/", json={"content": "Desculpem."}, headers=team.participant_headers
        ).status_code
        == 200
    )


def test_three_reports_hide_a_photo(client, app, team, user_with_token, clean_media):
    event = team.event_id
    uploaded = upload(client, f"/api/events/{event}/photos/", team.participant_headers, images.png_bytes())
    photo = uploaded.get_json()["id"]
    for headers in reporters(user_with_token, 3):
        assert report(client, event, "photos", photo, headers, reason="personal_data").status_code == 201
    assert visibility(app, EventPhoto, photo) == "hidden_by_reports"
    assert client.get(f"/api/events/{event}/photos/").get_json()["count"] == 0
    assert client.get(f"/api/events/{event}/").get_json()["photos"] == []
    assert client.get(f"/api/events/{event}/stats/").get_json()["photos_count"] == 0
    assert client.delete(f"/api/events/{event}/photos/{photo}/", headers=team.stranger_headers).status_code == 404
    mine = client.get(f"/api/events/{event}/photos/", headers=team.participant_headers).get_json()["results"]
    assert [(p["id"], p["is_hidden"]) for p in mine] == [(photo, True)]


def test_a_report_is_once_per_person_and_item_and_never_of_ones_own(client, app, team, make_event):
    event = team.event_id
    item = comment(client, event, team.participant_headers)
    assert report(client, event, "comments", item, team.stranger_headers).status_code == 201
    again = report(client, event, "comments", item, team.stranger_headers, reason="other")
    assert again.status_code == 409 and again.get_json() == {"detail": "Você já denunciou este comentário."}
    assert report(client, event, "comments", item, team.participant_headers).status_code == 409  # the author
    assert report(client, event, "comments", item, {}).status_code == 401
    for bad in (
        {"reason": "feio"},
        {"reason": "spam", "details": "x" * 1001},
        {},
        {"reason": "spam", "status": "hidden"},
    ):
        response = client.post(f"/api/events/{event}/comments/{item}/report/", json=bad, headers=team.co_headers)
        assert response.status_code == 400, bad
    other_event = make_event(organizer=team.organizer)
    assert report(client, other_event, "comments", item, team.co_headers).status_code == 404  # not of that event
    assert report(client, event, "photos", 999999, team.co_headers).status_code == 404
    private = make_event(organizer=team.organizer, is_public=False)
    assert report(client, private, "comments", item, team.stranger_headers).status_code == 404
    assert len(report_statuses(app)) == 1


def test_the_queue_shows_each_moderator_the_items_they_moderate(client, team, make_event, user_with_token):
    organizer_b, organizer_b_headers = user_with_token()
    other_event = make_event(organizer=organizer_b, title="Outro evento")
    here = comment(client, team.event_id, team.participant_headers)
    there = comment(client, other_event, team.participant_headers, content="Spam lá")
    comment(client, team.event_id, team.participant_headers, content="Nada a ver")  # never reported: not queued
    for event_id, item in ((team.event_id, here), (other_event, there)):
        assert (
            report(client, event_id, "comments", item, team.stranger_headers, details="Propaganda").status_code == 201
        )

    def queue(headers, query=""):
        response = client.get(f"/api/moderation/{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    everything = queue(team.staff_headers)
    assert everything["count"] == 2
    assert [(i["item_type"], i["item_id"]) for i in everything["results"]] == [("comment", there), ("comment", here)]
    entry = everything["results"][1]
    assert entry["event_id"] == team.event_id and entry["event_title"] == "Limpeza do Rio Capibaribe"
    assert entry["author_id"] == team.participant["id"] and entry["author_name"] == "Paulo Participante"
    assert entry["content"] == "Compre seguidores baratos!" and entry["photo"] is None
    assert entry["visibility"] == "visible" and entry["open_reports_count"] == 1
    assert [(r["reason"], r["details"], r["status"]) for r in entry["reports"]] == [("spam", "Propaganda", "open")]
    assert "reporter_id" not in entry["reports"][0]  # who reported is not shown

    for headers in (team.organizer_headers, team.co_headers):
        assert [i["item_id"] for i in queue(headers)["results"]] == [here]
    assert [i["item_id"] for i in queue(organizer_b_headers)["results"]] == [there]
    assert queue(team.stranger_headers)["count"] == 0 and queue(team.participant_headers)["count"] == 0
    assert client.get("/api/moderation/").status_code == 401
    assert client.get("/api/moderation/?status=nada", headers=team.staff_headers).status_code == 400

    # a reviewed item leaves the default queue, and stays under ?status=all
    report_id = entry["reports"][0]["id"]
    assert (
        client.patch(f"/api/moderation/{report_id}/", json={"action": "restore"}, headers=team.co_headers).status_code
        == 200
    )
    assert [i["item_id"] for i in queue(team.organizer_headers)["results"]] == []
    assert [i["item_id"] for i in queue(team.organizer_headers, "?status=all")["results"]] == [here]


def test_authorization_matrix_and_effect_of_the_moderators_actions(client, app, team, user_with_token):
    event = team.event_id
    item = comment(client, event, team.participant_headers)
    reports = []
    for headers in reporters(user_with_token, 3):
        reports.append(report(client, event, "comments", item, headers).get_json()["id"])
    assert visibility(app, EventComment, item) == "hidden_by_reports"
    url = f"/api/moderation/{reports[0]}/"
    for who, status in {"anonymous": 401, "stranger": 403, "participant": 403}.items():
        assert client.patch(url, json={"action": "restore"}, headers=team.callers[who]).status_code == status, who
    assert client.patch(url, json={"action": "apagar"}, headers=team.organizer_headers).status_code == 400
    assert (
        client.patch("/api/moderation/999999/", json={"action": "hide"}, headers=team.staff_headers).status_code == 404
    )

    # dismissing one of three reports: fewer than three open, so the item shows again
    dismissed = client.patch(url, json={"action": "dismiss"}, headers=team.co_headers)
    assert dismissed.status_code == 200
    assert dismissed.get_json()["visibility"] == "visible" and dismissed.get_json()["open_reports_count"] == 2
    assert client.patch(url, json={"action": "dismiss"}, headers=team.co_headers).status_code == 409
    assert report_statuses(app) == {reports[0]: "dismissed", reports[1]: "open", reports[2]: "open"}

    # hide closes the open reports; the item is hidden from others until a moderator restores it
    hidden = client.patch(f"/api/moderation/{reports[1]}/", json={"action": "hide"}, headers=team.organizer_headers)
    assert hidden.status_code == 200 and hidden.get_json()["visibility"] == "hidden"
    assert report_statuses(app) == {reports[0]: "dismissed", reports[1]: "hidden", reports[2]: "hidden"}
    assert listed_comments(client, event) == {}
    restored = client.patch(f"/api/moderation/{reports[2]}/", json={"action": "restore"}, headers=team.staff_headers)
    assert restored.status_code == 200 and restored.get_json()["visibility"] == "visible"
    assert listed_comments(client, event) == {item: []}
    with app.app_context():
        reviewed = (
            db.session.execute(
                sa.select(ContentReport.reviewed_by_id).where(ContentReport.id.in_(reports)).order_by(ContentReport.id)
            )
            .scalars()
            .all()
        )
        db.session.remove()
    assert reviewed == [team.co["id"], team.organizer["id"], team.organizer["id"]]


def test_nobody_but_staff_reviews_reports_on_their_own_content(client, team, user_with_token):
    own = comment(client, team.event_id, team.organizer_headers, content="Comentário do organizador")
    report_id = report(client, team.event_id, "comments", own, team.stranger_headers).get_json()["id"]
    url = f"/api/moderation/{report_id}/"
    assert client.patch(url, json={"action": "restore"}, headers=team.organizer_headers).status_code == 403
    assert client.patch(url, json={"action": "hide"}, headers=team.co_headers).status_code == 200


def test_authorization_matrix_of_reporting(client, team, user_with_token, clean_media):
    author, author_headers = user_with_token()
    client.post(
        f"/api/events/{team.event_id}/organizers/", json={"user_id": author["id"]}, headers=team.organizer_headers
    )
    item = comment(client, team.event_id, author_headers)
    photo = upload(client, f"/api/events/{team.event_id}/photos/", author_headers, images.png_bytes()).get_json()["id"]
    expected = {
        "anonymous": 401,
        "stranger": 201,
        "participant": 201,
        "co-organizer": 201,
        "organizer": 201,
        "staff": 201,
    }
    for who, status in expected.items():
        assert report(client, team.event_id, "comments", item, team.callers[who]).status_code == status, who
        assert report(client, team.event_id, "photos", photo, team.callers[who]).status_code == status, who

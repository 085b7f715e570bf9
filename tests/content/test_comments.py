import sqlalchemy as sa

from mutiroes.content.models import EventComment
from mutiroes.models import db


def comments_url(event_id, comment_id=None):
    base = f"/api/events/{event_id}/comments/"
    return f"{base}{comment_id}/" if comment_id else base


def comment_rows(app):
    with app.app_context():
        rows = db.session.execute(
            sa.select(EventComment.id, EventComment.event_id, EventComment.parent_id, EventComment.content).order_by(
                EventComment.id
            )
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def post(client, scene, content, headers=None, parent=None, event_id=None):
    body = {"content": content} if parent is None else {"content": content, "parent": parent}
    return client.post(comments_url(event_id or scene.event_id), json=body, headers=headers or scene.stranger_headers)


def test_any_user_comments_and_replies_on_a_visible_event(client, scene):
    first = post(client, scene, "Vou levar luvas extras!")
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["content"] == "Vou levar luvas extras!"
    assert body["user_id"] == scene.stranger["id"]
    assert body["user_name"] == "Sara Estranha"
    assert body["parent"] is None and body["replies"] == []
    reply = post(client, scene, "Ótimo, obrigada!", headers=scene.organizer_headers, parent=body["id"])
    assert reply.status_code == 201
    assert reply.get_json()["parent"] == body["id"]

    page = client.get(comments_url(scene.event_id)).get_json()  # anonymous read
    assert page["count"] == 1  # top-level comments only
    [listed] = page["results"]
    assert listed["id"] == body["id"]
    assert [r["content"] for r in listed["replies"]] == ["Ótimo, obrigada!"]
    assert listed["replies"][0]["replies"] == []


def test_a_stored_comment_or_reply_is_answered_201_even_if_the_database_is_lost_right_after_the_commit(
    app, client, scene, database_lost_after_commit
):
    with database_lost_after_commit() as lost:
        first = post(client, scene, "Levo a caçamba.")
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert (body["content"], body["user_id"], body["user_name"]) == (
        "Levo a caçamba.",
        scene.stranger["id"],
        "Sara Estranha",
    )
    assert body["parent"] is None and body["replies"] == [] and body["replies_count"] == 0
    assert lost["committed"] and "SELECT" not in lost["refused"]

    with database_lost_after_commit() as lost:
        reply = post(client, scene, "Combinado!", headers=scene.organizer_headers, parent=body["id"])
    assert reply.status_code == 201, reply.get_json()
    assert (reply.get_json()["parent"], reply.get_json()["content"]) == (body["id"], "Combinado!")
    assert lost["committed"] and "SELECT" not in lost["refused"]
    assert [row[2:] for row in comment_rows(app)] == [(None, "Levo a caçamba."), (body["id"], "Combinado!")]


def test_comments_are_paginated_newest_first_with_their_replies(client, scene):
    ids = [post(client, scene, f"comentário {i}").get_json()["id"] for i in range(3)]
    for i in range(2):
        post(client, scene, f"resposta {i}", parent=ids[0])
    page = client.get(comments_url(scene.event_id) + "?page_size=2").get_json()
    assert page["count"] == 3
    assert [c["id"] for c in page["results"]] == [ids[2], ids[1]]
    assert page["next"].startswith("http://localhost/api/events/")
    second = client.get(comments_url(scene.event_id) + "?page_size=2&page=2").get_json()
    assert [c["id"] for c in second["results"]] == [ids[0]]
    assert [r["content"] for r in second["results"][0]["replies"]] == ["resposta 0", "resposta 1"]
    assert client.get(comments_url(scene.event_id) + "?page=9").status_code == 404


def test_empty_blank_or_oversized_comments_are_400_and_store_nothing(app, client, scene):
    for content in ["", "   \n ", "x" * 2001]:
        response = post(client, scene, content)
        assert response.status_code == 400
        assert "content" in response.get_json()
    assert client.post(comments_url(scene.event_id), json={}, headers=scene.stranger_headers).status_code == 400
    assert (
        client.post(
            comments_url(scene.event_id), json={"content": "oi", "user_id": 1}, headers=scene.stranger_headers
        ).status_code
        == 400
    )
    assert post(client, scene, "x" * 2000).status_code == 201
    assert len(comment_rows(app)) == 1


def test_reply_to_a_reply_or_to_another_events_comment_is_400(app, client, scene, make_event):
    top = post(client, scene, "pergunta").get_json()["id"]
    reply = post(client, scene, "resposta", parent=top).get_json()["id"]
    other_event = make_event(organizer=scene.organizer)
    foreign = post(client, scene, "em outro evento", event_id=other_event).get_json()["id"]
    before = comment_rows(app)

    nested = post(client, scene, "resposta da resposta", parent=reply)
    assert nested.status_code == 400 and "parent" in nested.get_json()
    cross = post(client, scene, "resposta cruzada", parent=foreign)
    assert cross.status_code == 400 and "parent" in cross.get_json()
    missing = post(client, scene, "resposta a nada", parent=999999)
    assert missing.status_code == 400 and "parent" in missing.get_json()
    assert comment_rows(app) == before


def test_the_database_refuses_a_parent_from_another_event(app, scene, make_event, client):
    other_event = make_event(organizer=scene.organizer)
    foreign = post(client, scene, "em outro evento", event_id=other_event).get_json()["id"]
    with app.app_context():
        db.session.add(
            EventComment(event_id=scene.event_id, user_id=scene.stranger["id"], parent_id=foreign, content="x")
        )
        try:
            db.session.commit()
            raised = False
        except sa.exc.IntegrityError:
            db.session.rollback()
            raised = True
        db.session.remove()
    assert raised


def test_comments_need_login_and_a_visible_event(client, scene, make_event):
    assert client.post(comments_url(scene.event_id), json={"content": "oi"}).status_code == 401
    private = make_event(organizer=scene.organizer, is_public=False)
    draft = make_event(organizer=scene.organizer, status="draft")
    for event_id in (private, draft, 999999):
        assert post(client, scene, "oi", event_id=event_id).status_code == 404
        assert client.get(comments_url(event_id), headers=scene.stranger_headers).status_code == 404
    # the organizer sees and comments on their own private event
    assert post(client, scene, "nota interna", headers=scene.organizer_headers, event_id=private).status_code == 201


def test_only_the_author_edits(app, client, scene):
    comment = post(client, scene, "texto original").get_json()
    url = comments_url(scene.event_id, comment["id"])
    for headers in (scene.organizer_headers, scene.participant_headers):
        response = client.patch(url, json={"content": "alterado"}, headers=headers)
        assert response.status_code == 403
        assert set(response.get_json()) == {"detail"}
    assert client.patch(url, json={"content": ""}, headers=scene.stranger_headers).status_code == 400
    assert comment_rows(app)[0][3] == "texto original"
    edited = client.patch(url, json={"content": "texto corrigido"}, headers=scene.stranger_headers)
    assert edited.status_code == 200
    assert edited.get_json()["content"] == "texto corrigido"
    assert edited.get_json()["updated_at"] >= comment["updated_at"]
    assert comment_rows(app)[0][3] == "texto corrigido"


def test_author_or_organizer_deletes_and_replies_go_with_their_parent(app, client, scene):
    top = post(client, scene, "pergunta").get_json()["id"]
    post(client, scene, "resposta 1", headers=scene.participant_headers, parent=top)
    own_reply = post(client, scene, "resposta 2", headers=scene.participant_headers, parent=top).get_json()["id"]
    other = post(client, scene, "outro", headers=scene.participant_headers).get_json()["id"]

    # someone else's comment: neither a participant nor a stranger may delete it
    assert client.delete(comments_url(scene.event_id, other), headers=scene.stranger_headers).status_code == 403
    # the author deletes their own reply
    assert client.delete(comments_url(scene.event_id, own_reply), headers=scene.participant_headers).status_code == 204
    # the organizer deletes someone's top-level comment: its replies go too
    assert client.delete(comments_url(scene.event_id, top), headers=scene.organizer_headers).status_code == 204
    assert [row[0] for row in comment_rows(app)] == [other]
    assert client.delete(comments_url(scene.event_id, top), headers=scene.organizer_headers).status_code == 404


def test_a_comment_is_addressed_through_its_own_event(client, scene, make_event):
    comment = post(client, scene, "oi").get_json()["id"]
    other_event = make_event(organizer=scene.stranger)
    url = comments_url(other_event, comment)
    assert client.patch(url, json={"content": "x"}, headers=scene.stranger_headers).status_code == 404
    assert client.delete(url, headers=scene.stranger_headers).status_code == 404

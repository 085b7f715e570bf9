import sqlalchemy as sa

from mutiroes.content.models import EventComment, EventPhoto, EventResource, ResourcePledge
from mutiroes.models import db
from tests import images
from tests.content.conftest import upload


def fill(app, client, scene, *, comments: int, replies: int, photos: int, resources: int):
    """Rows straight into the database (photos point at one uploaded file), so sizes are cheap to vary."""
    stored = upload(
        client, f"/api/events/{scene.event_id}/photos/", scene.participant_headers, images.png_bytes()
    ).get_json()
    with app.app_context():
        path = db.session.get(EventPhoto, stored["id"]).photo
        users = [scene.organizer["id"], scene.participant["id"], scene.stranger["id"]]
        for i in range(comments):
            top = EventComment(event_id=scene.event_id, user_id=users[i % 3], content=f"comentário {i}")
            db.session.add(top)
            db.session.flush()
            for j in range(replies):
                db.session.add(
                    EventComment(
                        event_id=scene.event_id, user_id=users[j % 3], parent_id=top.id, content=f"resposta {j}"
                    )
                )
        for i in range(photos - 1):
            db.session.add(EventPhoto(event_id=scene.event_id, user_id=users[i % 2], photo=path, caption=str(i)))
        for i in range(resources):
            db.session.add(
                EventResource(event_id=scene.event_id, name=f"recurso {i}", quantity_needed=2, quantity_provided=i % 3)
            )
        db.session.commit()
        db.session.remove()


def statements_of(app, call):
    seen = []

    def count(*_args, **_kwargs):
        seen.append(1)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        result = call()
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return len(seen), result


def test_detail_embeds_resources_photos_and_comments(app, client, scene, clean_media):
    fill(app, client, scene, comments=2, replies=2, photos=2, resources=2)
    detail = client.get(f"/api/events/{scene.event_id}/").get_json()
    assert [r["name"] for r in detail["resources"]] == ["recurso 0", "recurso 1"]
    assert detail["resources"][0]["is_fully_provided"] is False
    assert len(detail["photos"]) == 2 and detail["photos"][0]["photo"].startswith("http://localhost/media/")
    assert [c["content"] for c in detail["comments"]] == ["comentário 1", "comentário 0"]
    assert [r["content"] for r in detail["comments"][0]["replies"]] == ["resposta 0", "resposta 1"]


def test_detail_costs_the_same_statements_whatever_the_content(app, client, scene, clean_media):
    def detail():
        response = client.get(f"/api/events/{scene.event_id}/", headers=scene.participant_headers)
        assert response.status_code == 200
        return response.get_json()

    fill(app, client, scene, comments=1, replies=1, photos=1, resources=1)
    small_cost, _ = statements_of(app, detail)
    fill(app, client, scene, comments=30, replies=5, photos=30, resources=40)
    large_cost, body = statements_of(app, detail)
    assert len(body["comments"]) == 20 and len(body["photos"]) == 20 and len(body["resources"]) == 41
    # the latest 3 replies of each comment are embedded, with the count of all of them
    assert all(len(c["replies"]) == 3 and c["replies_count"] == 5 for c in body["comments"])
    assert large_cost == small_cost <= 13


def test_comment_pages_cost_the_same_statements_whatever_the_page_size(app, client, scene, clean_media):
    fill(app, client, scene, comments=40, replies=3, photos=1, resources=0)
    costs = {}
    # (both with a page after them: a last page needs no count, its rows say it)
    for page_size in (2, 20):
        costs[page_size], body = statements_of(
            app,
            lambda size=page_size: client.get(f"/api/events/{scene.event_id}/comments/?page_size={size}").get_json(),
        )
        assert len(body["results"]) == page_size
    assert costs[2] == costs[20]


def test_stats_count_the_content(app, client, scene, clean_media):
    empty = client.get(f"/api/events/{scene.event_id}/stats/").get_json()
    assert {k: empty[k] for k in ("photos_count", "comments_count", "resources_count", "fully_provided_resources")} == {
        "photos_count": 0,
        "comments_count": 0,
        "resources_count": 0,
        "fully_provided_resources": 0,
    }
    fill(app, client, scene, comments=2, replies=1, photos=3, resources=4)  # provided 0,1,2,0 of 2
    stats = client.get(f"/api/events/{scene.event_id}/stats/").get_json()
    assert stats["photos_count"] == 3
    assert stats["comments_count"] == 4  # replies count as comments
    assert stats["resources_count"] == 4
    assert stats["fully_provided_resources"] == 1
    assert stats["confirmed_participants"] == 1


def test_deleting_an_event_deletes_its_content(app, client, scene, clean_media):
    fill(app, client, scene, comments=2, replies=1, photos=2, resources=2)
    with app.app_context():
        resource = db.session.scalars(sa.select(EventResource)).first()
        db.session.add(ResourcePledge(resource_id=resource.id, user_id=scene.participant["id"], quantity=1))
        db.session.commit()
        db.session.remove()
    assert client.delete(f"/api/events/{scene.event_id}/", headers=scene.organizer_headers).status_code == 204
    with app.app_context():
        for model in (EventComment, EventPhoto, EventResource, ResourcePledge):
            assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0
        db.session.remove()

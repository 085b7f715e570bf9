"""The weekly digest of new events near each person: who gets it, what it lists, once per person and week (real SMTP
sink), and its place in the periodic schedule."""

from __future__ import annotations

import datetime as dt

from mutiroes import jobs
from mutiroes.events import digest
from mutiroes.events.models import EventParticipant
from mutiroes.jobs import registry, schedule
from mutiroes.models import db
from mutiroes.timeutil import utcnow
from tests.impact.test_event_emails import event_mail

RECIFE = (-8.0500, -34.9000)
KM_PER_DEGREE_OF_LATITUDE = 111.2


def north_of_recife(km: float) -> dict:
    return {"latitude": RECIFE[0] + km / KM_PER_DEGREE_OF_LATITUDE, "longitude": RECIFE[1]}


def run_digest(jobs_app):
    with jobs_app.app_context():
        result = jobs.run_now("send_nearby_events_digest")
        db.session.remove()
    return result


def texts(messages):
    return {m["To"]: m.get_body(preferencelist=("plain",)).get_content() for m in messages}


def test_each_person_gets_the_new_events_near_their_city_nearest_first_once_a_week(
    jobs_app, sink, make_event, make_user
):
    host = make_user(first_name="Olga")
    ana = make_user(first_name="Ana", city="recife", state="pe")  # case and accents do not matter
    duda = make_user(first_name="Duda", city="Recife", state="")  # one state has a Recife: that one
    make_user(city="Recife", state="PE", notification_preferences={"new_events_nearby": False})  # turned off
    make_user(city="Manaus", state="AM")  # no event was ever held there: no place, no digest
    make_user()  # no city
    # Recife's place is where its events were held: one, long ago, in the centre
    make_event(
        organizer=host,
        city="Recife",
        state="PE",
        latitude=RECIFE[0],
        longitude=RECIFE[1],
        start_date=utcnow() - dt.timedelta(days=40),
        status="completed",
        created_at=utcnow() - dt.timedelta(days=50),
    )
    olinda = {"organizer": host, "city": "Olinda", "state": "PE"}
    near = make_event(title="Limpeza da praia de Olinda", **olinda, **north_of_recife(5))
    farther = make_event(title="Plantio no Amparo", **olinda, **north_of_recife(15))
    make_event(title="Longe demais", **olinda, **north_of_recife(30))
    make_event(title="Antigo", **olinda, **north_of_recife(3), created_at=utcnow() - dt.timedelta(days=10))
    make_event(title="Rascunho", **olinda, **north_of_recife(3), status="draft")
    make_event(title="Privado", **olinda, **north_of_recife(3), is_public=False)
    make_event(title="Já começou", **olinda, **north_of_recife(3), start_date=utcnow() - dt.timedelta(hours=1))
    make_event(title="Da própria Ana", organizer=ana, city="Olinda", state="PE", **north_of_recife(2))

    result = run_digest(jobs_app)
    assert result["sent"] == 2 and result["events"] == 4  # new, public, published and not started
    messages = event_mail(sink, 2)
    assert sorted(m["To"] for m in messages) == sorted([ana["email"], duda["email"]])
    subjects = {m["To"]: m["Subject"] for m in messages}
    # Duda also hears of Ana's event, 2 km away
    assert subjects == {
        ana["email"]: "2 mutirões novos perto de recife",
        duda["email"]: "3 mutirões novos perto de Recife",
    }
    text = texts(messages)[ana["email"]]
    assert text.index("Limpeza da praia de Olinda") < text.index("Plantio no Amparo")
    assert "(a 5,0 km de recife)" in text and "(a 15,0 km de recife)" in text
    assert f"https://mutiroes.example.org/eventos/{near}" in text
    assert f"https://mutiroes.example.org/eventos/{farther}" in text
    for absent in ("Longe demais", "Antigo", "Rascunho", "Privado", "Já começou", "Da própria Ana"):
        assert absent not in text

    # the same week again: nothing more
    assert run_digest(jobs_app)["sent"] == 0
    assert len(sink.wait_for(3, timeout=1)) == 2


def test_at_most_ten_events_and_not_those_already_joined(jobs_app, sink, make_event, make_user):
    host = make_user()
    bia = make_user(first_name="Bia", city="Recife", state="PE")
    make_event(organizer=host, city="Recife", state="PE", latitude=RECIFE[0], longitude=RECIFE[1])
    ids = [
        make_event(organizer=host, title=f"Mutirão {km:02d} km", city="Olinda", state="PE", **north_of_recife(km))
        for km in range(1, 13)
    ]
    with jobs_app.app_context():
        db.session.add(
            EventParticipant(event_id=ids[0], user_id=bia["id"], status="waitlisted", waitlisted_at=utcnow())
        )
        db.session.commit()
        db.session.remove()
    assert run_digest(jobs_app)["sent"] == 1
    [message] = event_mail(sink, 1)
    assert message["Subject"] == "10 mutirões novos perto de Recife"
    text = texts([message])[bia["email"]]
    listed = [f"Mutirão {km:02d} km" for km in range(13) if f"Mutirão {km:02d} km" in text]
    # the Recife event itself is at 0 km and new too; the one Bia joined is left out
    assert listed == [
        "Mutirão 02 km",
        "Mutirão 03 km",
        "Mutirão 04 km",
        "Mutirão 05 km",
        "Mutirão 06 km",
        "Mutirão 07 km",
        "Mutirão 08 km",
        "Mutirão 09 km",
        "Mutirão 10 km",
    ]


def test_no_email_when_there_is_nothing_new(jobs_app, sink, make_event, make_user):
    host = make_user()
    make_user(city="São Paulo", state="SP")
    make_event(organizer=host, created_at=utcnow() - dt.timedelta(days=8))
    assert run_digest(jobs_app) == {"week": digest.week_of(utcnow()), "events": 0, "sent": 0, "skipped": 0}
    assert event_mail(sink, 0) == []


def test_the_week_is_the_servers_and_the_digest_is_a_periodic_job(app):
    with app.app_context():
        # Sunday 23:30 in São Paulo is already Monday in UTC: still the week that Sunday ends
        sunday_night = dt.datetime(2026, 12, 7, 2, 30, tzinfo=dt.UTC)
        assert digest.week_of(sunday_night) == "2026-W49"
        assert digest.week_of(sunday_night + dt.timedelta(hours=1)) == "2026-W50"
    [entry] = [entry for entry in schedule.SCHEDULE if entry.job == "send_nearby_events_digest"]
    assert entry.id == "nearby-events-digest" and entry.cron == "0 9 * * 4"  # Thursdays 09:00, before the weekend
    assert registry.options_for(entry.job).queue == registry.PERIODIC

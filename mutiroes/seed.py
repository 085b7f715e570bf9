"""Seed data: the four categories every database holds, and a small demo set for `make run`. Idempotent."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from mutiroes.events.models import Event, EventCategory, EventStatus
from mutiroes.models import db
from mutiroes.timeutil import server_tz, utcnow
from mutiroes.users.models import User
from mutiroes.users.service import hash_password

CATEGORIES = (
    ("Limpeza", "Mutirões de limpeza de praias, rios, praças e trilhas.", "trash", "#1E88E5"),
    ("Plantio", "Plantio de mudas nativas, hortas comunitárias e recuperação de áreas.", "tree", "#43A047"),
    (
        "Monitoramento",
        "Monitoramento cidadão da qualidade da água, do ar e da biodiversidade.",
        "eye",
        "#FB8C00",
    ),
    ("Educação", "Oficinas, palestras e atividades de educação ambiental.", "book", "#8E24AA"),
)

DEMO_PASSWORD = "mutirao-demo-2026"  # noqa: S105 - printed by `make run` for the demo accounts
DEMO_USERS = (
    ("organizadora", "organizadora@demo.mutiroes.org.br", "Ana", "Organizadora", "São Paulo", "SP"),
    ("voluntario", "voluntario@demo.mutiroes.org.br", "Bruno", "Voluntário", "Santos", "SP"),
)


# (title, category, city, state, address, latitude, longitude, days from now, start hour, hours, capacity, text)
DEMO_EVENTS = (
    (
        "Limpeza da Praia do Gonzaga",
        "Limpeza",
        "Santos",
        "SP",
        "Praia do Gonzaga, em frente ao Canal 3",
        -23.9688,
        -46.3351,
        7,
        8,
        4,
        40,
        "Coleta de resíduos na faixa de areia, com separação de recicláveis.",
    ),
    (
        "Plantio de mudas nativas no Parque do Carmo",
        "Plantio",
        "São Paulo",
        "SP",
        "Av. Afonso de Sampaio e Sousa, 951",
        -23.5797,
        -46.4706,
        14,
        9,
        3,
        25,
        "Plantio de espécies da Mata Atlântica em área de recuperação.",
    ),
    (
        "Monitoramento da qualidade da água do Rio Capibaribe",
        "Monitoramento",
        "Recife",
        "PE",
        "Cais da Rua da Aurora",
        -8.0569,
        -34.8817,
        21,
        8,
        3,
        15,
        "Coleta de amostras e medição de oxigênio dissolvido, pH e turbidez.",
    ),
    (
        "Oficina de compostagem doméstica",
        "Educação",
        "Belo Horizonte",
        "MG",
        "Parque Municipal Américo Renné Giannetti",
        -19.9245,
        -43.9352,
        10,
        14,
        2,
        30,
        "Como montar uma composteira em casa e reduzir o lixo orgânico.",
    ),
)


def seed_categories() -> int:
    existing = set(db.session.scalars(sa.select(EventCategory.name)))
    added = 0
    for name, description, icon, color in CATEGORIES:
        if name not in existing:
            db.session.add(EventCategory(name=name, description=description, icon=icon, color=color))
            added += 1
    db.session.commit()
    return added


def seed_demo() -> list[tuple[str, str]]:
    """Demo accounts and a few published demo events. Returns (login, password) pairs."""
    seed_categories()
    password_hash = None
    for username, email, first_name, last_name, city, state in DEMO_USERS:
        exists = db.session.scalar(sa.select(User.id).where(sa.func.lower(User.username) == username))
        if exists:
            continue
        password_hash = password_hash or hash_password(DEMO_PASSWORD)
        db.session.add(
            User(
                username=username,
                email=email,
                password_hash=password_hash,
                first_name=first_name,
                last_name=last_name,
                city=city,
                state=state,
                # demo addresses receive no mail: the accounts are verified so the demo shows hours and badges
                email_verified_at=utcnow(),
            )
        )
    db.session.commit()
    seed_demo_events()
    return [(email, DEMO_PASSWORD) for _u, email, *_rest in DEMO_USERS]


def seed_demo_events() -> int:
    """The demo organizer's published events, dated from today (idempotent: matched by organizer and title)."""
    organizer_id = db.session.scalar(sa.select(User.id).where(sa.func.lower(User.username) == DEMO_USERS[0][0]))
    if organizer_id is None:
        return 0
    existing = set(db.session.scalars(sa.select(Event.title).where(Event.organizer_id == organizer_id)))
    categories = dict(db.session.execute(sa.select(EventCategory.name, EventCategory.id)).all())
    today = utcnow().astimezone(server_tz()).date()
    added = 0
    for title, category, city, state, address, lat, lng, days, hour, hours, capacity, text in DEMO_EVENTS:
        if title in existing or category not in categories:
            continue
        start = dt.datetime.combine(today + dt.timedelta(days=days), dt.time(hour), tzinfo=server_tz())
        db.session.add(
            Event(
                title=title,
                description=text,
                category_id=categories[category],
                organizer_id=organizer_id,
                address=address,
                city=city,
                state=state,
                latitude=lat,
                longitude=lng,
                start_date=start.astimezone(dt.UTC),
                end_date=(start + dt.timedelta(hours=hours)).astimezone(dt.UTC),
                registration_deadline=start.astimezone(dt.UTC),
                max_participants=capacity,
                status=EventStatus.PUBLISHED,
                what_to_bring="Garrafa de água, protetor solar, chapéu e luvas.",
            )
        )
        added += 1
    db.session.commit()
    return added

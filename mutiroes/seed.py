"""Seed data: the four categories every database holds, and a small demo set for `make run`. Idempotent."""

from __future__ import annotations

import sqlalchemy as sa

from mutiroes.events.models import EventCategory
from mutiroes.extensions import db
from mutiroes.users.models import User

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
    """Demo accounts (and, once the events domain exists, demo events). Returns (login, password) pairs."""
    from mutiroes.users.service import hash_password

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
            )
        )
    db.session.commit()
    return [(email, DEMO_PASSWORD) for _u, email, *_rest in DEMO_USERS]

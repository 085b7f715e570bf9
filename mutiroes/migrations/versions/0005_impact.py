"""impact: post-event reports, verified hours per participation, the badge catalogue and awards, monthly reports

Revision ID: 0005_impact
Revises: 0004_content
Create Date: 2026-11-29 08:00:00

Independent of the event-content tables (comments, photos, resources), so it can be chained after them.
"""

from alembic import op
import sqlalchemy as sa

import mutiroes.models


revision = "0005_impact"
down_revision = "0004_content"
branch_labels = None
depends_on = None

# (code, name, description, icon, color, badge_type, min_events, min_hours)
BADGES = [
    (
        "first_mutirao",
        "Primeiro mutirão",
        "Participou (com check-in) do primeiro mutirão.",
        "sprout",
        "#43A047",
        "participation",
        1,
        0,
    ),
    (
        "events_5",
        "Cinco mutirões",
        "Participou (com check-in) de 5 mutirões.",
        "hands",
        "#2E7D32",
        "participation",
        5,
        0,
    ),
    (
        "events_10",
        "Dez mutirões",
        "Participou (com check-in) de 10 mutirões.",
        "trophy",
        "#1B5E20",
        "participation",
        10,
        0,
    ),
    (
        "hours_10",
        "10 horas de voluntariado",
        "Somou 10 horas verificadas de voluntariado.",
        "clock",
        "#FBC02D",
        "hours",
        0,
        10,
    ),
    (
        "hours_50",
        "50 horas de voluntariado",
        "Somou 50 horas verificadas de voluntariado.",
        "clock",
        "#F9A825",
        "hours",
        0,
        50,
    ),
    (
        "hours_100",
        "100 horas de voluntariado",
        "Somou 100 horas verificadas de voluntariado.",
        "star",
        "#F57F17",
        "hours",
        0,
        100,
    ),
    (
        "first_organized",
        "Primeiro mutirão organizado",
        "Organizou um mutirão que aconteceu.",
        "megaphone",
        "#1E88E5",
        "organizer",
        1,
        0,
    ),
    (
        "first_report",
        "Primeiro relatório",
        "Publicou o relatório de impacto de um mutirão.",
        "clipboard",
        "#3949AB",
        "report",
        1,
        0,
    ),
]
# one badge per category: 3 verified events of that category
CATEGORY_BADGE_EVENTS = 3
CATEGORY_BADGE_NAMES = {
    "Limpeza": "Guardião da limpeza",
    "Plantio": "Semeador",
    "Monitoramento": "Sentinela ambiental",
    "Educação": "Educador ambiental",
}


def upgrade():
    op.create_table(
        "event_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("total_participants", sa.Integer(), nullable=False),
        sa.Column("total_hours", sa.Float(), nullable=True),
        sa.Column("trash_collected_kg", sa.Float(), nullable=False),
        sa.Column("trees_planted", sa.Integer(), nullable=False),
        sa.Column("area_cleaned_m2", sa.Float(), nullable=False),
        sa.Column("recyclable_material_kg", sa.Float(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("challenges", sa.Text(), nullable=False),
        sa.Column("achievements", sa.Text(), nullable=False),
        sa.Column("created_at", mutiroes.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mutiroes.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "total_participants >= 0 AND (total_hours IS NULL OR total_hours >= 0) AND trash_collected_kg >= 0"
            " AND trees_planted >= 0 AND area_cleaned_m2 >= 0 AND recyclable_material_kg >= 0",
            name=op.f("ck_event_reports_numbers_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_event_reports_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_event_reports_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_reports")),
        sa.UniqueConstraint("event_id", name=op.f("uq_event_reports_event_id")),
    )
    op.create_index(op.f("ix_event_reports_created_by_id"), "event_reports", ["created_by_id"], unique=False)

    badges = op.create_table(
        "badges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("icon", sa.String(length=50), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=False),
        sa.Column("badge_type", sa.String(length=20), nullable=False),
        sa.Column("min_events", sa.Integer(), nullable=False),
        sa.Column("min_hours", sa.Float(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "badge_type IN ('participation', 'hours', 'organizer', 'report', 'category')",
            name=op.f("ck_badges_badge_type_known"),
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["event_categories.id"],
            name=op.f("fk_badges_category_id_event_categories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_badges")),
        sa.UniqueConstraint("code", name=op.f("uq_badges_code")),
    )
    op.create_table(
        "user_badges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("badge_id", sa.Integer(), nullable=False),
        sa.Column("earned_at", mutiroes.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["badge_id"], ["badges.id"], name=op.f("fk_user_badges_badge_id_badges"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_badges_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_badges")),
        sa.UniqueConstraint("user_id", "badge_id", name="uq_user_badges_user_badge"),
    )
    op.create_table(
        "monthly_impact_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("generated_at", mutiroes.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("month BETWEEN 1 AND 12", name=op.f("ck_monthly_impact_reports_month_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monthly_impact_reports")),
        sa.UniqueConstraint("year", "month", name="uq_monthly_impact_reports_year_month"),
    )
    # a plain ADD COLUMN (no table rebuild on SQLite); only the job writes it
    op.add_column("event_participants", sa.Column("hours", sa.Float(), server_default="0", nullable=False))

    rows = [
        dict(
            zip(("code", "name", "description", "icon", "color", "badge_type", "min_events", "min_hours"), b),
            category_id=None,
        )
        for b in BADGES
    ]
    categories = op.get_bind().execute(sa.text("SELECT id, name, icon, color FROM event_categories ORDER BY id")).all()
    for category_id, name, icon, color in categories:
        rows.append(
            {
                "code": f"category_{category_id}",
                "name": CATEGORY_BADGE_NAMES.get(name, f"Destaque em {name}"),
                "description": f"Participou (com check-in) de {CATEGORY_BADGE_EVENTS} mutirões de {name}.",
                "icon": icon or "leaf",
                "color": color or "#2E7D32",
                "badge_type": "category",
                "min_events": CATEGORY_BADGE_EVENTS,
                "min_hours": 0,
                "category_id": category_id,
            }
        )
    op.bulk_insert(badges, rows)


def downgrade():
    with op.batch_alter_table("event_participants", schema=None) as batch_op:
        batch_op.drop_column("hours")
    op.drop_table("monthly_impact_reports")
    op.drop_table("user_badges")
    op.drop_table("badges")
    op.drop_index(op.f("ix_event_reports_created_by_id"), table_name="event_reports")
    op.drop_table("event_reports")

"""The models' CHECK constraints are the ones the migrations created, so changing a status list needs a migration."""

from __future__ import annotations

import ast

import sqlalchemy as sa

# the app package imports every domain, so db.metadata holds every table
from mutiroes import MIGRATIONS
from mutiroes.events.models import EventStatus
from mutiroes.models import db, one_of


def migrated_check_constraints() -> dict[str, str]:
    """``sa.CheckConstraint("<text>", name=op.f("<name>"))`` in new tables and
    ``batch_op.create_check_constraint(op.f("<name>"), "<text>")`` on existing ones, of every migration, by name."""
    found = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            if ast.unparse(node.func) == "sa.CheckConstraint":
                (name,) = (keyword.value.args[0].value for keyword in node.keywords if keyword.arg == "name")
                found[name] = node.args[0].value
            elif isinstance(node.func, ast.Attribute) and node.func.attr == "create_check_constraint":
                name, text = node.args
                found[name.args[0].value] = text.value
    return found


def test_every_check_constraint_of_the_models_is_the_one_the_migrations_created():
    declared = {
        constraint.name: str(constraint.sqltext)
        for table in db.metadata.sorted_tables
        for constraint in table.constraints
        if isinstance(constraint, sa.CheckConstraint)
    }

    assert declared == migrated_check_constraints()


def test_one_of_lists_the_values_of_the_enum_in_its_order():
    constraint = one_of("status", EventStatus)

    assert constraint.name == "status_known"
    assert str(constraint.sqltext) == "status IN ('draft', 'published', 'cancelled', 'completed')"

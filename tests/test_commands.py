"""The app's own CLI commands: the demo seed is for the embedded mode, or for a deployment that says it is a demo."""

from __future__ import annotations

import sqlalchemy as sa

from mutiroes.models import db
from mutiroes.seed import DEMO_USERS
from mutiroes.users.models import User


def demo_accounts(app) -> int:
    names = [username for username, *_rest in DEMO_USERS]
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.username.in_(names)))
        db.session.remove()
    return count


def test_the_demo_seed_refuses_to_run_outside_the_embedded_mode_without_force(app):
    assert not app.config["MUTIROES"].embedded  # the tests' app runs on PostgreSQL
    refused = app.test_cli_runner().invoke(args=["seed-demo"])
    assert refused.exit_code != 0
    assert "--force" in refused.output and "embedded" in refused.output
    assert demo_accounts(app) == 0
    forced = app.test_cli_runner().invoke(args=["seed-demo", "--force"])
    assert forced.exit_code == 0, forced.output
    assert demo_accounts(app) == len(DEMO_USERS)

import logging

from alembic import context
from flask import current_app

# Every module that maps a table, so that autogenerate (`flask db migrate`, `flask db check`) compares the whole
# schema: create_app reaches the domains' models through the routes, but the mail delivery records only once a job
# runs (the job registry imports by name), and a table missing from the metadata reads as "drop this table".
import mutiroes.content.models
import mutiroes.events.models
import mutiroes.impact.models
import mutiroes.jobs.outbox
import mutiroes.mail.deliveries
import mutiroes.users.models  # noqa: F401 - these imports are for their tables (ruff sees one binding)

# What the migrations create on purpose outside the models, which autogenerate would otherwise want to drop. Each
# entry: (type, name) -> why. The SQL functions (mutiroes_search_text, mutiroes_distance_km) and the extensions of
# 0002_events need no entry: autogenerate does not compare functions or extensions at all.
NOT_IN_THE_MODELS = {
    ("index", "ix_events_earth"): (
        "0002_events creates it on PostgreSQL only: a GiST index on ll_to_earth(latitude, longitude) (earthdistance)"
        " for nearby searches; the embedded SQLite has no ll_to_earth, so the model, shared by both, leaves it out"
    ),
    ("index", "ix_events_searchable_text_trgm"): (
        "0008_list_indexes creates it on PostgreSQL only: a trigram GIN index (pg_trgm) on searchable_text for the"
        " list's search (LIKE '%term%'); SQLite has no GIN and a plain index there would serve no such pattern"
    ),
}

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Logging is the application's (create_app configured it, in its format and level): migrations always run inside
# it, and a logging section of alembic.ini would replace the process's handler for the rest of its life.
logger = logging.getLogger("alembic.env")


def get_engine():
    return current_app.extensions["migrate"].db.engine


def get_engine_url():
    # % is the interpolation character of alembic's ini-style config
    return get_engine().url.render_as_string(hide_password=False).replace("%", "%%")


config.set_main_option("sqlalchemy.url", get_engine_url())
target_db = current_app.extensions["migrate"].db


def include_object(object, name, type_, reflected, compare_to):
    return (type_, name) not in NOT_IN_THE_MODELS


def get_metadata():
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=get_metadata(), literal_binds=True)

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = current_app.extensions["migrate"].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives
    conf_args.setdefault("include_object", include_object)
    conf_args.setdefault("compare_server_default", True)

    connectable = get_engine()

    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=get_metadata(), **conf_args)

        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

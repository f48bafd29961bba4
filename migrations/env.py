"""Alembic environment for Flask-Migrate: the app's engine and metadata, no import-time app creation."""
import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
if config.config_file_name:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

import sqlalchemy as sa

_app_engine = current_app.extensions["migrate"].db.engine
_owner_url = current_app.config.get("MIGRATION_DATABASE_URL")
# Migrations run as the schema's owner; the app may connect as a restricted role (README "Security").
engine = sa.create_engine(_owner_url, poolclass=sa.pool.NullPool) if _owner_url else _app_engine
_app_role = _app_engine.url.username if _owner_url and _app_engine.url.username != engine.url.username else None
config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
target_metadata = current_app.extensions["migrate"].db.metadata


def render_item(type_, obj, autogen_context):
    """Render our column types as plain SQLAlchemy types so revisions never import the app."""
    if type_ == "type" and obj.__class__.__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False


def grant_app_role(connection, role):
    """What the app role may do: read and write the tables, append to the audit trail and the security
    log, use the sequences. Never TRUNCATE, ALTER, DROP or disable a trigger (only the owner may).
    Idempotent; applied after every upgrade so tables added by any revision are covered."""
    quoted = connection.dialect.identifier_preparer.quote(role)
    for statement in (
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
        f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {quoted}",
        f"REVOKE UPDATE, DELETE ON audit_records, security_events FROM {quoted}",
        f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
    ):
        connection.execute(sa.text(statement))


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_item=render_item)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_item=render_item,
                          **conf_args)
        with context.begin_transaction():
            context.run_migrations()
            if _app_role and connection.dialect.name == "postgresql":
                grant_app_role(connection, _app_role)
    if engine is not _app_engine:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

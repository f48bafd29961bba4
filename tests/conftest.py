"""Fixtures: a migrated PostgreSQL database and a real Redis, the app, a client, and signed-in users.

The suite needs real PostgreSQL and Redis: TEST_DATABASE_URL / TEST_REDIS_URL when set, otherwise the
standard local ports. If neither answers, the run fails (never skips) and says what to install.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
_TAG = hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]

SERVICES_HELP = (
    "The test suite needs real PostgreSQL and Redis. Start them, or install them with "
    "`apt-get install postgresql redis-server` (Debian/Ubuntu) and run `.ci/run`, or point "
    "TEST_DATABASE_URL and TEST_REDIS_URL at running servers."
)


def _database_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"postgresql+psycopg://postgres@127.0.0.1:5432/cadence_test_{_TAG}"


def _app_database_url() -> str:
    """The app connects as a restricted role of its own (README "Security": it may read and write
    rows but not truncate, alter or disable triggers); migrations and clean-up run as the owner."""
    return sa.engine.make_url(_database_url()).set(username=APP_ROLE, password=None).render_as_string(
        hide_password=False)


APP_ROLE = f"cadence_app_{_TAG}"


def _ensure_app_role(url: str) -> None:
    admin = sa.create_engine(sa.engine.make_url(url).set(drivername="postgresql+psycopg", database="postgres"),
                             isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(
                f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN "
                f"CREATE ROLE \"{APP_ROLE}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS; END IF; END $$"))
    except sa.exc.ProgrammingError:
        pass  # created by a concurrent run a moment ago
    finally:
        admin.dispose()


def _redis_url() -> str:
    # A database number of its own per checkout, so two clones can run their suites side by side.
    return os.environ.get("TEST_REDIS_URL") or f"redis://127.0.0.1:6379/{int(_TAG, 16) % 14 + 1}"


def _recreate_database(url: str) -> None:
    target = sa.engine.make_url(url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    except sa.exc.OperationalError as error:
        pytest.exit(f"PostgreSQL is not reachable at {target.render_as_string(hide_password=True)}: "
                    f"{error.orig}\n{SERVICES_HELP}", returncode=3)
    finally:
        admin.dispose()


def test_config() -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": _app_database_url(),
        "MIGRATION_DATABASE_URL": _database_url(),
        "REDIS_URL": _redis_url(),
        "RATELIMIT_STORAGE_URI": _redis_url(),
        "PASSWORD_HASH_TIME_COST": 1,
        "PASSWORD_HASH_MEMORY_KIB": 1024,
        "LOGIN_RATE_LIMIT_PER_USERNAME": "5 per minute",
        "LOGIN_RATE_LIMIT_PER_ADDRESS": "1000 per minute",
        "LOG_LEVEL": "WARNING",
    }


test_config.__test__ = False  # a helper, not a test


@pytest.fixture(scope="session")
def app():
    from flask_migrate import upgrade

    from backend import create_app

    try:
        redis.Redis.from_url(_redis_url(), socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        pytest.exit(f"Redis is not reachable at {_redis_url()}: {error}\n{SERVICES_HELP}", returncode=3)
    _recreate_database(_database_url())
    _ensure_app_role(_database_url())
    app = create_app(test_config())
    with app.app_context():
        upgrade()  # the suite runs on the migrated schema, never on create_all()
    yield app
    with app.app_context():
        from backend.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def owner_engine(app):
    """The schema owner's connection, for what the app's role may not do (clean-up, tampering tests)."""
    engine = sa.create_engine(_database_url(), poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture()
def db(app, owner_engine):
    """The database, emptied after each test by the owner with triggers off for the TRUNCATE (the app's
    role may not truncate, and the audit trail refuses TRUNCATE from anyone with triggers on)."""
    from backend.extensions import db as database

    with app.app_context():
        yield database
        database.session.remove()
        tables = [t.name for t in reversed(database.metadata.sorted_tables)]
        with owner_engine.begin() as conn:
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        redis.Redis.from_url(app.config["REDIS_URL"]).flushdb()


@pytest.fixture()
def client(app, db):
    return app.test_client()


@pytest.fixture()
def runner(app, db):
    return app.test_cli_runner()


class Auth:
    """Real JWTs for real users of each role: no bypass flag anywhere."""

    def __init__(self, app):
        self.app = app

    def tokens(self, user) -> dict:
        """A real sign-in for `user`, started the way `POST /auth/login` starts one."""
        from backend.extensions import db
        from backend.services.auth import issue_tokens

        with self.app.test_request_context():
            tokens = issue_tokens(user)
            db.session.commit()
        return tokens

    def headers(self, user) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens(user)['access_token']}"}


@pytest.fixture()
def auth(app, db):
    return Auth(app)

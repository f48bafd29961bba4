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
        "SQLALCHEMY_DATABASE_URI": _database_url(),
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
    app = create_app(test_config())
    with app.app_context():
        upgrade()  # the suite runs on the migrated schema, never on create_all()
    yield app
    with app.app_context():
        from backend.extensions import db

        db.engine.dispose()


@pytest.fixture()
def db(app):
    """The database, emptied after each test (audit triggers forbid DELETE, TRUNCATE is allowed)."""
    from backend.extensions import db as database

    with app.app_context():
        yield database
        database.session.remove()
        tables = [t.name for t in reversed(database.metadata.sorted_tables)]
        with database.engine.begin() as conn:
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

    def headers(self, user) -> dict[str, str]:
        from flask_jwt_extended import create_access_token

        with self.app.test_request_context():
            token = create_access_token(identity=user)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture()
def auth(app, db):
    return Auth(app)

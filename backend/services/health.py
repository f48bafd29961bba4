"""Liveness of the two stores; the API keeps serving when Redis is down."""
from __future__ import annotations

import redis
import sqlalchemy as sa

from backend.auth import redis_client
from backend.extensions import db


def health() -> dict[str, str]:
    answer = {"database": "ok", "redis": "ok"}
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        answer["database"] = "down"
    try:
        redis_client().ping()
    except redis.RedisError:
        answer["redis"] = "down"
    return answer

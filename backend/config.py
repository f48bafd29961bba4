"""Configuration, read once from the environment when the app is created.

Every variable is listed with its default in README.md and .env.example. Secrets have no default
outside testing and the demo: a server that starts without them would sign tokens anyone can forge.
"""
from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_URL = f"sqlite:///{PROJECT_ROOT / 'instance' / 'cadence.sqlite3'}"


class ConfigurationError(RuntimeError):
    """Start-up refused: a required setting is missing or malformed."""


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the operator used."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def parse_intervals(value: Any) -> list[int]:
    """Retry back-off in seconds: "60,300,900" or a list; one retry per entry, "" for none."""
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",") if item.strip()]
    else:
        items = list(value or [])
    try:
        intervals = [int(item) for item in items]
    except (TypeError, ValueError):
        raise ConfigurationError(f"REMINDER_RETRY_INTERVALS must be whole seconds, e.g. 60,300,900; got {value!r}.") from None
    if any(interval < 0 for interval in intervals):
        raise ConfigurationError(f"REMINDER_RETRY_INTERVALS cannot be negative; got {value!r}.")
    return intervals


def _cli_help_only(argv: list[str] | None = None) -> bool:
    """True when this process is the flask command line printing help (`flask … --help`): it needs
    the app to list its commands, never its secrets."""
    argv = sys.argv if argv is None else argv
    return bool(argv) and Path(argv[0]).name in {"flask", "__main__.py"} and ("--help" in argv or "-h" in argv)


def load_config(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables and explicit overrides."""
    env = dict(os.environ if environ is None else environ)
    overrides = dict(overrides or {})
    testing = bool(overrides.get("TESTING", _truthy(env.get("CADENCE_TESTING"))))
    demo = bool(overrides.get("CADENCE_DEMO", _truthy(env.get("CADENCE_DEMO"))))

    builtin: list[str] = []

    def secret(name: str) -> str | None:
        value = overrides.get(name, env.get(name))
        if value:
            return value
        if testing or demo:
            builtin.append(name)
            return f"insecure-{name.lower()}-for-tests-and-demo-only"
        if _cli_help_only():
            return secrets.token_hex(32)  # throwaway: the process prints help and exits
        return None

    config: dict[str, Any] = {
        "TESTING": testing,
        # Filled below: the secrets that are the built-in, publicly known ones (demo and tests only).
        "CADENCE_BUILTIN_SECRETS": (),
        "CADENCE_DEMO": demo,
        "SECRET_KEY": secret("SECRET_KEY"),
        "JWT_SECRET_KEY": secret("JWT_SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(env.get("DATABASE_URL", DEFAULT_SQLITE_URL)),
        # hide_parameters: a database error's text never carries the values (health data) it was given.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "MAX_CONTENT_LENGTH": env.get("MAX_CONTENT_LENGTH", str(1024 * 1024)),
        # Migrations run as the schema owner when this is set; the app connects with DATABASE_URL
        # (which can then be a role that may not truncate, alter or disable triggers).
        "MIGRATION_DATABASE_URL": env.get("MIGRATION_DATABASE_URL", ""),
        "REDIS_URL": env.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "JWT_ACCESS_TOKEN_MINUTES": int(env.get("JWT_ACCESS_TOKEN_MINUTES", "15")),
        "JWT_REFRESH_TOKEN_DAYS": int(env.get("JWT_REFRESH_TOKEN_DAYS", "30")),
        "LOGIN_RATE_LIMIT_PER_USERNAME": env.get("LOGIN_RATE_LIMIT_PER_USERNAME", "5 per minute"),
        "LOGIN_RATE_LIMIT_PER_ADDRESS": env.get("LOGIN_RATE_LIMIT_PER_ADDRESS", "30 per minute"),
        "PASSWORD_HASH_TIME_COST": int(env.get("PASSWORD_HASH_TIME_COST", "3")),
        "PASSWORD_HASH_MEMORY_KIB": int(env.get("PASSWORD_HASH_MEMORY_KIB", "65536")),
        "REDIS_SOCKET_TIMEOUT_SECONDS": float(env.get("REDIS_SOCKET_TIMEOUT_SECONDS", "0.5")),
        "REDIS_BREAKER_SECONDS": env.get("REDIS_BREAKER_SECONDS", "30"),
        "TRUSTED_PROXY_COUNT": env.get("TRUSTED_PROXY_COUNT", "0"),
        "PRO_CTCAE_TRANSLATIONS_DIR": env.get("PRO_CTCAE_TRANSLATIONS_DIR", ""),
        "NOTIFY_CHANNEL_DEFAULT": env.get("NOTIFY_CHANNEL_DEFAULT", "log"),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        # Reminders (notifications/dispatch.py explains claims, leases and retries).
        "REMINDER_BATCH_SIZE": env.get("REMINDER_BATCH_SIZE", "200"),
        "REMINDER_HORIZON_DAYS": env.get("REMINDER_HORIZON_DAYS", "35"),
        "REMINDER_RETRY_INTERVALS": env.get("REMINDER_RETRY_INTERVALS", "60,300,900"),
        "REMINDER_LEASE_SECONDS": env.get("REMINDER_LEASE_SECONDS", "300"),
        "REMINDER_DISPATCH_LIMIT": env.get("REMINDER_DISPATCH_LIMIT", "10000"),
        "REMINDER_MAX_QUEUED_JOBS": env.get("REMINDER_MAX_QUEUED_JOBS", "500"),
        "REMINDER_JOB_TIMEOUT_SECONDS": env.get("REMINDER_JOB_TIMEOUT_SECONDS", "600"),
        "DISPATCH_INTERVAL_SECONDS": env.get("DISPATCH_INTERVAL_SECONDS", "30"),
        "QUIET_HOURS": env.get("QUIET_HOURS", "21:00-08:00"),
        "ACTIVATION_CODE_DAYS": env.get("ACTIVATION_CODE_DAYS", "7"),
        # The staff console's cookie session (backend/console/auth.py).
        "CONSOLE_SESSION_HOURS": env.get("CONSOLE_SESSION_HOURS", "12"),
        "SESSION_COOKIE_SECURE": _truthy(env.get("SESSION_COOKIE_SECURE", "0" if demo else "1")),
        # Compressed JSON answers (flask-compress): the encodings offered, in the server's order of
        # preference when the client accepts several, and the smallest body worth compressing.
        "COMPRESS_ALGORITHM": env.get("COMPRESS_ALGORITHM", "gzip,br"),
        "COMPRESS_MIN_SIZE": env.get("COMPRESS_MIN_SIZE", "1024"),
    }
    # Channel settings are passed through untouched; notifications.channels.registry documents them.
    for key, value in env.items():
        if key.startswith(("FCM_", "APNS_", "PUSH_", "SMS_", "SMTP_")) or key == "HTTP_TIMEOUT_SECONDS":
            config[key] = value
    config.update(overrides)
    config["CADENCE_BUILTIN_SECRETS"] = tuple(builtin)
    config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(config["SQLALCHEMY_DATABASE_URI"])
    config["MIGRATION_DATABASE_URL"] = normalise_database_url(config["MIGRATION_DATABASE_URL"] or "") or None
    for name in ("TRUSTED_PROXY_COUNT", "REDIS_BREAKER_SECONDS"):
        try:
            config[name] = float(config[name]) if name == "REDIS_BREAKER_SECONDS" else int(config[name])
        except (TypeError, ValueError):
            config[name] = -1
        if config[name] < 0:
            raise ConfigurationError(f"{name} must be a number of zero or more.")
    config["REMINDER_RETRY_INTERVALS"] = parse_intervals(config["REMINDER_RETRY_INTERVALS"])
    for name in ("MAX_CONTENT_LENGTH", "REMINDER_BATCH_SIZE", "REMINDER_HORIZON_DAYS", "REMINDER_LEASE_SECONDS",
                 "REMINDER_DISPATCH_LIMIT", "REMINDER_MAX_QUEUED_JOBS", "REMINDER_JOB_TIMEOUT_SECONDS",
                 "DISPATCH_INTERVAL_SECONDS", "ACTIVATION_CODE_DAYS"):
        try:
            config[name] = int(config[name])
        except (TypeError, ValueError):
            config[name] = 0
        if config[name] < 1:
            raise ConfigurationError(f"{name} must be a positive whole number.")

    config["COMPRESS_ALGORITHM"] = [name.strip() for name in str(config["COMPRESS_ALGORITHM"]).split(",")
                                    if name.strip()]
    unknown = set(config["COMPRESS_ALGORITHM"]) - {"gzip", "br", "deflate"}
    if unknown:
        raise ConfigurationError(f"COMPRESS_ALGORITHM: unknown encoding(s) {', '.join(sorted(unknown))}.")
    try:
        config["COMPRESS_MIN_SIZE"] = int(config["COMPRESS_MIN_SIZE"])
    except (TypeError, ValueError):
        raise ConfigurationError("COMPRESS_MIN_SIZE must be a whole number of bytes.") from None
    config.setdefault("COMPRESS_MIMETYPES", ["application/json"])
    config.setdefault("COMPRESS_LEVEL", 6)
    config.setdefault("COMPRESS_BR_LEVEL", 4)

    missing = [name for name in ("SECRET_KEY", "JWT_SECRET_KEY") if not config.get(name)]
    if missing:
        raise ConfigurationError(
            "Missing required setting(s): " + ", ".join(missing)
            + ". Set them in the environment (see .env.example), or CADENCE_DEMO=1 for a local demo."
        )
    # Derived settings for the extensions.
    from datetime import timedelta

    config.setdefault("JWT_ACCESS_TOKEN_EXPIRES", timedelta(minutes=config["JWT_ACCESS_TOKEN_MINUTES"]))
    config.setdefault("JWT_REFRESH_TOKEN_EXPIRES", timedelta(days=config["JWT_REFRESH_TOKEN_DAYS"]))
    config.setdefault("JWT_TOKEN_LOCATION", ["headers"])
    try:
        hours = float(config["CONSOLE_SESSION_HOURS"])
    except (TypeError, ValueError):
        hours = 0
    if hours <= 0:
        raise ConfigurationError("CONSOLE_SESSION_HOURS must be a positive number of hours.")
    config.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(hours=hours))
    config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    config.setdefault("SESSION_COOKIE_NAME", "cadence_console")
    config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session
    config.setdefault("RATELIMIT_STORAGE_URI", config["REDIS_URL"])
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # No retries (a redis.Redis client retries 3 times with back-off by default): one failure and the
    # limiter falls back to memory, probing Redis again later, instead of a sign-in waiting on a hung Redis.
    config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": config["REDIS_SOCKET_TIMEOUT_SECONDS"],
                                                     "socket_timeout": config["REDIS_SOCKET_TIMEOUT_SECONDS"],
                                                     "retry": Retry(NoBackoff(), 0)})
    config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    config.setdefault("RATELIMIT_STRATEGY", "moving-window")  # no burst at a minute boundary
    config.setdefault("RATELIMIT_KEY_PREFIX", "cadence")
    config.setdefault("API_TITLE", "Cadence API")
    config.setdefault("API_VERSION", "v1")
    config.setdefault("OPENAPI_VERSION", "3.0.3")
    config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    config.setdefault("OPENAPI_SWAGGER_UI_PATH", "docs")
    # Swagger UI's assets are served by the app itself (swagger-ui-bundle), so the docs work offline.
    config.setdefault("OPENAPI_SWAGGER_UI_URL", "/api/v1/docs-assets/")
    config.setdefault("JSON_SORT_KEYS", False)
    return config

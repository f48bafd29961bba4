"""The application factory, built in named steps."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from backend.config import load_config


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the Cadence API. `config` overrides what the environment says (tests use this)."""
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_mapping(load_config(overrides=config))
    app.json.sort_keys = False
    logging.basicConfig(level=app.config["LOG_LEVEL"])
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    if app.config["CADENCE_BUILTIN_SECRETS"] and not app.config["TESTING"]:
        logging.getLogger("cadence").warning(
            "DEMO MODE: built-in secrets (%s) are in use; anyone can forge tokens. Never expose this server.",
            ", ".join(app.config["CADENCE_BUILTIN_SECRETS"]))
    register_proxies(app)
    from backend.logs import install_log_filters

    install_log_filters()
    register_extensions(app)
    register_error_handlers(app)
    register_request_guards(app)
    register_jwt_callbacks(app)
    register_blueprints(app)
    register_commands(app)
    register_fast_paths(app)
    return app


def register_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXY_COUNT reverse proxies, the client's address is the one those proxies
    appended to X-Forwarded-For; with 0 (the default) the header is ignored, so nobody can pick the
    address the sign-in throttle and the security log see by sending it."""
    count = app.config["TRUSTED_PROXY_COUNT"]
    if count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=0, x_port=0, x_prefix=0)


def register_extensions(app: Flask) -> None:
    from backend.extensions import api, compress, db, jwt, limiter, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True, compare_type=True)
    jwt.init_app(app)
    limiter.init_app(app)
    compress.init_app(app)
    api.init_app(app, spec_kwargs={"components": {"securitySchemes": {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}}, "security": [{"bearerAuth": []}]})


def _migrations_dir():
    from backend.config import PROJECT_ROOT

    return PROJECT_ROOT / "migrations"


def register_error_handlers(app: Flask) -> None:
    from backend.errors import register_error_handlers as register

    register(app)


def register_request_guards(app: Flask) -> None:
    from backend.guards import register_request_guards as register

    register(app)


def register_jwt_callbacks(app: Flask) -> None:
    from backend.auth import register_jwt_callbacks as register

    register(app)


def register_blueprints(app: Flask) -> None:
    from backend.api import BLUEPRINTS
    from backend.api.docs import docs_assets
    from backend.extensions import api

    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint, url_prefix="/api/v1")
    app.register_blueprint(docs_assets, url_prefix="/api/v1/docs-assets")
    register_console(app)


def register_fast_paths(app: Flask) -> None:
    """In front of Flask: a calendar 304, or a calendar text already made (backend.api.calendar_fast_path);
    the first page of a site's worklist already made (backend.api.worklist_fast_path)."""
    from backend.api.calendar_fast_path import register_calendar_fast_path
    from backend.api.worklist_fast_path import register_worklist_fast_path

    register_calendar_fast_path(app)
    register_worklist_fast_path(app)


def register_console(app: Flask) -> None:
    from backend.console import register_console as register

    register(app)


def register_commands(app: Flask) -> None:
    from backend.commands import COMMAND_GROUPS

    for group in COMMAND_GROUPS:
        app.cli.add_command(group)

"""Health and the published OpenAPI document."""
import re


def test_health_reports_database_and_redis(client):
    assert client.get("/api/v1/health").get_json() == {"database": "ok", "redis": "ok"}


def test_health_says_redis_is_down_and_keeps_serving(app, client):
    from backend.auth import redis_client

    original = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    app.extensions.pop("cadence.redis", None)
    try:
        answer = client.get("/api/v1/health")
        assert answer.status_code == 200
        assert answer.get_json() == {"database": "ok", "redis": "down"}
    finally:
        app.config["REDIS_URL"] = original
        app.extensions.pop("cadence.redis", None)
        redis_client  # the next call rebuilds the client against the real Redis


def test_the_openapi_document_lists_every_route(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = {(path, method.upper()) for path, item in spec["paths"].items() for method in item}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith(("api-docs", "docs_assets")):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {path} is not documented"


def test_every_operation_documents_its_errors(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if path == "/api/v1/health" or not isinstance(operation, dict):
                continue
            codes = set(operation["responses"])
            assert "401" in codes or path == "/api/v1/auth/login", f"{method} {path} does not document 401"
            assert operation.get("summary"), f"{method} {path} has no summary"


def test_the_docs_page_is_served(client):
    answer = client.get("/api/v1/docs")
    assert answer.status_code == 200
    assert b"swagger" in answer.data.lower()


def test_the_docs_page_assets_are_served_locally(client):
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "/api/v1/docs-assets/swagger-ui-bundle.js" in page
    asset = client.get("/api/v1/docs-assets/swagger-ui-bundle.js")
    assert asset.status_code == 200
    asset.close()


def test_health_is_503_when_the_database_is_down(app, client, monkeypatch):
    import sqlalchemy as sa

    from backend.extensions import db

    def down(*args, **kwargs):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", down)
    answer = client.get("/api/v1/health")
    assert answer.status_code == 503
    assert answer.get_json()["database"] == "down"


def test_pagination_header_always_names_the_page(client, auth):
    import json

    from tests.factories import UserFactory

    answer = client.get("/api/v1/patients?page=3", headers=auth.headers(UserFactory(role="admin")))
    assert answer.status_code == 200 and answer.get_json() == []
    header = json.loads(answer.headers["X-Pagination"])
    assert {k: header[k] for k in ("total", "total_pages", "page")} == {"total": 0, "total_pages": 0, "page": 3}

"""Every input is bounded (issue 10, item 3): each string a client may send has a maximum length (or
is an enumeration or a date), each list a maximum number of items, as the published OpenAPI document
says. Routes added later are read from the same document, so they are held to the same rule."""
from __future__ import annotations

BOUNDED_FORMATS = {"date", "date-time", "uuid"}


def _unbounded(schema: dict, where: str, components: dict, found: list[str]) -> None:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    kind = schema.get("type")
    if kind == "string" and "maxLength" not in schema and "enum" not in schema \
            and schema.get("format") not in BOUNDED_FORMATS:
        found.append(f"{where}: a string without maxLength")
    if kind == "array":
        if "maxItems" not in schema:
            found.append(f"{where}: a list without maxItems")
        _unbounded(schema.get("items", {}), where + "[]", components, found)
    for name, prop in schema.get("properties", {}).items():
        if not prop.get("readOnly"):
            _unbounded(prop, f"{where}.{name}", components, found)


def test_every_string_and_list_a_client_sends_is_bounded(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    components = spec["components"]["schemas"]
    found: list[str] = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for parameter in [*operations.get("parameters", []), *operation.get("parameters", [])]:
                if parameter["in"] == "query":
                    _unbounded(parameter.get("schema", {}), f"{method.upper()} {path} ?{parameter['name']}",
                               components, found)
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                _unbounded(body, f"{method.upper()} {path} body", components, found)
    assert not found, "\n".join(found)

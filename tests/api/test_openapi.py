"""The OpenAPI document lists every v1 route and describes the protocol a client needs; the
Swagger and ReDoc pages are served without a CDN; / and /api/v1/ link to them."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import URLPattern, URLResolver

from frontend_api.v1 import urls as v1_urls

pytestmark = pytest.mark.django_db

SCHEMA_VIEWS = {"openapi-schema", "api-docs", "api-redoc", "asyncapi", "api-index"}
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def served_paths(patterns, prefix: str = "") -> set[str]:
    """Every v1 route of the URLconf, spelled as OpenAPI spells paths."""
    paths: set[str] = set()
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            paths |= served_paths(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and entry.name not in SCHEMA_VIEWS:
            paths.add("/api/v1/" + _CONVERTER.sub(r"{\1}", route))
    return paths


def test_openapi_document_lists_every_served_v1_path(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"]
    expected = served_paths(v1_urls.urlpatterns)
    assert "/api/v1/admin/merge_users" in expected
    missing = expected - set(document["paths"])
    assert not missing, f"routes missing from the OpenAPI document: {sorted(missing)}"


def test_openapi_operations_declare_responses(client):
    document = client.get("/api/v1/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation.get("responses"), f"{method.upper()} {path} declares no response"


def test_swagger_page_loads_its_assets_locally(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def test_redoc_page_loads_its_assets_locally(client):
    response = client.get("/api/v1/redoc/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "https://" not in page, "nothing from another host (no CDN, no web fonts)"
    assert 'spec-url="/api/v1/openapi.json"' in page
    assert "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in page
    assert finders.find("drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js")


def operation(document: dict, path: str, method: str = "post") -> dict:
    return document["paths"][f"/api/v1/{path}"][method]


def component(document: dict, ref: str) -> dict:
    return document["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def test_interaction_body_is_a_one_of_discriminated_by_type_with_each_variants_fields(client):
    document = client.get("/api/v1/openapi.json").json()
    body = operation(document, "tasks/interaction")["requestBody"]["content"]["application/json"]
    union = component(document, body["schema"]["$ref"])
    assert union["discriminator"]["propertyName"] == "type"
    mapping = union["discriminator"]["mapping"]
    assert set(mapping) == {"text_reply_to_message", "message_ranking", "text_labels"}
    assert sorted(m["$ref"] for m in union["oneOf"]) == sorted(mapping.values())
    expected_fields = {
        "text_reply_to_message": {"message_id", "user_message_id", "text", "user"},
        "message_ranking": {"message_id", "ranking", "user"},
        "text_labels": {"message_id", "labels", "user"},
    }
    for type_value, required in expected_fields.items():
        variant = component(document, mapping[type_value])
        assert required | {"type"} <= set(variant["required"]), type_value
        type_schema = variant["properties"]["type"]
        if "$ref" in type_schema:
            type_schema = component(document, type_schema["$ref"])
        assert type_schema["enum"] == [type_value]
    labels = component(document, mapping["text_labels"])
    assert {"task_id", "is_report", "text"} <= set(labels["properties"])


def test_every_keyed_operation_declares_the_api_key_and_the_user_header(client):
    document = client.get("/api/v1/openapi.json").json()
    scheme = document["components"]["securitySchemes"]["ApiKeyAuth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-API-Key")
    keyed = 0
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            if {"ApiKeyAuth": []} not in op.get("security", []):
                continue
            keyed += 1
            headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
            assert "X-OASST-USER" in headers, f"{method.upper()} {path}"
            assert "403" in op["responses"], f"{method.upper()} {path}"
    assert keyed >= 50


@pytest.mark.parametrize("path", ["/", "/api/v1/"])
def test_landing_pages_link_to_the_docs_schemas_and_health(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body["links"]) >= {"openapi", "swagger", "redoc", "asyncapi", "health"}
    for name, url in body["links"].items():
        assert client.get(url).status_code == 200, name
    assert body["websockets"]["tasks"] == "/ws/tasks/"


def test_landing_page_is_html_for_a_browser(client):
    response = client.get("/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response["Content-Type"].startswith("text/html")
    assert 'href="http://testserver/api/v1/docs/"' in response.content.decode()


def test_every_2xx_but_204_declares_a_json_body(client):
    """What OA's clients read (``resp.json()`` on all but 204) is what the document promises;
    ``tests/api/conftest.assert_oa_body`` checks the served bodies themselves."""
    document = client.get("/api/v1/openapi.json").json()
    undeclared = [
        f"{method.upper()} {path} {status}"
        for path, operations in document["paths"].items()
        if "/docs/" not in path
        for method, operation in operations.items()
        for status, answer in operation["responses"].items()
        if status.startswith("2")
        and status != "204"
        and "application/json" not in answer.get("content", {})
    ]
    assert not undeclared, undeclared

"""The OpenAPI document lists every v1 route, and the Swagger page is served without a CDN."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import URLPattern, URLResolver

from frontend_api.v1 import urls as v1_urls

pytestmark = pytest.mark.django_db

SCHEMA_VIEWS = {"openapi-schema", "api-docs"}
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

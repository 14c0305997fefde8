"""API requests pass by the browser-only middleware; browser pages still get all of it
(``backend/browser_middleware.py``)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions import middleware as django_sessions
from django.test import Client


def test_an_api_request_reads_no_session_and_sets_no_cookie(frontend, monkeypatch):
    opened = []
    original = django_sessions.SessionMiddleware.process_request
    monkeypatch.setattr(
        django_sessions.SessionMiddleware,
        "process_request",
        lambda self, request: opened.append(request.path) or original(self, request),
    )
    # A browser cookie on an API call changes nothing either.
    frontend.http.cookies["sessionid"] = "not-a-session"
    response = frontend.post(
        "tasks/",
        {"type": "random", "user": {"id": "ada", "auth_method": "local", "display_name": "Ada"}},
    )
    assert response.status_code in (200, 503), response.content
    assert opened == []
    assert not response.cookies
    assert not hasattr(response.wsgi_request, "session")
    # The headers every answer carries stay (SecurityMiddleware, X-Frame-Options).
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_the_admin_still_has_sessions_csrf_and_static_files():
    get_user_model().objects.create_superuser("admin", "admin@example.org", "pw-0123456789")
    browser = Client(enforce_csrf_checks=True)
    # A login POST without the CSRF token is refused, as before.
    refused = browser.post("/admin/login/", {"username": "admin", "password": "pw-0123456789"})
    assert refused.status_code == 403
    page = browser.get("/admin/login/")
    assert page.status_code == 200
    token = page.cookies["csrftoken"].value
    logged_in = browser.post(
        "/admin/login/",
        {"username": "admin", "password": "pw-0123456789", "csrfmiddlewaretoken": token},
    )
    assert logged_in.status_code == 302
    assert "sessionid" in logged_in.cookies
    assert browser.get("/admin/").status_code == 200
    assert browser.get("/admin/").wsgi_request.user.is_superuser

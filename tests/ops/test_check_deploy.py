"""`manage.py check --deploy`: clean with the production profile; with the embedded defaults,
exactly the warnings the README's "check --deploy" section explains."""

from __future__ import annotations

import re
import secrets

from tests.ops.embedded import embedded_environment, run_manage

# Embedded defaults: no HSTS (W004), no HTTPS redirect (W008), the public development key
# (W009), session and CSRF cookies not HTTPS-only (W010, W016). The session cookie's warning
# is W010, not W012: Django looks for its SessionMiddleware by path, and Grove's passes API
# requests by (backend/browser_middleware.py); the advice, SESSION_COOKIE_SECURE, is the same.
EMBEDDED_WARNINGS = {
    "security.W004",
    "security.W008",
    "security.W009",
    "security.W010",
    "security.W016",
}
PRODUCTION_PROFILE = {
    "GROVE_DEBUG": "false",
    "GROVE_SECURE_SSL_REDIRECT": "true",
    "GROVE_SECURE_COOKIES": "true",
    "GROVE_HSTS_SECONDS": "31536000",
}


def reported_ids(output: str) -> set[str]:
    return set(re.findall(r"\(([a-z_]+\.[CEWID]\d{3})\)", output))


def test_check_deploy_is_clean_with_the_production_profile(tmp_path):
    env = embedded_environment(
        tmp_path, GROVE_SECRET_KEY=secrets.token_urlsafe(50), **PRODUCTION_PROFILE
    )
    result = run_manage(env, "check", "--deploy", "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert reported_ids(output) == set(), output


def test_check_deploy_with_embedded_defaults_reports_only_documented_warnings(tmp_path):
    result = run_manage(embedded_environment(tmp_path), "check", "--deploy")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert reported_ids(output) == EMBEDDED_WARNINGS, output
